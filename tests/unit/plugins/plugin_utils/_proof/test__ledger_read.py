"""Reading a run's ledger back: lines chained under a key and sealed, every kind of tampering named at its line."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import RECORDED
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger_chain import LEDGER_FILE, LedgerError, seal_text
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger_read import DELETED, DUPLICATED, EDITED, INSERTED, REORDERED, open_ledger
from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._proof.ledger_helpers import KEY, keyed, signed


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


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another user")
def test_a_runs_directory_of_another_user_is_refused_for_writing_and_reading(tmp_path):
    keyed(tmp_path).intent("web1", {})
    os.chown(str(tmp_path / "run-1"), 65534, 65534)
    with pytest.raises(LedgerError, match="belongs to uid 65534"):
        keyed(tmp_path).intent("web1", {})
    with pytest.raises(LedgerError, match="belongs to uid 65534"):
        open_ledger(str(tmp_path), "run-1", KEY, "kid")
