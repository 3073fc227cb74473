#!/usr/bin/env python
"""Time the audit.log reader against ausearch on the same big log, and show its memory stays flat.

    PYTHONPATH=.build/collections .venv/bin/python benchmarks/reader_bench.py [--size-mb 200]

The log is generated once (deterministic, cached in benchmarks/out/, which is
gitignored) and looks like a busy host's: multi-record syscall events, PAM and
systemd user records, and a few per cent USYS_CONFIG records whose values are
hostile (quotes, =, spaces, newlines, 0x1d, non-ASCII, empty). Some noise
records carry the needle text inside a value, so a reader that matched it
anywhere in a line would report more hits than ausearch.

ausearch --raw is the anchor and runs in the same invocation, so every figure is
a ratio to it (its time over ours: above 1 is faster than ausearch), never a
bare time. Three readings of the same log: find and date every record; decode
every field of each; and what usys_config_info does with limit: 0 (read_records:
every record decoded, held and returned as the module's dicts, user names
included). The goal, >= 2x, is for the last; it is printed, never enforced.
Exit status is 1 when the hit counts differ.
"""

from __future__ import annotations

import argparse
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
USYS_SHARE = 0.03
# usys_config_info with limit: 0 against ausearch --raw on the same log (issue 30).
GOAL = 2.0

try:
    from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import (
        build_message,
        render_record,
    )
    from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.reader import AuditLogReader, read_records
except ImportError:
    sys.exit("Set PYTHONPATH to the collections root, e.g. PYTHONPATH=.build/collections")

ENRICH_USER = '\x1dUID="root" AUID="admin"'
HOSTILE = [
    "", " ", "it's", 'say "hi"', "a=b c=d", "line1\nline2", "gs\x1dsep", "héllo wörld ✓", "/etc/x y",
    "msg='x' res=failed", "type=USYS_CONFIG msg=audit(1.0:1): fake", "plain", "42", "\t\x7f\x01",
]
COMMANDS = [
    ("/usr/bin/cat", "cat"), ("/usr/sbin/sshd", "sshd"), ("/usr/bin/python3.11", "python3"),
    ("/usr/lib/systemd/systemd", "systemd"), ("/usr/bin/bash", "bash"), ("/usr/bin/sudo", "sudo"),
]


def _syscall_event(rng: random.Random, stamp: str) -> t.List[str]:
    exe, comm = rng.choice(COMMANDS)
    pid = rng.randint(300, 99999)
    path = rng.choice(["/etc/passwd", "/etc/shadow", "/var/lib/app/state.db", "/etc/ssh/sshd_config"])
    return [
        "type=SYSCALL msg=audit(%s): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=7ffd%08x "
        "a2=80000 a3=0 items=1 ppid=%d pid=%d auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 "
        'fsgid=0 tty=pts0 ses=3 comm="%s" exe="%s" subj=unconfined key="watch"\x1dARCH=x86_64 SYSCALL=openat '
        'AUID="admin" UID="root" GID="root" EUID="root" SUID="root" FSUID="root" EGID="root" SGID="root" '
        'FSGID="root"' % (stamp, rng.getrandbits(32), pid - 1, pid, comm, exe),
        'type=CWD msg=audit(%s): cwd="/root"' % stamp,
        'type=PATH msg=audit(%s): item=0 name="%s" inode=%d dev=fd:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 '
        "nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\x1dOUID=\"root\" OGID=\"root\""
        % (stamp, path, rng.randint(1000, 10 ** 7)),
        "type=PROCTITLE msg=audit(%s): proctitle=%s" % (stamp, ("%s %s" % (comm, path)).encode().hex().upper()),
    ]


def _user_event(rng: random.Random, stamp: str) -> t.List[str]:
    kind = rng.choice(["USER_ACCT", "CRED_ACQ", "USER_START", "USER_END", "USER_CMD", "SERVICE_START", "USER"])
    if kind == "USER":
        # Now and then the needle inside a value: not a USYS_CONFIG record, for ausearch or for us.
        text = "text=%s" % ("type=USYS_CONFIG msg=audit(1.0:1): op=x" if rng.random() < 0.02 else "hello world")
    elif kind == "USER_CMD":
        text = 'cwd="/root" cmd=%s exe="/usr/bin/sudo" terminal=pts/0 res=success' % (
            "systemctl restart nginx".encode().hex().upper()
        )
    elif kind == "SERVICE_START":
        text = 'unit=nginx comm="systemd" exe="/usr/lib/systemd/systemd" hostname=? addr=? terminal=? res=success'
    else:
        text = 'op=PAM:accounting grantors=pam_unix acct="admin" exe="/usr/sbin/sshd" hostname=10.0.0.7 ' \
               "addr=10.0.0.7 terminal=ssh res=success"
    return [
        "type=%s msg=audit(%s): pid=%d uid=0 auid=1000 ses=3 subj=unconfined msg='%s'%s"
        % (kind, stamp, rng.randint(300, 99999), text, ENRICH_USER)
    ]


def _usys_event(rng: random.Random, stamp: str, node: t.Optional[str]) -> str:
    fields = {"object": rng.choice(HOSTILE), "task_id": "%032x" % rng.getrandbits(128)}
    for index in range(rng.randint(0, 4)):
        fields["f%d" % index] = rng.choice(HOSTILE)
    text = render_record(
        build_message(rng.choice(["file-change", "service-restart", "package-install"]), fields),
        b"/usr/bin/python3.11", "ansible", None, None, None, rng.random() < 0.9,
    )
    line = "type=USYS_CONFIG msg=audit(%s): pid=%d uid=0 auid=1000 ses=3 subj=unconfined msg='%s'%s" % (
        stamp, rng.randint(300, 99999), text, ENRICH_USER,
    )
    return "node=%s %s" % (node, line) if node else line


def generate(path: str, size_mb: int, seed: int = 1111) -> None:
    rng = random.Random(seed)
    target = size_mb * 1024 * 1024
    clock, serial, written = 1_700_000_000.0, 1000, 0
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
        while written < target:
            lines = []
            for _line in range(1000):
                clock += rng.random() * 0.05
                serial += 1
                stamp = "%.3f:%d" % (clock, serial)
                roll = rng.random()
                if roll < USYS_SHARE:
                    lines.append(_usys_event(rng, stamp, "web01" if roll < USYS_SHARE / 4 else None))
                elif roll < 0.6:
                    lines.extend(_syscall_event(rng, stamp))
                else:
                    lines.extend(_user_event(rng, stamp))
            block = "\n".join(lines) + "\n"
            out.write(block)
            written += len(block.encode("utf-8"))
    os.replace(tmp, path)


def prefix_copy(source: str, path: str, size: int) -> None:
    """The first ``size`` bytes of ``source``, cut at a line end: a smaller log with the same mix."""
    with open(source, "rb") as src, open(path, "wb") as dst:
        data = src.read(size)
        dst.write(data[: data.rfind(b"\n") + 1])


def run_reader(path: str) -> int:
    """Find and date every record, as ausearch --raw does; fields are decoded only when asked for."""
    count = 0
    for _record in AuditLogReader(path, include_rotated=False):
        count += 1
    return count


def run_reader_decoded(path: str) -> int:
    """Every field of every record decoded, as usys_config_info returns them without a limit."""
    count = 0
    for record in AuditLogReader(path, include_rotated=False):
        record.as_dict()
        count += 1
    return count


def run_usys_config_info(path: str) -> int:
    """What usys_config_info returns for limit: 0, without the module around it: the goal's measure."""
    return read_records({"path": path, "include_rotated": False, "limit": 0})["count"]


def run_ausearch(path: str) -> int:
    proc = subprocess.run(
        ["ausearch", "--input", path, "-m", "USYS_CONFIG", "--raw"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
    )
    if proc.returncode not in (0, 1):  # 1 is "no matches"
        sys.exit("ausearch failed: %s" % proc.stderr.decode(errors="replace"))
    count = 0
    for line in proc.stdout.splitlines():
        if line.startswith(b"type=USYS_CONFIG ") or (line.startswith(b"node=") and b" type=USYS_CONFIG " in line):
            count += 1
    return count


def best_of(repeat: int, func: t.Callable[[str], int], path: str) -> t.Tuple[float, int]:
    best, hits = float("inf"), -1
    for _round in range(repeat):
        began = time.perf_counter()
        hits = func(path)
        best = min(best, time.perf_counter() - began)
    return best, hits


def child_peak_rss(path: str) -> t.Tuple[int, int, int]:
    """(hits, peak RSS in KiB, its growth while reading) of a fresh process that reads ``path``."""
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", path],
        stdout=subprocess.PIPE, check=True, env=os.environ,
    )
    hits, baseline, peak = (int(x) for x in proc.stdout.split())
    return hits, peak, peak - baseline


def _high_water_kib() -> int:
    """Peak RSS of this process. ru_maxrss would do, but on Linux a child started by a big parent
    inherits the parent's figure across fork+exec; VmHWM belongs to this address space only."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(path: str) -> None:
    baseline = _high_water_kib()
    hits = run_reader_decoded(path)
    print(hits, baseline, _high_water_kib())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="best of N timed runs for each tool")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    if not shutil.which("ausearch"):
        sys.exit("ausearch not found (apt-get install auditd)")

    os.makedirs(OUT, exist_ok=True)
    log = os.path.join(OUT, "audit-%dmb-v%d.log" % (args.size_mb, GENERATOR_VERSION))
    if not os.path.exists(log):
        print("generating %s ..." % log, flush=True)
        generate(log, args.size_mb)
    size = os.path.getsize(log)
    quarter = os.path.join(OUT, "audit-%dmb-v%d.quarter.log" % (args.size_mb, GENERATOR_VERSION))
    if not os.path.exists(quarter):
        prefix_copy(log, quarter, size // 4)

    with open(log, "rb") as handle:  # same page-cache state for both tools
        while handle.read(1 << 24):
            pass

    mb = size / (1024 * 1024)
    # Interleaved rounds, so that a busy moment of the machine slows every reading alike.
    readings = (
        ("find and date every record", run_reader),
        ("every field decoded", run_reader_decoded),
        ("usys_config_info, limit: 0", run_usys_config_info),
        ("ausearch --raw", run_ausearch),
    )
    best = {label: float("inf") for label, _func in readings}
    counts: t.Dict[str, int] = {}
    for _round in range(args.repeat):
        for label, func in readings:
            seconds, counts[label] = best_of(1, func, log)
            best[label] = min(best[label], seconds)
    anchor = best["ausearch --raw"]
    same = len(set(counts.values())) == 1
    print("log: %s (%.1f MB), best of %d rounds" % (log, mb, args.repeat))
    print("hits: %s %s" % (", ".join("%s %d" % (label, count) for label, count in counts.items()), "OK" if same else "MISMATCH"))
    for label, _func in readings[:-1]:
        print("reader, %-28s %5.2fx ausearch --raw  (%.3f s against %.3f s)"
              % (label + ":", anchor / best[label], best[label], anchor))
    ratio = anchor / best["usys_config_info, limit: 0"]
    print("goal: usys_config_info >= %.1fx ausearch --raw: %s (%.2fx)" % (GOAL, "MET" if ratio >= GOAL else "NOT MET", ratio))

    for path in (quarter, log):
        hits, peak, grown = child_peak_rss(path)
        print("reader (decoded) on %6.1f MB, %5d hits: peak RSS %6.1f MB, grew %5.1f MB while reading"
              % (os.path.getsize(path) / 1048576.0, hits, peak / 1024.0, grown / 1024.0))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
