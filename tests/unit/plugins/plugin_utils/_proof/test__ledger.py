"""The run's ledger: whole lines from concurrent workers, one sequence number per change and host, lines chained under
a key and sealed, every kind of tampering named, private files, and a crash that loses nothing."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import (
    DELETED,
    DUPLICATED,
    EDITED,
    HEAD_FILE,
    INSERTED,
    LEDGER_FILE,
    RECORDED,
    REORDERED,
    UNKNOWN,
    Ledger,
    LedgerError,
    open_ledger,
    read_ledger,
    run_directory,
    seal_text,
)

KEY = b"k" * 32


def signed(data: bytes) -> str:
    return "test:" + data.hex()[:16]


def keyed(directory, run_id="run-1"):
    return Ledger(str(directory), run_id, KEY, "kid", signed)


def test_an_intent_and_its_outcome_share_the_hosts_sequence_number(tmp_path):
    ledger = keyed(tmp_path)
    assert ledger.intent("web1", {"task_id": "t1", "module": "ansible.builtin.copy"}) == 1
    assert ledger.intent("web2", {"task_id": "t1"}) == 1
    assert ledger.intent("web1", {"task_id": "t1"}) == 2
    ledger.outcome("web1", 1, RECORDED, res="success", serial=None)
    ledger.outcome("web2", 1, UNKNOWN, reason="the host became unreachable")
    entries = read_ledger(str(tmp_path), "run-1", KEY)
    assert [(e["kind"], e["host"], e["seq"]) for e in entries] == [
        ("intent", "web1", 1), ("intent", "web2", 1), ("intent", "web1", 2), ("outcome", "web1", 1), ("outcome", "web2", 1),
    ]
    assert entries[0]["module"] == "ansible.builtin.copy" and entries[0]["run_id"] == "run-1"
    assert entries[3]["outcome"] == RECORDED and "serial" not in entries[3]
    assert entries[0]["time"].endswith("+00:00")


def test_the_first_line_is_the_start_and_says_how_the_lines_are_chained(tmp_path):
    keyed(tmp_path).intent("web1", {})
    reading = open_ledger(str(tmp_path), "run-1", KEY, "kid")
    start = reading.entries[0]
    assert start["kind"] == "start" and start["n"] == 1 and start["chain"] == "hmac-sha256" and start["key_id"] == "kid"
    assert len(start["nonce"]) == 32 and reading.keyed and reading.intact


def test_a_sealed_ledger_verifies_and_its_seal_is_signed_over_its_place_in_the_chain(tmp_path):
    ledger = keyed(tmp_path)
    ledger.start(controller="ctl")
    ledger.outcome("web1", ledger.intent("web1", {}), RECORDED)
    seal = ledger.seal()
    reading = open_ledger(str(tmp_path), "run-1", KEY, "kid")
    assert reading.intact and reading.sealed and reading.final and reading.lines == 4
    assert seal["lines"] == 3 and seal["head"] == reading.entries[-1]["mac"]
    [(text, signature)] = reading.seal_signatures
    assert text == seal_text(seal) and signature == signed(text)


def test_a_ledger_without_its_seal_did_not_end_and_is_not_tampered(tmp_path):
    ledger = keyed(tmp_path)
    ledger.seal(final=False)
    ledger.intent("web1", {})
    reading = open_ledger(str(tmp_path), "run-1", KEY, "kid")
    assert reading.intact and not reading.sealed and not reading.final


def _lines(tmp_path):
    ledger = keyed(tmp_path)
    ledger.start()
    for _change in range(4):
        ledger.outcome("web1", ledger.intent("web1", {"task_id": "t"}), RECORDED)
    ledger.seal()
    with open(str(tmp_path / "run-1" / LEDGER_FILE), encoding="ascii") as handle:
        return handle.read().splitlines()


def _edit(lines):
    lines[2] = lines[2].replace('"recorded"', '"unchanged"')
    return lines


def _forge(lines):
    forged = json.loads(lines[2])
    forged["n"] = 42
    return lines[:3] + [json.dumps(forged)] + lines[3:]


def _second_copy_changed(lines):
    copy = json.loads(lines[2])
    copy["seq"] = 9
    return lines[:4] + [json.dumps(copy)] + lines[4:]


@pytest.mark.parametrize("tamper, found", [
    (_edit, [(3, EDITED)]),
    (lambda lines: lines[:3] + lines[5:], [(4, DELETED)]),
    (lambda lines: lines[:4] + [lines[2]] + lines[4:], [(3, DUPLICATED)]),
    (_second_copy_changed, [(3, INSERTED)]),
    (lambda lines: lines[:3] + [lines[4], lines[3]] + lines[5:], [(4, REORDERED)]),
    (_forge, [(42, INSERTED)]),
])
def test_each_kind_of_tampering_is_named_at_its_line(tmp_path, tamper, found):
    lines = tamper(_lines(tmp_path))
    (tmp_path / "run-1" / LEDGER_FILE).write_text("".join(line + "\n" for line in lines))
    reading = open_ledger(str(tmp_path), "run-1", KEY, "kid")
    assert [(problem["line"], problem["problem"]) for problem in reading.problems] == found
    assert all(problem["detail"] for problem in reading.problems)


def test_a_cut_tail_loses_the_seal(tmp_path):
    lines = _lines(tmp_path)[:-3]
    (tmp_path / "run-1" / LEDGER_FILE).write_text("".join(line + "\n" for line in lines))
    reading = open_ledger(str(tmp_path), "run-1", KEY, "kid")
    assert reading.intact and not reading.sealed


def test_an_edit_with_a_recomputed_chain_fails_without_the_key(tmp_path):
    lines = _edit(_lines(tmp_path))
    (tmp_path / "run-1" / LEDGER_FILE).write_text("".join(line + "\n" for line in lines))
    assert [p["problem"] for p in open_ledger(str(tmp_path), "run-1", b"another key of 32 bytes.........", "kid").problems]
    reading = open_ledger(str(tmp_path), "run-1", None)
    assert [p["problem"] for p in reading.problems][0] == "unreadable" and not reading.keyed


def test_the_runs_directory_and_ledger_are_private(tmp_path):
    os.umask(0o022)
    keyed(tmp_path).intent("web1", {})
    assert stat.S_IMODE(os.stat(str(tmp_path / "run-1")).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(str(tmp_path / "run-1" / LEDGER_FILE)).st_mode) == 0o600


def test_a_ledger_directory_others_may_write_or_that_is_a_symlink_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(LedgerError, match="group or others"):
        keyed(shared).intent("web1", {})
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(LedgerError, match="not a directory"):
        keyed(tmp_path / "link").intent("web1", {})


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another user")
def test_a_runs_directory_of_another_user_is_refused_for_writing_and_reading(tmp_path):
    keyed(tmp_path).intent("web1", {})
    os.chown(str(tmp_path / "run-1"), 65534, 65534)
    with pytest.raises(LedgerError, match="belongs to uid 65534"):
        keyed(tmp_path).intent("web1", {})
    with pytest.raises(LedgerError, match="belongs to uid 65534"):
        open_ledger(str(tmp_path), "run-1", KEY, "kid")


@pytest.mark.parametrize("run_id", ["", ".", "..", "a/b", "../x", "a\0b"])
def test_a_run_id_that_is_not_a_file_name_cannot_leave_the_ledger(tmp_path, run_id):
    with pytest.raises(LedgerError):
        run_directory(str(tmp_path), run_id)


def test_an_unknown_outcome_is_a_bug(tmp_path):
    with pytest.raises(ValueError):
        keyed(tmp_path).outcome("web1", 1, "maybe")


def test_a_ledger_that_cannot_be_written_says_where(tmp_path):
    blocker = tmp_path / "ledger"
    blocker.write_text("a file where the directory goes")
    with pytest.raises(LedgerError, match="cannot"):
        keyed(blocker).intent("web1", {})


def test_a_head_behind_the_file_is_caught_up_and_a_torn_head_rebuilt(tmp_path):
    ledger = keyed(tmp_path)
    ledger.intent("web1", {})
    head = tmp_path / "run-1" / HEAD_FILE
    stale = head.read_bytes()
    ledger.intent("web1", {})
    # A writer killed between its line and its head.
    head.write_bytes(stale)
    ledger.intent("web1", {})
    head.write_bytes(b"garbage")
    ledger.outcome("web1", 3, RECORDED)
    reading = open_ledger(str(tmp_path), "run-1", KEY, "kid")
    assert reading.intact, reading.problems
    assert [e.get("seq") for e in reading.entries] == [None, 1, 2, 3, 3]


def test_a_torn_counter_table_is_rebuilt_from_the_ledger_and_never_gives_a_number_twice(tmp_path):
    ledger = keyed(tmp_path)
    ledger.intent("web1", {})
    ledger.intent("web1", {})
    ledger.intent("web2", {})
    (tmp_path / "run-1" / "seq").write_bytes(b"00000")
    assert ledger.intent("web1", {}) == 3 and ledger.intent("web2", {}) == 2 and ledger.intent("web3", {}) == 1


def test_the_counter_table_grows_with_the_fleet_and_keeps_every_hosts_count(tmp_path):
    ledger = keyed(tmp_path)
    hosts = ["host-%04d" % number for number in range(1500)]
    for _round in range(2):
        for host in hosts:
            ledger.intent(host, {})
    assert [ledger.intent(host, {}) for host in hosts[::250]] == [3] * 6
    assert (tmp_path / "run-1" / "seq").stat().st_size < 1024 * 1024


def test_a_line_cut_short_by_a_killed_writer_is_torn_and_the_next_starts_its_own(tmp_path):
    ledger = keyed(tmp_path)
    ledger.intent("web1", {})
    with open(str(tmp_path / "run-1" / LEDGER_FILE), "a", encoding="ascii") as handle:
        handle.write('{"kind": "outcome", "ho')
    ledger.outcome("web1", 1, RECORDED)
    reading = open_ledger(str(tmp_path), "run-1", KEY, "kid")
    assert [e["kind"] for e in reading.entries] == ["start", "intent", "outcome"]
    assert [p["problem"] for p in reading.problems] == ["unreadable"]


def _worker(directory: str, host: str, count: int) -> None:
    ledger = keyed(directory)
    for _round in range(count):
        seq = ledger.intent(host, {"filler": "x" * 3000})
        ledger.outcome(host, seq, RECORDED)


def test_concurrent_workers_write_whole_chained_lines_and_never_share_a_number(tmp_path):
    workers = [
        multiprocessing.get_context("fork").Process(target=_worker, args=(str(tmp_path), host, 50))
        for host in ("web1", "web1", "web1", "web2")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    reading = open_ledger(str(tmp_path), "run-1", KEY, "kid")
    assert reading.intact and reading.lines == 401
    intents = [(e["host"], e["seq"]) for e in reading.entries if e["kind"] == "intent"]
    assert sorted(seq for host, seq in intents if host == "web1") == list(range(1, 151))
    assert sorted(seq for host, seq in intents if host == "web2") == list(range(1, 51))


def test_an_outcome_says_which_path_wrote_its_record_and_nothing_else(tmp_path):
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _ledger

    ledger = _ledger.Ledger(str(tmp_path), "path-run", None, None)
    seq = ledger.intent("web1", {"task_id": "t"})
    ledger.outcome("web1", seq, _ledger.RECORDED, recorded=True, path=_ledger.IN_MODULE_PATH)
    with pytest.raises(ValueError, match="unknown record path"):
        ledger.outcome("web1", seq, _ledger.RECORDED, path="elsewhere")
    [line] = [entry for entry in _ledger.read_ledger(str(tmp_path), "path-run") if entry["kind"] == "outcome"]
    assert line["path"] == "in_module" and line["outcome"] == "recorded"
