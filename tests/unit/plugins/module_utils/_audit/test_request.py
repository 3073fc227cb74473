"""request.execute: the one write path the module and the bundle share. Nothing here reaches the audit socket:
every case fails before the send, or runs in a child process that lacks CAP_AUDIT_WRITE."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditError,
    AuditInvalidInputError,
    AuditCapabilityError,
    AuditPermissionError,
    AuditRecordTooLongError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.request import (
    error_result,
    execute,
    fields_with_hashes,
    record_from_params,
    sha256_of,
    validate_request,
)

PARAMS = {
    "op": "unit-request",
    "fields": {"path": "/etc/a b", "secret": "hunter2"},
    "hash_fields": [],
    "result": "success",
    "comm": "ansible",
    "hostname": None,
    "addr": None,
    "terminal": None,
    "backend": "auto",
    "on_unavailable": "fail",
    "context": True,
    "verify": False,
}


def test_hash_fields_replace_values_with_their_sha256():
    fields = fields_with_hashes({"a": "x", "b": 1}, ["b"])
    assert fields == {"a": "x", "b": sha256_of(1)}
    assert sha256_of("x") == "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"


def test_hash_fields_must_name_fields():
    with pytest.raises(AuditError, match="not in fields: nope"):
        fields_with_hashes({"a": "x"}, ["nope"])


def test_record_from_params_hashes_and_reads_the_result():
    record = record_from_params(dict(PARAMS, hash_fields=["secret"], result="failed"))
    assert "hunter2" not in record.text
    assert sha256_of("hunter2") in record.text
    assert record.text.endswith(" res=failed")


@pytest.mark.parametrize(
    "change, error",
    [
        ({"op": "has space"}, AuditInvalidInputError),
        ({"fields": {"bad name": 1}}, AuditInvalidInputError),
        ({"fields": "a=b"}, AuditInvalidInputError),
        ({"hash_fields": "secret"}, AuditInvalidInputError),
        ({"hash_fields": ["nope"]}, AuditError),
        ({"comm": "a b"}, AuditInvalidInputError),
        ({"addr": "not-an-ip"}, AuditInvalidInputError),
        ({"terminal": "a b"}, AuditInvalidInputError),
    ],
)
def test_validate_request_refuses_what_the_record_refuses(change, error):
    params = dict(PARAMS, **change)
    with pytest.raises(error) as on_controller:
        validate_request(params)
    with pytest.raises(error) as on_target:
        record_from_params(params)
    assert str(on_controller.value) == str(on_target.value)


def test_validate_request_leaves_the_length_to_the_target():
    # exe= and terminal= are only known on the host: the controller cannot judge the final length.
    validate_request(dict(PARAMS, fields={"big": "x" * 8500}))
    with pytest.raises(AuditRecordTooLongError):
        record_from_params(dict(PARAMS, fields={"big": "x" * 8500}))


@pytest.mark.parametrize("on_unavailable", ["fail", "warn"])
def test_invalid_input_fails_even_with_warn(on_unavailable):
    result = execute(dict(PARAMS, op="bad op", on_unavailable=on_unavailable))
    assert result["failed"] is True
    assert result["cause"] == "AuditInvalidInputError"
    assert result["recorded"] is False
    assert result["record"] is None
    assert "warnings" not in result


def test_error_result_shapes():
    exc = AuditPermissionError("Cannot write audit records: this process (uid 1000) lacks CAP_AUDIT_WRITE")
    failed = error_result(exc, "fail", record="op=x")
    assert failed == dict(exc.as_dict(), failed=True, msg=str(exc), recorded=False, record="op=x")
    warned = error_result(exc, "warn", record="op=x")
    assert warned == {
        "changed": False,
        "recorded": False,
        "unavailable": exc.as_dict(),
        "warnings": [str(exc)],
        "record": "op=x",
    }
    # Only a host that cannot take records is downgraded; a bad request never is.
    assert error_result(AuditInvalidInputError("bad"), "warn")["failed"] is True


CHILD = r"""
import json, sys
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.request import execute
print(json.dumps(execute(json.loads(sys.stdin.read()))))
"""


def run_without_cap_audit_write(code, stdin, *args):
    """Runs code in a child that lacks CAP_AUDIT_WRITE: root drops it, anyone else never had it."""
    prefix = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if not setpriv:
            pytest.skip("needs setpriv (util-linux) to drop CAP_AUDIT_WRITE as root")
        prefix = [setpriv, "--inh-caps=-audit_write", "--bounding-set=-audit_write"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run(
        prefix + [sys.executable, *args], input=stdin, capture_output=True, text=True, env=env, check=False, timeout=60
    )
    return proc


@pytest.mark.parametrize("on_unavailable", ["fail", "warn"])
def test_execute_without_the_capability(on_unavailable):
    proc = run_without_cap_audit_write(CHILD, json.dumps(dict(PARAMS, on_unavailable=on_unavailable)), "-c", CHILD)
    result = json.loads(proc.stdout)
    assert result["recorded"] is False
    assert result["record"].startswith('op=unit-request path=2F6574632F612062 secret="hunter2" comm="ansible" ')
    if on_unavailable == "fail":
        assert result["failed"] is True
        # setpriv drops the capability of root here: a container's root, which no become mends.
        assert result["cause"] == ("AuditCapabilityError" if os.geteuid() == 0 else "AuditPermissionError")
        assert "lacks CAP_AUDIT_WRITE" in result["msg"]
        assert result["hint"] in result["msg"]
    else:
        assert "failed" not in result
        assert result["unavailable"]["cause"] == ("AuditCapabilityError" if os.geteuid() == 0 else "AuditPermissionError")
        assert result["warnings"] == [(AuditCapabilityError(
            "Cannot write audit records: this process runs as root but lacks CAP_AUDIT_WRITE"
        ) if os.geteuid() == 0 else AuditPermissionError(
            "Cannot write audit records: this process (uid %d) lacks CAP_AUDIT_WRITE" % os.geteuid()
        )).args[0]]
