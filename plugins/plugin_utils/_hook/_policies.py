# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""What becomes of the changes on a host that cannot keep Linux audit records: the host policies
(``changeaudit_host_policy``), one row each in ``HOST_POLICIES``, and the host variables the hook reads."""

from __future__ import annotations

import typing as t

from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._settings import PLUGIN
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._privilege import RecordPrivilegeError, host_variables, variable

POLICY_VAR = "changeaudit_host_policy"
# A host that forwards its records instead of keeping a log (write_logs = no with an audisp plugin), when declared.
FORWARDING_VAR = "changeaudit_audit_forwarding"
FAIL, SKIP, CONTROLLER = "fail", "skip", "controller"


class Decision(t.NamedTuple):
    """A policy's answer for a host that cannot keep records: the host check's verdict (None: no change may run),
    the error that stops the task (mode fail; mode warn only warns), and a warning."""

    verdict: t.Optional[t.Tuple[str, str]]
    error: t.Optional[str] = None
    warning: t.Optional[str] = None


def _because(reason: str, detail: t.Optional[str]) -> str:
    return "%s%s" % (reason, " (%s)" % detail.rstrip(".") if detail else "")


def unrecordable(host: str, reason: str, detail: t.Optional[str], policy: str) -> str:
    return (
        "%s: %s cannot keep Linux audit records: %s. Set %s for this host to skip (its changes run unrecorded, with a "
        "warning, and the end-of-run summary lists them) or controller (their records go into the controller's audit "
        "trail), or make the host able to keep records; it is now %s." % (
            PLUGIN, host, _because(reason, detail), POLICY_VAR, policy)
    )


def _fail(host: str, reason: str, detail: t.Optional[str], controller_problem: t.Optional[str]) -> Decision:
    return Decision(None, unrecordable(host, reason, detail, FAIL))


def _skip(host: str, reason: str, detail: t.Optional[str], controller_problem: t.Optional[str]) -> Decision:
    return Decision((SKIP, reason), warning=(
        "%s: %s cannot keep Linux audit records: %s; by %s=skip its changes are not recorded, and the end-of-run "
        "summary lists them." % (PLUGIN, host, _because(reason, detail), POLICY_VAR)
    ))


def _controller(host: str, reason: str, detail: t.Optional[str], controller_problem: t.Optional[str]) -> Decision:
    if controller_problem:
        return Decision(None, unrecordable(host, reason, detail, CONTROLLER) + (
            " The controller cannot keep them either: %s" % controller_problem))
    return Decision((CONTROLLER, reason))


class HostPolicy(t.NamedTuple):
    name: str
    # (host, why it cannot keep records, the writer's detail, why the controller cannot either) -> Decision
    decide: t.Callable[[str, str, t.Optional[str], t.Optional[str]], Decision]
    # Whether the host's changes run without a record on it, so that the ledger says they were skipped by policy.
    skips_records: bool


# The callback's documentation of changeaudit_host_policy (plugins/callback/record_changes.py) names each row.
HOST_POLICIES: t.Dict[str, HostPolicy] = {
    FAIL: HostPolicy(FAIL, _fail, False),
    SKIP: HostPolicy(SKIP, _skip, True),
    # The records go into the controller's own trail, naming the host (_writing.write_on_controller).
    CONTROLLER: HostPolicy(CONTROLLER, _controller, False),
}


def host_policy(task: t.Any, task_vars: t.Mapping[str, t.Any], templar: t.Any) -> str:
    value = variable(templar, host_variables(task, task_vars), POLICY_VAR) or FAIL
    if value not in HOST_POLICIES:
        raise RecordPrivilegeError("%s must be one of %s, not %r" % (POLICY_VAR, ", ".join(HOST_POLICIES), value))
    return str(value)


def skips_records(verdict: t.Tuple[str, str]) -> bool:
    """Whether the host check's verdict lets the host's changes run without a record."""
    policy = HOST_POLICIES.get(verdict[0])
    return policy is not None and policy.skips_records


def forwarding_declared(task: t.Any, task_vars: t.Mapping[str, t.Any], templar: t.Any) -> bool:
    value = variable(templar, host_variables(task, task_vars), FORWARDING_VAR)
    if value in (None, ""):
        return False
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise RecordPrivilegeError("%s must be true or false, not %r" % (FORWARDING_VAR, value)) from None


__all__ = [
    "POLICY_VAR",
    "FORWARDING_VAR",
    "FAIL",
    "SKIP",
    "CONTROLLER",
    "Decision",
    "HostPolicy",
    "HOST_POLICIES",
    "host_policy",
    "skips_records",
    "forwarding_declared",
    "unrecordable",
]
