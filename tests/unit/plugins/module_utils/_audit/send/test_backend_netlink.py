"""The netlink backend: the connection is opened on the first record, reused, and closed once."""

from __future__ import annotations

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backend_netlink import NetlinkBackend
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.record import UserRecord


class FakeConnection:
    def __init__(self):
        self.sent = []
        self.closed = 0

    def send_user_message(self, msg_type, text):
        self.sent.append((msg_type, text))
        return len(self.sent)

    def close(self):
        self.closed += 1


def test_sends_the_records_text_and_closes_its_connection_once():
    connection = FakeConnection()
    record = UserRecord("unit-netlink", {"object": "/etc/app.conf"})
    with NetlinkBackend(connection) as backend:
        assert backend.send(record) == 1
        assert backend.send(record) == 2
        backend.close()
    assert connection.sent == [(record.msg_type, record.text)] * 2
    assert connection.closed == 1


def test_opens_its_own_connection_on_the_first_record(audit):
    record = UserRecord("unit-netlink", {"object": "/etc/app.conf"})
    with NetlinkBackend() as backend:
        assert backend.send(record) == 1
    assert audit.kernel.records == [(record.msg_type, record.text)]
