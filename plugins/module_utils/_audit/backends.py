# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The two ways to send a record, one interface, and the checks that keep a record from being lost."""

from __future__ import annotations

import functools
import os
import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.errors import (
    AuditBackendUnavailableError,
    AuditInvalidInputError,
    AuditPermissionError,
    AuditStatusUnknownError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.libaudit import LibAudit
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.netlink import (
    NetlinkAuditConnection,
    query_status,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record import UserRecord
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.status import (
    ensure_records_kept,
    process_capabilities,
)

BACKEND_NAMES = ("auto", "libaudit", "netlink")


@functools.lru_cache(maxsize=1)
def load_libaudit() -> LibAudit:
    """Loaded once per process: dlopen and the signature set-up cost more than sending a record.
    A failure (ImportError) is not cached, so a library installed meanwhile is found."""
    return LibAudit()


class AuditBackend:
    """What every backend offers: send one record, get the kernel's sequence number back."""

    name = ""

    def send(self, record: UserRecord) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "AuditBackend":
        return self

    def __exit__(self, *exc_info: t.Any) -> None:
        self.close()


class NetlinkBackend(AuditBackend):
    name = "netlink"

    def __init__(self, connection: t.Optional[NetlinkAuditConnection] = None) -> None:
        self._connection = connection

    def send(self, record: UserRecord) -> int:
        if self._connection is None:
            self._connection = NetlinkAuditConnection()
        return self._connection.send_user_message(record.msg_type, record.text)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class LibauditBackend(AuditBackend):
    name = "libaudit"

    def __init__(self, library: t.Optional[LibAudit] = None) -> None:
        self.library = library if library is not None else load_libaudit()
        self._fd = -1

    def send(self, record: UserRecord) -> int:
        if self._fd < 0:
            self._fd = self.library.audit_open()
        # The trailer values go in already resolved, so libaudit prints what
        # record.text says instead of resolving again.
        if record.comm is None:
            return self.library.audit_log_user_message(
                self._fd, record.msg_type, record.message, record.hostname, record.addr or "?",
                record.terminal or "?", record.success,
            )
        return self.library.audit_log_user_comm_message(
            self._fd, record.msg_type, record.message, record.comm, record.hostname, record.addr or "?",
            record.terminal or "?", record.success,
        )

    def close(self) -> None:
        if self._fd >= 0:
            self.library.audit_close(self._fd)
            self._fd = -1


def select_backend(requested: str = "auto") -> t.Tuple[AuditBackend, t.Optional[str]]:
    """Return (backend, fallback reason). ``auto`` prefers libaudit and falls back to netlink."""
    if requested not in BACKEND_NAMES:
        raise AuditInvalidInputError("Unknown backend %r" % (requested,), hint="Use auto, libaudit or netlink")
    if requested == "netlink":
        return NetlinkBackend(), None
    try:
        return LibauditBackend(), None
    except ImportError as exc:
        if requested == "libaudit":
            raise AuditBackendUnavailableError("backend libaudit was requested but %s" % exc) from None
        return NetlinkBackend(), "libaudit is not available (%s); records are sent over NETLINK_AUDIT" % exc


def available_backends() -> t.Dict[str, t.Dict[str, t.Any]]:
    try:
        load_libaudit()
        libaudit = {"available": True, "reason": None}
    except ImportError as exc:
        libaudit = {"available": False, "reason": str(exc)}
    return {"libaudit": libaudit, "netlink": {"available": True, "reason": None}}


def preflight(status: t.Optional[t.Dict[str, int]] = None) -> t.Dict[str, int]:
    """Make sure a record sent now would be kept: returns the kernel audit status.

    The kernel ACKs a user record and then drops it when auditing is disabled,
    and sends it to kmsg only when no auditd is registered; libaudit reports
    success for both. Only the status tells, so it is read before every write
    (a caller that has just read it may pass it in).
    """
    caps = process_capabilities()
    if not caps["cap_audit_write"]:
        raise AuditPermissionError(
            "Cannot write audit records: this process (uid %d) lacks CAP_AUDIT_WRITE" % os.geteuid()
        )
    if status is None:
        try:
            status = query_status()
        except AuditPermissionError as exc:
            raise AuditStatusUnknownError(
                "Cannot read the kernel audit status to check that the record would be kept", errno=exc.errno
            ) from None
    ensure_records_kept(status)
    return status


class WriteOutcome(t.NamedTuple):
    record: str
    backend: str
    backend_fallback: t.Optional[str]
    audit_status: t.Dict[str, int]
    recorded: bool
    sequence: t.Optional[int]


def write_record(record: UserRecord, backend: str = "auto", check_mode: bool = False) -> WriteOutcome:
    """Check that the record would be kept, then (unless check_mode) send it."""
    chosen, fallback = select_backend(backend)
    with chosen:
        status = preflight()
        sequence = None if check_mode else chosen.send(record)
    return WriteOutcome(record.text, chosen.name, fallback, status, not check_mode, sequence)


__all__ = [
    "BACKEND_NAMES",
    "load_libaudit",
    "AuditBackend",
    "NetlinkBackend",
    "LibauditBackend",
    "select_backend",
    "available_backends",
    "preflight",
    "WriteOutcome",
    "write_record",
]
