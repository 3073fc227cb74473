# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The kernel's audit status (struct audit_status) and this process's audit capabilities."""

from __future__ import annotations

import os
import struct

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import (
    CAP_AUDIT_CONTROL,
    CAP_AUDIT_WRITE,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditdNotRunningError,
    AuditDisabledError,
    AuditProtocolError,
)

# typing only for annotations: importing it costs each record ~3 ms on the target (plugin_utils/_writer/_writer.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

# struct audit_status grew over kernel releases; older kernels send a prefix.
STATUS_FIELDS = (
    "mask",
    "enabled",
    "failure",
    "pid",
    "rate_limit",
    "backlog_limit",
    "lost",
    "backlog",
    "feature_bitmap",
    "backlog_wait_time",
    "backlog_wait_time_actual",
)
_U32 = struct.Struct("=I")

AUDIT_LOCKED = 2


def parse_status(payload: bytes) -> t.Dict[str, int]:
    count = min(len(payload) // _U32.size, len(STATUS_FIELDS))
    if count < 4:
        raise AuditProtocolError("The kernel sent a %d-byte audit status; at least 16 were expected" % len(payload))
    values = struct.unpack_from("=%dI" % count, payload)
    status = dict(zip(STATUS_FIELDS, values))
    status.pop("mask", None)
    return status


def daemon_process_gone(pid: int, proc_root: str = "/proc") -> bool:
    """Whether the process the kernel holds as its audit daemon has exited (or is a zombie).

    The kernel notices a dead auditd only when a delivery to it fails, so after
    a crash or 'kill -9' the status keeps the old pid, and the next record is
    ACKed and then lost. Without a readable /proc nothing can be told, nor
    when it hides other users' processes (hidepid, where pid 1 is hidden too),
    and a guess never refuses a write.
    """
    if not os.path.isdir(os.path.join(proc_root, "self")) or not os.path.isdir(os.path.join(proc_root, "1")):
        return False
    try:
        with open(os.path.join(proc_root, str(pid), "stat"), "rb") as handle:
            stat = handle.read()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    # The state letter follows the ')' closing comm, which may itself hold spaces and parentheses.
    closing = stat.rfind(b")")
    return stat[closing + 2:closing + 3] in (b"Z", b"X")


def ensure_records_kept(status: t.Mapping[str, int], proc_root: str = "/proc") -> None:
    """Raise when the kernel would ACK a user record and then drop it, or send it to kmsg only."""
    if status.get("enabled", 0) == 0:
        raise AuditDisabledError("Auditing is disabled in the kernel (enabled=0)")
    pid = status.get("pid", 0)
    if pid == 0:
        raise AuditdNotRunningError(
            "No audit daemon is running (audit pid 0): the record would go to the kernel log only, not to audit.log"
        )
    if daemon_process_gone(pid, proc_root):
        raise AuditdNotRunningError(
            "The audit daemon registered with the kernel (pid %d) is no longer running, killed or crashed: "
            "the kernel would accept the record and lose it" % pid
        )


def process_capabilities(proc_status: str = "/proc/self/status") -> t.Dict[str, bool]:
    """Which audit capabilities the effective set holds, read from /proc (no libcap needed)."""
    effective = 0
    try:
        with open(proc_status) as handle:
            for line in handle:
                if line.startswith("CapEff:"):
                    effective = int(line.split()[1], 16)
                    break
    except OSError:
        pass
    return {
        "cap_audit_write": bool(effective >> CAP_AUDIT_WRITE & 1),
        "cap_audit_control": bool(effective >> CAP_AUDIT_CONTROL & 1),
    }


__all__ = [
    "STATUS_FIELDS",
    "AUDIT_LOCKED",
    "parse_status",
    "daemon_process_gone",
    "ensure_records_kept",
    "process_capabilities",
]
