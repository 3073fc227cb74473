"""Helpers for the live suites (tests/live): the audit state, auditd, the lock, ausearch and auparse as oracles,
and the write probe run in a child process.

Plain functions and constants; the pytest hooks and fixtures built on them are in conftest.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import typing as t

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
LOCK_PATH = "/run/lock/changeaudit-audit.lock"
AUDIT_LOG = "/var/log/audit/audit.log"
SYSTEM_PYTHON = "/usr/bin/python3"
PROBE = os.path.join(os.path.dirname(__file__), "write_probe.py")
# The audit userspace the oracles are: the system's (Debian's packages) unless CHANGEAUDIT_AUDIT_PREFIX names one that
# scripts/audit-builds.sh built. Then conftest.py runs that version's auditd, writing AUDIT_VERSION_LOG, for the whole
# session, and its ausearch, aureport, libauparse and libaudit are the oracles (nox -s audit-<version>).
AUDIT_PREFIX = os.environ.get("CHANGEAUDIT_AUDIT_PREFIX") or None
AUDIT_VERSION_LOG = os.path.join(REPO, ".build", "audit-version", "log", "audit.log")


def audit_tool(name: str) -> str:
    """The path of an audit tool (ausearch, aureport, auditd) of the audit userspace under test."""
    return os.path.join(AUDIT_PREFIX, "sbin", name) if AUDIT_PREFIX else name


def log_reader(tool: str, *args: str) -> t.List[str]:
    """ausearch or aureport of the audit userspace under test, reading the log its auditd writes (without a
    terminal both read standard input unless told which logs to read)."""
    source = ["--input", AUDIT_VERSION_LOG] if AUDIT_PREFIX else ["--input-logs"]
    return [audit_tool(tool)] + source + list(args)


def ausearch_command(*args: str) -> t.List[str]:
    return log_reader("ausearch", *args)


def library_env() -> t.Dict[str, str]:
    """What a child process needs to load libaudit.so.1 of the audit userspace under test (its auditd and tools
    find theirs by their own run path)."""
    return {"LD_LIBRARY_PATH": os.path.join(AUDIT_PREFIX, "lib")} if AUDIT_PREFIX else {}


def audit_state() -> t.Dict[str, int]:
    out = subprocess.run(["auditctl", "-s"], check=True, capture_output=True, text=True).stdout
    state = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            state[parts[0]] = int(parts[1])
    return state


def ensure_auditd() -> None:
    subprocess.run(["bash", os.path.join(REPO, "scripts", "ensure-auditd.sh")], check=True, capture_output=True)


def lock_held_by_ancestor(path: str = LOCK_PATH) -> bool:
    """Whether a process this one descends from holds the lock (``flock LOCK python -m pytest``).

    Taking it again here, on a new open file, would wait for that ancestor forever.
    """
    try:
        inode = os.stat(path).st_ino
        with open("/proc/locks") as handle:
            holders = {
                int(parts[4]) for parts in (line.split() for line in handle)
                if len(parts) > 5 and parts[1] == "FLOCK" and parts[5].endswith(":%d" % inode)
            }
    except (OSError, ValueError):
        return False
    pid = os.getppid()
    while pid > 1:
        if pid in holders:
            return True
        try:
            with open("/proc/%d/stat" % pid, "rb") as handle:
                pid = int(handle.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


def ausearch_raw(marker: str) -> t.List[str]:
    """USYS_CONFIG lines holding the marker, as ausearch (the independent oracle) reports them."""
    proc = subprocess.run(
        ausearch_command("-m", "USYS_CONFIG", "--raw"), capture_output=True, text=True, errors="replace", check=False
    )
    return [line for line in proc.stdout.splitlines() if marker in line]


def ausearch_since(since: float, *criteria: str) -> t.List[str]:
    """The raw USYS_CONFIG lines ausearch finds with ``criteria`` (whole-word matching, -w) from ``since`` on."""
    start = time.localtime(since - 2)
    proc = subprocess.run(
        ausearch_command("-m", "USYS_CONFIG", "--raw", "-w",
                         "-ts", time.strftime("%m/%d/%y", start), time.strftime("%H:%M:%S", start), *criteria),
        capture_output=True, env=dict(os.environ, LC_ALL="C"), check=False,
    )
    return proc.stdout.decode("utf-8", "surrogateescape").splitlines()


def ausearch_interpreted(marker: str) -> t.List[str]:
    proc = subprocess.run(
        ausearch_command("-m", "USYS_CONFIG", "-i"), capture_output=True, text=True, errors="replace", check=False
    )
    return [line for line in proc.stdout.splitlines() if marker in line]


def wait_for_lines(marker: str, count: int = 1, timeout: float = 10.0) -> t.List[str]:
    """auditd flushes asynchronously: poll until the records show up or the time is over."""
    deadline = time.monotonic() + timeout
    while True:
        lines = ausearch_raw(marker)
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


AUPARSE_SCRIPT = r"""
import json, sys, auparse
name, needle = sys.argv[1], sys.argv[2]
au = auparse.AuParser(auparse.AUSOURCE_LOGS)
found = []
while au.parse_next_event():
    au.first_record()
    while True:
        if au.get_type_name() == "USYS_CONFIG":
            fields = []
            au.first_field()
            while True:
                fields.append((au.get_field_name(), au.get_field_str()))
                if not au.next_field():
                    break
            if any(field == name and needle in value for field, value in fields):
                found.append(fields)
        if not au.next_record():
            break
print(json.dumps(found))
"""


# The same walk through libauparse.so.0 of a built audit userspace, with ctypes (the Python binding is not built).
AUPARSE_CTYPES_SCRIPT = r"""
import ctypes, json, sys
library, log, name, needle = sys.argv[1:5]
lib = ctypes.CDLL(library)
lib.auparse_init.restype = ctypes.c_void_p
lib.auparse_init.argtypes = [ctypes.c_int, ctypes.c_char_p]
for call in ("auparse_next_event", "auparse_first_record", "auparse_next_record", "auparse_first_field",
             "auparse_next_field"):
    getattr(lib, call).argtypes = [ctypes.c_void_p]
for call in ("auparse_get_type_name", "auparse_get_field_name", "auparse_get_field_str"):
    getattr(lib, call).argtypes = [ctypes.c_void_p]
    getattr(lib, call).restype = ctypes.c_char_p
lib.auparse_destroy.argtypes = [ctypes.c_void_p]
text = lambda raw: (raw or b"").decode("utf-8", "surrogateescape")
AUSOURCE_FILE = 1
au = lib.auparse_init(AUSOURCE_FILE, log.encode())
found = []
while lib.auparse_next_event(au) > 0:
    lib.auparse_first_record(au)
    while True:
        if text(lib.auparse_get_type_name(au)) == "USYS_CONFIG":
            fields = []
            lib.auparse_first_field(au)
            while True:
                fields.append((text(lib.auparse_get_field_name(au)), text(lib.auparse_get_field_str(au))))
                if lib.auparse_next_field(au) <= 0:
                    break
            if any(field == name and needle in value for field, value in fields):
                found.append(fields)
        if lib.auparse_next_record(au) <= 0:
            break
lib.auparse_destroy(au)
print(json.dumps(found))
"""


def auparse_records(name: str, needle: str) -> t.List[t.List[t.Tuple[str, str]]]:
    """The USYS_CONFIG records in the logs whose field ``name`` holds ``needle``, as auparse (python3-audit, the
    independent oracle; libauparse of the audit userspace under test) splits them: (field name, raw value) pairs in
    record order."""
    if AUDIT_PREFIX:
        command = [SYSTEM_PYTHON, "-c", AUPARSE_CTYPES_SCRIPT, os.path.join(AUDIT_PREFIX, "lib", "libauparse.so.0"),
                   AUDIT_VERSION_LOG, name, needle]
    else:
        command = [SYSTEM_PYTHON, "-c", AUPARSE_SCRIPT, name, needle]
    proc = subprocess.run(command, capture_output=True, text=True, check=True, errors="surrogateescape")
    return [[(pair[0], pair[1]) for pair in record] for record in json.loads(proc.stdout)]


def msg_text(line: str) -> str:
    """The user text between msg=' and the closing quote (ENRICHED logs add fields after it)."""
    start = line.index("msg='") + 5
    return line[start:line.index("'", start)]


def run_probe(
    request: t.Dict[str, t.Any], prefix: t.Sequence[str] = (), python: str = SYSTEM_PYTHON, check_mode: bool = False
) -> t.Dict[str, t.Any]:
    """Run write_probe.py in a child process (as another user, without a capability, in a namespace ...)."""
    env = dict(os.environ, PYTHONPATH=COLLECTIONS, **library_env())
    proc = subprocess.run(
        list(prefix) + [python, PROBE],
        input=json.dumps(dict(request, check_mode=check_mode)),
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError("probe failed: rc=%s stdout=%r stderr=%r" % (proc.returncode, proc.stdout, proc.stderr))


__all__ = [
    "REPO",
    "COLLECTIONS",
    "LOCK_PATH",
    "AUDIT_LOG",
    "AUDIT_PREFIX",
    "AUDIT_VERSION_LOG",
    "audit_tool",
    "log_reader",
    "ausearch_command",
    "library_env",
    "SYSTEM_PYTHON",
    "PROBE",
    "audit_state",
    "ensure_auditd",
    "lock_held_by_ancestor",
    "ausearch_raw",
    "ausearch_interpreted",
    "wait_for_lines",
    "AUPARSE_SCRIPT",
    "AUPARSE_CTYPES_SCRIPT",
    "auparse_records",
    "msg_text",
    "run_probe",
]
