# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""A task's final result as the task hook sees it, whatever ansible-core returns: ``DictResult`` (2.19, 2.20:
``TaskExecutor._execute`` returns a dict) or ``ObjectResult`` (2.21: a ``UnifiedTaskResult``, private); and what a
``register:`` binds (a name on 2.19 and 2.20, a dict of projections on 2.21).
"""

from __future__ import annotations

import typing as t

from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._execution import Execution
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._tasks import task_uuid

# Per worker process: tasks whose failure the hook made not ignorable.
_NOT_IGNORABLE: t.Set[str] = set()


def make_not_ignorable(task: t.Any) -> None:
    """Notes, for the rest of this worker, that the task's failure may not be ignored (the hook's wrapper of
    TaskExecutor.run reads it on 2.21, ``refused_here`` on any)."""
    _NOT_IGNORABLE.add(task_uuid(task))


def refused_here(task: t.Any) -> bool:
    """Whether the hook refused this task before its action ran (in this worker)."""
    return task_uuid(task) in _NOT_IGNORABLE


def forget_not_ignorable() -> None:
    _NOT_IGNORABLE.clear()


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
        make_not_ignorable(self.execution.task)


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


__all__ = [
    "DictResult",
    "ObjectResult",
    "POLYMORPHIC_RESULT",
    "forget_not_ignorable",
    "make_not_ignorable",
    "refused_here",
    "register_names",
]
