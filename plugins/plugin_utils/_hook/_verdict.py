# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Whether a task changed its host, from its final result and the attempts core made: the verdict a record is
written for, widened where core's own verdict hides a change, and unknown where nothing says."""

from __future__ import annotations

import typing as t

from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _execution


def change_verdict(execution: _execution.Execution, view: t.Any) -> t.Tuple[bool, t.Optional[str]]:
    """(changed, why the outcome is unknown or None) of the task's final result.

    Core's final verdict, widened where it hides a change: without changed_when (the author's own verdict), an
    attempt of ``until`` before the last that reported a change, and a failed action whose earlier modules
    reported one (copy of a directory returns only the failing file's result), count as changed. A task that
    ended unreachable, or failed without its action saying whether it changed the host (a module that died without
    JSON, a timeout, a failure that names no verdict), may have changed it: its outcome is unknown."""
    task = execution.task
    if view.changed:
        return True, None
    attempts = execution.attempts
    if not any(attempt.started for attempt in attempts):
        # The action never ran (refused, or the host unreachable before it): nothing it could have changed.
        return False, None
    if bool(task.changed_when):
        return False, None
    if any(attempt.changed for attempt in attempts[:-1]):
        return True, None
    if (view.failed or view.unreachable) and any(attempt.module_changed for attempt in attempts):
        return True, None
    if view.unreachable:
        return False, "the host became unreachable during the task: %s" % (view.get("msg") or "no detail")
    last = attempts[-1] if attempts else None
    if not view.failed or last is None or last.verdict:
        return False, None
    if view.get("timedout"):
        return False, "the task timed out before its action said whether it changed the host"
    if not last.ended:
        return False, "the task's action ended without a result (%s)" % (view.get("msg") or "no detail")
    if view.get("module_stdout") is not None or view.get("module_stderr") is not None:
        return False, "the module ended without a result that says whether it changed the host (MODULE FAILURE)"
    return False, "the task failed without saying whether it changed the host"


__all__ = ["change_verdict"]
