# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Task context for audit records, gathered on the controller (never imports the binding)."""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
import typing as t

from ansible.errors import AnsibleActionFail

CONTEXT_FIELD_NAMES = ("play", "task", "task_path", "task_uuid", "ctl_user", "become_user", "awx_job_id", "run_id")


def _process_start_ticks(pid: int) -> str:
    try:
        with open("/proc/%d/stat" % pid) as handle:
            # Field 22 (starttime); the command name in field 2 may hold spaces, so split after ')'.
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "0"


def run_id(task_vars: t.Mapping[str, t.Any]) -> str:
    """One ID for every task of one ansible-playbook run, so a pipeline can find all of its records.

    Action plugins run in worker processes forked from the ansible-playbook
    process, so its PID and start time are the same in every worker of a run
    and different in the next run.
    """
    explicit = os.environ.get("CHANGEAUDIT_RUN_ID")
    if explicit:
        return explicit
    awx_job = task_vars.get("awx_job_id") or task_vars.get("tower_job_id")
    if awx_job:
        return "awx-%s" % awx_job
    parent = os.getppid()
    seed = "%s:%d:%s" % (socket.gethostname(), parent, _process_start_ticks(parent))
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


def task_context(task: t.Any, play_context: t.Any, task_vars: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """Uses task.get_name/get_path/_uuid/become/become_user and the play name from task_vars."""
    context = {
        "play": task_vars.get("ansible_play_name") or "",
        "task": task.get_name(),
        "task_path": task.get_path() or "",
        "task_uuid": task._uuid,
        "ctl_user": getpass.getuser(),
    }
    if play_context.become:
        context["become_user"] = play_context.become_user or "root"
    awx_job = task_vars.get("awx_job_id") or task_vars.get("tower_job_id")
    if awx_job:
        context["awx_job_id"] = str(awx_job)
    context["run_id"] = run_id(task_vars)
    return context


def merge_fields(first: t.Mapping[str, t.Any], then: t.Mapping[str, t.Any], then_source: str) -> t.Dict[str, t.Any]:
    """``first`` in its order, then ``then``; a name in both is refused rather than silently replaced."""
    clashes = sorted(set(first) & set(then))
    if clashes:
        raise AnsibleActionFail("these fields are set %s, rename them: %s" % (then_source, ", ".join(clashes)))
    merged = dict(first)
    merged.update(then)
    return merged


CONTEXT_SOURCE = "from the task context (or set context: false)"


__all__ = ["CONTEXT_FIELD_NAMES", "CONTEXT_SOURCE", "run_id", "task_context", "merge_fields"]
