from __future__ import annotations

import types

import pytest

from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._hook.hook_helpers import FakeTask, make_te, TASK_VARS, run_task, ledger_of
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _before, _host_check, _notes, _settings, _writing


def test_hosts_known_from_their_connection_alone_to_hold_no_linux_record():
    from ansible.plugins.connection.psrp import Connection as Psrp
    from ansible.plugins.connection.winrm import Connection as WinRM
    from ansible.plugins.shell.powershell import ShellModule as PowerShell

    for connection_class in (WinRM, Psrp):
        connection = types.SimpleNamespace(_load_name=connection_class.transport, _shell=PowerShell())
        assert "not a Linux host" in _host_check.cannot_hold_reason(connection)
    # network_cli, httpapi and netconf run their modules on the controller.
    network = types.SimpleNamespace(_load_name="ansible.netcommon.network_cli", _remote_is_local=True)
    assert "network device" in _host_check.cannot_hold_reason(network)
    assert _host_check.cannot_hold_reason(types.SimpleNamespace(_load_name="ssh")) is None


def test_the_host_policy_is_checked_and_a_bad_one_stops_the_change(settings, writes):
    te = make_te(FakeTask())
    with pytest.raises(_settings.RecordKeepingError, match="changeaudit_host_policy must be one of fail, skip, controller, not 'ignore'"):
        _before.before_task(te, te.handler, dict(TASK_VARS, changeaudit_host_policy="ignore"), settings)
    assert writes == []


@pytest.mark.parametrize("cause", ["PythonNotFound", "AuditNamespaceError", "AuditCapabilityError", "AuditNotInKernelError"])
def test_a_host_that_cannot_hold_records_fails_by_default_naming_the_policies(settings, writes, cause):
    writes.outcomes.append({"failed": True, "msg": "the writer says why", "cause": cause})
    te = make_te(FakeTask())
    with pytest.raises(_settings.RecordKeepingError, match="web1 cannot keep Linux audit records.*the writer says why.*skip.*controller"):
        _before.before_task(te, te.handler, dict(TASK_VARS), settings)


def test_a_host_that_could_keep_records_but_does_not_is_never_skipped_by_policy(settings, writes):
    writes.outcomes.append({"failed": True, "msg": "auditd is not running", "cause": "AuditdNotRunningError"})
    te = make_te(FakeTask())
    with pytest.raises(_settings.RecordKeepingError, match="web1 cannot keep audit records.*auditd is not running"):
        _before.before_task(te, te.handler, dict(TASK_VARS, changeaudit_host_policy="skip"), settings)


def test_policy_skip_runs_the_change_unrecorded_and_the_summary_says_why(ledger_settings, writes):
    writes.outcomes.append({"failed": True, "msg": "no python", "cause": "PythonNotFound"})
    te = make_te(FakeTask())
    run_task(te, ledger_settings, {"changed": True}, dict(TASK_VARS, changeaudit_host_policy="skip"))
    assert [check_mode for check_mode, _params in writes] == [True]
    counts = _notes.record_counts(ledger_settings)["web1"]
    assert counts["written"] == 0 and list(counts["skipped"].values()) == [1]
    assert "host policy skip: no Python" in list(counts["skipped"])[0]
    assert ledger_of(ledger_settings)[-1]["outcome"] == "skipped_by_policy"


def test_policy_controller_writes_the_record_on_the_controller_naming_the_host(ledger_settings, writes, monkeypatch):
    written = []
    monkeypatch.setattr(_writing, "write_on_controller", lambda params, target, check_mode=False, key=None: written.append((params, target))
                        or {"recorded": True, "record": "op=..."})
    writes.outcomes.append({"failed": True, "msg": "no python", "cause": "PythonNotFound"})
    te = make_te(FakeTask())
    run_task(te, ledger_settings, {"changed": True}, dict(TASK_VARS, changeaudit_host_policy="controller"))
    assert [target for _params, target in written] == ["web1"]
    assert _notes.record_counts(ledger_settings)["web1"]["written"] == 1


def test_policy_controller_fails_when_the_controller_cannot_keep_records_either(settings, writes):
    settings.controller_problem = "this process (uid 1000) lacks CAP_AUDIT_WRITE (an AWX/AAP execution environment ...)"
    writes.outcomes.append({"failed": True, "msg": "no python", "cause": "PythonNotFound"})
    te = make_te(FakeTask())
    with pytest.raises(_settings.RecordKeepingError, match="The controller cannot keep them either.*AWX"):
        _before.before_task(te, te.handler, dict(TASK_VARS, changeaudit_host_policy="controller"), settings)


# --- the record written in the module's own process (issue 32) ----------------------------------------------------
