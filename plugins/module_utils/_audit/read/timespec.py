# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Turn the time bounds a user writes (since/until) into epoch seconds.

Audit timestamps are epoch seconds, so everything becomes a float here and the
reader compares numbers. Times without a zone are local time, as ausearch
--start reads them; relative times are counted from one ``now`` so that since
and until of one task agree.
"""

from __future__ import annotations

import datetime
import re
import time
import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditInvalidInputError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RELATIVE = re.compile(r"\A([+-])\s*(\d+(?:\.\d+)?)\s*([smhdw])\Z")
_EPOCH = re.compile(r"\A\d+(?:\.\d+)?\Z")
# Python 3.8's fromisoformat() wants +HH:MM and no Z.
_COMPACT_OFFSET = re.compile(r"([+-]\d{2})(\d{2})\Z")

_HINT = (
    "Use epoch seconds (1716200000), ISO-8601 (2024-05-20T10:00:00, 2024-05-20 10:00:00+02:00, ...Z), "
    "now, today, yesterday, or a relative time such as -10m, -2h, -1d, -1w"
)


def parse_time(value: t.Any, now: t.Optional[float] = None) -> t.Optional[float]:
    """Epoch seconds for ``value``; None for None or an empty string (no bound)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise AuditInvalidInputError("%r is not a time" % (value,), hint=_HINT)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime.datetime):
        return _epoch_of(value)
    if not isinstance(value, str):
        raise AuditInvalidInputError("%r is not a time" % (value,), hint=_HINT)
    text = value.strip()
    now = time.time() if now is None else now
    lowered = text.lower()
    if lowered == "now":
        return now
    if lowered in ("today", "yesterday"):
        midnight = datetime.datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
        if lowered == "yesterday":
            midnight -= datetime.timedelta(days=1)
        return _epoch_of(midnight)
    match = _RELATIVE.match(lowered)
    if match:
        sign, amount, unit = match.groups()
        offset = float(amount) * _UNITS[unit]
        return now - offset if sign == "-" else now + offset
    if _EPOCH.match(text):
        return float(text)
    return _epoch_of(_parse_iso(text))


def _parse_iso(text: str) -> datetime.datetime:
    normalized = text
    if normalized[-1:] in ("Z", "z"):
        normalized = normalized[:-1] + "+00:00"
    normalized = _COMPACT_OFFSET.sub(r"\1:\2", normalized) if "T" in normalized or " " in normalized else normalized
    try:
        return datetime.datetime.fromisoformat(normalized)
    except ValueError:
        raise AuditInvalidInputError("Cannot read %r as a time" % (text,), hint=_HINT) from None


def _epoch_of(moment: datetime.datetime) -> float:
    # A naive datetime is local time; timestamp() treats it so.
    return moment.timestamp()


def time_range(
    since: t.Any = None, until: t.Any = None, now: t.Optional[float] = None
) -> t.Tuple[t.Optional[float], t.Optional[float]]:
    """(start, end) in epoch seconds, both read against the same ``now``."""
    now = time.time() if now is None else now
    start = parse_time(since, now)
    end = parse_time(until, now)
    if start is not None and end is not None and start > end:
        raise AuditInvalidInputError(
            "since (%s) is later than until (%s)" % (since, until),
            hint="Swap the two, or leave until out to read up to now",
        )
    return start, end


__all__ = ["parse_time", "time_range"]
