# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The write path: check that a record sent now would be kept, send it, and check that it was."""

from __future__ import annotations

import collections
import os

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.auditd_conf import (
    DEFAULT_LOG_FILE,
    ensure_auditd_writes,
    read_auditd_conf,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backends import select_backend
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import AUDIT_USYS_CONFIG, VERIFY_TIMEOUT
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditCapabilityError,
    AuditPermissionError,
    AuditRecordNotFoundError,
    AuditRecordsLostError,
    AuditRulesUnknownError,
    AuditStatusUnknownError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.netlink import NetlinkAuditConnection
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.record import UserRecord
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.rules import (
    MSG_TYPE_NAMES,
    AuditRule,
    ensure_no_dropping_rule,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.status import (
    ensure_records_kept,
    process_capabilities,
)

# typing only for annotations: importing it costs each record ~3 ms on the target (plugin_utils/_writer/_program.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


# preflight() reads auditd.conf itself unless the caller passes what it read (None: unreadable).
READ_IT: t.Any = object()


def read_status(conn: NetlinkAuditConnection) -> t.Dict[str, int]:
    try:
        return conn.get_status()
    except AuditPermissionError as exc:
        raise AuditStatusUnknownError(
            "Cannot read the kernel audit status to check that the record would be kept", errno=exc.errno
        ) from None


def read_rules(conn: NetlinkAuditConnection) -> t.List[AuditRule]:
    try:
        return conn.list_rules()
    except AuditPermissionError as exc:
        raise AuditRulesUnknownError(
            "Cannot read the loaded audit rules to check that none drops the record", errno=exc.errno
        ) from None


def preflight(
    status: t.Optional[t.Dict[str, int]] = None,
    rules: t.Optional[t.Sequence[AuditRule]] = None,
    auditd_conf: t.Any = READ_IT,
    msg_type: int = AUDIT_USYS_CONFIG,
    conn: t.Optional[NetlinkAuditConnection] = None,
    forwarding: bool = False,
) -> t.Dict[str, int]:
    """Make sure a record sent now would be kept: returns the kernel audit status.

    The kernel ACKs a user record and then drops it when auditing is disabled,
    when a rule on the user or exclude list says so, and sends it to kmsg only
    when no auditd is registered; auditd writes nothing with write_logs = no.
    libaudit reports success for all of them. So the status, the loaded rules
    and auditd.conf are read before every write (a caller that has just read
    them may pass them in, or pass the connection to read them on). ``forwarding``: the host is declared to
    forward its records, so auditd writing no log is right as long as a dispatcher plugin sends them out.
    """
    caps = process_capabilities()
    if not caps["cap_audit_write"]:
        if os.geteuid() == 0:
            raise AuditCapabilityError("Cannot write audit records: this process runs as root but lacks CAP_AUDIT_WRITE")
        raise AuditPermissionError(
            "Cannot write audit records: this process (uid %d) lacks CAP_AUDIT_WRITE" % os.geteuid()
        )
    if status is None or rules is None:
        own = conn is None
        conn = NetlinkAuditConnection() if conn is None else conn
        try:
            if status is None:
                status = read_status(conn)
            ensure_records_kept(status)
            if rules is None:
                rules = read_rules(conn)
        finally:
            if own:
                conn.close()
    ensure_records_kept(status)
    ensure_no_dropping_rule(rules, msg_type)
    ensure_auditd_writes(read_auditd_conf() if auditd_conf is READ_IT else auditd_conf, forwarding)
    return status


def ensure_nothing_lost(before: t.Mapping[str, int], after: t.Mapping[str, int]) -> None:
    """Raise AuditRecordsLostError when the kernel's lost counter rose between the two statuses.

    kernel/audit.c counts a record as lost when the rate limit drops it
    (audit_log_end(), while the sender still waits for its ACK, so a rise seen
    after the send covers this record), and when kauditd cannot hand queued
    records to auditd and its retry or hold queue is past backlog_limit. A user
    record is never dropped at the backlog check itself (its sender holds the
    audit control lock, so the kernel queues it and makes the sender sleep
    instead); its loss in kauditd may come after the status is read again, so
    for the backlog a rise says records are being lost, possibly this one, and
    only verify: true tells for sure. A counter that went down was reset
    meanwhile ('auditctl --reset-lost'), which tells nothing.
    """
    lost = after.get("lost", 0) - before.get("lost", 0)
    if lost <= 0:
        return
    limits = []
    if after.get("rate_limit"):
        limits.append("rate_limit %d messages/s" % after["rate_limit"])
    if after.get("backlog_limit"):
        limits.append("backlog_limit %d (backlog %d)" % (after["backlog_limit"], after.get("backlog", 0)))
    raise AuditRecordsLostError(
        "The kernel lost %d audit record%s while this record was sent (lost %d -> %d; %s): this record may be "
        "among them" % (lost, "" if lost == 1 else "s", before.get("lost", 0), after.get("lost", 0),
                        ", ".join(limits) or "no rate or backlog limit set")
    )


# What verify says of a record forwarded by a host whose auditd writes no log.
NOT_READ_BACK = (
    "auditd on this host writes no log (the host is declared to forward its records): the record went to its "
    "dispatcher plugins only, so it cannot be read back here"
)


class WriteOutcome(
    collections.namedtuple(
        "WriteOutcome",
        ("record", "backend", "backend_fallback", "audit_status", "recorded", "sequence", "verified"),
        defaults=(None,),
    )
):
    """What writing one record did. ``verified``, with verify: where the record was read back (event_id,
    serial, timestamp, log_file)."""

    __slots__ = ()


def write_record(
    record: UserRecord,
    backend: str = "auto",
    check_mode: bool = False,
    verify: bool = False,
    verify_timeout: float = VERIFY_TIMEOUT,
    forwarding: bool = False,
) -> WriteOutcome:
    """Check that the record would be kept, then (unless check_mode) send it and check that it was.

    After the send the status is read again: a rise of ``lost`` means the
    kernel dropped records (rate or backlog limit) while ours was on its way.
    With ``verify`` the record is read back from the log auditd writes; when it
    is found there, a lost count that rose concerned other records.
    """
    chosen, fallback = select_backend(backend)
    with chosen:
        conf = read_auditd_conf()
        with NetlinkAuditConnection() as conn:
            status = preflight(auditd_conf=conf, msg_type=record.msg_type, conn=conn, forwarding=forwarding)
            if check_mode:
                return WriteOutcome(record.text, chosen.name, fallback, status, False, None)
            mark = None
            if verify and conf is not None and not conf.write_logs:
                # Forwarded (preflight let it through only so): no log here holds it to read back.
                verify = False
                unreadable = {"read_back": False, "reason": NOT_READ_BACK}
            else:
                unreadable = None
            if verify:
                # Imported here: the log scanner costs every write ~4 ms of imports, and only verify needs it.
                from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.verify import LogMark

                mark = LogMark(conf.log_file if conf is not None else DEFAULT_LOG_FILE)
            try:
                sequence = chosen.send(record)
                lost_error = None
                try:
                    ensure_nothing_lost(status, read_status(conn))
                except AuditRecordsLostError as exc:
                    if mark is None:
                        raise
                    lost_error = exc
                verified = None
                if mark is not None:
                    try:
                        verified = mark.find(
                            record.text, os.getpid(), MSG_TYPE_NAMES.get(record.msg_type, ""), verify_timeout
                        )
                    except AuditRecordNotFoundError:
                        # Lost records explain a missing one better than the wait does.
                        if lost_error is not None:
                            raise lost_error from None
                        raise
            finally:
                if mark is not None:
                    mark.close()
    return WriteOutcome(record.text, chosen.name, fallback, status, True, sequence, verified or unreadable)


__all__ = [
    "READ_IT",
    "read_status",
    "read_rules",
    "preflight",
    "ensure_nothing_lost",
    "WriteOutcome",
    "write_record",
]
