"""Every backend name comes from the registry: selection, its messages and the availability report.

The docs that list the names are checked against it in tests/unit/plugins/doc_fragments/test_docs_match_specs.py,
which runs on the controller (it reads YAML and the callback plugin; tests here run as target code).
"""

from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send import backend_libaudit, backends
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backend import AuditBackend
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backend_libaudit import LibauditBackend
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backend_netlink import NetlinkBackend
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditBackendUnavailableError,
    AuditInvalidInputError,
    AuditUnavailableError,
)

MISSING = "libaudit.so.1 cannot be loaded: libaudit.so.1: cannot open shared object file: No such file or directory"


class FakeLibrary:
    """Stands in for the loaded libaudit.so.1: selection only constructs the backend, it sends nothing."""


@pytest.fixture(name="without_libaudit")
def fixture_without_libaudit(monkeypatch):
    def missing():
        raise ImportError(MISSING)

    monkeypatch.setattr(backend_libaudit, "load_libaudit", missing)


@pytest.fixture(name="with_libaudit")
def fixture_with_libaudit(monkeypatch):
    library = FakeLibrary()
    monkeypatch.setattr(backend_libaudit, "load_libaudit", lambda: library)
    return library


def test_registry_order_and_names():
    assert list(backends.BACKENDS) == ["libaudit", "netlink"]
    assert backends.BACKEND_NAMES == ("auto", "libaudit", "netlink")
    for name, backend in backends.BACKENDS.items():
        assert backend.name == name
        assert issubclass(backend, AuditBackend)
        assert backend.via


def test_last_backend_needs_nothing_the_host_may_lack(without_libaudit):
    """auto relies on it: the last backend in the registry is its fallback of last resort."""
    last = list(backends.BACKENDS.values())[-1]
    last.probe()
    with last() as backend:
        assert backend.name == last.name


def test_unknown_backend_hint_names_every_choice():
    with pytest.raises(AuditInvalidInputError) as caught:
        backends.select_backend("systemd")
    assert caught.value.reason == "Unknown backend 'systemd'"
    assert caught.value.hint == "Use auto, libaudit or netlink"
    assert str(caught.value) == "Unknown backend 'systemd'. Use auto, libaudit or netlink."


def test_auto_prefers_libaudit(with_libaudit):
    chosen, fallback = backends.select_backend("auto")
    assert isinstance(chosen, LibauditBackend)
    assert chosen.library is with_libaudit
    assert fallback is None
    assert backends.select_backend()[1] is None


def test_auto_falls_back_to_netlink_and_says_why(without_libaudit):
    chosen, fallback = backends.select_backend("auto")
    assert isinstance(chosen, NetlinkBackend)
    assert fallback == "libaudit is not available (%s); records are sent over NETLINK_AUDIT" % MISSING


@pytest.mark.parametrize("fixture", ["with_libaudit", "without_libaudit"])
def test_explicit_netlink_never_falls_back(request, fixture):
    request.getfixturevalue(fixture)
    chosen, fallback = backends.select_backend("netlink")
    assert isinstance(chosen, NetlinkBackend)
    assert fallback is None


def test_explicit_libaudit(with_libaudit):
    chosen, fallback = backends.select_backend("libaudit")
    assert isinstance(chosen, LibauditBackend)
    assert fallback is None


def test_explicit_libaudit_missing_fails_naming_the_package(without_libaudit):
    with pytest.raises(AuditBackendUnavailableError) as caught:
        backends.select_backend("libaudit")
    assert caught.value.reason == "backend libaudit was requested but %s" % MISSING
    assert "apt-get install libaudit1" in caught.value.hint and "dnf install audit-libs" in caught.value.hint
    assert isinstance(caught.value, AuditUnavailableError)


def test_available_backends_with_libaudit(with_libaudit):
    assert backends.available_backends() == {
        "libaudit": {"available": True, "reason": None},
        "netlink": {"available": True, "reason": None},
    }


def test_available_backends_without_libaudit(without_libaudit):
    report = backends.available_backends()
    assert list(report) == list(backends.BACKENDS)
    assert report == {
        "libaudit": {"available": False, "reason": MISSING},
        "netlink": {"available": True, "reason": None},
    }


@pytest.mark.parametrize("name", ["", "Auto", "ctypes", None])
def test_unknown_backend_is_refused_naming_the_choices(name):
    with pytest.raises(AuditInvalidInputError, match="Unknown backend .*Use auto, libaudit or netlink"):
        backends.select_backend(name)


def test_netlink_never_loads_libaudit(audit):
    library = audit.use_libaudit()
    backend, fallback = backends.select_backend("netlink")
    assert (backend.name, fallback) == ("netlink", None)
    assert library.calls == []
