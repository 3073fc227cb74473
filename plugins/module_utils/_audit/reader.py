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

import collections
import errno
import functools
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

_MESSAGE_FIELD_SET = frozenset(MESSAGE_FIELDS)
# The names encoding.parse_fields accepts.
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*\Z")
_NODE_PREFIX = re.compile(rb"node=[^ ]+ \Z")
_RESULTS = {"success": "success", "yes": "success", "1": "success", "failed": "failed", "no": "failed", "0": "failed"}


class AuditRecord:
    """One user record: the header is parsed at once, the rest when a field is first asked for.

    Finding and dating a record is cheap, decoding a dozen fields is not; most
    callers filter or keep only the newest few, so they never pay for the rest.
    ``fields`` holds the message fields other than MESSAGE_FIELDS, in order.
    """

    __slots__ = (
        "type", "node", "event_id", "timestamp", "serial", "text", "line",
        "_kernel_text", "_kernel", "_standard", "_fields",
    )

    def __init__(
        self,
        type_name: str,
        node: t.Optional[str],
        event_id: str,
        timestamp: float,
        serial: int,
        kernel_text: str,
        text: str,
        line: str,
    ) -> None:
        self.type = type_name
        self.node = node
        self.event_id = event_id
        self.timestamp = timestamp
        self.serial = serial
        self.text = text
        self.line = line
        self._kernel_text = kernel_text
        self._kernel: t.Optional[t.Dict[str, str]] = None
        self._standard: t.Optional[t.Dict[str, str]] = None
        self._fields: t.Dict[str, str] = {}

    @property
    def kernel(self) -> t.Dict[str, str]:
        """The fields the kernel put before msg= (pid, uid, auid, ses, and subj on SELinux hosts)."""
        if self._kernel is None:
            self._kernel = dict(item.partition("=")[::2] for item in self._kernel_text.split())
        return self._kernel

    pid = property(lambda self: _int_or_none(self.kernel.get("pid")))
    uid = property(lambda self: _int_or_none(self.kernel.get("uid")))
    auid = property(lambda self: _int_or_none(self.kernel.get("auid")))
    ses = property(lambda self: _int_or_none(self.kernel.get("ses")))

    def _message(self) -> t.Dict[str, str]:
        if self._standard is None:
            self._standard, self._fields = decode_message(self.text)
        return self._standard

    op = property(lambda self: self._message().get("op"), doc="op= as written (never hex-decoded).")
    comm = property(lambda self: self._message().get("comm"))
    exe = property(lambda self: self._message().get("exe"))
    hostname = property(lambda self: self._message().get("hostname"))
    addr = property(lambda self: self._message().get("addr"))
    terminal = property(lambda self: self._message().get("terminal"))
    res = property(lambda self: self._message().get("res"))

    @property
    def fields(self) -> t.Dict[str, str]:
        self._message()
        return self._fields

    @property
    def result(self) -> t.Optional[str]:
        """res= as success/failed, whichever spelling the writer used (libaudit: success/failed)."""
        res = self.res
        return _RESULTS.get(res, res) if res is not None else None

    def get(self, name: str) -> t.Optional[str]:
        """A decoded message field by name, wherever it sits in the record."""
        if name in _MESSAGE_FIELD_SET:
            return self._message().get(name)
        return self.fields.get(name)

    def as_dict(self) -> t.Dict[str, t.Any]:
        standard = self._message()
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
            "op": standard.get("op"),
            "comm": standard.get("comm"),
            "exe": standard.get("exe"),
            "hostname": standard.get("hostname"),
            "addr": standard.get("addr"),
            "terminal": standard.get("terminal"),
            "result": self.result,
            "fields": dict(self._fields),
            "text": self.text,
        }

    def __repr__(self) -> str:
        return "AuditRecord(%s %s)" % (self.type, self.event_id)


def _int_or_none(text: t.Optional[str]) -> t.Optional[int]:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


@functools.lru_cache(maxsize=1024)
def _is_field_name(name: str) -> bool:
    return _FIELD_NAME.match(name) is not None


def split_message(message: str) -> t.List[t.Tuple[str, str]]:
    """(name, raw value) pairs of msg='...' text, in order.

    A value runs to the next `` name=``: encoded values never hold a space, but
    libaudit writes hostname= and terminal= unencoded, and those can.
    """
    pairs: t.List[t.Tuple[str, str]] = []
    for piece in message.split(" "):
        name, sep, value = piece.partition("=")
        if sep and _is_field_name(name):
            pairs.append((name, value))
        elif pairs:
            name, value = pairs[-1]
            pairs[-1] = (name, value + " " + piece)
    return pairs


def decode_message(message: str) -> t.Tuple[t.Dict[str, str], t.Dict[str, str]]:
    """(MESSAGE_FIELDS, other fields), values decoded; op is taken only from the front, as libaudit puts it."""
    standard: t.Dict[str, str] = {}
    fields: t.Dict[str, str] = {}
    pairs = split_message(message)
    if pairs and pairs[0][0] == "op":
        standard["op"] = pairs.pop(0)[1]
    for name, value in pairs:
        if name in _TRAILER_FIELDS:
            # libaudit appends the trailer last, so the last comm=/exe=/... is its own.
            standard[name] = decode_value(name, value)
        elif name != "op":
            fields[name] = decode_value(name, value)
    return standard, fields


@functools.lru_cache(maxsize=32)
def _header(type_name: str) -> t.Pattern[str]:
    # Anchored at the line start: the same text inside a field value is not a record.
    return re.compile(
        r"(?:node=([^ ]+) )?type=%s msg=audit\(((\d+\.\d+):(\d+))\): (.*?)msg='" % re.escape(type_name)
    )


def parse_line(line: bytes, type_name: str = "USYS_CONFIG") -> t.Optional[AuditRecord]:
    """Parse one log line (no newline) of the given type; None when it is not a whole record of that type.

    RAW lines end with the closing quote of msg='...'; ENRICHED lines add 0x1d
    and interpreted fields after it, which are dropped here (auditd derives them
    from the raw fields). A line without the closing quote was cut (rotation,
    truncation, auditd mid-write) and is rejected.
    """
    text = line.decode("utf-8", "surrogateescape")
    match = _header(type_name).match(text)
    if match is None:
        return None
    node, event_id, seconds, serial, kernel_text = match.groups()
    msg_start = match.end()
    if text.endswith("'") and msg_start < len(text):
        msg_end = len(text) - 1
    else:
        msg_end = text.rfind("'\x1d", msg_start)
        if msg_end < 0:
            return None
    return AuditRecord(
        type_name, node, event_id, float(seconds), int(serial), kernel_text, text[msg_start:msg_end], text
    )


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

    One buffer is reused for the whole file: a fresh multi-megabyte object per
    chunk costs more in page faults than the search itself. Only whole lines are
    searched; the partial last line moves to the front of the buffer and is
    searched with the next chunk. A final line without newline (auditd mid-write,
    or a file cut by rotation) is searched too; the parser rejects it unless it
    is a complete record.
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
                yield from _find_in(buf, begin, stop, needles)
                begin = stop + 1
            have = end - begin
            if have >= MAX_LINE:
                have, skipping = 0, True
            else:
                buf[0:have] = buf[begin:end]
        if have and not skipping:
            yield from _find_in(buf, 0, have, needles)
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
            # The needle must open the line (after node=NAME): inside a field
            # value it is text some writer chose, not a record.
            if line_start == pos or _NODE_PREFIX.match(buf, line_start, pos):
                hits.append((line_start, line_end, needle))
            pos = find(needle, line_end, stop)
    if len(needles) > 1:
        hits.sort()
    return [(bytes(buf[start:end]), needle) for start, end, needle in hits]


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
            yield from self.read_file(path)

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


def search(
    path: str = DEFAULT_LOG,
    include_rotated: bool = True,
    record_filter: t.Optional[RecordFilter] = None,
    limit: t.Optional[int] = None,
) -> t.Tuple[t.List[t.Dict[str, t.Any]], t.List[str]]:
    """(records as dicts oldest first, files read). ``limit`` keeps the newest N.

    Only the kept records are decoded, and at most ``limit`` are held, so a
    small limit on a big log costs little more than the scan.
    """
    if limit is not None and limit < 0:
        raise AuditError("limit must be 0 or more, not %d" % limit, hint="Leave limit out to get every record")
    reader = AuditLogReader(path, include_rotated, record_filter)
    kept = collections.deque(reader, maxlen=limit)
    return [record.as_dict() for record in kept], reader.files_read


__all__ = [
    "DEFAULT_LOG",
    "DEFAULT_TYPES",
    "CHUNK_SIZE",
    "MAX_LINE",
    "MESSAGE_FIELDS",
    "AuditRecord",
    "split_message",
    "decode_message",
    "parse_line",
    "RecordFilter",
    "log_files",
    "AuditLogReader",
    "search",
]
