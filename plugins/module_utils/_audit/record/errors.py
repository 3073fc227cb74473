# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Every way writing or querying the audit trail can fail, each with its fix.

The binding raises these and nothing else; the Ansible layer turns them into
``fail_json`` (or a warning) without having to know errno values.
"""

from __future__ import annotations

import errno as _errno
import os

# typing only for annotations: importing it costs each record ~3 ms on the target (plugin_utils/_writer/_writer.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


class AuditError(Exception):
    """Base class. ``errno`` is the OS error when there is one, ``hint`` the fix."""

    default_hint = ""

    def __init__(self, message: str, errno: t.Optional[int] = None, hint: t.Optional[str] = None) -> None:
        self.errno = errno
        self.hint = self.default_hint if hint is None else hint
        self.reason = message
        super().__init__(self._compose(message))

    def _compose(self, message: str) -> str:
        parts = [message]
        if self.errno:
            parts[0] = "%s (%s: %s)" % (
                message.rstrip("."), _errno.errorcode.get(self.errno, str(self.errno)), os.strerror(self.errno)
            )
        if self.hint:
            parts.append(self.hint)
        return ". ".join(p.rstrip(".") for p in parts) + "."

    def as_dict(self) -> t.Dict[str, t.Any]:
        return {
            "cause": type(self).__name__,
            "errno": self.errno,
            "errno_name": _errno.errorcode.get(self.errno) if self.errno else None,
            "hint": self.hint,
        }


class AuditUnavailableError(AuditError):
    """The host cannot take a record right now; ``on_unavailable: warn`` may downgrade these."""


class AuditNotInKernelError(AuditUnavailableError):
    """Raised when the NETLINK_AUDIT socket cannot be created (kernel built without CONFIG_AUDIT)."""

    default_hint = (
        "This kernel has no audit support (CONFIG_AUDIT); boot a kernel with audit enabled, "
        "or set on_unavailable: warn to carry on without a record"
    )


class AuditNamespaceError(AuditUnavailableError):
    """Raised on ECONNREFUSED: the kernel only takes audit messages from the initial user namespace."""

    default_hint = (
        "The task runs in a non-initial user namespace (rootless container?), where the kernel refuses "
        "audit messages; run it on the host, or set on_unavailable: warn"
    )


class AuditPermissionError(AuditUnavailableError):
    """Raised when the process lacks CAP_AUDIT_WRITE (EPERM on send), usually because it is not root."""

    default_hint = (
        "Run the task as root (become: true, with become_user left at root) or grant the process CAP_AUDIT_WRITE"
    )


class AuditCapabilityError(AuditPermissionError):
    """Raised when root itself lacks CAP_AUDIT_WRITE: a container (or a capability bounding set) the kernel keeps
    from writing audit records, which no become can mend."""

    default_hint = (
        "Root here has no CAP_AUDIT_WRITE, as in a container: grant the container CAP_AUDIT_WRITE (docker/podman "
        "--cap-add AUDIT_WRITE), record on the container's host, or set on_unavailable: warn"
    )


class AuditDisabledError(AuditUnavailableError):
    """Raised when the kernel's audit 'enabled' flag is 0: it would ACK the record and drop it."""

    default_hint = (
        "The kernel acknowledges and then drops user records while auditing is off; enable it with "
        "'auditctl -e 1' (and keep it on with '-e 1' in /etc/audit/rules.d and augenrules --load)"
    )


class AuditdNotRunningError(AuditUnavailableError):
    """Raised when no audit daemon is registered: the record would only reach the kernel log (kmsg)."""

    default_hint = "Start the audit daemon: 'systemctl start auditd' or 'service auditd start'"


class AuditStatusUnknownError(AuditUnavailableError):
    """Raised when the audit status cannot be read (no CAP_AUDIT_CONTROL), so a drop cannot be ruled out."""

    default_hint = (
        "Reading the audit status needs CAP_AUDIT_CONTROL; run the task with become: true (root) so that "
        "a disabled audit system or a stopped auditd is detected instead of silently dropping the record"
    )


class AuditRulesUnknownError(AuditUnavailableError):
    """Raised when the loaded audit rules cannot be read (no CAP_AUDIT_CONTROL), so a rule that drops
    the record cannot be ruled out."""

    default_hint = (
        "Reading the audit rules needs CAP_AUDIT_CONTROL; run the task with become: true (root) so that "
        "a rule that drops the record ('-a always,exclude', '-a never,user') is detected"
    )


class AuditRuleDropsRecordError(AuditUnavailableError):
    """Raised when a loaded rule on the user or exclude filter list drops (or may drop) the record:
    the kernel would acknowledge it and write nothing. ``rules`` lists each such rule."""

    def __init__(self, message: str, errno: t.Optional[int] = None, hint: t.Optional[str] = None,
                 rules: t.Optional[t.List[t.Dict[str, t.Any]]] = None) -> None:
        self.rules = list(rules or [])
        super().__init__(message, errno=errno, hint=hint)

    def as_dict(self) -> t.Dict[str, t.Any]:
        return dict(super().as_dict(), rules=self.rules)


class AuditRecordsLostError(AuditUnavailableError):
    """Raised when the kernel's ``lost`` counter rose while the record was sent: the rate limit or the
    backlog limit made the kernel drop records after acknowledging them, possibly this one."""

    default_hint = (
        "Remove or raise the rate limit ('auditctl -r 0') and raise the backlog limit ('auditctl -b 8192'), "
        "and keep them in /etc/audit/rules.d/*.rules ('-r 0', '-b 8192'; then 'augenrules --load'); "
        "verify: true tells whether this record was among the lost ones"
    )


class AuditdNotWritingError(AuditUnavailableError):
    """Raised when auditd.conf tells auditd not to write a log (write_logs = no, log_format = NOLOG):
    the record would reach auditd and no log file."""

    default_hint = (
        "Set 'write_logs = yes' (and a log_format of RAW or ENRICHED) in /etc/audit/auditd.conf and restart "
        "auditd ('service auditd restart'; on systemd 'systemctl restart auditd' may be refused, use "
        "'service auditd restart' or 'auditctl --signal reload')"
    )


class AuditVerifyError(AuditUnavailableError):
    """Raised by verify: true when the audit log cannot be read back (unreadable, missing, not a file)."""


class AuditRecordNotFoundError(AuditVerifyError):
    """Raised by verify: true when the record did not appear in the audit log within the wait."""

    default_hint = (
        "The kernel accepted the record but auditd did not write it: check that auditd runs and is not "
        "suspended (disk_full_action, admin_space_left_action), that write_logs = yes in /etc/audit/auditd.conf "
        "matches the running daemon (restart auditd after editing it), and 'auditctl -s' (lost)"
    )


class AuditBackendUnavailableError(AuditUnavailableError):
    """Raised when an explicitly requested backend cannot be loaded (libaudit.so.1 missing)."""

    default_hint = (
        "Install libaudit (Debian/Ubuntu: apt-get install libaudit1; RHEL/Fedora: dnf install audit-libs), "
        "or use backend: auto or backend: netlink"
    )


class AuditRecordTooLongError(AuditError):
    """Raised when the record text would exceed what the kernel keeps (it would cut off res=)."""

    default_hint = "Send fewer or shorter fields; record hashes of large values instead of the values"


class AuditInvalidInputError(AuditError):
    """Raised when an op, field name or trailer value is not allowed (it could forge a field)."""


class AuditProtocolError(AuditError):
    """Raised on an unexpected netlink reply or a libaudit failure without a usable errno."""


def error_from_errno(err: int, action: str) -> AuditError:
    """Map an errno from the audit socket to the error a user can act on."""
    if err == _errno.EPERM or err == _errno.EACCES:
        if os.geteuid() == 0:
            return AuditCapabilityError("Cannot %s: permission denied to root" % action, errno=err)
        return AuditPermissionError("Cannot %s: permission denied" % action, errno=err)
    if err == _errno.ECONNREFUSED:
        return AuditNamespaceError("Cannot %s: the kernel refused the audit connection" % action, errno=err)
    if err in (_errno.EPROTONOSUPPORT, _errno.EAFNOSUPPORT):
        return AuditNotInKernelError("Cannot %s: no audit support in the kernel" % action, errno=err)
    return AuditError("Cannot %s" % action, errno=err)


__all__ = [
    "AuditError",
    "AuditUnavailableError",
    "AuditNotInKernelError",
    "AuditNamespaceError",
    "AuditPermissionError",
    "AuditCapabilityError",
    "AuditDisabledError",
    "AuditdNotRunningError",
    "AuditStatusUnknownError",
    "AuditRulesUnknownError",
    "AuditRuleDropsRecordError",
    "AuditRecordsLostError",
    "AuditdNotWritingError",
    "AuditVerifyError",
    "AuditRecordNotFoundError",
    "AuditBackendUnavailableError",
    "AuditRecordTooLongError",
    "AuditInvalidInputError",
    "AuditProtocolError",
    "error_from_errno",
]
