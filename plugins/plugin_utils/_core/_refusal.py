# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The refusal (``refuse_changes``) that holds every change back while the record_changes callback is not ready.

It wraps ``ansible.executor.task_executor.TaskExecutor._execute``, a private method, because ansible-core catches
whatever a callback raises while it loads ("Failed to load callback plugin") and runs the play anyway: a
misconfigured recorder would otherwise let every change through unrecorded. The wrapper takes any arguments and
raises before the original runs, so it depends on nothing but the method's name and ``TaskExecutor._task``; that is
why it may be put in place even on an ansible-core the task hook itself refuses (it uses nothing from
``_versions``). ``TaskExecutor.run`` turns the ``AnsibleError`` into a failed task on every version from 2.19 on.
"""

from __future__ import annotations

import functools
import typing as t

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._plugins import core_controller_action

_REFUSAL: t.Dict[str, t.Any] = {}
_REFUSING_ATTR = "_changeaudit_refusing_wrapper"


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


__all__ = [
    "ChangesRefusedError",
    "allow_changes",
    "may_change_hosts",
    "refusal",
    "refuse_changes",
    "refuse_if_refusing",
    "remove_refusal_wrapper",
]
