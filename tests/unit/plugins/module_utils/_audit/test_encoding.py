from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.constants import AUDIT_MESSAGE_TEXT_MAX
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.encoding import (
    build_message,
    check_length,
    decode_value,
    encode_trailer_value,
    encode_value,
    libaudit_needs_encoding,
    parse_fields,
    render_record,
    validate_comm,
    validate_field_name,
    validate_hostname,
    validate_op,
    validate_terminal,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.errors import (
    AuditInvalidInputError,
    AuditRecordTooLongError,
)

try:
    from ansible_collections.changeaudit.linux.plugins.module_utils._audit.libaudit import LibAudit

    LIBAUDIT = LibAudit()
except ImportError:  # pragma: no cover - hosts without libaudit1
    LIBAUDIT = None

needs_libaudit = pytest.mark.skipif(LIBAUDIT is None, reason="libaudit.so.1 is not installed")


@pytest.mark.parametrize(
    "value, encoded",
    [
        ("plain", '"plain"'),
        ("/etc/ssh/sshd_config", '"/etc/ssh/sshd_config"'),
        ("", '""'),
        ("a b", "612062"),
        ('say "hi"', "7361792022686922"),
        ("it's", "69742773"),
        ("a=b", "613D62"),
        ("tab\there", "7461620968657265"),
        ("nl\n", "6E6C0A"),
        ("gs\x1d", "67731D"),
        ("del\x7f", "64656C7F"),
        ("é", "C3A9"),
        ("\x00", "00"),
        (42, '"42"'),
        (True, '"true"'),
        (None, '""'),
        ({"b": 1, "a": [1, 2]}, '"{\\"a\\":[1,2],\\"b\\":1}"'.replace('\\"', '"')),
    ],
)
def test_encode_value_table(value, encoded):
    if isinstance(value, dict):
        # JSON has double quotes, so a dict value is always hex.
        assert encode_value(value) == b'{"a":[1,2],"b":1}'.hex().upper()
    else:
        assert encode_value(value) == encoded


@pytest.mark.parametrize(
    "raw",
    [b"plain", b"a b", b'q"uote', b"tab\t", b"\x7f", b"\xc3\xa9", b"\x1d", b"x" * 300, b"/usr/bin/python3"],
)
@needs_libaudit
def test_equal_to_libaudit_where_libaudit_encodes(raw):
    """Where libaudit's own rule applies (no ' or =), our output is byte for byte audit_encode_nv_string()."""
    assert libaudit_needs_encoding(raw) == LIBAUDIT.audit_value_needs_encoding(raw)
    assert "key=" + encode_value(raw) == LIBAUDIT.audit_encode_nv_string("key", raw)


@needs_libaudit
@given(st.binary(max_size=64).filter(lambda b: b"'" not in b and b"=" not in b and b"\x00" not in b))
@settings(max_examples=300, deadline=None)
def test_equal_to_libaudit_property(raw):
    assert "k=" + encode_value(raw) == LIBAUDIT.audit_encode_nv_string("k", raw)


@pytest.mark.parametrize("raw", [b"it's", b"a=b"])
@needs_libaudit
def test_stricter_than_libaudit_for_quote_and_equals(raw):
    assert not LIBAUDIT.audit_value_needs_encoding(raw)
    assert encode_value(raw) == raw.hex().upper()


@given(st.text())
@settings(max_examples=500, deadline=None)
def test_every_text_round_trips(value):
    encoded = encode_value(value)
    assert decode_value("anything", encoded) == value


RESERVED_NAMES = (
    "op", "res", "exe", "comm", "pid", "uid", "auid", "ses", "subj", "hostname", "addr", "terminal", "msg", "type", "node", "result", "success",
)


@given(st.dictionaries(st.from_regex(r"\A[a-z][a-z0-9_]{0,10}\Z").filter(lambda n: n not in RESERVED_NAMES), st.text(), max_size=8))
@settings(max_examples=300, deadline=None)
def test_no_value_forges_a_field_or_splits_the_record(fields):
    text = render_record(build_message("op-x", fields), b"/usr/bin/python3", "ansible", None, None, None, True)
    assert "\n" not in text and "'" not in text and "\x1d" not in text
    parsed = parse_fields(text)
    names = [pair[0] for pair in parsed]
    assert names == ["op"] + list(fields) + ["comm", "exe", "hostname", "addr", "terminal", "res"]
    assert {n: decode_value(n, v) for n, v in parsed if n in fields} == fields
    assert text.endswith(" res=success")


def test_raw_fields_are_never_hex_decoded():
    assert decode_value("op", "BEEF") == "BEEF"
    assert decode_value("note", "BEEF") == "\xbe\xef".encode("latin-1").decode("utf-8", "surrogateescape")
    assert decode_value("note", '"BEEF"') == "BEEF"


@pytest.mark.parametrize(
    "raw, text",
    [(b"/usr/bin/python3", '"/usr/bin/python3"'), (b"/opt/my app/py", "2F6F70742F6D79206170702F7079"), (b"a\x7fb", '"a\x7fb"')],
)
def test_trailer_values_follow_libaudit_exename_rule(raw, text):
    assert encode_trailer_value(raw) == text


def test_render_record_layout():
    text = render_record('op=x a="1"', b"/usr/bin/python3", "ansible", "web1", "10.0.0.1", "pts/0", False)
    assert text == 'op=x a="1" comm="ansible" exe="/usr/bin/python3" hostname=web1 addr=10.0.0.1 terminal=pts/0 res=failed'
    text = render_record("op=x", b"", None, None, None, None, True)
    assert text == 'op=x exe="?" hostname=? addr=? terminal=? res=success'


@pytest.mark.parametrize("op", ["", "a b", "x=y", "it's", "o" * 65, "semi;colon", "ünï"])
def test_bad_ops_are_refused(op):
    with pytest.raises(AuditInvalidInputError, match="op"):
        validate_op(op)


@pytest.mark.parametrize("op", ["ansible-change", "PAM:auth", "a.b_c-d", "x"])
def test_good_ops(op):
    assert validate_op(op) == op


@pytest.mark.parametrize("name", ["Upper", "1abc", "a-b", "a b", "", "x" * 65, 3])
def test_bad_field_names(name):
    with pytest.raises(AuditInvalidInputError, match="not allowed"):
        validate_field_name(name)


@pytest.mark.parametrize("name", ["pid", "uid", "auid", "ses", "subj", "exe", "comm", "hostname", "addr", "terminal", "res", "op", "msg", "type", "node"])
def test_reserved_field_names(name):
    with pytest.raises(AuditInvalidInputError, match="reserved") as caught:
        validate_field_name(name)
    assert "rename it" in str(caught.value)


@pytest.mark.parametrize(
    "validator, value",
    [
        (validate_comm, "a" * 16),
        (validate_comm, "an sible"),
        (validate_comm, 'a"b'),
        (validate_hostname, "my host"),
        (validate_hostname, "a'b"),
        (validate_terminal, "pts 1"),
        (validate_terminal, "t" * 32),
    ],
)
def test_trailer_values_that_libaudit_would_write_raw_are_refused(validator, value):
    with pytest.raises(AuditInvalidInputError):
        validator(value)


def test_length_limit_is_the_kernels():
    assert check_length("x" * AUDIT_MESSAGE_TEXT_MAX)
    with pytest.raises(AuditRecordTooLongError, match="8561 bytes"):
        check_length("x" * (AUDIT_MESSAGE_TEXT_MAX + 1))
    with pytest.raises(AuditRecordTooLongError):
        check_length("é" * (AUDIT_MESSAGE_TEXT_MAX // 2 + 1))
