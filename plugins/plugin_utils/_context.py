# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Task context for audit records, gathered on the controller (never imports the binding)."""

from __future__ import annotations

import getpass
import hashlib
import os
import pwd
import socket
import threading
import typing as t

from ansible.errors import AnsibleActionFail
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.encoding import validate_hostname
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.errors import AuditInvalidInputError

# The kernel's "unset" login uid ((uid_t)-1).
UNSET_LOGINUID = 4294967295
# How long the controller's own address may take to resolve: libaudit's _resolve_addr() waits for DNS
# without bound, and a change must not wait on a slow resolver.
ADDR_RESOLVE_TIMEOUT = 0.5

# Under AWX/AAP the job's extra vars say who launched what; each is recorded when set.
AWX_VARS = ("awx_user_name", "awx_job_template_name", "awx_workflow_job_id", "awx_project_revision")
# A CI pipeline names its actor and commit in these (documented in README); the first one set wins.
CI_ACTOR_ENV = ("CHANGEAUDIT_ACTOR", "GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILD_USER_ID")
CI_COMMIT_ENV = ("CHANGEAUDIT_COMMIT", "GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT")


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


def controller_login(loginuid_path: str = "/proc/self/loginuid") -> t.Dict[str, t.Any]:
    """The controller process's login uid and its user name, as the kernel keeps them.

    getpass.getuser() reads LOGNAME/USER first, which anyone can set; the login uid is set once by
    PAM at login and a process cannot change it without CAP_AUDIT_CONTROL, so it is the one to trust.
    """
    try:
        with open(loginuid_path) as handle:
            loginuid = int(handle.read().strip())
    except (OSError, ValueError):
        return {}
    if loginuid == UNSET_LOGINUID:
        return {}
    try:
        name = pwd.getpwuid(loginuid).pw_name
    except KeyError:
        name = str(loginuid)
    return {"ctl_login_id": loginuid, "ctl_login": name}


def _first_env(names: t.Iterable[str]) -> t.Optional[str]:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _resolve_bounded(hostname: str, timeout: float) -> t.Optional[str]:
    """libaudit's _resolve_addr() (first getaddrinfo answer, AI_ADDRCONFIG, SOCK_STREAM), given up after timeout."""
    answer: t.List[str] = []

    def resolve() -> None:
        try:
            found = socket.getaddrinfo(hostname, None, 0, socket.SOCK_STREAM, 0, socket.AI_ADDRCONFIG)
        except (OSError, UnicodeError):
            return
        if found:
            # inet_ntop() has no "%scope" suffix; Python adds one for link-local IPv6.
            answer.append(str(found[0][4][0]).split("%", 1)[0])

    worker = threading.Thread(target=resolve, name="changeaudit-resolve", daemon=True)
    worker.start()
    worker.join(timeout)
    return answer[0] if answer else None


_ORIGIN: t.Dict[str, t.Optional[str]] = {}


def controller_origin(timeout: float = ADDR_RESOLVE_TIMEOUT) -> t.Dict[str, t.Optional[str]]:
    """hostname= and addr= for the record: where the change came from, i.e. this controller.

    sshd and sudo write the client there, and ausearch -hn searches both. The address is resolved
    here, bounded, so the target never resolves the controller's name itself.
    """
    if not _ORIGIN:
        hostname: t.Optional[str] = socket.gethostname()
        try:
            hostname = validate_hostname(hostname)
        except AuditInvalidInputError:
            # libaudit writes hostname= unencoded: a name that could end the field is left out, not sent.
            hostname = None
        _ORIGIN.update(hostname=hostname, addr=_resolve_bounded(hostname, timeout) if hostname else None)
    return dict(_ORIGIN)


def task_context(task: t.Any, play_context: t.Any, task_vars: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """Uses task.get_name/get_path/_uuid/become/become_user and the play name from task_vars."""
    context = {
        "play": task_vars.get("ansible_play_name") or "",
        # cmd, not task: auparse decodes cmd= under ausearch -i (it is in its field table), and a task name
        # with a space is written as hex.
        "cmd": task.get_name(),
        "task_path": task.get_path() or "",
        "task_id": task._uuid,
        "ctl_user": getpass.getuser(),
    }
    context.update(controller_login())
    if play_context.become:
        context["become_user"] = play_context.become_user or "root"
    awx_job = task_vars.get("awx_job_id") or task_vars.get("tower_job_id")
    if awx_job:
        context["awx_job_id"] = str(awx_job)
    for name in AWX_VARS:
        value = task_vars.get(name)
        if value not in (None, ""):
            context[name] = str(value)
    ci_actor = _first_env(CI_ACTOR_ENV)
    if ci_actor:
        context["ci_actor"] = ci_actor
    ci_commit = _first_env(CI_COMMIT_ENV)
    if ci_commit:
        context["ci_commit"] = ci_commit
    context["run_id"] = run_id(task_vars)
    return context


# Names the task context had in earlier versions (the task's name, its UUID, the login uid): beside the context a
# play's own field of that name would read, to a report written for those records, as the context itself.
RETIRED_CONTEXT_FIELDS = frozenset(("task", "task_uuid", "ctl_auid"))


def merge_fields(
    first: t.Mapping[str, t.Any], then: t.Mapping[str, t.Any], then_source: str, reserved: t.AbstractSet[str] = frozenset()
) -> t.Dict[str, t.Any]:
    """``first`` in its order, then ``then``; a name in both, or a ``reserved`` one in ``first``, is refused rather
    than silently replaced."""
    clashes = sorted((set(then) | reserved) & set(first))
    if clashes:
        raise AnsibleActionFail("these fields are set %s, rename them: %s" % (then_source, ", ".join(clashes)))
    merged = dict(first)
    merged.update(then)
    return merged


CONTEXT_SOURCE = "from the task context (or set context: false)"


def with_context(fields: t.Mapping[str, t.Any], context: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """``fields``, then the task context; a field the context sets now or did in earlier versions is refused."""
    return merge_fields(fields, context, CONTEXT_SOURCE, RETIRED_CONTEXT_FIELDS)


__all__ = [
    "AWX_VARS",
    "CI_ACTOR_ENV",
    "CI_COMMIT_ENV",
    "CONTEXT_SOURCE",
    "RETIRED_CONTEXT_FIELDS",
    "controller_login",
    "controller_origin",
    "run_id",
    "task_context",
    "merge_fields",
    "with_context",
]
