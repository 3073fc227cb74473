# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The record sent by libaudit.so.1 (audit_log_user_comm_message), as the audit userspace tools send theirs."""

from __future__ import annotations

import functools

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backend import AuditBackend
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.libaudit import LibAudit
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.record import UserRecord

# typing only for annotations: importing it costs each record ~3 ms on the target (plugin_utils/_writer/_program.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


@functools.lru_cache(maxsize=1)
def load_libaudit() -> LibAudit:
    """Loaded once per process: dlopen and the signature set-up cost more than sending a record.
    A failure (ImportError) is not cached, so a library installed meanwhile is found."""
    return LibAudit()


class LibauditBackend(AuditBackend):
    name = "libaudit"
    via = "libaudit.so.1"

    @classmethod
    def probe(cls) -> None:
        load_libaudit()

    def __init__(self, library: t.Optional[LibAudit] = None) -> None:
        self.library = library if library is not None else load_libaudit()
        self._fd = -1

    def send(self, record: UserRecord) -> int:
        if self._fd < 0:
            self._fd = self.library.audit_open()
        # The trailer values go in already resolved, so libaudit prints what
        # record.text says instead of resolving again.
        if record.comm is None:
            return self.library.audit_log_user_message(
                self._fd, record.msg_type, record.message, record.hostname, record.addr or "?",
                record.terminal or "?", record.success,
            )
        return self.library.audit_log_user_comm_message(
            self._fd, record.msg_type, record.message, record.comm, record.hostname, record.addr or "?",
            record.terminal or "?", record.success,
        )

    def close(self) -> None:
        if self._fd >= 0:
            self.library.audit_close(self._fd)
            self._fd = -1


__all__ = [
    "load_libaudit",
    "LibauditBackend",
]
