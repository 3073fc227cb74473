from __future__ import annotations

import datetime

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditInvalidInputError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.timespec import parse_time, time_range

NOW = 1716200000.5


def local(*args):
    return datetime.datetime(*args).timestamp()


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, None),
        ("", None),
        (1716200000, 1716200000.0),
        (1716200000.25, 1716200000.25),
        ("1716200000", 1716200000.0),
        ("1716200000.123", 1716200000.123),
        ("now", NOW),
        (" NOW ", NOW),
        ("-10m", NOW - 600),
        ("-2h", NOW - 7200),
        ("-1d", NOW - 86400),
        ("-1w", NOW - 604800),
        ("-30s", NOW - 30),
        ("-1.5h", NOW - 5400),
        ("+1h", NOW + 3600),
        ("- 5m", NOW - 300),
        ("2024-05-20T10:00:00Z", 1716199200.0),
        ("2024-05-20T10:00:00+00:00", 1716199200.0),
        ("2024-05-20 12:00:00+02:00", 1716199200.0),
        ("2024-05-20T12:00:00+0200", 1716199200.0),
        ("2024-05-20T10:00:00.500Z", 1716199200.5),
        ("2024-05-20T10:00:00", local(2024, 5, 20, 10)),
        ("2024-05-20", local(2024, 5, 20)),
        (datetime.datetime(2024, 5, 20, 10, tzinfo=datetime.timezone.utc), 1716199200.0),
    ],
)
def test_parse_time(value, expected):
    assert parse_time(value, now=NOW) == pytest.approx(expected) if expected is not None else parse_time(value) is None


@pytest.mark.parametrize("word, days_back", [("today", 0), ("yesterday", 1)])
def test_midnights(word, days_back):
    midnight = datetime.datetime.fromtimestamp(NOW).replace(hour=0, minute=0, second=0, microsecond=0)
    expected = (midnight - datetime.timedelta(days=days_back)).timestamp()
    assert parse_time(word, now=NOW) == expected


@pytest.mark.parametrize("value", ["garbage", "10m", "-10x", "-m", "2024-13-01", True, [1], "yesterday-ish"])
def test_parse_time_rejects(value):
    with pytest.raises(AuditInvalidInputError) as info:
        parse_time(value, now=NOW)
    assert "-10m" in info.value.hint


def test_time_range_uses_one_now():
    assert time_range("-1h", "now", now=NOW) == (NOW - 3600, NOW)
    assert time_range(None, None) == (None, None)


def test_time_range_rejects_reversed():
    with pytest.raises(AuditInvalidInputError) as info:
        time_range("now", "-1h", now=NOW)
    assert "later than" in str(info.value)
