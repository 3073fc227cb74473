# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""One audit.log line: how a record is recognised, dated and decoded.

Everything that knows the text format of auditd's log (RAW and ENRICHED, the
``node=NAME`` prefix of forwarded records, libaudit's message trailer) lives
here, so another log format is a change to this file only. The file scan
(logfiles.py) asks :func:`record_needle` and :func:`opens_record` what to look
for; the filter (reader.py) asks :func:`event_time` for a line's time before
parsing it.
"""

from __future__ import annotations

import functools
import re
import time
import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import decode_value

DEFAULT_TYPES = ("USYS_CONFIG",)
# (uid_t)-1: the kernel's "no login uid / no session"; ausearch -i shows it as "unset".
UNSET_ID = 4294967295

# Where libaudit puts these: op first, the rest in the trailer it appends.
MESSAGE_FIELDS = ("op", "comm", "exe", "hostname", "addr", "terminal", "res")
_TRAILER_FIELDS = frozenset(MESSAGE_FIELDS[1:])
_MESSAGE_FIELD_SET = frozenset(MESSAGE_FIELDS)

# The field names a writer can put in a record (encoding.validate_field_name is stricter). A field starts
# where a space is followed by such a name and "="; the message gets a space in front so that its first
# field does too. One C-level split, rather than a regex match per space-separated piece.
_FIELD_START = re.compile(r" ([A-Za-z_][A-Za-z0-9_\-]*)=")
_NODE_PREFIX = re.compile(rb"node=[^ ]+ \Z")
# ENRICHED logs: auditd appends 0x1d and NAME="interpretation" pairs (UID="root" AUID="unset").
_ENRICHED_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="([^"]*)"')
_UNKNOWN_NAME = re.compile(r"unknown\(\d+\)\Z")
_RESULTS = {"success": "success", "yes": "success", "1": "success", "failed": "failed", "no": "failed", "0": "failed"}
RESULT_SPELLINGS = {
    meaning: tuple(spelling for spelling, value in _RESULTS.items() if value == meaning) for meaning in ("success", "failed")
}

UserNames = t.Callable[[int], t.Optional[str]]


class AuditRecord:
    """One user record: the header is parsed at once, the rest when a field is first asked for.

    Finding and dating a record is cheap, decoding a dozen fields is not; most
    callers filter or keep only the newest few, so they never pay for the rest.
    ``fields`` holds the message fields other than MESSAGE_FIELDS, in order.
    """

    __slots__ = (
        "type", "node", "event_id", "timestamp", "serial", "text", "line",
        "_kernel_text", "_enriched_text", "_kernel", "_standard", "_fields",
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
        enriched_text: str = "",
    ) -> None:
        self.type = type_name
        self.node = node
        self.event_id = event_id
        self.timestamp = timestamp
        self.serial = serial
        self.text = text
        self.line = line
        self._kernel_text = kernel_text
        self._enriched_text = enriched_text
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

    @property
    def enriched(self) -> t.Dict[str, str]:
        """What auditd's ENRICHED format added when it logged the line (UID, AUID, ...); empty for RAW."""
        return dict(_ENRICHED_PAIR.findall(self._enriched_text))

    @property
    def time(self) -> t.Optional[str]:
        """The event time as ISO-8601 in UTC with its offset, to the millisecond the log holds.

        Taken from the logged text rather than the float, so that .810 stays .810.
        """
        seconds, _dot, fraction = self.event_id.partition(":")[0].partition(".")
        try:
            moment = time.gmtime(int(seconds))
        except (OverflowError, OSError, ValueError):
            return None
        if moment.tm_year > 9999:
            return None
        return "%04d-%02d-%02dT%02d:%02d:%02d.%s+00:00" % (moment[:6] + (fraction,))

    def user_name(self, key: str, names: t.Optional[UserNames] = None) -> t.Optional[str]:
        """The user name of uid (``key="uid"``) or auid, as ausearch -i shows it; None when unknown.

        auditd's ENRICHED names were true when the record was written, so they
        win over a lookup now. A forwarded record (node=) names a uid of
        another host, so it is not looked up here.
        """
        number = self.uid if key == "uid" else self.auid
        return self._name_of(number, self.enriched.get(key.upper()), names)

    def _name_of(self, number: t.Optional[int], logged: t.Optional[str], names: t.Optional[UserNames]) -> t.Optional[str]:
        if number is None:
            return None
        if number == UNSET_ID:
            return "unset"
        if logged is not None:
            return None if _UNKNOWN_NAME.match(logged) else logged
        if names is None or self.node is not None:
            return None
        return names(number)

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

    def as_dict(self, names: t.Optional[UserNames] = None) -> t.Dict[str, t.Any]:
        """The record as the usys_config_info module returns it; ``names`` looks up a local uid's user name."""
        standard = self._message()
        kernel = self.kernel
        uid = _int_or_none(kernel.get("uid"))
        auid = _int_or_none(kernel.get("auid"))
        # Parsed once for both names: each record returned pays for this.
        enriched = self.enriched
        return {
            "type": self.type,
            "timestamp": self.timestamp,
            "time": self.time,
            "serial": self.serial,
            "event_id": self.event_id,
            "node": self.node,
            "pid": _int_or_none(kernel.get("pid")),
            "uid": uid,
            "uid_name": self._name_of(uid, enriched.get("UID"), names),
            "auid": auid,
            "auid_name": self._name_of(auid, enriched.get("AUID"), names),
            "ses": _int_or_none(kernel.get("ses")),
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


def split_message(message: str) -> t.List[t.Tuple[str, str]]:
    """(name, raw value) pairs of msg='...' text, in order; the text before the first field is dropped.

    A value runs to the next `` name=``: encoded values never hold a space, but
    libaudit writes hostname= and terminal= unencoded, and those can.
    """
    parts = _FIELD_START.split(" " + message)
    return list(zip(parts[1::2], parts[2::2]))


def decode_message(message: str) -> t.Tuple[t.Dict[str, str], t.Dict[str, str]]:
    """(MESSAGE_FIELDS, other fields), values decoded; op is taken only from the front, as libaudit puts it."""
    standard: t.Dict[str, str] = {}
    fields: t.Dict[str, str] = {}
    # [text before the first field, name, value, name, value, ...], as split_message pairs them.
    parts = _FIELD_START.split(" " + message)
    pairs = zip(parts[1::2], parts[2::2])
    if len(parts) > 1 and parts[1] == "op":
        standard["op"] = parts[2]
        next(pairs)
    for name, value in pairs:
        if name in _TRAILER_FIELDS:
            # libaudit appends the trailer last, so the last comm=/exe=/... is its own.
            standard[name] = decode_value(name, value)
        elif name != "op":
            fields[name] = decode_value(name, value)
    return standard, fields


# Called once per candidate line of a big log: formatting and re's own cache lookup cost more than this.
@functools.lru_cache(maxsize=32)
def _header(type_name: str) -> t.Pattern[str]:
    # Anchored at the line start: the same text inside a field value is not a record.
    return re.compile(
        r"(?:node=([^ ]+) )?type=%s msg=audit\(((\d+\.\d+):(\d+))\): (.*?)msg='" % re.escape(type_name)
    )


def parse_line(line: bytes, type_name: str = "USYS_CONFIG") -> t.Optional[AuditRecord]:
    """Parse one log line (no newline) of the given type; None when it is not a whole record of that type.

    RAW lines end with the closing quote of msg='...'; ENRICHED lines add 0x1d
    and interpreted fields after it, kept apart from the record text. A line
    without the closing quote was cut (rotation, truncation, auditd mid-write)
    and is rejected.
    """
    text = line.decode("utf-8", "surrogateescape")
    match = _header(type_name).match(text)
    if match is None:
        return None
    node, event_id, seconds, serial, kernel_text = match.groups()
    msg_start = match.end()
    enriched_text = ""
    if text.endswith("'") and msg_start < len(text):
        msg_end = len(text) - 1
    else:
        msg_end = text.rfind("'\x1d", msg_start)
        if msg_end < 0:
            return None
        enriched_text = text[msg_end + 2:]
    return AuditRecord(
        type_name, node, event_id, float(seconds), int(serial), kernel_text, text[msg_start:msg_end], text,
        enriched_text,
    )


def record_needle(type_name: str) -> bytes:
    """The bytes that open a record of this type: what the file scan searches for."""
    return ("type=%s msg=audit(" % type_name).encode("ascii")


def opens_record(buf: t.Union[bytes, bytearray], line_start: int, needle_at: int) -> bool:
    """Whether the needle found at ``needle_at`` opens the line that starts at ``line_start``.

    Only at the line start (after node=NAME): inside a field value it is text
    some writer chose, not a record.
    """
    return line_start == needle_at or _NODE_PREFIX.match(buf, line_start, needle_at) is not None


def event_time(line: t.Union[bytes, bytearray]) -> t.Optional[float]:
    """The event time of a line, read without parsing it; None leaves the decision to the parser."""
    start = line.find(b"msg=audit(")
    end = line.find(b":", start)
    if start < 0 or end < 0:
        return None
    try:
        return float(line[start + 10:end])
    except ValueError:
        return None


__all__ = [
    "DEFAULT_TYPES",
    "UNSET_ID",
    "MESSAGE_FIELDS",
    "RESULT_SPELLINGS",
    "AuditRecord",
    "split_message",
    "decode_message",
    "parse_line",
    "record_needle",
    "opens_record",
    "event_time",
]
