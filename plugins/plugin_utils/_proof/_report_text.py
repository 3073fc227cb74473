# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""What a value of a report shows as: the one escaping every report format takes (``shown``), so that a task name
(anyone's text) can neither break a file's format nor hide on a page.
"""

from __future__ import annotations

import typing as t


def _escape(code: int) -> str:
    if 0xDC80 <= code <= 0xDCFF:
        # surrogateescape's stand-in for the undecodable byte code - 0xDC00: shown as that byte.
        return "\\x%02x" % (code - 0xDC00)
    if code <= 0xFF:
        return "\\x%02x" % code
    if code <= 0xFFFF:
        return "\\u%04x" % code
    return "\\U%08x" % code


SURROGATES = range(0xD800, 0xE000)
# What a report shows as an escape instead of as itself: every control character (C0 with NUL, DEL, C1), the
# line and paragraph separators U+2028/U+2029, the noncharacters (U+FFFE and U+FFFF of every plane, U+FDD0-U+FDEF)
# and surrogates (a byte the reader could not decode,
# as surrogateescape gives it, or a lone one). XML 1.0 cannot hold most of them, a line break would split a CSV row
# for every line-based tool, and none is seen on a page; surrogates have no UTF-8 form at all, so the report could
# not even be written. The task and play names in records are anyone's text.
_UNSHOWN = {code: _escape(code) for code in (
    list(range(0x20)) + list(range(0x7F, 0xA0)) + [0x2028, 0x2029] + list(SURROGATES) + list(range(0xFDD0, 0xFDF0))
    + [plane * 0x10000 + low for plane in range(17) for low in (0xFFFE, 0xFFFF)])}


def shown(value: t.Any, keep: str = "") -> str:
    """``value`` as report text: anything as str, each character of _UNSHOWN (but those in ``keep``) as a
    ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN`` escape (an undecodable byte as ``\\xNN`` of the byte). The result is
    valid UTF-8 and XML 1.0 text. A backslash is left as it is: the escapes are for the eye, evidence.json holds
    the values themselves."""
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if text.isprintable():
        # Every character of _UNSHOWN is unprintable to Python (Cc, Cs, Cn, Zl, Zp): almost every value is done here.
        return text
    if keep:
        table = dict(_UNSHOWN)
        for char in keep:
            table.pop(ord(char), None)
        return text.translate(table)
    return text.translate(_UNSHOWN)


def spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet would run as a formula (a task name is anyone's text) starts with a quote instead."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


__all__ = [
    "SURROGATES",
    "shown",
    "spreadsheet_safe",
]
