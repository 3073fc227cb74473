"""The records of a watched write as auditd logs them, for the watch side's tests."""

from __future__ import annotations

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
