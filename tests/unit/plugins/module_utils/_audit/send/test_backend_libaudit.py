"""The libaudit backend against the fake audit subsystem (conftest ``audit``), through the write path: what reaches
libaudit.so.1's calls, and that its fd is closed whatever happens."""

from __future__ import annotations

import errno

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backend_libaudit import LibauditBackend
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import AUDIT_USYS_CONFIG
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditNamespaceError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.record import UserRecord
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.write import write_record


def a_record(**kwargs):
    return UserRecord("unit-backends", {"object": "/etc/app.conf"}, hostname="ctl", addr="192.0.2.1", terminal="pts/1",
                      **kwargs)


def test_the_fd_is_opened_once_for_many_records(audit):
    library = audit.use_libaudit()
    with LibauditBackend() as backend:
        assert backend.send(a_record()) == 7
        assert backend.send(a_record()) == 7
    assert [call[0] for call in library.calls] == [
        "audit_open", "audit_log_user_comm_message", "audit_log_user_comm_message", "audit_close",
    ]


@pytest.mark.parametrize("comm", ["ansible", None])
def test_libaudit_gets_the_trailer_already_resolved(audit, comm):
    library = audit.use_libaudit()
    record = a_record(comm=comm, success=False)
    outcome = write_record(record, "libaudit")
    assert (outcome.backend, outcome.sequence, outcome.recorded) == ("libaudit", 7, True)
    # Sent through libaudit, not over our own socket; the socket only read the status and rules.
    assert audit.kernel.records == []
    call = library.calls[1]
    if comm is None:
        assert call == ("audit_log_user_message", 42, AUDIT_USYS_CONFIG, record.message, "ctl", "192.0.2.1", "pts/1", False)
    else:
        assert call == ("audit_log_user_comm_message", 42, AUDIT_USYS_CONFIG, record.message, "ansible", "ctl",
                        "192.0.2.1", "pts/1", False)
    assert library.calls[0] == ("audit_open",)
    assert library.calls[-1] == ("audit_close", 42), "the libaudit fd is closed after the write"


def test_libaudit_failure_is_raised_and_the_fd_closed(audit):
    library = audit.use_libaudit()
    library.fail_with = AuditNamespaceError("Cannot write the audit record with libaudit", errno=errno.ECONNREFUSED)
    with pytest.raises(AuditNamespaceError, match="non-initial user namespace"):
        write_record(a_record(), "libaudit")
    assert library.calls[-1] == ("audit_close", 42)
