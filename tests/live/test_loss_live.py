"""Issue 8, silent loss: every way the kernel or auditd can accept a record and lose it, reproduced for real.

Each test changes machine-wide audit state (rules, rate and backlog limits, auditd.conf, auditd itself) and
puts it back in a finalizer, whatever happens: rules with ``auditctl -D`` and a reload of what was loaded
before, auditd.conf from the saved bytes followed by an auditd restart, the limits as they were, auditd running.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
import typing as t
import uuid

import pytest

from livelib import AUDIT_LOG, audit_state, ensure_auditd, msg_text, run_probe, wait_for_lines

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.write import write_record
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditRecordsLostError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.health import audit_report
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.netlink import query_rules
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.record import UserRecord

AUDITD_CONF = "/etc/audit/auditd.conf"
BACKENDS = ["libaudit", "netlink"]


def auditctl(*args: str) -> str:
    return subprocess.run(["auditctl", *args], check=True, capture_output=True, text=True).stdout


def loaded_rules() -> t.List[str]:
    return [line for line in auditctl("-l").splitlines() if line.strip() and line.strip() != "No rules"]


def restart_auditd() -> None:
    # 'service' works with and without systemd, where auditd.service refuses a manual systemctl stop.
    subprocess.run(["service", "auditd", "restart"], check=False, capture_output=True)
    ensure_auditd()


@pytest.fixture
def saved_rules() -> t.Iterator[t.List[str]]:
    """The rules loaded now; whatever the test loads is deleted and these are loaded again afterwards."""
    before = loaded_rules()
    auditctl("-D")
    try:
        yield before
    finally:
        auditctl("-D")
        for line in before:
            subprocess.run(["auditctl", *shlex.split(line)], check=False, capture_output=True)
        assert loaded_rules() == before


@pytest.fixture
def saved_conf() -> t.Iterator[bytes]:
    """auditd.conf as it is; written back (and auditd restarted) afterwards if the test changed it."""
    with open(AUDITD_CONF, "rb") as handle:
        original = handle.read()
    stat = os.stat(AUDITD_CONF)
    try:
        yield original
    finally:
        with open(AUDITD_CONF, "rb") as handle:
            changed = handle.read() != original
        if changed:
            with open(AUDITD_CONF, "wb") as handle:
                handle.write(original)
            os.chmod(AUDITD_CONF, stat.st_mode & 0o7777)
        restart_auditd()


@pytest.fixture
def saved_limits() -> t.Iterator[t.Dict[str, int]]:
    before = audit_state()
    if before.get("failure") == 2:
        pytest.skip("failure mode is panic (auditctl -f 2): losing records on purpose would panic the kernel")
    try:
        yield before
    finally:
        auditctl("-r", str(before.get("rate_limit", 0)))
        auditctl("-b", str(before.get("backlog_limit", 8192)))
        ensure_auditd()


def set_conf(original: bytes, **settings: str) -> None:
    """auditd.conf with the given settings replaced (commented-out copies stay as they are)."""
    lines = original.decode().splitlines()
    for name, value in settings.items():
        lines = [line for line in lines if line.split("=")[0].strip() != name]
        lines.append("%s = %s" % (name, value))
    with open(AUDITD_CONF, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def marked(op: str) -> t.Tuple[str, t.Dict[str, t.Any]]:
    mark = "t-" + uuid.uuid4().hex
    return mark, {"op": op, "fields": {"run": mark}}


def dropped_by_kernel(backend: str = "netlink") -> None:
    """Send a record without our checks while the rule is loaded, then, after deleting every rule, a sentinel.

    auditd writes records in order, so once the sentinel is in the log a missing first record was dropped:
    no timed wait decides it.
    """
    mark, request = marked("it-loss-unchecked")
    sent = run_probe(dict(request, skip_checks=True, backend=backend))
    assert sent["ok"], sent
    auditctl("-D")
    sentinel, sentinel_request = marked("it-loss-sentinel")
    assert run_probe(sentinel_request)["ok"]
    assert wait_for_lines(sentinel), "the sentinel record did not arrive"
    assert wait_for_lines(mark, timeout=0) == [], "the kernel kept the record: the rule does not drop it"


# The rule shapes of issue 8; each is loaded as auditctl takes it.
DROPPING = [
    ["-a", "always,exclude", "-F", "msgtype=USYS_CONFIG"],
    ["-a", "always,exclude", "-F", "msgtype>=1100"],
    ["-a", "always,exclude", "-F", "msgtype>=1100", "-F", "msgtype<=1199"],
    ["-a", "never,exclude", "-F", "msgtype=USYS_CONFIG"],
    ["-a", "never,user", "-F", "msgtype=USYS_CONFIG"],
    ["-a", "never,user", "-F", "uid=0"],
    ["-a", "never,exclude", "-F", "uid=0", "-F", "msgtype!=SYSCALL"],
]


@pytest.mark.parametrize("rule", DROPPING, ids=" ".join)
def test_rule_that_drops_the_record_is_refused_by_name(saved_rules, rule):
    auditctl(*rule)
    listed = loaded_rules()
    assert len(listed) == 1
    for backend in BACKENDS:
        outcome = run_probe(dict(marked("it-loss-rule")[1], backend=backend))
        assert not outcome["ok"] and outcome["cause"] == "AuditRuleDropsRecordError", outcome
        # Named as auditctl -l prints it, with the command that deletes it.
        assert "'%s' drops it" % listed[0] in outcome["msg"]
        assert "'auditctl -d%s'" % listed[0][2:] in outcome["msg"]
        assert outcome["rules"] == [{"rule": listed[0], "list": rule[1].split(",")[1], "certain": True}]
    dropped_by_kernel()


@pytest.mark.parametrize(
    "rules",
    [
        [["-a", "always,exclude", "-F", "msgtype=USER_LOGIN"]],
        [["-a", "always,exclude", "-F", "msgtype<1100"]],
        [["-a", "never,user", "-F", "uid=4711"]],
        # audit_filter() stops at a field it does not evaluate (euid) and keeps the record, even for later rules.
        [["-a", "never,user", "-F", "euid=0"], ["-a", "never,user", "-F", "msgtype=USYS_CONFIG"]],
        # always on the user list keeps the record: the first match decides.
        [["-a", "always,user", "-F", "msgtype=USYS_CONFIG"], ["-a", "never,user", "-F", "msgtype=USYS_CONFIG"]],
        # A rule without fields matches nothing.
        [["-a", "never,user"], ["-a", "never,exclude"]],
    ],
    ids=lambda rules: " + ".join(" ".join(rule) for rule in rules),
)
def test_rules_that_keep_the_record_let_it_through(saved_rules, rules):
    for rule in rules:
        auditctl(*rule)
    for backend in BACKENDS:
        mark, request = marked("it-loss-kept")
        outcome = run_probe(dict(request, backend=backend))
        assert outcome["ok"], outcome
        assert len(wait_for_lines(mark)) == 1, "the model said kept, the kernel dropped it"


def test_rules_parse_as_auditctl_lists_them(saved_rules):
    rules = [
        ["-a", "always,exclude", "-F", "msgtype=USYS_CONFIG"],
        ["-a", "never,exclude", "-F", "msgtype!=SYSCALL", "-F", "auid=-1"],
        ["-a", "never,user", "-F", "uid=0", "-F", "msgtype>=1100", "-F", "msgtype<=2999"],
        ["-a", "always,user", "-F", "gid!=5", "-F", "pid>1", "-F", "auid>=1000"],
        ["-a", "never,user", "-F", "exe=/usr/sbin/sshd"],
        ["-a", "never,user", "-F", "euid=0", "-F", "sessionid=3"],
        ["-A", "always,exclude", "-F", "msgtype=CWD"],
    ]
    for rule in rules:
        auditctl(*rule)
    assert [rule.text for rule in query_rules()] == loaded_rules()


def test_status_info_reports_the_dropping_rule(saved_rules):
    auditctl("-a", "always,exclude", "-F", "msgtype=USYS_CONFIG")
    report = audit_report()
    assert report["dropping_rules"] == [
        {"rule": "-a always,exclude -F msgtype=USYS_CONFIG", "list": "exclude", "certain": True}
    ]
    assert report["can_write"] is False and "msgtype=USYS_CONFIG" in report["can_write_reason"]


@pytest.mark.parametrize("setting", [{"write_logs": "no"}, {"log_format": "NOLOG"}, {"write_logs": "No"}],
                         ids=lambda setting: "%s=%s" % next(iter(setting.items())))
def test_auditd_configured_not_to_write_is_refused(saved_conf, setting):
    set_conf(saved_conf, **setting)
    restart_auditd()
    name, value = next(iter(setting.items()))
    outcome = run_probe(dict(marked("it-loss-nolog")[1]))
    assert not outcome["ok"] and outcome["cause"] == "AuditdNotWritingError", outcome
    assert "%s = %s in %s line" % (name, value, AUDITD_CONF) in outcome["msg"]
    report = audit_report()
    assert report["auditd_conf"]["write_logs"] is False and report["can_write"] is False

    # What the refusal saves us from: the kernel accepts the record and auditd, running, writes no line of it.
    mark, request = marked("it-loss-nolog-unchecked")
    assert run_probe(dict(request, skip_checks=True))["ok"]
    size = os.path.getsize(AUDIT_LOG)
    time.sleep(1.5)
    assert wait_for_lines(mark, timeout=0) == [] and os.path.getsize(AUDIT_LOG) == size


def test_verify_finds_the_record_on_the_normal_path(marker):
    for backend in BACKENDS:
        fields = {"run": marker, "backend_used": backend}
        outcome = run_probe({"op": "it-loss-verify", "fields": fields, "backend": backend, "verify": True})
        assert outcome["ok"], outcome
        verified = outcome["verified"]
        assert verified["log_file"] == AUDIT_LOG
        lines = [line for line in wait_for_lines(marker, 2) if "backend_used=%s" % backend in line
                 or "backend_used=\"%s\"" % backend in line]
        assert len(lines) == 1 and msg_text(lines[0]) == outcome["record"]
        assert "msg=audit(%s)" % verified["event_id"] in lines[0]
        found = subprocess.run(["ausearch", "--input-logs", "-a", str(verified["serial"]), "--raw"],
                               capture_output=True, text=True, check=False).stdout
        assert marker in found


def test_verify_fails_when_auditd_does_not_write(saved_conf):
    # auditd.conf edited and not reloaded: the file says write_logs = yes, the running auditd writes nothing.
    set_conf(saved_conf, write_logs="no")
    restart_auditd()
    with open(AUDITD_CONF, "wb") as handle:
        handle.write(saved_conf)
    mark, request = marked("it-loss-verify-missing")
    outcome = run_probe(dict(request, verify=True, verify_timeout=2.0))
    assert not outcome["ok"] and outcome["cause"] == "AuditRecordNotFoundError", outcome
    assert "did not appear in %s within 2 seconds" % AUDIT_LOG in outcome["msg"]
    # Without verify nothing before the send can tell: the same write is reported as recorded.
    assert run_probe(dict(marked("it-loss-verify-missing")[1]))["ok"]


def test_verify_fails_while_auditd_is_stopped_and_the_record_comes_later(restore_audit):
    pid = audit_state()["pid"]
    mark, request = marked("it-loss-verify-sigstop")
    os.kill(pid, signal.SIGSTOP)
    try:
        outcome = run_probe(dict(request, verify=True, verify_timeout=1.0))
    finally:
        os.kill(pid, signal.SIGCONT)
    assert not outcome["ok"] and outcome["cause"] == "AuditRecordNotFoundError", outcome
    # The kernel kept it queued; once auditd runs again it is written: verify told the truth about "not yet".
    assert len(wait_for_lines(mark)) == 1


def write_until_lost(op: str, limit: int) -> t.Tuple[int, t.Optional[AuditRecordsLostError]]:
    for count in range(1, limit + 1):
        try:
            write_record(UserRecord(op, {"n": count}), "netlink")
        except AuditRecordsLostError as exc:
            return count, exc
    return limit, None


def test_rate_limit_loss_is_an_error(saved_limits):
    auditctl("-r", "1")
    lost_before = audit_state()["lost"]
    count, error = write_until_lost("it-loss-rate", 50)
    assert error is not None, "50 records at rate_limit 1 and the kernel lost none"
    assert audit_state()["lost"] > lost_before
    assert "rate_limit 1 messages/s" in str(error) and "auditctl -r 0" in str(error)
    # verify: true tells whether this record was among the lost ones: it was not found, so the lost error stands.
    auditctl("-r", "1")
    time.sleep(1.1)
    outcome = run_probe({"op": "it-loss-rate-verify", "fields": {"n": 0}, "verify": True, "verify_timeout": 1.0,
                         "burst": 5})
    assert not outcome["ok"] and outcome["cause"] == "AuditRecordsLostError", outcome


def test_backlog_loss_is_an_error(saved_limits):
    # auditd stopped: kauditd cannot hand records on, the user records queue up past the backlog limit (their
    # sender is made to sleep, not refused) and kauditd's retry and hold queues overflow, counted as lost.
    auditctl("-b", "64")
    pid = audit_state()["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        count, error = write_until_lost("it-loss-backlog", 5000)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert error is not None, "5000 records with auditd stopped and a backlog of 64, and none lost"
    assert "backlog_limit 64" in str(error) and "auditctl -b" in str(error)
