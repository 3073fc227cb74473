"""The one-match reading of an event (_EVENT_FAST, with its per-run caches) against the record-by-record one (issue 31)."""

from __future__ import annotations

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch import watch_events
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.watch_events import WatchScan

KEY = "changeaudit-watch"


def hexed(text):
    return text.encode().hex().upper()


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


def read(tmp_path, lines, name):
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
    slow = read(tmp_path, day(foreign=True), "slow.log")
    calls = []
    monkeypatch.setattr(WatchScan, "_syscall", lambda self, *args: calls.append(args))
    fast = read(tmp_path, day(foreign=False), "fast.log")
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
    monkeypatch.setattr(watch_events, "_TEXT_CACHE", 1)
    assert read(tmp_path, day(foreign=False), "bounded.log") == read(tmp_path, day(foreign=True), "slow.log")
