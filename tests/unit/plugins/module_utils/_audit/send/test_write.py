"""preflight and write_record against the fake audit subsystem (conftest ``audit``): what is checked before the send
and after it, and the error a user gets for each state that loses a record."""

from __future__ import annotations

import errno

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send import write
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import AUDIT_GET, AUDIT_USYS_CONFIG
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditdNotRunningError,
    AuditdNotWritingError,
    AuditDisabledError,
    AuditCapabilityError,
    AuditPermissionError,
    AuditRecordNotFoundError,
    AuditRecordsLostError,
    AuditRuleDropsRecordError,
    AuditRulesUnknownError,
    AuditStatusUnknownError,
    AuditUnavailableError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.record import UserRecord
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.rules import AUDIT_LIST_RULES, parse_rule
from ansible_collections.changeaudit.linux.tests.unit.plugins.module_utils._audit.system.test_rules import pack_rule

EXCLUDE, USER, NEVER, ALWAYS = 5, 0, 0, 2


def a_record(**kwargs):
    return UserRecord("unit-backends", {"object": "/etc/app.conf"}, hostname="ctl", addr="192.0.2.1", terminal="pts/1",
                      **kwargs)


# --- preflight ----------------------------------------------------------------------------------------------------


def test_preflight_returns_the_status_it_read(audit):
    status = write.preflight()
    assert status["enabled"] == 1 and status["backlog_limit"] == 8192
    assert audit.kernel.requests == [AUDIT_GET, AUDIT_LIST_RULES]
    assert audit.kernel.records == []


def test_preflight_uses_what_the_caller_read(audit):
    status = dict(audit.kernel.status)
    assert write.preflight(status, [], audit.read_auditd_conf()) is status
    assert audit.kernel.connections == 0


def test_preflight_without_cap_audit_write_asks_for_become(audit, monkeypatch):
    monkeypatch.setattr(write.os, "geteuid", lambda: 1000)
    audit.caps["cap_audit_write"] = False
    with pytest.raises(AuditPermissionError) as caught:
        write.preflight()
    assert caught.value.__class__ is AuditPermissionError
    assert "lacks CAP_AUDIT_WRITE" in str(caught.value)
    assert "become: true" in str(caught.value)
    assert audit.kernel.connections == 0


def test_root_without_cap_audit_write_is_a_container_no_become_mends(audit, monkeypatch):
    monkeypatch.setattr(write.os, "geteuid", lambda: 0)
    audit.caps["cap_audit_write"] = False
    with pytest.raises(AuditCapabilityError) as caught:
        write.preflight()
    assert "runs as root but lacks CAP_AUDIT_WRITE" in str(caught.value)
    assert "--cap-add AUDIT_WRITE" in str(caught.value)


@pytest.mark.parametrize(
    "status, error, says",
    [
        ({"enabled": 0}, AuditDisabledError, "auditctl -e 1"),
        ({"pid": 0}, AuditdNotRunningError, "systemctl start auditd"),
        # A pid no process has: the daemon the kernel still names has died.
        ({"pid": 2 ** 22 + 1}, AuditdNotRunningError, "is no longer running"),
    ],
)
def test_preflight_refuses_a_kernel_that_would_drop_the_record(audit, status, error, says):
    audit.kernel.status.update(status)
    with pytest.raises(error, match=says):
        write.preflight()


@pytest.mark.parametrize(
    "refused, error, says",
    [
        (AUDIT_GET, AuditStatusUnknownError, "Cannot read the kernel audit status"),
        (AUDIT_LIST_RULES, AuditRulesUnknownError, "Cannot read the loaded audit rules"),
    ],
)
def test_preflight_that_cannot_read_the_kernel_says_so(audit, refused, error, says):
    audit.kernel.errors[refused] = errno.EPERM
    with pytest.raises(error) as caught:
        write.preflight()
    assert says in str(caught.value)
    assert "CAP_AUDIT_CONTROL" in str(caught.value)
    assert caught.value.errno == errno.EPERM


def test_preflight_names_the_rule_that_drops_the_record(audit):
    audit.kernel.rules = [pack_rule(EXCLUDE, ALWAYS, [("msgtype", "=", AUDIT_USYS_CONFIG)])]
    with pytest.raises(AuditRuleDropsRecordError) as caught:
        write.preflight()
    assert "'-a always,exclude -F msgtype=USYS_CONFIG' drops it" in str(caught.value)
    assert "'auditctl -d always,exclude -F msgtype=USYS_CONFIG'" in str(caught.value)
    assert caught.value.as_dict()["rules"] == [
        {"rule": "-a always,exclude -F msgtype=USYS_CONFIG", "list": "exclude", "certain": True}
    ]


def test_preflight_ignores_rules_for_other_record_types(audit):
    rule = parse_rule(pack_rule(EXCLUDE, ALWAYS, [("msgtype", "=", 1300)]))
    write.preflight(dict(audit.kernel.status), [rule], None)


@pytest.mark.parametrize(
    "conf, says",
    [
        ("write_logs = no\n", "write_logs = no in %s line 1"),
        ("log_format = NOLOG\n", "log_format = NOLOG in %s line 1"),
    ],
)
def test_preflight_refuses_an_auditd_that_writes_no_log(audit, conf, says):
    audit.conf_text = conf
    with pytest.raises(AuditdNotWritingError) as caught:
        write.preflight()
    assert says % audit.conf_path in str(caught.value)
    assert "write_logs = yes" in str(caught.value)


def test_preflight_with_an_unreadable_auditd_conf_does_not_guess(audit):
    audit.conf_text = None
    assert write.preflight()["enabled"] == 1


# --- write_record -------------------------------------------------------------------------------------------------


def test_write_sends_the_records_text_over_netlink(audit):
    record = a_record()
    outcome = write.write_record(record, "netlink")
    assert audit.kernel.records == [(AUDIT_USYS_CONFIG, record.text)]
    assert outcome.recorded is True
    assert outcome.record == record.text
    assert (outcome.backend, outcome.backend_fallback) == ("netlink", None)
    assert outcome.sequence == 1
    assert outcome.audit_status["pid"] == audit.kernel.status["pid"]
    assert outcome.verified is None


def test_write_through_auto_without_libaudit_reports_the_fallback(audit):
    outcome = write.write_record(a_record())
    assert outcome.backend == "netlink"
    assert "libaudit is not available" in outcome.backend_fallback
    assert len(audit.kernel.records) == 1


def test_check_mode_checks_everything_and_sends_nothing(audit):
    record = a_record()
    outcome = write.write_record(record, "netlink", check_mode=True)
    assert audit.kernel.records == []
    assert outcome.recorded is False and outcome.sequence is None
    assert outcome.record == record.text
    assert outcome.audit_status["enabled"] == 1


def test_check_mode_still_reports_what_would_lose_the_record(audit):
    audit.kernel.status["enabled"] = 0
    with pytest.raises(AuditDisabledError):
        write.write_record(a_record(), "netlink", check_mode=True)


def test_nack_from_the_kernel_becomes_the_matching_error(audit, monkeypatch):
    monkeypatch.setattr(write.os, "geteuid", lambda: 1000)
    audit.kernel.errors[AUDIT_USYS_CONFIG] = errno.EPERM
    with pytest.raises(AuditPermissionError) as caught:
        write.write_record(a_record(), "netlink")
    assert caught.value.errno == errno.EPERM
    assert "Cannot write the audit record: permission denied (EPERM" in str(caught.value)


def test_records_lost_during_the_send_fail_the_write(audit):
    audit.kernel.lost_per_record = 2
    audit.kernel.status.update(lost=3, rate_limit=10)
    with pytest.raises(AuditRecordsLostError) as caught:
        write.write_record(a_record(), "netlink")
    assert "lost 2 audit records while this record was sent (lost 3 -> 5; rate_limit 10 messages/s, backlog_limit 8192" in str(caught.value)
    assert len(audit.kernel.records) == 1


def test_verify_reads_the_record_back_from_auditds_log(audit):
    audit.kernel.log = audit.log
    record = a_record()
    outcome = write.write_record(record, "netlink", verify=True, verify_timeout=2)
    assert outcome.recorded is True
    assert outcome.verified["log_file"] == audit.log
    assert outcome.verified["serial"] == 101


def test_verify_lets_a_found_record_pass_when_other_records_were_lost(audit):
    audit.kernel.log = audit.log
    audit.kernel.lost_per_record = 1
    assert write.write_record(a_record(), "netlink", verify=True, verify_timeout=2).verified["serial"] == 101


def test_verify_without_the_record_in_the_log_says_auditd_did_not_write_it(audit):
    with pytest.raises(AuditRecordNotFoundError) as caught:
        write.write_record(a_record(), "netlink", verify=True, verify_timeout=0.2)
    assert "did not appear in %s within 0.2 seconds" % audit.log in str(caught.value)


def test_verify_prefers_the_lost_records_as_the_explanation(audit):
    audit.kernel.lost_per_record = 1
    with pytest.raises(AuditRecordsLostError):
        write.write_record(a_record(), "netlink", verify=True, verify_timeout=0.2)


def test_every_connection_is_closed(audit, monkeypatch):
    closed = []
    real_close = write.NetlinkAuditConnection.close

    def close(self):
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(write.NetlinkAuditConnection, "close", close)
    write.write_record(a_record(), "netlink")
    assert audit.kernel.connections and len(closed) == audit.kernel.connections
    audit.kernel.status["enabled"] = 0
    with pytest.raises(AuditDisabledError):
        write.write_record(a_record(), "netlink")
    assert len(closed) == audit.kernel.connections, "a refused write closes its connections too"


# --- ensure_nothing_lost: the lost counter read before and after the send; a rise is an error naming the limits


BEFORE = {"enabled": 1, "pid": 10, "rate_limit": 0, "backlog_limit": 8192, "lost": 5, "backlog": 0}


@pytest.mark.parametrize("lost", [5, 0, 3])
def test_same_or_reset_counter_is_not_an_error(lost):
    write.ensure_nothing_lost(BEFORE, dict(BEFORE, lost=lost))


@pytest.mark.parametrize(
    "after, says",
    [
        (dict(BEFORE, lost=6, rate_limit=1), ["lost 5 -> 6", "1 audit record while", "rate_limit 1 messages/s"]),
        (dict(BEFORE, lost=9, backlog_limit=2, backlog=3), ["4 audit records", "backlog_limit 2 (backlog 3)"]),
        (dict(BEFORE, lost=6, backlog_limit=0), ["no rate or backlog limit set"]),
    ],
)
def test_rise_names_the_limits_and_the_fix(after, says):
    with pytest.raises(AuditRecordsLostError) as caught:
        write.ensure_nothing_lost(BEFORE, after)
    message = str(caught.value)
    assert isinstance(caught.value, AuditUnavailableError)
    for text in says + ["auditctl -r 0", "auditctl -b", "verify: true"]:
        assert text in message
