# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Loaded audit rules that make the kernel acknowledge a user record and then drop it.

kernel/audit.c passes a user record (AUDIT_USER, 1100-1199, 2100-2999) through
``audit_filter(type, AUDIT_FILTER_USER)`` and then, in ``audit_log_start()``,
through ``audit_filter(type, AUDIT_FILTER_EXCLUDE)``; when either returns 0 the
record is gone, and the sender has already had its ACK. ``audit_filter()``
(kernel/auditfilter.c) is mirrored here, rule by rule, for this process:

- the rules of a list are tried in order and the first rule whose fields all
  match decides: on the user list ``never`` drops and ``always`` keeps (later
  rules are not looked at); on the exclude list a match drops, whatever the action;
- a rule without fields never matches (``result`` starts at 0);
- it evaluates only pid (the thread group id), uid, gid, auid/loginuid,
  loginuid_set, msgtype, exe and the subj_* labels; any other field type stops
  the whole filter and the record is kept;
- a subj_* label (and exe when this process's executable cannot be read) is not
  decided here: it is taken as "may match", so a rule that may drop is reported.

The rules are read with AUDIT_LIST_RULES (netlink.py) as ``struct audit_rule_data``.
"""

from __future__ import annotations

import collections
import errno as _errno
import os
import struct

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import AUDIT_USYS_CONFIG
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditProtocolError,
    AuditRuleDropsRecordError,
)

# typing only for annotations: importing it costs each record ~3 ms on the target (plugin_utils/_writer/_writer.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

AUDIT_LIST_RULES = 1013

# Filter lists and actions (<linux/audit.h>).
FILTER_USER = 0
FILTER_TASK = 1
FILTER_EXIT = 4
FILTER_EXCLUDE = 5
FILTER_FS = 6
FILTER_URING_EXIT = 7
FILTER_PREPEND = 0x10
FILTER_NAMES = {
    FILTER_USER: "user", FILTER_TASK: "task", FILTER_EXIT: "exit", FILTER_EXCLUDE: "exclude",
    FILTER_FS: "filesystem", FILTER_URING_EXIT: "io_uring",
}
ACTION_NEVER = 0
ACTION_ALWAYS = 2
ACTION_NAMES = {ACTION_NEVER: "never", 1: "possible", ACTION_ALWAYS: "always"}

# Field types.
F_PID, F_UID, F_EUID, F_SUID, F_FSUID, F_GID, F_EGID, F_SGID, F_FSGID, F_LOGINUID = range(10)
F_PERS, F_ARCH, F_MSGTYPE = 10, 11, 12
F_SUBJ_USER, F_SUBJ_ROLE, F_SUBJ_TYPE, F_SUBJ_SEN, F_SUBJ_CLR = 13, 14, 15, 16, 17
F_PPID, F_OBJ_LEV_HIGH, F_LOGINUID_SET, F_SESSIONID = 18, 23, 24, 25
F_INODE, F_EXIT, F_WATCH, F_PERM, F_DIR = 102, 103, 105, 106, 107
F_FIELD_COMPARE, F_EXE = 111, 112
F_ARG0, F_ARG3, F_FILTERKEY = 200, 203, 210

# The names auditctl prints (audit-userspace lib/fieldtab.h; the first of two names wins).
FIELD_NAMES = {
    0: "pid", 1: "uid", 2: "euid", 3: "suid", 4: "fsuid", 5: "gid", 6: "egid", 7: "sgid", 8: "fsgid",
    9: "auid", 10: "pers", 11: "arch", 12: "msgtype", 13: "subj_user", 14: "subj_role", 15: "subj_type",
    16: "subj_sen", 17: "subj_clr", 18: "ppid", 19: "obj_user", 20: "obj_role", 21: "obj_type",
    22: "obj_lev_low", 23: "obj_lev_high", 25: "sessionid", 26: "fstype", 100: "devmajor", 101: "devminor",
    102: "inode", 103: "exit", 104: "success", 105: "path", 106: "perm", 107: "dir", 108: "filetype",
    109: "obj_uid", 110: "obj_gid", 111: "field_compare", 112: "exe", 113: "saddr_fam",
    200: "a0", 201: "a1", 202: "a2", 203: "a3", 210: "key",
}
# Field types whose value is a length into the rule's string buffer.
STRING_FIELDS = frozenset(
    [n for n in range(F_SUBJ_USER, F_OBJ_LEV_HIGH + 1) if n != F_PPID] + [F_WATCH, F_DIR, F_FILTERKEY, F_EXE]
)

# Operators (fieldflags) and how auditctl prints them (lib/optab.h).
OP_BIT_MASK = 0x08000000
OP_LESS_THAN = 0x10000000
OP_GREATER_THAN = 0x20000000
OP_NOT_EQUAL = 0x30000000
OP_EQUAL = 0x40000000
OP_BIT_TEST = OP_BIT_MASK | OP_EQUAL
OP_LESS_THAN_OR_EQUAL = OP_LESS_THAN | OP_EQUAL
OP_GREATER_THAN_OR_EQUAL = OP_GREATER_THAN | OP_EQUAL
OPERATORS = OP_EQUAL | OP_NOT_EQUAL | OP_BIT_MASK
OP_SYMBOLS = {
    OP_EQUAL: "=", OP_NOT_EQUAL: "!=", OP_GREATER_THAN: ">", OP_GREATER_THAN_OR_EQUAL: ">=",
    OP_LESS_THAN: "<", OP_LESS_THAN_OR_EQUAL: "<=", OP_BIT_MASK: "&", OP_BIT_TEST: "&=",
}

UID_UNSET = 0xFFFFFFFF
KEY_SEPARATOR = "\x01"
MAX_FIELDS = 64
# struct audit_rule_data without buf[]: flags, action, field_count, mask[64], fields[64], values[64],
# fieldflags[64], buflen.
RULE_DATA = struct.Struct("=3I%dI%dI%dI%dII" % (64, MAX_FIELDS, MAX_FIELDS, MAX_FIELDS))

# Message type names as libaudit prints them (lib/msg_typetab.h of audit 3.0.9), "number:NAME".
_MSG_TYPE_TABLE = (
    "1005:USER 1006:LOGIN 1100:USER_AUTH 1101:USER_ACCT 1102:USER_MGMT 1103:CRED_ACQ 1104:CRED_DISP 1105:USER_START "
    "1106:USER_END 1107:USER_AVC 1108:USER_CHAUTHTOK 1109:USER_ERR 1110:CRED_REFR 1111:USYS_CONFIG 1112:USER_LOGIN "
    "1113:USER_LOGOUT 1114:ADD_USER 1115:DEL_USER 1116:ADD_GROUP 1117:DEL_GROUP 1118:DAC_CHECK 1119:CHGRP_ID "
    "1120:TEST 1121:TRUSTED_APP 1122:USER_SELINUX_ERR 1123:USER_CMD 1124:USER_TTY 1125:CHUSER_ID 1126:GRP_AUTH "
    "1127:SYSTEM_BOOT 1128:SYSTEM_SHUTDOWN 1129:SYSTEM_RUNLEVEL 1130:SERVICE_START 1131:SERVICE_STOP 1132:GRP_MGMT "
    "1133:GRP_CHAUTHTOK 1134:MAC_CHECK 1135:ACCT_LOCK 1136:ACCT_UNLOCK 1137:USER_DEVICE 1138:SOFTWARE_UPDATE "
    "1200:DAEMON_START 1201:DAEMON_END 1202:DAEMON_ABORT 1203:DAEMON_CONFIG 1205:DAEMON_ROTATE 1206:DAEMON_RESUME "
    "1207:DAEMON_ACCEPT 1208:DAEMON_CLOSE 1209:DAEMON_ERR 1300:SYSCALL 1302:PATH 1303:IPC 1304:SOCKETCALL "
    "1305:CONFIG_CHANGE 1306:SOCKADDR 1307:CWD 1309:EXECVE 1311:IPC_SET_PERM 1312:MQ_OPEN 1313:MQ_SENDRECV "
    "1314:MQ_NOTIFY 1315:MQ_GETSETATTR 1316:KERNEL_OTHER 1317:FD_PAIR 1318:OBJ_PID 1319:TTY 1320:EOE 1321:BPRM_FCAPS "
    "1322:CAPSET 1323:MMAP 1324:NETFILTER_PKT 1325:NETFILTER_CFG 1326:SECCOMP 1327:PROCTITLE 1328:FEATURE_CHANGE "
    "1330:KERN_MODULE 1331:FANOTIFY 1332:TIME_INJOFFSET 1333:TIME_ADJNTPVAL 1334:BPF 1335:EVENT_LISTENER 1336:URINGOP "
    "1337:OPENAT2 1400:AVC 1401:SELINUX_ERR 1402:AVC_PATH 1403:MAC_POLICY_LOAD 1404:MAC_STATUS 1405:MAC_CONFIG_CHANGE "
    "1406:MAC_UNLBL_ALLOW 1407:MAC_CIPSOV4_ADD 1408:MAC_CIPSOV4_DEL 1409:MAC_MAP_ADD 1410:MAC_MAP_DEL "
    "1411:MAC_IPSEC_ADDSA 1412:MAC_IPSEC_DELSA 1413:MAC_IPSEC_ADDSPD 1414:MAC_IPSEC_DELSPD 1415:MAC_IPSEC_EVENT "
    "1416:MAC_UNLBL_STCADD 1417:MAC_UNLBL_STCDEL 1418:MAC_CALIPSO_ADD 1419:MAC_CALIPSO_DEL 1500:APPARMOR "
    "1501:APPARMOR_AUDIT 1502:APPARMOR_ALLOWED 1503:APPARMOR_DENIED 1504:APPARMOR_HINT 1505:APPARMOR_STATUS "
    "1506:APPARMOR_ERROR 1507:APPARMOR_KILL 1700:ANOM_PROMISCUOUS 1701:ANOM_ABEND 1702:ANOM_LINK 1703:ANOM_CREAT "
    "1800:INTEGRITY_DATA 1801:INTEGRITY_METADATA 1802:INTEGRITY_STATUS 1803:INTEGRITY_HASH 1804:INTEGRITY_PCR "
    "1805:INTEGRITY_RULE 1806:INTEGRITY_EVM_XATTR 1807:INTEGRITY_POLICY_RULE 2000:KERNEL 2100:ANOM_LOGIN_FAILURES "
    "2101:ANOM_LOGIN_TIME 2102:ANOM_LOGIN_SESSIONS 2103:ANOM_LOGIN_ACCT 2104:ANOM_LOGIN_LOCATION 2105:ANOM_MAX_DAC "
    "2106:ANOM_MAX_MAC 2107:ANOM_AMTU_FAIL 2108:ANOM_RBAC_FAIL 2109:ANOM_RBAC_INTEGRITY_FAIL 2110:ANOM_CRYPTO_FAIL "
    "2111:ANOM_ACCESS_FS 2112:ANOM_EXEC 2113:ANOM_MK_EXEC 2114:ANOM_ADD_ACCT 2115:ANOM_DEL_ACCT 2116:ANOM_MOD_ACCT "
    "2117:ANOM_ROOT_TRANS 2118:ANOM_LOGIN_SERVICE 2119:ANOM_LOGIN_ROOT 2120:ANOM_ORIGIN_FAILURES 2121:ANOM_SESSION "
    "2200:RESP_ANOMALY 2201:RESP_ALERT 2202:RESP_KILL_PROC 2203:RESP_TERM_ACCESS 2204:RESP_ACCT_REMOTE "
    "2205:RESP_ACCT_LOCK_TIMED 2206:RESP_ACCT_UNLOCK_TIMED 2207:RESP_ACCT_LOCK 2208:RESP_TERM_LOCK 2209:RESP_SEBOOL "
    "2210:RESP_EXEC 2211:RESP_SINGLE 2212:RESP_HALT 2213:RESP_ORIGIN_BLOCK 2214:RESP_ORIGIN_BLOCK_TIMED "
    "2215:RESP_ORIGIN_UNBLOCK_TIMED 2300:USER_ROLE_CHANGE 2301:ROLE_ASSIGN 2302:ROLE_REMOVE 2303:LABEL_OVERRIDE "
    "2304:LABEL_LEVEL_CHANGE 2305:USER_LABELED_EXPORT 2306:USER_UNLABELED_EXPORT 2307:DEV_ALLOC 2308:DEV_DEALLOC "
    "2309:FS_RELABEL 2310:USER_MAC_POLICY_LOAD 2311:ROLE_MODIFY 2312:USER_MAC_CONFIG_CHANGE 2313:USER_MAC_STATUS "
    "2400:CRYPTO_TEST_USER 2401:CRYPTO_PARAM_CHANGE_USER 2402:CRYPTO_LOGIN 2403:CRYPTO_LOGOUT 2404:CRYPTO_KEY_USER "
    "2405:CRYPTO_FAILURE_USER 2406:CRYPTO_REPLAY_USER 2407:CRYPTO_SESSION 2408:CRYPTO_IKE_SA 2409:CRYPTO_IPSEC_SA "
    "2500:VIRT_CONTROL 2501:VIRT_RESOURCE 2502:VIRT_MACHINE_ID 2503:VIRT_INTEGRITY_CHECK 2504:VIRT_CREATE "
    "2505:VIRT_DESTROY 2506:VIRT_MIGRATE_IN 2507:VIRT_MIGRATE_OUT "
)
MSG_TYPE_NAMES = dict(
    (int(number), name) for number, name in (item.split(":") for item in _MSG_TYPE_TABLE.split())
)


class RuleField(collections.namedtuple("RuleField", ("field", "op", "value", "text"), defaults=(None,))):
    """One field of a rule: ``field``, ``op`` and ``value`` as the kernel holds them, ``text`` a string value."""

    __slots__ = ()


class AuditRule(collections.namedtuple("AuditRule", ("list", "action", "fields", "flags"), defaults=(0,))):
    """One loaded rule. ``list`` is the filter list, ``fields`` (RuleFields) in the kernel's order."""

    __slots__ = ()

    @property
    def text(self) -> str:
        return format_rule(self)


def parse_rule(payload: bytes) -> AuditRule:
    """A ``struct audit_rule_data`` as the kernel sends it in an AUDIT_LIST_RULES reply."""
    if len(payload) < RULE_DATA.size:
        raise AuditProtocolError("The kernel sent a %d-byte audit rule; %d were expected" % (len(payload), RULE_DATA.size))
    words = RULE_DATA.unpack_from(payload)
    flags, action, count = words[0:3]
    fields = words[3 + 64:3 + 64 + MAX_FIELDS]
    values = words[3 + 64 + MAX_FIELDS:3 + 64 + 2 * MAX_FIELDS]
    fieldflags = words[3 + 64 + 2 * MAX_FIELDS:3 + 64 + 3 * MAX_FIELDS]
    buflen = words[-1]
    buf = payload[RULE_DATA.size:RULE_DATA.size + buflen]
    if count > MAX_FIELDS or len(buf) < buflen:
        raise AuditProtocolError("The kernel sent a malformed audit rule (%d fields, %d of %d string bytes)"
                                 % (count, len(buf), buflen))
    parsed = []
    offset = 0
    for i in range(count):
        # Old kernels and libaudit kept the operator in the field word as well.
        field = fields[i] & ~OPERATORS & 0xFFFFFFFF
        text = None
        if field in STRING_FIELDS:
            text = buf[offset:offset + values[i]].decode("utf-8", "surrogateescape")
            offset += values[i]
        parsed.append(RuleField(field, fieldflags[i] & OPERATORS, values[i], text))
    return AuditRule(flags & ~FILTER_PREPEND, action, tuple(parsed), flags)


def _signed(value: int) -> int:
    return value - 0x100000000 if value & 0x80000000 else value


def _format_field(item: RuleField) -> str:
    """One field the way ``auditctl -l`` prints it (src/auditctl-listing.c, print_rule)."""
    name = FIELD_NAMES.get(item.field)
    symbol = OP_SYMBOLS.get(item.op, "?")
    if name is None:
        return " f%d%s%d" % (item.field, symbol, _signed(item.value))
    if item.field == F_MSGTYPE:
        return " -F %s%s%s" % (name, symbol, MSG_TYPE_NAMES.get(item.value, _signed(item.value)))
    if item.field == F_FILTERKEY:
        return "".join(" -F key=%s" % part for part in (item.text or "").split(KEY_SEPARATOR) if part)
    if item.field in STRING_FIELDS:
        return " -F %s%s%s" % (name, symbol, item.text)
    if item.field == F_PERM:
        perms = "".join(letter for bit, letter in ((4, "r"), (2, "w"), (1, "x"), (8, "a")) if item.value & bit)
        return " -F perm=%s" % perms
    if item.field == F_INODE:
        return " -F %s%s%u" % (name, symbol, item.value)
    if F_ARG0 <= item.field <= F_ARG3:
        return " -F %s%s0x%X" % (name, symbol, item.value)
    if item.field == F_EXIT and _signed(item.value) < 0 and -_signed(item.value) in _errno.errorcode:
        return " -F %s%s-%s" % (name, symbol, _errno.errorcode[-_signed(item.value)])
    return " -F %s%s%d" % (name, symbol, _signed(item.value))


def format_rule(rule: AuditRule) -> str:
    """The rule as ``auditctl -l`` prints it, so that it can be found and deleted."""
    text = "-a %s,%s" % (ACTION_NAMES.get(rule.action, "unknown"), FILTER_NAMES.get(rule.list, "unknown"))
    for item in rule.fields:
        if item.field == F_ARCH:
            # auditctl prints the arch first and names it by word size.
            text += " -F arch%s%s" % (OP_SYMBOLS.get(item.op, "?"), "b64" if item.value & 0x80000000 else "b32")
    return text + "".join(_format_field(item) for item in rule.fields if item.field != F_ARCH)


class ProcessIdentity(collections.namedtuple("ProcessIdentity", ("pid", "uid", "gid", "loginuid", "exe"))):
    """What audit_filter() compares for the task that sends the record: this process.

    ``loginuid`` is None when unreadable, ``exe`` the (st_dev, st_ino) of the executable or None.
    """

    __slots__ = ()


def _file_id(path: str) -> t.Optional[t.Tuple[int, int]]:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def current_identity(proc_self: str = "/proc/self") -> ProcessIdentity:
    try:
        with open(os.path.join(proc_self, "loginuid")) as handle:
            loginuid: t.Optional[int] = int(handle.read().strip())
    except (OSError, ValueError):
        loginuid = None
    # The kernel tests pid against the thread group id, which is what getpid() returns.
    return ProcessIdentity(os.getpid(), os.getuid(), os.getgid(), loginuid, _file_id(os.path.join(proc_self, "exe")))


def compare(left: int, op: int, right: int) -> bool:
    """audit_comparator() on two u32 values."""
    left &= 0xFFFFFFFF
    right &= 0xFFFFFFFF
    if op == OP_EQUAL:
        return left == right
    if op == OP_NOT_EQUAL:
        return left != right
    if op == OP_LESS_THAN:
        return left < right
    if op == OP_LESS_THAN_OR_EQUAL:
        return left <= right
    if op == OP_GREATER_THAN:
        return left > right
    if op == OP_GREATER_THAN_OR_EQUAL:
        return left >= right
    if op == OP_BIT_MASK:
        return bool(left & right)
    if op == OP_BIT_TEST:
        return left & right == right
    return False


# What one field can do to audit_filter(): match, not match, may match (None), or stop the filter.
ABORT = "abort"
MATCH = "match"
NO_MATCH = "no-match"


def field_result(item: RuleField, msg_type: int, who: ProcessIdentity) -> t.Union[bool, None, str]:
    field, op, value = item.field, item.op, item.value
    if field == F_PID:
        return compare(who.pid, op, value)
    if field == F_UID:
        return compare(who.uid, op, value)
    if field == F_GID:
        return compare(who.gid, op, value)
    if field == F_MSGTYPE:
        return compare(msg_type, op, value)
    if field == F_LOGINUID:
        if value == UID_UNSET:
            # Listed form of the legacy "auid=-1": the kernel tests loginuid_set == 0 instead.
            return None if who.loginuid is None else compare(int(who.loginuid != UID_UNSET), op, 0)
        return None if who.loginuid is None else compare(who.loginuid, op, value)
    if field == F_LOGINUID_SET:
        return None if who.loginuid is None else compare(int(who.loginuid != UID_UNSET), op, value)
    if F_SUBJ_USER <= field <= F_SUBJ_CLR:
        return None
    if field == F_EXE:
        if who.exe is None:
            return None
        same = _file_id(item.text or "") == who.exe
        return not same if op == OP_NOT_EQUAL else same
    return ABORT


def rule_outcomes(rule: AuditRule, msg_type: int, who: ProcessIdentity) -> t.FrozenSet[str]:
    """What the rule may do to this record in audit_filter(): MATCH, NO_MATCH and/or ABORT."""
    if not rule.fields:
        return frozenset((NO_MATCH,))
    outcomes = set()
    for item in rule.fields:
        result = field_result(item, msg_type, who)
        if result == ABORT:
            outcomes.add(ABORT)
            return frozenset(outcomes)
        if result is False:
            outcomes.add(NO_MATCH)
            return frozenset(outcomes)
        if result is None:
            outcomes.add(NO_MATCH)
    outcomes.add(MATCH)
    return frozenset(outcomes)


class DroppingRule(collections.namedtuple("DroppingRule", ("rule", "certain"))):
    """An AuditRule that drops the record (``certain``) or may drop it (fields this side cannot evaluate)."""

    __slots__ = ()

    def as_dict(self) -> t.Dict[str, t.Any]:
        return {"rule": self.rule.text, "list": FILTER_NAMES.get(self.rule.list), "certain": self.certain}


def dropping_rules(
    rules: t.Iterable[AuditRule], msg_type: int = AUDIT_USYS_CONFIG, who: t.Optional[ProcessIdentity] = None
) -> t.List[DroppingRule]:
    """The rules that drop (certain) or may drop a record of ``msg_type`` sent now by this process."""
    rules = [rule for rule in rules if rule.list in (FILTER_USER, FILTER_EXCLUDE)]
    if not rules:
        return []
    # Read only when a rule may look at it: most hosts have no user or exclude rule.
    who = who if who is not None else current_identity()
    found = []
    for listnr in (FILTER_USER, FILTER_EXCLUDE):
        # Whether no earlier rule of this list may keep the record (match with always on the user
        # list, or stop the filter). Earlier dropping rules do not count: every one of them is
        # reported, since deleting one would leave the next to drop the record.
        surely_reached = True
        for rule in rules:
            if rule.list != listnr:
                continue
            outcomes = rule_outcomes(rule, msg_type, who)
            drops = listnr == FILTER_EXCLUDE or rule.action == ACTION_NEVER
            if drops and MATCH in outcomes:
                found.append(DroppingRule(rule, surely_reached and outcomes == {MATCH}))
            keeps = {ABORT} if drops else {ABORT, MATCH}
            if outcomes <= keeps:
                break
            if outcomes & keeps:
                surely_reached = False
    return found


def ensure_no_dropping_rule(
    rules: t.Iterable[AuditRule], msg_type: int = AUDIT_USYS_CONFIG, who: t.Optional[ProcessIdentity] = None
) -> None:
    """Raise AuditRuleDropsRecordError naming each loaded rule that drops or may drop the record."""
    found = dropping_rules(rules, msg_type, who)
    if not found:
        return
    name = MSG_TYPE_NAMES.get(msg_type, str(msg_type))
    described = "; ".join(
        "'%s' %s" % (item.rule.text, "drops it" if item.certain else "may drop it") for item in found
    )
    deletes = "; ".join("'auditctl %s'" % ("-d" + item.rule.text[2:]) for item in found)
    plural = "s" if len(found) > 1 else ""
    raise AuditRuleDropsRecordError(
        "A loaded audit rule would make the kernel accept the %s record and drop it: %s" % (name, described),
        hint="Delete the rule%s with %s and remove %s from /etc/audit/rules.d/*.rules (then run "
        "'augenrules --load'), or narrow %s so that it does not match %s records" % (
            plural, deletes, "them" if found[1:] else "it", "them" if found[1:] else "it", name),
        rules=[item.as_dict() for item in found],
    )


__all__ = [
    "AUDIT_LIST_RULES",
    "FILTER_USER",
    "FILTER_EXCLUDE",
    "FILTER_NAMES",
    "ACTION_NEVER",
    "ACTION_ALWAYS",
    "ACTION_NAMES",
    "FIELD_NAMES",
    "STRING_FIELDS",
    "OP_SYMBOLS",
    "RULE_DATA",
    "MSG_TYPE_NAMES",
    "RuleField",
    "AuditRule",
    "parse_rule",
    "format_rule",
    "ProcessIdentity",
    "current_identity",
    "compare",
    "rule_outcomes",
    "DroppingRule",
    "dropping_rules",
    "ensure_no_dropping_rule",
]
