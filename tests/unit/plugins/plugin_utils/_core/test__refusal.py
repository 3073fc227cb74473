"""The refusal that holds every change back while the recorder is not ready."""

from __future__ import annotations

import types

import pytest

from ansible.executor.task_executor import TaskExecutor
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _refusal


def task(action="ansible.builtin.copy", check_mode=False):
    return types.SimpleNamespace(action=action, resolved_action=action, collections=None, check_mode=check_mode,
                                 ignore_errors=True)


@pytest.fixture
def refusing():
    yield
    _refusal.remove_refusal_wrapper()


def test_a_refusal_fails_a_task_that_may_change_before_the_original_runs(refusing, monkeypatch):
    ran = []
    monkeypatch.setattr(TaskExecutor, "_execute", lambda self, *args, **kwargs: ran.append(args) or "result")
    _refusal.refuse_changes("the recorder is broken: fix X")
    executor = types.SimpleNamespace(_task=task())
    with pytest.raises(_refusal.ChangesRefusedError, match="the recorder is broken: fix X"):
        TaskExecutor._execute(executor, "templar", variables={})
    assert ran == [] and executor._task.ignore_errors is False, "not run, and not ignorable"


@pytest.mark.parametrize("refused_task", [task("debug"), task("ansible.builtin.set_fact"), task("ansible.legacy.setup"),
                                          task("ansible.builtin.copy", check_mode=True)])
def test_a_refusal_lets_what_changes_no_host_run(core_loaders, refusing, monkeypatch, refused_task):
    monkeypatch.setattr(TaskExecutor, "_execute", lambda self, *args, **kwargs: "result")
    _refusal.refuse_changes("no")
    assert TaskExecutor._execute(types.SimpleNamespace(_task=refused_task)) == "result"


def test_allowing_changes_leaves_an_inert_wrapper_and_refusing_again_reuses_it(refusing, monkeypatch):
    monkeypatch.setattr(TaskExecutor, "_execute", lambda self, *args, **kwargs: "result")
    _refusal.refuse_changes("first")
    wrapper = TaskExecutor._execute
    _refusal.allow_changes()
    assert _refusal.refusal() is None
    assert TaskExecutor._execute(types.SimpleNamespace(_task=task())) == "result"
    _refusal.refuse_changes("second")
    assert TaskExecutor._execute is wrapper and _refusal.refusal() == "second"


def test_a_task_the_predicate_cannot_judge_is_refused(refusing, monkeypatch):
    monkeypatch.setattr(TaskExecutor, "_execute", lambda self, *args, **kwargs: "result")

    def broken(_task):
        raise KeyError("x")

    _refusal.refuse_changes("refused", broken)
    with pytest.raises(_refusal.ChangesRefusedError):
        TaskExecutor._execute(types.SimpleNamespace(_task=task()))


@pytest.mark.parametrize("action, controller_only", [("debug", True), ("ansible.builtin.copy", False)])
def test_only_what_may_change_a_host_is_refused(core_loaders, action, controller_only):
    assert _refusal.may_change_hosts(task(action)) is not controller_only
    assert _refusal.may_change_hosts(task("ansible.builtin.copy", check_mode=True)) is False
