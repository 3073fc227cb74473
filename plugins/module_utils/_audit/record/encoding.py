# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""How values become audit record text, and back; the fields libaudit writes bare; the record's message and text.

Pure functions, no I/O. The rules follow audit-userspace: a value that is safe
is written double-quoted, any other value as uppercase hex of its bytes,
unquoted (``audit_encode_nv_string``). libaudit's own test lets ``'`` and ``=``
through; the kernel wraps user text in ``msg='...'``, so a quote would end the
field for a parser and ``=`` inside a value makes ``a="x b=y"`` readable as two
fields to naive parsers. We hex-encode both as well.
"""

from __future__ import annotations

import functools
import re
import socket
from collections.abc import Mapping

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import AUDIT_MESSAGE_TEXT_MAX, AUDIT_USYS_CONFIG, COMM_MAX_BYTES
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditInvalidInputError, AuditRecordTooLongError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.fieldnames import remember, validate_field_name
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.values import VALUE_MAX, describe, int_text, str_bytes, value_bytes

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
        if _STRICT_UNSAFE_TEXT.search(value) is None and len(value) <= VALUE_MAX:
            return '"' + value + '"'
        return str_bytes(value).hex().upper()
    if kind is int:
        return '"' + int_text(value) + '"'
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


# Tokens that passed validation: a writer sends the same few in every record.
_VALID_TOKENS: t.Set[t.Tuple[str, str]] = set()


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
    remember(_VALID_TOKENS, (kind, value))
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
    "needs_encoding",
    "hex_upper",
    "encode_value",
    "encode_trailer_value",
    "decode_value",
    "validate_op",
    "OP_MAX",
    "validate_comm",
    "validate_hostname",
    "validate_terminal",
    "validate_addr",
    "build_message",
    "render_record",
    "check_length",
]
