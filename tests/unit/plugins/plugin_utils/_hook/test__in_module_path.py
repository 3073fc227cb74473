from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _after, _before, _in_module_path, _policies, _run, _settings
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _execution, _results
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _ledger
from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._hook.hook_helpers import (
    TASK_VARS,
    FakeTask,
    in_module_attempt,
    in_module_te,
    make_te,
)


def test_a_root_task_of_the_normal_action_writes_its_record_in_the_module():
    run, handler = in_module_te()
    assert _in_module_path.in_module_refusal(run, handler) is None


def test_copy_of_a_text_content_writes_its_record_in_the_module_with_the_contents_checksum(writes):
    run, handler = in_module_te(FakeTask(args={"dest": "/etc/motd", "content": "hi\n"}), action="copy",
                                settings=_settings.Settings(fields={"ticket": "CHG-7"}))
    request, checksum, modules = _in_module_path.in_module_request(run, handler, dict(TASK_VARS))
    assert checksum == "sha1:" + __import__("hashlib").sha1(b"hi\n").hexdigest() and modules == ("ansible.legacy.copy",)
    assert request["fields"]["checksum"] == checksum and request["result"] == "success" and request["check_mode"] is False
    assert request["fields"]["ticket"] == "CHG-7" and request["hostname"]


@pytest.mark.parametrize("task_fields, action, acting_user, how, why", [
    ({"changed_when": ["false"]}, "normal", "root", "task", "verdict"),
    ({"failed_when": ["x"]}, "normal", "root", "task", "verdict"),
    ({"until": ["x"]}, "normal", "root", "task", "verdict"),
    ({"check_mode": True}, "normal", "root", "task", "not recorded"),
    ({"async_val": 30, "poll": 5}, "normal", "root", "task", "verdict"),
    ({"no_log": True}, "normal", "root", "task", "no_log"),
    ({}, "normal", "postgres", "become", "does not run as root"),
    ({}, "normal", "root", "helper", "does not run as root"),
    ({}, "template", "root", "task", "not core's normal"),
    ({"args": {"dest": "/etc/motd", "src": "motd"}}, "copy", "root", "task", "copy without text content"),
    ({"args": {"dest": "/etc/motd", "content": "hi"}, "diff": True}, "copy", "root", "task", "with a diff"),
])
def test_every_other_task_keeps_the_writer(task_fields, action, acting_user, how, why):
    task = FakeTask(action="ansible.builtin.lineinfile", args=task_fields.pop("args", {"path": "/etc/x"}), **task_fields)
    run, handler = in_module_te(task, action, acting_user, how)
    assert why in _in_module_path.in_module_refusal(run, handler)


def test_a_record_written_before_the_change_or_a_host_that_skips_keeps_the_writer():
    run, handler = in_module_te(written_before={"recorded": True})
    assert _in_module_path.in_module_refusal(run, handler) is not None
    run, handler = in_module_te(verdict=(_policies.SKIP, "a container"))
    assert _in_module_path.in_module_refusal(run, handler) is not None


def test_one_module_of_an_attempt_at_most_gets_the_prelude(writes, monkeypatch):
    monkeypatch.setattr(_in_module_path, "same_python", lambda *args: False)
    run, handler = in_module_te(FakeTask(args={"dest": "/etc/motd", "content": "hi\n"}), action="copy")
    run.execution.attempts.append(_execution.Attempt())
    assert _in_module_path.in_module_prelude(run, handler, "ansible.legacy.stat", "/usr/bin/python3", dict(TASK_VARS)) is None
    assert "_changeaudit_in_module()" in _in_module_path.in_module_prelude(
        run, handler, "ansible.legacy.copy", "/usr/bin/python3", dict(TASK_VARS))
    run.execution.attempts[-1].module_reports.append({"path": "in_module", "recorded": True})
    assert _in_module_path.in_module_prelude(run, handler, "ansible.legacy.copy", "/usr/bin/python3", dict(TASK_VARS)) is None


def test_a_record_the_module_wrote_is_not_written_again_and_the_ledger_says_in_module(ledger_settings, writes):
    te = make_te(FakeTask())
    _before.before_task(te, te.handler, dict(TASK_VARS), ledger_settings)
    checks = len(writes)
    in_module_attempt(te, {"path": "in_module", "recorded": True, "record": "op=ansible-change x", "sequence": 2, "verified": None})
    result = {"changed": True}
    _after.after_task(te, _results.DictResult(te, result), dict(TASK_VARS), ledger_settings)
    assert len(writes) == checks
    assert result[_settings.RESULT_KEY]["path"] == "in_module" and result[_settings.RESULT_KEY]["recorded"] is True
    [line] = [entry for entry in _ledger.read_ledger(ledger_settings.ledger_dir, "unit-run") if entry["kind"] == "outcome"]
    assert line["outcome"] == "recorded" and line["path"] == "in_module" and line["res"] == "success"


def test_a_record_the_module_could_not_write_fails_the_task_closed_and_no_writer_runs(ledger_settings, writes):
    te = make_te(FakeTask())
    _before.before_task(te, te.handler, dict(TASK_VARS), ledger_settings)
    checks = len(writes)
    in_module_attempt(te, {"path": "in_module", "failed": True, "recorded": False, "msg": "auditing is disabled",
                           "cause": "AuditDisabledError"})
    result = {"changed": True, "failed": True, "msg": "The change was made but could not be recorded ..."}
    _after.after_task(te, _results.DictResult(te, result), dict(TASK_VARS), ledger_settings)
    assert len(writes) == checks and result["failed"] is True and te.task.ignore_errors is False
    assert "could not be recorded in its audit trail: auditing is disabled" in result["msg"] and "Task message" not in result["msg"]
    [line] = [entry for entry in _ledger.read_ledger(ledger_settings.ledger_dir, "unit-run") if entry["kind"] == "outcome"]
    assert line["outcome"] == "not_recorded" and line["path"] == "in_module" and line["cause"] == "AuditDisabledError"


def test_a_module_that_left_the_record_to_the_writer_gets_it_from_the_writer(ledger_settings, writes):
    te = make_te(FakeTask())
    _before.before_task(te, te.handler, dict(TASK_VARS), ledger_settings)
    checks = len(writes)
    in_module_attempt(te, {"path": "writer", "why": "the module returned a diff"})
    _after.after_task(te, _results.DictResult(te, {"changed": True}), dict(TASK_VARS), ledger_settings)
    assert len(writes) == checks + 1
    [line] = [entry for entry in _ledger.read_ledger(ledger_settings.ledger_dir, "unit-run") if entry["kind"] == "outcome"]
    assert line["outcome"] == "recorded" and line["path"] == "writer"


def test_each_loop_item_builds_its_own_in_module_record(ledger_settings, writes):
    te = make_te(FakeTask())
    _run.TaskRun.start(te, ledger_settings).in_module = ({"op": "the first item's"}, None, None)
    _before.before_task(te, te.handler, dict(TASK_VARS), ledger_settings)
    assert _run.TaskRun.of(te, ledger_settings).in_module is _run.UNDECIDED
