# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""What the collection reads or sets on ansible-core's Task and Play objects beyond their documented fields: their
UUIDs (``_uuid``, which core keeps for its own bookkeeping and callbacks show), the parent chain (``_parent``,
``_play``) and the resolved action (``_resolved_action``). Kept here so that a release that renames them is met in
one place."""

from __future__ import annotations

import typing as t


def task_uuid(task: t.Any) -> str:
    """The task's UUID (``Task._uuid``): the same in the controller and every worker, for each host and loop item;
    "" for an object that has none (a task made by hand)."""
    return str(getattr(task, "_uuid", ""))


def play_uuid(task: t.Any) -> str:
    """The UUID of the play the task belongs to (``Play._uuid``), found up its parent chain (``_parent``: block,
    role include, ...; ``Block._play``); "" for a task without a play."""
    node = task
    while node is not None:
        play = getattr(node, "_play", None)
        if play is not None:
            return str(play._uuid)
        node = getattr(node, "_parent", None)
    return ""


def copy_sharing_parent(task: t.Any) -> t.Any:
    """A copy of the task that shares its parent block instead of copying the chain (``Task.copy(exclude_parent=True)``
    then ``_parent``): the copy still inherits become, environment, module_defaults and vars from the task's blocks,
    at none of the cost of copying them."""
    copy = task.copy(exclude_parent=True, exclude_tasks=True)
    copy._parent = task._parent
    return copy


def task_running(task: t.Any, module_fqcn: str, args: t.Mapping[str, t.Any]) -> t.Any:
    """A copy of the task that runs ``module_fqcn`` with ``args``, resolved to it: ``Task._resolved_action`` is what
    module_defaults and the action plugins read the module's name from (``Task.resolved_action``), which core sets only
    while it loads the task."""
    copy = task.copy(exclude_parent=False, exclude_tasks=True)
    copy.args = dict(args)
    copy.action = module_fqcn
    copy._resolved_action = module_fqcn
    return copy


__all__ = ["copy_sharing_parent", "play_uuid", "task_running", "task_uuid"]
