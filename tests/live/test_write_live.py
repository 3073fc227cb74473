"""The binding against the real kernel and auditd: records are read back from audit.log, never trusted
from a return code. ausearch (and auparse through python3-audit) is the independent oracle."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from livelib import auparse_records, ausearch_interpreted, ensure_auditd, msg_text, run_probe, wait_for_lines

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import AUDIT_MESSAGE_TEXT_MAX
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import decode_value
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.logline import decode_message

HOSTILE = {
    "path": "/etc/app dir/it's \"here\".conf",
    "apostrophe": "x' res=failed msg='forged",
    "equals": "a=b c=d",
    "newline": "line1\ntype=USYS_CONFIG msg=audit(1.0:1): forged",
    "group_sep": "left\x1dRIGHT=\"x\"",
    "unicode": "héllo ✓ 日本",
    "empty": "",
    "plain": "simple-value_1.0",
}

BACKENDS = ["libaudit", "netlink"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_record_lands_and_decodes_back(backend, marker):
    fields = dict(HOSTILE, run=marker)
    outcome = run_probe({"op": "it-roundtrip", "fields": fields, "backend": backend})
    assert outcome["ok"], outcome
    assert outcome["backend"] == backend

    lines = wait_for_lines(marker)
    assert len(lines) == 1, "exactly one record, not split: %r" % lines
    logged = msg_text(lines[0])
    assert logged == outcome["record"]
    assert logged.endswith(" res=success")

    standard, decoded = decode_message(logged)
    for name, value in fields.items():
        assert decoded[name] == value, name
    assert standard["op"] == "it-roundtrip"


def test_ausearch_interprets_like_we_decode(marker):
    # path and key are fields auparse knows as encoded; -i must show the original text.
    fields = {"path": "/etc/a b/it's", "key": "k=v \"q\"", "run": marker}
    outcome = run_probe({"op": "it-ausearch", "fields": fields})
    assert outcome["ok"], outcome
    assert wait_for_lines(marker)
    interpreted = ausearch_interpreted(marker)
    assert len(interpreted) == 1
    assert "path=/etc/a b/it's " in interpreted[0]
    assert "key=k=v \"q\" " in interpreted[0]
    assert "op=it-ausearch" in interpreted[0]
    assert "res=success" in interpreted[0]


def test_auparse_sees_the_same_fields(marker):
    outcome = run_probe({"op": "it-auparse", "fields": dict(HOSTILE, run=marker)})
    assert outcome["ok"], outcome
    assert wait_for_lines(marker)
    found = [dict(fields) for fields in auparse_records("run", marker) if dict(fields)["run"] == '"%s"' % marker]
    assert len(found) == 1, found
    for name, value in HOSTILE.items():
        assert decode_value(name, found[0][name]) == value, name
    assert found[0]["res"] == "success"


def test_backends_write_identical_text(marker):
    texts = []
    for backend in BACKENDS:
        outcome = run_probe({"op": "it-same", "fields": dict(HOSTILE, run=marker), "backend": backend})
        assert outcome["ok"], outcome
        texts.append(outcome["record"])
    lines = wait_for_lines(marker, count=2)
    assert len(lines) == 2
    assert msg_text(lines[0]) == msg_text(lines[1]) == texts[0] == texts[1]


def test_check_mode_writes_nothing(marker):
    outcome = run_probe({"op": "it-check", "fields": {"run": marker}}, check_mode=True)
    assert outcome["ok"] and outcome["recorded"] is False and outcome["sequence"] is None
    assert marker in outcome["record"]
    # Anything written after it proves auditd has flushed past the moment of the check-mode call.
    assert run_probe({"op": "it-check-fence", "fields": {"run": marker + "-fence"}})["ok"]
    assert wait_for_lines(marker + "-fence")
    assert [line for line in wait_for_lines(marker, timeout=0) if marker + "-fence" not in line] == []


def test_longest_record_is_kept_whole(marker):
    probe = run_probe({"op": "it-long", "fields": {"run": marker, "pad": ""}}, check_mode=True)
    room = AUDIT_MESSAGE_TEXT_MAX - len(probe["record"].encode())
    outcome = run_probe({"op": "it-long", "fields": {"run": marker, "pad": "p" * room}})
    assert outcome["ok"], outcome
    assert len(outcome["record"].encode()) == AUDIT_MESSAGE_TEXT_MAX
    lines = wait_for_lines(marker)
    assert msg_text(lines[0]) == outcome["record"]
    assert msg_text(lines[0]).endswith(" res=success")


def test_one_byte_too_long_is_refused(marker):
    probe = run_probe({"op": "it-long", "fields": {"run": marker, "pad": ""}}, check_mode=True)
    room = AUDIT_MESSAGE_TEXT_MAX - len(probe["record"].encode())
    outcome = run_probe({"op": "it-long", "fields": {"run": marker, "pad": "p" * (room + 1)}})
    assert not outcome["ok"]
    assert outcome["cause"] == "AuditRecordTooLongError"
    assert "8560" in outcome["msg"]


# --- faults, each reproduced for real ---------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_root_user_is_told_to_become(backend, marker):
    outcome = run_probe(
        {"op": "it-nobody", "fields": {"run": marker}, "backend": backend},
        prefix=["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"],
    )
    assert not outcome["ok"]
    assert outcome["cause"] == "AuditPermissionError"
    assert "become: true" in outcome["msg"] and "CAP_AUDIT_WRITE" in outcome["msg"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_root_without_cap_audit_write(backend, marker):
    no_write = ["setpriv", "--bounding-set=-audit_write", "--inh-caps=-audit_write"]
    outcome = run_probe({"op": "it-nocap", "fields": {"run": marker}, "backend": backend}, prefix=no_write)
    # Root without the capability, as in a container: no become mends it, and the message says what does.
    assert not outcome["ok"] and outcome["cause"] == "AuditCapabilityError"
    assert "runs as root but lacks CAP_AUDIT_WRITE" in outcome["msg"] and "--cap-add AUDIT_WRITE" in outcome["msg"]
    # The kernel itself refuses too: skipping our checks gets EPERM from the socket, not a silent success.
    raw = run_probe({"op": "it-nocap", "fields": {"run": marker}, "backend": backend, "skip_checks": True}, prefix=no_write)
    assert not raw["ok"] and raw["errno_name"] == "EPERM" and raw["cause"] == "AuditCapabilityError", raw


def test_root_without_cap_audit_control_cannot_verify(marker):
    outcome = run_probe(
        {"op": "it-noctl", "fields": {"run": marker}},
        prefix=["setpriv", "--bounding-set=-audit_control", "--inh-caps=-audit_control"],
    )
    assert not outcome["ok"] and outcome["cause"] == "AuditStatusUnknownError"
    assert "CAP_AUDIT_CONTROL" in outcome["msg"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_auditing_disabled_is_detected(backend, marker, restore_audit):
    subprocess.run(["auditctl", "-e", "0"], check=True, capture_output=True)
    outcome = run_probe({"op": "it-disabled", "fields": {"run": marker}, "backend": backend})
    assert not outcome["ok"] and outcome["cause"] == "AuditDisabledError"
    assert "auditctl -e 1" in outcome["msg"]
    # Why the check exists: the kernel ACKs and drops the record; libaudit and netlink both say success.
    raw = run_probe({"op": "it-disabled", "fields": {"run": marker}, "backend": backend, "skip_checks": True})
    assert raw["ok"] and raw["sequence"] > 0
    subprocess.run(["auditctl", "-e", "1"], check=True, capture_output=True)
    fence = run_probe({"op": "it-fence", "fields": {"run": marker + "-fence"}})
    assert fence["ok"] and wait_for_lines(marker + "-fence")
    assert [line for line in wait_for_lines(marker, timeout=0) if "-fence" not in line] == []


def test_auditd_not_running_is_detected(marker, restore_audit):
    if os.path.isdir("/run/systemd/system"):
        subprocess.run(["systemctl", "stop", "auditd"], check=True, capture_output=True)
    else:
        subprocess.run(["service", "auditd", "stop"], check=True, capture_output=True)
    deadline = time.monotonic() + 10
    while restore_audit and time.monotonic() < deadline:
        state = subprocess.run(["auditctl", "-s"], capture_output=True, text=True, check=False).stdout
        if "pid 0" in state:
            break
        time.sleep(0.1)
    outcome = run_probe({"op": "it-noauditd", "fields": {"run": marker}})
    assert not outcome["ok"] and outcome["cause"] == "AuditdNotRunningError"
    assert "auditd" in outcome["msg"] and "start" in outcome["msg"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_killed_auditd_is_detected(backend, marker, restore_audit):
    """A killed auditd stays registered until a delivery fails: the status alone would let one record be lost."""
    killed = restore_audit["pid"]
    subprocess.run(["kill", "-KILL", str(killed)], check=True, capture_output=True)
    deadline = time.monotonic() + 10
    while os.path.exists("/proc/%d" % killed) and time.monotonic() < deadline:
        time.sleep(0.05)
    outcome = run_probe({"op": "it-killed", "fields": {"run": marker}, "backend": backend})
    assert not outcome["ok"] and outcome["cause"] == "AuditdNotRunningError", outcome
    assert "pid %d" % killed in outcome["msg"] and "no longer running" in outcome["msg"]
    ensure_auditd()
    fence = run_probe({"op": "it-fence", "fields": {"run": marker + "-fence"}, "backend": backend})
    assert fence["ok"] and fence["audit_status"]["pid"] != killed
    assert wait_for_lines(marker + "-fence")


def test_user_namespace_is_refused(marker):
    outcome = run_probe({"op": "it-userns", "fields": {"run": marker}}, prefix=["unshare", "--user", "--map-root-user"])
    assert not outcome["ok"]
    assert outcome["cause"] == "AuditNamespaceError" and outcome["errno_name"] == "ECONNREFUSED"


HIDE_LIBAUDIT = (
    "for lib in $(ldconfig -p | awk '/libaudit\\.so\\.1 /{print $NF}'); do "
    "mount --bind /dev/null \"$(readlink -f \"$lib\")\"; done; exec \"$@\""
)


def test_missing_libaudit_falls_back_to_netlink(marker):
    hide = ["unshare", "--mount", "--propagation", "private", "sh", "-c", HIDE_LIBAUDIT, "sh"]
    outcome = run_probe({"op": "it-nolib", "fields": {"run": marker}}, prefix=hide)
    assert outcome["ok"], outcome
    assert outcome["backend"] == "netlink"
    assert "libaudit" in outcome["backend_fallback"]
    assert msg_text(wait_for_lines(marker)[0]) == outcome["record"]

    explicit = run_probe({"op": "it-nolib", "fields": {"run": marker}, "backend": "libaudit"}, prefix=hide)
    assert not explicit["ok"] and explicit["cause"] == "AuditBackendUnavailableError"
    assert "libaudit1" in explicit["msg"]
