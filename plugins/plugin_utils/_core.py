# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""What this collection knows about the ansible-core it runs in: the version, parsed once, and the refusal that
holds every change back while the record_changes callback is not ready to record it.

The version is parsed here once and compared by range; ``TESTED_CORE`` is the range of ``requires_ansible`` in
``meta/runtime.yml`` (a unit test keeps the two equal).

The refusal wraps ``ansible.executor.task_executor.TaskExecutor._execute``, a private method, because ansible-core
catches whatever a callback raises while it loads ("Failed to load callback plugin") and runs the play anyway:
a misconfigured recorder would otherwise let every change through unrecorded. The wrapper takes any arguments and
raises before the original runs, so it depends on nothing but the method's name and ``TaskExecutor._task``; that
is why it may be put in place even on an ansible-core the hook itself refuses. ``TaskExecutor.run`` turns the
``AnsibleError`` into a failed task on every version from 2.19 on.
"""

from __future__ import annotations

import functools
import typing as t

from ansible.errors import AnsibleError
from ansible.release import __version__ as CORE_VERSION_TEXT

# requires_ansible: '>=2.19.0,<2.22' (meta/runtime.yml): the releases CI runs every suite with.
TESTED_CORE = ((2, 19), (2, 22))
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


def may_change_hosts(task: t.Any) -> bool:
    """Whether a task may change a managed host: not in check mode and not one of core's controller-only actions."""
    if task.check_mode:
        return False
    return not ({str(task.action or ""), str(getattr(task, "_resolved_action", None) or "")} & CONTROLLER_ONLY)


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


__all__ = [
    "CORE",
    "CORE_VERSION_TEXT",
    "CONTROLLER_ONLY",
    "CONTROLLER_ONLY_ACTIONS",
    "TESTED_CORE",
    "ChangesRefusedError",
    "parse_version",
    "tested_series",
    "tested_text",
    "is_tested",
    "returns_result_object",
    "untested_message",
    "may_change_hosts",
    "refuse_changes",
    "refuse_if_refusing",
    "refusal",
    "allow_changes",
    "remove_refusal_wrapper",
]
