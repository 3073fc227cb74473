# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""How values become audit record text, and back.

Pure functions, no I/O. The rules follow audit-userspace: a value that is safe
is written double-quoted, any other value as uppercase hex of its UTF-8 bytes,
unquoted (``audit_encode_nv_string``). libaudit's own test lets ``'`` and ``=``
through; the kernel wraps user text in ``msg='...'``, so a quote would end the
field for a parser and ``=`` inside a value makes ``a="x b=y"`` readable as two
fields to naive parsers. We hex-encode both as well.
"""

from __future__ import annotations

import functools
import json
import re
import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.constants import (
    AUDIT_MESSAGE_TEXT_MAX,
    COMM_MAX_BYTES,
    RESERVED_FIELD_NAMES,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.errors import (
    AuditInvalidInputError,
    AuditRecordTooLongError,
)

OP_PATTERN = re.compile(r"\A[A-Za-z0-9_:.\-]{1,64}\Z")
FIELD_NAME_PATTERN = re.compile(r"\A[a-z][a-z0-9_]{0,63}\Z")
HOSTNAME_PATTERN = re.compile(r"\A[A-Za-z0-9._:\-]{1,255}\Z")
TERMINAL_PATTERN = re.compile(r"\A[A-Za-z0-9/._:\-]{1,31}\Z")
COMM_PATTERN = re.compile(r"\A[A-Za-z0-9_.:+\-]{1,%d}\Z" % COMM_MAX_BYTES)
_HEX_TEXT = re.compile(r"\A(?:[0-9A-F]{2})+\Z")

# Fields written as bare tokens, never hex: decoding must leave them alone even
# when they happen to look like hex ("op=beef").
RAW_FIELDS = frozenset(("op", "hostname", "addr", "terminal", "res"))

# One regex search per value is several times faster than a Python loop over its bytes.
_LIBAUDIT_UNSAFE = re.compile(b'[\\x00-\\x20"\\x7f-\\xff]')
_STRICT_UNSAFE = re.compile(b'[\\x00-\\x20"\'=\\x7f-\\xff]')
# _get_exename()/_get_commname() compare unsigned: 0x7F passes there.
_TRAILER_UNSAFE = re.compile(b'[\\x00-\\x20"\\x80-\\xff]')


def value_bytes(value: t.Any) -> bytes:
    """The bytes a field value is recorded as; non-strings get a stable JSON-ish text."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, (int, float)):
        return str(value).encode("ascii")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogateescape")


def libaudit_needs_encoding(raw: bytes) -> bool:
    """libaudit's audit_value_needs_encoding(): '"', bytes below 0x21, 0x7F, and (signed char) >= 0x80."""
    return _LIBAUDIT_UNSAFE.search(raw) is not None


def needs_encoding(raw: bytes) -> bool:
    """libaudit's rule plus ' and =, which it lets through."""
    return _STRICT_UNSAFE.search(raw) is not None


def hex_upper(raw: bytes) -> str:
    return raw.hex().upper()


# The same rule as _STRICT_UNSAFE, for text: every non-ASCII character makes non-ASCII UTF-8 bytes.
_STRICT_UNSAFE_TEXT = re.compile('[\\x00-\\x20"\'=\\x7f-\\U0010ffff]')


def encode_value(value: t.Any) -> str:
    # Strings and ints are nearly every value; testing the text saves encoding it to bytes and back.
    kind = type(value)
    if kind is str:
        if _STRICT_UNSAFE_TEXT.search(value) is None:
            return '"' + value + '"'
        return value.encode("utf-8", "surrogateescape").hex().upper()
    if kind is int:
        return '"%d"' % value
    raw = value_bytes(value)
    if needs_encoding(raw):
        return hex_upper(raw)
    return '"%s"' % raw.decode("ascii")


@functools.lru_cache(maxsize=64)
def encode_trailer_value(raw: bytes) -> str:
    """How libaudit writes exe= and comm= (_get_exename/_get_commname): note 0x7F passes there."""
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


def validate_op(op: str) -> str:
    if not isinstance(op, str) or not OP_PATTERN.match(op):
        raise AuditInvalidInputError(
            "op %r is not allowed" % (op,),
            hint="Use 1 to 64 letters, digits and - _ : . (for example op=ansible-change)",
        )
    return op


def validate_field_name(name: t.Any) -> str:
    if isinstance(name, str) and name in _VALID_NAMES:
        return name
    if not isinstance(name, str) or not FIELD_NAME_PATTERN.match(name):
        raise AuditInvalidInputError(
            "Field name %r is not allowed" % (name,),
            hint="Field names must match [a-z][a-z0-9_]* and be at most 64 characters",
        )
    if name in RESERVED_FIELD_NAMES:
        raise AuditInvalidInputError(
            "Field name %r is reserved" % name,
            hint="The kernel, libaudit or this collection write '%s' themselves; a user field of that name "
            "would read as a forged value: rename it (for example %s_value)" % (name, name),
        )
    _remember(_VALID_NAMES, name)
    return name


def _validate_token(kind: str, value: t.Optional[str], pattern: t.Pattern[str], what: str) -> t.Optional[str]:
    if value is None or value == "":
        return None
    if isinstance(value, str) and (kind, value) in _VALID_TOKENS:
        return value
    if not isinstance(value, str) or not pattern.match(value):
        raise AuditInvalidInputError("%s %r is not allowed" % (kind, value), hint=what)
    _remember(_VALID_TOKENS, (kind, value))
    return value


def validate_comm(comm: t.Optional[str]) -> t.Optional[str]:
    return _validate_token(
        "comm", comm, COMM_PATTERN,
        "comm must be 1 to %d characters of letters, digits and _ . : + -" % COMM_MAX_BYTES,
    )


def validate_hostname(hostname: t.Optional[str]) -> t.Optional[str]:
    return _validate_token(
        "hostname", hostname, HOSTNAME_PATTERN,
        "libaudit writes hostname= unencoded, so only letters, digits and . _ : - are allowed",
    )


def validate_terminal(terminal: t.Optional[str]) -> t.Optional[str]:
    return _validate_token(
        "terminal", terminal, TERMINAL_PATTERN,
        "libaudit writes terminal= unencoded, so only letters, digits and / . _ : - (31 at most) are allowed",
    )


def build_message(op: str, fields: t.Optional[t.Mapping[str, t.Any]] = None) -> str:
    """The caller's part of the record: ``op=<op> name=<encoded> ...`` in the order given."""
    parts = ["op=" + validate_op(op)]
    if fields:
        parts.extend([validate_field_name(name) + "=" + encode_value(value) for name, value in fields.items()])
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


_FIELD_TOKEN = re.compile(r'([A-Za-z_][A-Za-z0-9_\-]*)=("[^"]*"|\S*)')


def parse_fields(text: str) -> t.List[t.Tuple[str, str]]:
    """Split record text into (name, raw value) pairs in order; values keep their quotes."""
    return [(m.group(1), m.group(2)) for m in _FIELD_TOKEN.finditer(text)]


__all__ = [
    "RAW_FIELDS",
    "value_bytes",
    "libaudit_needs_encoding",
    "needs_encoding",
    "hex_upper",
    "encode_value",
    "encode_trailer_value",
    "decode_value",
    "validate_op",
    "validate_field_name",
    "validate_comm",
    "validate_hostname",
    "validate_terminal",
    "build_message",
    "render_record",
    "check_length",
    "parse_fields",
]
