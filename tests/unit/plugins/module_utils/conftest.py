"""A fake audit subsystem for the writer's tests: a kernel behind a real socket peer, the capabilities, auditd.conf
and libaudit. Nothing a test does with it reaches the host's audit subsystem."""

from __future__ import annotations

import os
import socket
import struct
import sys
import threading

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system import netlink
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.auditd_conf import parse_auditd_conf
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import AUDIT_GET, NLMSG_DONE, NLMSG_ERROR
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.rules import AUDIT_LIST_RULES

PACKAGE = "ansible_collections.changeaudit.linux.plugins.module_utils."
STATUS_ORDER = ("mask", "enabled", "failure", "pid", "rate_limit", "backlog_limit", "lost", "backlog",
                "feature_bitmap", "backlog_wait_time", "backlog_wait_time_actual")


def patch_everywhere(monkeypatch, name, replacement):
    """Replace ``name`` in every loaded module_utils module that imported it, wherever a refactor moves the caller."""
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith(PACKAGE) and module is not None and hasattr(module, name):
            monkeypatch.setattr(module, name, replacement)


class FakeKernel:
    """Answers NETLINK_AUDIT requests as kernel/audit.c does, on the peer end of one socketpair per connection.

    ``status`` is what AUDIT_GET returns (``pid`` is this process, so the daemon is alive); ``rules`` the
    rule payloads AUDIT_LIST_RULES lists; ``errors`` maps a request type to the errno the kernel refuses it with;
    ``lost_per_record`` is added to ``lost`` for each user record; ``log`` (a path) gets each record as auditd
    would write it.
    """

    def __init__(self):
        self.status = {"enabled": 1, "failure": 1, "pid": os.getpid(), "rate_limit": 0, "backlog_limit": 8192,
                       "lost": 0, "backlog": 0}
        self.rules = []
        self.errors = {}
        self.lost_per_record = 0
        self.log = None
        self.records = []
        self.requests = []
        self.connections = 0
        self._stop = threading.Event()
        self._threads = []
        self._serial = 100

    def open_socket(self, timeout=netlink.DEFAULT_TIMEOUT):
        mine, peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        mine.settimeout(timeout)
        peer.settimeout(0.05)
        self.connections += 1
        thread = threading.Thread(target=self._serve, args=(peer,), daemon=True)
        thread.start()
        self._threads.append(thread)
        return mine

    def _serve(self, peer):
        with peer:
            while not self._stop.is_set():
                try:
                    data = peer.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                for reply in self._answer(data):
                    try:
                        peer.send(reply)
                    except OSError:
                        return

    @staticmethod
    def _message(msg_type, seq, payload):
        return netlink.NLMSGHDR.pack(16 + len(payload), msg_type, 0, seq, 0) + payload

    def _ack(self, request, err):
        seq = netlink.NLMSGHDR.unpack_from(request)[3]
        return self._message(NLMSG_ERROR, seq, struct.pack("=i", -err) + request[:16])

    def _answer(self, request):
        _length, msg_type, _flags, seq, _pid = netlink.NLMSGHDR.unpack_from(request)
        self.requests.append(msg_type)
        if msg_type in self.errors:
            return [self._ack(request, self.errors[msg_type])]
        if msg_type == AUDIT_GET:
            values = [self.status.get(name, 0) for name in STATUS_ORDER]
            return [self._message(AUDIT_GET, seq, struct.pack("=11I", *values))]
        if msg_type == AUDIT_LIST_RULES:
            return [self._message(AUDIT_LIST_RULES, seq, rule) for rule in self.rules] + [self._message(NLMSG_DONE, seq, b"")]
        # A user message: the kernel drops the last byte (our NUL) and ACKs.
        text = request[16:].rstrip(b"\0").decode("utf-8", "surrogateescape")
        self.records.append((msg_type, text))
        self.status["lost"] = self.status.get("lost", 0) + self.lost_per_record
        if self.log is not None:
            self._serial += 1
            with open(self.log, "a", encoding="utf-8", errors="surrogateescape") as handle:
                handle.write("type=USYS_CONFIG msg=audit(1764075600.001:%d): pid=%d uid=0 auid=1000 ses=3 msg='%s'\n"
                             % (self._serial, os.getpid(), text))
        return [self._ack(request, 0)]

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(2)


class FakeLibAudit:
    """Stands in for libaudit.so.1: remembers each call, and sends nothing anywhere."""

    def __init__(self):
        self.calls = []
        self.fail_with = None

    def audit_open(self):
        self.calls.append(("audit_open",))
        return 42

    def audit_close(self, fd):
        self.calls.append(("audit_close", fd))

    def _sent(self, call):
        self.calls.append(call)
        if self.fail_with is not None:
            raise self.fail_with
        return 7

    def audit_log_user_message(self, fd, msg_type, message, hostname, addr, tty, result):
        return self._sent(("audit_log_user_message", fd, msg_type, message, hostname, addr, tty, result))

    def audit_log_user_comm_message(self, fd, msg_type, message, comm, hostname, addr, tty, result):
        return self._sent(("audit_log_user_comm_message", fd, msg_type, message, comm, hostname, addr, tty, result))


class FakeAudit:
    """The knobs of the fake audit subsystem a test turns (see the ``audit`` fixture)."""

    def __init__(self, tmp_path):
        self.kernel = FakeKernel()
        self.caps = {"cap_audit_write": True, "cap_audit_control": True}
        self.log = str(tmp_path / "audit.log")
        self.conf_path = str(tmp_path / "auditd.conf")
        self.conf_text = "write_logs = yes\nlog_file = %s\n" % self.log
        # None: libaudit.so.1 is not installed; else the FakeLibAudit every load returns.
        self.libaudit = None

    def use_libaudit(self):
        self.libaudit = FakeLibAudit()
        return self.libaudit

    def read_auditd_conf(self, path=None):
        if self.conf_text is None:
            return None
        return parse_auditd_conf(self.conf_text, self.conf_path)

    def load_libaudit(self, *args, **kwargs):
        if self.libaudit is None:
            raise ImportError("libaudit.so.1 cannot be loaded: libaudit.so.1: cannot open shared object file")
        return self.libaudit


def _clear_library_cache():
    for module_name, module in list(sys.modules.items()):
        cached = getattr(getattr(module, "load_libaudit", None), "cache_clear", None)
        if module_name.startswith(PACKAGE) and cached is not None:
            cached()


@pytest.fixture
def audit(monkeypatch, tmp_path):
    """A fake audit subsystem: the netlink socket has a fake kernel behind it, the process holds CAP_AUDIT_WRITE,
    auditd.conf says write_logs = yes, and libaudit is missing unless the test calls ``audit.use_libaudit()``."""
    fake = FakeAudit(tmp_path)
    open(fake.log, "w").close()
    monkeypatch.setattr(netlink, "open_audit_socket", fake.kernel.open_socket)
    patch_everywhere(monkeypatch, "process_capabilities", lambda *args, **kwargs: dict(fake.caps))
    patch_everywhere(monkeypatch, "read_auditd_conf", fake.read_auditd_conf)
    patch_everywhere(monkeypatch, "LibAudit", fake.load_libaudit)
    _clear_library_cache()
    yield fake
    fake.kernel.stop()
    _clear_library_cache()
