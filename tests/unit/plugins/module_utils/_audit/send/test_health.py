"""audit_report (audit_status_info) against the fake audit subsystem (conftest ``audit``): every state is reported,
nothing raises, and can_write agrees with what the writer's preflight would do."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import time

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send import health
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system import netlink
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import AUDIT_GET, AUDIT_USYS_CONFIG
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditNotInKernelError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.rules import AUDIT_LIST_RULES
from ansible_collections.changeaudit.linux.tests.unit.plugins.module_utils._audit.system.test_rules import pack_rule

EXCLUDE, ALWAYS = 5, 2


def test_a_host_that_keeps_records(audit):
    audit.kernel.status["lost"] = 4
    report = health.audit_report()
    assert report["can_write"] is True and report["can_write_reason"] is None
    assert report["status"]["pid"] == os.getpid() and report["status_error"] is None
    assert (report["enabled"], report["locked"], report["auditd_running"]) == (True, False, True)
    assert report["auditd_pid"] == os.getpid()
    assert report["lost"] == 4
    assert report["dropping_rules"] == [] and report["rules_error"] is None
    assert report["auditd_conf"] == {"path": audit.conf_path, "write_logs": True, "log_format": "ENRICHED", "log_file": audit.log}
    assert report["auditd_conf_error"] is None
    assert report["capabilities"] == {"cap_audit_write": True, "cap_audit_control": True}
    assert report["euid"] == os.geteuid()
    assert report["backends"]["netlink"]["available"] is True
    assert report["backends"]["libaudit"]["available"] is False
    assert audit.kernel.records == [], "a report never writes"


def test_locked_audit_is_enabled_and_locked(audit):
    audit.kernel.status["enabled"] = 2
    report = health.audit_report()
    assert (report["enabled"], report["locked"], report["can_write"]) == (True, True, True)


@pytest.mark.parametrize(
    "status, says",
    [({"enabled": 0}, "auditctl -e 1"), ({"pid": 0}, "No audit daemon is running")],
)
def test_a_host_that_would_drop_records_says_why(audit, status, says):
    audit.kernel.status.update(status)
    report = health.audit_report()
    assert report["can_write"] is False
    assert says in report["can_write_reason"]
    assert report["status_error"] is None


def test_a_dead_auditd_is_not_running(audit):
    audit.kernel.status["pid"] = 2 ** 22 + 1
    report = health.audit_report()
    assert report["auditd_running"] is False
    assert "no longer running" in report["can_write_reason"]


def test_unreadable_status_is_a_reason_next_to_nulls(audit):
    audit.kernel.errors[AUDIT_GET] = errno.EPERM
    report = health.audit_report()
    assert report["status"] is None
    for key in ("enabled", "locked", "auditd_pid", "lost"):
        assert report[key] is None, key
    error = report["status_error"]
    assert error["cause"] == "AuditStatusUnknownError"
    assert error["errno"] == errno.EPERM and error["errno_name"] == "EPERM"
    # Reading needs CAP_AUDIT_CONTROL: the generic hint about CAP_AUDIT_WRITE would send the user the wrong way.
    assert "Cannot read the kernel audit status" in error["msg"] and "CAP_AUDIT_CONTROL" in error["msg"]
    assert "CAP_AUDIT_WRITE" not in error["msg"]
    assert isinstance(report["auditd_running"], bool)
    assert report["can_write"] is False and "CAP_AUDIT_CONTROL" in report["can_write_reason"]


def test_unreadable_rules_are_a_reason_next_to_nulls(audit):
    audit.kernel.errors[AUDIT_LIST_RULES] = errno.EPERM
    report = health.audit_report()
    assert report["dropping_rules"] is None
    assert report["rules_error"]["cause"] == "AuditRulesUnknownError"
    assert "Cannot read the loaded audit rules" in report["rules_error"]["msg"]
    assert report["status"] is not None
    assert report["can_write"] is False


def test_a_rule_that_drops_records_is_listed(audit):
    audit.kernel.rules = [
        pack_rule(EXCLUDE, ALWAYS, [("msgtype", "=", AUDIT_USYS_CONFIG)]),
        pack_rule(EXCLUDE, ALWAYS, [("msgtype", "=", 1300)]),
    ]
    report = health.audit_report()
    assert report["dropping_rules"] == [{"rule": "-a always,exclude -F msgtype=USYS_CONFIG", "list": "exclude", "certain": True}]
    assert report["can_write"] is False
    assert "drops it" in report["can_write_reason"]


def test_a_kernel_without_audit_is_reported_not_raised(audit, monkeypatch):
    def no_audit(timeout=None):
        raise AuditNotInKernelError("Cannot open the audit netlink socket", errno=errno.EPROTONOSUPPORT)

    monkeypatch.setattr(netlink, "open_audit_socket", no_audit)
    report = health.audit_report()
    assert report["status"] is None and report["status_error"]["cause"] == "AuditNotInKernelError"
    assert "CONFIG_AUDIT" in report["status_error"]["msg"]
    assert report["rules_error"]["cause"] == "AuditNotInKernelError"
    assert report["can_write"] is False and "CONFIG_AUDIT" in report["can_write_reason"]


def test_auditd_conf_unreadable_or_not_writing(audit):
    audit.conf_text = None
    report = health.audit_report()
    assert report["auditd_conf"] is None
    assert report["auditd_conf_error"] == "Cannot read /etc/audit/auditd.conf"
    # Unknown is not a reason to refuse.
    assert report["can_write"] is True
    audit.conf_text = "write_logs = no\n"
    report = health.audit_report()
    assert report["auditd_conf"]["write_logs"] is False
    assert report["can_write"] is False and "write_logs = no" in report["can_write_reason"]


def test_without_cap_audit_write_the_report_says_so(audit):
    audit.caps.update(cap_audit_write=False)
    report = health.audit_report()
    assert report["capabilities"]["cap_audit_write"] is False
    assert report["can_write"] is False and "lacks CAP_AUDIT_WRITE" in report["can_write_reason"]
    assert report["status"] is not None, "the status is still read"


# --- auditd_from_pid_file: only used when the kernel status cannot be read ----------------------------------------


@pytest.mark.parametrize("content", [None, "", "not a pid\n", "%d\n" % (2 ** 22 + 1)])
def test_no_auditd_from_a_missing_bad_or_stale_pid_file(tmp_path, content):
    pid_file = tmp_path / "auditd.pid"
    if content is not None:
        pid_file.write_text(content)
    assert health.auditd_from_pid_file(str(pid_file)) is False


def test_pid_file_of_another_program_is_not_auditd(tmp_path):
    pid_file = tmp_path / "auditd.pid"
    pid_file.write_text("%d\n" % os.getpid())
    assert health.auditd_from_pid_file(str(pid_file)) is False


def test_pid_file_of_a_live_auditd(tmp_path):
    sleep = shutil.which("sleep")
    if sleep is None:
        pytest.skip("needs sleep(1)")
    fake_auditd = tmp_path / "auditd"
    shutil.copy(sleep, str(fake_auditd))
    proc = subprocess.Popen([str(fake_auditd), "30"])
    try:
        pid_file = tmp_path / "auditd.pid"
        pid_file.write_text("%d\n" % proc.pid)
        # The child takes its name when it has exec'd, which may be just after Popen returns.
        deadline = time.monotonic() + 5
        while not health.auditd_from_pid_file(str(pid_file)) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert health.auditd_from_pid_file(str(pid_file)) is True
    finally:
        proc.kill()
        proc.wait()
