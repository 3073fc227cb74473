"""helper.main, the record helper of least-privilege mode: a strict request check, one JSON line whatever happens.
Writes go to the fake kernel of the ``audit`` fixture (conftest.py); execute is replaced only to make it fail."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.changeaudit.linux.plugins.module_utils._audit import helper
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record import errors
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.helper import (
    CHECK_MODE_SPEC,
    INTERNAL_ERROR_CAUSE,
    REQUEST_MAX_BYTES,
    REQUEST_SPEC,
    main,
    sources_fingerprint,
    validate_helper_request,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._specs import WRITER_ARGUMENT_SPEC

AUDIT_DIR = os.path.dirname(os.path.abspath(helper.__file__))
COLLECTIONS = os.path.abspath(os.path.join(AUDIT_DIR, *[os.pardir] * 6))


def run(data, argv=("/usr/local/sbin/changeaudit-record",)):
    out = io.StringIO()
    status = main(io.BytesIO(data if isinstance(data, bytes) else json.dumps(data).encode()), out, list(argv))
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines
    return status, json.loads(lines[0])


def assert_refused(status, result, *words):
    assert status == 1
    assert (result["failed"], result["recorded"], result["cause"]) == (True, False, "AuditInvalidInputError")
    assert result["msg"].startswith("The record helper refused the request") or "takes no arguments" in result["msg"]
    for word in words:
        assert word in result["msg"]
    assert result["helper"]["fingerprint"] == sources_fingerprint(AUDIT_DIR)


def test_the_request_keys_are_the_usys_config_options_and_check_mode():
    assert REQUEST_SPEC == WRITER_ARGUMENT_SPEC
    assert list(REQUEST_SPEC) == list(WRITER_ARGUMENT_SPEC)
    assert CHECK_MODE_SPEC == {"type": "bool", "default": False}


def test_defaults_are_those_ansible_fills_in():
    expected = ArgumentSpecValidator(WRITER_ARGUMENT_SPEC).validate({"op": "x"}).validated_parameters
    assert validate_helper_request({"op": "x"}) == dict(expected, check_mode=False)


def test_defaults_are_not_shared_between_requests():
    first = validate_helper_request({"op": "x"})
    first["fields"]["a"] = 1
    first["hash_fields"].append("a")
    assert validate_helper_request({"op": "x"})["fields"] == {}
    assert REQUEST_SPEC["fields"]["default"] == {} and REQUEST_SPEC["hash_fields"]["default"] == []


@pytest.mark.parametrize("request_, words", [
    ({"op": "x", "become": True}, ["unknown key(s) 'become'", "check_mode"]),
    ({"fields": {}}, ["op is required"]),
    ({"op": 1}, ["op must be a string, not 1"]),
    ({"op": None}, ["op must be a string"]),
    ({"op": "x", "fields": ["a"]}, ["fields must be an object"]),
    ({"op": "x", "fields": None}, ["fields must be an object"]),
    ({"op": "x", "hash_fields": "a"}, ["hash_fields must be a list"]),
    ({"op": "x", "hash_fields": ["a", 1]}, ["hash_fields must be a list of strings"]),
    ({"op": "x", "verify": "yes"}, ["verify must be true or false"]),
    ({"op": "x", "check_mode": 0}, ["check_mode must be true or false"]),
    ({"op": "x", "context": 1}, ["context must be true or false"]),
    ({"op": "x", "result": "ok"}, ["result must be one of success, failed"]),
    ({"op": "x", "backend": "syslog"}, ["backend must be one of auto, libaudit, netlink"]),
    ({"op": "x", "on_unavailable": "ignore"}, ["on_unavailable must be one of fail, warn"]),
    ({"op": "x", "comm": None}, ["comm must be a string"]),
    ({"op": "x", "hostname": 5}, ["hostname must be a string"]),
    ({"op": "x", "terminal": ["tty1"]}, ["terminal must be a string"]),
], ids=lambda value: None if isinstance(value, list) else "-".join(sorted(value)))
def test_a_request_that_does_not_match_the_spec_is_refused(monkeypatch, request_, words):
    monkeypatch.setattr(helper, "execute", lambda params: pytest.fail("execute ran for a refused request"))
    assert_refused(*run(request_), *words)


@pytest.mark.parametrize("data, words", [
    (b"", ["stdin was empty"]),
    (b"op=x", ["not JSON"]),
    (b'{"op": "x"', ["not JSON"]),
    (b'{"op": "x"} {"op": "y"}', ["not JSON"]),
    (b'["op", "x"]', ["JSON list, not an object"]),
    (b'"x"', ["JSON str, not an object"]),
    (b'{"op": "x", "op": "y"}', ["'op' appears more than once"]),
    (b'{"op": "x", "fields": {"a": 1, "a": 2}}', ["'a' appears more than once"]),
    (b'{"op": "x", "fields": {"a": NaN}}', ["NaN is not JSON"]),
    (b'{"op": "\xff"}', ["not UTF-8"]),
    (b'{"op": "x", "fields": {"a": ' + b"[" * 100000 + b"]" * 100000 + b"}}", ["nested too deeply"]),
], ids=["empty", "text", "truncated", "two-objects", "list", "string", "duplicate", "duplicate-field", "nan",
        "latin1", "deep"])
def test_stdin_that_is_not_one_json_object_is_refused(monkeypatch, data, words):
    monkeypatch.setattr(helper, "execute", lambda params: pytest.fail("execute ran for a refused request"))
    assert_refused(*run(data), *words)


def test_a_request_over_the_limit_is_refused_without_reading_all_of_it(monkeypatch):
    monkeypatch.setattr(helper, "execute", lambda params: pytest.fail("execute ran for a refused request"))
    padding = REQUEST_MAX_BYTES - len(b'{"op": "x", "fields": {"pad": ""}}')
    at_limit = b'{"op": "x", "fields": {"pad": "' + b"a" * padding + b'"}}'
    assert len(at_limit) == REQUEST_MAX_BYTES
    stream = io.BytesIO(at_limit[:-1] + b" }" + b" " * REQUEST_MAX_BYTES)
    out = io.StringIO()
    status = main(stream, out, ["helper"])
    assert_refused(status, json.loads(out.getvalue()), "larger than %d bytes" % REQUEST_MAX_BYTES)
    assert stream.tell() == REQUEST_MAX_BYTES + 1


def test_a_request_at_the_limit_reaches_execute(monkeypatch):
    seen = []
    monkeypatch.setattr(helper, "execute", lambda params: seen.append(params) or {"changed": False, "recorded": True})
    padding = REQUEST_MAX_BYTES - len(b'{"op": "x", "fields": {"pad": ""}}')
    status, result = run(b'{"op": "x", "fields": {"pad": "' + b"a" * padding + b'"}}')
    assert (status, result["recorded"], len(seen[0]["fields"]["pad"])) == (0, True, padding)


@pytest.mark.parametrize("argv", [["helper", "extra"], ["helper", ""], ["helper", "--", "x"]], ids=["one", "empty", "two"])
def test_arguments_are_refused(monkeypatch, argv):
    monkeypatch.setattr(helper, "execute", lambda params: pytest.fail("execute ran with arguments given"))
    status, result = run({"op": "x"}, argv)
    assert_refused(status, result, "takes no arguments")
    assert result["helper"]["path"] == "helper"


def test_a_valid_request_is_written_with_the_defaults_filled_in(audit):
    status, result = run({"op": "helper-unit", "fields": {"path": "/etc/a b"}, "hash_fields": ["path"], "check_mode": False},
                         argv=["/usr/local/sbin/changeaudit-record"])
    assert status == 0, result
    assert (result["recorded"], result["changed"]) == (True, False)
    assert result["helper"] == {"fingerprint": sources_fingerprint(AUDIT_DIR), "path": "/usr/local/sbin/changeaudit-record"}
    [(_msg_type, text)] = audit.kernel.records
    assert text.startswith("op=helper-unit path=\"sha256:") and "/etc/a b" not in text
    assert 'comm="ansible"' in text and text.endswith("res=success")


def test_check_mode_writes_nothing(audit):
    status, result = run({"op": "helper-unit", "check_mode": True})
    assert (status, result["recorded"], audit.kernel.records) == (0, False, [])
    assert result["record"].startswith("op=helper-unit ")


def test_a_host_that_cannot_take_the_record_fails_with_the_binding_cause(audit):
    audit.caps["cap_audit_write"] = False
    status, result = run({"op": "helper-unit"})
    assert status == 1
    assert (result["failed"], result["recorded"]) == (True, False)
    assert issubclass(getattr(errors, result["cause"]), errors.AuditPermissionError), result["cause"]
    assert "CAP_AUDIT_WRITE" in result["msg"] and "helper" in result
    assert audit.kernel.records == []


def test_on_unavailable_warn_is_not_a_failure(audit):
    audit.kernel.status["enabled"] = 0
    status, result = run({"op": "helper-unit", "on_unavailable": "warn"})
    assert (status, result["recorded"], result.get("failed")) == (0, False, None)
    assert result["unavailable"]["cause"] == "AuditDisabledError"


def test_a_bug_below_main_still_comes_out_as_json(monkeypatch):
    def broken(params):
        raise KeyError("boom")

    monkeypatch.setattr(helper, "execute", broken)
    status, result = run({"op": "x"})
    assert status == 1
    assert (result["failed"], result["recorded"], result["cause"]) == (True, False, INTERNAL_ERROR_CAUSE)
    assert result["exception"] == "KeyError" and "boom" in result["msg"] and "record_helper role" in result["msg"]


def test_a_result_json_cannot_hold_still_comes_out_as_json(monkeypatch):
    monkeypatch.setattr(helper, "execute", lambda params: {"recorded": True, "odd": object()})
    status, result = run({"op": "x"})
    assert (status, result["cause"], result["recorded"]) == (1, INTERNAL_ERROR_CAUSE, False)


def test_stdout_gone_is_a_failure_status(monkeypatch):
    monkeypatch.setattr(helper, "execute", lambda params: {"changed": False, "recorded": True})

    class Closed(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    assert main(io.BytesIO(b'{"op": "x", "check_mode": true}'), Closed(), ["helper"]) == 1


@pytest.mark.parametrize("data, args", [(b'{"op": "x", "nope": 1}', []), (b"\x00", []), (b'{"op": "x"}', ["-x"])],
                         ids=["unknown-key", "binary", "argument"])
def test_a_real_process_prints_one_json_line_and_no_traceback(data, args):
    """As the installed script runs it: isolated Python, the binding on sys.path, main's status as exit status."""
    script = "import sys; sys.path.insert(0, %r); from %s import main; sys.exit(main())" % (COLLECTIONS, helper.__name__)
    proc = subprocess.run([sys.executable, "-IS", "-c", script] + args, input=data, capture_output=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr == b""
    result = json.loads(proc.stdout)
    assert proc.stdout.count(b"\n") == 1 and result["cause"] == "AuditInvalidInputError"
    assert result["helper"]["path"] == "-c"


def test_the_fingerprint_is_stable_and_covers_exactly_the_py_files(tmp_path):
    copy = tmp_path / "_audit"
    shutil.copytree(AUDIT_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    first = sources_fingerprint(str(copy))
    assert first == sources_fingerprint(str(copy)) == sources_fingerprint(AUDIT_DIR)
    assert len(first) == 64 and int(first, 16) >= 0
    (copy / "notes.txt").write_text("not python")
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__" / "helper.cpython-311.pyc").write_bytes(b"\0")
    assert sources_fingerprint(str(copy)) == first
    with open(copy / "request.py", "a") as handle:
        handle.write("\n")
    assert sources_fingerprint(str(copy)) != first
    (copy / "request.py").write_bytes(open(os.path.join(AUDIT_DIR, "request.py"), "rb").read())
    assert sources_fingerprint(str(copy)) == first
    (copy / "stale.py").write_text("")
    assert sources_fingerprint(str(copy)) != first
    (copy / "stale.py").unlink()
    os.rename(copy / "read" / "timespec.py", copy / "read" / "timespec2.py")
    assert sources_fingerprint(str(copy)) != first
    os.rename(copy / "read" / "timespec2.py", copy / "read" / "timespec.py")
    assert sources_fingerprint(str(copy)) == first
    # The same file in another of the binding's folders is another binding.
    os.rename(copy / "read" / "timespec.py", copy / "record" / "timespec.py")
    assert sources_fingerprint(str(copy)) != first


def test_the_fingerprint_frames_names_and_contents(tmp_path):
    """Moving bytes between a name and a content, or between two files, changes it."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "a.py").write_text("b.py")
    (one / "c.py").write_text("")
    (two / "a.py").write_text("")
    (two / "b.pyc.py").write_text("")
    assert sources_fingerprint(str(one)) != sources_fingerprint(str(two))
    (one / "a.py").write_text("xc.py")
    (one / "c.py").unlink()
    (two / "a.py").write_text("x")
    (two / "b.pyc.py").unlink()
    (two / "c.py").write_text("")
    assert sources_fingerprint(str(one)) != sources_fingerprint(str(two))


# --- fields only the controller writes, and the shapes evidence matches by -------------------------------------------

GOOD_FIELDS = {"run_id": "9f86d081884c7d65", "seq": "12", "task_id": "02fc0000-0001-16ba-5381-000000000012",
               "ctl_sig": "ed25519:%s:%s" % ("0" * 16, "A" * 86)}


@pytest.mark.parametrize("fields, words", [
    ({"kept_on": "controller"}, ["kept_on is only the controller's"]),
    ({"changed_host": "web2", "kept_on": "controller"}, ["changed_host, kept_on are only the controller's"]),
    (dict(GOOD_FIELDS, seq="012"), ["seq must be a positive decimal number"]),
    (dict(GOOD_FIELDS, seq=12), ["seq must be a positive decimal number", "not 12"]),
    (dict(GOOD_FIELDS, task_id="t-12"), ["task_id must be a task uuid"]),
    (dict(GOOD_FIELDS, run_id="run 1"), ["run_id must be a run id"]),
    (dict(GOOD_FIELDS, run_id="x" * 97), ["run_id must be a run id"]),
    (dict(GOOD_FIELDS, ctl_sig="ed25519:abc"), ["ctl_sig must be ed25519:"]),
    (dict(GOOD_FIELDS, ctl_mac="XYZ"), ["ctl_mac must be 32 lowercase hex digits"]),
    ({"seq": "1"}, ["it needs run_id and task_id too"]),
])
def test_the_fields_only_the_controller_writes_and_bad_identifying_fields_are_refused(monkeypatch, fields, words):
    called = []
    monkeypatch.setattr(helper, "execute", lambda request: called.append(request) or {"recorded": True})
    status, result = run({"op": "ansible-change:x", "fields": fields})
    assert_refused(status, result, *words)
    assert called == []


def test_hashing_an_identifying_field_is_refused(monkeypatch):
    monkeypatch.setattr(helper, "execute", lambda request: {"recorded": True})
    status, result = run({"op": "ansible-change:x", "fields": GOOD_FIELDS, "hash_fields": ["run_id"]})
    assert_refused(status, result, "run_id may not be hashed")


def test_a_record_of_a_change_in_the_controllers_shapes_is_taken(monkeypatch):
    called = []
    monkeypatch.setattr(helper, "execute", lambda request: called.append(request) or {"recorded": True})
    status, _result = run({"op": "ansible-change:x", "fields": dict(GOOD_FIELDS, run_id="awx-123", inventory_host="web1")})
    assert status == 0 and called[0]["fields"]["seq"] == "12"
