from __future__ import annotations

import os

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _before, _settings
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _ledger
from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._hook.hook_helpers import FakeTask, make_te, TASK_VARS, run_task, ledger_of


def test_each_change_has_an_intent_and_an_outcome_and_its_record_the_same_seq(ledger_settings, writes):
    te = make_te(FakeTask())
    run_task(te, ledger_settings, {"changed": True})
    run_task(te, ledger_settings, {"changed": False})
    run_task(te, ledger_settings, {"changed": True})
    records = [params["fields"] for check_mode, params in writes if not check_mode]
    assert [fields["seq"] for fields in records] == ["1", "3"]
    # Next to the task id, where a reader of the record looks for what tells two changes of one task apart.
    assert list(records[0])[list(records[0]).index("task_id") + 1] == "seq"
    assert ledger_of(ledger_settings) == [
        {"kind": "intent", "host": "web1", "seq": 1, "object": "/etc/motd", "module": "ansible.builtin.copy"},
        {"kind": "outcome", "host": "web1", "seq": 1, "outcome": "recorded"},
        {"kind": "intent", "host": "web1", "seq": 2, "object": "/etc/motd", "module": "ansible.builtin.copy"},
        {"kind": "outcome", "host": "web1", "seq": 2, "outcome": "unchanged"},
        {"kind": "intent", "host": "web1", "seq": 3, "object": "/etc/motd", "module": "ansible.builtin.copy"},
        {"kind": "outcome", "host": "web1", "seq": 3, "outcome": "recorded"},
    ]


def test_a_change_that_could_not_be_recorded_says_why_in_the_ledger(ledger_settings, writes):
    te = make_te(FakeTask())
    writes.outcomes.extend([{"recorded": True}, {"failed": True, "msg": "auditd is not running", "cause": "AuditdNotRunningError"}])
    result = {"changed": True}
    run_task(te, ledger_settings, result)
    assert result["failed"] is True
    entries = _ledger.read_ledger(ledger_settings.ledger_dir, "unit-run")
    assert entries[-1]["outcome"] == "not_recorded" and entries[-1]["reason"] == "auditd is not running"
    assert entries[-1]["cause"] == "AuditdNotRunningError"


def test_a_change_skipped_by_policy_is_in_the_ledger_but_not_recorded(ledger_settings, writes):
    te = make_te(FakeTask(action="my.ns.deploy"))
    run_task(te, ledger_settings, {"changed": True})
    assert writes == []
    assert ledger_of(ledger_settings) == [
        {"kind": "intent", "host": "web1", "seq": 1, "policy": "skip list", "module": "my.ns.deploy"},
        {"kind": "outcome", "host": "web1", "seq": 1, "outcome": "skipped_by_policy"},
    ]


def test_controller_only_actions_and_the_collections_own_modules_are_not_in_the_ledger(ledger_settings, writes):
    for action in ("ansible.builtin.debug", "changeaudit.linux.audited"):
        run_task(make_te(FakeTask(action=action)), ledger_settings, {"changed": True})
    assert not os.path.exists(os.path.join(ledger_settings.ledger_dir, "unit-run", "ledger.jsonl"))


def test_a_ledger_that_cannot_be_written_stops_the_change(tmp_path, writes):
    (tmp_path / "ledger").write_text("not a directory")
    settings = _settings.Settings(state_dir=str(tmp_path), ledger_dir=str(tmp_path / "ledger"))
    te = make_te(FakeTask())
    with pytest.raises(_settings.RecordKeepingError, match="ledger cannot be written, so this task was not run"):
        _before.before_task(te, te.handler, dict(TASK_VARS), settings)


# --- hosts that cannot keep Linux audit records -------------------------------------------------------------------
