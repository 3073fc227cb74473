"""The task hook: what each action handler returned, what its modules said, and the module prelude."""

from __future__ import annotations

import types

import pytest

from ansible.executor.task_executor import TaskExecutor
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _execution, _results, _task_hook


class _Action:
    """An action as TaskExecutor runs it: run() returns its result, _execute_module() each module's."""

    def __init__(self, modules, result):
        self.modules, self.result = modules, result

    def _execute_module(self, **_kwargs):
        return self.modules.pop(0)

    def run(self, task_vars=None):
        for _module in list(self.modules):
            self._execute_module(module_name="ansible.legacy.copy")
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


@pytest.mark.parametrize("modules, result, said", [
    ([{"changed": True}], {"changed": True}, (True, True, True, True)),
    # A module that died without JSON: core adds changed=false afterwards, but the action's result had none.
    ([], {"failed": True, "module_stdout": ""}, (True, False, False, False)),
    # copy of a directory: the first files changed, the last failed, and only its result is handed back.
    ([{"changed": True}, {"failed": True, "msg": "validation failed"}], {"failed": True, "msg": "validation failed"},
     (True, False, False, True)),
])
def test_an_attempt_notes_what_its_action_and_modules_said(modules, result, said):
    attempt = _execution.Attempt()
    action = _Action(modules, result)
    _task_hook._watch_handler(action, attempt)
    assert action.run() == result
    assert (attempt.ended, attempt.verdict, attempt.changed, attempt.module_changed) == said
    assert attempt.reported_change is (said[2] or said[3])


def test_an_action_that_never_returned_leaves_its_attempt_unended():
    attempt = _execution.Attempt()
    action = _Action([], KeyboardInterrupt())
    _task_hook._watch_handler(action, attempt)
    with pytest.raises(KeyboardInterrupt):
        action.run()
    assert attempt.started and not attempt.ended and not attempt.verdict


# --- the module prelude -------------------------------------------------------------------------------------------


def _built(data=b"", style="new", shebang="#!/usr/bin/python3"):
    from ansible.executor.module_common import _BuiltModule

    return _BuiltModule(b_module_data=data, module_style=style, shebang=shebang, serialization_profile="legacy")


class _ModuleAction:
    """An action whose _execute_module builds each module with _configure_module, as ActionBase does, and returns
    what that module printed."""

    def __init__(self, printed, style="new"):
        self.printed, self.style, self.sent = printed, style, []

    def _configure_module(self, module_name, module_args, task_vars):
        return _built(WRAPPER_TEXT, self.style), "/modules/%s.py" % module_name

    def _execute_module(self, module_name=None, module_args=None, task_vars=None):
        bits, _path = self._configure_module(module_name=module_name, module_args=module_args, task_vars=task_vars)
        self.sent.append(bits.b_module_data)
        return dict(self.printed.pop(0))

    def run(self, task_vars=None):
        return self._execute_module(module_name="ansible.legacy.lineinfile", task_vars={})


WRAPPER_TEXT = (
    b"#!/usr/bin/python3\n_ANSIBALLZ_WRAPPER = True\n" + _task_hook.ANSIBALLZ_MAIN + b"ansible_module='lineinfile',\n)\n"
)


@pytest.fixture
def prelude_hook():
    asked = []

    def prelude(execution, handler, module_name, interpreter, task_vars):
        asked.append((module_name, interpreter))
        return "PRELUDE = %r\n" % module_name

    _task_hook._HOOK["prelude"] = (prelude, "_report")
    yield asked
    _task_hook._HOOK.pop("prelude", None)


def test_a_python_module_gets_the_prelude_and_its_report_comes_back_out_of_its_result(prelude_hook):
    attempt = _execution.Attempt()
    action = _ModuleAction([{"changed": True, "_report": {"path": "in_module"}}])
    _task_hook._watch_handler(action, attempt, _execution.Execution(types.SimpleNamespace()))
    result = action.run()
    assert "_report" not in result and attempt.module_reports == [{"path": "in_module"}]
    assert prelude_hook == [("ansible.legacy.lineinfile", "/usr/bin/python3")]
    assert b"PRELUDE = 'ansible.legacy.lineinfile'\n" + _task_hook.ANSIBALLZ_MAIN in action.sent[0]


def test_a_report_from_a_module_that_got_no_prelude_is_taken_out_and_ignored(prelude_hook):
    attempt = _execution.Attempt()
    action = _ModuleAction([{"changed": True, "_report": {"path": "in_module", "recorded": True}}], style="binary")
    _task_hook._watch_handler(action, attempt, _execution.Execution(types.SimpleNamespace()))
    result = action.run()
    assert "_report" not in result and attempt.module_reports == [] and not prelude_hook
    assert action.sent == [WRAPPER_TEXT]


def test_without_a_prelude_hooked_the_module_goes_as_core_built_it():
    attempt = _execution.Attempt()
    action = _ModuleAction([{"changed": True, "_report": {"path": "in_module"}}])
    _task_hook._watch_handler(action, attempt, _execution.Execution(types.SimpleNamespace()))
    assert action.run()["_report"] == {"path": "in_module"} and action.sent == [WRAPPER_TEXT]
    assert attempt.module_reports == []


def test_the_hook_wraps_the_executor_once_and_uninstalls_cleanly():
    original = TaskExecutor._execute
    _task_hook.install_task_hook(lambda *args: None, lambda *args: None, (2, 20))
    try:
        wrapped = TaskExecutor._execute
        assert _task_hook.task_hook_installed() and wrapped is not original
        _task_hook.install_task_hook(lambda *args: None, lambda *args: None, (2, 20))
        assert TaskExecutor._execute is wrapped, "installed once"
    finally:
        _task_hook.uninstall_task_hook()
    assert not _task_hook.task_hook_installed() and TaskExecutor._execute is original


def test_a_refusal_before_the_action_makes_the_task_not_ignorable(monkeypatch):
    task = types.SimpleNamespace(_uuid="uuid-refused")
    handler = _Action([], {"changed": True})

    def refuse(execution, handler, task_vars):
        raise _task_hook.TaskRefusedError("no")

    monkeypatch.setattr(TaskExecutor, "_get_action_handler_with_module_context", lambda self, templar: (handler, None))
    _task_hook.install_task_hook(refuse, lambda *args: None, (2, 20))
    try:
        executor = types.SimpleNamespace(_task=task, _job_vars={})
        with pytest.raises(_task_hook.TaskRefusedError):
            TaskExecutor._get_action_handler_with_module_context(executor, None)
        assert _results.refused_here(task)
    finally:
        _task_hook.uninstall_task_hook()
    assert not _results.refused_here(task), "forgotten with the hook"
