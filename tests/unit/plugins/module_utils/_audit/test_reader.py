from __future__ import annotations

import errno
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.changeaudit.linux.plugins.module_utils._audit import reader as reader_module
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.encoding import build_message, render_record
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.errors import AuditError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.reader import (
    AuditLogReader,
    RecordFilter,
    log_files,
    parse_line,
    search,
    split_message,
)

ENRICHMENT = '\x1dUID="root" AUID="unset"'


def record_text(op="test-op", fields=None, success=True, comm="ansible", hostname=None, addr=None, terminal=None):
    return render_record(build_message(op, fields), b"/usr/bin/python3.11", comm, hostname, addr, terminal, success)


def log_line(text, stamp="1795567582.810:16", node=None, enriched=True, record_type="USYS_CONFIG"):
    line = "type=%s msg=audit(%s): pid=3095 uid=0 auid=4294967295 ses=4294967295 msg='%s'" % (record_type, stamp, text)
    if enriched:
        line += ENRICHMENT
    if node:
        line = "node=%s %s" % (node, line)
    return line


def write_log(path, lines, end="\n"):
    with open(str(path), "wb") as handle:
        handle.write(("\n".join(lines) + end).encode("utf-8", "surrogateescape"))
    return str(path)


NOISE = [
    'type=SYSCALL msg=audit(1795567322.470:3): arch=c000003e syscall=44 success=yes exit=60 comm="auditctl" '
    'exe="/usr/sbin/auditctl" key=(null)\x1dARCH=x86_64 SYSCALL=sendto AUID="unset" UID="root"',
    "type=PROCTITLE msg=audit(1795567322.470:3): proctitle=2F7362696E2F617564697463746C",
    "type=USER msg=audit(1795567325.838:6): pid=2049 uid=0 auid=4294967295 ses=4294967295 "
    "msg='text=type=USYS_CONFIG msg=audit(1.0:1): op=forged res=success'" + ENRICHMENT,
]


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
            {"op": "x", "fields": {"k": "'\x1d'"}},
            id="quote-gs-in-user-text-enriched",
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


field_names = st.from_regex(r"\A[a-z][a-z0-9_]{0,10}\Z").filter(
    lambda name: name not in reader_module.MESSAGE_FIELDS
    and name not in ("type", "msg", "node", "pid", "uid", "auid", "ses", "subj", "result", "success")
)
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


@settings(max_examples=100, deadline=None)
@given(fields=st.dictionaries(field_names, field_values, min_size=1, max_size=4), data=st.data())
def test_field_filter_finds_what_was_written(tmp_path_factory, fields, data):
    name = data.draw(st.sampled_from(sorted(fields)))
    path = write_log(tmp_path_factory.mktemp("log") / "audit.log", NOISE + [log_line(record_text(fields=fields))])
    records, _files = search(path, False, RecordFilter(fields={name: fields[name]}))
    assert [r["fields"] for r in records] == [fields]


def test_reader_skips_noise_forgeries_and_malformed(tmp_path):
    good = [log_line(record_text(op="op%d" % i), stamp="1795567582.%03d:%d" % (i, 100 + i)) for i in range(3)]
    lines = NOISE + [good[0], log_line(record_text())[:-30], good[1], "\x00\xff garbage", good[2]]
    path = write_log(tmp_path / "audit.log", lines)
    assert [r.op for r in AuditLogReader(path, include_rotated=False)] == ["op0", "op1", "op2"]


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000, 1 << 20])
def test_chunk_borders(tmp_path, chunk_size):
    lines = []
    for i in range(50):
        lines.extend(NOISE)
        lines.append(log_line(record_text(op="op%d" % i, fields={"v": "x" * i}), stamp="1795567582.000:%d" % i))
    path = write_log(tmp_path / "audit.log", lines)
    found = [r.op for r in AuditLogReader(path, include_rotated=False, chunk_size=chunk_size)]
    assert found == ["op%d" % i for i in range(50)]


@pytest.mark.parametrize("end", ["", "\n", "\n\n"])
def test_last_line_without_newline(tmp_path, end):
    path = write_log(tmp_path / "audit.log", NOISE + [log_line(record_text())], end=end)
    assert len(list(AuditLogReader(path, include_rotated=False))) == 1


def test_last_line_cut_mid_record(tmp_path):
    path = write_log(tmp_path / "audit.log", [log_line(record_text()), log_line(record_text())[:-35]], end="")
    assert len(list(AuditLogReader(path, include_rotated=False))) == 1


def test_overlong_line_is_dropped_and_reading_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(reader_module, "MAX_LINE", 256)
    lines = [log_line(record_text(op="before")), "x" * 5000, log_line(record_text(op="after"))]
    path = write_log(tmp_path / "audit.log", lines)
    found = [r.op for r in AuditLogReader(path, include_rotated=False, chunk_size=100)]
    assert found == ["before", "after"]


def test_rotated_files_oldest_first(tmp_path):
    base = tmp_path / "audit.log"
    for suffix, op in [("", "current"), (".1", "newer"), (".2", "older"), (".10", "oldest")]:
        write_log(str(base) + suffix, [log_line(record_text(op=op))])
    write_log(str(base) + ".1.gz", ["not read"])
    write_log(tmp_path / "audit.logx", [log_line(record_text(op="other-file"))])
    reader = AuditLogReader(str(base))
    assert [r.op for r in reader] == ["oldest", "older", "newer", "current"]
    names = [os.path.basename(f) for f in reader.files_read]
    assert names == ["audit.log.10", "audit.log.2", "audit.log.1", "audit.log"]
    assert log_files(str(base), include_rotated=False) == [str(base)]


def test_rotated_file_vanishing_is_skipped(tmp_path):
    base = tmp_path / "audit.log"
    write_log(base, [log_line(record_text(op="current"))])
    write_log(str(base) + ".1", [log_line(record_text(op="gone"))])
    reader = AuditLogReader(str(base))
    os.unlink(str(base) + ".1")
    assert [r.op for r in reader] == ["current"]


@pytest.mark.parametrize(
    "make, err",
    [
        pytest.param(lambda p: str(p / "missing.log"), errno.ENOENT, id="missing"),
        pytest.param(str, errno.EISDIR, id="directory"),
    ],
)
def test_unreadable_log(tmp_path, make, err):
    with pytest.raises(AuditError) as info:
        AuditLogReader(make(tmp_path))
    assert info.value.errno == err
    assert info.value.hint
    assert "Cannot read the audit log" in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_permission_denied(tmp_path):
    path = write_log(tmp_path / "audit.log", [])
    os.chmod(path, 0)
    with pytest.raises(AuditError) as info:
        AuditLogReader(path)
    assert info.value.errno == errno.EACCES


FILTER_LOG = [
    log_line(record_text(op="a", fields={"task_uuid": "u1", "n": 3}), stamp="100.000:1"),
    log_line(record_text(op="b", fields={"task_uuid": "u2", "note": "it's"}, success=False), stamp="200.000:2"),
    log_line(record_text(op="a", fields={"task_uuid": "u2"}, comm="other"), stamp="300.000:3"),
    log_line("op=c exe=\"/x\" hostname=? addr=? terminal=? res=yes", stamp="400.000:4"),
]


@pytest.mark.parametrize(
    "kwargs, serials",
    [
        ({}, [1, 2, 3, 4]),
        ({"start": 200}, [2, 3, 4]),
        ({"end": 200}, [1, 2]),
        ({"start": 150, "end": 350}, [2, 3]),
        ({"op": "a"}, [1, 3]),
        ({"comm": "other"}, [3]),
        ({"result": "failed"}, [2]),
        ({"result": "success"}, [1, 3, 4]),
        ({"fields": {"task_uuid": "u2"}}, [2, 3]),
        ({"fields": {"n": 3}}, [1]),
        ({"fields": {"note": "it's"}}, [2]),
        ({"fields": {"task_uuid": "u2"}, "op": "a"}, [3]),
        ({"fields": {"missing": "x"}}, []),
        ({"fields": {"task_uuid": ""}}, []),
    ],
)
def test_filters(tmp_path, kwargs, serials):
    path = write_log(tmp_path / "audit.log", NOISE + FILTER_LOG)
    records, files = search(path, False, RecordFilter(**kwargs))
    assert [r["serial"] for r in records] == serials
    assert files == [path]


@pytest.mark.parametrize("limit, serials", [(None, [1, 2, 3, 4]), (2, [3, 4]), (10, [1, 2, 3, 4]), (0, [])])
def test_limit_keeps_newest(tmp_path, limit, serials):
    path = write_log(tmp_path / "audit.log", FILTER_LOG)
    records, _files = search(path, False, limit=limit)
    assert [r["serial"] for r in records] == serials


def test_bad_result_and_limit(tmp_path):
    with pytest.raises(AuditError):
        RecordFilter(result="maybe")
    with pytest.raises(AuditError):
        search(write_log(tmp_path / "audit.log", []), False, limit=-1)


def test_other_record_types(tmp_path):
    lines = [
        log_line(record_text(op="x"), stamp="1.0:1"),
        log_line("op=y res=success", stamp="2.0:2", record_type="USER"),
    ]
    path = write_log(tmp_path / "audit.log", lines)
    reader = AuditLogReader(path, include_rotated=False, types=("USER", "USYS_CONFIG"))
    assert [(r.type, r.serial) for r in reader] == [("USYS_CONFIG", 1), ("USER", 2)]


def test_as_dict_shape():
    record = parse_line(log_line(record_text(fields={"k": "v"})).encode("utf-8"))
    assert record.as_dict() == {
        "type": "USYS_CONFIG",
        "timestamp": 1795567582.81,
        "serial": 16,
        "event_id": "1795567582.810:16",
        "node": None,
        "pid": 3095,
        "uid": 0,
        "auid": 4294967295,
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
