# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Which field names a user record may carry: the form libaudit writes, none of the kernel's, libaudit's, auparse's
or the collection's own names, and none that ausearch would take for the record's own field.
"""

from __future__ import annotations

import functools
import re

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import (
    AUDIT_FIRST_USER_MSG,
    AUDIT_FIRST_USER_MSG2,
    AUDIT_LAST_USER_MSG,
    AUDIT_LAST_USER_MSG2,
    AUDIT_USER,
    AUDIT_USYS_CONFIG,
    AUSEARCH_USER_TOKENS,
    RESERVED_FIELD_NAMES,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditInvalidInputError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.values import describe

# typing only for annotations: importing it costs each record ~3 ms on the target (plugin_utils/_writer/_writer.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

FIELD_NAME_PATTERN = re.compile(r"\A[a-z][a-z0-9_]{0,63}\Z")

# Names that passed validation: a writer sends the same few in every record.
_VALID_NAMES: t.Set[str] = set()
_REMEMBERED_MAX = 4096


def remember(seen: t.Set[t.Any], item: t.Any) -> None:
    """Add ``item`` to a cache of what passed validation, up to a bound on its memory."""
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
        remember(_VALID_NAMES, name)
    return name


def is_valid_field_name(name: t.Any, msg_type: int = AUDIT_USYS_CONFIG) -> bool:
    try:
        validate_field_name(name, msg_type)
    except AuditInvalidInputError:
        return False
    return True


__all__ = [
    "FIELD_NAME_PATTERN",
    "remember",
    "validate_msg_type",
    "ausearch_tokens",
    "validate_field_name",
    "is_valid_field_name",
]
