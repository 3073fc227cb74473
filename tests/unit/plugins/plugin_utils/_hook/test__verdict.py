from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _after, _before, _notes
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _results
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _ledger
from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._hook.hook_helpers import FakeTask, make_te, TASK_VARS, attempts


@pytest.mark.parametrize("said, final, res, outcome", [
    # until: an attempt before the last changed the host, the last found nothing more to do.
    ([{"changed": True, "failed": True}, {"changed": False}], {"changed": False}, "success", "recorded"),
    # copy of a directory: two files copied, the third failed validation and its result is all core hands back.
    ([{"failed": True, "module_changed": True}], {"changed": False, "failed": True}, "failed", "recorded"),
    # A module that died without JSON, a timeout, a failure that says nothing of a change: the outcome is unknown.
    ([{"failed": True, "module_stdout": ""}], {"changed": False, "failed": True, "module_stdout": "", "msg": "MODULE FAILURE"},
     "failed", "unknown"),
    ([None], {"changed": False, "failed": True, "timedout": {"period": 2}}, "failed", "unknown"),
    ([None], {"changed": False, "unreachable": True, "msg": "ssh: connection reset"}, "failed", "unknown"),
])
def test_a_change_core_reports_unchanged_is_recorded_all_the_same(ledger_settings, writes, said, final, res, outcome):
    te = make_te(FakeTask())
    _before.before_task(te, te.handler, dict(TASK_VARS), ledger_settings)
    attempts(te, *said)
    _after.after_task(te, _results.DictResult(te, final), dict(TASK_VARS), ledger_settings)
    [record] = [params for check_mode, params in writes if not check_mode]
    assert record["result"] == res
    [line] = [entry for entry in _ledger.read_ledger(ledger_settings.ledger_dir, "unit-run") if entry["kind"] == "outcome"]
    assert line["outcome"] == outcome and line["recorded"] is True
    assert (outcome == "unknown") == bool(line.get("reason"))


@pytest.mark.parametrize("said, final", [
    # The module said it failed and changed nothing.
    ([{"changed": False, "failed": True}], {"changed": False, "failed": True}),
    # changed_when is the author's verdict, whatever the attempts said.
    ([{"changed": True}], {"changed": False, "_changed_when": True}),
])
def test_a_verdict_the_module_or_the_author_gave_stands(ledger_settings, writes, said, final):
    task = FakeTask(changed_when=["false"] if final.pop("_changed_when", False) else [])
    te = make_te(task)
    _before.before_task(te, te.handler, dict(TASK_VARS), ledger_settings)
    attempts(te, *said)
    _after.after_task(te, _results.DictResult(te, final), dict(TASK_VARS), ledger_settings)
    assert [params for check_mode, params in writes if not check_mode] == []
    assert [entry["outcome"] for entry in _ledger.read_ledger(ledger_settings.ledger_dir, "unit-run")
            if entry["kind"] == "outcome"] == ["unchanged"]


def test_an_unknown_outcome_without_its_record_is_named_in_the_summary(ledger_settings, writes):
    te = make_te(FakeTask())
    _before.before_task(te, te.handler, dict(TASK_VARS), ledger_settings)
    writes.outcomes.append({"failed": True, "msg": "ssh: no route to host"})
    attempts(te, None)
    result = {"changed": False, "unreachable": True, "msg": "ssh: connection reset"}
    _after.after_task(te, _results.DictResult(te, result), dict(TASK_VARS), ledger_settings)
    [line] = [entry for entry in _ledger.read_ledger(ledger_settings.ledger_dir, "unit-run") if entry["kind"] == "outcome"]
    assert line["outcome"] == "unknown" and "no route to host" in line["reason"] and "recorded" not in line
    [unknown] = _notes.record_counts(ledger_settings)["web1"]["unknown"]
    assert unknown.startswith("#1 Deploy motd: the host became unreachable")
