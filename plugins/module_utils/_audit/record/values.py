# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The bytes a caller's value is recorded as, by its Python type, and a safe description of it for an error message.

Pure functions, no I/O. What a value of each Python type is recorded as (anything else is refused with
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
import json
import math
from collections.abc import Mapping

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import AUDIT_MESSAGE_TEXT_MAX
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditInvalidInputError, AuditRecordTooLongError

# typing only for annotations: importing it costs each record ~3 ms on the target (plugin_utils/_writer/_writer.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

# No value, however nested, can be longer than what the kernel keeps.
VALUE_MAX = AUDIT_MESSAGE_TEXT_MAX
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


def too_long(size: int) -> AuditRecordTooLongError:
    return AuditRecordTooLongError(
        "The value alone is %d bytes or more; the kernel keeps %d bytes of user text" % (size, AUDIT_MESSAGE_TEXT_MAX)
    )


def str_bytes(value: str) -> bytes:
    # The base class's methods throughout: a subclass could override them to do anything.
    if str.__len__(value) > VALUE_MAX:
        raise too_long(str.__len__(value))
    try:
        return str.encode(value, "utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise AuditInvalidInputError(
            "The value holds a lone surrogate U+%04X at position %d, which has no UTF-8 form"
            % (ord(exc.object[exc.start]), exc.start),
            hint="Pass valid Unicode text; undecodable bytes may be given as bytes or as U+DC80..U+DCFF "
            "(Python's surrogateescape)",
        ) from None


def int_text(value: int) -> str:
    if int.bit_length(value) > _INT_BITS_MAX:
        raise too_long(VALUE_MAX + 1)
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
    if size[0] > VALUE_MAX:
        raise too_long(size[0])
    # Brackets and commas count too, so that a huge list of empty lists ends early as well.
    size[0] += 1
    if isinstance(value, str):
        text = json.dumps(str.__str__(value), ensure_ascii=False)
    elif value is None:
        text = "null"
    elif value is True or value is False:
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = int_text(value)
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
        return str_bytes(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if len(raw) > VALUE_MAX:
            raise too_long(len(raw))
        return raw
    if value is None:
        return b""
    if value is True or value is False:
        return b"true" if value else b"false"
    if isinstance(value, int):
        return int_text(value).encode("ascii")
    if isinstance(value, float):
        return _float_text(value).encode("ascii")
    if isinstance(value, (datetime.date, datetime.time)):
        return _iso_text(value).encode("ascii")
    if isinstance(value, (Mapping, list, tuple)):
        parts: t.List[str] = []
        _json_parts(value, parts, 0, [0])
        return str_bytes("".join(parts))
    raise _unsupported(value, inside=False)


__all__ = [
    "VALUE_MAX",
    "describe",
    "too_long",
    "str_bytes",
    "int_text",
    "value_bytes",
]
