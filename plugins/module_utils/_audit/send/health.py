# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""What a read-only caller wants to know before trusting (or writing) the audit trail.

Nothing here raises for a host that cannot be audited: the point is to report
why, so every failure becomes a reason string next to a null value.
"""

from __future__ import annotations

import os
import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.auditd_conf import AUDITD_CONF, read_auditd_conf
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backends import available_backends
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.write import preflight
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditError,
    AuditPermissionError,
    AuditRulesUnknownError,
    AuditStatusUnknownError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.netlink import query_rules, query_status
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.rules import dropping_rules
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.status import (
    AUDIT_LOCKED,
    daemon_process_gone,
    process_capabilities,
)

AUDITD_PID_FILE = "/run/auditd.pid"


def auditd_from_pid_file(pid_file: str = AUDITD_PID_FILE) -> bool:
    """Whether the pid in auditd's pid file is a live auditd; used only when the kernel status is unreadable."""
    try:
        with open(pid_file) as handle:
            pid = int(handle.read().strip())
        with open("/proc/%d/comm" % pid) as handle:
            return handle.read().strip() == "auditd"
    except (OSError, ValueError):
        return False


def _read_or_why(
    read: t.Callable[[], t.Any], unknown: t.Type[AuditError], what: str
) -> t.Tuple[t.Any, t.Optional[t.Dict[str, t.Any]]]:
    """(what read() returned, None), or (None, why it could not be read, as a dict with msg)."""
    try:
        return read(), None
    except AuditPermissionError as exc:
        # Reading needs CAP_AUDIT_CONTROL, not the CAP_AUDIT_WRITE the generic EPERM hint names.
        error: AuditError = unknown(what, errno=exc.errno)
    except AuditError as exc:
        error = exc
    return None, dict(error.as_dict(), msg=str(error))


def audit_report() -> t.Dict[str, t.Any]:
    """Kernel status (or why it is unknown), loaded rules that drop records, auditd.conf, auditd, backends,
    capabilities, and whether a write would be kept.

    can_write runs the writer's own preflight on the status read here, so it
    cannot disagree with what usys_config would do.
    """
    status, status_error = _read_or_why(query_status, AuditStatusUnknownError, "Cannot read the kernel audit status")
    rules, rules_error = _read_or_why(query_rules, AuditRulesUnknownError, "Cannot read the loaded audit rules")
    conf = read_auditd_conf()
    if status is not None:
        auditd_running = status.get("pid", 0) != 0 and not daemon_process_gone(status["pid"])
    else:
        auditd_running = auditd_from_pid_file()
    try:
        preflight(status, rules, conf)
        can_write, can_write_reason = True, None
    except AuditError as exc:
        can_write, can_write_reason = False, str(exc)
    return {
        "status": status,
        "status_error": status_error,
        "enabled": None if status is None else status.get("enabled", 0) != 0,
        "locked": None if status is None else status.get("enabled") == AUDIT_LOCKED,
        "auditd_running": auditd_running,
        "auditd_pid": None if status is None else status.get("pid"),
        "backends": available_backends(),
        "capabilities": process_capabilities(),
        "euid": os.geteuid(),
        "lost": None if status is None else status.get("lost"),
        "dropping_rules": None if rules is None else [item.as_dict() for item in dropping_rules(rules)],
        "rules_error": rules_error,
        "auditd_conf": conf.as_dict() if conf is not None else None,
        "auditd_conf_error": None if conf is not None else "Cannot read %s" % AUDITD_CONF,
        "can_write": can_write,
        "can_write_reason": can_write_reason,
    }


__all__ = ["AUDITD_PID_FILE", "auditd_from_pid_file", "audit_report"]
