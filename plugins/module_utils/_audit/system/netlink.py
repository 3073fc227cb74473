# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""NETLINK_AUDIT spoken directly: the fallback when libaudit.so.1 is not installed.

Mirrors audit-userspace lib/netlink.c: NLM_F_REQUEST|NLM_F_ACK, then wait for the
NLMSG_ERROR that acknowledges (error 0) or refuses (-errno) the message.
"""

from __future__ import annotations

import errno
import socket
import struct
import time

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import (
    AUDIT_GET,
    NETLINK_AUDIT,
    NLM_F_ACK,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditNotInKernelError,
    AuditProtocolError,
    error_from_errno,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.rules import (
    AUDIT_LIST_RULES,
    AuditRule,
    parse_rule,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.status import parse_status

# typing only for annotations: importing it costs each record ~3 ms on the target (plugin_utils/_writer/_writer.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

# struct nlmsghdr: len, type, flags, seq, pid.
NLMSGHDR = struct.Struct("=IHHII")
# struct nlmsgerr starts with the (negative) errno.
NLMSGERR_ERROR = struct.Struct("=i")

RECV_BUFFER = 65536
DEFAULT_TIMEOUT = 5.0


def nlmsg_align(length: int) -> int:
    return (length + 3) & ~3


def pack_message(msg_type: int, payload: bytes, seq: int, flags: int = NLM_F_REQUEST | NLM_F_ACK) -> bytes:
    # nlmsg_len = NLMSG_SPACE(size), padding included, as libaudit's __audit_send() sets it.
    length = nlmsg_align(NLMSGHDR.size + len(payload))
    return NLMSGHDR.pack(length, msg_type, flags, seq, 0) + payload + b"\0" * (length - NLMSGHDR.size - len(payload))


def user_payload(text: str) -> bytes:
    # kernel/audit.c overwrites the last byte of a user message with NUL, so the
    # NUL we send is what it eats; without it the last character (of res=) goes.
    return text.encode("utf-8") + b"\0"


def iter_messages(data: bytes) -> t.Iterator[t.Tuple[int, int, int, bytes]]:
    """Yield (type, flags, seq, payload) for each netlink message in one datagram."""
    offset = 0
    while offset + NLMSGHDR.size <= len(data):
        length, msg_type, flags, seq, _pid = NLMSGHDR.unpack_from(data, offset)
        if length < NLMSGHDR.size or offset + length > len(data):
            raise AuditProtocolError("Malformed netlink message from the kernel (length %d)" % length)
        yield msg_type, flags, seq, data[offset + NLMSGHDR.size:offset + length]
        offset += nlmsg_align(length)


def ack_errno(payload: bytes) -> int:
    """The errno an NLMSG_ERROR carries; 0 is an acknowledgement."""
    if len(payload) < NLMSGERR_ERROR.size:
        raise AuditProtocolError("Truncated NLMSG_ERROR from the kernel")
    return -NLMSGERR_ERROR.unpack_from(payload)[0]


def open_audit_socket(timeout: float = DEFAULT_TIMEOUT) -> socket.socket:
    try:
        # Close-on-exec from the start: no child of this process may inherit an audit socket.
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_AUDIT)
    except OSError as exc:
        if exc.errno in (errno.EPROTONOSUPPORT, errno.EAFNOSUPPORT, errno.EINVAL):
            raise AuditNotInKernelError("Cannot open the audit netlink socket", errno=exc.errno) from None
        raise error_from_errno(exc.errno or errno.EIO, "open the audit netlink socket") from None
    try:
        sock.bind((0, 0))
        sock.settimeout(timeout)
    except OSError as exc:
        sock.close()
        raise error_from_errno(exc.errno or errno.EIO, "bind the audit netlink socket") from None
    return sock


class NetlinkAuditConnection:
    """One NETLINK_AUDIT socket. ``sock`` may be any datagram socket (unit tests use a socketpair)."""

    def __init__(self, sock: t.Optional[socket.socket] = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._sock = sock if sock is not None else open_audit_socket(timeout)
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> "NetlinkAuditConnection":
        return self

    def __exit__(self, *exc_info: t.Any) -> None:
        self.close()

    def _next_seq(self) -> int:
        self._seq = self._seq % 0x7FFFFFFF + 1
        return self._seq

    def _send(self, msg_type: int, payload: bytes, flags: int, action: str) -> int:
        seq = self._next_seq()
        try:
            self._sock.send(pack_message(msg_type, payload, seq, flags))
        except OSError as exc:
            raise error_from_errno(exc.errno or errno.EIO, action) from None
        return seq

    def _replies(self, seq: int, action: str) -> t.Iterator[t.Tuple[int, bytes]]:
        """Yield (type, payload) of the replies to ``seq``; NLMSG_ERROR is raised or yielded as an ack."""
        # Like libaudit's audit_get_reply(), only the kernel (port id 0) is believed: another process
        # with CAP_NET_ADMIN could send us a forged ACK. A stream of those ends when the kernel's
        # answer is overdue (the unit tests' AF_UNIX stand-in has no port id to check).
        from_kernel_only = self._sock.family == socket.AF_NETLINK
        timeout = self._sock.gettimeout()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                data, sender = self._sock.recvfrom(RECV_BUFFER)
            except socket.timeout:
                raise AuditProtocolError("No answer from the kernel to the audit request (timed out)") from None
            except OSError as exc:
                raise error_from_errno(exc.errno or errno.EIO, action) from None
            if from_kernel_only and sender[0] != 0:
                if deadline is not None and time.monotonic() > deadline:
                    raise AuditProtocolError(
                        "No answer from the kernel to the audit request (timed out; messages from other "
                        "processes were ignored)"
                    )
                continue
            for msg_type, _flags, reply_seq, payload in iter_messages(data):
                if reply_seq != seq:
                    continue
                if msg_type == NLMSG_ERROR:
                    err = ack_errno(payload)
                    if err:
                        raise error_from_errno(err, action)
                yield msg_type, payload

    def send_user_message(self, msg_type: int, text: str) -> int:
        """Send one user record and wait for the kernel's ACK; returns the sequence number."""
        action = "write the audit record"
        seq = self._send(msg_type, user_payload(text), NLM_F_REQUEST | NLM_F_ACK, action)
        for reply_type, _payload in self._replies(seq, action):
            if reply_type in (NLMSG_ERROR, NLMSG_DONE):
                return seq
        raise AuditProtocolError("The kernel closed the audit exchange without an acknowledgement")  # pragma: no cover

    def get_status(self) -> t.Dict[str, int]:
        """AUDIT_GET. Asked without NLM_F_ACK: the kernel sends the status from a worker thread and an
        ACK could overtake it; errors are reported regardless."""
        action = "read the audit status"
        seq = self._send(AUDIT_GET, b"", NLM_F_REQUEST, action)
        for reply_type, payload in self._replies(seq, action):
            if reply_type == AUDIT_GET:
                return parse_status(payload)
        raise AuditProtocolError("The kernel sent no audit status")  # pragma: no cover

    def list_rules(self) -> t.List[AuditRule]:
        """AUDIT_LIST_RULES: every loaded rule, one AUDIT_LIST_RULES message each, then NLMSG_DONE.
        Asked without NLM_F_ACK for the reason get_status gives: the kernel sends the list from a thread."""
        action = "read the audit rules"
        seq = self._send(AUDIT_LIST_RULES, b"", NLM_F_REQUEST, action)
        rules = []
        for reply_type, payload in self._replies(seq, action):
            if reply_type == AUDIT_LIST_RULES:
                rules.append(parse_rule(payload))
            elif reply_type == NLMSG_DONE:
                return rules
        raise AuditProtocolError("The kernel ended the rule list without NLMSG_DONE")  # pragma: no cover


def query_status() -> t.Dict[str, int]:
    with NetlinkAuditConnection() as conn:
        return conn.get_status()


def query_rules() -> t.List[AuditRule]:
    with NetlinkAuditConnection() as conn:
        return conn.list_rules()


__all__ = [
    "NLMSGHDR",
    "pack_message",
    "user_payload",
    "iter_messages",
    "ack_errno",
    "open_audit_socket",
    "NetlinkAuditConnection",
    "query_status",
    "query_rules",
]
