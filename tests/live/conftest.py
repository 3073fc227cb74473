"""Fixtures for tests that talk to the real kernel audit subsystem and the real auditd.

The audit subsystem is machine-wide: one lock serialises every suite that
writes records or changes audit state, and every state change is undone in a
finalizer, so a failing test leaves auditd running and auditing enabled.
The helpers the tests share are in livelib.py.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import typing as t
import uuid

import pytest
from livelib import COLLECTIONS, LOCK_PATH, audit_state, ensure_auditd, lock_held_by_ancestor


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
    # Suites of their own in scripts/test.sh (nox -s target-matrix, nox -s galaxy); nox -s live deselects them.
    config.addinivalue_line("markers", "target_matrix: the modules under every target Python, every tested core")
    config.addinivalue_line("markers", "galaxy: the collection built, installed and used as Galaxy gets it")
