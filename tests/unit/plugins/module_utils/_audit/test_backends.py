"""select_backend, preflight and write_record against the fake audit subsystem (conftest ``audit``): which backend
sends, what is checked before the send and after it, and the error a user gets for each state that loses a record."""

from __future__ import annotations

import errno

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit import backends
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.constants import AUDIT_GET, AUDIT_USYS_CONFIG
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.errors import (
    AuditBackendUnavailableError,
    AuditdNotRunningError,
    AuditdNotWritingError,
    AuditDisabledError,
    AuditInvalidInputError,
    AuditNamespaceError,
    AuditPermissionError,
    AuditRecordNotFoundError,
    AuditRecordsLostError,
    AuditRuleDropsRecordError,
    AuditRulesUnknownError,
    AuditStatusUnknownError,
    AuditUnavailableError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record import UserRecord
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.rules import AUDIT_LIST_RULES, parse_rule
from ansible_collections.changeaudit.linux.tests.unit.plugins.module_utils._audit.test_rules import pack_rule

EXCLUDE, USER, NEVER, ALWAYS = 5, 0, 0, 2


def a_record(**kwargs):
    return UserRecord("unit-backends", {"object": "/etc/app.conf"}, hostname="ctl", addr="192.0.2.1", terminal="pts/1",
                      **kwargs)


# --- select_backend -----------------------------------------------------------------------------------------------


def test_auto_prefers_libaudit(audit):
    audit.use_libaudit()
    backend, fallback = backends.select_backend("auto")
    assert backend.name == "libaudit"
    assert fallback is None


def test_auto_falls_back_to_netlink_and_says_why(audit):
    backend, fallback = backends.select_backend()
    assert backend.name == "netlink"
    assert "libaudit is not available" in fallback
    assert "libaudit.so.1 cannot be loaded" in fallback
    assert "NETLINK_AUDIT" in fallback


def test_netlink_never_loads_libaudit(audit):
    library = audit.use_libaudit()
    backend, fallback = backends.select_backend("netlink")
    assert (backend.name, fallback) == ("netlink", None)
    assert library.calls == []


def test_missing_libaudit_requested_explicitly_names_the_package(audit):
    with pytest.raises(AuditBackendUnavailableError) as caught:
        backends.select_backend("libaudit")
    message = str(caught.value)
    assert "backend libaudit was requested but libaudit.so.1 cannot be loaded" in message
    assert "apt-get install libaudit1" in message and "dnf install audit-libs" in message
    assert isinstance(caught.value, AuditUnavailableError)


@pytest.mark.parametrize("name", ["", "Auto", "ctypes", None])
def test_unknown_backend_is_refused_naming_the_choices(audit, name):
    with pytest.raises(AuditInvalidInputError, match="Unknown backend .*Use auto, libaudit or netlink"):
        backends.select_backend(name)


def test_available_backends_report_why_libaudit_is_missing(audit):
    report = backends.available_backends()
    assert report["netlink"] == {"available": True, "reason": None}
    assert report["libaudit"]["available"] is False
    assert "libaudit.so.1" in report["libaudit"]["reason"]
    audit.use_libaudit()
    assert backends.available_backends()["libaudit"] == {"available": True, "reason": None}


# --- preflight ----------------------------------------------------------------------------------------------------


def test_preflight_returns_the_status_it_read(audit):
    status = backends.preflight()
    assert status["enabled"] == 1 and status["backlog_limit"] == 8192
    assert audit.kernel.requests == [AUDIT_GET, AUDIT_LIST_RULES]
    assert audit.kernel.records == []


def test_preflight_uses_what_the_caller_read(audit):
    status = dict(audit.kernel.status)
    assert backends.preflight(status, [], audit.read_auditd_conf()) is status
    assert audit.kernel.connections == 0


def test_preflight_without_cap_audit_write_asks_for_become(audit):
    audit.caps["cap_audit_write"] = False
    with pytest.raises(AuditPermissionError) as caught:
        backends.preflight()
    assert "lacks CAP_AUDIT_WRITE" in str(caught.value)
    assert "become: true" in str(caught.value)
    assert audit.kernel.connections == 0


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
        backends.preflight()


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
        backends.preflight()
    assert says in str(caught.value)
    assert "CAP_AUDIT_CONTROL" in str(caught.value)
    assert caught.value.errno == errno.EPERM


def test_preflight_names_the_rule_that_drops_the_record(audit):
    audit.kernel.rules = [pack_rule(EXCLUDE, ALWAYS, [("msgtype", "=", AUDIT_USYS_CONFIG)])]
    with pytest.raises(AuditRuleDropsRecordError) as caught:
        backends.preflight()
    assert "'-a always,exclude -F msgtype=USYS_CONFIG' drops it" in str(caught.value)
    assert "'auditctl -d always,exclude -F msgtype=USYS_CONFIG'" in str(caught.value)
    assert caught.value.as_dict()["rules"] == [
        {"rule": "-a always,exclude -F msgtype=USYS_CONFIG", "list": "exclude", "certain": True}
    ]


def test_preflight_ignores_rules_for_other_record_types(audit):
    rule = parse_rule(pack_rule(EXCLUDE, ALWAYS, [("msgtype", "=", 1300)]))
    backends.preflight(dict(audit.kernel.status), [rule], None)


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
        backends.preflight()
    assert says % audit.conf_path in str(caught.value)
    assert "write_logs = yes" in str(caught.value)


def test_preflight_with_an_unreadable_auditd_conf_does_not_guess(audit):
    audit.conf_text = None
    assert backends.preflight()["enabled"] == 1


# --- write_record -------------------------------------------------------------------------------------------------


def test_write_sends_the_records_text_over_netlink(audit):
    record = a_record()
    outcome = backends.write_record(record, "netlink")
    assert audit.kernel.records == [(AUDIT_USYS_CONFIG, record.text)]
    assert outcome.recorded is True
    assert outcome.record == record.text
    assert (outcome.backend, outcome.backend_fallback) == ("netlink", None)
    assert outcome.sequence == 1
    assert outcome.audit_status["pid"] == audit.kernel.status["pid"]
    assert outcome.verified is None


def test_write_through_auto_without_libaudit_reports_the_fallback(audit):
    outcome = backends.write_record(a_record())
    assert outcome.backend == "netlink"
    assert "libaudit is not available" in outcome.backend_fallback
    assert len(audit.kernel.records) == 1


@pytest.mark.parametrize("comm", ["ansible", None])
def test_libaudit_gets_the_trailer_already_resolved(audit, comm):
    library = audit.use_libaudit()
    record = a_record(comm=comm, success=False)
    outcome = backends.write_record(record, "libaudit")
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
        backends.write_record(a_record(), "libaudit")
    assert library.calls[-1] == ("audit_close", 42)


def test_check_mode_checks_everything_and_sends_nothing(audit):
    record = a_record()
    outcome = backends.write_record(record, "netlink", check_mode=True)
    assert audit.kernel.records == []
    assert outcome.recorded is False and outcome.sequence is None
    assert outcome.record == record.text
    assert outcome.audit_status["enabled"] == 1


def test_check_mode_still_reports_what_would_lose_the_record(audit):
    audit.kernel.status["enabled"] = 0
    with pytest.raises(AuditDisabledError):
        backends.write_record(a_record(), "netlink", check_mode=True)


def test_nack_from_the_kernel_becomes_the_matching_error(audit):
    audit.kernel.errors[AUDIT_USYS_CONFIG] = errno.EPERM
    with pytest.raises(AuditPermissionError) as caught:
        backends.write_record(a_record(), "netlink")
    assert caught.value.errno == errno.EPERM
    assert "Cannot write the audit record: permission denied (EPERM" in str(caught.value)


def test_records_lost_during_the_send_fail_the_write(audit):
    audit.kernel.lost_per_record = 2
    audit.kernel.status.update(lost=3, rate_limit=10)
    with pytest.raises(AuditRecordsLostError) as caught:
        backends.write_record(a_record(), "netlink")
    assert "lost 2 audit records while this record was sent (lost 3 -> 5; rate_limit 10 messages/s, backlog_limit 8192" in str(caught.value)
    assert len(audit.kernel.records) == 1


def test_verify_reads_the_record_back_from_auditds_log(audit):
    audit.kernel.log = audit.log
    record = a_record()
    outcome = backends.write_record(record, "netlink", verify=True, verify_timeout=2)
    assert outcome.recorded is True
    assert outcome.verified["log_file"] == audit.log
    assert outcome.verified["serial"] == 101


def test_verify_lets_a_found_record_pass_when_other_records_were_lost(audit):
    audit.kernel.log = audit.log
    audit.kernel.lost_per_record = 1
    assert backends.write_record(a_record(), "netlink", verify=True, verify_timeout=2).verified["serial"] == 101


def test_verify_without_the_record_in_the_log_says_auditd_did_not_write_it(audit):
    with pytest.raises(AuditRecordNotFoundError) as caught:
        backends.write_record(a_record(), "netlink", verify=True, verify_timeout=0.2)
    assert "did not appear in %s within 0.2 seconds" % audit.log in str(caught.value)


def test_verify_prefers_the_lost_records_as_the_explanation(audit):
    audit.kernel.lost_per_record = 1
    with pytest.raises(AuditRecordsLostError):
        backends.write_record(a_record(), "netlink", verify=True, verify_timeout=0.2)


def test_every_connection_is_closed(audit, monkeypatch):
    closed = []
    real_close = backends.NetlinkAuditConnection.close

    def close(self):
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(backends.NetlinkAuditConnection, "close", close)
    backends.write_record(a_record(), "netlink")
    assert audit.kernel.connections and len(closed) == audit.kernel.connections
    audit.kernel.status["enabled"] = 0
    with pytest.raises(AuditDisabledError):
        backends.write_record(a_record(), "netlink")
    assert len(closed) == audit.kernel.connections, "a refused write closes its connections too"
