"""_module: the one place where an AuditError becomes fail_json, and the usys_config module's runner, driven with a
stand-in for AnsibleModule against the fake audit subsystem (conftest ``audit``)."""

from __future__ import annotations

import errno

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditDisabledError,
    AuditInvalidInputError,
    AuditPermissionError,
    AuditRuleDropsRecordError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._module import fail_from_audit_error, run_writer

# The usys_config options with their defaults, as AnsibleModule hands them over.
PARAMS = {
    "op": "unit-module",
    "fields": {"object": "/etc/app.conf", "secret": "hunter2"},
    "hash_fields": [],
    "result": "success",
    "comm": "ansible",
    "hostname": "ctl",
    "addr": "192.0.2.1",
    "terminal": "pts/1",
    "backend": "netlink",
    "on_unavailable": "fail",
    "context": True,
    "verify": False,
}


class Exited(Exception):
    """exit_json or fail_json was called (AnsibleModule exits the process there)."""

    def __init__(self, failed, result):
        super().__init__(result)
        self.failed = failed
        self.result = result


class FakeModule:
    """The AnsibleModule members _module uses: params, check_mode, warn, exit_json, fail_json."""

    def __init__(self, check_mode=False, **params):
        self.params = dict(PARAMS, **params)
        self.check_mode = check_mode
        self.warnings = []

    def warn(self, warning):
        self.warnings.append(warning)

    def exit_json(self, **result):
        raise Exited(False, result)

    def fail_json(self, msg, **result):
        assert "failed" not in result, "fail_json sets failed itself"
        raise Exited(True, dict(result, msg=msg))


def run(module):
    with pytest.raises(Exited) as exited:
        run_writer(module)
    return exited.value


# --- fail_from_audit_error ----------------------------------------------------------------------------------------


def test_fail_from_audit_error_puts_the_details_in_keys_and_the_fix_in_msg():
    exc = AuditPermissionError("Cannot write the audit record: permission denied", errno=errno.EPERM)
    with pytest.raises(Exited) as exited:
        fail_from_audit_error(FakeModule(), exc, record="op=x", recorded=False)
    assert exited.value.failed is True
    result = exited.value.result
    assert result["msg"] == str(exc)
    assert result["msg"].startswith("Cannot write the audit record: permission denied (EPERM: ")
    assert "become: true" in result["msg"]
    assert (result["cause"], result["errno"], result["errno_name"]) == ("AuditPermissionError", errno.EPERM, "EPERM")
    assert result["hint"] == exc.hint
    assert (result["record"], result["recorded"]) == ("op=x", False)


def test_fail_from_audit_error_keeps_an_errors_own_details():
    exc = AuditRuleDropsRecordError("A rule drops it", rules=[{"rule": "-a never,user", "list": "user", "certain": True}])
    with pytest.raises(Exited) as exited:
        fail_from_audit_error(FakeModule(), exc)
    assert exited.value.result["rules"] == [{"rule": "-a never,user", "list": "user", "certain": True}]
    assert exited.value.result["errno"] is None


# --- run_writer ---------------------------------------------------------------------------------------------------


def test_a_written_record_exits_unchanged_with_the_record(audit):
    exited = run(FakeModule())
    assert exited.failed is False
    result = exited.result
    assert result["changed"] is False, "a record is an event, not state"
    assert result["recorded"] is True
    assert audit.kernel.records == [(1111, result["record"])]
    assert result["record"].startswith('op=unit-module object="/etc/app.conf" secret="hunter2" comm="ansible" ')
    assert " exe=" in result["record"]
    assert result["record"].endswith(" hostname=ctl addr=192.0.2.1 terminal=pts/1 res=success")
    assert (result["backend"], result["backend_fallback"], result["sequence"]) == ("netlink", None, 1)
    assert result["audit_status"]["enabled"] == 1
    assert "warnings" not in result


def test_hash_fields_keep_the_value_out_of_the_record_and_the_result(audit):
    result = run(FakeModule(hash_fields=["secret"], result="failed")).result
    assert "hunter2" not in repr(result)
    assert "hunter2" not in audit.kernel.records[0][1]
    assert " secret=\"sha256:" in result["record"]
    assert result["record"].endswith(" res=failed")


def test_check_mode_shows_the_record_and_sends_nothing(audit):
    exited = run(FakeModule(check_mode=True))
    assert exited.failed is False
    assert exited.result["recorded"] is False and exited.result["sequence"] is None
    assert exited.result["record"].startswith("op=unit-module ")
    assert audit.kernel.records == []


def test_a_host_that_would_drop_the_record_fails_with_cause_and_fix(audit):
    audit.kernel.status["enabled"] = 0
    exited = run(FakeModule())
    assert exited.failed is True
    result = exited.result
    assert result["cause"] == "AuditDisabledError"
    assert result["msg"] == str(AuditDisabledError("Auditing is disabled in the kernel (enabled=0)"))
    assert result["recorded"] is False
    assert result["record"].startswith("op=unit-module "), "the record that was not written is shown"
    assert audit.kernel.records == []


def test_on_unavailable_warn_turns_the_failure_into_a_module_warning(audit):
    audit.kernel.status["pid"] = 0
    module = FakeModule(on_unavailable="warn")
    exited = run(module)
    assert exited.failed is False
    assert len(module.warnings) == 1 and "No audit daemon is running" in module.warnings[0]
    assert "warnings" not in exited.result, "warnings go through module.warn, not the result"
    assert exited.result["unavailable"]["cause"] == "AuditdNotRunningError"
    assert exited.result["recorded"] is False and exited.result["changed"] is False


@pytest.mark.parametrize("on_unavailable", ["fail", "warn"])
def test_bad_input_fails_whatever_on_unavailable_says(audit, on_unavailable):
    module = FakeModule(op="two words", on_unavailable=on_unavailable)
    exited = run(module)
    assert exited.failed is True
    assert exited.result["cause"] == AuditInvalidInputError.__name__
    assert exited.result["record"] is None
    assert module.warnings == []
    assert audit.kernel.connections == 0, "a bad request never reaches the kernel"
