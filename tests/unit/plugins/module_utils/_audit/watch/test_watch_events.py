from __future__ import annotations

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch import watch_events
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.watch_events import read_watch_events

KEY = "changeaudit-watch"


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
    result = read_watch_events({"path": str(log), "include_rotated": False, "since": "1700000000.5",
                                "until": "1700000001", "state_file": state_file})
    assert [record["object"] for record in result["records"]] == ["/etc/app/conf.d/x", "/etc/app"]
    assert result["unwatched"] == [] and result["watched"] is True and len(result["events"]) == 1
    assert result["watched_paths"][0]["path"] == "/etc/app/conf.d"
