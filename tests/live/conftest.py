"""Fixtures for tests that talk to the real kernel audit subsystem and the real auditd.

The audit subsystem is machine-wide: one lock serialises every suite that
writes records or changes audit state, and every state change is undone in a
finalizer, so a failing test leaves auditd running and auditing enabled.
The helpers the tests share are in livelib.py.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import typing as t
import uuid

import pytest
from livelib import (
    AUDIT_PREFIX,
    AUDIT_VERSION_LOG,
    COLLECTIONS,
    LOCK_PATH,
    audit_state,
    audit_tool,
    ensure_auditd,
    lock_held_by_ancestor,
)


@pytest.fixture(scope="session", autouse=True)
def audit_lock() -> t.Iterator[None]:
    if os.geteuid() != 0:
        pytest.skip("live tests need root: they talk to the kernel audit subsystem")
    ensure_auditd()
    if os.environ.get("CHANGEAUDIT_AUDIT_LOCK_HELD") or lock_held_by_ancestor():
        # scripts/test.sh holds the lock for the whole run; taking it again here would wait forever.
        yield
        return
    with open(LOCK_PATH, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def version_auditd_conf(confdir: str) -> None:
    """The version's own default auditd.conf, writing AUDIT_VERSION_LOG, with no plugins (its plugin_dir empty)
    and every record flushed at once, so that the tests find it without waiting."""
    with open(os.path.join(AUDIT_PREFIX, "etc", "audit", "auditd.conf"), encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    settings = {
        "log_file": AUDIT_VERSION_LOG, "log_group": "root", "write_logs": "yes", "flush": "INCREMENTAL_ASYNC",
        "freq": "1", "plugin_dir": os.path.join(confdir, "plugins.d"), "use_libwrap": "no",
        "space_left_action": "ignore", "admin_space_left_action": "ignore", "disk_full_action": "ignore",
        "disk_error_action": "ignore", "max_log_file_action": "ignore",
    }
    kept = [line for line in lines if line.split("=", 1)[0].strip() not in settings]
    os.makedirs(os.path.join(confdir, "plugins.d"), mode=0o750)
    with open(os.path.join(confdir, "auditd.conf"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(kept + ["%s = %s" % item for item in settings.items()]) + "\n")
    os.chmod(os.path.join(confdir, "auditd.conf"), 0o640)


@pytest.fixture(scope="session", autouse=True)
def audit_userspace(audit_lock: None) -> t.Iterator[None]:
    """With CHANGEAUDIT_AUDIT_PREFIX (nox -s audit-<version>): the system's auditd is stopped and that version's
    auditd runs in its place for the whole session, on the same kernel; the system's is started again afterwards,
    whatever happened. libaudit.so.1 of the version is loaded into this process before the binding loads it by its
    soname (pytest_configure), so the in-process libaudit backend is that version's too."""
    if not AUDIT_PREFIX:
        yield
        return
    version_dir = os.path.dirname(os.path.dirname(AUDIT_VERSION_LOG))
    shutil.rmtree(version_dir, ignore_errors=True)
    os.makedirs(os.path.dirname(AUDIT_VERSION_LOG), mode=0o700)
    confdir = os.path.join(version_dir, "etc")
    version_auditd_conf(confdir)
    subprocess.run(["service", "auditd", "stop"], check=False, capture_output=True)
    daemon = None
    try:
        stopped = wait_until(lambda: audit_state().get("pid", 0) == 0 or not pid_alive(audit_state()["pid"]))
        assert stopped, "the system's auditd did not stop: %s" % audit_state()
        with open(os.path.join(version_dir, "auditd.out"), "wb") as out:
            daemon = subprocess.Popen(
                [audit_tool("auditd"), "-n", "-c", confdir], stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        registered = wait_until(lambda: audit_state().get("pid") == daemon.pid and os.path.exists(AUDIT_VERSION_LOG))
        with open(os.path.join(version_dir, "auditd.out"), "rb") as out:
            said = out.read().decode("utf-8", "replace")
        assert registered, "auditd of %s did not start (%s -f -c %s says why): %s" % (
            AUDIT_PREFIX, audit_tool("auditd"), confdir, said)
        if audit_state().get("enabled") != 1:
            subprocess.run(["auditctl", "-e", "1"], check=True, capture_output=True)
        yield
    finally:
        if daemon is not None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=10)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        ensure_auditd()


def wait_until(condition: t.Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def pid_alive(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            return re.search(rb"\) ([A-Z])", handle.read()).group(1) not in (b"Z", b"X")
    except (OSError, AttributeError):
        return False


@pytest.fixture
def restore_audit() -> t.Iterator[t.Dict[str, int]]:
    """Hands the test the audit state and puts it back afterwards, whatever the test did."""
    before = audit_state()
    try:
        yield before
    finally:
        ensure_auditd()
        if audit_state().get("enabled") != before.get("enabled"):
            subprocess.run(["auditctl", "-e", str(before.get("enabled", 1))], check=True, capture_output=True)


@pytest.fixture
def marker() -> str:
    return "t-" + uuid.uuid4().hex


def pytest_configure(config: t.Any) -> None:
    sys.path.insert(0, COLLECTIONS)
    if AUDIT_PREFIX:
        # Before any test module is imported: dlopen("libaudit.so.1") then finds this one, loaded under that soname.
        ctypes.CDLL(os.path.join(AUDIT_PREFIX, "lib", "libaudit.so.1"), mode=ctypes.RTLD_GLOBAL)
    # Suites of their own in scripts/test.sh (nox -s target-matrix, nox -s galaxy); nox -s live deselects them.
    config.addinivalue_line("markers", "target_matrix: the modules under every target Python, every tested core")
    config.addinivalue_line("markers", "galaxy: the collection built, installed and used as Galaxy gets it")
