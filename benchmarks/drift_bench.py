#!/usr/bin/env python
"""Time the drift report's read of one host's day of watched events against ausearch -k KEY --raw on the same log.

    PYTHONPATH=.build/collections .venv/bin/python benchmarks/drift_bench.py [--size-mb 100] [--events 20000]

The log is generated once (deterministic, cached in benchmarks/out/, gitignored) and spans one day of a busy host:
multi-record syscall events of other rules' keys, PAM and systemd user records, the collection's USYS_CONFIG records
of changes, and the watch's events (SYSCALL, CWD, one or several PATH, PROCTITLE: writes, renames, chmods) with the
key, some with names that are hex (spaces, quotes) and the key's text inside other records' values.

ausearch --raw is the anchor, run in the same invocation: the figure printed is our time over its time (below 1 is
faster), never a bare time. Its output is taken whole through a pipe and counted after its clock stops, so the
anchor is ausearch's own run (spawn, read, output), not our counting of its lines. Ours is watch_events_info's whole
read without the module around it (read_watch_events on the file, live=False): every event with its records decoded,
the collection's records and the rule changes, all of it what the module returns. The goal, <= 1.5x, is on that read,
printed, never enforced; exit status 1 when the event counts differ. A second line adds what the module does after
the read, the JSON of its result (exit_json), outside the goal: the text the connection carries back.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
import typing as t

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out")
GENERATOR_VERSION = 2
KEY = "changeaudit-watch"
GOAL = 1.5
DAY = 86400.0
START = 1_700_000_000.0

try:
    from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.watch_events import read_watch_events
except ImportError:
    sys.exit("Set PYTHONPATH to the collections root, e.g. PYTHONPATH=.build/collections")

ENRICH = ('\x1dARCH=x86_64 SYSCALL=%s AUID="admin" UID="root" GID="root" EUID="root" SUID="root" FSUID="root" '
          'EGID="root" SGID="root" FSGID="root"')
WATCHED = ["/etc/ssh/sshd_config", "/etc/sudoers", "/etc/app/app.conf", "/etc/app/conf.d/my file.conf", "/etc/motd"]
WATCH_CALLS = [(257, "openat"), (82, "rename"), (90, "chmod"), (92, "chown"), (263, "unlinkat"), (188, "setxattr")]


def name_field(path: str) -> str:
    if " " in path or '"' in path:
        return path.encode().hex().upper()
    return '"%s"' % path


def syscall_event(rng: random.Random, stamp: str, key: str, path: str, call: t.Tuple[int, str]) -> t.List[str]:
    number, name = call
    pid = rng.randint(300, 99999)
    comm = rng.choice(["bash", "sed", "python3", "vim", "cp"])
    items = [("/etc/", "PARENT"), (path, "DELETE"), (path, "CREATE")] if name == "rename" else [(path, "NORMAL")]
    lines = [
        "type=SYSCALL msg=audit(%s): arch=c000003e syscall=%d success=yes exit=3 a0=ffffff9c a1=7ffd%08x a2=441 a3=1b6 "
        "items=%d ppid=%d pid=%d auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 "
        'comm="%s" exe="/usr/bin/%s" subj=unconfined key=%s' % (
            stamp, number, rng.getrandbits(32), len(items), pid - 1, pid, comm, comm, key) + ENRICH % name,
        'type=CWD msg=audit(%s): cwd="/root"' % stamp,
    ]
    for index, (item, kind) in enumerate(items):
        lines.append('type=PATH msg=audit(%s): item=%d name=%s inode=%d dev=fd:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 '
                     'nametype=%s cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\x1dOUID="root" OGID="root"'
                     % (stamp, index, name_field(item), rng.randint(1000, 10 ** 7), kind))
    lines.append("type=PROCTITLE msg=audit(%s): proctitle=%s" % (stamp, ("%s\0-i\0%s" % (comm, path)).encode().hex().upper()))
    return lines


def user_event(rng: random.Random, stamp: str) -> str:
    kind = rng.choice(["USER_ACCT", "CRED_ACQ", "USER_START", "USER_END", "USER"])
    text = 'text="key=\\"%s\\""' % KEY if kind == "USER" and rng.random() < 0.05 else \
        'op=PAM:accounting grantors=pam_unix acct="admin" exe="/usr/sbin/sshd" hostname=10.0.0.7 addr=10.0.0.7 ' \
        "terminal=ssh res=success"
    return "type=%s msg=audit(%s): pid=%d uid=0 auid=1000 ses=3 subj=unconfined msg='%s'" % (
        kind, stamp, rng.randint(300, 99999), text) + '\x1dUID="root" AUID="admin"'


def usys_record(rng: random.Random, stamp: str) -> str:
    path = rng.choice(WATCHED)
    return ("type=USYS_CONFIG msg=audit(%s): pid=%d uid=0 auid=1000 ses=3 subj=unconfined msg='op=ansible-change:"
            'ansible.builtin.copy:%s module="ansible.builtin.copy" object=%s task_id="%032x" seq="%d" run_id="bench" '
            "exe=\"/usr/bin/python3.11\" hostname=ctl addr=10.0.0.1 terminal=? res=success'" % (
                stamp, rng.randint(300, 99999), path.replace(" ", "_"), name_field(path), rng.getrandbits(128),
                rng.randint(1, 999)) + '\x1dUID="root" AUID="admin"')


def generate(path: str, size_mb: int, events: int, seed: int = 3131) -> None:
    rng = random.Random(seed)
    target = size_mb * 1024 * 1024
    # The watched events and records spread over the day; the rest of the bytes are noise.
    # Bytes an entry of the mix takes on average (measured), so that the day holds about ``events`` watched ones.
    per_line_guess = 575
    total_entries = max(target // per_line_guess, events * 6)
    watch_share = events / float(total_entries)
    serial, written, clock = 1000, 0, START
    step = DAY / total_entries
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
        while written < target:
            lines: t.List[str] = []
            for _entry in range(1000):
                clock += step
                serial += 1
                stamp = "%.3f:%d" % (clock, serial)
                roll = rng.random()
                if roll < watch_share:
                    lines.extend(syscall_event(rng, stamp, '"%s"' % KEY, rng.choice(WATCHED), rng.choice(WATCH_CALLS)))
                elif roll < watch_share * 1.1:
                    lines.append(usys_record(rng, stamp))
                elif roll < 0.55:
                    lines.extend(syscall_event(rng, stamp, rng.choice(['"scope"', '"logins"', "(null)"]),
                                               rng.choice(["/etc/passwd", "/var/lib/app/state.db"]), (257, "openat")))
                else:
                    lines.append(user_event(rng, stamp))
            block = "\n".join(lines) + "\n"
            out.write(block)
            written += len(block.encode("utf-8"))
    os.replace(tmp, path)


def run_ours(path: str) -> t.Dict[str, t.Any]:
    return read_watch_events({"path": path, "include_rotated": False, "live": False, "since": str(START - 1),
                              "until": str(START + 2 * DAY), "max_events": 10 ** 7})


def count_ours(result: t.Mapping[str, t.Any]) -> int:
    return len(result["events"])


def run_ausearch(path: str) -> bytes:
    # Its output is taken whole by the pipe and counted after the clock stops: the anchor is ausearch's work only.
    proc = subprocess.run(["ausearch", "--input", path, "-k", KEY, "--raw"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)
    if proc.returncode not in (0, 1):
        sys.exit("ausearch failed: %s" % proc.stderr.decode(errors="replace"))
    return proc.stdout


def count_ausearch(output: bytes) -> int:
    needle = (' key="%s"' % KEY).encode()
    return sum(1 for line in output.splitlines() if line.startswith(b"type=SYSCALL ") and needle in line)


def run_module_output(result: t.Mapping[str, t.Any]) -> str:
    # What the module adds after the read: exit_json's JSON of the result (ansible's encoder is json's, with a
    # default for its own types), the text that goes back over the connection.
    return json.dumps(result)


def _cpu_seconds() -> float:
    """User and system time of this process and of its waited-for children (ausearch): a busy machine slows both the
    same way in elapsed time, not in CPU time."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--events", type=int, default=20000, help="watched events in the day")
    parser.add_argument("--repeat", type=int, default=3, help="best of N interleaved rounds")
    args = parser.parse_args()
    if not shutil.which("ausearch"):
        sys.exit("ausearch not found (apt-get install auditd)")
    os.makedirs(OUT, exist_ok=True)
    log = os.path.join(OUT, "drift-%dmb-%d-v%d.log" % (args.size_mb, args.events, GENERATOR_VERSION))
    if not os.path.exists(log):
        print("generating %s ..." % log, flush=True)
        generate(log, args.size_mb, args.events)
    with open(log, "rb") as handle:  # the same page-cache state for both
        while handle.read(1 << 24):
            pass
    best = {"ours": float("inf"), "ausearch": float("inf"), "json": float("inf")}
    cpu = dict(best)
    counts = {}
    for _round in range(args.repeat):
        for label, func, count in (("ours", run_ours, count_ours), ("ausearch", run_ausearch, count_ausearch)):
            began, cpu_began = time.perf_counter(), _cpu_seconds()
            output = func(log)
            best[label] = min(best[label], time.perf_counter() - began)
            cpu[label] = min(cpu[label], _cpu_seconds() - cpu_began)
            counts[label] = count(output)
            if label == "ours":
                began, cpu_began = time.perf_counter(), _cpu_seconds()
                run_module_output(output)
                best["json"] = min(best["json"], time.perf_counter() - began)
                cpu["json"] = min(cpu["json"], _cpu_seconds() - cpu_began)
            del output
    ratio = best["ours"] / best["ausearch"]
    print("log: %s (%.1f MB), best of %d rounds" % (log, os.path.getsize(log) / 1048576.0, args.repeat))
    same = "OK" if counts["ours"] == counts["ausearch"] else "MISMATCH"
    print("watched events: ours %d, ausearch -k %s --raw %d: %s" % (counts["ours"], KEY, counts["ausearch"], same))
    print("watch_events_info's read / ausearch -k --raw: %.2fx elapsed, %.2fx CPU time (goal <= %.1fx: %s)" % (
        ratio, cpu["ours"] / cpu["ausearch"], GOAL, "met" if ratio <= GOAL else "not met"))
    print("the read with the module's JSON of it (exit_json) / ausearch -k --raw: %.2fx elapsed, %.2fx CPU time "
          "(not in the goal)" % ((best["ours"] + best["json"]) / best["ausearch"],
                                 (cpu["ours"] + cpu["json"]) / cpu["ausearch"]))
    return 0 if counts["ours"] == counts["ausearch"] else 1


if __name__ == "__main__":
    sys.exit(main())
