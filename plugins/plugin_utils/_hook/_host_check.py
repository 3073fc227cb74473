# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Whether a host can keep the records of its changes: once per play, host, record privileges and policy, by a
check mode write through the task's connection with the privileges the records will be written with, before the
first task that may change the host runs. What it needs comes as arguments: the write is the caller's."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.utils.display import Display
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _target
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _notes
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._policies import HOST_POLICIES
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._run import RECORDS
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._settings import PLUGIN, RecordKeepingError, Settings
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record import _change_site
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer._writer import PYTHON_NOT_FOUND

display = Display()

# Causes of a failed check write that no setting of this collection mends: the host has no Python where the writer
# looks, a kernel without audit, or a namespace or capability set (a container) where the kernel refuses records.
CANNOT_HOLD_CAUSES = {
    PYTHON_NOT_FOUND: "no Python where the writer looks (ansible_python_interpreter)",
    "AuditNotInKernelError": "a kernel without audit support",
    "AuditNamespaceError": "the kernel refuses audit records from its user namespace (a rootless container)",
    "AuditCapabilityError": "root without CAP_AUDIT_WRITE (a container)",
}

CheckKey = t.Tuple[str, ...]
Verdict = t.Tuple[str, str]


def cannot_hold_reason(connection: t.Any) -> t.Optional[str]:
    """Why a host cannot hold a Linux audit record, known from its connection alone; None when it may."""
    name = getattr(connection, "_load_name", None) or type(connection).__name__
    if _target.remote_is_local(connection):
        return "a network device or API (connection %s runs its modules on the controller)" % name
    family = getattr(_target.shell(connection), "SHELL_FAMILY", "sh")
    if family in ("powershell", "cmd"):
        return "not a Linux host (connection %s, shell family %s)" % (name, family)
    return None


def check_key(play_uuid: str, host: str, where: str, privilege_key: str, policy: str) -> CheckKey:
    return (play_uuid, host, "%s:%s" % (where, privilege_key), policy)


def known_verdict(key: CheckKey, settings: Settings) -> t.Optional[Verdict]:
    """A check done already, in this worker or by an earlier one of the run."""
    if key in settings.checked:
        return settings.checked[key]
    for line in _notes.read_lines(settings, _notes.CHECKED_FILE):
        if tuple(line[:4]) == key and len(line) >= 6:
            settings.checked[key] = (line[4], line[5])
            return settings.checked[key]
    return None


def check_host(
    key: CheckKey, where: str, connection: t.Any, settings: Settings, policy: str,
    write_check: t.Callable[[], t.Dict[str, t.Any]],
) -> Verdict:
    """Whether the host of ``key`` can keep records: (RECORDS, "") or, for a host that cannot hold a Linux audit
    record and a policy that allows it, the policy's verdict (SKIP or CONTROLLER, why). ``write_check`` writes a
    check mode record where the change lands; raises RecordKeepingError (mode fail) when the host cannot."""
    known = known_verdict(key, settings)
    if known is not None:
        return known
    target = key[1]
    reason = cannot_hold_reason(connection) if where == _change_site.CONNECTION else None
    detail = None
    message = None
    if where == _change_site.CONTROLLER:
        if settings.controller_problem:
            message = "%s: the task changes the controller, which cannot keep audit records: %s" % (
                PLUGIN, settings.controller_problem)
    elif reason is None:
        try:
            outcome = write_check()
        except AnsibleConnectionFailure:
            # Unreachable before anything ran: core reports the host unreachable, and nothing was changed.
            raise
        except AnsibleError as exc:
            # The connection's own errors (a become password the task's become lacks): the task would fail on them too.
            outcome = {"failed": True, "msg": str(exc)}
        if outcome.get("failed"):
            if outcome.get("cause") in CANNOT_HOLD_CAUSES:
                reason, detail = CANNOT_HOLD_CAUSES[outcome["cause"]], outcome.get("msg")
            else:
                message = (
                    "%s: %s cannot keep audit records, so this task was not run and no task may change this host: %s "
                    "(The check runs before the first task that may change a host in each play; mode=warn only warns.)"
                    % (PLUGIN, target, outcome.get("msg") or "the writer failed")
                )
    verdict: Verdict = (RECORDS, "")
    if reason is not None:
        decision = HOST_POLICIES[policy].decide(target, reason, detail, settings.controller_problem)
        if decision.verdict is not None:
            verdict = decision.verdict
        message = decision.error
        if decision.warning:
            display.warning(decision.warning)
    if message is not None:
        if settings.mode == "fail":
            raise RecordKeepingError(message)
        display.warning(message)
    settings.checked[key] = verdict
    _notes.note(settings, _notes.CHECKED_FILE, *(key + verdict))
    return verdict


__all__ = ["CANNOT_HOLD_CAUSES", "cannot_hold_reason", "check_key", "check_host", "known_verdict"]
