# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""How values become audit record text, and back.

Pure functions, no I/O. The rules follow audit-userspace: a value that is safe
is written double-quoted, any other value as uppercase hex of its bytes,
unquoted (``audit_encode_nv_string``). libaudit's own test lets ``'`` and ``=``
through; the kernel wraps user text in ``msg='...'``, so a quote would end the
field for a parser and ``=`` inside a value makes ``a="x b=y"`` readable as two
fields to naive parsers. We hex-encode both as well.

What a value of each Python type is recorded as (anything else is refused with
AuditInvalidInputError, never another exception):

- ``str``: its UTF-8 bytes. U+DC80..U+DCFF stand for the bytes 0x80..0xFF that
  were not UTF-8 (``surrogateescape``, how Python hands over such file names);
  any other lone surrogate has no bytes and is refused.
- ``bytes``, ``bytearray``, ``memoryview``: the bytes as they are.
- ``None``: empty; ``bool``: ``true``/``false``; ``int``: decimal; ``float``:
  its shortest round-trip text (``0.1``, ``1e+100``); NaN and infinities are
  refused. ``datetime.date``/``datetime``/``time``: ISO 8601, as Ansible hands
  them to a module.
- ``list``, ``tuple`` and mappings with ``str`` keys: compact JSON with sorted
  keys and non-ASCII text kept (``{"a":[1,2]}``), the same rules inside; sets,
  bytes and non-string keys inside are refused (no order, no JSON form).
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import re
import socket
from collections.abc import Mapping

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import (
    AUDIT_FIRST_USER_MSG,
    AUDIT_FIRST_USER_MSG2,
    AUDIT_LAST_USER_MSG,
    AUDIT_LAST_USER_MSG2,
    AUDIT_MESSAGE_TEXT_MAX,
    AUDIT_USER,
    AUDIT_USYS_CONFIG,
    AUSEARCH_USER_TOKENS,
    COMM_MAX_BYTES,
    RESERVED_FIELD_NAMES,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditInvalidInputError,
    AuditRecordTooLongError,
)

# typing only for annotations: importing it costs each record ~3 ms on the target (plugin_utils/_writer/_writer.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

# op=, hostname= and terminal= are written bare, and auparse cuts a trailing
# ':' ',' "'" or ')' off a bare value (auparse/ellist.c parse_up_record), so
# none may end with one. No space, quote, '=' or ',' (ausearch ends hostname=
# at the first ','), ASCII only; \Z, not $, which also matches before a final
# newline. hostname, terminal and comm may not start with '-': ausearch -hn,
# -tm and -c refuse such a value as a missing argument, so the record could
# not be searched for.
# op= is written bare (libaudit does not encode it) and is what ausearch --format text/csv shows as the action:
# nothing that ends a field (space, quote, =), a CSV column (,) or that auparse trims at the end (:).
OP_MAX = 255
OP_PATTERN = re.compile(r"\A[A-Za-z0-9_:./%%@+~\-]{0,%d}[A-Za-z0-9_./%%@+~\-]\Z" % (OP_MAX - 1))
FIELD_NAME_PATTERN = re.compile(r"\A[a-z][a-z0-9_]{0,63}\Z")
HOSTNAME_PATTERN = re.compile(r"\A(?:[A-Za-z0-9._]|[A-Za-z0-9._:][A-Za-z0-9._:\-]{0,253}[A-Za-z0-9._\-])\Z")
TERMINAL_PATTERN = re.compile(r"\A(?:[A-Za-z0-9/._]|[A-Za-z0-9/._:][A-Za-z0-9/._:\-]{0,29}[A-Za-z0-9/._\-])\Z")
COMM_PATTERN = re.compile(r"\A[A-Za-z0-9_.:+][A-Za-z0-9_.:+\-]{0,%d}\Z" % (COMM_MAX_BYTES - 1))
# What inet_pton() could take at all; inet_pton decides. No '%': a scope id is free text.
_ADDR_TEXT = re.compile(r"\A[0-9A-Fa-f:.]{2,45}\Z")
_HEX_TEXT = re.compile(r"\A(?:[0-9A-F]{2})+\Z")
# auparse au_unescape()s a hex key= and splits it at AUDIT_KEY_SEPARATOR (0x01) into several key fields;
# a NUL ends it early (auparse/ellist.c parse_up_record).
_KEY_SPLITTERS = re.compile(b"[\\x00\\x01]")

# Fields written as bare tokens, never hex: decoding must leave them alone even
# when they happen to look like hex ("op=beef").
RAW_FIELDS = frozenset(("op", "hostname", "addr", "terminal", "res"))

# One regex search per value is several times faster than a Python loop over its bytes.
# audit_value_needs_encoding(): '"', below 0x21, and above 0x7E (3.0.x tests a
# signed char < 0x21, which catches 0x80-0xFF; 4.x tests ch > 0x7E). It decides
# for exe= and comm= too (_get_exename, _get_commname), so 0x7F is hex there.
_LIBAUDIT_UNSAFE = re.compile(b'[\\x00-\\x20"\\x7f-\\xff]')
_STRICT_UNSAFE = re.compile(b'[\\x00-\\x20"\'=\\x7f-\\xff]')
_TRAILER_UNSAFE = _LIBAUDIT_UNSAFE

# No value, however nested, can be longer than what the kernel keeps.
_VALUE_MAX = AUDIT_MESSAGE_TEXT_MAX
# 10 ** 8561 needs more bits than this: larger ints cannot fit, and CPython
# 3.11+ refuses to print ints of more than 4300 digits anyway.
_INT_BITS_MAX = 28440
_JSON_DEPTH_MAX = 32


def describe(value: t.Any) -> str:
    """A short, safe description of a caller's value for an error message: never calls its __repr__."""
    if isinstance(value, str):
        text = str.__str__(value)
        shown = text if len(text) <= 80 else text[:77] + "..."
        return str.__repr__(shown).encode("ascii", "backslashreplace").decode("ascii")
    if value is None or value is True or value is False:
        return repr(value)
    if isinstance(value, int) and int.bit_length(value) < 64:
        return int.__repr__(value)
    return "a value of type %s" % type(value).__name__


def _too_long(size: int) -> AuditRecordTooLongError:
    return AuditRecordTooLongError(
        "The value alone is %d bytes or more; the kernel keeps %d bytes of user text" % (size, AUDIT_MESSAGE_TEXT_MAX)
    )


def _str_bytes(value: str) -> bytes:
    # The base class's methods throughout: a subclass could override them to do anything.
    if str.__len__(value) > _VALUE_MAX:
        raise _too_long(str.__len__(value))
    try:
        return str.encode(value, "utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise AuditInvalidInputError(
            "The value holds a lone surrogate U+%04X at position %d, which has no UTF-8 form"
            % (ord(exc.object[exc.start]), exc.start),
            hint="Pass valid Unicode text; undecodable bytes may be given as bytes or as U+DC80..U+DCFF "
            "(Python's surrogateescape)",
        ) from None


def _int_text(value: int) -> str:
    if int.bit_length(value) > _INT_BITS_MAX:
        raise _too_long(_VALUE_MAX + 1)
    try:
        return int.__repr__(value)
    except ValueError:
        # CPython's int_max_str_digits: such an int cannot be printed in this process.
        raise AuditInvalidInputError(
            "The integer has too many digits to be converted to text", hint="Pass it as a string"
        ) from None


def _float_text(value: float) -> str:
    if not math.isfinite(value):
        raise AuditInvalidInputError(
            "The value %s is not a finite number" % float.__repr__(value),
            hint="Pass it as a string (for example \"nan\") if it is meant",
        )
    return float.__repr__(value)


def _iso_text(value: t.Union[datetime.date, datetime.time]) -> str:
    """ISO 8601 by the base class's method; a custom tzinfo could run any code, so only the stdlib's."""
    tzinfo = getattr(value, "tzinfo", None)
    # datetime.timezone cannot be subclassed: isinstance() is an exact test here.
    if tzinfo is not None and not isinstance(tzinfo, datetime.timezone):
        raise AuditInvalidInputError(
            "A date or time with a %s time zone cannot be recorded" % type(tzinfo).__name__,
            hint="Pass it as an ISO 8601 string",
        )
    if isinstance(value, datetime.datetime):
        return datetime.datetime.isoformat(value)
    if isinstance(value, datetime.date):
        return datetime.date.isoformat(value)
    return datetime.time.isoformat(value)


def _unsupported(value: t.Any, inside: bool) -> AuditInvalidInputError:
    if isinstance(value, (set, frozenset)):
        return AuditInvalidInputError(
            "A set cannot be recorded: it has no order, so the record would differ from run to run",
            hint="Pass a sorted list instead",
        )
    if inside and isinstance(value, (bytes, bytearray, memoryview)):
        return AuditInvalidInputError(
            "Bytes inside a list or dict cannot be recorded (JSON has no bytes)",
            hint="Decode them to text first, or record them as a field of their own",
        )
    return AuditInvalidInputError(
        "%s cannot be recorded" % describe(value).capitalize(),
        hint="Pass a string, number, bool, null, list or dict (with string keys)",
    )


def _json_parts(value: t.Any, parts: t.List[str], depth: int, size: t.List[int]) -> None:
    """Append the compact JSON of ``value`` to ``parts``; the same text as json.dumps(sort_keys=True,
    separators=(",", ":"), ensure_ascii=False) for what that accepts."""
    if depth > _JSON_DEPTH_MAX:
        raise AuditInvalidInputError(
            "The value is nested more than %d levels deep (or contains itself)" % _JSON_DEPTH_MAX,
            hint="Flatten it, or record a hash of it",
        )
    if size[0] > _VALUE_MAX:
        raise _too_long(size[0])
    # Brackets and commas count too, so that a huge list of empty lists ends early as well.
    size[0] += 1
    if isinstance(value, str):
        text = json.dumps(str.__str__(value), ensure_ascii=False)
    elif value is None:
        text = "null"
    elif value is True or value is False:
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = _int_text(value)
    elif isinstance(value, float):
        text = _float_text(value)
    elif isinstance(value, (datetime.date, datetime.time)):
        text = json.dumps(_iso_text(value))
    elif isinstance(value, Mapping):
        items = []
        for key, item in dict.items(value) if isinstance(value, dict) else value.items():
            if not isinstance(key, str):
                raise AuditInvalidInputError(
                    "A dict key is %s; only string keys can be recorded" % describe(key),
                    hint="Convert the keys to strings",
                )
            items.append((str.__str__(key), item))
        items.sort(key=lambda item: item[0])
        parts.append("{")
        for index, (key, item) in enumerate(items):
            if index:
                parts.append(",")
            parts.append(json.dumps(key, ensure_ascii=False) + ":")
            _json_parts(item, parts, depth + 1, size)
        parts.append("}")
        return
    elif isinstance(value, (list, tuple)):
        parts.append("[")
        for index, item in enumerate(list.__iter__(value) if isinstance(value, list) else tuple.__iter__(value)):
            if index:
                parts.append(",")
            _json_parts(item, parts, depth + 1, size)
        parts.append("]")
        return
    else:
        raise _unsupported(value, inside=True)
    size[0] += len(text)
    parts.append(text)


def value_bytes(value: t.Any) -> bytes:
    """The bytes a field value is recorded as (see the module docstring for each type)."""
    if isinstance(value, str):
        return _str_bytes(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if len(raw) > _VALUE_MAX:
            raise _too_long(len(raw))
        return raw
    if value is None:
        return b""
    if value is True or value is False:
        return b"true" if value else b"false"
    if isinstance(value, int):
        return _int_text(value).encode("ascii")
    if isinstance(value, float):
        return _float_text(value).encode("ascii")
    if isinstance(value, (datetime.date, datetime.time)):
        return _iso_text(value).encode("ascii")
    if isinstance(value, (Mapping, list, tuple)):
        parts: t.List[str] = []
        _json_parts(value, parts, 0, [0])
        return _str_bytes("".join(parts))
    raise _unsupported(value, inside=False)


def needs_encoding(raw: bytes) -> bool:
    """libaudit's rule plus ' and =, which it lets through."""
    return _STRICT_UNSAFE.search(raw) is not None


def hex_upper(raw: bytes) -> str:
    return raw.hex().upper()


# The same rule as _STRICT_UNSAFE, for text: every non-ASCII character makes non-ASCII UTF-8 bytes. Written as
# the complement of the safe characters: a class reaching U+10FFFF takes re ~3 ms to compile, paid by every record.
_STRICT_UNSAFE_TEXT = re.compile('[^\\x21\\x23-\\x26\\x28-\\x3c\\x3e-\\x7e]')


def encode_value(value: t.Any) -> str:
    # Strings and ints are nearly every value; testing the text saves encoding it to bytes and back.
    kind = type(value)
    if kind is str:
        if _STRICT_UNSAFE_TEXT.search(value) is None and len(value) <= _VALUE_MAX:
            return '"' + value + '"'
        return _str_bytes(value).hex().upper()
    if kind is int:
        return '"' + _int_text(value) + '"'
    raw = value_bytes(value)
    if needs_encoding(raw):
        return hex_upper(raw)
    return '"%s"' % raw.decode("ascii")


@functools.lru_cache(maxsize=64)
def encode_trailer_value(raw: bytes) -> str:
    """How libaudit writes exe= and comm= (_get_exename/_get_commname): its own rule, 0x7F included."""
    if _TRAILER_UNSAFE.search(raw) is not None:
        return hex_upper(raw)
    return '"%s"' % raw.decode("ascii")


def decode_value(name: str, text: str) -> str:
    """Turn a field as written in the log back into the value that was sent."""
    if name in RAW_FIELDS:
        return text
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    if text in ("?", "(null)"):
        return text
    if _HEX_TEXT.match(text):
        return bytes.fromhex(text).decode("utf-8", "surrogateescape")
    return text


# Names and tokens that passed validation: a writer sends the same few in every record.
_VALID_NAMES: t.Set[str] = set()
_VALID_TOKENS: t.Set[t.Tuple[str, str]] = set()
_REMEMBERED_MAX = 4096


def _remember(seen: t.Set[t.Any], item: t.Any) -> None:
    if len(seen) < _REMEMBERED_MAX:
        seen.add(item)


def validate_msg_type(msg_type: t.Any) -> int:
    if isinstance(msg_type, bool) or not isinstance(msg_type, int) or not (
        msg_type == AUDIT_USER
        or AUDIT_FIRST_USER_MSG <= msg_type <= AUDIT_LAST_USER_MSG
        or AUDIT_FIRST_USER_MSG2 <= msg_type <= AUDIT_LAST_USER_MSG2
    ):
        raise AuditInvalidInputError(
            "Record type %s is not a user record type" % describe(msg_type),
            hint="Use %d (USYS_CONFIG) or another type in %d-%d or %d-%d"
            % (AUDIT_USYS_CONFIG, AUDIT_FIRST_USER_MSG, AUDIT_LAST_USER_MSG, AUDIT_FIRST_USER_MSG2, AUDIT_LAST_USER_MSG2),
        )
    return msg_type


def validate_op(op: t.Any) -> str:
    if isinstance(op, str):
        op = str.__str__(op)
    if not isinstance(op, str) or not OP_PATTERN.match(op):
        raise AuditInvalidInputError(
            "op %s is not allowed" % describe(op),
            hint="Use 1 to %d letters, digits and - _ : . / %% @ + ~, not ending in ':' (for example op=ansible-change)"
            % OP_MAX,
        )
    return op


@functools.lru_cache(maxsize=None)
def ausearch_tokens(msg_type: int) -> t.Tuple[t.Tuple[str, ...], t.Tuple[str, ...]]:
    """(tokens a name may not end with, tokens a name may not equal) for one record type."""
    suffixes = []
    exact = []
    for token, leading_space, types in AUSEARCH_USER_TOKENS:
        if types is None or msg_type in types:
            (exact if leading_space else suffixes).append(token)
    return tuple(suffixes), tuple(exact)


def _rename_hint(name: str) -> str:
    return "Rename it, for example to %s_value" % name[:58]


def validate_field_name(name: t.Any, msg_type: int = AUDIT_USYS_CONFIG) -> str:
    kind = type(name)
    if kind is str and msg_type == AUDIT_USYS_CONFIG and name in _VALID_NAMES:
        return name
    if kind is not str and isinstance(name, str):
        # A str subclass could override ==, hash or endswith: test the plain text.
        name = str.__str__(name)
    if not isinstance(name, str) or not FIELD_NAME_PATTERN.match(name):
        raise AuditInvalidInputError(
            "Field name %s is not allowed" % describe(name),
            hint="Field names must be strings matching [a-z][a-z0-9_]* of at most 64 characters",
        )
    if name in RESERVED_FIELD_NAMES:
        raise AuditInvalidInputError(
            "Field name %r is reserved" % name,
            hint="The kernel, libaudit, auparse or this collection use '%s' themselves; a user field of that name "
            "would read as a forged value: %s" % (name, _rename_hint(name).lower()),
        )
    suffixes, exact = ausearch_tokens(msg_type)
    clash = next((token for token in exact if name == token), None) or next(
        (token for token in suffixes if name.endswith(token)), None
    )
    if clash is not None:
        raise AuditInvalidInputError(
            "Field name %r %s %r: ausearch finds '%s=' by substring search (src/ausearch-parse.c parse_user) and "
            "would take this field for the record's own %s" % (name, "is" if name == clash else "ends with", clash, clash, clash),
            hint="%s; names may not end with any of: %s" % (_rename_hint(name), ", ".join(suffixes + exact)),
        )
    if msg_type == AUDIT_USYS_CONFIG:
        _remember(_VALID_NAMES, name)
    return name


def is_valid_field_name(name: t.Any, msg_type: int = AUDIT_USYS_CONFIG) -> bool:
    try:
        validate_field_name(name, msg_type)
    except AuditInvalidInputError:
        return False
    return True


def _validate_token(kind: str, value: t.Any, pattern: t.Pattern[str], what: str) -> t.Optional[str]:
    if isinstance(value, str):
        value = str.__str__(value)
        if value == "":
            return None
        if (kind, value) in _VALID_TOKENS:
            return value
    elif value is None:
        return None
    if not isinstance(value, str) or not pattern.match(value):
        raise AuditInvalidInputError("%s %s is not allowed" % (kind, describe(value)), hint=what)
    _remember(_VALID_TOKENS, (kind, value))
    return value


def validate_comm(comm: t.Any) -> t.Optional[str]:
    return _validate_token(
        "comm", comm, COMM_PATTERN,
        "comm must be 1 to %d characters of letters, digits and _ . : + - not starting with '-'" % COMM_MAX_BYTES,
    )


def validate_hostname(hostname: t.Any) -> t.Optional[str]:
    return _validate_token(
        "hostname", hostname, HOSTNAME_PATTERN,
        "libaudit writes hostname= unencoded, so only letters, digits and . _ : - are allowed, "
        "not starting with '-' nor ending with ':'",
    )


def validate_terminal(terminal: t.Any) -> t.Optional[str]:
    return _validate_token(
        "terminal", terminal, TERMINAL_PATTERN,
        "libaudit writes terminal= unencoded, so only letters, digits and / . _ : - (31 at most) are allowed, "
        "not starting with '-' nor ending with ':'",
    )


def validate_addr(addr: t.Any) -> t.Optional[str]:
    """An IPv4 or IPv6 address, as inet_ntop() writes it (libaudit's own form for addr=).

    Only what inet_pton() takes: no IPv6 scope id ("fe80::1%eth0"), whose free
    text Python's ipaddress accepts (spaces and quotes included) and libaudit
    would write unencoded. A text ending in "::" gets a final 0 ("2001:db8::0"):
    auparse would cut the last ':' off.
    """
    if isinstance(addr, str):
        addr = str.__str__(addr)
    if addr is None or addr == "":
        return None
    if isinstance(addr, str) and _ADDR_TEXT.match(addr):
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        try:
            text = socket.inet_ntop(family, socket.inet_pton(family, addr))
        except (OSError, ValueError):
            pass
        else:
            return text + "0" if text.endswith(":") else text
    raise AuditInvalidInputError(
        "addr %s is not an IP address" % describe(addr),
        hint="libaudit writes addr= unencoded; give an IPv4 or IPv6 address without a %scope, or leave it out",
    )


def build_message(op: t.Any, fields: t.Any = None, msg_type: int = AUDIT_USYS_CONFIG) -> str:
    """The caller's part of the record: ``op=<op> name=<encoded> ...`` in the order given."""
    parts = ["op=" + validate_op(op)]
    if fields is None:
        return parts[0]
    if not isinstance(fields, Mapping):
        raise AuditInvalidInputError(
            "fields must be a dict, not %s" % type(fields).__name__, hint="Pass the fields as name: value pairs"
        )
    # One try around the loop (this is the hot path); ``current`` says whose value failed, None for a name.
    current = None
    try:
        for name, value in dict.items(fields) if isinstance(fields, dict) else fields.items():
            current = None
            name = validate_field_name(name, msg_type)
            current = name
            encoded = encode_value(value)
            if name == "key" and encoded[0] != '"' and _KEY_SPLITTERS.search(bytes.fromhex(encoded)):
                raise AuditInvalidInputError(
                    "The value holds a NUL or 0x01 byte, where auparse cuts key= short or splits it into several keys",
                    hint="Leave those bytes out of key, or use another field name",
                )
            parts.append(name + "=" + encoded)
    except (AuditInvalidInputError, AuditRecordTooLongError) as exc:
        if current is None:
            raise
        raise type(exc)("Field %r: %s" % (current, exc.reason[:1].lower() + exc.reason[1:]), hint=exc.hint) from None
    return " ".join(parts)


def render_record(
    message: str,
    exe: bytes,
    comm: t.Optional[str],
    hostname: t.Optional[str],
    addr: t.Optional[str],
    terminal: t.Optional[str],
    success: bool,
) -> str:
    """The whole text as libaudit's audit_log_user_comm_message() builds it (audit 3.x layout)."""
    return "%s%s exe=%s hostname=%s addr=%s terminal=%s res=%s" % (
        message,
        "" if comm is None else " comm=" + encode_trailer_value(comm.encode("ascii")),
        encode_trailer_value(exe) if exe else '"?"',
        hostname or "?",
        addr or "?",
        terminal or "?",
        "success" if success else "failed",
    )


def check_length(text: str) -> str:
    # Encoded values and validated trailers are ASCII, where characters are bytes.
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    if size > AUDIT_MESSAGE_TEXT_MAX:
        raise AuditRecordTooLongError(
            "The record would be %d bytes; the kernel keeps %d bytes of user text and would cut off the rest, "
            "res= included" % (size, AUDIT_MESSAGE_TEXT_MAX)
        )
    return text


__all__ = [
    "RAW_FIELDS",
    "describe",
    "value_bytes",
    "needs_encoding",
    "hex_upper",
    "encode_value",
    "encode_trailer_value",
    "decode_value",
    "validate_msg_type",
    "validate_op",
    "OP_MAX",
    "ausearch_tokens",
    "validate_field_name",
    "is_valid_field_name",
    "validate_comm",
    "validate_hostname",
    "validate_terminal",
    "validate_addr",
    "build_message",
    "render_record",
    "check_length",
]
