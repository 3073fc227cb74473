"""Loaded audit rules: struct audit_rule_data as the kernel lists it, auditctl's text, and audit_filter()."""

from __future__ import annotations

import errno
import os
import socket
import struct
import threading

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system import netlink as nl
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system import rules as r
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditPermissionError,
    AuditProtocolError,
    AuditRuleDropsRecordError,
    AuditUnavailableError,
)

NLMSG_DONE = 3
NLMSG_ERROR = 2
OPS = {"=": 0x40000000, "!=": 0x30000000, "<": 0x10000000, ">": 0x20000000, "<=": 0x50000000,
       ">=": 0x60000000, "&": 0x08000000, "&=": 0x48000000}
NAMES = {"pid": 0, "uid": 1, "euid": 2, "gid": 5, "auid": 9, "msgtype": 12, "subj_type": 15, "ppid": 18,
         "loginuid_set": 24, "sessionid": 25, "exe": 112, "key": 210, "a0": 200, "perm": 106, "path": 105}
STRINGS = {"subj_type", "exe", "key", "path"}


def pack_rule(listnr, action, fields, flags_extra=0):
    """struct audit_rule_data bytes, packed field by field the way kernel/auditfilter.c audit_krule_to_data does.

    ``fields`` are (name, operator, value); string values go to buf, their length to values[].
    """
    kinds, values, ops, buf = [], [], [], b""
    for name, op, value in fields:
        kinds.append(NAMES[name])
        ops.append(OPS[op])
        if name in STRINGS:
            data = value.encode()
            buf += data
            values.append(len(data))
        else:
            values.append(value & 0xFFFFFFFF)
    pad = [0] * (64 - len(fields))
    head = struct.pack("=3I", listnr | flags_extra, action, len(fields)) + struct.pack("=64I", *([0] * 64))
    body = struct.pack("=64I", *(kinds + pad)) + struct.pack("=64I", *(values + pad)) + struct.pack("=64I", *(ops + pad))
    return head + body + struct.pack("=I", len(buf)) + buf


ME = r.ProcessIdentity(pid=4242, uid=0, gid=0, loginuid=1000, exe=(64769, 1234))
EXCLUDE, USER, NEVER, ALWAYS = 5, 0, 0, 2


def parsed(listnr, action, *fields):
    return r.parse_rule(pack_rule(listnr, action, list(fields)))


@pytest.mark.parametrize(
    "listnr, action, fields, text",
    [
        (EXCLUDE, ALWAYS, [("msgtype", "=", 1111)], "-a always,exclude -F msgtype=USYS_CONFIG"),
        (EXCLUDE, ALWAYS, [("msgtype", ">=", 1100)], "-a always,exclude -F msgtype>=USER_AUTH"),
        (EXCLUDE, NEVER, [("msgtype", "!=", 1300), ("auid", "=", -1)],
         "-a never,exclude -F msgtype!=SYSCALL -F auid=-1"),
        (USER, NEVER, [("uid", "=", 0), ("msgtype", "<=", 1199)], "-a never,user -F uid=0 -F msgtype<=1199"),
        (USER, NEVER, [("exe", "=", "/usr/bin/python3.11"), ("key", "=", "a\x01b")],
         "-a never,user -F exe=/usr/bin/python3.11 -F key=a -F key=b"),
        (USER, ALWAYS, [("subj_type", "=", "unconfined_t")], "-a always,user -F subj_type=unconfined_t"),
        (USER, NEVER, [("euid", "=", 0), ("a0", "=", 5)], "-a never,user -F euid=0 -F a0=0x5"),
        (4, ALWAYS, [("path", "=", "/etc/shadow"), ("perm", "=", 10)], "-a always,exit -F path=/etc/shadow -F perm=wa"),
        (USER, NEVER, [], "-a never,user"),
    ],
)
def test_rules_read_back_as_auditctl_prints_them(listnr, action, fields, text):
    assert parsed(listnr, action, *fields).text == text


def test_prepended_rule_keeps_its_list():
    rule = r.parse_rule(pack_rule(EXCLUDE, ALWAYS, [("msgtype", "=", 1111)], flags_extra=0x10))
    assert rule.list == EXCLUDE and rule.text == "-a always,exclude -F msgtype=USYS_CONFIG"


@pytest.mark.parametrize("payload", [b"\0" * 100, struct.pack("=3I", 5, 2, 65) + b"\0" * 1028])
def test_malformed_rule_is_a_protocol_error(payload):
    with pytest.raises(AuditProtocolError):
        r.parse_rule(payload)


def test_string_longer_than_the_buffer_is_a_protocol_error():
    data = bytearray(pack_rule(USER, NEVER, [("exe", "=", "/bin/sh")]))
    struct.pack_into("=I", data, r.RULE_DATA.size - 4, 50)
    with pytest.raises(AuditProtocolError):
        r.parse_rule(bytes(data))


def drops(*rules):
    return [(item.rule.text, item.certain) for item in r.dropping_rules(rules, 1111, ME)]


EXCL_USYS = parsed(EXCLUDE, ALWAYS, ("msgtype", "=", 1111))


@pytest.mark.parametrize(
    "rules, expected",
    [
        # The four shapes of issue 8.
        ([EXCL_USYS], [("-a always,exclude -F msgtype=USYS_CONFIG", True)]),
        ([parsed(EXCLUDE, ALWAYS, ("msgtype", ">=", 1100))], [("-a always,exclude -F msgtype>=USER_AUTH", True)]),
        ([parsed(USER, NEVER, ("uid", "=", 0))], [("-a never,user -F uid=0", True)]),
        ([parsed(EXCLUDE, NEVER, ("msgtype", "=", 1111))], [("-a never,exclude -F msgtype=USYS_CONFIG", True)]),
        # Ranges that do not hold 1111, and other types.
        ([parsed(EXCLUDE, ALWAYS, ("msgtype", ">", 1111))], []),
        ([parsed(EXCLUDE, ALWAYS, ("msgtype", "=", 1300))], []),
        ([parsed(EXCLUDE, ALWAYS, ("msgtype", "!=", 1111))], []),
        ([parsed(EXCLUDE, ALWAYS, ("msgtype", ">=", 1100), ("msgtype", "<=", 1199))],
         [("-a always,exclude -F msgtype>=USER_AUTH -F msgtype<=1199", True)]),
        # A rule without fields never matches (result starts at 0 in audit_filter).
        ([parsed(USER, NEVER)], []),
        ([parsed(EXCLUDE, NEVER)], []),
        # always on the user list keeps the record and ends the list.
        ([parsed(USER, ALWAYS, ("msgtype", "=", 1111)), parsed(USER, NEVER, ("msgtype", "=", 1111))], []),
        ([parsed(USER, NEVER, ("msgtype", "=", 1111)), parsed(USER, ALWAYS, ("msgtype", "=", 1111))],
         [("-a never,user -F msgtype=USYS_CONFIG", True)]),
        # always on a list that is not ours does nothing here.
        ([parsed(4, ALWAYS, ("path", "=", "/etc/shadow"))], []),
        # A field audit_filter() does not evaluate stops the whole filter: the record is kept.
        ([parsed(USER, NEVER, ("euid", "=", 0))], []),
        ([parsed(USER, NEVER, ("euid", "=", 0)), parsed(USER, NEVER, ("msgtype", "=", 1111))], []),
        ([parsed(USER, NEVER, ("msgtype", "=", 1111), ("sessionid", "=", 1))], []),
        # ... unless an earlier field already failed to match, which ends only that rule.
        ([parsed(USER, NEVER, ("uid", "=", 5), ("euid", "=", 0)), parsed(USER, NEVER, ("msgtype", "=", 1111))],
         [("-a never,user -F msgtype=USYS_CONFIG", True)]),
        # Conditions on this process.
        ([parsed(USER, NEVER, ("pid", "=", 4242))], [("-a never,user -F pid=4242", True)]),
        ([parsed(USER, NEVER, ("pid", "=", 1))], []),
        ([parsed(USER, NEVER, ("gid", "!=", 0))], []),
        ([parsed(USER, NEVER, ("auid", "=", 1000))], [("-a never,user -F auid=1000", True)]),
        ([parsed(USER, NEVER, ("auid", ">=", 1000), ("auid", "!=", -1))],
         [("-a never,user -F auid>=1000 -F auid!=-1", True)]),
        ([parsed(USER, NEVER, ("auid", "=", -1))], []),
        ([parsed(USER, NEVER, ("loginuid_set", "=", 1))], [("-a never,user f24=1", True)]),
        ([parsed(EXCLUDE, NEVER, ("uid", "&", 0))], []),
        # An LSM label cannot be decided here: may match.
        ([parsed(EXCLUDE, ALWAYS, ("subj_type", "=", "unconfined_t"))],
         [("-a always,exclude -F subj_type=unconfined_t", False)]),
        # Every dropping rule is named, since deleting one leaves the next.
        ([EXCL_USYS, parsed(EXCLUDE, NEVER, ("uid", "=", 0))],
         [("-a always,exclude -F msgtype=USYS_CONFIG", True), ("-a never,exclude -F uid=0", True)]),
        # A rule that may keep the record makes the later ones uncertain.
        ([parsed(USER, ALWAYS, ("subj_type", "=", "x_t")), parsed(USER, NEVER, ("uid", "=", 0))],
         [("-a never,user -F uid=0", False)]),
    ],
)
def test_which_rules_drop_the_record(rules, expected):
    assert drops(*rules) == expected


def test_exe_is_compared_by_file_like_the_kernel(tmp_path):
    exe = tmp_path / "python"
    exe.write_text("")
    link = tmp_path / "python3"
    link.symlink_to(exe)
    info = os.stat(exe)
    who = ME._replace(exe=(info.st_dev, info.st_ino))
    on_link = parsed(USER, NEVER, ("exe", "=", str(link)))
    other = parsed(USER, NEVER, ("exe", "=", str(tmp_path / "missing")))
    negated = parsed(USER, NEVER, ("exe", "!=", str(exe)))
    assert [d.certain for d in r.dropping_rules([on_link], 1111, who)] == [True]
    assert r.dropping_rules([other, negated], 1111, who) == []
    assert [d.certain for d in r.dropping_rules([on_link], 1111, who._replace(exe=None))] == [False]


def test_current_identity_reads_this_process():
    who = r.current_identity()
    assert who.pid == os.getpid() and who.uid == os.getuid() and who.gid == os.getgid()
    assert who.exe == (os.stat("/proc/self/exe").st_dev, os.stat("/proc/self/exe").st_ino)


def test_refusal_names_the_rule_and_the_fix():
    with pytest.raises(AuditRuleDropsRecordError) as caught:
        r.ensure_no_dropping_rule([EXCL_USYS], 1111, ME)
    exc = caught.value
    assert isinstance(exc, AuditUnavailableError), "on_unavailable: warn must be able to downgrade it"
    text = str(exc)
    assert "'-a always,exclude -F msgtype=USYS_CONFIG' drops it" in text
    assert "'auditctl -d always,exclude -F msgtype=USYS_CONFIG'" in text
    assert "/etc/audit/rules.d" in text and "augenrules --load" in text
    assert exc.as_dict()["rules"] == [
        {"rule": "-a always,exclude -F msgtype=USYS_CONFIG", "list": "exclude", "certain": True}
    ]
    r.ensure_no_dropping_rule([parsed(EXCLUDE, ALWAYS, ("msgtype", "=", 1300))], 1111, ME)


@pytest.mark.parametrize(
    "op, left, right, expected",
    [("=", 1, 1, True), ("!=", 1, 1, False), ("<", 1, 2, True), (">", 0xFFFFFFFF, 1, True),
     ("<=", 2, 2, True), (">=", 1, 2, False), ("&", 6, 2, True), ("&=", 6, 3, False), ("&=", 7, 3, True)],
)
def test_comparator_is_unsigned_32_bit(op, left, right, expected):
    assert r.compare(left, OPS[op], right) is expected


class ListingKernel:
    """Answers AUDIT_LIST_RULES on a socketpair the way kernel/auditfilter.c does: one message per rule, then DONE."""

    def __init__(self, rules, err=0):
        self.mine, self.peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.mine.settimeout(2)
        self.request = None
        threading.Thread(target=self._serve, args=(rules, err), daemon=True).start()

    def _serve(self, rules, err):
        data = self.peer.recv(65536)
        self.request = data
        _length, _type, _flags, seq, _pid = nl.NLMSGHDR.unpack_from(data)
        if err:
            payload = struct.pack("=i", -err) + data[:16]
            self.peer.send(nl.NLMSGHDR.pack(16 + len(payload), NLMSG_ERROR, 0, seq, 0) + payload)
            return
        for rule in rules:
            self.peer.send(nl.NLMSGHDR.pack(16 + len(rule), r.AUDIT_LIST_RULES, 2, seq, 0) + rule)
        self.peer.send(nl.NLMSGHDR.pack(16, NLMSG_DONE, 2, seq, 0))


def test_list_rules_reads_every_part_until_done():
    kernel = ListingKernel([pack_rule(EXCLUDE, ALWAYS, [("msgtype", "=", 1111)]),
                            pack_rule(USER, NEVER, [("uid", "=", 0)])])
    rules = nl.NetlinkAuditConnection(sock=kernel.mine).list_rules()
    assert [rule.text for rule in rules] == ["-a always,exclude -F msgtype=USYS_CONFIG", "-a never,user -F uid=0"]
    _length, msg_type, flags, _seq, _pid = nl.NLMSGHDR.unpack_from(kernel.request)
    # No NLM_F_ACK: the kernel lists from a thread, an ACK could come first.
    assert msg_type == r.AUDIT_LIST_RULES and flags == 1


def test_list_rules_without_cap_audit_control_is_a_permission_error():
    kernel = ListingKernel([], err=errno.EPERM)
    with pytest.raises(AuditPermissionError):
        nl.NetlinkAuditConnection(sock=kernel.mine).list_rules()
