# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The task hook: what runs the every-change recorder in each worker, by wrapping ansible-core's private executor.

ansible-core has no public per-task hook (custom strategies are deprecated, ansible/ansible#84725; callbacks
cannot fail a host or run anything on it; replacing the ``normal`` action misses every module with an action
plugin of its own and runs before changed_when/failed_when). So ``install_task_hook`` wraps
``TaskExecutor._get_action_handler_with_module_context``, which runs in the worker once per task and loop item after
the (delegated) connection is set up and before the action runs, and ``TaskExecutor._execute``, which returns the
result after changed_when, failed_when and until; on 2.21 also ``TaskExecutor.run``, where a loop's
``ignore_errors`` is derived from its items'. The hook sees the task through ``_execution.Execution`` and its result
through ``_results.DictResult`` or ``_results.ObjectResult``, chosen by ``_versions.returns_result_object``.

The module prelude (``install_task_hook``'s ``module_prelude``) wraps ``ActionBase._configure_module`` of each
action handler, whose AnsiballZ wrapper gets Python source run in the module's own process before the module
(``with_prelude``), and ``ActionBase._execute_module``, whose result gives back what that source reported
(``Attempt.module_reports``).
"""

from __future__ import annotations

import functools
import typing as t

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._execution import _ATTEMPTS_ATTR, Attempt, Execution
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._results import (
    DictResult,
    ObjectResult,
    forget_not_ignorable,
    make_not_ignorable,
    refused_here,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._versions import CORE, is_tested, returns_result_object


class TaskRefusedError(AnsibleError):
    """Raised by a hook before the action runs: the task fails, and ignore_errors does not hide it."""


def _watch_handler(handler: t.Any, attempt: Attempt, execution: t.Optional[Execution] = None) -> None:
    """Notes in ``attempt`` what ``handler.run`` returns, and whether any module it runs reports a change: wraps the
    instance's ``run`` and ActionBase._execute_module (private), which every action runs its modules through; with a
    module prelude hooked, also ActionBase._configure_module (``_prelude_modules``)."""
    run = handler.run
    execute_module = getattr(handler, "_execute_module", None)

    @functools.wraps(run)
    def watched_run(*args: t.Any, **kwargs: t.Any) -> t.Any:
        attempt.started = True
        result = run(*args, **kwargs)
        if isinstance(result, dict):
            attempt.ended = True
            attempt.verdict = "changed" in result
            attempt.changed = bool(result.get("changed"))
            attempt.failed = bool(result.get("failed") or result.get("unreachable"))
        return result

    handler.run = watched_run
    if execute_module is None:
        return

    prelude = _HOOK.get("prelude")
    if prelude is not None and execution is not None:
        _prelude_modules(handler, attempt, execution, *prelude)
    report_key = prelude[1] if prelude is not None else None

    @functools.wraps(execute_module)
    def watched_execute_module(*args: t.Any, **kwargs: t.Any) -> t.Any:
        attempt.preluded = False
        try:
            result = execute_module(*args, **kwargs)
        finally:
            preluded, attempt.preluded = attempt.preluded, False
        if isinstance(result, dict):
            # Taken out whoever printed it: only a run that got the prelude may speak for the record.
            report = result.pop(report_key, None) if report_key else None
            if preluded and isinstance(report, dict):
                attempt.module_reports.append(report)
            if result.get("changed"):
                attempt.module_changed = True
        return result

    handler._execute_module = watched_execute_module


# ---- the module prelude
#
# What runs in a Python module's own process before the module does (the record written there: _hook/_in_module_path.py's
# in-module path). Python modules go to the target as the AnsiballZ wrapper that module_common._find_module_utils
# writes, which ends by calling _ansiballz_main (the same text on 2.19, 2.20 and 2.21); ActionBase._configure_module
# returns it as _BuiltModule.b_module_data (a frozen dataclass on all three). The prelude goes in just before that
# call, so it runs in the wrapper's process, before the wrapper's loader imports and runs the module; a payload
# without that call (PowerShell, binary, old-style, a changed wrapper) gets none, and its task keeps the writer.

ANSIBALLZ_MAIN = b'\n\nif __name__ == "__main__":\n    _ansiballz_main(\n'
ModulePrelude = t.Callable[[Execution, t.Any, str, str, t.Dict[str, t.Any]], t.Optional[str]]


def with_prelude(module_data: bytes, prelude: str) -> t.Optional[bytes]:
    """The AnsiballZ wrapper ``module_data`` with ``prelude`` (Python source) run before it starts the module; None
    when it is not such a wrapper."""
    at = module_data.rfind(ANSIBALLZ_MAIN)
    if at < 0 or b"_ANSIBALLZ_WRAPPER = True" not in module_data[:4096]:
        return None
    return module_data[:at] + b"\n\n" + prelude.encode("utf-8") + module_data[at:]


def _prelude_modules(handler: t.Any, attempt: Attempt, execution: Execution, prelude: ModulePrelude, _key: str) -> None:
    """Wraps the instance's ActionBase._configure_module (private; ``(module_name, module_args, task_vars)`` ->
    ``(_BuiltModule, module_path)`` on 2.19-2.21): ``prelude(execution, handler, module_name, interpreter,
    task_vars)`` gives the source to put in a Python module's payload, or None."""
    if not is_tested(CORE):
        return
    configure = getattr(handler, "_configure_module", None)
    if configure is None:
        return

    @functools.wraps(configure)
    def configure_module(*args: t.Any, **kwargs: t.Any) -> t.Any:
        import dataclasses

        bits, path = configure(*args, **kwargs)
        names = ("module_name", "module_args", "task_vars")
        given = dict(zip(names, args), **kwargs)
        shebang = getattr(bits, "shebang", None)
        if getattr(bits, "module_style", None) != "new" or not shebang or not dataclasses.is_dataclass(bits):
            return bits, path
        source = prelude(execution, handler, str(given.get("module_name")), shebang[2:].strip(), given.get("task_vars") or {})
        data = with_prelude(bits.b_module_data, source) if source else None
        if data is None:
            return bits, path
        attempt.preluded = True
        return dataclasses.replace(bits, b_module_data=data), path

    handler._configure_module = configure_module


BeforeAction = t.Callable[[Execution, t.Any, t.Dict[str, t.Any]], None]
AfterResult = t.Callable[[Execution, t.Any, t.Dict[str, t.Any]], None]
_HOOK: t.Dict[str, t.Any] = {}
_ORIGINALS: t.Dict[str, t.Any] = {}


def install_task_hook(
    before_action: BeforeAction, after_result: AfterResult, core: t.Tuple[int, int] = CORE,
    module_prelude: t.Optional[ModulePrelude] = None, report_key: str = "",
) -> None:
    """Call ``before_action(execution, handler, task_vars)`` before each action runs (it may raise
    TaskRefusedError to fail the task) and ``after_result(execution, result, task_vars)`` on each final result.
    With ``module_prelude``, each Python module an action runs may get a prelude in its payload (``with_prelude``);
    what such a module returns under ``report_key`` is taken out of its result into ``Attempt.module_reports``.
    Wraps the TaskExecutor methods once; call in the controller before the workers fork."""
    from ansible.executor.task_executor import TaskExecutor

    _HOOK.update(before=before_action, after=after_result)
    _HOOK.pop("prelude", None)
    if module_prelude is not None and report_key:
        _HOOK["prelude"] = (module_prelude, report_key)
    if _ORIGINALS:
        return
    _ORIGINALS["_get_action_handler_with_module_context"] = TaskExecutor._get_action_handler_with_module_context
    _ORIGINALS["_execute"] = TaskExecutor._execute
    TaskExecutor._get_action_handler_with_module_context = _wrap_get_handler(
        TaskExecutor._get_action_handler_with_module_context
    )
    if returns_result_object(core):
        _ORIGINALS["run"] = TaskExecutor.run
        TaskExecutor._execute = _wrap_execute_object(TaskExecutor._execute)
        TaskExecutor.run = _wrap_run_object(TaskExecutor.run)
    else:
        TaskExecutor._execute = _wrap_execute_dict(TaskExecutor._execute)


def uninstall_task_hook() -> None:
    """Undo install_task_hook() (the unit tests use it)."""
    from ansible.executor.task_executor import TaskExecutor

    for name, original in _ORIGINALS.items():
        setattr(TaskExecutor, name, original)
    _ORIGINALS.clear()
    _HOOK.clear()
    forget_not_ignorable()


def task_hook_installed() -> bool:
    return bool(_ORIGINALS)


def _task_vars(executor: t.Any) -> t.Dict[str, t.Any]:
    if "run" in _ORIGINALS:
        from ansible._internal._task import TaskContext

        return TaskContext.current().task_vars
    return executor._job_vars


def _wrap_get_handler(original: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    @functools.wraps(original)
    def _get_action_handler_with_module_context(self: t.Any, templar: t.Any) -> t.Any:
        handler_and_context = original(self, templar)
        before = _HOOK.get("before")
        if before is None:
            return handler_and_context
        attempts = self.__dict__.setdefault(_ATTEMPTS_ATTR, [])
        attempt = Attempt()
        attempts.append(attempt)
        _watch_handler(handler_and_context[0], attempt, Execution(self))
        # A retry of until makes a new handler for the same change: its intent and checks were done on the first.
        if len(attempts) == 1:
            try:
                before(Execution(self), handler_and_context[0], _task_vars(self))
            except TaskRefusedError:
                make_not_ignorable(self._task)
                raise
        return handler_and_context

    return _get_action_handler_with_module_context


def _wrap_execute_dict(original: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    @functools.wraps(original)
    def _execute(self: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        # One _execute per loop item: its attempts start afresh.
        self.__dict__[_ATTEMPTS_ATTR] = []
        result = original(self, *args, **kwargs)
        after = _HOOK.get("after")
        if after is not None:
            variables = kwargs["variables"] if "variables" in kwargs else args[1]
            execution = Execution(self)
            after(execution, DictResult(execution, result), variables)
        return result

    return _execute


def _wrap_execute_object(original: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    @functools.wraps(original)
    def _execute(self: t.Any) -> t.Any:
        self.__dict__[_ATTEMPTS_ATTR] = []
        utr = original(self)
        after = _HOOK.get("after")
        if after is not None:
            execution = Execution(self)
            after(execution, ObjectResult(execution, utr), _task_vars(self))
        return utr

    return _execute


def _wrap_run_object(original: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    @functools.wraps(original)
    def run(self: t.Any) -> t.Any:
        utr = original(self)
        if refused_here(self._task) and utr.failed:
            # A loop's ignore_errors is true when any item's is: clear them all.
            utr.ignore_errors = False
            for item in utr.loop_results or ():
                item.ignore_errors = False
        return utr

    return run


__all__ = [
    "ANSIBALLZ_MAIN",
    "AfterResult",
    "BeforeAction",
    "ModulePrelude",
    "TaskRefusedError",
    "install_task_hook",
    "task_hook_installed",
    "uninstall_task_hook",
    "with_prelude",
]
