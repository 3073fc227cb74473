"""The production ctypes binding: only the symbols production calls, and a close-on-exec audit fd."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system import libaudit as libaudit_module
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.libaudit import SIGNATURES, LibAudit

PRODUCTION_CALLS = {"audit_open", "audit_close", "audit_log_user_comm_message", "audit_log_user_message"}


class Symbol:
    def __init__(self, result=0):
        self.result = result
        self.calls = []

    def __call__(self, *args):
        self.calls.append(args)
        return self.result


class FakeLibrary:
    """A libaudit.so.1 with only the production symbols (a build without the encoder's)."""

    def __init__(self, fd=-1):
        self.audit_open = Symbol(fd)
        self.audit_close = Symbol(None)
        self.audit_log_user_comm_message = Symbol(1)
        self.audit_log_user_message = Symbol(1)


def test_only_what_production_calls_is_bound():
    assert set(SIGNATURES) == PRODUCTION_CALLS


def test_a_library_without_test_only_symbols_still_loads(monkeypatch):
    fake = FakeLibrary()
    monkeypatch.setattr(libaudit_module.ctypes, "CDLL", lambda *args, **kwargs: fake)
    assert LibAudit().soname == "libaudit.so.1"


def test_a_missing_production_symbol_is_an_import_error(monkeypatch):
    fake = FakeLibrary()
    del fake.audit_log_user_message
    monkeypatch.setattr(libaudit_module.ctypes, "CDLL", lambda *args, **kwargs: fake)
    with pytest.raises(ImportError, match="audit_log_user_message"):
        LibAudit()


def test_missing_library_is_an_import_error(monkeypatch):
    def missing(*args, **kwargs):
        raise OSError("libaudit.so.1: cannot open shared object file")

    monkeypatch.setattr(libaudit_module.ctypes, "CDLL", missing)
    with pytest.raises(ImportError, match="cannot be loaded"):
        LibAudit()


def test_the_audit_fd_is_made_close_on_exec(monkeypatch):
    # libaudit versions differ on FD_CLOEXEC; the binding sets it whatever audit_open() did.
    read_end, write_end = os.pipe()
    os.set_inheritable(read_end, True)
    try:
        monkeypatch.setattr(libaudit_module.ctypes, "CDLL", lambda *args, **kwargs: FakeLibrary(read_end))
        assert LibAudit().audit_open() == read_end
        assert fcntl.fcntl(read_end, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_failing_fcntl_closes_the_fd_and_is_an_audit_error(monkeypatch):
    read_end, write_end = os.pipe()
    os.close(read_end)
    os.close(write_end)
    fake = FakeLibrary(read_end)
    monkeypatch.setattr(libaudit_module.ctypes, "CDLL", lambda *args, **kwargs: fake)
    with pytest.raises(AuditError) as caught:
        LibAudit().audit_open()
    assert caught.value.errno == errno.EBADF
    assert fake.audit_close.calls == [(read_end,)]


@pytest.mark.skipif(not os.path.exists("/proc/self/fd"), reason="needs /proc")
def test_real_library_loads_with_the_production_table():
    try:
        lib = LibAudit()
    except ImportError:
        pytest.skip("libaudit.so.1 is not installed")
    assert isinstance(lib._lib, ctypes.CDLL)
    assert not hasattr(lib, "audit_encode_nv_string") and not hasattr(lib, "audit_is_enabled")
