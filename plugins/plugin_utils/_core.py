# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The one module of the collection that depends on ansible-core's private internals.

ansible-core has no public per-task hook (custom strategies are deprecated, ansible/ansible#84725; callbacks
cannot fail a host or run anything on it; replacing the ``normal`` action misses every module with an action
plugin of its own and runs before changed_when/failed_when). So what records every change reaches into core here,
and only here:

- the version, parsed once and compared by range (``TESTED_CORE``, read from ``requires_ansible`` of the
  collection's ``meta/runtime.yml``, the one place the tested releases are named), so that everything below is
  used only where CI tests it;
- the task hook (``install_task_hook``): ``TaskExecutor._get_action_handler_with_module_context``, which runs in
  the worker once per task and loop item after the (delegated) connection is set up and before the action runs,
  and ``TaskExecutor._execute``, which returns the result after changed_when, failed_when and until; on 2.21 also
  ``TaskExecutor.run``, where a loop's ``ignore_errors`` is derived from its items'. The hook sees the task through
  ``Execution`` and its result through ``DictResult`` (2.19, 2.20: a dict) or ``ObjectResult`` (2.21: a
  ``UnifiedTaskResult``);
- a connection to a delegated task's inventory host (``Execution.inventory_host_connection``), set up with
  ``TaskExecutor._get_connection`` and ``_set_connection_options`` as the executor sets up a task's own: an action
  that changes the inventory host from the delegated one (synchronize push with delegate_to) gets its record there;
- the module prelude (``install_task_hook``'s ``module_prelude``): ``ActionBase._configure_module`` of each action
  handler, whose AnsiballZ wrapper gets Python source run in the module's own process before the module
  (``with_prelude``), and ``ActionBase._execute_module``, whose result gives back what that source reported
  (``Attempt.module_reports``); ``core_action`` names core's own action plugins by their file;
- the refusal (``refuse_changes``) that holds every change back while the record_changes callback is not ready;
- ``apply_module_defaults`` (``module_common._apply_action_arg_defaults``, the helper core's own package and
  service actions use for the module they pick) and ``callback_var_options`` (the callback options given as
  extra vars, which 2.21 resolves itself).

The refusal wraps ``ansible.executor.task_executor.TaskExecutor._execute``, a private method, because ansible-core
catches whatever a callback raises while it loads ("Failed to load callback plugin") and runs the play anyway:
a misconfigured recorder would otherwise let every change through unrecorded. The wrapper takes any arguments and
raises before the original runs, so it depends on nothing but the method's name and ``TaskExecutor._task``; that
is why it may be put in place even on an ansible-core the hook itself refuses. ``TaskExecutor.run`` turns the
``AnsibleError`` into a failed task on every version from 2.19 on.
"""

from __future__ import annotations

import functools
import os
import re
import typing as t

from ansible.errors import AnsibleError
from ansible.release import __version__ as CORE_VERSION_TEXT

RUNTIME_YML = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "meta", "runtime.yml")
# Closed at the top, because the hook refuses what CI has not run: requires_ansible: '>=2.19.0,<2.22'.
REQUIRES_ANSIBLE = re.compile(r"""^requires_ansible:\s*(['"]?)>=(\d+)\.(\d+)\.0,\s*<(\d+)\.(\d+)\1\s*$""", re.MULTILINE)


def read_tested_core(path: str = RUNTIME_YML) -> t.Tuple[t.Tuple[int, int], t.Tuple[int, int]]:
    """The tested releases as [low, high) from requires_ansible of the collection's meta/runtime.yml (which
    ansible-galaxy ships with the collection); an empty range when it cannot be read, so that nothing is tested and
    the hook refuses, naming the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            found = REQUIRES_ANSIBLE.search(handle.read())
    except (OSError, UnicodeDecodeError):
        found = None
    if found is None:
        return (0, 0), (0, 0)
    low_major, low_minor, high_major, high_minor = (int(part) for part in found.groups()[1:])
    return (low_major, low_minor), (high_major, high_minor)


# The releases CI runs every suite with.
TESTED_CORE = read_tested_core()
# From this release on TaskExecutor._execute returns a UnifiedTaskResult instead of a dict.
RESULT_OBJECT_FROM = (2, 21)

# ansible-core's own actions that change no managed host: they run on the controller, only read, or only decide
# what runs next. Nothing is refused or recorded for them.
CONTROLLER_ONLY_ACTIONS = (
    "add_host",
    "assert",
    "async_status",
    "debug",
    "fail",
    "gather_facts",
    "group_by",
    "import_playbook",
    "import_role",
    "import_tasks",
    "include",
    "include_role",
    "include_tasks",
    "include_vars",
    "meta",
    "pause",
    "ping",
    "set_fact",
    "set_stats",
    "setup",
    "validate_argument_spec",
    "wait_for_connection",
)
CONTROLLER_ONLY = frozenset(
    [prefix + name for prefix in ("", "ansible.builtin.", "ansible.legacy.") for name in CONTROLLER_ONLY_ACTIONS]
)


def parse_version(text: str) -> t.Tuple[int, int]:
    """(major, minor) of an ansible-core version string: ``2.21.0rc1`` -> (2, 21); (0, 0) when it has none."""
    parts = []
    for part in str(text).split(".")[:2]:
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        parts.append(int(digits) if digits else 0)
    while len(parts) < 2:
        parts.append(0)
    return parts[0], parts[1]


CORE = parse_version(CORE_VERSION_TEXT)


def series_text(series: t.Tuple[int, int]) -> str:
    return "%d.%d" % series


def tested_series() -> t.List[str]:
    """The tested releases, oldest first: ['2.19', '2.20', '2.21']."""
    (major, low), (_major, high) = TESTED_CORE
    return [series_text((major, minor)) for minor in range(low, high)]


def tested_text() -> str:
    names = tested_series()
    if not names:
        return "the releases requires_ansible of %s names, which cannot be read" % RUNTIME_YML
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def is_tested(core: t.Tuple[int, int] = CORE) -> bool:
    return TESTED_CORE[0] <= core < TESTED_CORE[1]


def returns_result_object(core: t.Tuple[int, int] = CORE) -> bool:
    return core >= RESULT_OBJECT_FROM


def untested_message(what: str, version: str = CORE_VERSION_TEXT) -> str:
    return (
        "%s cannot run with ansible-core %s: it hooks into ansible-core's task executor, whose internals change "
        "between releases, and is tested with ansible-core %s only." % (what, version, tested_text())
    )


# ---------------------------------------------------------------------------------------------- refusal

_REFUSAL: t.Dict[str, t.Any] = {}
_REFUSING_ATTR = "_changeaudit_refusing_wrapper"


# Where ansible-core's own plugins live: an action of the list above counts only when the file that runs it is here.
CORE_PACKAGE_DIR = os.path.dirname(os.path.abspath(__import__("ansible").__file__)) + os.sep


def _plugin_path(loader: t.Any, name: str, collections: t.Any) -> t.Optional[str]:
    try:
        found = loader.find_plugin_with_context(name, collection_list=collections)
    except (AnsibleError, ImportError):
        # Not resolved: not core's own, so it may change hosts.
        return None
    return found.plugin_resolved_path if found.resolved else None


def core_controller_action(task: t.Any) -> bool:
    """Whether the task runs one of ansible-core's own actions that change no managed host (CONTROLLER_ONLY_ACTIONS).

    Decided on the plugin the task resolves to, as ``TaskExecutor._get_action_handler_with_module_context`` picks
    it (a module's action plugin, else an action plugin of the name, else the module under ``normal``), never on
    the name as written: ``ping:`` under ``collections: [acme.tools]`` is acme.tools.ping, and a role's
    ``library/setup.py`` is not core's setup, so both may change hosts."""
    from ansible.plugins.loader import action_loader, module_loader

    action = str(task.action or "")
    try:
        resolved = str(getattr(task, "resolved_action", None) or action)
    except AnsibleError:
        resolved = action
    if resolved not in CONTROLLER_ONLY:
        return False
    collections = getattr(task, "collections", None)
    path = None
    try:
        module = module_loader.find_plugin_with_context(action, collection_list=collections)
    except (AnsibleError, ImportError):
        module = None
    if module is not None and module.resolved and module.action_plugin:
        path = _plugin_path(action_loader, module.action_plugin, collections)
    if path is None:
        path = _plugin_path(action_loader, action, collections)
    if path is None and module is not None and module.resolved:
        path = module.plugin_resolved_path
    if path is None:
        # Nothing runs a file of that name: the includes, imports and meta, which the executor handles itself.
        return resolved.rsplit(".", 1)[-1] in ("include_tasks", "include_role", "import_tasks", "import_role",
                                               "import_playbook", "include", "meta")
    return os.path.abspath(path).startswith(CORE_PACKAGE_DIR)


def may_change_hosts(task: t.Any) -> bool:
    """Whether a task may change a managed host: not in check mode and not one of core's controller-only actions."""
    if task.check_mode:
        return False
    return not core_controller_action(task)


class ChangesRefusedError(AnsibleError):
    """A task that may change a host, refused because the recorder is not ready."""


def refuse_changes(message: str, may_change: t.Callable[[t.Any], bool] = may_change_hosts) -> None:
    """From now on, every task for which ``may_change(task)`` holds fails with ``message`` before its action runs,
    until ``allow_changes()``. Call in the controller before the workers fork; they inherit it."""
    from ansible.executor.task_executor import TaskExecutor

    _REFUSAL.update(message=message, may_change=may_change)
    if getattr(TaskExecutor._execute, _REFUSING_ATTR, False):
        return
    original = TaskExecutor._execute

    @functools.wraps(original)
    def _execute(self: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        refuse_if_refusing(self._task)
        return original(self, *args, **kwargs)

    setattr(_execute, _REFUSING_ATTR, True)
    TaskExecutor._execute = _execute


def refuse_if_refusing(task: t.Any) -> None:
    if not _REFUSAL:
        return
    try:
        refused = _REFUSAL["may_change"](task)
    except Exception:  # pylint: disable=broad-except
        # A task we cannot judge is one that may change a host.
        refused = True
    if refused:
        # Not ignorable: the strategy reads ignore_errors from the task the worker sends back.
        task.ignore_errors = False
        raise ChangesRefusedError(_REFUSAL["message"])


def refusal() -> t.Optional[str]:
    """The message changes are refused with, or None."""
    return _REFUSAL.get("message")


def allow_changes() -> None:
    """End the refusal; the wrapper stays in place and only checks that there is none."""
    _REFUSAL.clear()


def remove_refusal_wrapper() -> None:
    """Put the original TaskExecutor._execute back (the unit tests use it)."""
    from ansible.executor.task_executor import TaskExecutor

    _REFUSAL.clear()
    current = TaskExecutor._execute
    if getattr(current, _REFUSING_ATTR, False):
        TaskExecutor._execute = current.__wrapped__


# ---------------------------------------------------------------------------------------------- the task hook


class TaskRefusedError(AnsibleError):
    """Raised by a hook before the action runs: the task fails, and ignore_errors does not hide it."""


class Execution:
    """One task (or loop item) being executed in a worker, by what the hook needs of ``TaskExecutor``."""

    def __init__(self, executor: t.Any) -> None:
        self._executor = executor

    task = property(lambda self: self._executor._task)
    play_context = property(lambda self: self._executor._play_context)
    connection = property(lambda self: self._executor._connection)
    loader = property(lambda self: self._executor._loader)
    shared_loader_obj = property(lambda self: self._executor._shared_loader_obj)
    # The action handler of this execution; None before one was made.
    handler = property(lambda self: getattr(self._executor, "_handler", None))

    def inventory_host_connection(self, task_vars: t.Mapping[str, t.Any], templar: t.Any) -> t.Tuple[t.Any, t.Any, t.Any]:
        """(connection, play context, task) to the inventory host of a delegated task, set up as TaskExecutor sets up
        a task's own: for an action that changes the inventory host from the delegated one (synchronize push with
        delegate_to). The caller closes the connection. Uses TaskExecutor._get_connection and
        _set_connection_options on a shallow copy of the executor, whose own connection stays as it is."""
        import copy

        executor = self._executor
        task = executor._task.copy(exclude_parent=False, exclude_tasks=True)
        task.delegate_to = None
        proxy = copy.copy(executor)
        proxy._task = task
        proxy._play_context = executor._play_context.set_task_and_variable_override(
            task=task, variables=task_vars, templar=templar
        )
        connection_type = task_vars.get("ansible_connection")
        connection_type = templar.template(connection_type) if connection_type is not None else task.connection
        proxy._connection = proxy._get_connection(task_vars, templar, connection_type)
        proxy._set_connection_options(task_vars, templar)
        return proxy._connection, proxy._play_context, task

    @property
    def attempts(self) -> t.List["Attempt"]:
        """The attempts of this execution so far: one per action handler TaskExecutor made (``until`` makes a new
        one for each retry), each with what its action returned before core's defaults and changed_when."""
        return self._executor.__dict__.setdefault(_ATTEMPTS_ATTR, [])

    @property
    def notes(self) -> t.Dict[str, t.Any]:
        """What the hook before the action leaves for the hook after it: kept on the TaskExecutor, which runs one
        task on one host (its loop items one after the other) in one worker."""
        return self._executor.__dict__.setdefault("_changeaudit_notes", {})


class Attempt:
    """One run of the task's action handler: whether it returned (a timeout or a crash of the action does not), and
    what it said. ``verdict``: the result held ``changed`` (core adds ``changed: false`` to any result that lacks it,
    so a module that died without JSON, or failed without saying, looks unchanged after core); ``module_changed``: a
    module the action ran reported a change (an action that runs several modules, such as copy of a directory,
    returns only the failing one's result)."""

    __slots__ = ("started", "ended", "verdict", "changed", "failed", "module_changed", "module_reports", "preluded")

    def __init__(self) -> None:
        self.started = False
        self.ended = False
        self.verdict = False
        self.changed = False
        self.failed = False
        self.module_changed = False
        # What the modules run with a prelude (install_task_hook's module_prelude) reported under its key, in order.
        self.module_reports: t.List[t.Dict[str, t.Any]] = []
        # Whether the module run now going on got a prelude: only its report counts.
        self.preluded = False

    @property
    def reported_change(self) -> bool:
        return self.changed or self.module_changed


_ATTEMPTS_ATTR = "_changeaudit_attempts"


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
# What runs in a Python module's own process before the module does (the record written there: _every_change's
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


def core_action(handler: t.Any) -> t.Optional[str]:
    """The name of ansible-core's own action plugin ``handler`` is (``normal``, ``copy``), decided on the file its
    class comes from; None for any other plugin."""
    import inspect

    try:
        path = inspect.getfile(type(handler))
    except (TypeError, OSError):
        return None
    if not os.path.abspath(path).startswith(os.path.join(CORE_PACKAGE_DIR, "plugins", "action") + os.sep):
        return None
    return os.path.splitext(os.path.basename(path))[0]


class DictResult:
    """A 2.19/2.20 task result (dict)."""

    def __init__(self, execution: Execution, result: t.Dict[str, t.Any]) -> None:
        self.execution = execution
        self.result = result

    changed = property(lambda self: bool(self.result.get("changed")))
    failed = property(lambda self: bool(self.result.get("failed")))
    skipped = property(lambda self: bool(self.result.get("skipped")))
    unreachable = property(lambda self: bool(self.result.get("unreachable")))

    def get(self, key: str) -> t.Any:
        return self.result.get(key)

    def set(self, key: str, value: t.Any) -> None:
        self.result[key] = value

    def fail(self, msg: str) -> None:
        self.result["failed"] = True
        self.result["msg"] = msg

    def not_ignorable(self) -> None:
        # The strategy takes ignore_errors from the task the worker sends back (a loop item's from its copy).
        self.execution.task.ignore_errors = False


class ObjectResult:
    """A 2.21 UnifiedTaskResult."""

    def __init__(self, execution: Execution, utr: t.Any) -> None:
        self.execution = execution
        self.utr = utr

    changed = property(lambda self: bool(self.utr.changed))
    failed = property(lambda self: bool(self.utr.failed))
    skipped = property(lambda self: bool(self.utr.skipped))
    unreachable = property(lambda self: bool(self.utr.unreachable))

    def get(self, key: str) -> t.Any:
        if key in ("diff", "msg"):
            return getattr(self.utr, key)
        return self.utr.result_data.get(key)

    def set(self, key: str, value: t.Any) -> None:
        self.utr.result_data[key] = value

    def fail(self, msg: str) -> None:
        # failed_when's verdict takes precedence over the failed flag in UnifiedTaskResult.failed.
        self.utr.failed_when_result = None
        self.utr.failed = True
        self.utr.msg = msg

    def not_ignorable(self) -> None:
        self.utr.ignore_errors = False
        _NOT_IGNORABLE.add(self.execution.task._uuid)


BeforeAction = t.Callable[[Execution, t.Any, t.Dict[str, t.Any]], None]
AfterResult = t.Callable[[Execution, t.Any, t.Dict[str, t.Any]], None]
_HOOK: t.Dict[str, t.Any] = {}
_ORIGINALS: t.Dict[str, t.Any] = {}
# Per worker process: tasks whose failure the hook made not ignorable.
_NOT_IGNORABLE: t.Set[str] = set()


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
    _NOT_IGNORABLE.clear()


def task_hook_installed() -> bool:
    return bool(_ORIGINALS)


def refused_here(task: t.Any) -> bool:
    """Whether the hook refused this task before its action ran (in this worker)."""
    return task._uuid in _NOT_IGNORABLE


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
                _NOT_IGNORABLE.add(self._task._uuid)
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
        if self._task._uuid in _NOT_IGNORABLE and utr.failed:
            # A loop's ignore_errors is true when any item's is: clear them all.
            utr.ignore_errors = False
            for item in utr.loop_results or ():
                item.ignore_errors = False
        return utr

    return run


# ---------------------------------------------------------------------------------------------- other helpers

# What a plain ``register: name`` stands for in ansible-core 2.21's register projections.
POLYMORPHIC_RESULT = "_task.polymorphic_result"


def register_names(register: t.Any) -> t.List[str]:
    """The variables that hold the task's own result: ``register`` is a name (2.19, 2.20) or a dict of
    projections (2.21), of which only the plain result ones can be bound before TaskExecutor records it."""
    if not register:
        return []
    if isinstance(register, str):
        return [register]
    return [name for name, expression in register.items() if str(expression) == POLYMORPHIC_RESULT]


def json_object_lines(text: str) -> str:
    """The JSON object in a module's output, without the lines around it, as core parses a module's output
    (``module_utils.json_utils._filter_non_json_lines``)."""
    from ansible.module_utils.json_utils import _filter_non_json_lines

    return _filter_non_json_lines(text, objects_only=True)[0]


def apply_module_defaults(module_fqcn: str, task: t.Any, args: t.Mapping[str, t.Any], templar: t.Any) -> t.Dict[str, t.Any]:
    """``args`` completed from the task's module_defaults for ``module_fqcn`` (and its action groups)."""
    from ansible.executor import module_common

    apply_defaults = getattr(module_common, "_apply_action_arg_defaults", None)
    if apply_defaults is None:
        raise AnsibleError(
            "changeaudit.linux.audited cannot apply module_defaults with ansible-core %s: it is tested with %s"
            % (CORE_VERSION_TEXT, tested_text())
        )
    return apply_defaults(module_fqcn, task, dict(args), templar)


def extra_vars() -> t.Dict[str, t.Any]:
    """The run's extra vars (-e), as the CLI parsed them (``ansible.utils.vars.load_extra_vars`` on
    ``context.CLIARGS``, which the workers inherit); empty when not run from a CLI. Settings of the collection that
    only the operator may give are read here, never from a host's variables."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.utils.vars import load_extra_vars

    try:
        return dict(load_extra_vars(DataLoader()))
    except KeyError:
        return {}


def callback_option(callback_name: str, option: str, variables: t.Optional[t.Mapping[str, t.Any]] = None) -> t.Any:
    """A callback plugin's option as core resolves it for that callback (its vars entries, environment, ini, default),
    whether or not the callback is enabled in this run: loading the class registers its option definitions."""
    from ansible import constants as C
    from ansible.plugins.loader import callback_loader

    plugin = callback_loader.get(callback_name, class_only=True)
    if plugin is None:
        raise AnsibleError("the callback plugin %s cannot be found" % callback_name)
    # The definitions are kept under the name the loader loaded the class by (its _load_name).
    return C.config.get_config_value(option, plugin_type="callback", plugin_name=getattr(plugin, "_load_name", callback_name),
                                     variables=dict(variables or {}))


def callback_var_options(callback: t.Any) -> t.Optional[t.Dict[str, t.Any]]:
    """The callback's documented option variables given as extra vars (-e), for a core that does not resolve them
    itself (2.19, 2.20); None where core does (2.21: TaskQueueManager._resolve_callback_option_variables)."""
    from ansible.executor import task_queue_manager

    if hasattr(task_queue_manager, "_resolve_callback_option_variables"):
        return None
    from ansible import constants as C
    from ansible.parsing.dataloader import DataLoader
    from ansible.utils.vars import load_extra_vars

    names = C.config.get_plugin_vars(callback.plugin_type, callback._load_name)
    if not names:
        return {}
    try:
        extra = load_extra_vars(DataLoader())
    except KeyError:
        # Not run from a CLI (no CLIARGS): there are no extra vars.
        return {}
    return {name: extra[name] for name in names if name in extra}


__all__ = [
    "TaskRefusedError",
    "Execution",
    "Attempt",
    "DictResult",
    "ObjectResult",
    "install_task_hook",
    "uninstall_task_hook",
    "task_hook_installed",
    "refused_here",
    "ANSIBALLZ_MAIN",
    "with_prelude",
    "core_action",
    "apply_module_defaults",
    "POLYMORPHIC_RESULT",
    "register_names",
    "json_object_lines",
    "callback_var_options",
    "callback_option",
    "extra_vars",
    "CORE",
    "CORE_VERSION_TEXT",
    "CONTROLLER_ONLY",
    "CONTROLLER_ONLY_ACTIONS",
    "RUNTIME_YML",
    "read_tested_core",
    "TESTED_CORE",
    "ChangesRefusedError",
    "parse_version",
    "tested_series",
    "tested_text",
    "is_tested",
    "returns_result_object",
    "untested_message",
    "may_change_hosts",
    "core_controller_action",
    "CORE_PACKAGE_DIR",
    "refuse_changes",
    "refuse_if_refusing",
    "refusal",
    "allow_changes",
    "remove_refusal_wrapper",
]


# ---- host facts
#
# Facts a host returns are that host's variables, ranked above its inventory: VariableManager.get_vars merges the fact
# cache after the host and group vars. So a managed host could set a variable only the controller's operator may
# set. What follows reads ansible-core's own record of where a value came from (the fact cache, the set_fact cache)
# and recomputes a host's variables without the facts a name came from; used by the settings that decide what is
# recorded, how, under which key or run.

_FACTS_WARNED: t.Set[t.Tuple[str, str]] = set()
_WITHOUT_FACTS: t.Dict[t.Tuple[str, str, t.Tuple[str, ...]], t.Dict[str, t.Any]] = {}


def _worker_process() -> t.Any:
    """The WorkerProcess this code runs in (``multiprocessing.current_process()`` in a worker is the
    ``ansible.executor.process.worker.WorkerProcess`` that forked it: ``_task``, ``_variable_manager``, the same
    attributes on 2.19, 2.20 and 2.21), or None outside one."""
    import multiprocessing

    try:
        from ansible.executor.process.worker import WorkerProcess
    except ImportError:
        return None
    process = multiprocessing.current_process()
    return process if isinstance(process, WorkerProcess) else None


def variable_manager(task_vars: t.Mapping[str, t.Any]) -> t.Any:
    """The VariableManager that made ``task_vars``: the magic variable ``hostvars`` is a ``HostVars`` that keeps it as
    ``_variable_manager`` (2.19-2.21), else the worker's (``WorkerProcess._variable_manager``); None when neither
    is there (variables made by hand) or on a core CI has not tested these internals with (then a protected name
    that ``ansible_facts`` holds is unset rather than trusted)."""
    if not is_tested(CORE):
        return None
    manager = getattr(task_vars.get("hostvars"), "_variable_manager", None)
    if manager is None:
        manager = getattr(_worker_process(), "_variable_manager", None)
    if manager is None or not hasattr(manager, "_fact_cache") or not hasattr(manager, "get_vars"):
        return None
    return manager


def current_task() -> t.Any:
    """The task this worker runs (``WorkerProcess._task``): its play, role and task vars, which a host's variables
    are recomputed with; None outside a worker."""
    return getattr(_worker_process(), "_task", None)


def run_extra_vars(task_vars: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The run's extra vars (-e) alone: ``VariableManager.extra_vars`` of the manager that made ``task_vars``, else
    the CLI's (``extra_vars()``). What AWX/AAP passes about the job (awx_job_id, awx_user_name) arrives only there."""
    manager = variable_manager(task_vars)
    extra = getattr(manager, "extra_vars", None) if manager is not None else None
    if isinstance(extra, t.Mapping):
        return dict(extra)
    return extra_vars()


def _inventory_host(manager: t.Any, name: str) -> t.Any:
    """The Host ``name`` stands for, as ``VariableManager.get_delegated_vars_and_hostname`` finds a delegate_to
    host (by name, else by address); None for a name the inventory does not know (it has no facts)."""
    inventory = getattr(manager, "_inventory", None)
    if inventory is None:
        return None
    host = inventory.get_host(name)
    if host is not None:
        return host
    for candidate in inventory.get_hosts(ignore_limits=True, ignore_restrictions=True):
        if candidate.address == name:
            return candidate
    return None


def _cached_facts(manager: t.Any, host_name: str) -> t.Mapping[str, t.Any]:
    try:
        facts = manager._fact_cache.get(host_name)
    except KeyError:
        return {}
    return facts if isinstance(facts, t.Mapping) else {}


def host_fact_names(task_vars: t.Mapping[str, t.Any], host_name: str, protected: t.Callable[[str], bool]) -> t.List[str]:
    """The ``protected`` names that ``host_name``'s own facts set (``VariableManager._fact_cache``) and no set_fact
    or register of the play sets over them (``VariableManager._nonpersistent_fact_cache``, which ranks higher: the
    play author's). Without a VariableManager, the names the ``ansible_facts`` of ``task_vars`` hold (namespaced:
    ``ansible_`` taken off), which cannot tell a fact from a set_fact cacheable."""
    manager = variable_manager(task_vars)
    if manager is None:
        facts = task_vars.get("ansible_facts")
        if not isinstance(facts, t.Mapping):
            return []
        return sorted(name for name in task_vars if protected(name) and (
            name in facts or (name.startswith("ansible_") and name[len("ansible_"):] in facts)))
    host = _inventory_host(manager, host_name)
    if host is None:
        return []
    facts = _cached_facts(manager, host.name)
    play_set = getattr(manager, "_nonpersistent_fact_cache", {}).get(host.name) or {}
    return sorted(name for name in facts if isinstance(name, str) and protected(name) and name not in play_set)


class _FactsWithout:
    """The fact cache with ``names`` taken out of one host's facts; read only, every other call goes to the cache."""

    def __init__(self, cache: t.Any, host_name: str, names: t.Collection[str]) -> None:
        self._cache = cache
        self._host_name = host_name
        self._names = frozenset(names)

    def get(self, key: str) -> t.Any:
        facts = self._cache.get(key)
        if key != self._host_name or not isinstance(facts, t.Mapping):
            return facts
        return {name: value for name, value in facts.items() if name not in self._names}

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self._cache, name)


def values_without_facts(
    task_vars: t.Mapping[str, t.Any], host_name: str, names: t.Collection[str], task: t.Any = None
) -> t.Dict[str, t.Any]:
    """The values ``names`` have for ``host_name`` when its facts of those names do not exist: ``VariableManager.
    get_vars(play, host, task)`` (what core computes a task's and a delegated host's variables with) on a copy of the
    manager whose fact cache leaves them out. A name no other source sets is absent. Cached per worker, task and
    host: a worker runs one task."""
    manager = variable_manager(task_vars)
    task = task if task is not None else current_task()
    host = _inventory_host(manager, host_name) if manager is not None else None
    if host is None:
        return {}
    key = (str(getattr(task, "_uuid", "")), host.name, tuple(sorted(names)))
    known = _WITHOUT_FACTS.get(key)
    if known is not None:
        return known
    proxy = object.__new__(type(manager))
    proxy.__dict__.update(manager.__dict__)
    proxy._fact_cache = _FactsWithout(manager._fact_cache, host.name, names)
    play = task.get_play() if task is not None else None
    computed = proxy.get_vars(play=play, host=host, task=task, include_hostvars=True)
    _WITHOUT_FACTS[key] = known = {name: computed[name] for name in names if name in computed}
    return known


def without_host_facts(
    task_vars: t.Mapping[str, t.Any], protected: t.Callable[[str], bool], host_name: t.Optional[str] = None,
    task: t.Any = None, warn: t.Optional[t.Callable[[str], None]] = None,
) -> t.Mapping[str, t.Any]:
    """``task_vars`` (of ``host_name``, by default their inventory_hostname) as if the host had returned no fact of a
    ``protected`` name: each such name takes the value the other sources give it, or is unset. ``warn`` is called
    once per worker, host and name with a message naming the fact (core's display shows a message once per run)."""
    host_name = str(host_name or task_vars.get("inventory_hostname") or "")
    found = host_fact_names(task_vars, host_name, protected)
    if not found:
        return task_vars
    for name in found:
        if warn is not None and (host_name, name) not in _FACTS_WARNED:
            _FACTS_WARNED.add((host_name, name))
            warn("changeaudit.linux: the host %s returned a fact named %s, a setting only the controller's inventory, "
                 "play, role or extra vars may give; the fact is ignored. Find what sets it on that host (a module "
                 "or a custom fact in /etc/ansible/facts.d) and remove it." % (host_name, name))
    trusted = values_without_facts(task_vars, host_name, found, task)
    variables = dict(task_vars)
    for name in found:
        if name in trusted:
            variables[name] = trusted[name]
        else:
            variables.pop(name, None)
    return variables


__all__ += [
    "variable_manager",
    "current_task",
    "run_extra_vars",
    "host_fact_names",
    "values_without_facts",
    "without_host_facts",
]
