from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch import watch_events
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.watch_events import (
    WatchScan,
    decode_field,
    proctitle_text,
    unwatched_spans,
)

KEY = "changeaudit-watch"
ENRICHED = '\x1dARCH=x86_64 SYSCALL=%s AUID="deploy" UID="root"'


def hexed(text):
    return text.encode().hex().upper()


def event(serial, stamp=1700000000.5, syscall=257, name="/etc/motd", key='"%s"' % KEY, comm='"bash"', enriched=None,
          nametype="NORMAL", cwd="/root", ses=7, auid=1000, uid=0, proctitle="bash\0-c\0echo x >> /etc/motd",
          node=None, success="yes"):
    head = "msg=audit(%.3f:%d): " % (stamp, serial)
    prefix = "node=%s " % node if node else ""
    syscall_line = (prefix + "type=SYSCALL " + head + "arch=c000003e syscall=%d success=%s exit=3 a0=ffffff9c a1=55 a2=441 "
                    "a3=1b6 items=1 ppid=10 pid=11 auid=%d uid=%d gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 "
                    "tty=pts0 ses=%d comm=%s exe=\"/usr/bin/bash\" key=%s" % (syscall, success, auid, uid, ses, comm, key))
    if enriched:
        syscall_line += enriched
    return [
        syscall_line,
        prefix + "type=CWD " + head + 'cwd="%s"' % cwd,
        prefix + "type=PATH " + head + 'item=0 name="%s" inode=42 dev=fe:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 '
        "nametype=%s cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0" % (name, nametype),
        prefix + "type=PROCTITLE " + head + "proctitle=%s" % hexed(proctitle),
    ]


def scan_lines(tmp_path, lines, chunk_size=4 * 1024 * 1024, **options):
    log = tmp_path / "audit.log"
    log.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    scan = WatchScan(KEY, chunk_size=chunk_size, **options)
    scan.read(str(log))
    return scan


def test_an_event_is_its_syscall_cwd_path_and_proctitle(tmp_path):
    scan = scan_lines(tmp_path, event(5, enriched=ENRICHED % "openat"))
    [found] = scan.events
    assert (found["syscall"], found["action"], found["success"], found["serial"], found["ses"]) == ("openat", "write", True, 5, 7)
    assert (found["auid"], found["auid_name"], found["uid"], found["tty"], found["comm"], found["exe"]) == (
        1000, "deploy", 0, "pts0", "bash", "/usr/bin/bash")
    assert found["cwd"] == "/root" and found["proctitle"] == "bash -c echo x >> /etc/motd" and found["complete"]
    assert found["paths"] == [{"item": 0, "name": "/etc/motd", "nametype": "NORMAL", "inode": 42, "dev": "fe:00",
                               "mode": "0100644", "ouid": 0}]
    assert found["time"] == "2023-11-14T22:13:20.500+00:00"


@pytest.mark.parametrize("number, name", [(2, "open"), (82, "rename"), (87, "unlink"), (263, "unlinkat"),
                                          (268, "fchmodat"), (260, "fchownat"), (188, "setxattr"), (265, "linkat"),
                                          (316, "renameat2"), (85, "creat"), (76, "truncate"), (437, "openat2")])
def test_syscall_numbers_are_named_by_the_x86_64_table(tmp_path, number, name):
    [found] = scan_lines(tmp_path, event(1, syscall=number)).events
    assert found["syscall"] == name


def test_only_the_syscall_records_own_key_counts(tmp_path):
    lines = event(1, key='"other"')
    # The key's text elsewhere: a user record's message, and a command name the kernel wrote as hex.
    lines.append("type=USER msg=audit(1700000000.600:2): pid=1 uid=0 auid=0 ses=1 msg='x key=\"%s\"'" % KEY)
    lines += event(3, comm=hexed('x key="%s"' % KEY), key="(null)")
    # Two keys on one rule: hex, separated by 0x01.
    lines += event(4, key=hexed("scope\x01" + KEY))
    lines += event(5, node="web1")
    scan = scan_lines(tmp_path, lines)
    assert [(found["serial"], found["node"]) for found in scan.events] == [(4, None), (5, "web1")]


def test_the_records_of_an_event_are_found_across_a_chunk_boundary(tmp_path):
    lines = []
    for serial in range(1, 200):
        lines += event(serial, stamp=1700000000 + serial)
    scan = scan_lines(tmp_path, lines, chunk_size=1000)
    assert len(scan.events) == 199 and all(found["complete"] and found["cwd"] == "/root" for found in scan.events)


def test_interleaved_records_of_another_event_do_not_mix(tmp_path):
    first, second = event(1, name="/etc/a"), event(2, name="/etc/b", key='"other"')
    lines = [first[0], second[0], first[1], second[2], first[2], first[3], second[3]]
    [found] = scan_lines(tmp_path, lines).events
    assert [item["name"] for item in found["paths"]] == ["/etc/a"]


def test_the_span_and_the_limit(tmp_path):
    lines = event(1, stamp=100.0) + event(2, stamp=200.0) + event(3, stamp=300.0)
    assert [found["serial"] for found in scan_lines(tmp_path, lines, start=150.0, end=250.0).events] == [2]
    scan = scan_lines(tmp_path, lines, max_events=2)
    assert len(scan.events) == 2 and scan.truncated


def test_unset_session_null_names_and_failures(tmp_path):
    [found] = scan_lines(tmp_path, event(1, ses=4294967295, auid=4294967295, success="no")).events
    assert found["ses"] is None and found["auid_name"] == "unset" and found["success"] is False
    assert decode_field("name", "(null)") is None and decode_field("name", hexed("a b")) == "a b"
    assert proctitle_text('"vi"') == "vi"


def test_config_changes_and_the_collections_records_are_collected(tmp_path):
    lines = [
        'type=CONFIG_CHANGE msg=audit(500.000:9): auid=1000 ses=3 op=remove_rule key="%s" list=4 res=1' % KEY,
        "type=SYSCALL msg=audit(500.000:9): arch=c000003e syscall=44 success=yes exit=1 a0=4 a1=1 a2=1 a3=0 items=0 "
        'ppid=1 pid=77 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts1 ses=3 comm="auditctl" '
        'exe="/usr/sbin/auditctl" key=(null)',
        'type=CONFIG_CHANGE msg=audit(501.000:10): auid=1000 ses=3 op=remove_rule key="other" list=4 res=1',
        "type=CONFIG_CHANGE msg=audit(502.000:11): op=set audit_enabled=0 old=1 auid=1000 ses=3 res=1",
        "type=DAEMON_END msg=audit(503.000:12): op=terminate auid=0 uid=0 ses=4294967295 pid=1 res=success",
        "type=USYS_CONFIG msg=audit(504.000:13): pid=5 uid=0 auid=1000 ses=3 msg='op=ansible-change:copy:/etc/motd "
        'module="ansible.builtin.copy" object="/etc/motd" task_id="t-1" seq="1" run_id="r-1" exe="/usr/bin/python3" '
        "hostname=ctl addr=? terminal=? res=success'",
    ]
    scan = scan_lines(tmp_path, lines, start=0.0, end=1000.0)
    assert [(change["type"], change.get("key"), change.get("audit_enabled")) for change in scan.changes] == [
        ("CONFIG_CHANGE", KEY, None), ("CONFIG_CHANGE", None, 0), ("DAEMON_END", None, None)]
    assert scan.changes[0]["exe"] == "/usr/sbin/auditctl" and scan.changes[0]["pid"] == 77
    [record] = scan.records
    assert (record["object"], record["ses"], record["auid"], record["run_id"], record["task_id"], record["seq"]) == (
        "/etc/motd", 3, 1000, "r-1", "t-1", "1")


STATE = {"installed": 100.0, "count": 2, "rules_sha256": None, "lost": 0, "boot_id": "b1",
         "loads": [{"start": 100.0, "end": 100.2, "count": 2, "ses": 5}]}


def spans(changes=(), state=None, now_rules=None, status=None, log_start=None, start=50.0, end=1000.0):
    state = dict(state or STATE)
    rules = now_rules if now_rules is not None else {"/a": 10, "/b": 10}
    state["rules_sha256"] = watch_events.rules_hash({"/a": 10, "/b": 10}, KEY)
    return [(span["start"], span["end"], span["reason"]) for span in unwatched_spans(
        start, end, state, list(changes), log_start, rules, status or {"enabled": 1, "lost": 0}, KEY, now=1000.0,
        current_boot="b1")]


def change(when, op, ses=9, **extra):
    return dict({"type": "CONFIG_CHANGE", "timestamp": when, "op": op, "key": KEY, "auid": 0, "ses": ses}, **extra)


def test_before_the_install_is_not_watched_and_a_clean_watch_has_no_other_span():
    assert spans() == [(50.0, 100.0, "the watch was installed at 1970-01-01T00:01:40.000+00:00")]
    assert spans(start=150.0) == []


def test_a_rule_removed_by_someone_else_is_unwatched_until_it_is_back():
    found = spans([change(300.0, "remove_rule", exe="/usr/sbin/auditctl"), change(400.0, "add_rule")], start=150.0)
    assert [(low, high) for low, high, _why in found] == [(300.0, 400.0)]
    assert "removed" in found[0][2] and "ses 9" in found[0][2] and "auditctl" in found[0][2]
    # Never back: to the end of the span.
    assert [(low, high) for low, high, _why in spans([change(300.0, "remove_rule")], start=150.0)] == [(300.0, 1000.0)]


def test_the_watch_roles_own_changes_are_not_a_break():
    assert spans([change(100.1, "remove_rule", ses=5), change(100.15, "add_rule", ses=5)], start=150.0) == []
    # In the window, but from another session: not the role's.
    assert spans([change(100.1, "remove_rule", ses=6)], start=150.0) != []


def test_a_rule_added_by_someone_else_is_a_change():
    [(low, high, why)] = spans([change(300.0, "add_rule")], start=150.0)
    assert low == high == 300.0 and "added" in why


def test_auditing_disabled_auditd_stopped_lost_records_and_other_rules_now():
    disabled = {"type": "CONFIG_CHANGE", "timestamp": 300.0, "op": "set", "audit_enabled": 0, "auid": 0, "ses": 9}
    enabled = dict(disabled, timestamp=310.0, audit_enabled=1)
    stopped = {"type": "DAEMON_END", "timestamp": 500.0, "op": "terminate"}
    started = {"type": "DAEMON_START", "timestamp": 520.0, "op": "start"}
    found = spans([disabled, enabled, stopped, started], start=150.0)
    assert [(low, high) for low, high, _why in found] == [(300.0, 310.0), (500.0, 520.0)]
    [(low, high, why)] = spans(status={"enabled": 1, "lost": 4}, start=150.0)
    assert (low, high) == (150.0, 1000.0) and "lost 4" in why
    [(low, high, why)] = spans(now_rules={"/a": 10}, start=150.0)
    assert "not those the watch role installed" in why


def test_no_watch_and_a_short_log():
    [span] = unwatched_spans(50.0, 100.0, None, [], None, {}, None, KEY)
    assert (span["start"], span["end"]) == (50.0, 100.0) and "no watch" in span["reason"]
    assert (150.0, 200.0, "the audit log (with its rotations) begins at 1970-01-01T00:03:20.000+00:00") in spans(
        start=150.0, log_start=200.0)


def test_the_modules_read_with_a_baseline_keeps_the_changes_that_can_explain_a_write(tmp_path, monkeypatch):
    from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch import watch

    def usys(serial, obj):
        return ("type=USYS_CONFIG msg=audit(1700000000.%03d:%d): pid=5 uid=0 auid=1000 ses=3 msg='op=ansible-change:x "
                'object="%s" task_id="t" seq="1" run_id="r" exe="/usr/bin/python3" hostname=c addr=? terminal=? '
                "res=success'" % (600 + serial, serial, obj))

    lines = event(1, stamp=1700000000.5, name="/etc/app/conf.d/x") + [
        usys(2, "/etc/app/conf.d/x"), usys(3, "/etc/app"), usys(4, "/srv/other"), usys(5, "/etc/application")]
    log = tmp_path / "audit.log"
    log.write_text("\n".join(lines) + "\n")
    state_file = str(tmp_path / "state.json")
    watch.write_state({"installed": 1600000000.0, "count": 1, "paths": ["/etc/app/conf.d"], "lost": 0, "boot_id": "b",
                       "rules_sha256": watch.rules_hash({"/etc/app/conf.d": 10}), "loads": []}, state_file)
    monkeypatch.setattr(watch_events, "_kernel_now", lambda key: ({"enabled": 1, "lost": 0}, {"/etc/app/conf.d": 10}, None))
    monkeypatch.setattr(watch_events, "boot_id", lambda: "b")
    result = watch_events.read_watch_events({"path": str(log), "include_rotated": False, "since": "1700000000.5",
                                             "until": "1700000001", "state_file": state_file})
    assert [record["object"] for record in result["records"]] == ["/etc/app/conf.d/x", "/etc/app"]
    assert result["unwatched"] == [] and result["watched"] is True and len(result["events"]) == 1
    assert result["watched_paths"][0]["path"] == "/etc/app/conf.d"
