from __future__ import annotations

import errno
import io
import os

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read import logfiles
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.logfiles import (
    files_since,
    first_event_time,
    log_files,
    scan,
)

NEEDLE = b"type=USYS_CONFIG msg=audit("


def usys(serial, text="op=x res=success", stamp=None):
    return "type=USYS_CONFIG msg=audit(%s:%d): pid=1 uid=0 auid=0 ses=1 msg='%s'" % (stamp or "100.000", serial, text)


NOISE = [
    'type=SYSCALL msg=audit(1.0:3): arch=c000003e syscall=44 success=yes exit=60 comm="auditctl" key=(null)',
    "type=PROCTITLE msg=audit(1.0:3): proctitle=2F7362696E2F617564697463746C",
    "type=USER msg=audit(1.0:6): pid=2049 uid=0 auid=0 ses=1 msg='text=type=USYS_CONFIG msg=audit(1.0:1): op=forged'",
]


def write_log(path, lines, end="\n"):
    with open(str(path), "wb") as handle:
        handle.write(("\n".join(lines) + end).encode("utf-8", "surrogateescape"))
    return str(path)


def scanned(data, chunk_size=1 << 20, needles=(NEEDLE,)):
    return [line for line, _needle in scan(io.BytesIO(data), list(needles), chunk_size)]


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000, 1 << 20])
def test_chunk_borders(chunk_size):
    lines = []
    for i in range(50):
        lines.extend(NOISE)
        lines.append(usys(i, "op=x v=%s" % ("x" * i)))
    data = ("\n".join(lines) + "\n").encode()
    assert scanned(data, chunk_size) == [usys(i, "op=x v=%s" % ("x" * i)).encode() for i in range(50)]


@pytest.mark.parametrize("end", ["", "\n", "\n\n"])
def test_last_line_without_newline(end):
    assert scanned(("\n".join(NOISE + [usys(1)]) + end).encode()) == [usys(1).encode()]


def test_needle_only_at_line_start_or_after_node():
    data = "\n".join(NOISE + ["node=web01 " + usys(1), "x " + usys(2), "node=a b " + usys(3)]).encode()
    assert scanned(data) == [("node=web01 " + usys(1)).encode()]


def test_several_needles_in_file_order():
    other = b"type=USER msg=audit("
    data = "\n".join([usys(1), NOISE[2], usys(3)]).encode()
    found = [(line[:9], needle) for line, needle in scan(io.BytesIO(data), [NEEDLE, other], 16)]
    assert found == [(b"type=USYS", NEEDLE), (b"type=USER", other), (b"type=USYS", NEEDLE)]


def test_overlong_line_is_dropped_and_scanning_resumes(monkeypatch):
    monkeypatch.setattr(logfiles, "MAX_LINE", 256)
    data = "\n".join([usys(1), "x" * 5000, usys(2)]).encode()
    assert scanned(data, 100) == [usys(1).encode(), usys(2).encode()]


def test_rotations_oldest_first(tmp_path):
    base = tmp_path / "audit.log"
    for suffix in ["", ".1", ".2", ".10"]:
        write_log(str(base) + suffix, [usys(1)])
    write_log(str(base) + ".1.gz", ["not read"])
    write_log(tmp_path / "audit.logx", [usys(1)])
    names = [os.path.basename(f) for f in log_files(str(base))]
    assert names == ["audit.log.10", "audit.log.2", "audit.log.1", "audit.log"]
    assert log_files(str(base), include_rotated=False) == [str(base)]


@pytest.mark.parametrize(
    "make, err",
    [
        pytest.param(lambda p: str(p / "missing.log"), errno.ENOENT, id="missing"),
        pytest.param(str, errno.EISDIR, id="directory"),
    ],
)
def test_unreadable_log(tmp_path, make, err):
    with pytest.raises(AuditError) as info:
        log_files(make(tmp_path))
    assert info.value.errno == err
    assert info.value.hint
    assert "Cannot read the audit log" in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_permission_denied(tmp_path):
    path = write_log(tmp_path / "audit.log", [])
    os.chmod(path, 0)
    with pytest.raises(AuditError) as info:
        log_files(path)
    assert info.value.errno == errno.EACCES


def test_first_event_time(tmp_path):
    assert first_event_time(write_log(tmp_path / "a", NOISE)) == 1.0
    assert first_event_time(write_log(tmp_path / "b", [])) is None
    assert first_event_time(write_log(tmp_path / "c", ["garbage"])) is None
    assert first_event_time(str(tmp_path / "missing")) is None


def _rotations(tmp_path, starts):
    """audit.log.N ... audit.log, the oldest beginning at starts[0]; returns the paths oldest first."""
    base = str(tmp_path / "audit.log")
    count = len(starts)
    paths = []
    for index, start in enumerate(starts):
        path = base if index == count - 1 else "%s.%d" % (base, count - 1 - index)
        write_log(path, [usys(index, stamp="%.3f" % start)] if start is not None else ["garbage"])
        paths.append(path)
    return paths


@pytest.mark.parametrize(
    "start, first_needed",
    [
        (50.0, 0),  # before every file: all of them
        (100.0, 0),  # the oldest began at start: it may hold it
        (150.0, 0),  # inside the oldest
        (201.5, 1),
        (200.5, 0),  # within the slack after the next file began: a late record may sit in the older one
        (1000.0, 3),  # after every file began: only the current log
    ],
)
def test_files_since(tmp_path, start, first_needed):
    paths = _rotations(tmp_path, [100.0, 200.0, 300.0, 400.0])
    assert files_since(paths, start) == paths[first_needed:]


def test_files_since_keeps_going_past_a_file_without_time(tmp_path):
    paths = _rotations(tmp_path, [100.0, None, 300.0])
    assert files_since(paths, 250.0) == paths
    assert files_since(paths, 350.0) == paths[2:]
