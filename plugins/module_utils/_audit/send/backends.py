# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The backends by name: the registry every backend name comes from, and the choice of one for a write."""

from __future__ import annotations

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backend import AuditBackend
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backend_libaudit import LibauditBackend
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backend_netlink import NetlinkBackend
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditBackendUnavailableError, AuditInvalidInputError

# typing only for annotations: importing it costs each record ~3 ms on the target (plugin_utils/_writer/_program.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


AUTO = "auto"
# The registry every backend name comes from: select_backend, its messages, available_backends and the
# modules' choices. auto tries the backends in this order, so the last one must need nothing a host may lack.
BACKENDS: t.Dict[str, t.Type[AuditBackend]] = {cls.name: cls for cls in (LibauditBackend, NetlinkBackend)}
BACKEND_NAMES: t.Tuple[str, ...] = (AUTO,) + tuple(BACKENDS)


def _one_of(names: t.Sequence[str]) -> str:
    return "%s or %s" % (", ".join(names[:-1]), names[-1]) if len(names) > 1 else "".join(names)


def select_backend(requested: str = AUTO) -> t.Tuple[AuditBackend, t.Optional[str]]:
    """Return (backend, fallback reason). ``auto`` takes the first registered backend this host can load."""
    if requested not in BACKEND_NAMES:
        raise AuditInvalidInputError("Unknown backend %r" % (requested,), hint="Use %s" % _one_of(BACKEND_NAMES))
    if requested != AUTO:
        try:
            return BACKENDS[requested](), None
        except ImportError as exc:
            raise AuditBackendUnavailableError("backend %s was requested but %s" % (requested, exc)) from None
    missing = []
    for name, backend in BACKENDS.items():
        try:
            chosen = backend()
        except ImportError as exc:
            missing.append("%s is not available (%s)" % (name, exc))
            continue
        return chosen, ("%s; records are sent over %s" % ("; ".join(missing), backend.via) if missing else None)
    raise AuditBackendUnavailableError("no audit backend can be used: %s" % "; ".join(missing))


def available_backends() -> t.Dict[str, t.Dict[str, t.Any]]:
    available = {}
    for name, backend in BACKENDS.items():
        try:
            backend.probe()
        except ImportError as exc:
            available[name] = {"available": False, "reason": str(exc)}
        else:
            available[name] = {"available": True, "reason": None}
    return available


__all__ = [
    "AUTO",
    "BACKENDS",
    "BACKEND_NAMES",
    "select_backend",
    "available_backends",
]
