# PRIVATE: helpers shared by the scripts of benchmarks/; not shipped API.
"""What the benchmarks share: the import path, the machine-wide lock, the kernel
status, a watcher that finds this run's records in audit.log and its rotations,
and, for the playbook benchmarks, a run's elapsed and CPU time, the ledger's
record paths and the spread of per-round ratios.

Why a watcher instead of reading the logs at the end: auditd here rotates at
max_log_file (8 MB) and keeps num_logs files; a run of 80,000 records is about
26 MB, so a file we need could be rotated *and deleted* before the run ends.
The watcher opens every log file that appears during the run and keeps it open;
an open file stays readable after auditd renames or unlinks it, so no record
can escape the count, however many rotations happen. Files are told apart by
inode, and every file the watcher knows stays open until close(), so an inode
number cannot be freed and reused for a new audit.log mid-run.
"""

from __future__ import annotations

import collections
import ctypes
import errno
import fcntl
import json
import os
import re
import resource
import secrets
import statistics
import subprocess
import sys
import time
import typing as t
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"

# Other test suites read the live audit log; whoever writes records holds this
# lock for the whole run so their counts and ours do not mix.
LOCK_FILE = "/run/lock/changeaudit-audit.lock"
AUDIT_LOG = "/var/log/audit/audit.log"


def ensure_collection_importable() -> None:
    """Make ``ansible_collections.changeaudit.linux`` importable without an explicit PYTHONPATH.

    The collection root is this repository; the dev setup links it as
    .build/collections/ansible_collections/changeaudit/linux. When the repository
    itself is checked out inside an ansible_collections tree, use that tree.
    """
    try:
        import ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.write  # noqa: F401
        return
    except ImportError:
        pass
    candidates = [ROOT / ".build" / "collections"]
    if ROOT.parent.parent.name == "ansible_collections":
        candidates.append(ROOT.parent.parent.parent)
    for candidate in candidates:
        if (candidate / "ansible_collections" / "changeaudit" / "linux").is_dir():
            sys.path.insert(0, str(candidate))
            return
    sys.exit(
        "Cannot import ansible_collections.changeaudit.linux: set PYTHONPATH to the directory that "
        "holds ansible_collections/changeaudit/linux (for this repository: %s)" % (ROOT / ".build" / "collections")
    )


ensure_collection_importable()

# These imports need the path set above.
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import build_message  # noqa: E402
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError  # noqa: E402
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.netlink import query_status  # noqa: E402
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.status import ensure_records_kept  # noqa: E402

# The collection's own line parser decodes a line exactly as usys_config_info
# does, and rejects a cut line (no closing quote) instead of guessing.
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.logline import (  # noqa: E402
    parse_line as _reader_parse_line,
)

# Every benchmark record carries these fields, in this order, so the C loop,
# auditctl -m and the binding send messages of the same shape and length.
TARGET = "/etc/changeaudit/bench.conf"


def bench_fields(run_id: str, writer: str, seq: int, change: str) -> t.Dict[str, t.Any]:
    return {"run": run_id, "writer": writer, "seq": seq, "target": TARGET, "change": change}


def bench_message(op: str, run_id: str, writer: str, seq: int, change: str) -> str:
    """The message text as build_message() gives it: what the C loop and auditctl -m send."""
    return build_message(op, bench_fields(run_id, writer, seq, change))


def new_run_id() -> str:
    """Unique per run: records of earlier runs (still in the logs) never count for this one."""
    return "%s-%s" % (time.strftime("%Y%m%dT%H%M%S"), secrets.token_hex(4))


class AuditLock:
    """Exclusive flock on LOCK_FILE for the life of the ``with`` block (children inherit it)."""

    def __init__(self, path: str = LOCK_FILE) -> None:
        self.path = path
        self._fd = -1

    def __enter__(self) -> "AuditLock":
        if os.environ.get("CHANGEAUDIT_AUDIT_LOCK_HELD"):
            # scripts/bench.sh or scripts/test.sh already holds it for the whole run.
            return self
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            print("Waiting for %s (another suite is writing audit records)..." % self.path, flush=True)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info: t.Any) -> None:
        if self._fd < 0:
            return
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = -1


def kernel_status() -> t.Dict[str, int]:
    """struct audit_status through the binding's own netlink query (needs CAP_AUDIT_CONTROL: root)."""
    return query_status()


def check_auditd(status: t.Mapping[str, int]) -> None:
    """Refuse to run when records would not reach audit.log: the kernel ACKs them anyway."""
    try:
        ensure_records_kept(status)
    except AuditError as exc:
        sys.exit("%s Nothing was written." % exc)


def audit_log_settings(path: str = "/etc/audit/auditd.conf") -> t.Dict[str, str]:
    settings = {}
    try:
        with open(path) as handle:
            for line in handle:
                if "=" in line and not line.lstrip().startswith("#"):
                    key, value = line.split("=", 1)
                    settings[key.strip()] = value.strip()
    except OSError:
        pass
    return settings


# ---------------------------------------------------------------------------
# Reading the records back.
#
# Lines are decoded by plugins/module_utils/_audit/read/logline.py. A line looks like
# (log_format = ENRICHED adds the part after \x1d):
#   type=USYS_CONFIG msg=audit(1795567582.810:15): pid=3095 uid=0 ... msg='op=bench-c run="..."
#   writer="c.r0" seq="7" target="..." change="..." comm="ansible" exe="..." ... res=success'\x1dUID="root" ...
# We only need the record type and the writer/seq fields of our own run.

_TYPE = re.compile(rb"^type=(\S+) ")


def parse_line(line: bytes) -> t.Tuple[str, t.Optional[t.Dict[str, str]]]:
    """(record type, decoded user fields) of one audit.log line; fields None for a cut or foreign line."""
    match = _TYPE.match(line)
    record_type = match.group(1).decode("ascii", "replace") if match else "?"
    record = _reader_parse_line(line, record_type)
    if record is None:
        return record_type, None
    return record_type, {name: record.get(name) or "" for name in ("op", "run", "writer", "seq")}


class AuditLogWatcher:
    """Counts this run's records, keyed by (writer, seq), across audit.log and its rotations.

    ``start()`` before the first record is written, ``poll()`` whenever convenient
    (the benchmarks call it between timed batches, never inside one, so reading
    does not steal the CPU or the GIL from what is measured), ``close()`` at the end.
    """

    def __init__(self, run_id: str, log_file: str = AUDIT_LOG) -> None:
        self.token = ('run="%s"' % run_id).encode("ascii")
        self.log_file = log_file
        self.found: t.Counter[t.Tuple[str, int]] = collections.Counter()
        self.types: t.Counter[str] = collections.Counter()
        self.files_opened = 0
        self._held: t.Dict[t.Tuple[int, int], t.List[t.Any]] = {}  # inode -> [file, unfinished line]
        # Rotated files from before the run, skipped but held open: once auditd
        # deletes one, the filesystem may give its inode number to the next new
        # audit.log, which would then look "already known" and be skipped.
        self._old: t.Dict[t.Tuple[int, int], t.Any] = {}

    def _paths(self) -> t.List[str]:
        directory, base = os.path.split(self.log_file)
        rotated = sorted(
            (name for name in os.listdir(directory) if name.startswith(base + ".") and name[len(base) + 1:].isdigit()),
            key=lambda name: int(name[len(base) + 1:]),
        )
        return [self.log_file] + [os.path.join(directory, name) for name in rotated]

    def start(self) -> None:
        for path in self._paths():
            try:
                handle = open(path, "rb")
            except FileNotFoundError:
                continue
            info = os.fstat(handle.fileno())
            key = (info.st_dev, info.st_ino)
            if path == self.log_file:
                # Earlier content cannot hold this run's id; skip it rather than parse megabytes.
                handle.seek(0, os.SEEK_END)
                self._held[key] = [handle, b""]
                self.files_opened += 1
            else:
                self._old[key] = handle

    def poll(self) -> None:
        # 1. Hold every log file we have not seen yet: it was created during the run.
        #    Checking all of audit.log.N (not only audit.log) catches a file that was
        #    created and rotated between two polls.
        for path in self._paths():
            try:
                handle = open(path, "rb")
            except FileNotFoundError:
                continue  # rotated away between listdir() and open(): seen under its next name
            info = os.fstat(handle.fileno())
            key = (info.st_dev, info.st_ino)
            if key in self._held or key in self._old:
                handle.close()
                continue
            self._held[key] = [handle, b""]
            self.files_opened += 1
        # 2. Read whatever each held file gained. Order across files does not
        #    matter: we count, we do not replay.
        for entry in self._held.values():
            data = entry[0].read()
            if not data:
                continue
            lines = (entry[1] + data).split(b"\n")
            entry[1] = lines.pop()  # auditd may be mid-line; finish it next poll
            for line in lines:
                if self.token in line:
                    self._take(line)

    def _take(self, line: bytes) -> None:
        record_type, fields = parse_line(line)
        self.types[record_type] += 1
        try:
            self.found[(fields["writer"], int(fields["seq"]))] += 1
        except (TypeError, KeyError, ValueError):
            # Our run id but no readable writer/seq: a cut or mangled record. It
            # counts as found nowhere, so the batch it belonged to reports missing.
            self.found[("?", -1)] += 1

    def wait_for(self, done: t.Callable[[], bool], timeout: float) -> bool:
        """Poll until ``done()`` or ``timeout`` seconds; auditd writes asynchronously (flush=INCREMENTAL_ASYNC)."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if done():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def count_batch(self, writer: str, records: int) -> t.Tuple[int, int]:
        """(missing, duplicated) for seq 0..records-1 of one writer."""
        missing = duplicated = 0
        for seq in range(records):
            seen = self.found.get((writer, seq), 0)
            if seen == 0:
                missing += 1
            elif seen > 1:
                duplicated += 1
        return missing, duplicated

    def close(self) -> None:
        for entry in self._held.values():
            entry[0].close()
        self._held.clear()
        for handle in self._old.values():
            handle.close()
        self._old.clear()


def count_run_records(run_id: str, expected: int) -> int:
    """How many USYS_CONFIG records of run_id ausearch finds, waiting (5 s at most) for expected of them."""
    needle = 'run_id="%s"' % run_id
    count = 0
    # Waiting for none means looking once, after auditd had time to write anything late.
    for _attempt in range(50 if expected else 1):
        if not expected:
            time.sleep(0.5)
        proc = subprocess.run(
            ["ausearch", "--input-logs", "-m", "USYS_CONFIG", "-ts", "recent", "--raw"],
            capture_output=True, text=True, errors="replace", check=False,
        )
        count = sum(1 for line in proc.stdout.splitlines() if needle in line)
        if count >= expected:
            return count
        time.sleep(0.1)
    return count


# ---------------------------------------------------------------------------
# Playbook runs: elapsed and CPU time, the ledger's paths, per-round ratios.

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make orphaned descendants (the SSH ControlMaster that daemonizes) this process's children, so their CPU time
    reaches RUSAGE_CHILDREN once reaped (reap_children); False where the kernel refuses."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def reap_children(timeout: float = 5.0) -> None:
    """Wait for every child left (orphans adopted as subreaper); only call it when no other child is running."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            pid, _status, _usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.02)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def close_masters(control_dir: str) -> None:
    """Stop the SSH connection masters a run left behind, so the next run starts without a connection too."""
    if not os.path.isdir(control_dir):
        return
    for name in os.listdir(control_dir):
        subprocess.run(
            ["ssh", "-o", "ControlPath=" + os.path.join(control_dir, name), "-O", "exit", "bench"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
        )


def machine_busy() -> float:
    """CPU seconds every core of the machine spent busy so far (/proc/stat: user, nice, system, irq, softirq,
    steal). Its delta over a run holds what the process tree does not: an ssh test host's sessions (sshd, sudo, the
    module), which run under that host's sshd, not under ansible-playbook, and auditd; and anything else running."""
    with open("/proc/stat") as handle:
        fields = handle.readline().split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Measured(t.NamedTuple):
    seconds: float  # elapsed, ansible-playbook started to exited
    cpu: float  # user + sys of its process tree, and of the orphans it left (ControlMasters) once adopted
    machine_cpu: float  # the machine's busy CPU time over the same span (machine_busy)
    proc: "subprocess.CompletedProcess[str]"


def run_measured(command: t.Sequence[str], env: t.Mapping[str, str], control_dir: t.Optional[str] = None) -> Measured:
    """Run one ansible-playbook and measure it: elapsed time, CPU time from RUSAGE_CHILDREN deltas (call
    become_subreaper() once first, so that a ControlMaster's time counts), and the machine's busy time. Its SSH
    masters (``control_dir``) are closed afterwards, inside the CPU span; no other child may run meanwhile."""
    cpu_before = _children_cpu()
    machine_before = machine_busy()
    try:
        start = time.perf_counter()
        proc = subprocess.run(list(command), env=dict(env), capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
    finally:
        if control_dir is not None:
            close_masters(control_dir)
        reap_children()
    return Measured(elapsed, _children_cpu() - cpu_before, machine_busy() - machine_before, proc)


def ledger_paths(ledger_dir: str, run_id: str) -> t.Counter[str]:
    """Which path (in_module, writer, ...) wrote each record of a run, from its ledger's outcome lines."""
    paths: t.Counter[str] = collections.Counter()
    try:
        with open(os.path.join(ledger_dir, run_id, "ledger.jsonl"), encoding="ascii") as handle:
            for entry in map(json.loads, handle):
                if entry.get("kind") == "outcome" and entry.get("recorded"):
                    paths[entry.get("path") or "?"] += 1
    except FileNotFoundError:
        pass
    return paths


class Spread(t.NamedTuple):
    median: float
    low: float
    high: float
    q1: float
    q3: float
    n: int

    def text(self, fmt: str = "%.3f", unit: str = "x") -> str:
        """``1.031x (min-max 0.990..1.070, IQR 1.010..1.050, 6 rounds)``; IQR only from 4 rounds on."""
        out = (fmt + unit) % self.median
        if self.n > 1:
            out += " (min-max %s..%s" % (fmt % self.low, fmt % self.high)
            if self.n >= 4:
                out += ", IQR %s..%s" % (fmt % self.q1, fmt % self.q3)
            out += ", %d rounds)" % self.n
        return out


def spread(values: t.Sequence[float]) -> Spread:
    """Median, min, max and quartiles of per-round values (ratios of the same round, never bare times)."""
    ordered = sorted(values)
    if len(ordered) >= 2:
        q1, _q2, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return Spread(statistics.median(ordered), ordered[0], ordered[-1], q1, q3, len(ordered))


def verdict(values: t.Sequence[float], goal: float, more: str = "--repeat") -> str:
    """Met or not by the median; says so when the middle half of the rounds lies on both sides of the goal (``more``:
    the option that runs more rounds)."""
    figure = spread(values)
    text = "met" if figure.median <= goal else "NOT MET"
    if figure.n >= 4 and figure.q1 <= goal < figure.q3:
        text += ", the IQR straddles it: more %s or a quieter machine" % more
    return text


def abba(round_number: int) -> t.Tuple[bool, bool, bool, bool]:
    """The order of a round's four runs, callback off (False) / on (True): ABBA, starting with the other one every
    second round, so that neither variant is always first after the machine's quiet or busy moment."""
    first = bool(round_number % 2)
    return (first, not first, not first, first)


__all__ = [
    "BENCH_DIR",
    "ROOT",
    "OUT_DIR",
    "LOCK_FILE",
    "AUDIT_LOG",
    "TARGET",
    "bench_fields",
    "bench_message",
    "new_run_id",
    "AuditLock",
    "kernel_status",
    "check_auditd",
    "audit_log_settings",
    "parse_line",
    "AuditLogWatcher",
    "count_run_records",
    "become_subreaper",
    "reap_children",
    "close_masters",
    "machine_busy",
    "Measured",
    "run_measured",
    "ledger_paths",
    "Spread",
    "spread",
    "verdict",
    "abba",
]
