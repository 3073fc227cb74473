from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._hook.hook_helpers import FakeTask, make_te, TASK_VARS
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _before, _run, _settings


def test_before_task_once_per_play_host_and_user_fails_before_the_task(settings, writes):
    task = FakeTask()
    te = make_te(task)
    _before.before_task(te, te.handler, dict(TASK_VARS), settings)
    _before.before_task(te, te.handler, dict(TASK_VARS), settings)
    assert [check_mode for check_mode, _params in writes] == [True]
    # A later worker (a fresh process) finds the check in the run's state directory.
    settings.checked.clear()
    _before.before_task(te, te.handler, dict(TASK_VARS), settings)
    assert len(writes) == 1
    # Other record privileges (a task as nobody: the record escalates with sudo) are checked again, and refused.
    writes.outcomes.append({"failed": True, "msg": "becoming root with sudo failed: Missing sudo password"})
    te = make_te(task, become_user="nobody")
    with pytest.raises(_settings.RecordKeepingError, match="web1 cannot keep audit records.*Missing sudo password"):
        _before.before_task(te, te.handler, dict(TASK_VARS), settings)


def test_before_task_skips_what_is_not_recorded(settings, writes):
    for task in (FakeTask(action="ansible.builtin.set_fact"), FakeTask(check_mode=True)):
        te = make_te(task)
        _before.before_task(te, te.handler, dict(TASK_VARS), settings)
    assert writes == []


def test_a_task_whose_record_cannot_be_built_fails_before_it_runs(settings, writes, monkeypatch):
    task = FakeTask(args={"dest": "/etc/motd", "content": "x"})
    monkeypatch.setattr(_run, "task_context", lambda *_args: {"cmd": "x", "bad name": 1})
    te = make_te(task)
    with pytest.raises(_settings.RecordKeepingError, match="could not be recorded, so it was not run"):
        _before.check_record(_run.TaskRun.start(te, settings), te.handler, dict(TASK_VARS))
