from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import (
    build_message,
    decode_value,
    render_record,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.fieldnames import is_valid_field_name
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.logline import (
    MESSAGE_FIELDS,
    decode_message,
    event_time,
    opens_record,
    parse_line,
    record_needle,
    split_message,
)

ENRICHMENT = '\x1dUID="root" AUID="unset"'

# A record as version 1.0.0 wrote it (README), RAW log format: it must keep reading back.
RECORD_1_0_0 = (
    "type=USYS_CONFIG msg=audit(1795572154.042:745166): pid=21573 uid=0 auid=4294967295 ses=4294967295 "
    "msg='op=ansible-change module=\"ansible.builtin.lineinfile\" object_arg=\"path\" "
    "object=\"/tmp/changeaudit-demo/app.conf\" "
    "diff_sha256=\"sha256:90b1055d0cfe6bde4110a6bd28a538c2801f909b650142bffa2040ef78234ada\" ticket=\"DEMO-1\" "
    "play=4368616E6765206120636F6E6669672066696C65 task=53657420746865206C697374656E2061646472657373 "
    "task_path=\"/srv/play/demo.yml:25\" task_uuid=\"02fc0000-0001-149c-8cd4-000000000008\" "
    "ctl_user=\"root\" run_id=\"demo-20261125T020230Z-21339\" comm=\"ansible\" exe=\"/usr/bin/python3.11\" "
    "hostname=? addr=? terminal=? res=success'"
)


def record_text(op="test-op", fields=None, success=True, comm="ansible", hostname=None, addr=None, terminal=None):
    return render_record(build_message(op, fields), b"/usr/bin/python3.11", comm, hostname, addr, terminal, success)


def log_line(text, stamp="1795567582.810:16", node=None, enriched=True, record_type="USYS_CONFIG", ids="uid=0 auid=4294967295"):
    line = "type=%s msg=audit(%s): pid=3095 %s ses=4294967295 msg='%s'" % (record_type, stamp, ids, text)
    if enriched:
        line += ENRICHMENT
    if node:
        line = "node=%s %s" % (node, line)
    return line


@pytest.mark.parametrize(
    "line, expected",
    [
        pytest.param(
            log_line(record_text(fields={"path": "/etc/x y"})),
            {"event_id": "1795567582.810:16", "node": None, "op": "test-op", "fields": {"path": "/etc/x y"}},
            id="enriched",
        ),
        pytest.param(
            log_line(record_text(), enriched=False),
            {"event_id": "1795567582.810:16", "op": "test-op", "result": "success", "comm": "ansible"},
            id="raw",
        ),
        pytest.param(
            log_line(record_text(success=False), node="web01.example.com"),
            {"node": "web01.example.com", "result": "failed"},
            id="node-prefix",
        ),
        pytest.param(
            log_line("op=t3 comm=616E207369626C65 exe=\"/x\" hostname=my host addr=? terminal=x y res=failed"),
            {"comm": "an sible", "hostname": "my host", "terminal": "x y", "addr": "?", "result": "failed"},
            id="unencoded-trailer-with-spaces",
        ),
        pytest.param(
            log_line(record_text(op="BEEF", hostname="CAFE", terminal="AB")),
            {"op": "BEEF", "hostname": "CAFE", "terminal": "AB"},
            id="raw-tokens-that-look-like-hex",
        ),
        pytest.param(
            log_line("op=x a=\"1\" comm=\"forged\" b=\"2\" comm=\"ansible\" exe=\"/x\" hostname=? addr=? terminal=? "
                     "res=success"),
            {"comm": "ansible", "fields": {"a": "1", "b": "2"}},
            id="last-trailer-field-wins",
        ),
        pytest.param(
            log_line(record_text(), stamp="1795567582.810:16").replace("ses=4294967295", "ses=1 subj=unconfined"),
            {"pid": 3095, "uid": 0, "auid": 4294967295, "ses": 1},
            id="kernel-fields-and-subj",
        ),
        pytest.param(
            log_line("op=x k='\x1d' exe=\"/x\" hostname=? addr=? terminal=? res=success"),
            {"op": "x", "fields": {"k": "'\x1d'"}, "enriched": {"UID": "root", "AUID": "unset"}},
            id="quote-gs-in-user-text-enriched",
        ),
        pytest.param(
            RECORD_1_0_0,
            {
                "event_id": "1795572154.042:745166", "op": "ansible-change", "result": "success", "comm": "ansible",
                "exe": "/usr/bin/python3.11", "hostname": "?", "enriched": {}, "time": "2026-11-25T02:02:34.042+00:00",
                "fields": {
                    "module": "ansible.builtin.lineinfile", "object_arg": "path",
                    "object": "/tmp/changeaudit-demo/app.conf",
                    "diff_sha256": "sha256:90b1055d0cfe6bde4110a6bd28a538c2801f909b650142bffa2040ef78234ada",
                    "ticket": "DEMO-1", "play": "Change a config file", "task": "Set the listen address",
                    "task_path": "/srv/play/demo.yml:25", "task_uuid": "02fc0000-0001-149c-8cd4-000000000008",
                    "ctl_user": "root", "run_id": "demo-20261125T020230Z-21339",
                },
            },
            id="written-by-1.0.0",
        ),
    ],
)
def test_parse_line(line, expected):
    record = parse_line(line.encode("utf-8"))
    assert record is not None
    for name, value in expected.items():
        assert getattr(record, name) == value, name


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(log_line(record_text())[:-40], id="cut-before-closing-quote"),
        pytest.param(log_line(record_text(), enriched=False)[:-1], id="raw-cut-by-one"),
        pytest.param("type=USYS_CONFIG msg=audit(1795567582.810:16", id="cut-in-header"),
        pytest.param("type=USYS_CONFIG msg=audit(abc:16): pid=1 msg='op=x res=success'", id="bad-timestamp"),
        pytest.param("type=USYS_CONFIG msg=audit(1.5): pid=1 msg='op=x res=success'", id="no-serial"),
        pytest.param("garbage type=USYS_CONFIG msg=audit(1.5:1): pid=1 msg='op=x'", id="not-at-line-start"),
        pytest.param("node=a b type=USYS_CONFIG msg=audit(1.5:1): pid=1 msg='op=x'", id="node-with-space"),
        pytest.param("type=USYS_CONFIG msg=audit(1.5:1): pid=1 msg='", id="empty-unterminated"),
        pytest.param("type=USER msg=audit(1.5:1): pid=1 msg='op=x'", id="other-type"),
    ],
)
def test_parse_line_rejects(line):
    assert parse_line(line.encode("utf-8")) is None


def test_parse_line_other_type():
    record = parse_line(log_line("op=y res=success", record_type="USER").encode("utf-8"), "USER")
    assert (record.type, record.op, record.result) == ("USER", "y", "success")


@pytest.mark.parametrize(
    "message, pairs",
    [
        ('op=a b="1" c=4142', [("op", "a"), ("b", '"1"'), ("c", "4142")]),
        ("hostname=my host addr=? terminal=x y", [("hostname", "my host"), ("addr", "?"), ("terminal", "x y")]),
        ("lead garbage op=x", [("op", "x")]),
        ("op=x empty= next=1", [("op", "x"), ("empty", ""), ("next", "1")]),
        ("", []),
    ],
)
def test_split_message(message, pairs):
    assert split_message(message) == pairs


def _pieces_rule(message):
    """The rule split_message keeps, piece by piece: a space-separated piece that starts with a field name and
    "=" opens a field, any other piece goes on with the value before it, and pieces before the first are dropped."""
    pairs = []
    for piece in message.split(" "):
        name, sep, value = piece.partition("=")
        if sep and re.match(r"[A-Za-z_][A-Za-z0-9_\-]*\Z", name):
            pairs.append((name, value))
        elif pairs:
            pairs[-1] = (pairs[-1][0], pairs[-1][1] + " " + piece)
    return pairs


# Text made of what decides where a field starts: spaces, "=", name characters and others.
message_texts = st.lists(
    st.sampled_from(list(" = =a_Z9-.\"'\x1d\n\t\u00e9") + ["op=", "comm=", "res=", "x=41"]), max_size=40
).map("".join)


@settings(max_examples=2000, deadline=None)
@given(message=message_texts)
def test_split_message_keeps_the_piece_rule(message):
    assert split_message(message) == _pieces_rule(message)


@settings(max_examples=2000, deadline=None)
@given(message=message_texts)
def test_decode_message_decodes_each_pair_once(message):
    pairs = _pieces_rule(message)
    standard, fields = decode_message(message)
    expected_standard = {"op": pairs[0][1]} if pairs and pairs[0][0] == "op" else {}
    expected_fields = {}
    for name, value in pairs[1 if expected_standard else 0:]:
        if name in MESSAGE_FIELDS[1:]:
            expected_standard[name] = decode_value(name, value)
        elif name != "op":
            expected_fields[name] = decode_value(name, value)
    assert (standard, fields) == (expected_standard, expected_fields)
    assert list(fields) == list(expected_fields)


def test_decode_message_takes_op_only_from_the_front():
    standard, fields = decode_message('a="1" op=late comm="c" res=success')
    assert "op" not in standard and "op" not in fields
    assert (standard, fields) == ({"comm": "c", "res": "success"}, {"a": "1"})


field_names = st.from_regex(r"\A[a-z][a-z0-9_]{0,10}\Z").filter(is_valid_field_name)
field_values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    fields=st.dictionaries(field_names, field_values, max_size=6),
    success=st.booleans(),
    enriched=st.booleans(),
    node=st.one_of(st.none(), st.from_regex(r"\A[a-z0-9.\-]{1,20}\Z")),
)
def test_round_trip(fields, success, enriched, node):
    line = log_line(record_text(fields=fields, success=success), node=node, enriched=enriched)
    record = parse_line(line.encode("utf-8"))
    assert record is not None
    assert record.fields == fields
    assert list(record.fields) == list(fields)
    assert record.result == ("success" if success else "failed")
    assert record.node == node
    assert record.comm == "ansible"
    assert record.exe == "/usr/bin/python3.11"


@pytest.mark.parametrize(
    "stamp, iso",
    [
        ("1795567582.810:16", "2026-11-25T00:46:22.810+00:00"),
        ("0.000:1", "1970-01-01T00:00:00.000+00:00"),
        ("1716200000.007:2", "2024-05-20T10:13:20.007+00:00"),
        ("99999999999999999999.000:3", None),
    ],
)
def test_iso_time_is_utc_and_keeps_the_logged_milliseconds(stamp, iso):
    record = parse_line(log_line(record_text(), stamp=stamp).encode("utf-8"))
    assert record.time == iso


def _names(uid):
    return {0: "root", 1000: "admin"}.get(uid)


@pytest.mark.parametrize(
    "ids, enriched, node, uid_name, auid_name",
    [
        pytest.param("uid=0 auid=1000", "", None, "root", "admin", id="looked-up"),
        pytest.param("uid=0 auid=4294967295", "", None, "root", "unset", id="unset"),
        pytest.param("uid=4294967295 auid=4294967295", "", None, "unset", "unset", id="both-unset"),
        pytest.param("uid=0 auid=1234", "", None, "root", None, id="no-such-user"),
        pytest.param("uid=0 auid=1000", '\x1dUID="toor" AUID="olduser"', None, "toor", "olduser", id="logged-name-wins"),
        pytest.param("uid=0 auid=1234", '\x1dUID="root" AUID="unknown(1234)"', None, "root", None, id="logged-unknown"),
        pytest.param("uid=0 auid=1000", "", "web01", None, None, id="forwarded-not-looked-up"),
        pytest.param("uid=0 auid=1000", '\x1dUID="root" AUID="admin"', "web01", "root", "admin", id="forwarded-enriched"),
        pytest.param("uid=x auid=", "", None, None, None, id="not-numbers"),
    ],
)
def test_user_names(ids, enriched, node, uid_name, auid_name):
    line = log_line(record_text(), enriched=False, node=node, ids=ids) + enriched
    record = parse_line(line.encode("utf-8"))
    assert record.user_name("uid", _names) == uid_name
    assert record.user_name("auid", _names) == auid_name
    returned = parse_line(line.encode("utf-8")).as_dict(_names)
    assert (returned["uid_name"], returned["auid_name"]) == (uid_name, auid_name)


def test_user_names_without_lookup():
    record = parse_line(log_line(record_text(), enriched=False, ids="uid=0 auid=1000").encode("utf-8"))
    assert record.as_dict()["uid_name"] is None


def test_as_dict_shape():
    record = parse_line(log_line(record_text(fields={"k": "v"})).encode("utf-8"))
    assert record.as_dict(_names) == {
        "type": "USYS_CONFIG",
        "timestamp": 1795567582.81,
        "time": "2026-11-25T00:46:22.810+00:00",
        "serial": 16,
        "event_id": "1795567582.810:16",
        "node": None,
        "pid": 3095,
        "uid": 0,
        "uid_name": "root",
        "auid": 4294967295,
        "auid_name": "unset",
        "ses": 4294967295,
        "op": "test-op",
        "comm": "ansible",
        "exe": "/usr/bin/python3.11",
        "hostname": "?",
        "addr": "?",
        "terminal": "?",
        "result": "success",
        "fields": {"k": "v"},
        "text": record_text(fields={"k": "v"}),
    }


@pytest.mark.parametrize(
    "line, stamp",
    [
        (b"type=X msg=audit(1795567582.810:16): a=b", 1795567582.81),
        (b"node=n type=X msg=audit(1.5:1): ", 1.5),
        (b"type=X msg=audit(abc:1): ", None),
        (b"type=X msg=audit(1.5", None),
        (b"", None),
    ],
)
def test_event_time(line, stamp):
    assert event_time(line) == stamp


@pytest.mark.parametrize(
    "text, at, opens",
    [
        (b"type=USYS_CONFIG msg=audit(", 0, True),
        (b"node=web01 type=USYS_CONFIG msg=audit(", 11, True),
        (b"node=a b type=USYS_CONFIG msg=audit(", 9, False),
        (b"type=USER msg=audit(1.0:1): msg='text=type=USYS_CONFIG msg=audit(", 38, False),
    ],
)
def test_opens_record(text, at, opens):
    assert text[at:].startswith(record_needle("USYS_CONFIG"))
    assert opens_record(text, 0, at) is opens
