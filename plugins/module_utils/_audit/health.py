# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""What a read-only caller wants to know before trusting (or writing) the audit trail.

Nothing here raises for a host that cannot be audited: the point is to report
why, so every failure becomes a reason string next to a null value.
"""

from __future__ import annotations

import os
import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.backends import available_backends, preflight
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.errors import (
    AuditError,
    AuditPermissionError,
    AuditStatusUnknownError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.netlink import query_status
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.status import (
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


def audit_report() -> t.Dict[str, t.Any]:
    """Kernel status (or why it is unknown), auditd, backends, capabilities, and whether a write would be kept.

    can_write runs the writer's own preflight on the status read here, so it
    cannot disagree with what usys_config would do.
    """
    status: t.Optional[t.Dict[str, int]] = None
    status_error: t.Optional[t.Dict[str, t.Any]] = None
    try:
        status = query_status()
    except AuditPermissionError as exc:
        # Reading needs CAP_AUDIT_CONTROL, not the CAP_AUDIT_WRITE the generic EPERM hint names.
        unknown = AuditStatusUnknownError("Cannot read the kernel audit status", errno=exc.errno)
        status_error = dict(unknown.as_dict(), msg=str(unknown))
    except AuditError as exc:
        status_error = dict(exc.as_dict(), msg=str(exc))
    if status is not None:
        auditd_running = status.get("pid", 0) != 0 and not daemon_process_gone(status["pid"])
    else:
        auditd_running = auditd_from_pid_file()
    try:
        preflight(status)
        can_write, can_write_reason = True, None
    except AuditError as exc:
        can_write, can_write_reason = False, str(exc)
    return {
        "status": status,
        "status_error": status_error,
        "enabled": None if status is None else status.get("enabled", 0) != 0,
        "locked": None if status is None else status.get("enabled") == 2,
        "auditd_running": auditd_running,
        "auditd_pid": None if status is None else status.get("pid"),
        "backends": available_backends(),
        "capabilities": process_capabilities(),
        "euid": os.geteuid(),
        "can_write": can_write,
        "can_write_reason": can_write_reason,
    }


__all__ = ["AUDITD_PID_FILE", "auditd_from_pid_file", "audit_report"]
