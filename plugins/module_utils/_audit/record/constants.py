# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Numbers from <linux/audit.h>, <linux/netlink.h> and libaudit that the binding relies on."""

from __future__ import annotations

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.fields import BINDING, bound_of, names

NETLINK_AUDIT = 9

NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4

AUDIT_GET = 1000
AUDIT_USER = 1005
AUDIT_USER_AVC = 1107
AUDIT_USYS_CONFIG = 1111
AUDIT_ADD_GROUP = 1116
AUDIT_DEL_GROUP = 1117
AUDIT_GRP_MGMT = 1132
AUDIT_VIRT_RESOURCE = 2501
AUDIT_VIRT_MACHINE_ID = 2502
AUDIT_FIRST_USER_MSG = 1100
AUDIT_LAST_USER_MSG = 1199
AUDIT_FIRST_USER_MSG2 = 2100
AUDIT_LAST_USER_MSG2 = 2999

# kernel/audit.c prints user text with "%.*s" and this bound: anything past it
# is cut off silently, res= first.
AUDIT_MESSAGE_TEXT_MAX = 8560

# What ends a value the writer cut to fit a record: the sha256 of the whole value follows, so a search for the
# exact value still finds the record (the reader compares the hash).
CUT_MARK = "[cut:sha256:%s]"

# Keep comm= within what a real comm can be.
COMM_MAX_BYTES = bound_of("comm")

CAP_AUDIT_WRITE = 29
CAP_AUDIT_CONTROL = 30

# The fields the binding writes itself, those the kernel or auditd put on every user record, plus the names the
# log format uses. A user field with one of these names would read as a forged value of the real one. auparse takes
# type/node by position, and arch, syscall, a0 and a1 at fixed positions steer how it interprets a record
# (auparse/ellist.c parse_up_record).
RESERVED_FIELD_NAMES = frozenset(
    names(BINDING)
    + ("type", "msg", "node", "pid", "uid", "auid", "ses", "subj", "result", "success", "arch", "syscall", "a0", "a1",
       "a2", "a3")
)

# ausearch does not split a user record into fields: src/ausearch-parse.c
# parse_user() (audit-userspace 3.0.9 to 4.x, unchanged; lines 967-1433 at
# ea855020) finds each of these with strstr() over the whole message, the
# caller's text included. A user field named "<anything><token>" holds
# "<token>=" and is taken for the record's own field by -ui/-ua (uid, auid; a
# name ending in "uid" makes the record fail to parse and vanish), -x (exe),
# -c (comm), -hn (hostname, addr), -tm (terminal), -sv (res, result), -se
# (subj), --uuid, --vm-name, -f (cwd) and the account search (acct).
# (token, searched with a leading space, record types it is searched in; None: every user record)
AUSEARCH_USER_TOKENS = (
    ("pid", False, None),  # 967
    ("uid", False, None),  # 983 and the second search at 1202
    ("auid", False, None),  # 1000
    ("loginuid", False, None),  # 1002
    ("ses", False, None),  # 1021
    ("subj", False, None),  # 1037
    ("tcontext", False, (AUDIT_USER_AVC,)),  # 1062, only with parse_avc()
    ("tclass", False, (AUDIT_USER_AVC,)),  # 1074
    ("id", True, (AUDIT_ADD_GROUP, AUDIT_DEL_GROUP, AUDIT_GRP_MGMT)),  # 1090 " id="
    ("gid", False, (AUDIT_GRP_MGMT,)),  # 1093
    ("vm", False, None),  # 1109
    ("uuid", False, None),  # 1125
    ("vm-ctx", False, (AUDIT_VIRT_MACHINE_ID,)),  # 1141
    ("img-ctx", False, (AUDIT_VIRT_MACHINE_ID,)),  # 1161
    ("path", True, (AUDIT_VIRT_RESOURCE,)),  # 1183 " path="
    ("new-disk", True, (AUDIT_VIRT_RESOURCE,)),  # 1186 " new-disk="
    ("comm", False, None),  # 1236
    ("acct", False, None),  # 1253
    ("hostname", False, None),  # 1292
    ("addr", False, None),  # 1314
    ("cwd", False, None),  # 1334
    ("terminal", False, None),  # 1369
    ("exe", False, None),  # 1385
    ("res", False, None),  # 1421
    ("result", False, None),  # 1433
)

LIBAUDIT_SONAME = "libaudit.so.1"

# How long verify waits for auditd to write a record to its log (auditd flushes asynchronously).
VERIFY_TIMEOUT = 10.0

__all__ = [
    "NETLINK_AUDIT",
    "NLMSG_ERROR",
    "NLMSG_DONE",
    "NLM_F_REQUEST",
    "NLM_F_ACK",
    "AUDIT_GET",
    "AUDIT_USER",
    "AUDIT_USER_AVC",
    "AUDIT_USYS_CONFIG",
    "AUDIT_ADD_GROUP",
    "AUDIT_DEL_GROUP",
    "AUDIT_GRP_MGMT",
    "AUDIT_VIRT_RESOURCE",
    "AUDIT_VIRT_MACHINE_ID",
    "AUDIT_FIRST_USER_MSG",
    "AUDIT_LAST_USER_MSG",
    "AUDIT_FIRST_USER_MSG2",
    "AUDIT_LAST_USER_MSG2",
    "AUDIT_MESSAGE_TEXT_MAX",
    "CUT_MARK",
    "COMM_MAX_BYTES",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "RESERVED_FIELD_NAMES",
    "AUSEARCH_USER_TOKENS",
    "LIBAUDIT_SONAME",
    "VERIFY_TIMEOUT",
]
