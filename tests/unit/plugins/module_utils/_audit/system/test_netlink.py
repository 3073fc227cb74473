"""The netlink backend against a fake kernel: a real datagram socket peer that answers like kernel/audit.c."""

from __future__ import annotations

import errno
import socket
import struct
import threading

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system import netlink as nl
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import (
    AUDIT_GET,
    AUDIT_USYS_CONFIG,
    NLM_F_ACK,
    NLM_F_REQUEST,
    NLMSG_ERROR,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditNamespaceError,
    AuditNotInKernelError,
    AuditPermissionError,
    AuditProtocolError,
)


class FakeKernel:
    """Answers each request on the peer end of a socketpair; records what it received."""

    def __init__(self, answer):
        self.mine, self.peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.mine.settimeout(2)
        self.received = []
        self._answer = answer
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        data = self.peer.recv(65536)
        self.received.append(data)
        for reply in self._answer(data):
            self.peer.send(reply)

    def join(self):
        self._thread.join(2)


def header(data):
    return nl.NLMSGHDR.unpack_from(data)


def error_reply(request, err, seq_offset=0):
    length, msg_type, flags, seq, pid = header(request)
    payload = struct.pack("=i", -err) + request[:16]
    return nl.NLMSGHDR.pack(16 + len(payload), NLMSG_ERROR, 0, seq + seq_offset, 0) + payload


def test_user_message_is_packed_like_libaudit_with_trailing_nul():
    kernel = FakeKernel(lambda req: [error_reply(req, 0)])
    conn = nl.NetlinkAuditConnection(sock=kernel.mine)
    seq = conn.send_user_message(AUDIT_USYS_CONFIG, "op=x res=success")
    kernel.join()
    request = kernel.received[0]
    length, msg_type, flags, req_seq, pid = header(request)
    assert msg_type == AUDIT_USYS_CONFIG
    assert flags == NLM_F_REQUEST | NLM_F_ACK
    assert req_seq == seq and pid == 0
    # NLMSG_SPACE(strlen + 1), as libaudit's __audit_send() sets nlmsg_len: the padding is counted.
    assert length == (16 + len(b"op=x res=success\0") + 3) & ~3 == len(request)
    assert request[16:length] == b"op=x res=success\0" + b"\0" * (length - 16 - 17)
    assert len(request) % 4 == 0


@pytest.mark.parametrize(
    "err, error_class",
    [(errno.EPERM, AuditPermissionError), (errno.ECONNREFUSED, AuditNamespaceError)],
)
def test_nack_becomes_the_matching_error(err, error_class):
    kernel = FakeKernel(lambda req: [error_reply(req, err)])
    with pytest.raises(error_class) as caught:
        nl.NetlinkAuditConnection(sock=kernel.mine).send_user_message(AUDIT_USYS_CONFIG, "op=x")
    assert caught.value.errno == err
    assert caught.value.hint


def test_replies_to_other_sequence_numbers_are_skipped():
    kernel = FakeKernel(lambda req: [error_reply(req, errno.EPERM, seq_offset=5), error_reply(req, 0)])
    assert nl.NetlinkAuditConnection(sock=kernel.mine).send_user_message(AUDIT_USYS_CONFIG, "op=x") == 1


def test_several_messages_in_one_datagram():
    kernel = FakeKernel(lambda req: [error_reply(req, 0, seq_offset=9) + error_reply(req, 0)])
    assert nl.NetlinkAuditConnection(sock=kernel.mine).send_user_message(AUDIT_USYS_CONFIG, "op=x") == 1


def test_status_is_read_from_the_audit_get_reply():
    status = struct.pack("=11I", 0, 1, 1, 4242, 0, 8192, 7, 3, 127, 60000, 0)

    def answer(req):
        _length, msg_type, flags, seq, _pid = header(req)
        assert msg_type == AUDIT_GET and flags == NLM_F_REQUEST
        return [nl.NLMSGHDR.pack(16 + len(status), AUDIT_GET, 0, seq, 0) + status]

    kernel = FakeKernel(answer)
    got = nl.NetlinkAuditConnection(sock=kernel.mine).get_status()
    assert got["enabled"] == 1 and got["pid"] == 4242 and got["lost"] == 7 and got["backlog_limit"] == 8192
    assert "mask" not in got


def test_old_kernels_short_status_is_accepted():
    status = struct.pack("=8I", 0, 1, 1, 99, 0, 64, 0, 0)
    kernel = FakeKernel(lambda req: [nl.NLMSGHDR.pack(16 + len(status), AUDIT_GET, 0, header(req)[3], 0) + status])
    got = nl.NetlinkAuditConnection(sock=kernel.mine).get_status()
    assert got["pid"] == 99 and "backlog_wait_time" not in got


def test_malformed_reply_is_a_protocol_error():
    kernel = FakeKernel(lambda req: [nl.NLMSGHDR.pack(400, NLMSG_ERROR, 0, header(req)[3], 0) + b"\0" * 8])
    with pytest.raises(AuditProtocolError, match="Malformed"):
        nl.NetlinkAuditConnection(sock=kernel.mine).send_user_message(AUDIT_USYS_CONFIG, "op=x")


def test_silent_kernel_times_out_with_a_clear_error():
    kernel = FakeKernel(lambda req: [])
    kernel.mine.settimeout(0.2)
    with pytest.raises(AuditProtocolError, match="timed out"):
        nl.NetlinkAuditConnection(sock=kernel.mine).send_user_message(AUDIT_USYS_CONFIG, "op=x")


@pytest.mark.parametrize("err", [errno.EPROTONOSUPPORT, errno.EAFNOSUPPORT])
def test_kernel_without_audit(monkeypatch, err):
    def no_audit(*args):
        raise OSError(err, "no audit")

    monkeypatch.setattr(nl.socket, "socket", no_audit)
    with pytest.raises(AuditNotInKernelError) as caught:
        nl.NetlinkAuditConnection()
    assert "CONFIG_AUDIT" in str(caught.value)


@pytest.mark.parametrize("size", range(0, 9))
def test_nlmsg_len_is_nlmsg_space(size):
    packed = nl.pack_message(AUDIT_USYS_CONFIG, b"x" * size, 1)
    length = header(packed)[0]
    assert length == (16 + size + 3) & ~3 == len(packed)


NETLINK_USERSOCK = 2


def test_replies_from_another_process_are_ignored():
    """A user-space netlink peer (port id != 0) answers with an ACK: it is not the kernel, so it is not believed."""
    mine = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_USERSOCK)
    other = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_USERSOCK)
    try:
        mine.bind((0, 0))
        other.bind((0, 0))
        mine.connect(other.getsockname())
        mine.settimeout(0.3)
        other.settimeout(2)

        def forge():
            request, sender = other.recvfrom(65536)
            for _copy in range(3):
                other.sendto(error_reply(request, 0), sender)

        thread = threading.Thread(target=forge, daemon=True)
        thread.start()
        with pytest.raises(AuditProtocolError, match="timed out"):
            nl.NetlinkAuditConnection(sock=mine).send_user_message(AUDIT_USYS_CONFIG, "op=x")
        thread.join(2)
    finally:
        mine.close()
        other.close()


def test_audit_socket_is_opened_close_on_exec(monkeypatch):
    opened = []

    def fake_socket(family, kind, proto):
        opened.append((family, kind, proto))
        raise OSError(errno.EPROTONOSUPPORT, "stop here")

    monkeypatch.setattr(nl.socket, "socket", fake_socket)
    with pytest.raises(AuditNotInKernelError):
        nl.open_audit_socket()
    assert opened[0][1] & socket.SOCK_CLOEXEC
