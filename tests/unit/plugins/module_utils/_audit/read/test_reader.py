from __future__ import annotations

import hashlib
import os
import pwd

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import CUT_MARK
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import build_message, render_record
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.fieldnames import is_valid_field_name
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError, AuditInvalidInputError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.reader import (
    DEFAULT_LIMIT,
    AuditLogReader,
    RecordFilter,
    UserNames,
    configured_log_file,
    read_records,
    search,
)

ENRICHMENT = '\x1dUID="root" AUID="unset"'


def record_text(op="test-op", fields=None, success=True, comm="ansible"):
    return render_record(build_message(op, fields), b"/usr/bin/python3.11", comm, None, None, None, success)


def log_line(text, stamp="1795567582.810:16", record_type="USYS_CONFIG"):
    return "type=%s msg=audit(%s): pid=3095 uid=0 auid=4294967295 ses=4294967295 msg='%s'%s" % (
        record_type, stamp, text, ENRICHMENT,
    )


def write_log(path, lines, end="\n"):
    with open(str(path), "wb") as handle:
        handle.write(("\n".join(lines) + end).encode("utf-8", "surrogateescape"))
    return str(path)


NOISE = [
    'type=SYSCALL msg=audit(1795567322.470:3): arch=c000003e syscall=44 success=yes exit=60 comm="auditctl" '
    'exe="/usr/sbin/auditctl" key=(null)\x1dARCH=x86_64 SYSCALL=sendto AUID="unset" UID="root"',
    "type=USER msg=audit(1795567325.838:6): pid=2049 uid=0 auid=4294967295 ses=4294967295 "
    "msg='text=type=USYS_CONFIG msg=audit(1.0:1): op=forged res=success'" + ENRICHMENT,
]

field_names = st.from_regex(r"\A[a-z][a-z0-9_]{0,10}\Z").filter(is_valid_field_name)
field_values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=100, deadline=None)
@given(fields=st.dictionaries(field_names, field_values, min_size=1, max_size=4), data=st.data())
def test_field_filter_finds_what_was_written(tmp_path_factory, fields, data):
    name = data.draw(st.sampled_from(sorted(fields)))
    path = write_log(tmp_path_factory.mktemp("log") / "audit.log", NOISE + [log_line(record_text(fields=fields))])
    records, _files, _truncated = search(path, False, RecordFilter(fields={name: fields[name]}))
    assert [r["fields"] for r in records] == [fields]


def test_reader_skips_noise_forgeries_and_malformed(tmp_path):
    good = [log_line(record_text(op="op%d" % i), stamp="1795567582.%03d:%d" % (i, 100 + i)) for i in range(3)]
    lines = NOISE + [good[0], log_line(record_text())[:-30], good[1], "\x00\xff garbage", good[2]]
    path = write_log(tmp_path / "audit.log", lines)
    assert [r.op for r in AuditLogReader(path, include_rotated=False)] == ["op0", "op1", "op2"]


def test_last_line_cut_mid_record(tmp_path):
    path = write_log(tmp_path / "audit.log", [log_line(record_text()), log_line(record_text())[:-35]], end="")
    assert len(list(AuditLogReader(path, include_rotated=False))) == 1


def _rotated(tmp_path, per_file=2):
    """audit.log.3 ... audit.log with ``per_file`` records each; op names say which file, serials grow with time."""
    base = str(tmp_path / "audit.log")
    serial = 0
    for number in (3, 2, 1, 0):
        lines = []
        for _record in range(per_file):
            serial += 1
            lines.append(log_line(record_text(op="f%d" % number), stamp="%d.000:%d" % (1000 * (4 - number) + serial, serial)))
        write_log(base + (".%d" % number if number else ""), lines + NOISE)
    return base


def test_rotated_files_oldest_first(tmp_path):
    reader = AuditLogReader(_rotated(tmp_path, 1))
    assert [r.op for r in reader] == ["f3", "f2", "f1", "f0"]
    assert [os.path.basename(f) for f in reader.files_read] == ["audit.log.3", "audit.log.2", "audit.log.1", "audit.log"]


def test_rotated_file_vanishing_is_skipped(tmp_path):
    base = _rotated(tmp_path, 1)
    reader = AuditLogReader(base)
    os.unlink(base + ".1")
    assert [r.op for r in reader] == ["f3", "f2", "f0"]


@pytest.mark.parametrize(
    "limit, serials, files, truncated",
    [
        pytest.param(1, [8], ["audit.log"], True, id="one-from-the-current-log"),
        pytest.param(2, [8, 7], ["audit.log"], True, id="current-log-exactly"),
        pytest.param(3, [8, 7, 6], ["audit.log.1", "audit.log"], True, id="one-rotation-back"),
        pytest.param(8, [8, 7, 6, 5, 4, 3, 2, 1], ["audit.log.3", "audit.log.2", "audit.log.1", "audit.log"], False,
                     id="all-exactly"),
        pytest.param(None, [8, 7, 6, 5, 4, 3, 2, 1], ["audit.log.3", "audit.log.2", "audit.log.1", "audit.log"], False,
                     id="no-limit"),
        pytest.param(0, [], [], True, id="zero"),
    ],
)
def test_newest_first_reads_rotations_only_as_far_as_the_limit(tmp_path, limit, serials, files, truncated):
    records, read, was_truncated = search(_rotated(tmp_path), limit=limit, order="newest")
    assert [r["serial"] for r in records] == serials
    assert [os.path.basename(f) for f in read] == files
    assert was_truncated is truncated


@pytest.mark.parametrize("limit", [None, 0, 1, 3, 8, 9])
def test_newest_converts_only_the_records_it_returns(tmp_path, limit):
    base = _rotated(tmp_path)
    plain, plain_truncated = AuditLogReader(base).newest(limit)
    converted_ids = []

    def convert(record):
        converted_ids.append(record.serial)
        return record.serial

    converted, truncated = AuditLogReader(base).newest(limit, convert)
    assert (converted, truncated) == ([record.serial for record in plain], plain_truncated)
    assert sorted(converted_ids) == sorted(converted)


def test_oldest_order_is_the_same_records_reversed(tmp_path):
    base = _rotated(tmp_path)
    newest, files_newest, _truncated = search(base, limit=3, order="newest")
    oldest, files_oldest, _truncated = search(base, limit=3, order="oldest")
    assert [r["serial"] for r in oldest] == [6, 7, 8]
    assert oldest == newest[::-1]
    assert files_oldest == files_newest


def test_since_skips_rotations_that_ended_before_it(tmp_path):
    base = _rotated(tmp_path)
    records, files, _truncated = search(base, record_filter=RecordFilter(start=2500.0), order="oldest")
    assert [r["op"] for r in records] == ["f1", "f1", "f0", "f0"]
    assert [os.path.basename(f) for f in files] == ["audit.log.2", "audit.log.1", "audit.log"]


FILTER_LOG = [
    log_line(record_text(op="a", fields={"task_id": "u1", "n": 3}), stamp="100.000:1"),
    log_line(record_text(op="b", fields={"task_id": "u2", "note": "it's"}, success=False), stamp="200.000:2"),
    log_line(record_text(op="a", fields={"task_id": "u2"}, comm="other"), stamp="300.000:3"),
    log_line("op=c exe=\"/x\" hostname=? addr=? terminal=? res=yes", stamp="400.000:4"),
    log_line(record_text(op="a:ansible.builtin.copy:/etc/a%20b"), stamp="500.000:5"),
    log_line(record_text(op="ab"), stamp="600.000:6"),
]


@pytest.mark.parametrize(
    "kwargs, serials",
    [
        ({}, [1, 2, 3, 4, 5, 6]),
        ({"start": 200, "end": 400}, [2, 3, 4]),
        ({"end": 200}, [1, 2]),
        ({"start": 150, "end": 350}, [2, 3]),
        # An op finds its records and those whose op= goes on with ":" (audited's module and object).
        ({"op": "a"}, [1, 3, 5]),
        ({"op": "a:ansible.builtin.copy"}, [5]),
        ({"comm": "other"}, [3]),
        ({"result": "failed"}, [2]),
        ({"result": "success"}, [1, 3, 4, 5, 6]),
        ({"fields": {"task_id": "u2"}}, [2, 3]),
        ({"fields": {"n": 3}}, [1]),
        ({"fields": {"note": "it's"}}, [2]),
        ({"fields": {"task_id": "u2"}, "op": "a"}, [3]),
        ({"fields": {"missing": "x"}}, []),
    ],
)
def test_filters(tmp_path, kwargs, serials):
    path = write_log(tmp_path / "audit.log", NOISE + FILTER_LOG)
    records, files, _truncated = search(path, False, RecordFilter(**kwargs), order="oldest")
    assert [r["serial"] for r in records] == serials
    assert files == [path]


def test_bad_result_order_and_limit(tmp_path):
    with pytest.raises(AuditInvalidInputError):
        RecordFilter(result="maybe")
    path = write_log(tmp_path / "audit.log", [])
    with pytest.raises(AuditInvalidInputError):
        search(path, False, limit=-1)
    with pytest.raises(AuditInvalidInputError):
        search(path, False, order="random")


def test_other_record_types(tmp_path):
    lines = [log_line(record_text(op="x"), stamp="1.0:1"), log_line("op=y res=success", stamp="2.0:2", record_type="USER")]
    path = write_log(tmp_path / "audit.log", lines)
    reader = AuditLogReader(path, include_rotated=False, types=("USER", "USYS_CONFIG"))
    assert [(r.type, r.serial) for r in reader] == [("USYS_CONFIG", 1), ("USER", 2)]


def test_user_names_asks_once_per_uid(monkeypatch):
    asked = []

    def getpwuid(uid):
        asked.append(uid)
        if uid == 0:
            return pwd.struct_passwd(("root", "x", 0, 0, "", "/root", "/bin/sh"))
        raise KeyError(uid)

    monkeypatch.setattr(pwd, "getpwuid", getpwuid)
    names = UserNames()
    assert [names(0), names(0), names(4242), names(4242)] == ["root", "root", None, None]
    assert asked == [0, 4242]


# read_records: the usys_config_info module's options (AnsibleModule fills in the defaults).
MODULE_DEFAULTS = {
    "path": None, "include_rotated": True, "since": None, "until": None, "op": None, "comm": None, "result": None,
    "fields": {}, "task_id": None, "run_id": None, "limit": DEFAULT_LIMIT, "order": "newest",
}


def module_params(**options):
    return dict(MODULE_DEFAULTS, **options)


def test_read_records_defaults_newest_first(tmp_path):
    base = _rotated(tmp_path, 40)
    result = read_records(module_params(path=base))
    assert result["count"] == DEFAULT_LIMIT == len(result["records"])
    assert [r["serial"] for r in result["records"]] == list(range(160, 60, -1))
    assert result["truncated"] is True
    assert result["changed"] is False
    assert result["log_file"] == base
    # The newest 100 of 4 x 40 records: the oldest rotation is not read.
    assert [os.path.basename(f) for f in result["files"]] == ["audit.log.2", "audit.log.1", "audit.log"]
    assert result["records"][0]["time"].endswith("+00:00")
    assert result["records"][0]["uid_name"] == "root"
    assert result["records"][0]["auid_name"] == "unset"


def test_read_records_limit_zero_is_every_record_like_1_0(tmp_path):
    base = _rotated(tmp_path, 30)
    result = read_records(module_params(path=base, limit=0, order="oldest"))
    assert [r["serial"] for r in result["records"]] == list(range(1, 121))
    assert result["truncated"] is False
    assert len(result["files"]) == 4


def test_read_records_shortcuts_override_fields(tmp_path):
    path = write_log(tmp_path / "audit.log", FILTER_LOG)
    result = read_records(module_params(path=path, fields={"task_id": "u1"}, task_id="u2", op="a"))
    assert [r["serial"] for r in result["records"]] == [3]


@pytest.mark.parametrize(
    "options, name",
    [
        ({"run_id": ""}, "run_id"),
        ({"task_id": ""}, "task_id"),
        ({"op": ""}, "op"),
        ({"comm": ""}, "comm"),
        ({"since": ""}, "since"),
        ({"until": ""}, "until"),
        ({"path": ""}, "path"),
        ({"fields": {"ticket": ""}}, "fields.ticket"),
    ],
)
def test_empty_filters_are_errors_not_zero_records(tmp_path, options, name):
    path = write_log(tmp_path / "audit.log", FILTER_LOG)
    with pytest.raises(AuditInvalidInputError) as info:
        read_records(module_params(**dict({"path": path}, **options)))
    assert str(info.value).startswith("%s is an empty string" % name)
    assert "Leave %s out" % name in info.value.hint


def test_read_records_takes_the_log_from_auditd_conf(tmp_path):
    log = write_log(tmp_path / "elsewhere.log", FILTER_LOG)
    conf = tmp_path / "auditd.conf"
    conf.write_text("log_format = RAW\nlog_file = %s\n" % log)
    result = read_records(module_params(), str(conf))
    assert result["log_file"] == log
    assert result["count"] == len(FILTER_LOG)


@pytest.mark.parametrize("text", ["# log_file = /commented\nlog_group = adm\n", ""])
def test_configured_log_file_defaults(tmp_path, text):
    conf = tmp_path / "auditd.conf"
    conf.write_text(text)
    assert configured_log_file(str(conf)) == "/var/log/audit/audit.log"
    assert configured_log_file(str(tmp_path / "missing.conf")) == "/var/log/audit/audit.log"


def test_read_records_negative_limit(tmp_path):
    with pytest.raises(AuditInvalidInputError) as info:
        read_records(module_params(path=write_log(tmp_path / "audit.log", FILTER_LOG), limit=-1))
    assert "limit to 0 for every record" in str(info.value)


def test_read_records_missing_log_is_an_audit_error(tmp_path):
    with pytest.raises(AuditError) as info:
        read_records(module_params(path=str(tmp_path / "missing.log")))
    assert "Cannot read the audit log" in str(info.value)


@pytest.mark.parametrize("whole", ["/srv/" + "x" * 600, "/srv/a dir/" + "é" * 400, "Task name " * 80])
def test_a_value_cut_to_fit_its_record_is_found_by_the_whole_value(tmp_path, whole):
    raw = whole.encode("utf-8")
    mark = CUT_MARK % hashlib.sha256(raw).hexdigest()
    cut = raw[:200].decode("utf-8", "ignore") + mark
    path = write_log(tmp_path / "audit.log", NOISE + [log_line(record_text(fields={"object": cut, "n": 1}))])
    found, _files, _truncated = search(path, False, RecordFilter(fields={"object": whole}))
    assert [record["fields"]["object"] for record in found] == [cut]
    for other in (whole + "x", whole[:-1], "/other" + whole[6:]):
        assert search(path, False, RecordFilter(fields={"object": other}))[0] == [], other
