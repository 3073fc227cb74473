from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import AUDIT_MESSAGE_TEXT_MAX
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import (
    build_message,
    check_length,
    decode_value,
    encode_trailer_value,
    encode_value,
    render_record,
    validate_comm,
    validate_hostname,
    validate_op,
    validate_terminal,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditInvalidInputError,
    AuditRecordTooLongError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.fieldnames import is_valid_field_name, validate_field_name
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.logline import split_message

from ansible_collections.changeaudit.linux.tests.unit.plugins.module_utils._audit.libaudit_oracle import load_oracle

# libaudit's own encoder, loaded by the test oracle: production binds only what it calls.
LIBAUDIT = load_oracle()

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


@given(st.dictionaries(st.from_regex(r"\A[a-z][a-z0-9_]{0,10}\Z").filter(is_valid_field_name), st.text(), max_size=8))
@settings(max_examples=300, deadline=None)
def test_no_value_forges_a_field_or_splits_the_record(fields):
    text = render_record(build_message("op-x", fields), b"/usr/bin/python3", "ansible", None, None, None, True)
    assert "\n" not in text and "'" not in text and "\x1d" not in text
    # Split by the reader's own parser: what usys_config_info will see.
    parsed = split_message(text)
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
    [(b"/usr/bin/python3", '"/usr/bin/python3"'), (b"/opt/my app/py", "2F6F70742F6D79206170702F7079"), (b"a\x7fb", "617F62")],
)
def test_trailer_values_follow_libaudit_exename_rule(raw, text):
    assert encode_trailer_value(raw) == text
    if LIBAUDIT is not None:
        assert LIBAUDIT.trailer_value(raw) == text


def test_render_record_layout():
    text = render_record('op=x a="1"', b"/usr/bin/python3", "ansible", "web1", "10.0.0.1", "pts/0", False)
    assert text == 'op=x a="1" comm="ansible" exe="/usr/bin/python3" hostname=web1 addr=10.0.0.1 terminal=pts/0 res=failed'
    text = render_record("op=x", b"", None, None, None, None, True)
    assert text == 'op=x exe="?" hostname=? addr=? terminal=? res=success'


@pytest.mark.parametrize("op", ["", "a b", "x=y", "it's", "o" * 256, "semi;colon", "ünï", "a,b"])
def test_bad_ops_are_refused(op):
    with pytest.raises(AuditInvalidInputError, match="op"):
        validate_op(op)


@pytest.mark.parametrize("op", ["ansible-change", "PAM:auth", "a.b_c-d", "x", "ansible-change:ansible.builtin.copy:/etc/my%20app.conf", "o" * 255])
def test_good_ops(op):
    assert validate_op(op) == op


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


# --- Forgery (issue 8): every input type, bare trailer values (names ausearch reads by substring: test_fieldnames.py) ---

import datetime  # noqa: E402
import glob  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import (  # noqa: E402
    AUSEARCH_USER_TOKENS,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import (  # noqa: E402
    RAW_FIELDS,
    validate_addr,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError  # noqa: E402


# What the audit-userspace versions fleets run do, extracted from the audit source packages Debian serves (bullseye,
# bookworm, trixie, sid) by scripts/audit-sources.sh (scripts/audit_extract.py): one file per upstream version.
AUDIT_USERSPACE_DATA = os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, os.pardir, os.pardir, os.pardir, "data", "audit-userspace"
))


def _load_audit_userspace():
    found = []
    for path in sorted(glob.glob(os.path.join(AUDIT_USERSPACE_DATA, "*.json"))):
        with open(path, encoding="utf-8") as handle:
            found.append(json.load(handle))
    return found


AUDIT_USERSPACE = _load_audit_userspace()


def _release(data):
    return tuple(int(part) for part in re.findall(r"\d+", data["version"]))


def test_audit_userspace_data_covers_audit_3_0_and_4():
    releases = [_release(data) for data in AUDIT_USERSPACE]
    assert any(release[:2] == (3, 0) for release in releases), (AUDIT_USERSPACE_DATA, releases)
    assert any(release[0] == 4 for release in releases), (AUDIT_USERSPACE_DATA, releases)


def test_refused_tokens_are_what_parse_user_searches_in_every_version():
    """The encoder refuses exactly the names src/ausearch-parse.c parse_user() searches for, in any version."""
    searched_in = {}
    for data in AUDIT_USERSPACE:
        for token, leading_space in data["parse_user_tokens"]:
            searched_in.setdefault((token, leading_space), []).append(data["version"])
    refused = {(token, leading_space) for token, leading_space, _types in AUSEARCH_USER_TOKENS}
    not_refused = {pair: versions for pair, versions in searched_in.items() if pair not in refused}
    # A token some version searches for and the encoder lets through: a field of that name forges the record's own.
    assert not not_refused, "parse_user() searches for (token, leading space) the encoder does not refuse: %r" % (
        not_refused,
    )
    # A token no version searches for refuses names for nothing.
    assert refused <= set(searched_in), sorted(refused - set(searched_in))


def _encoded_names():
    """The names the writer itself gives the fields it writes quoted or as hex: cmd (the task name,
    plugin_utils/_record/_context.py task_context) and exe and comm (render_record, as libaudit does)."""
    record = render_record(
        build_message("ansible-change", {"cmd": "a task name"}), b"/usr/bin/a b", "ansible", "h", "10.0.0.1",
        "pts/1", True,
    )
    return {name for name, _value in split_message(record)} - RAW_FIELDS


@pytest.mark.parametrize("data", AUDIT_USERSPACE, ids=lambda data: data["version"])
def test_ausearch_i_decodes_the_fields_we_encode(data):
    """auparse (ausearch -i) decodes a field from hex only when typetab.h gives its name an ESCAPED type."""
    names = _encoded_names()
    assert names == {"cmd", "comm", "exe"}
    escaped = set(data["interpreted_fields"].get("AUPARSE_TYPE_ESCAPED", ()))
    assert names <= escaped, "audit %s does not decode %s under ausearch -i" % (data["version"], sorted(names - escaped))


@pytest.mark.parametrize(
    "op",
    ["x:", "a b", "x\n", "x\r", "x=y", "١٢٣", "ｘ", "x'", "x,", "x)", "x\"", "", None, 5, b"x", ["x"], "o" * 256],
)
def test_op_refused_with_an_audit_error(op):
    with pytest.raises(AuditInvalidInputError, match="op"):
        validate_op(op)


@pytest.mark.parametrize(
    "validator, value",
    [
        (validate_hostname, "host:"), (validate_hostname, "host\n"), (validate_hostname, "hóst"),
        (validate_hostname, "h,b"), (validate_hostname, "h)"), (validate_hostname, "١"), (validate_hostname, 5),
        (validate_hostname, b"host"), (validate_terminal, "pts/1:"), (validate_terminal, "pts/1\n"),
        (validate_terminal, "pts/1)"), (validate_terminal, "pts/١"), (validate_terminal, ["pts/1"]),
        (validate_comm, "ansible\n"), (validate_comm, "ánsible"), (validate_comm, "a'b"), (validate_comm, 7),
        (validate_comm, "-bash"), (validate_hostname, "-h"), (validate_hostname, "-"), (validate_hostname, ":"),
        (validate_terminal, "-t"), (validate_terminal, ":"),
    ],
)
def test_bare_trailer_values_refused(validator, value):
    with pytest.raises(AuditInvalidInputError):
        validator(value)


@pytest.mark.parametrize(
    "addr",
    [
        "fe80::1%x' res=failed", "fe80::1%eth0", "fe80::1%25eth0", "1.2.3.04", "1.2.3", "256.1.1.1", "١.2.3.4",
        "1.2.3.4\n", "1.2.3.4 ", " 1.2.3.4", "::g", "1:2:3:4:5:6:7:8:9", "localhost", 12, b"1.2.3.4", ["1.2.3.4"],
    ],
)
def test_addr_refused(addr):
    with pytest.raises(AuditInvalidInputError, match="addr"):
        validate_addr(addr)


@pytest.mark.parametrize(
    "addr, written",
    [
        ("10.0.0.1", "10.0.0.1"), ("2001:DB8::1", "2001:db8::1"), ("2001:db8:0:0:0:0:0:1", "2001:db8::1"),
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4"), ("::", "::0"), ("2001:db8::", "2001:db8::0"), ("fe80::", "fe80::0"),
        ("", None), (None, None),
    ],
)
def test_addr_written_as_inet_ntop_writes_it_never_ending_in_a_colon(addr, written):
    assert validate_addr(addr) == written
    if written:
        assert validate_addr(written) == written


class BadRepr:
    def __repr__(self):
        raise RuntimeError("repr")

    __str__ = __repr__


class BadStr(str):
    def __eq__(self, other):
        raise RuntimeError("eq")

    __hash__ = str.__hash__

    def endswith(self, *args):
        raise RuntimeError("endswith")


class Zone(datetime.tzinfo):
    def utcoffset(self, dt):
        raise RuntimeError("tz")


def _circular():
    loop = []
    loop.append(loop)
    return loop


def _deep(levels):
    value = []
    for _level in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    "fields",
    [
        {"a": "\ud800"}, {"a": "ok\udfff"}, {"a": {1, 2}}, {"a": frozenset()}, {"a": object()}, {"a": BadRepr()},
        {"a": float("nan")}, {"a": float("inf")}, {"a": -float("inf")}, {"a": 10 ** 5000}, {"a": 1 << 40000},
        {"a": {1: "x"}}, {"a": {("t",): "x"}}, {"a": {None: 1}}, {"a": ["ok", "\ud800"]}, {"a": {"k": ["\udbff"]}},
        {"a": [b"x"]}, {"a": {"k": bytearray(b"x")}}, {"a": _circular()}, {"a": _deep(40)}, {"a": [float("nan")]},
        {"a": datetime.datetime(2026, 1, 1, tzinfo=Zone())}, {"a": complex(1, 2)}, {"a": range(3)},
        {"a": "x" * 9000}, {"a": b"x" * 9000}, {"a": ["x"] * 5000}, {"a": [[]] * 100000},
        {5: "x"}, {None: "x"}, {b"name": "x"}, {BadRepr(): "x"}, {BadStr("uid"): "x"}, {"": "x"}, {"key": "a\x01b"},
        {"key": "a\x00b"},
    ],
)
def test_every_bad_value_or_name_is_an_audit_error(fields):
    with pytest.raises(AuditError) as caught:
        build_message("op-x", fields)
    assert isinstance(caught.value, (AuditInvalidInputError, AuditRecordTooLongError))
    message = str(caught.value)
    assert message.endswith(".") and caught.value.hint


@pytest.mark.parametrize("fields", [[("a", 1)], "a=1", 5, b"a", {"a"}, BadRepr()])
def test_fields_that_are_not_a_mapping_are_an_audit_error(fields):
    with pytest.raises(AuditInvalidInputError, match="fields must be a dict"):
        build_message("op-x", fields)


def test_str_subclass_is_judged_by_its_text():
    assert build_message(BadStr("op-x"), {BadStr("name"): BadStr("v a")}) == 'op=op-x name=762061'
    with pytest.raises(AuditInvalidInputError, match="ends with 'uid'"):
        validate_field_name(BadStr("xuid"))


def test_key_values_auparse_would_split_are_refused_others_pass():
    assert build_message("x", {"key": "a b=c 'd'"}) == "op=x key=6120623D6320276427"
    assert build_message("x", {"key": "net.ipv4.ip_forward"}) == 'op=x key="net.ipv4.ip_forward"'


def test_huge_int_is_refused_before_it_is_printed():
    with pytest.raises(AuditRecordTooLongError):
        encode_value(1 << 40000)


class HostileDict(dict):
    def items(self):
        raise RuntimeError("items")

    def __iter__(self):
        raise RuntimeError("iter")


class HostileList(list):
    def __iter__(self):
        raise RuntimeError("iter")


class HostileStr(str):
    def __len__(self):
        raise RuntimeError("len")

    def encode(self, *args):
        raise RuntimeError("encode")


def test_subclasses_are_read_by_the_base_class_methods():
    fields = HostileDict(a=HostileList([1, HostileStr("b c")]), b=HostileDict(z=1), c=HostileStr("d e"))
    assert build_message("x", fields) == "op=x a=5B312C22622063225D b=7B227A223A317D c=642065"
