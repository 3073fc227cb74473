# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The ansible-core version gate: the running release, parsed once and compared by range with the releases CI tests
(``TESTED_CORE``, read from ``requires_ansible`` of the collection's ``meta/runtime.yml``, the one place the tested
releases are named), so that every ansible-core internal the rest of ``_core`` uses is used only where CI tests it.

Where a later release changes an internal, the choice is made here by version range (``returns_result_object``).
"""

from __future__ import annotations

import os
import re
import typing as t

from ansible.release import __version__ as CORE_VERSION_TEXT

# meta/runtime.yml of the collection: plugins/plugin_utils/_core/ is three folders below its root.
RUNTIME_YML = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))), "meta", "runtime.yml"
)
# Closed at the top, because the hook refuses what CI has not run: requires_ansible: '>=2.19.0,<2.22'.
REQUIRES_ANSIBLE = re.compile(r"""^requires_ansible:\s*(['"]?)>=(\d+)\.(\d+)\.0,\s*<(\d+)\.(\d+)\1\s*$""", re.MULTILINE)


def read_tested_core(path: str = RUNTIME_YML) -> t.Tuple[t.Tuple[int, int], t.Tuple[int, int]]:
    """The tested releases as [low, high) from requires_ansible of the collection's meta/runtime.yml (which
    ansible-galaxy ships with the collection); an empty range when it cannot be read, so that nothing is tested and
    the hook refuses, naming the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            found = REQUIRES_ANSIBLE.search(handle.read())
    except (OSError, UnicodeDecodeError):
        found = None
    if found is None:
        return (0, 0), (0, 0)
    low_major, low_minor, high_major, high_minor = (int(part) for part in found.groups()[1:])
    return (low_major, low_minor), (high_major, high_minor)


# The releases CI runs every suite with.
TESTED_CORE = read_tested_core()
# From this release on TaskExecutor._execute returns a UnifiedTaskResult instead of a dict.
RESULT_OBJECT_FROM = (2, 21)


def parse_version(text: str) -> t.Tuple[int, int]:
    """(major, minor) of an ansible-core version string: ``2.21.0rc1`` -> (2, 21); (0, 0) when it has none."""
    parts = []
    for part in str(text).split(".")[:2]:
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        parts.append(int(digits) if digits else 0)
    while len(parts) < 2:
        parts.append(0)
    return parts[0], parts[1]


CORE = parse_version(CORE_VERSION_TEXT)


def series_text(series: t.Tuple[int, int]) -> str:
    return "%d.%d" % series


def tested_series() -> t.List[str]:
    """The tested releases, oldest first: ['2.19', '2.20', '2.21']."""
    (major, low), (_major, high) = TESTED_CORE
    return [series_text((major, minor)) for minor in range(low, high)]


def tested_text() -> str:
    names = tested_series()
    if not names:
        return "the releases requires_ansible of %s names, which cannot be read" % RUNTIME_YML
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def is_tested(core: t.Tuple[int, int] = CORE) -> bool:
    return TESTED_CORE[0] <= core < TESTED_CORE[1]


def returns_result_object(core: t.Tuple[int, int] = CORE) -> bool:
    return core >= RESULT_OBJECT_FROM


def untested_message(what: str, version: str = CORE_VERSION_TEXT) -> str:
    return (
        "%s cannot run with ansible-core %s: it hooks into ansible-core's task executor, whose internals change "
        "between releases, and is tested with ansible-core %s only." % (what, version, tested_text())
    )


__all__ = [
    "CORE",
    "CORE_VERSION_TEXT",
    "RESULT_OBJECT_FROM",
    "RUNTIME_YML",
    "TESTED_CORE",
    "is_tested",
    "parse_version",
    "read_tested_core",
    "returns_result_object",
    "series_text",
    "tested_series",
    "tested_text",
    "untested_message",
]
