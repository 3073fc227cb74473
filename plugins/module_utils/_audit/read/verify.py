# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""verify: true, reading the record back from the log auditd writes after it was sent.

The kernel's ACK only says the kernel took the record; auditd writes it later
(flush = incremental_async), or not at all (suspended on a full disk, a config
edited and not reloaded, killed between the checks and the send). So the log is
marked before the send: an open handle on the current file and its size. The
handle follows the file when auditd rotates it (audit.log becomes audit.log.1,
whatever happens to the name later), and a new audit.log that appears is read
from its start. Only what was appended after the mark is searched, for the exact
record text sent by this process (pid=), with a bounded wait.
"""

from __future__ import annotations

import errno
import os
import time
import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditRecordNotFoundError,
    AuditVerifyError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import VERIFY_TIMEOUT
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.logline import parse_line

DEFAULT_TIMEOUT = VERIFY_TIMEOUT
READ_SIZE = 1024 * 1024
# A line longer than this is no audit line (see logfiles.MAX_LINE); it is skipped, not held.
MAX_LINE = 1024 * 1024
# First poll interval and its ceiling: most records are written within a millisecond or two.
FIRST_WAIT = 0.0005
MAX_WAIT = 0.05


def _file_id(info: os.stat_result) -> t.Tuple[int, int]:
    return info.st_dev, info.st_ino


class _Source:
    """One log file being followed: an open handle, how far it has been read, the partial last line."""

    def __init__(self, handle: t.BinaryIO, name: str, offset: int) -> None:
        self.handle = handle
        self.name = name
        self.offset = offset
        self.pending = b""
        self.file_id = _file_id(os.fstat(handle.fileno()))

    def new_lines(self) -> t.Iterator[bytes]:
        """The whole lines appended since the last call."""
        while True:
            data = os.pread(self.handle.fileno(), READ_SIZE, self.offset)
            if not data:
                return
            self.offset += len(data)
            data = self.pending + data
            cut = data.rfind(b"\n")
            if cut < 0:
                self.pending = data if len(data) <= MAX_LINE else b""
                continue
            self.pending = data[cut + 1:]
            if len(self.pending) > MAX_LINE:
                self.pending = b""
            yield data[:cut + 1]


class LogMark:
    """Where the audit log ends just before a record is sent."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            handle = open(path, "rb", buffering=0)
        except OSError as exc:
            raise _log_error(path, exc) from None
        try:
            if not os.path.isfile(path):
                raise _log_error(path, OSError(errno.EINVAL, "not a regular file"))
            self.sources = [_Source(handle, path, os.fstat(handle.fileno()).st_size)]
        except BaseException:
            handle.close()
            raise

    def close(self) -> None:
        for source in self.sources:
            source.handle.close()
        self.sources = []

    def __enter__(self) -> "LogMark":
        return self

    def __exit__(self, *exc_info: t.Any) -> None:
        self.close()

    def _follow_rotation(self) -> None:
        """Open the file now at ``path`` when it is not one already followed (auditd rotated)."""
        known = [source.file_id for source in self.sources]
        try:
            if _file_id(os.stat(self.path)) in known:
                return
            handle = open(self.path, "rb", buffering=0)
        except OSError:
            return
        if _file_id(os.fstat(handle.fileno())) in known:
            handle.close()
            return
        # The rotated file keeps its open handle; its old name is now path + ".1".
        self.sources[-1].name = self.path + ".1"
        self.sources.append(_Source(handle, self.path, 0))

    def find(
        self,
        text: str,
        pid: int,
        type_name: str = "USYS_CONFIG",
        timeout: float = DEFAULT_TIMEOUT,
        clock: t.Callable[[], float] = time.monotonic,
        sleep: t.Callable[[float], None] = time.sleep,
    ) -> t.Dict[str, t.Any]:
        """Wait up to ``timeout`` seconds for the record; its event id, serial and time when it is found."""
        needle = b"msg='" + text.encode("utf-8", "surrogateescape") + b"'"
        deadline = clock() + timeout
        wait = FIRST_WAIT
        while True:
            self._follow_rotation()
            for source in self.sources:
                for chunk in source.new_lines():
                    found = _search(chunk, needle, text, pid, type_name)
                    if found is not None:
                        return {
                            "event_id": found.event_id,
                            "serial": found.serial,
                            "timestamp": found.timestamp,
                            "log_file": source.name,
                        }
            if clock() >= deadline:
                raise AuditRecordNotFoundError(
                    "The record was sent and acknowledged, but did not appear in %s within %g seconds (verify: true)"
                    % (self.path, timeout)
                )
            sleep(wait)
            wait = min(wait * 2, MAX_WAIT)


def _search(chunk: bytes, needle: bytes, text: str, pid: int, type_name: str) -> t.Optional[t.Any]:
    pos = chunk.find(needle)
    while pos >= 0:
        start = chunk.rfind(b"\n", 0, pos) + 1
        end = chunk.find(b"\n", pos)
        record = parse_line(chunk[start:end], type_name)
        if record is not None and record.text == text and record.pid == pid:
            return record
        pos = chunk.find(needle, end)
    return None


def _log_error(path: str, exc: OSError) -> AuditVerifyError:
    if exc.errno in (errno.EACCES, errno.EPERM):
        hint = "Reading the audit log needs root (become: true) or membership of auditd's log_group"
    else:
        hint = "Check log_file in /etc/audit/auditd.conf and that auditd runs; or leave verify off"
    return AuditVerifyError("Cannot read back the record (verify: true): cannot read the audit log %s" % path,
                            errno=exc.errno, hint=hint)


__all__ = ["DEFAULT_TIMEOUT", "LogMark"]
