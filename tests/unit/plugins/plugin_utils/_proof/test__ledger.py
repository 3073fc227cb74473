"""Writing the run's ledger: whole lines from concurrent workers, one sequence number per change and host, private
files, the table of outcomes, and a crash that loses nothing."""

from __future__ import annotations

import multiprocessing
import os
import stat

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import (
    MISSING,
    OUTCOMES,
    RECORDED,
    SKIPPED_BY_POLICY,
    UNCHANGED,
    UNKNOWN,
    UNKNOWN_OUTCOME,
    HEAD_FILE,
    read_ledger,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger_chain import LEDGER_FILE, LedgerError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger_read import open_ledger
from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._proof.ledger_helpers import KEY, keyed


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


def test_the_runs_directory_and_ledger_are_private(tmp_path):
    os.umask(0o022)
    keyed(tmp_path).intent("web1", {})
    assert stat.S_IMODE(os.stat(str(tmp_path / "run-1")).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(str(tmp_path / "run-1" / LEDGER_FILE)).st_mode) == 0o600


def test_an_unknown_outcome_is_a_bug(tmp_path):
    with pytest.raises(ValueError):
        keyed(tmp_path).outcome("web1", 1, "maybe")


def test_a_ledger_that_cannot_be_written_says_where(tmp_path):
    blocker = tmp_path / "ledger"
    blocker.write_text("a file where the directory goes")
    with pytest.raises(LedgerError, match="cannot"):
        keyed(blocker).intent("web1", {})


def test_the_outcomes_table_says_what_the_evidence_makes_of_each_outcome():
    assert not OUTCOMES[UNCHANGED].listed and all(about.listed for name, about in OUTCOMES.items() if name != UNCHANGED)
    assert OUTCOMES[RECORDED].unrecorded == MISSING and OUTCOMES[UNKNOWN].unrecorded == UNKNOWN_OUTCOME
    assert OUTCOMES[SKIPPED_BY_POLICY].unrecorded == SKIPPED_BY_POLICY


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
