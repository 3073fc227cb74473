# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Which audit log files to read, and the fast scan for record lines in one of them.

Most of a busy log is syscall noise, so the scan never hands on a line it does
not have to: it searches large binary chunks for the needles logline.py gives
(``type=<TYPE> msg=audit(``) with ``bytes.find`` (memchr speed) and yields only
the lines a needle opens. Memory does not grow with the log: one chunk plus one
partial line is held at a time.
"""

from __future__ import annotations

import errno
import os
import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.auditd_conf import AUDITD_CONF, DEFAULT_LOG_FILE
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.logline import event_time, opens_record

CHUNK_SIZE = 4 * 1024 * 1024
# auditd lines are at most a few KiB (8970 bytes of user text plus header and
# enrichment); anything much longer is not an audit line, and holding it would
# let one broken file make memory grow.
MAX_LINE = 1024 * 1024
# auditd writes events in the order they complete, so a rotation can end with a
# record a little later than the first one of the next file. ausearch allows a
# whole second for this (it compares seconds); so do we.
ROTATION_SLACK = 1.0


def log_files(path: str = DEFAULT_LOG_FILE, include_rotated: bool = True) -> t.List[str]:
    """The log and its numbered rotations, oldest first (audit.log.4 ... audit.log.1, audit.log).

    Compressed rotations (.gz, from logrotate) are not read: auditd itself
    never compresses, and ausearch does not read them either.
    """
    try:
        os.stat(path)
        if os.path.isdir(path):
            raise OSError(errno.EISDIR, os.strerror(errno.EISDIR))
        if not os.access(path, os.R_OK):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
    except OSError as exc:
        raise open_error(path, exc) from None
    files = [path]
    if include_rotated:
        directory, base = os.path.split(path)
        rotated = []
        for name in os.listdir(directory or "."):
            suffix = name[len(base) + 1:]
            if name.startswith(base + ".") and suffix.isdigit():
                rotated.append((int(suffix), os.path.join(directory, name)))
        files = [name for _n, name in sorted(rotated, reverse=True)] + files
    return files


def first_event_time(path: str) -> t.Optional[float]:
    """The time of a file's first line (what ausearch's read_first_ts reads); None when there is none."""
    try:
        with open(path, "rb") as handle:
            return event_time(handle.readline(MAX_LINE))
    except OSError:
        return None


def files_since(files: t.Sequence[str], start: float) -> t.List[str]:
    """The files (oldest first) that can hold records at or after ``start``.

    Walking back from the newest, the first file that began before ``start``
    is the last one needed: every older rotation ended before it began. Only
    the first line of each file is read for this.
    """
    needed: t.List[str] = []
    for path in reversed(files):
        needed.append(path)
        began = first_event_time(path)
        if began is not None and began < start - ROTATION_SLACK:
            break
    needed.reverse()
    return needed


def open_error(path: str, exc: OSError) -> AuditError:
    if exc.errno in (errno.EACCES, errno.EPERM):
        hint = "Reading the audit log needs root (become: true) or membership of auditd's log_group"
    elif exc.errno == errno.ENOENT:
        hint = "Check that auditd is installed and that path matches log_file in %s" % AUDITD_CONF
    else:
        hint = "Give the path of an audit log file (log_file in %s)" % AUDITD_CONF
    return AuditError("Cannot read the audit log %s" % path, errno=exc.errno, hint=hint)


def scan(handle: t.BinaryIO, needles: t.Sequence[bytes], chunk_size: int = CHUNK_SIZE) -> t.Iterator[t.Tuple[bytes, bytes]]:
    """Yield (line, the needle that opens it) for each line that a needle opens, in file order (the lines of
    ``whole_lines``)."""
    for buf, begin, end in whole_lines(handle, chunk_size):
        yield from _find_in(buf, begin, end, needles)


def whole_lines(handle: t.BinaryIO, chunk_size: int = CHUNK_SIZE) -> t.Iterator[t.Tuple[bytearray, int, int]]:
    """Yield (buffer, begin, end): the file's whole lines, chunk by chunk, as a range of one reused buffer, valid
    until the next step (newline included, but for a final line without one).

    One buffer is reused for the whole file: a fresh multi-megabyte object per
    chunk costs more in page faults than the search itself. Only whole lines are
    given; the partial last line moves to the front of the buffer and goes with
    the next chunk; a line longer than MAX_LINE is skipped. A final line without
    newline (auditd mid-write, or a file cut by rotation) is given too; the parser
    rejects it unless it is a complete record.
    """
    buf = bytearray(chunk_size + MAX_LINE)
    view = memoryview(buf)
    have = 0
    skipping = False
    try:
        while True:
            count = handle.readinto(view[have:have + chunk_size])
            if not count:
                break
            end = have + count
            begin = 0
            if skipping:
                cut = buf.find(b"\n", 0, end)
                if cut < 0:
                    continue
                begin, skipping = cut + 1, False
            stop = buf.rfind(b"\n", begin, end)
            if stop >= 0:
                yield buf, begin, stop + 1
                begin = stop + 1
            have = end - begin
            if have >= MAX_LINE:
                have, skipping = 0, True
            else:
                buf[0:have] = buf[begin:end]
        if have and not skipping:
            yield buf, 0, have
    finally:
        view.release()


def _find_in(buf: bytearray, begin: int, stop: int, needles: t.Sequence[bytes]) -> t.List[t.Tuple[bytes, bytes]]:
    hits = []
    find = buf.find
    for needle in needles:
        pos = find(needle, begin, stop)
        while pos >= 0:
            line_start = buf.rfind(b"\n", begin, pos) + 1 or begin
            line_end = find(b"\n", pos, stop)
            if line_end < 0:
                line_end = stop
            if opens_record(buf, line_start, pos):
                hits.append((line_start, line_end, needle))
            pos = find(needle, line_end, stop)
    if len(needles) > 1:
        hits.sort()
    return [(bytes(buf[start:end]), needle) for start, end, needle in hits]


__all__ = [
    "CHUNK_SIZE",
    "MAX_LINE",
    "ROTATION_SLACK",
    "log_files",
    "first_event_time",
    "files_since",
    "open_error",
    "scan",
]
