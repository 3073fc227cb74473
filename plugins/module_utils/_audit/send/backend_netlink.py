# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The record sent over NETLINK_AUDIT by this package: needs nothing but the kernel."""

from __future__ import annotations

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backend import AuditBackend
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.netlink import NetlinkAuditConnection
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.record import UserRecord

# typing only for annotations: importing it costs each record ~3 ms on the target (plugin_utils/_writer/_program.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


class NetlinkBackend(AuditBackend):
    name = "netlink"
    via = "NETLINK_AUDIT"

    def __init__(self, connection: t.Optional[NetlinkAuditConnection] = None) -> None:
        self._connection = connection

    def send(self, record: UserRecord) -> int:
        if self._connection is None:
            self._connection = NetlinkAuditConnection()
        return self._connection.send_user_message(record.msg_type, record.text)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


__all__ = [
    "NetlinkBackend",
]
