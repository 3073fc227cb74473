# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Find the records a caller asks for: filter, order, limit, across a log and its rotations.

The line format is logline.py's business, the files and the fast scan
logfiles.py's; this file decides which lines are wanted. Filters that can be
checked on the raw bytes (time, op, result, field values in any of their
encodings) run before a line is parsed; the exact comparison on decoded values
runs after it. The newest records are the usual question, so rotations are read
newest first and only until the limit is met.
"""

from __future__ import annotations

import collections
import errno
import pwd
import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.auditd_conf import (
    AUDITD_CONF,
    DEFAULT_LOG_FILE,
    read_auditd_conf,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import CUT_MARK
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import RAW_FIELDS, hex_upper
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditInvalidInputError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.fields import READER_FILTERS
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.values import value_bytes
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.logfiles import (
    CHUNK_SIZE,
    files_since,
    log_files,
    open_error,
    scan,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.logline import (
    DEFAULT_TYPES,
    RESULT_SPELLINGS,
    AuditRecord,
    event_time,
    parse_line,
    record_needle,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.timespec import time_range

ORDERS = ("newest", "oldest")
DEFAULT_LIMIT = 100
# The string filters of usys_config_info (the log, the times, then the record's fields); an empty one is almost
# always an unset variable.
STRING_FILTERS = ("path", "since", "until") + READER_FILTERS


def _byte_forms(name: str, value: str) -> t.Tuple[bytes, ...]:
    """Every way ``name=value`` can appear in a line, for a cheap substring test before parsing."""
    raw = value_bytes(value)
    prefix = name.encode("ascii", "surrogateescape") + b"="
    if name in RAW_FIELDS:
        return (prefix + raw,)
    cut_mark = _cut_mark(raw).encode("ascii")
    return (
        prefix + raw,
        prefix + b'"' + raw + b'"',
        prefix + hex_upper(raw).encode("ascii"),
        # The value cut to fit its record ends with the hash of the whole, quoted or as hex.
        cut_mark + b'"',
        hex_upper(cut_mark).encode("ascii"),
    )


def _cut_mark(raw: bytes) -> str:
    # Imported here: hashlib loads OpenSSL, which only a search by field needs.
    import hashlib

    return CUT_MARK % hashlib.sha256(raw).hexdigest()


def same_value(recorded: t.Optional[str], wanted: str, wanted_cut_mark: str) -> bool:
    """Whether a recorded value is ``wanted``, whole or cut to fit its record (its start, then the hash of all)."""
    if recorded is None:
        return False
    if recorded == wanted:
        return True
    return recorded.endswith(wanted_cut_mark) and wanted.startswith(recorded[: -len(wanted_cut_mark)])


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
            raise AuditInvalidInputError("Unknown result %r" % (result,), hint="Use success or failed")
        self.start = start
        self.end = end
        self.result = result
        # Values are compared as the writer records them: 3 -> "3", True -> "true".
        self.equal: t.Dict[str, str] = {}
        for name, value in (fields or {}).items():
            self.equal[name] = value_bytes(value).decode("utf-8", "surrogateescape")
        self._cut_marks = {name: _cut_mark(value_bytes(value)) for name, value in self.equal.items()}
        if comm is not None:
            self.equal["comm"] = comm
        self._forms = [_byte_forms(name, value) for name, value in self.equal.items()]
        # An op also finds the records whose op= goes on with ":<module>:<object>" (audited, every change).
        self.op = op
        if op is not None:
            self._forms.append(_byte_forms("op", op))
        self._result_forms = tuple(b" res=" + spelling.encode("ascii") for spelling in RESULT_SPELLINGS.get(result, ()))

    def maybe(self, line: bytes) -> bool:
        if self.start is not None or self.end is not None:
            stamp = event_time(line)
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
        if self.op is not None and record.op != self.op and not (record.op or "").startswith(self.op + ":"):
            return False
        for name, value in self.equal.items():
            if name == "comm":
                if record.get(name) != value:
                    return False
            elif not same_value(record.get(name), value, self._cut_marks[name]):
                return False
        return True


class AuditLogReader:
    """Records of the given types from a log and (optionally) its rotations.

    The file list is fixed when the reader is made, so that a missing or
    unreadable log fails there, before any output; with a start time it holds
    only the rotations that can reach it. A rotated file that disappears before
    it is read (auditd rotated again) is skipped.
    """

    def __init__(
        self,
        path: str = DEFAULT_LOG_FILE,
        include_rotated: bool = True,
        record_filter: t.Optional[RecordFilter] = None,
        types: t.Sequence[str] = DEFAULT_TYPES,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.filter = record_filter or RecordFilter()
        self.files = log_files(path, include_rotated)
        if self.filter.start is not None:
            self.files = files_since(self.files, self.filter.start)
        self.files_read: t.List[str] = []
        self.types = tuple(types)
        self.chunk_size = chunk_size

    def __iter__(self) -> t.Iterator[AuditRecord]:
        """Every matching record, oldest file first, in log order."""
        for path in self.files:
            yield from self.read_file(path)

    def newest(
        self, limit: t.Optional[int] = None, convert: t.Optional[t.Callable[[AuditRecord], t.Any]] = None
    ) -> t.Tuple[t.List[t.Any], bool]:
        """(the newest ``limit`` matching records, newest first; whether older ones may have been left out).

        Rotations are read newest first and only until ``limit`` records are
        found; within a file at most the ones still wanted are held. ``convert``
        (say, ``as_dict``) is applied to the records returned, and only to them.
        """
        found: t.List[t.Any] = []
        for path in reversed(self.files):
            wanted = None if limit is None else limit - len(found)
            if wanted == 0:
                return found, True
            if wanted is None and convert is not None:
                # Every record is returned: each is converted while it is fresh, and no raw record is held for it
                # (usys_config_info with limit 0 on a big log spent a sixth of its time on that).
                converted = [convert(record) for record in self.read_file(path)]
                converted.reverse()
                found.extend(converted)
                continue
            in_file: t.Deque[AuditRecord] = collections.deque(maxlen=wanted)
            matched = 0
            for record in self.read_file(path):
                in_file.append(record)
                matched += 1
            found.extend(reversed(in_file) if convert is None else map(convert, reversed(in_file)))
            if matched > len(in_file):
                return found, True
        return found, False

    def read_file(self, path: str) -> t.Iterator[AuditRecord]:
        try:
            handle = open(path, "rb", buffering=0)
        except OSError as exc:
            if exc.errno == errno.ENOENT and path != self.files[-1]:
                return
            raise open_error(path, exc) from None
        self.files_read.append(path)
        needles = [record_needle(name) for name in self.types]
        by_needle = dict(zip(needles, self.types))
        record_filter = self.filter
        with handle:
            for line, needle in scan(handle, needles, self.chunk_size):
                if not record_filter.maybe(line):
                    continue
                record = parse_line(line, by_needle[needle])
                if record is not None and record_filter.matches(record):
                    yield record


class UserNames:
    """uid -> user name on this host, each uid asked once per search (NSS may be LDAP)."""

    def __init__(self) -> None:
        self._known: t.Dict[int, t.Optional[str]] = {}

    def __call__(self, uid: int) -> t.Optional[str]:
        if uid not in self._known:
            try:
                self._known[uid] = pwd.getpwuid(uid).pw_name
            except (KeyError, OverflowError):
                self._known[uid] = None
        return self._known[uid]


def search(
    path: str = DEFAULT_LOG_FILE,
    include_rotated: bool = True,
    record_filter: t.Optional[RecordFilter] = None,
    limit: t.Optional[int] = None,
    order: str = "oldest",
) -> t.Tuple[t.List[t.Dict[str, t.Any]], t.List[str], bool]:
    """(records as dicts, files read oldest first, whether older matches may be left out).

    ``limit`` keeps the newest N (None: all); ``order`` is the order of the
    list. Only the kept records are decoded, and at most ``limit`` are held.
    """
    if order not in ORDERS:
        raise AuditInvalidInputError("Unknown order %r" % (order,), hint="Use newest or oldest")
    if limit is not None and limit < 0:
        raise AuditInvalidInputError("limit must be 0 or more, not %d" % limit, hint="Give None for every record")
    reader = AuditLogReader(path, include_rotated, record_filter)
    names = UserNames()
    records, truncated = reader.newest(limit, lambda record: record.as_dict(names))
    if order == "oldest":
        records.reverse()
    files = sorted(reader.files_read, key=reader.files.index)
    return records, files, truncated


def _empty_filter_error(name: str) -> AuditInvalidInputError:
    return AuditInvalidInputError(
        "%s is an empty string; it would match no record" % name,
        hint="Leave %s out to match every record, or give a value (an empty one usually comes from an unset "
        "variable, such as lookup('ansible.builtin.env', 'CHANGEAUDIT_RUN_ID') outside a run)" % name,
    )


def configured_log_file(auditd_conf: str = AUDITD_CONF) -> str:
    """The log auditd writes (log_file), as ausearch --input-logs finds it; auditd's default when unknown."""
    conf = read_auditd_conf(auditd_conf)
    return conf.log_file if conf is not None else DEFAULT_LOG_FILE


def read_records(params: t.Mapping[str, t.Any], auditd_conf: str = AUDITD_CONF) -> t.Dict[str, t.Any]:
    """The usys_config_info result for its options (see the module's DOCUMENTATION); raises AuditError."""
    for name in STRING_FILTERS:
        if params.get(name) == "":
            raise _empty_filter_error(name)
    fields = dict(params.get("fields") or {})
    for name, value in fields.items():
        if value == "":
            raise _empty_filter_error("fields.%s" % name)
    for shortcut in ("task_id", "run_id"):
        if params.get(shortcut) is not None:
            fields[shortcut] = params[shortcut]
    limit = params.get("limit", DEFAULT_LIMIT)
    if limit is not None and limit < 0:
        raise AuditInvalidInputError("limit must be 0 or more, not %d" % limit, hint="Set limit to 0 for every record")
    path = params.get("path") or configured_log_file(auditd_conf)
    start, end = time_range(params.get("since"), params.get("until"))
    record_filter = RecordFilter(start, end, params.get("op"), params.get("comm"), params.get("result"), fields)
    records, files, truncated = search(
        path,
        params.get("include_rotated", True),
        record_filter,
        # 0 is "no limit": an empty answer is never what a limit of 0 is asked for.
        limit or None,
        params.get("order") or "newest",
    )
    # Not "path": AnsibleModule.exit_json would add that file's owner, mode and size to the result.
    return {"changed": False, "records": records, "count": len(records), "files": files, "log_file": path,
            "truncated": truncated}


__all__ = [
    "ORDERS",
    "DEFAULT_LIMIT",
    "RecordFilter",
    "AuditLogReader",
    "UserNames",
    "search",
    "configured_log_file",
    "read_records",
]
