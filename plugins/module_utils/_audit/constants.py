# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Numbers from <linux/audit.h>, <linux/netlink.h> and libaudit that the binding relies on."""

from __future__ import annotations

NETLINK_AUDIT = 9

NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLMSG_HDRLEN = 16

AUDIT_GET = 1000
AUDIT_USER = 1005
AUDIT_USYS_CONFIG = 1111
AUDIT_FIRST_USER_MSG = 1100
AUDIT_LAST_USER_MSG = 1199
AUDIT_FIRST_USER_MSG2 = 2100
AUDIT_LAST_USER_MSG2 = 2999

# kernel/audit.c prints user text with "%.*s" and this bound: anything past it
# is cut off silently, res= first.
AUDIT_MESSAGE_TEXT_MAX = 8560
# libaudit formats into a buffer of this size (MAX_AUDIT_MESSAGE_LENGTH).
LIBAUDIT_BUFFER = 8970

# TASK_COMM_LEN is 16 with the NUL; keep comm= within what a real comm can be.
COMM_MAX_BYTES = 15

CAP_AUDIT_WRITE = 29
CAP_AUDIT_CONTROL = 30

# Fields the kernel, libaudit or auditd put on every user record, plus the
# names our records and the log format use themselves. A user field with one of
# these names would read as a forged value of the real one.
RESERVED_FIELD_NAMES = frozenset(
    (
        "type", "msg", "node", "pid", "uid", "auid", "ses", "subj", "exe", "comm",
        "hostname", "addr", "terminal", "res", "op", "result", "success",
    )
)

LIBAUDIT_SONAME = "libaudit.so.1"

__all__ = [
    "NETLINK_AUDIT",
    "NLMSG_ERROR",
    "NLMSG_DONE",
    "NLM_F_REQUEST",
    "NLM_F_ACK",
    "NLMSG_HDRLEN",
    "AUDIT_GET",
    "AUDIT_USER",
    "AUDIT_USYS_CONFIG",
    "AUDIT_FIRST_USER_MSG",
    "AUDIT_LAST_USER_MSG",
    "AUDIT_FIRST_USER_MSG2",
    "AUDIT_LAST_USER_MSG2",
    "AUDIT_MESSAGE_TEXT_MAX",
    "LIBAUDIT_BUFFER",
    "COMM_MAX_BYTES",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "RESERVED_FIELD_NAMES",
    "LIBAUDIT_SONAME",
]
