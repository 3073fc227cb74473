"""The run's ledger: whole lines from concurrent workers, one sequence number per change and host, private files."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._ledger import (
    LEDGER_FILE,
    RECORDED,
    Ledger,
    LedgerError,
    read_ledger,
    run_directory,
)


def test_an_intent_and_its_outcome_share_the_hosts_sequence_number(tmp_path):
    ledger = Ledger(str(tmp_path), "run-1")
    assert ledger.intent("web1", {"task_id": "t1", "module": "ansible.builtin.copy"}) == 1
    assert ledger.intent("web2", {"task_id": "t1"}) == 1
    assert ledger.intent("web1", {"task_id": "t1"}) == 2
    ledger.outcome("web1", 1, RECORDED, res="success", serial=None)
    entries = read_ledger(str(tmp_path), "run-1")
    assert [(e["kind"], e["host"], e["seq"]) for e in entries] == [
        ("intent", "web1", 1), ("intent", "web2", 1), ("intent", "web1", 2), ("outcome", "web1", 1),
    ]
    assert entries[0]["module"] == "ansible.builtin.copy" and entries[0]["run_id"] == "run-1"
    assert entries[3]["outcome"] == RECORDED and "serial" not in entries[3]
    assert entries[0]["time"].endswith("+00:00")


def test_the_runs_directory_and_ledger_are_private(tmp_path):
    os.umask(0o022)
    Ledger(str(tmp_path), "run-1").intent("web1", {})
    assert stat.S_IMODE(os.stat(str(tmp_path / "run-1")).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(str(tmp_path / "run-1" / LEDGER_FILE)).st_mode) == 0o600


@pytest.mark.parametrize("run_id", ["", ".", "..", "a/b", "../x", "a\0b"])
def test_a_run_id_that_is_not_a_file_name_cannot_leave_the_ledger(tmp_path, run_id):
    with pytest.raises(LedgerError):
        run_directory(str(tmp_path), run_id)


def test_an_unknown_outcome_is_a_bug(tmp_path):
    with pytest.raises(ValueError):
        Ledger(str(tmp_path), "run-1").outcome("web1", 1, "maybe")


def test_a_ledger_that_cannot_be_written_says_where(tmp_path):
    blocker = tmp_path / "ledger"
    blocker.write_text("a file where the directory goes")
    with pytest.raises(LedgerError, match="cannot"):
        Ledger(str(blocker), "run-1").intent("web1", {})


def _worker(directory: str, host: str, count: int) -> None:
    ledger = Ledger(directory, "run-1")
    for _round in range(count):
        seq = ledger.intent(host, {"filler": "x" * 3000})
        ledger.outcome(host, seq, RECORDED)


def test_concurrent_workers_write_whole_lines_and_never_share_a_number(tmp_path):
    workers = [
        multiprocessing.get_context("fork").Process(target=_worker, args=(str(tmp_path), host, 50))
        for host in ("web1", "web1", "web1", "web2")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    with open(str(tmp_path / "run-1" / LEDGER_FILE), encoding="ascii") as handle:
        lines = handle.read().splitlines()
    entries = [json.loads(line) for line in lines]
    assert len(entries) == 400
    intents = [(e["host"], e["seq"]) for e in entries if e["kind"] == "intent"]
    assert sorted(seq for host, seq in intents if host == "web1") == list(range(1, 151))
    assert sorted(seq for host, seq in intents if host == "web2") == list(range(1, 51))


def test_a_line_cut_short_is_left_out(tmp_path):
    Ledger(str(tmp_path), "run-1").intent("web1", {})
    with open(str(tmp_path / "run-1" / LEDGER_FILE), "a", encoding="ascii") as handle:
        handle.write('{"kind": "outcome", "ho')
    assert [entry["kind"] for entry in read_ledger(str(tmp_path), "run-1")] == ["intent"]
