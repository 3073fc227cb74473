"""UserRecord: the text is what libaudit would build for the same input, and no input escapes as another error."""

from __future__ import annotations

import os
import socket

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record import record as record_module
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import AUDIT_USYS_CONFIG
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import build_message
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditError,
    AuditInvalidInputError,
    AuditRecordTooLongError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.record import (
    UserRecord,
    executable,
    resolve_addr,
    terminal_hostname,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.values import value_bytes
from ansible_collections.changeaudit.linux.tests.unit.plugins.module_utils._audit.libaudit_oracle import load_oracle

ORACLE = load_oracle()
needs_libaudit = pytest.mark.skipif(ORACLE is None, reason="libaudit.so.1 is not installed")


@pytest.fixture
def hostname(monkeypatch):
    """Sets what gethostname() answers for the record (libaudit asks once per process, so do we)."""

    def set_name(name):
        record_module._gethostname.cache_clear()
        monkeypatch.setattr(record_module.os, "uname", lambda: os.uname_result(("Linux", name, "r", "v", "m")))

    yield set_name
    record_module._gethostname.cache_clear()


# Values libaudit's own encoder decides alike (no ' or =, which we hex-encode and it does not).
LIBAUDIT_ALIKE = [
    {"object": "/etc/ssh/sshd_config", "ticket": "CHG-1234"},
    {"path": "/etc/app dir/x.conf", "note": 'say "hi"', "tab": "a\tb", "nul": "a\x00b", "del": "x\x7f"},
    {"utf8": "héllo ✓", "raw": b"\xff\xfe", "escaped": "\udcff", "empty": "", "num": 42, "flag": False},
    {"json": {"b": [1, 2], "a": None}, "float": 2.5, "nothing": None},
]
TRAILERS = [
    dict(comm="ansible", hostname=None, addr=None, terminal=None, success=True),
    dict(comm=None, hostname="web1.example.com", addr="10.0.0.1", terminal="pts/0", success=False),
    dict(comm="my-tool+1", hostname="ctl", addr="2001:db8::", terminal="ttyS0", success=True),
    dict(comm="c", hostname=None, addr="192.0.2.7", terminal="pts/3", success=True),
    dict(comm="c", hostname=None, addr=None, terminal="/dev/pts/3", success=True),
    dict(comm="c", hostname=None, addr=None, terminal="console", success=False),
]


@needs_libaudit
@pytest.mark.parametrize("fields", LIBAUDIT_ALIKE)
@pytest.mark.parametrize("trailer", TRAILERS)
def test_text_is_what_libaudit_builds(fields, trailer):
    # The real gethostname() on both sides: the oracle asks libc, as libaudit does.
    record = UserRecord("op-x", fields, **trailer)
    message = " ".join(["op=op-x"] + [ORACLE.audit_encode_nv_string(n, value_bytes(v)) for n, v in fields.items()])
    assert record.message == message
    expected = ORACLE.format_user_comm_message(
        message,
        None if trailer["comm"] is None else trailer["comm"].encode("ascii"),
        executable(),
        trailer["hostname"],
        record.addr,
        trailer["terminal"],
        trailer["success"],
    )
    assert record.text == expected


@needs_libaudit
def test_oracle_hostname_is_the_real_gethostname():
    record_module._gethostname.cache_clear()
    assert ORACLE.gethostname() == record_module._gethostname() == socket.gethostname()[:63]


@pytest.mark.parametrize("terminal", ["pts/0", "pts/12", "tty1", "ttyS0", "/dev/tty1", "/dev/pts/4"])
def test_no_hostname_but_a_terminal_writes_this_host(terminal, hostname):
    hostname("node-7.example")
    record = UserRecord("x", terminal=terminal)
    assert record.hostname == "node-7.example"
    assert " hostname=node-7.example addr=? terminal=%s res=success" % terminal in record.text
    # libaudit resolves only a hostname the caller gave.
    assert record.addr is None


@pytest.mark.parametrize("terminal", ["console", "console2", "x/pts", "hvc0", "x"])
def test_other_terminals_keep_hostname_unknown(terminal, hostname):
    hostname("node-7.example")
    assert UserRecord("x", terminal=terminal).hostname is None


def test_given_hostname_wins_over_the_local_one(hostname, monkeypatch):
    hostname("node-7.example")
    monkeypatch.setattr(record_module, "resolve_addr", lambda name: None)
    assert UserRecord("x", hostname="remote", terminal="pts/1").hostname == "remote"


def test_unset_hostname_is_written_as_the_kernel_names_it(hostname):
    hostname("(none)")
    assert " hostname=(none) " in UserRecord("x", terminal="pts/1").text


def test_local_name_is_cut_where_libaudit_cuts_it(hostname):
    hostname("h" * 64)
    assert UserRecord("x", terminal="pts/1").hostname == "h" * 63


@pytest.mark.parametrize("name", ["evil host", "x' res=failed", "h:", "é", "a,b", ""])
def test_a_local_name_that_could_forge_is_refused(name, hostname):
    hostname(name)
    with pytest.raises(AuditInvalidInputError, match="Give hostname"):
        UserRecord("x", terminal="pts/1")
    assert terminal_hostname("console") is None
    # With an explicit hostname the local name is never written.
    assert UserRecord("x", hostname="ok", addr="10.0.0.1", terminal="pts/1").hostname == "ok"


@pytest.mark.parametrize(
    "answer, written",
    [("fe80::1%eth0", "fe80::1"), ("2001:db8::", "2001:db8::0"), ("10.1.2.3", "10.1.2.3"), ("x' y", None)],
)
def test_resolved_addresses_are_validated_like_given_ones(monkeypatch, answer, written):
    monkeypatch.setattr(
        record_module.socket, "getaddrinfo", lambda *args: [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (answer, 0))]
    )
    assert resolve_addr("somewhere") == written


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(op="x", success="failed"), dict(op="x", success=1), dict(op="x", success=None),
        dict(op="x", msg_type=1000), dict(op="x", msg_type="1111"), dict(op="x", msg_type=True),
        dict(op=None), dict(op=5), dict(op="x", fields=["a"]), dict(op="x", fields={"a": {1}}),
        dict(op="x", comm=5), dict(op="x", comm="a b"), dict(op="x", hostname=["h"]), dict(op="x", hostname="h'"),
        dict(op="x", addr="fe80::1%x' res=failed"), dict(op="x", addr=0x7F000001), dict(op="x", terminal=b"pts/1"),
        dict(op="x", terminal="pts/1 res=failed"), dict(op="x", fields={"xuid": 0}), dict(op="x", fields={"a": "\ud800"}),
        dict(op="x", fields={"a": "y" * 8600}),
    ],
)
def test_every_bad_input_is_an_audit_error(kwargs):
    with pytest.raises(AuditError) as caught:
        UserRecord(**kwargs)
    assert isinstance(caught.value, (AuditInvalidInputError, AuditRecordTooLongError))


def test_a_record_of_the_maximum_length_is_accepted():
    base = UserRecord("x", {"v": ""}, comm="c", hostname="h", addr="10.0.0.1", terminal="t").text
    room = 8560 - len(base)
    assert len(UserRecord("x", {"v": "y" * room}, comm="c", hostname="h", addr="10.0.0.1", terminal="t").text) == 8560
    with pytest.raises(AuditRecordTooLongError):
        UserRecord("x", {"v": "y" * (room + 1)}, comm="c", hostname="h", addr="10.0.0.1", terminal="t")


def test_record_type_is_the_one_names_are_checked_for():
    assert UserRecord("x", {"path": "/"}).msg_type == AUDIT_USYS_CONFIG
    with pytest.raises(AuditInvalidInputError, match="ausearch"):
        UserRecord("x", {"path": "/"}, msg_type=2501)
    assert build_message("x", {"path": "/"}) == 'op=x path="/"'


@pytest.fixture
def terminal(monkeypatch):
    """Sets what fds 0-2 are (a tty name or None each) and what lstat() says about the name."""

    def set_fds(names, is_char=True, links=1):
        record_module.current_terminal.cache_clear()

        def ttyname(fd):
            if names[fd] is None:
                raise OSError(25, "Inappropriate ioctl for device")
            return names[fd]

        mode = 0o20620 if is_char else 0o100644
        monkeypatch.setattr(record_module.os, "ttyname", ttyname)
        monkeypatch.setattr(record_module.os, "lstat", lambda name: os.stat_result((mode, 0, 0, links, 0, 0, 0, 0, 0, 0)))

    yield set_fds
    record_module.current_terminal.cache_clear()


@pytest.mark.parametrize(
    "names, expected",
    [
        ((None, None, None), None),
        ((None, "/dev/pts/3", "/dev/pts/4"), "pts/3"),
        (("/dev/tty1", None, None), "tty1"),
        # Longer than libaudit's buffer: that fd is skipped, as ttyname_r() fails there.
        (("/dev/" + "x" * 40, "/dev/pts/5", None), "pts/5"),
        # A name that could end the field is not reported at all.
        (("/dev/pts/1 res=failed", None, None), None),
    ],
)
def test_the_terminal_is_the_first_std_fd_that_is_one(terminal, names, expected):
    terminal(names)
    assert record_module.current_terminal() == expected


def test_a_terminal_that_is_not_a_character_device_is_not_reported(terminal):
    terminal(("/dev/pts/1", None, None), is_char=False)
    assert record_module.current_terminal() is None


def test_the_terminal_fills_in_when_none_is_given(terminal, hostname):
    hostname("node-7")
    terminal((None, "/dev/pts/9", None))
    record = UserRecord("x")
    assert record.terminal == "pts/9"
    assert record.text.endswith(" hostname=node-7 addr=? terminal=pts/9 res=success")


def test_an_unreadable_executable_is_written_as_unknown(monkeypatch):
    def unreadable(path):
        raise PermissionError(13, "Permission denied")

    executable.cache_clear()
    monkeypatch.setattr(record_module.os, "readlink", unreadable)
    try:
        assert executable() == b""
        assert ' exe="?" ' in UserRecord("x", hostname="h", addr="10.0.0.1", terminal="t").text
    finally:
        executable.cache_clear()


@pytest.mark.parametrize("failure", [OSError("no network"), UnicodeError("label too long"), None])
def test_an_unresolvable_hostname_leaves_addr_unknown(monkeypatch, failure):
    def getaddrinfo(*args):
        if failure is not None:
            raise failure
        return []

    monkeypatch.setattr(record_module.socket, "getaddrinfo", getaddrinfo)
    assert resolve_addr("nowhere.invalid") is None
    assert resolve_addr("") is None and resolve_addr(None) is None
