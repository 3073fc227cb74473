# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""What every audit backend offers (backend_libaudit.py, backend_netlink.py implement it; backends.py chooses)."""

from __future__ import annotations

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.record import UserRecord

# typing only for annotations: importing it costs each record ~3 ms on the target (plugin_utils/_writer/_program.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


class AuditBackend:
    """What every backend offers: send one record, get the kernel's sequence number back."""

    name = ""
    # What the record travels through, named in the fallback reason.
    via = ""

    @classmethod
    def probe(cls) -> None:
        """Raise ImportError, as constructing the backend would, when this host lacks what it needs."""

    def send(self, record: UserRecord) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "AuditBackend":
        return self

    def __exit__(self, *exc_info: t.Any) -> None:
        self.close()


__all__ = [
    "AuditBackend",
]
