"""The scan of a log for the watch's events, and its one-match reading of an event (_EVENT_FAST, with its per-run
caches) against the record-by-record one (issue 31)."""

from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch import scan
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.scan import WatchScan
from ansible_collections.changeaudit.linux.tests.unit.plugins.module_utils._audit.watch.watch_lines import KEY, event, hexed

ENRICHED = '\x1dARCH=x86_64 SYSCALL=%s AUID="deploy" UID="root"'


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


def lines_of(serial, comm, exe, tty, cwd, names, proctitle, auid=1000, uid=0, ses=7, enriched=""):
    head = "msg=audit(1700000000.%03d:%d): " % (serial % 1000, serial)
    lines = ["type=SYSCALL " + head + "arch=c000003e syscall=82 success=yes exit=0 a0=ffffff9c a1=55 a2=441 a3=1b6 "
             "items=%d ppid=10 pid=%d auid=%d uid=%d gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=%s ses=%d "
             'comm=%s exe=%s subj=unconfined key="%s"%s' % (len(names), 100 + serial, auid, uid, tty, ses, comm, exe, KEY, enriched),
             "type=CWD " + head + "cwd=%s" % cwd]
    for index, (name, nametype) in enumerate(names):
        lines.append("type=PATH " + head + "item=%d name=%s inode=%d dev=fd:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 "
                     "nametype=%s cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0" % (index, name, 40 + serial, nametype))
    lines.append("type=PROCTITLE " + head + "proctitle=%s" % proctitle)
    return lines


def read_events(tmp_path, lines, name):
    log = tmp_path / name
    log.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    scan = WatchScan(KEY)
    scan.read(str(log))
    return scan.events


def day(foreign):
    """The same events twice over: the values repeat (the caches answer the second time), some are hex. With
    ``foreign`` a record of another event sits inside each, so that none is read in one match."""
    lines = []
    samples = [
        ('"vim"', '"/usr/bin/vim"', "pts0", '"/root"', [('"/etc/motd"', "NORMAL")], hexed("vim\0/etc/motd")),
        (hexed("my vim"), hexed("/opt/my bin/vim"), "(none)", hexed("/tmp/a b"),
         [('"/etc/"', "PARENT"), (hexed("/etc/my file"), "DELETE"), (hexed("/etc/my file"), "CREATE")], '"sed"'),
        # Bytes that are hex for a name are a tty's own text: each field is read as its own kind.
        ('"cp"', '"/usr/bin/cp"', "7074", '"/7074"', [("7074", "NORMAL")], "(null)"),
    ]
    for round_ in range(2):
        for index, (comm, exe, tty, cwd, names, title) in enumerate(samples):
            serial = 10 + 10 * round_ + index
            event = lines_of(serial, comm, exe, tty, cwd, names, title, uid=index,
                             enriched='\x1dARCH=x86_64 SYSCALL=rename AUID="deploy" UID="u%d"' % index if index != 1 else "")
            if foreign:
                event.insert(1, "type=USER_END msg=audit(1700000000.999:%d): pid=1 uid=0 auid=0 ses=1 msg='op=x res=success'"
                             % (900 + serial))
            lines.extend(event)
    return lines


def test_one_match_reads_what_the_record_by_record_reading_reads(tmp_path, monkeypatch):
    slow = read_events(tmp_path, day(foreign=True), "slow.log")
    calls = []
    monkeypatch.setattr(WatchScan, "_syscall", lambda self, *args: calls.append(args))
    fast = read_events(tmp_path, day(foreign=False), "fast.log")
    assert calls == []  # every event in one match
    assert len(fast) == len(slow) == 6
    assert fast == slow
    assert [event["tty"] for event in fast[:3]] == ["pts0", None, "7074"]
    assert [event["cwd"] for event in fast[:3]] == ["/root", "/tmp/a b", "/7074"]
    assert fast[2]["paths"][0]["name"] == "pt"  # hex in a name is its text
    assert fast[1]["comm"] == "my vim" and fast[1]["exe"] == "/opt/my bin/vim" and fast[1]["proctitle"] == "sed"
    assert fast[2]["proctitle"] is None
    assert (fast[0]["uid_name"], fast[2]["uid_name"], fast[3]["uid_name"]) == ("u0", "u2", "u0")


def test_the_caches_start_over_past_their_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(scan, "_TEXT_CACHE", 1)
    assert read_events(tmp_path, day(foreign=False), "bounded.log") == read_events(tmp_path, day(foreign=True), "slow.log")
