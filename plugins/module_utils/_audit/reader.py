# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Read user records back out of audit.log and its rotations, fast enough for big logs.

Most of a busy log is syscall noise, so the reader never parses a line it does
not have to: it scans large binary chunks for ``type=<TYPE> msg=audit(`` with
``bytes.find`` (memchr speed), and only a line that starts with that needle
(optionally after ``node=NAME``) is parsed. Filters that can be checked on the
raw bytes (op, result, field values in any of their encodings) run before
parsing; the exact comparison on decoded values runs after it. Memory does not
grow with the log: one chunk plus one partial line is held at a time.
"""

from __future__ import annotations

import errno
import os
import re
import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.encoding import (
    RAW_FIELDS,
    decode_value,
    hex_upper,
    value_bytes,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.errors import AuditError

DEFAULT_LOG = "/var/log/audit/audit.log"
DEFAULT_TYPES = ("USYS_CONFIG",)
CHUNK_SIZE = 4 * 1024 * 1024
# auditd lines are at most a few KiB (8970 bytes of user text plus header and
# enrichment); anything much longer is not an audit line, and holding it would
# let one broken file make memory grow.
MAX_LINE = 1024 * 1024

# Where libaudit puts these: op first, the rest in the trailer it appends.
MESSAGE_FIELDS = ("op", "comm", "exe", "hostname", "addr", "terminal", "res")
_TRAILER_FIELDS = frozenset(MESSAGE_FIELDS[1:])
_KERNEL_INT_FIELDS = ("pid", "uid", "auid", "ses")

# A value runs to the next " name=". Encoded values never hold a space, but
# hostname= and terminal= are written unencoded by libaudit and can.
_SPLIT_FIELDS = re.compile(r" (?=[A-Za-z_][A-Za-z0-9_\-]*=)")
_NODE_PREFIX = re.compile(rb"node=[^ ]+ \Z")
_RESULTS = {"success": "success", "yes": "success", "1": "success", "failed": "failed", "no": "failed", "0": "failed"}


class AuditRecord:
    """One user record. ``fields`` holds the fields other than the kernel's and MESSAGE_FIELDS, in order."""

    __slots__ = (
        "type", "node", "timestamp", "serial", "event_id", "pid", "uid", "auid", "ses", "subj",
        "op", "comm", "exe", "hostname", "addr", "terminal", "res", "fields", "text", "line",
    )

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, None)

    @property
    def result(self) -> t.Optional[str]:
        """res= as success/failed, whichever spelling the writer used (libaudit: success/failed)."""
        return _RESULTS.get(self.res, self.res) if self.res is not None else None

    def get(self, name: str) -> t.Optional[str]:
        """A decoded message field by name, wherever it sits in the record."""
        if name in MESSAGE_FIELDS:
            return getattr(self, name)
        return self.fields.get(name)

    def as_dict(self) -> t.Dict[str, t.Any]:
        return {
            "type": self.type,
            "timestamp": self.timestamp,
            "serial": self.serial,
            "event_id": self.event_id,
            "node": self.node,
            "pid": self.pid,
            "uid": self.uid,
            "auid": self.auid,
            "ses": self.ses,
            "op": self.op,
            "comm": self.comm,
            "exe": self.exe,
            "hostname": self.hostname,
            "addr": self.addr,
            "terminal": self.terminal,
            "result": self.result,
            "fields": dict(self.fields),
            "text": self.text,
        }

    def __repr__(self) -> str:
        return "AuditRecord(%s %s op=%s)" % (self.type, self.event_id, self.op)


def _int_or_none(text: t.Optional[str]) -> t.Optional[int]:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def parse_line(line: bytes, type_name: str = "USYS_CONFIG") -> t.Optional[AuditRecord]:
    """Parse one log line (no newline) of the given type; None when it is not a whole record of that type.

    RAW lines end with the closing quote of msg='...'; ENRICHED lines add 0x1d
    and interpreted fields after it, which are dropped here (auditd derives them
    from the raw fields).
    """
    text = line.decode("utf-8", "surrogateescape")
    record = AuditRecord()
    head = "type=%s msg=audit(" % type_name
    start = text.find(head)
    if start < 0:
        return None
    if start:
        prefix = text[:start]
        if not (prefix.startswith("node=") and prefix.endswith(" ") and " " not in prefix[:-1]):
            return None
        record.node = prefix[5:-1]
    stamp_start = start + len(head)
    stamp_end = text.find("): ", stamp_start)
    if stamp_end < 0:
        return None
    seconds, sep, serial = text[stamp_start:stamp_end].partition(":")
    try:
        record.timestamp = float(seconds)
        record.serial = int(serial)
    except ValueError:
        return None
    if not sep:
        return None
    record.event_id = text[stamp_start:stamp_end]

    msg_start = text.find("msg='", stamp_end)
    if msg_start < 0:
        return None
    # A RAW line ends with the quote; in an ENRICHED one the quote is followed by 0x1d.
    if text.endswith("'") and msg_start + 5 < len(text):
        msg_end = len(text) - 1
    else:
        msg_end = text.rfind("'\x1d", msg_start + 5)
        if msg_end < 0:
            return None
    for item in text[stamp_end + 3:msg_start].split():
        name, _sep, value = item.partition("=")
        if name in _KERNEL_INT_FIELDS:
            setattr(record, name, _int_or_none(value))
        elif name == "subj":
            record.subj = value

    record.type = type_name
    record.text = message = text[msg_start + 5:msg_end]
    record.line = text
    fields: t.Dict[str, str] = {}
    first = True
    for item in _SPLIT_FIELDS.split(message):
        name, sep, value = item.partition("=")
        if not sep:
            continue
        if first and name == "op":
            record.op = value
        elif name in _TRAILER_FIELDS:
            # libaudit appends the trailer last, so the last comm=/exe=/... is its own.
            setattr(record, name, decode_value(name, value))
        elif name != "op":
            fields[name] = decode_value(name, value)
        first = False
    record.fields = fields
    return record


def _byte_forms(name: str, value: str) -> t.Tuple[bytes, ...]:
    """Every way ``name=value`` can appear in a line, for a cheap substring test before parsing."""
    raw = value_bytes(value)
    prefix = name.encode("ascii", "surrogateescape") + b"="
    if name in RAW_FIELDS:
        return (prefix + raw,)
    return (prefix + raw, prefix + b'"' + raw + b'"', prefix + hex_upper(raw).encode("ascii"))


def _stamp_of(line: bytes) -> t.Optional[float]:
    """The event time, read without parsing the line; None leaves the decision to the parser."""
    start = line.find(b"msg=audit(")
    end = line.find(b":", start)
    if start < 0 or end < 0:
        return None
    try:
        return float(line[start + 10:end])
    except ValueError:
        return None


class RecordFilter:
    """What a caller wants; ``maybe`` looks at raw bytes, ``matches`` at the parsed record.

    ``maybe`` may let through a line that ``matches`` then rejects, never the
    other way round.
    """

    def __init__(
        self,
        start: t.Optional[float] = None,
        end: t.Optional[float] = None,
        op: t.Optional[str] = None,
        comm: t.Optional[str] = None,
        result: t.Optional[str] = None,
        fields: t.Optional[t.Mapping[str, t.Any]] = None,
    ) -> None:
        if result not in (None, "success", "failed"):
            raise AuditError("Unknown result %r" % (result,), hint="Use success or failed")
        self.start = start
        self.end = end
        self.result = result
        # Values are compared as the writer records them: 3 -> "3", True -> "true".
        self.equal: t.Dict[str, str] = {}
        for name, value in (fields or {}).items():
            self.equal[name] = value_bytes(value).decode("utf-8", "surrogateescape")
        if op is not None:
            self.equal["op"] = op
        if comm is not None:
            self.equal["comm"] = comm
        self._forms = [_byte_forms(name, value) for name, value in self.equal.items()]
        self._result_forms = tuple(
            b" res=" + spelling.encode("ascii") for spelling, meaning in _RESULTS.items() if meaning == result
        )

    def maybe(self, line: bytes) -> bool:
        if self.start is not None or self.end is not None:
            stamp = _stamp_of(line)
            if stamp is not None and not self.in_time(stamp):
                return False
        if self._result_forms and not any(form in line for form in self._result_forms):
            return False
        for forms in self._forms:
            if not any(form in line for form in forms):
                return False
        return True

    def in_time(self, timestamp: float) -> bool:
        return (self.start is None or timestamp >= self.start) and (self.end is None or timestamp <= self.end)

    def matches(self, record: AuditRecord) -> bool:
        if not self.in_time(record.timestamp):
            return False
        if self.result is not None and record.result != self.result:
            return False
        for name, value in self.equal.items():
            if record.get(name) != value:
                return False
        return True


def log_files(path: str = DEFAULT_LOG, include_rotated: bool = True) -> t.List[str]:
    """The log and its numbered rotations, oldest first (audit.log.4 ... audit.log.1, audit.log)."""
    try:
        os.stat(path)
        if os.path.isdir(path):
            raise OSError(errno.EISDIR, os.strerror(errno.EISDIR))
        if not os.access(path, os.R_OK):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
    except OSError as exc:
        raise _open_error(path, exc) from None
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


def _open_error(path: str, exc: OSError) -> AuditError:
    if exc.errno in (errno.EACCES, errno.EPERM):
        hint = "Reading the audit log needs root (become: true) or membership of auditd's log_group"
    elif exc.errno == errno.ENOENT:
        hint = "Check that auditd is installed and that path matches log_file in /etc/audit/auditd.conf"
    else:
        hint = "Give the path of an audit log file (log_file in /etc/audit/auditd.conf)"
    return AuditError("Cannot read the audit log %s" % path, errno=exc.errno, hint=hint)


def _line_spans(handle: t.BinaryIO, needles: t.Sequence[bytes], chunk_size: int) -> t.Iterator[t.Tuple[bytes, bytes]]:
    """Yield (line, the needle that opens it) for each line that a needle opens.

    Only whole lines are searched, so a needle cut by a chunk border is found in
    the next round. A final line without newline (auditd mid-write, or a file cut
    by rotation) is yielded too; the parser rejects it unless it is complete.
    """
    tail = b""
    skipping = False
    while True:
        chunk = handle.read(chunk_size)
        if not chunk:
            break
        if skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                continue
            chunk = chunk[cut + 1:]
            skipping = False
        buf = tail + chunk if tail else chunk
        stop = buf.rfind(b"\n")
        if stop < 0:
            if len(buf) > MAX_LINE:
                tail, skipping = b"", True
            else:
                tail = buf
            continue
        for span in _find_in(buf, 0, stop, needles):
            yield span
        tail = buf[stop + 1:]
    if tail and not skipping:
        for span in _find_in(tail, 0, len(tail), needles):
            yield span


def _find_in(buf: bytes, begin: int, stop: int, needles: t.Sequence[bytes]) -> t.List[t.Tuple[bytes, bytes]]:
    hits = []
    for needle in needles:
        find = buf.find
        pos = find(needle, begin, stop)
        while pos >= 0:
            line_start = buf.rfind(b"\n", begin, pos) + 1 or begin
            line_end = find(b"\n", pos, stop)
            if line_end < 0:
                line_end = stop
            # The needle must open the line (after node=NAME): inside a field
            # value it is text some writer chose, not a record.
            if line_start == pos or _NODE_PREFIX.match(buf, line_start, pos):
                hits.append((line_start, line_end, needle))
            pos = find(needle, line_end, stop)
    if len(needles) > 1:
        hits.sort()
    return [(buf[s:e], needle) for s, e, needle in hits]


class AuditLogReader:
    """Records of the given types from a log and (optionally) its rotations, in file order.

    The file list is fixed when the reader is made, so that a missing or
    unreadable log fails there, before any output; a rotated file that
    disappears before it is read (auditd rotated again) is skipped.
    """

    def __init__(
        self,
        path: str = DEFAULT_LOG,
        include_rotated: bool = True,
        record_filter: t.Optional[RecordFilter] = None,
        types: t.Sequence[str] = DEFAULT_TYPES,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.files = log_files(path, include_rotated)
        self.files_read: t.List[str] = []
        self.filter = record_filter or RecordFilter()
        self.types = tuple(types)
        self.chunk_size = chunk_size

    def __iter__(self) -> t.Iterator[AuditRecord]:
        for path in self.files:
            for record in self.read_file(path):
                yield record

    def read_file(self, path: str) -> t.Iterator[AuditRecord]:
        try:
            handle = open(path, "rb", buffering=0)
        except OSError as exc:
            if exc.errno == errno.ENOENT and path != self.files[-1]:
                return
            raise _open_error(path, exc) from None
        self.files_read.append(path)
        needles = [("type=%s msg=audit(" % name).encode("ascii") for name in self.types]
        by_needle = dict(zip(needles, self.types))
        record_filter = self.filter
        with handle:
            for line, needle in _line_spans(handle, needles, self.chunk_size):
                if not record_filter.maybe(line):
                    continue
                record = parse_line(line, by_needle[needle])
                if record is not None and record_filter.matches(record):
                    yield record


__all__ = [
    "DEFAULT_LOG",
    "DEFAULT_TYPES",
    "CHUNK_SIZE",
    "MAX_LINE",
    "MESSAGE_FIELDS",
    "AuditRecord",
    "parse_line",
    "RecordFilter",
    "log_files",
    "AuditLogReader",
]
