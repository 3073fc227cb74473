"""The bytes a value of each Python type is recorded as, and the safe description of a value in an error."""

from __future__ import annotations

import datetime
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.values import describe, value_bytes


class BadRepr:
    def __repr__(self):
        raise RuntimeError("repr")

    __str__ = __repr__


def test_error_messages_never_call_the_values_repr():
    assert describe(BadRepr()) == "a value of type BadRepr"
    assert describe("x" * 200).endswith("...'")
    assert describe(10 ** 5000) == "a value of type int"
    assert describe("\ud800é") == "'\\ud800\\xe9'"


@pytest.mark.parametrize(
    "value, raw",
    [
        ("text", b"text"), ("\udcff\udc80", b"\xff\x80"), (b"\xff\x00", b"\xff\x00"), (bytearray(b"ab"), b"ab"),
        (memoryview(b"ab"), b"ab"), (None, b""), (True, b"true"), (False, b"false"), (0, b"0"), (-7, b"-7"),
        (10 ** 30, b"1" + b"0" * 30), (0.1, b"0.1"), (1e100, b"1e+100"), (-0.0, b"-0.0"),
        (datetime.date(2026, 11, 25), b"2026-11-25"), (datetime.time(13, 5), b"13:05:00"),
        (datetime.datetime(2026, 11, 25, 13, 5, tzinfo=datetime.timezone.utc), b"2026-11-25T13:05:00+00:00"),
        ({"b": 1, "a": [1, 2.5, None, True]}, b'{"a":[1,2.5,null,true],"b":1}'),
        (("x", "é"), '["x","é"]'.encode()), ({"d": datetime.date(2026, 1, 2)}, b'{"d":"2026-01-02"}'),
        ({"k": "\udcff"}, b'{"k":"\xff"}'),
    ],
)
def test_value_bytes_per_type(value, raw):
    assert value_bytes(value) == raw


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
@settings(max_examples=300, deadline=None)
def test_containers_are_the_same_json_as_before(value):
    if isinstance(value, (list, dict)):
        expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        assert value_bytes(value) == expected
