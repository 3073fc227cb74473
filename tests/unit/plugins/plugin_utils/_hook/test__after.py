from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _after, _notes, _settings
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _results
from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._hook.hook_helpers import FakeTask, make_te, TASK_VARS


def test_a_changed_result_is_recorded_with_the_change_fields(settings, writes):
    task = FakeTask(args={"dest": "/etc/motd", "content": "hi", "_ansible_check_mode": False})
    result = {"changed": True, "diff": {"after": "hi"}}
    _after.after_task(make_te(task), _results.DictResult(make_te(task), result), dict(TASK_VARS), settings)
    (check_mode, params), = writes
    assert check_mode is False
    fields = params["fields"]
    assert fields["module"] == "ansible.builtin.copy" and fields["object"] == "/etc/motd"
    assert fields["ticket"] == "CHG-7" and fields["run_id"] == "unit-run" and fields["cmd"] == "Deploy motd"
    assert fields["inventory_host"] == "web1" and "delegated_to" not in fields and "arg_names" not in fields
    assert result[_settings.RESULT_KEY] == {
        "recorded": True, "host": "web1", "run_id": "unit-run", "record": "op=ansible-change ...", "sequence": 7,
        "verified": None, "path": "writer",
    }
    assert _notes.record_counts(settings) == {"web1": {"written": 1, "failed": 0, "skipped": {}, "unknown": [], "run_ids": ["unit-run"]}}


@pytest.mark.parametrize(
    "result",
    [{"changed": False}, {"changed": True, "skipped": True}, {"changed": False, "failed": True}],
)
def test_nothing_is_written_for_results_that_did_not_change(settings, writes, result):
    task = FakeTask()
    _after.after_task(make_te(task), _results.DictResult(make_te(task), result), dict(TASK_VARS), settings)
    assert writes == [] and _settings.RESULT_KEY not in result


def test_check_mode_writes_nothing(settings, writes):
    task = FakeTask(check_mode=True)
    _after.after_task(make_te(task), _results.DictResult(make_te(task), {"changed": True}), dict(TASK_VARS), settings)
    assert writes == []


def test_a_delegated_change_names_the_inventory_host(settings, writes):
    task = FakeTask(delegate_to="backup1")
    result = {"changed": True}
    _after.after_task(make_te(task), _results.DictResult(make_te(task), result), dict(TASK_VARS), settings)
    assert writes[0][1]["fields"]["inventory_host"] == "web1"
    assert writes[0][1]["fields"]["delegated_to"] == "backup1"
    assert result[_settings.RESULT_KEY]["host"] == "backup1"


def test_no_log_keeps_values_out_of_the_record(settings, writes):
    task = FakeTask(no_log=True, args={"dest": "/etc/token", "content": "s3cret"})
    _after.after_task(make_te(task), _results.DictResult(make_te(task), {"changed": True, "diff": "s3cret"}), dict(TASK_VARS), settings)
    params = writes[0][1]
    assert "s3cret" not in repr(params)
    assert "object" not in params["fields"] and params["fields"]["withheld"] == "object,diff"


def test_a_failed_write_fails_the_task_and_cannot_be_ignored(settings, writes):
    writes.outcomes.append({"failed": True, "msg": "Auditing is disabled. Run auditctl -e 1.", "cause": "AuditDisabledError"})
    task = FakeTask()
    te = make_te(task)
    result = {"changed": True, "msg": "copied"}
    _after.after_task(te, _results.DictResult(te, result), dict(TASK_VARS), settings)
    assert result["failed"] is True
    assert "could not be recorded" in result["msg"] and "auditctl -e 1" in result["msg"] and "copied" in result["msg"]
    assert task.ignore_errors is False
    assert result[_settings.RESULT_KEY]["recorded"] is False and result[_settings.RESULT_KEY]["cause"] == "AuditDisabledError"
    assert _notes.record_counts(settings)["web1"]["failed"] == 1


def test_warn_mode_only_warns(tmp_path, writes, monkeypatch):
    warnings = []
    monkeypatch.setattr(_after.display, "warning", warnings.append)
    writes.outcomes.append({"failed": True, "msg": "no auditd"})
    settings = _settings.Settings(mode="warn", state_dir=str(tmp_path))
    task = FakeTask()
    result = {"changed": True}
    _after.after_task(make_te(task), _results.DictResult(make_te(task), result), dict(TASK_VARS), settings)
    assert "failed" not in result and task.ignore_errors is True
    assert len(warnings) == 1 and "no auditd" in warnings[0]
    assert writes[0][1]["on_unavailable"] == "warn"


def test_records_of_the_collections_own_modules_are_counted(settings, writes):
    task = FakeTask(action="changeaudit.linux.audited")
    te = make_te(task)
    _after.after_task(te, _results.DictResult(te, {"changed": True, "audit": {"recorded": True}}), dict(TASK_VARS), settings)
    assert writes == []
    assert _notes.record_counts(settings)["web1"]["written"] == 1


def test_a_failed_write_on_a_2_21_result_object_cannot_be_ignored_even_after_failed_when(settings, writes):
    _task = pytest.importorskip("ansible._internal._task")
    if not hasattr(_task, "UnifiedTaskResult"):
        pytest.skip("ansible-core before 2.21 returns dicts")
    utr = _task.UnifiedTaskResult.from_action_result_dict({"changed": True, "msg": "copied"})
    utr.failed_when_result = False
    utr.ignore_errors = True
    writes.outcomes.append({"failed": True, "msg": "auditd is not running", "cause": "AuditdNotRunningError"})
    task = FakeTask()
    te = make_te(task)
    _after.after_task(te, _results.ObjectResult(te, utr), dict(TASK_VARS), settings)
    assert utr.failed is True and utr.ignore_errors is False
    assert "auditd is not running" in utr.msg and "copied" in utr.msg
    assert utr.result_data[_settings.RESULT_KEY]["recorded"] is False
    assert task._uuid in _results._NOT_IGNORABLE


# --- every record fits ----------------------------------------------------------------------------------------------


def test_the_record_holds_the_contents_checksum_as_audited_writes_it(settings, writes):
    task = FakeTask()
    result = {"changed": True, "checksum": "a7a667f16c07d27e921e55f4e2a779e8e6e96ec9"}
    _after.after_task(make_te(task), _results.DictResult(make_te(task), result), dict(TASK_VARS), settings)
    assert writes[0][1]["fields"]["checksum"] == "sha1:a7a667f16c07d27e921e55f4e2a779e8e6e96ec9"


# --- the run's ledger ---------------------------------------------------------------------------------------------
