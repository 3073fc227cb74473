from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditdNotRunningError,
    AuditDisabledError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.status import (
    daemon_process_gone,
    ensure_records_kept,
    process_capabilities,
)


@pytest.mark.parametrize(
    "status, error",
    [
        ({"enabled": 0, "pid": 10}, AuditDisabledError),
        ({"enabled": 1, "pid": 0}, AuditdNotRunningError),
        ({"enabled": 0, "pid": 0}, AuditDisabledError),
    ],
)
def test_states_that_lose_records(fake_proc, status, error):
    fake_proc(10, "S")
    with pytest.raises(error):
        ensure_records_kept(status, str(fake_proc.root))


@pytest.mark.parametrize("enabled", [1, 2])
def test_enabled_and_locked_keep_records(fake_proc, enabled):
    fake_proc(10, "S")
    ensure_records_kept({"enabled": enabled, "pid": 10}, str(fake_proc.root))


@pytest.fixture
def fake_proc(tmp_path):
    """A /proc with self and pid 1 entries and the processes a test adds as (pid, state letter)."""
    (tmp_path / "self").mkdir()
    (tmp_path / "1").mkdir()

    def add(pid, state, comm="auditd"):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text("%d (%s) %s 1 %d %d 0 -1\n" % (pid, comm, state, pid, pid))

    add.root = tmp_path
    return add


@pytest.mark.parametrize(
    "state, comm, gone",
    [("S", "auditd", False), ("R", "a) Z (b", False), ("Z", "auditd", True), ("X", "auditd", True)],
)
def test_registered_daemon_state(fake_proc, state, comm, gone):
    fake_proc(321, state, comm)
    assert daemon_process_gone(321, str(fake_proc.root)) is gone


def test_killed_daemon_still_registered_loses_records(fake_proc):
    # After kill -9 the kernel keeps reporting the dead pid until a delivery to it fails.
    with pytest.raises(AuditdNotRunningError, match="pid 4242.*no longer running"):
        ensure_records_kept({"enabled": 1, "pid": 4242}, str(fake_proc.root))


def test_without_proc_nothing_is_refused_on_a_guess(tmp_path):
    assert daemon_process_gone(4242, str(tmp_path / "no-proc")) is False


def test_proc_hiding_other_users_processes_is_no_evidence(tmp_path):
    # hidepid: this process sees itself but neither pid 1 nor auditd.
    (tmp_path / "self").mkdir()
    assert daemon_process_gone(4242, str(tmp_path)) is False


@pytest.mark.parametrize(
    "capeff, write, control",
    [("000001ffffffffff", True, True), ("0000000020000000", True, False), ("0000000040000000", False, True), ("0", False, False)],
)
def test_capabilities_from_proc_status(tmp_path, capeff, write, control):
    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapEff:\t%s\n" % capeff)
    assert process_capabilities(str(status)) == {"cap_audit_write": write, "cap_audit_control": control}
