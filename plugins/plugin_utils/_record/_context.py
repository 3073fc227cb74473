# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Task context for audit records, gathered on the controller (never imports the binding)."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import pwd
import socket
import threading
import typing as t

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record import constants as _constants
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record import fields as _fields
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import validate_hostname
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditInvalidInputError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _facts

# The kernel's "unset" login uid ((uid_t)-1).
UNSET_LOGINUID = 4294967295
# How long the controller's own address may take to resolve: libaudit's _resolve_addr() waits for DNS
# without bound, and a change must not wait on a slow resolver.
ADDR_RESOLVE_TIMEOUT = 0.5

# Every field task_context may write, in its order: the names a play's own fields may not take.
CONTEXT_FIELDS = _fields.names(_fields.CONTEXT)
# Under AWX/AAP the job's extra vars say who launched what; each is recorded when set, read from the extra vars only:
# the job's ID from either of AWX_JOB_VARS, every other awx_* field from the extra var of its name.
AWX_JOB_VARS = ("awx_job_id", "tower_job_id")
AWX_VARS = tuple(name for name in CONTEXT_FIELDS if name.startswith("awx_") and name not in AWX_JOB_VARS)
# A CI pipeline names its actor and commit in these (documented in README); the first one set wins.
CI_ACTOR_ENV = ("CHANGEAUDIT_ACTOR", "GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILD_USER_ID")
CI_COMMIT_ENV = ("CHANGEAUDIT_COMMIT", "GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT")

# The most UTF-8 bytes a context value takes in a record (before encoding, which may double it as hex), the bound of
# its row in fields.FIELDS: no user typed these values into the record, so a long one is cut, never refused (see
# bounded_text).
CONTEXT_TEXT_MAX = _fields.bounds(_fields.CONTEXT)
CONTEXT_TEXT_DEFAULT_MAX = _fields.DEFAULT_MAX
# What follows the kept part of a cut value: the sha256 of the whole value, so a search by exact value still works.
CUT_MARK = _constants.CUT_MARK
CUT_MARK_BYTES = len(CUT_MARK % ("0" * 64))


def _text_bytes(value: str) -> bytes:
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def bounded_text(value: t.Any, max_bytes: int) -> t.Any:
    """``value`` when its UTF-8 form fits ``max_bytes``; else its start, cut at a character boundary, then
    ``[cut:sha256:<hex of the whole value>]``, ``max_bytes`` in all. Values that are not text are returned as given."""
    if not isinstance(value, str):
        return value
    raw = _text_bytes(value)
    if len(raw) <= max_bytes:
        return value
    keep = max(0, max_bytes - CUT_MARK_BYTES)
    # Back to the first byte of a character: never half a UTF-8 sequence.
    while keep > 0 and (raw[keep] & 0xC0) == 0x80:
        keep -= 1
    head = raw[:keep].decode("utf-8", "surrogateescape")
    return head + CUT_MARK % hashlib.sha256(raw).hexdigest()


# ausearch -i and auparse's interpretation decode a hex value into a C string, so a NUL in a task or play name would
# hide all that follows it there: it is written as the four characters \x00 instead (before the cut, whose sha256 is
# then that of the value as written). No other byte stops them short (tested live against both).
NUL_SHOWN = "\\x00"


def nul_shown(value: t.Any) -> t.Any:
    return value.replace("\x00", NUL_SHOWN) if isinstance(value, str) else value


def bounded_context(context: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    return {name: bounded_text(nul_shown(value), CONTEXT_TEXT_MAX.get(name, CONTEXT_TEXT_DEFAULT_MAX))
            for name, value in context.items()}


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
    and different in the next run. An AWX/AAP job ID counts only from the
    run's extra vars (awx_extra_vars), never from a host's variables or facts.
    """
    explicit = os.environ.get("CHANGEAUDIT_RUN_ID")
    if explicit:
        return explicit
    awx_job = awx_job_id(task_vars)
    if awx_job:
        return "awx-%s" % awx_job
    # Fixed in the ansible-playbook process before any worker forks (fix_run_id): a worker whose parent died would
    # otherwise derive another ID from its new parent. It is that process's: an ansible-playbook a task started
    # (a live parent of another PID) inherits the variable and derives its own.
    process, _sep, fixed = os.environ.get(FIXED_RUN_ID_ENV, "").partition(" ")
    parent = os.getppid()
    # The process that fixed it (the callback, in ansible-playbook itself) and its workers share it.
    if fixed and process.isdigit() and (int(process) in (parent, os.getpid()) or not os.path.exists("/proc/%s" % process)):
        return fixed
    return derived_run_id(parent)


def awx_extra_vars(task_vars: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """What AWX/AAP says of the job (awx_job_id, tower_job_id and AWX_VARS), from the run's extra vars alone: AWX
    passes them so, and from a host's variables or facts a managed host could move its changes out of the run or
    forge who launched it."""
    extra = _facts.run_extra_vars(task_vars)
    return {name: extra[name] for name in AWX_JOB_VARS + AWX_VARS if name in extra}


def awx_job_id(task_vars: t.Mapping[str, t.Any]) -> t.Any:
    awx = awx_extra_vars(task_vars)
    return awx.get("awx_job_id") or awx.get("tower_job_id")


def derived_run_id(process: int) -> str:
    """The run ID of the ansible-playbook process ``process``: its PID and start time on this host."""
    seed = "%s:%d:%s" % (socket.gethostname(), process, _process_start_ticks(process))
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


# Where the ansible-playbook process leaves the run ID it derived for its workers (they inherit its environment).
FIXED_RUN_ID_ENV = "_CHANGEAUDIT_FIXED_RUN_ID"


def fix_run_id() -> None:
    """Called in the ansible-playbook process (by the record_changes callback, as it loads): the ID every worker of
    this run records unless CHANGEAUDIT_RUN_ID or an AWX job ID says otherwise."""
    os.environ[FIXED_RUN_ID_ENV] = "%d %s" % (os.getpid(), derived_run_id(os.getpid()))


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


def loop_label(task: t.Any, task_vars: t.Mapping[str, t.Any], templar: t.Any = None) -> t.Optional[str]:
    """The loop item a task runs for, as ansible-core shows it: ``loop_control.label`` rendered for the item, else
    the item (text as it is, anything else as JSON). None outside a loop, and under no_log (the item may be the
    secret)."""
    loop_var = task_vars.get("ansible_loop_var")
    if not loop_var or loop_var not in task_vars or task.no_log:
        return None
    loop_control = getattr(task, "loop_control", None)
    label = getattr(loop_control, "label", None) if loop_control is not None else None
    value = task_vars[loop_var]
    if label and templar is not None:
        try:
            value = templar.copy_with_new_env(available_variables=task_vars).template(label)
        except AnsibleError:
            # The same label core shows in its output, or, when it cannot be rendered, the item as it is.
            pass
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":"))


def task_context(
    task: t.Any, acting: t.Any, task_vars: t.Mapping[str, t.Any], templar: t.Any = None, seq: t.Optional[int] = None
) -> t.Dict[str, t.Any]:
    """Uses task.get_name/get_path/_uuid/no_log/loop_control and the play name from task_vars. ``acting``: who the
    task acted as (``_privilege.Acting``), taken before its action ran. ``seq``: the host's sequence number of the
    change in the run's ledger (record_changes), next to the task id."""
    context = {
        "play": task_vars.get("ansible_play_name") or "",
        # cmd, not task: auparse decodes cmd= under ausearch -i (it is in its field table), and a task name
        # with a space is written as hex.
        "cmd": task.get_name(),
    }
    label = loop_label(task, task_vars, templar)
    if label is not None:
        # A loop's task name is rendered once, before any item: the label tells the items' records apart.
        context["loop_label"] = label
    context.update({
        "task_path": task.get_path() or "",
        "task_id": task._uuid,
    })
    if seq is not None:
        context["seq"] = str(seq)
    context["ctl_user"] = getpass.getuser()
    context.update(controller_login())
    # The record is written as root whoever the task ran as: these say who it acted as.
    context.update(acting.fields())
    awx = awx_extra_vars(task_vars)
    awx_job = awx.get("awx_job_id") or awx.get("tower_job_id")
    if awx_job:
        context["awx_job_id"] = str(awx_job)
    for name in AWX_VARS:
        value = awx.get(name)
        if value not in (None, ""):
            context[name] = str(value)
    ci_actor = _first_env(CI_ACTOR_ENV)
    if ci_actor:
        context["ci_actor"] = ci_actor
    ci_commit = _first_env(CI_COMMIT_ENV)
    if ci_commit:
        context["ci_commit"] = ci_commit
    context["run_id"] = run_id(task_vars)
    return bounded_context(context)


# Names the task context had in earlier versions (the task's name, its UUID, the login uid): beside the context a
# play's own field of that name would read, to a report written for those records, as the context itself.
RETIRED_CONTEXT_FIELDS = _fields.retired(_fields.CONTEXT)


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
    "CONTEXT_FIELDS",
    "CONTEXT_TEXT_MAX",
    "CONTEXT_TEXT_DEFAULT_MAX",
    "CUT_MARK",
    "bounded_text",
    "bounded_context",
    "NUL_SHOWN",
    "nul_shown",
    "RETIRED_CONTEXT_FIELDS",
    "controller_login",
    "loop_label",
    "controller_origin",
    "run_id",
    "AWX_JOB_VARS",
    "awx_extra_vars",
    "awx_job_id",
    "derived_run_id",
    "FIXED_RUN_ID_ENV",
    "fix_run_id",
    "task_context",
    "merge_fields",
    "with_context",
]
