from __future__ import annotations

import os
import types

import pytest

from ansible.errors import AnsibleError
from ansible.executor.task_executor import TaskExecutor
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import AUDIT_MESSAGE_TEXT_MAX
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import build_message
from ansible_collections.changeaudit.linux.plugins.plugin_utils import _core
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record import _audited
from ansible_collections.changeaudit.linux.plugins.plugin_utils import _every_change as hook


class FakeTask:
    def __init__(self, action="ansible.builtin.copy", args=None, **fields):
        self.action = action
        self.resolved_action = action
        self.args = dict(args if args is not None else {"dest": "/etc/motd", "content": "hi"})
        self._uuid = "uuid-1"
        self._parent = types.SimpleNamespace(_play=types.SimpleNamespace(_uuid="play-1"), _parent=None)
        self.check_mode = False
        self.async_val = 0
        self.poll = 15
        self.no_log = False
        self.delegate_to = None
        self.ignore_errors = True
        self.become_method = "sudo"
        self.changed_when = []
        self.collections = None
        self.__dict__.update(fields)

    def get_name(self):
        return "Deploy motd"

    def get_path(self):
        return "/play.yml:3"


class FakeBecome:
    """A become plugin as TaskExecutor leaves it on the connection: its options resolved."""

    def __init__(self, user="root"):
        self.user = user

    def get_option(self, name):
        return {"become_user": self.user}[name]


def make_te(task, become_user="root"):
    return _core.Execution(types.SimpleNamespace(
        _task=task,
        _handler=types.SimpleNamespace(_templar=None),
        _play_context=types.SimpleNamespace(become=True, become_user=become_user, remote_user="deploy"),
        _connection=types.SimpleNamespace(become=FakeBecome(become_user), default_user="deploy"),
    ))


@pytest.fixture
def settings(tmp_path):
    return hook.Settings(state_dir=str(tmp_path), fields={"ticket": "CHG-7"})


@pytest.fixture
def writes(monkeypatch):
    """Every writer call: (check_mode, params); answers with the next outcome queued (default: written)."""
    class Calls(list):
        outcomes: list = []

    calls = Calls()
    calls.outcomes = []
    outcomes = calls.outcomes

    def fake_writer_action(te, templar, check_mode):
        return types.SimpleNamespace(check_mode=check_mode, cleanup=lambda: None)

    def fake_write(action, task_vars, params, privilege=None):
        calls.append((action.check_mode, params))
        return outcomes.pop(0) if outcomes else {"recorded": True, "record": "op=ansible-change ...", "sequence": 7}

    monkeypatch.setattr(hook, "_writer_action", fake_writer_action)
    monkeypatch.setattr(hook, "write", fake_write)
    monkeypatch.setenv("CHANGEAUDIT_RUN_ID", "unit-run")
    yield calls
    hook._CHECKED.clear()
    _core._NOT_IGNORABLE.clear()


TASK_VARS = {"inventory_hostname": "web1", "ansible_play_name": "Play"}


@pytest.fixture(autouse=True, scope="module")
def loaders(core_loaders):
    """ansible-core's plugin loaders for every test here (conftest.core_loaders): whether an action is core's own
    is decided on the file it resolves to."""
    yield


@pytest.mark.parametrize("version, series", [("2.19.14", "2.19"), ("2.20.10", "2.20"), ("2.21.5", "2.21")])
def test_tested_versions_pass_the_gate(version, series):
    assert hook.check_version(version) == series


@pytest.mark.parametrize("version", ["2.18.9", "2.22.0.dev0", "2.99.0"])
def test_untested_versions_are_refused_naming_the_tested_ones(version):
    with pytest.raises(AnsibleError, match=r"is tested with ansible-core 2\.19, 2\.20 and 2\.21 only") as info:
        hook.check_version(version)
    assert version in str(info.value)


def test_install_wraps_and_uninstall_restores():
    originals = {name: getattr(TaskExecutor, name) for name in ("_execute", "_get_action_handler_with_module_context", "run")}
    hook.install(hook.Settings())
    try:
        assert hook.installed()
        assert TaskExecutor._execute is not originals["_execute"]
        assert TaskExecutor._get_action_handler_with_module_context is not originals["_get_action_handler_with_module_context"]
        hook.install(hook.Settings(mode="warn"))  # a second load only takes the new settings
        assert hook._SETTINGS.mode == "warn"
    finally:
        hook.uninstall()
    assert {name: getattr(TaskExecutor, name) for name in originals} == originals


def test_mode_is_fail_or_warn():
    with pytest.raises(AnsibleError, match="fail or warn"):
        hook.Settings(mode="ignore")


@pytest.mark.parametrize(
    "resolved, written, skipped",
    [
        ("changeaudit.linux.audited", "audited", True),
        ("ansible.builtin.copy", "copy", False),
        ("cisco.ios.ios_config", "ios_config", True),
        ("ansible.builtin.raw", "raw", True),
        # Core's controller-side actions are left out on the plugin they resolve to, not on their names.
        ("ansible.builtin.set_fact", "set_fact", False),
        # A name as written that looks like one of the collection's own is not.
        ("acme.tools.audited", "audited", False),
    ],
)
def test_skip_list_is_the_default_one_plus_the_users(resolved, written, skipped):
    settings = hook.Settings(skip=["cisco.ios.*", "raw"])
    assert settings.skips(resolved, written) is skipped


@pytest.mark.parametrize("action, resolved, recorded", [
    ("ansible.builtin.set_fact", "ansible.builtin.set_fact", False),
    ("debug", "ansible.builtin.debug", False),
    ("ansible.legacy.ping", "ansible.legacy.ping", False),
    # A ping of another collection, or one the task's collections resolve to, may change a host.
    ("acme.tools.ping", "acme.tools.ping", True),
    ("ping", "acme.tools.ping", True),
])
def test_only_core_controller_actions_resolved_to_cores_own_files_are_left_out(action, resolved, recorded):
    task = FakeTask(action=action)
    task.resolved_action = resolved
    assert hook.recordable(task, hook.Settings()) is recorded


@pytest.mark.parametrize(
    "fields, recordable",
    [({}, True), ({"check_mode": True}, False), ({"async_val": 30, "poll": 0}, False), ({"async_val": 30, "poll": 5}, True)],
)
def test_recordable(fields, recordable):
    assert hook.recordable(FakeTask(**fields), hook.Settings()) is recordable


def test_a_changed_result_is_recorded_with_the_change_fields(settings, writes):
    task = FakeTask(args={"dest": "/etc/motd", "content": "hi", "_ansible_check_mode": False})
    result = {"changed": True, "diff": {"after": "hi"}}
    hook.after_task(make_te(task), _core.DictResult(make_te(task), result), dict(TASK_VARS), settings)
    (check_mode, params), = writes
    assert check_mode is False
    fields = params["fields"]
    assert fields["module"] == "ansible.builtin.copy" and fields["object"] == "/etc/motd"
    assert fields["ticket"] == "CHG-7" and fields["run_id"] == "unit-run" and fields["cmd"] == "Deploy motd"
    assert fields["inventory_host"] == "web1" and "delegated_to" not in fields and "arg_names" not in fields
    assert result[hook.RESULT_KEY] == {
        "recorded": True, "host": "web1", "run_id": "unit-run", "record": "op=ansible-change ...", "sequence": 7,
        "verified": None, "path": "writer",
    }
    assert hook.record_counts(settings) == {"web1": {"written": 1, "failed": 0, "skipped": {}, "unknown": [], "run_ids": ["unit-run"]}}


@pytest.mark.parametrize(
    "result",
    [{"changed": False}, {"changed": True, "skipped": True}, {"changed": False, "failed": True}],
)
def test_nothing_is_written_for_results_that_did_not_change(settings, writes, result):
    task = FakeTask()
    hook.after_task(make_te(task), _core.DictResult(make_te(task), result), dict(TASK_VARS), settings)
    assert writes == [] and hook.RESULT_KEY not in result


def test_check_mode_writes_nothing(settings, writes):
    task = FakeTask(check_mode=True)
    hook.after_task(make_te(task), _core.DictResult(make_te(task), {"changed": True}), dict(TASK_VARS), settings)
    assert writes == []


def test_a_delegated_change_names_the_inventory_host(settings, writes):
    task = FakeTask(delegate_to="backup1")
    result = {"changed": True}
    hook.after_task(make_te(task), _core.DictResult(make_te(task), result), dict(TASK_VARS), settings)
    assert writes[0][1]["fields"]["inventory_host"] == "web1"
    assert writes[0][1]["fields"]["delegated_to"] == "backup1"
    assert result[hook.RESULT_KEY]["host"] == "backup1"


def test_no_log_keeps_values_out_of_the_record(settings, writes):
    task = FakeTask(no_log=True, args={"dest": "/etc/token", "content": "s3cret"})
    hook.after_task(make_te(task), _core.DictResult(make_te(task), {"changed": True, "diff": "s3cret"}), dict(TASK_VARS), settings)
    params = writes[0][1]
    assert "s3cret" not in repr(params)
    assert "object" not in params["fields"] and params["fields"]["withheld"] == "object,diff"


def test_a_failed_write_fails_the_task_and_cannot_be_ignored(settings, writes):
    writes.outcomes.append({"failed": True, "msg": "Auditing is disabled. Run auditctl -e 1.", "cause": "AuditDisabledError"})
    task = FakeTask()
    te = make_te(task)
    result = {"changed": True, "msg": "copied"}
    hook.after_task(te, _core.DictResult(te, result), dict(TASK_VARS), settings)
    assert result["failed"] is True
    assert "could not be recorded" in result["msg"] and "auditctl -e 1" in result["msg"] and "copied" in result["msg"]
    assert task.ignore_errors is False
    assert result[hook.RESULT_KEY]["recorded"] is False and result[hook.RESULT_KEY]["cause"] == "AuditDisabledError"
    assert hook.record_counts(settings)["web1"]["failed"] == 1


def test_warn_mode_only_warns(tmp_path, writes, monkeypatch):
    warnings = []
    monkeypatch.setattr(hook.display, "warning", warnings.append)
    writes.outcomes.append({"failed": True, "msg": "no auditd"})
    settings = hook.Settings(mode="warn", state_dir=str(tmp_path))
    task = FakeTask()
    result = {"changed": True}
    hook.after_task(make_te(task), _core.DictResult(make_te(task), result), dict(TASK_VARS), settings)
    assert "failed" not in result and task.ignore_errors is True
    assert len(warnings) == 1 and "no auditd" in warnings[0]
    assert writes[0][1]["on_unavailable"] == "warn"


def test_before_task_once_per_play_host_and_user_fails_before_the_task(settings, writes):
    task = FakeTask()
    te = make_te(task)
    hook.before_task(te, te.handler, dict(TASK_VARS), settings)
    hook.before_task(te, te.handler, dict(TASK_VARS), settings)
    assert [check_mode for check_mode, _params in writes] == [True]
    # A later worker (a fresh process) finds the check in the run's state directory.
    hook._CHECKED.clear()
    hook.before_task(te, te.handler, dict(TASK_VARS), settings)
    assert len(writes) == 1
    # Other record privileges (a task as nobody: the record escalates with sudo) are checked again, and refused.
    writes.outcomes.append({"failed": True, "msg": "becoming root with sudo failed: Missing sudo password"})
    te = make_te(task, become_user="nobody")
    with pytest.raises(hook.RecordKeepingError, match="web1 cannot keep audit records.*Missing sudo password"):
        hook.before_task(te, te.handler, dict(TASK_VARS), settings)


def test_before_task_skips_what_is_not_recorded(settings, writes):
    for task in (FakeTask(action="ansible.builtin.set_fact"), FakeTask(check_mode=True)):
        te = make_te(task)
        hook.before_task(te, te.handler, dict(TASK_VARS), settings)
    assert writes == []


def test_records_of_the_collections_own_modules_are_counted(settings, writes):
    task = FakeTask(action="changeaudit.linux.audited")
    te = make_te(task)
    hook.after_task(te, _core.DictResult(te, {"changed": True, "audit": {"recorded": True}}), dict(TASK_VARS), settings)
    assert writes == []
    assert hook.record_counts(settings)["web1"]["written"] == 1


def test_a_failed_write_on_a_2_21_result_object_cannot_be_ignored_even_after_failed_when(settings, writes):
    _task = pytest.importorskip("ansible._internal._task")
    if not hasattr(_task, "UnifiedTaskResult"):
        pytest.skip("ansible-core before 2.21 returns dicts")
    utr = _task.UnifiedTaskResult.from_action_result_dict({"changed": True, "msg": "copied"})
    utr.failed_when_result = False
    utr.ignore_errors = True
    writes.outcomes.append({"failed": True, "msg": "auditd is not running", "cause": "AuditdNotRunningError"})
    task = FakeTask()
    te = make_te(task)
    hook.after_task(te, _core.ObjectResult(te, utr), dict(TASK_VARS), settings)
    assert utr.failed is True and utr.ignore_errors is False
    assert "auditd is not running" in utr.msg and "copied" in utr.msg
    assert utr.result_data[hook.RESULT_KEY]["recorded"] is False
    assert task._uuid in _core._NOT_IGNORABLE


# --- every record fits ----------------------------------------------------------------------------------------------


def test_the_longest_record_without_fields_fits_with_room_for_the_trailer_and_the_kernels_prefix():
    params = hook.worst_case_params({})
    hook.check_before_change(params)
    text = build_message(params["op"], params["fields"])
    room = AUDIT_MESSAGE_TEXT_MAX - len(text) - _audited.TRAILER_ROOM - _audited.KERNEL_PREFIX_ROOM
    # The controller's signature (ctl_sig and ctl_mac, 165 bytes) takes its share of what was 750.
    assert room > 600, "room left for the play's own fields at the worst: %d bytes" % room


@pytest.mark.parametrize("fields", [{"ticket": "CHG-1"}, {"note": "x" * 550}, {"note": "é" * 120}])
def test_fields_that_fit_beside_the_longest_record_are_taken(fields):
    assert hook.Settings(fields=fields).fields == fields


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"res": "success"}, "'res' is reserved"),
        ({"ticket_uid": "0"}, "ticket_uid"),
        ({"run_id": "mine"}, "names fields every change record has itself: run_id"),
        ({"withheld": "x"}, "names fields every change record has itself: withheld"),
        ({"note": float("nan")}, "note"),
        ({"note": "é" * 2000}, "too long to fit in every record"),
    ],
)
def test_fields_no_record_could_hold_are_refused_when_the_settings_are_made(fields, message):
    with pytest.raises(AnsibleError, match=message):
        hook.Settings(fields=fields)


def test_a_task_whose_record_cannot_be_built_fails_before_it_runs(settings, writes, monkeypatch):
    task = FakeTask(args={"dest": "/etc/motd", "content": "x"})
    monkeypatch.setattr(hook, "task_context", lambda *_args: {"cmd": "x", "bad name": 1})
    te = make_te(task)
    with pytest.raises(hook.RecordKeepingError, match="could not be recorded, so it was not run"):
        hook.check_record(te, te.handler, dict(TASK_VARS), settings)


def test_the_record_holds_the_contents_checksum_as_audited_writes_it(settings, writes):
    task = FakeTask()
    result = {"changed": True, "checksum": "a7a667f16c07d27e921e55f4e2a779e8e6e96ec9"}
    hook.after_task(make_te(task), _core.DictResult(make_te(task), result), dict(TASK_VARS), settings)
    assert writes[0][1]["fields"]["checksum"] == "sha1:a7a667f16c07d27e921e55f4e2a779e8e6e96ec9"


# --- the run's ledger ---------------------------------------------------------------------------------------------


@pytest.fixture
def ledger_settings(tmp_path):
    return hook.Settings(state_dir=str(tmp_path), ledger_dir=str(tmp_path / "ledger"), skip=["my.ns.deploy"])


def run_task(te, settings, result, task_vars=None):
    hook.before_task(te, te.handler, dict(task_vars or TASK_VARS), settings)
    hook.after_task(te, _core.DictResult(te, result), dict(task_vars or TASK_VARS), settings)


def attempts(te, *said):
    """The attempts TaskExecutor made for ``te``, each as its action's result said (None: the action never returned)."""
    made = te.attempts
    del made[:]
    for result in said:
        attempt = _core.Attempt()
        attempt.started = True
        if result is not None:
            attempt.ended = True
            attempt.verdict = "changed" in result
            attempt.changed = bool(result.get("changed"))
            attempt.failed = bool(result.get("failed"))
            attempt.module_changed = bool(result.get("module_changed"))
        made.append(attempt)


@pytest.mark.parametrize("said, final, res, outcome", [
    # until: an attempt before the last changed the host, the last found nothing more to do.
    ([{"changed": True, "failed": True}, {"changed": False}], {"changed": False}, "success", "recorded"),
    # copy of a directory: two files copied, the third failed validation and its result is all core hands back.
    ([{"failed": True, "module_changed": True}], {"changed": False, "failed": True}, "failed", "recorded"),
    # A module that died without JSON, a timeout, a failure that says nothing of a change: the outcome is unknown.
    ([{"failed": True, "module_stdout": ""}], {"changed": False, "failed": True, "module_stdout": "", "msg": "MODULE FAILURE"},
     "failed", "unknown"),
    ([None], {"changed": False, "failed": True, "timedout": {"period": 2}}, "failed", "unknown"),
    ([None], {"changed": False, "unreachable": True, "msg": "ssh: connection reset"}, "failed", "unknown"),
])
def test_a_change_core_reports_unchanged_is_recorded_all_the_same(ledger_settings, writes, said, final, res, outcome):
    te = make_te(FakeTask())
    hook.before_task(te, te.handler, dict(TASK_VARS), ledger_settings)
    attempts(te, *said)
    hook.after_task(te, _core.DictResult(te, final), dict(TASK_VARS), ledger_settings)
    [record] = [params for check_mode, params in writes if not check_mode]
    assert record["result"] == res
    [line] = [entry for entry in hook.read_ledger(ledger_settings.ledger_dir, "unit-run") if entry["kind"] == "outcome"]
    assert line["outcome"] == outcome and line["recorded"] is True
    assert (outcome == "unknown") == bool(line.get("reason"))


@pytest.mark.parametrize("said, final", [
    # The module said it failed and changed nothing.
    ([{"changed": False, "failed": True}], {"changed": False, "failed": True}),
    # changed_when is the author's verdict, whatever the attempts said.
    ([{"changed": True}], {"changed": False, "_changed_when": True}),
])
def test_a_verdict_the_module_or_the_author_gave_stands(ledger_settings, writes, said, final):
    task = FakeTask(changed_when=["false"] if final.pop("_changed_when", False) else [])
    te = make_te(task)
    hook.before_task(te, te.handler, dict(TASK_VARS), ledger_settings)
    attempts(te, *said)
    hook.after_task(te, _core.DictResult(te, final), dict(TASK_VARS), ledger_settings)
    assert [params for check_mode, params in writes if not check_mode] == []
    assert [entry["outcome"] for entry in hook.read_ledger(ledger_settings.ledger_dir, "unit-run")
            if entry["kind"] == "outcome"] == ["unchanged"]


def test_an_unknown_outcome_without_its_record_is_named_in_the_summary(ledger_settings, writes):
    te = make_te(FakeTask())
    hook.before_task(te, te.handler, dict(TASK_VARS), ledger_settings)
    writes.outcomes.append({"failed": True, "msg": "ssh: no route to host"})
    attempts(te, None)
    result = {"changed": False, "unreachable": True, "msg": "ssh: connection reset"}
    hook.after_task(te, _core.DictResult(te, result), dict(TASK_VARS), ledger_settings)
    [line] = [entry for entry in hook.read_ledger(ledger_settings.ledger_dir, "unit-run") if entry["kind"] == "outcome"]
    assert line["outcome"] == "unknown" and "no route to host" in line["reason"] and "recorded" not in line
    [unknown] = hook.record_counts(ledger_settings)["web1"]["unknown"]
    assert unknown.startswith("#1 Deploy motd: the host became unreachable")


def ledger_of(settings):
    return [
        {key: entry[key] for key in ("kind", "host", "seq", "outcome", "policy", "object", "module") if key in entry}
        for entry in hook.read_ledger(settings.ledger_dir, "unit-run")
    ]


def test_each_change_has_an_intent_and_an_outcome_and_its_record_the_same_seq(ledger_settings, writes):
    te = make_te(FakeTask())
    run_task(te, ledger_settings, {"changed": True})
    run_task(te, ledger_settings, {"changed": False})
    run_task(te, ledger_settings, {"changed": True})
    records = [params["fields"] for check_mode, params in writes if not check_mode]
    assert [fields["seq"] for fields in records] == ["1", "3"]
    # Next to the task id, where a reader of the record looks for what tells two changes of one task apart.
    assert list(records[0])[list(records[0]).index("task_id") + 1] == "seq"
    assert ledger_of(ledger_settings) == [
        {"kind": "intent", "host": "web1", "seq": 1, "object": "/etc/motd", "module": "ansible.builtin.copy"},
        {"kind": "outcome", "host": "web1", "seq": 1, "outcome": "recorded"},
        {"kind": "intent", "host": "web1", "seq": 2, "object": "/etc/motd", "module": "ansible.builtin.copy"},
        {"kind": "outcome", "host": "web1", "seq": 2, "outcome": "unchanged"},
        {"kind": "intent", "host": "web1", "seq": 3, "object": "/etc/motd", "module": "ansible.builtin.copy"},
        {"kind": "outcome", "host": "web1", "seq": 3, "outcome": "recorded"},
    ]


def test_a_change_that_could_not_be_recorded_says_why_in_the_ledger(ledger_settings, writes):
    te = make_te(FakeTask())
    writes.outcomes.extend([{"recorded": True}, {"failed": True, "msg": "auditd is not running", "cause": "AuditdNotRunningError"}])
    result = {"changed": True}
    run_task(te, ledger_settings, result)
    assert result["failed"] is True
    entries = hook.read_ledger(ledger_settings.ledger_dir, "unit-run")
    assert entries[-1]["outcome"] == "not_recorded" and entries[-1]["reason"] == "auditd is not running"
    assert entries[-1]["cause"] == "AuditdNotRunningError"


def test_a_change_skipped_by_policy_is_in_the_ledger_but_not_recorded(ledger_settings, writes):
    te = make_te(FakeTask(action="my.ns.deploy"))
    run_task(te, ledger_settings, {"changed": True})
    assert writes == []
    assert ledger_of(ledger_settings) == [
        {"kind": "intent", "host": "web1", "seq": 1, "policy": "skip list", "module": "my.ns.deploy"},
        {"kind": "outcome", "host": "web1", "seq": 1, "outcome": "skipped_by_policy"},
    ]


def test_controller_only_actions_and_the_collections_own_modules_are_not_in_the_ledger(ledger_settings, writes):
    for action in ("ansible.builtin.debug", "changeaudit.linux.audited"):
        run_task(make_te(FakeTask(action=action)), ledger_settings, {"changed": True})
    assert not os.path.exists(os.path.join(ledger_settings.ledger_dir, "unit-run", "ledger.jsonl"))


def test_a_ledger_that_cannot_be_written_stops_the_change(tmp_path, writes):
    (tmp_path / "ledger").write_text("not a directory")
    settings = hook.Settings(state_dir=str(tmp_path), ledger_dir=str(tmp_path / "ledger"))
    te = make_te(FakeTask())
    with pytest.raises(hook.RecordKeepingError, match="ledger cannot be written, so this task was not run"):
        hook.before_task(te, te.handler, dict(TASK_VARS), settings)


# --- hosts that cannot keep Linux audit records -------------------------------------------------------------------


def test_hosts_known_from_their_connection_alone_to_hold_no_linux_record():
    from ansible.plugins.connection.psrp import Connection as Psrp
    from ansible.plugins.connection.winrm import Connection as WinRM
    from ansible.plugins.shell.powershell import ShellModule as PowerShell

    for connection_class in (WinRM, Psrp):
        connection = types.SimpleNamespace(_load_name=connection_class.transport, _shell=PowerShell())
        assert "not a Linux host" in hook.cannot_hold_reason(connection)
    # network_cli, httpapi and netconf run their modules on the controller.
    network = types.SimpleNamespace(_load_name="ansible.netcommon.network_cli", _remote_is_local=True)
    assert "network device" in hook.cannot_hold_reason(network)
    assert hook.cannot_hold_reason(types.SimpleNamespace(_load_name="ssh")) is None


def test_the_host_policy_is_checked_and_a_bad_one_stops_the_change(settings, writes):
    te = make_te(FakeTask())
    with pytest.raises(hook.RecordKeepingError, match="changeaudit_host_policy must be one of fail, skip, controller, not 'ignore'"):
        hook.before_task(te, te.handler, dict(TASK_VARS, changeaudit_host_policy="ignore"), settings)
    assert writes == []


@pytest.mark.parametrize("cause", ["PythonNotFound", "AuditNamespaceError", "AuditCapabilityError", "AuditNotInKernelError"])
def test_a_host_that_cannot_hold_records_fails_by_default_naming_the_policies(settings, writes, cause):
    writes.outcomes.append({"failed": True, "msg": "the writer says why", "cause": cause})
    te = make_te(FakeTask())
    with pytest.raises(hook.RecordKeepingError, match="web1 cannot keep Linux audit records.*the writer says why.*skip.*controller"):
        hook.before_task(te, te.handler, dict(TASK_VARS), settings)


def test_a_host_that_could_keep_records_but_does_not_is_never_skipped_by_policy(settings, writes):
    writes.outcomes.append({"failed": True, "msg": "auditd is not running", "cause": "AuditdNotRunningError"})
    te = make_te(FakeTask())
    with pytest.raises(hook.RecordKeepingError, match="web1 cannot keep audit records.*auditd is not running"):
        hook.before_task(te, te.handler, dict(TASK_VARS, changeaudit_host_policy="skip"), settings)


def test_policy_skip_runs_the_change_unrecorded_and_the_summary_says_why(ledger_settings, writes):
    writes.outcomes.append({"failed": True, "msg": "no python", "cause": "PythonNotFound"})
    te = make_te(FakeTask())
    run_task(te, ledger_settings, {"changed": True}, dict(TASK_VARS, changeaudit_host_policy="skip"))
    assert [check_mode for check_mode, _params in writes] == [True]
    counts = hook.record_counts(ledger_settings)["web1"]
    assert counts["written"] == 0 and list(counts["skipped"].values()) == [1]
    assert "host policy skip: no Python" in list(counts["skipped"])[0]
    assert ledger_of(ledger_settings)[-1]["outcome"] == "skipped_by_policy"


def test_policy_controller_writes_the_record_on_the_controller_naming_the_host(ledger_settings, writes, monkeypatch):
    written = []
    monkeypatch.setattr(hook, "write_on_controller", lambda params, target, check_mode=False, key=None: written.append((params, target))
                        or {"recorded": True, "record": "op=..."})
    writes.outcomes.append({"failed": True, "msg": "no python", "cause": "PythonNotFound"})
    te = make_te(FakeTask())
    run_task(te, ledger_settings, {"changed": True}, dict(TASK_VARS, changeaudit_host_policy="controller"))
    assert [target for _params, target in written] == ["web1"]
    assert hook.record_counts(ledger_settings)["web1"]["written"] == 1


def test_policy_controller_fails_when_the_controller_cannot_keep_records_either(settings, writes):
    settings.controller_problem = "this process (uid 1000) lacks CAP_AUDIT_WRITE (an AWX/AAP execution environment ...)"
    writes.outcomes.append({"failed": True, "msg": "no python", "cause": "PythonNotFound"})
    te = make_te(FakeTask())
    with pytest.raises(hook.RecordKeepingError, match="The controller cannot keep them either.*AWX"):
        hook.before_task(te, te.handler, dict(TASK_VARS, changeaudit_host_policy="controller"), settings)


# --- the record written in the module's own process (issue 32) ----------------------------------------------------


def in_module_te(task=None, action="normal", acting_user="root", how="task", **notes):
    from ansible.plugins.loader import action_loader
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._change_site import CONNECTION, ChangeSite
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._privilege import Acting, Privilege

    task = task or FakeTask(action="ansible.builtin.lineinfile", args={"path": "/etc/x", "line": "y"})
    for name, value in (("until", []), ("failed_when", []), ("diff", False)):
        task.__dict__.setdefault(name, value)
    plugin = action_loader.get(action, class_only=True)
    handler = plugin.__new__(plugin)
    handler._templar = None
    te = make_te(task, acting_user)
    te._executor._handler = handler
    te.notes.update({
        hook.SITE_NOTE: ChangeSite(CONNECTION, "web1", Acting(acting_user, "deploy", True)),
        hook.PRIVILEGE_NOTE: Privilege(how, "deploy", method=None if how == "task" else "sudo"),
        hook.VERDICT_NOTE: (hook.RECORDS, ""),
    })
    te.notes.update(notes)
    return te, handler


def test_a_root_task_of_the_normal_action_writes_its_record_in_the_module():
    te, handler = in_module_te()
    assert hook.in_module_refusal(te, handler, hook.Settings()) is None


def test_copy_of_a_text_content_writes_its_record_in_the_module_with_the_contents_checksum(writes):
    te, handler = in_module_te(FakeTask(args={"dest": "/etc/motd", "content": "hi\n"}), action="copy")
    request, checksum, modules = hook.in_module_request(te, handler, dict(TASK_VARS), hook.Settings(fields={"ticket": "CHG-7"}))
    assert checksum == "sha1:" + __import__("hashlib").sha1(b"hi\n").hexdigest() and modules == ("ansible.legacy.copy",)
    assert request["fields"]["checksum"] == checksum and request["result"] == "success" and request["check_mode"] is False
    assert request["fields"]["ticket"] == "CHG-7" and request["hostname"]


@pytest.mark.parametrize("task_fields, action, acting_user, how, why", [
    ({"changed_when": ["false"]}, "normal", "root", "task", "verdict"),
    ({"failed_when": ["x"]}, "normal", "root", "task", "verdict"),
    ({"until": ["x"]}, "normal", "root", "task", "verdict"),
    ({"check_mode": True}, "normal", "root", "task", "not recorded"),
    ({"async_val": 30, "poll": 5}, "normal", "root", "task", "verdict"),
    ({"no_log": True}, "normal", "root", "task", "no_log"),
    ({}, "normal", "postgres", "become", "does not run as root"),
    ({}, "normal", "root", "helper", "does not run as root"),
    ({}, "template", "root", "task", "not core's normal"),
    ({"args": {"dest": "/etc/motd", "src": "motd"}}, "copy", "root", "task", "copy without text content"),
    ({"args": {"dest": "/etc/motd", "content": "hi"}, "diff": True}, "copy", "root", "task", "with a diff"),
])
def test_every_other_task_keeps_the_writer(task_fields, action, acting_user, how, why):
    task = FakeTask(action="ansible.builtin.lineinfile", args=task_fields.pop("args", {"path": "/etc/x"}), **task_fields)
    te, handler = in_module_te(task, action, acting_user, how)
    assert why in hook.in_module_refusal(te, handler, hook.Settings())


def test_a_record_written_before_the_change_or_a_host_that_skips_keeps_the_writer():
    te, handler = in_module_te(**{hook.WRITTEN_BEFORE_NOTE: {"recorded": True}})
    assert hook.in_module_refusal(te, handler, hook.Settings()) is not None
    te, handler = in_module_te(**{hook.VERDICT_NOTE: (hook.SKIP, "a container")})
    assert hook.in_module_refusal(te, handler, hook.Settings()) is not None


def test_one_module_of_an_attempt_at_most_gets_the_prelude(writes, monkeypatch):
    monkeypatch.setattr(hook, "same_python", lambda *args: False)
    te, handler = in_module_te(FakeTask(args={"dest": "/etc/motd", "content": "hi\n"}), action="copy")
    te.attempts.append(_core.Attempt())
    settings = hook.Settings()
    assert hook.in_module_prelude(te, handler, "ansible.legacy.stat", "/usr/bin/python3", dict(TASK_VARS), settings) is None
    assert "_changeaudit_in_module()" in hook.in_module_prelude(
        te, handler, "ansible.legacy.copy", "/usr/bin/python3", dict(TASK_VARS), settings)
    te.attempts[-1].module_reports.append({"path": "in_module", "recorded": True})
    assert hook.in_module_prelude(te, handler, "ansible.legacy.copy", "/usr/bin/python3", dict(TASK_VARS), settings) is None


def in_module_attempt(te, report):
    del te.attempts[:]
    attempt = _core.Attempt()
    attempt.started = attempt.ended = attempt.verdict = attempt.changed = True
    attempt.module_reports.append(report)
    te.attempts.append(attempt)


def test_a_record_the_module_wrote_is_not_written_again_and_the_ledger_says_in_module(ledger_settings, writes):
    te = make_te(FakeTask())
    hook.before_task(te, te.handler, dict(TASK_VARS), ledger_settings)
    checks = len(writes)
    in_module_attempt(te, {"path": "in_module", "recorded": True, "record": "op=ansible-change x", "sequence": 2, "verified": None})
    result = {"changed": True}
    hook.after_task(te, _core.DictResult(te, result), dict(TASK_VARS), ledger_settings)
    assert len(writes) == checks
    assert result[hook.RESULT_KEY]["path"] == "in_module" and result[hook.RESULT_KEY]["recorded"] is True
    [line] = [entry for entry in hook.read_ledger(ledger_settings.ledger_dir, "unit-run") if entry["kind"] == "outcome"]
    assert line["outcome"] == "recorded" and line["path"] == "in_module" and line["res"] == "success"


def test_a_record_the_module_could_not_write_fails_the_task_closed_and_no_writer_runs(ledger_settings, writes):
    te = make_te(FakeTask())
    hook.before_task(te, te.handler, dict(TASK_VARS), ledger_settings)
    checks = len(writes)
    in_module_attempt(te, {"path": "in_module", "failed": True, "recorded": False, "msg": "auditing is disabled",
                           "cause": "AuditDisabledError"})
    result = {"changed": True, "failed": True, "msg": "The change was made but could not be recorded ..."}
    hook.after_task(te, _core.DictResult(te, result), dict(TASK_VARS), ledger_settings)
    assert len(writes) == checks and result["failed"] is True and te.task.ignore_errors is False
    assert "could not be recorded in its audit trail: auditing is disabled" in result["msg"] and "Task message" not in result["msg"]
    [line] = [entry for entry in hook.read_ledger(ledger_settings.ledger_dir, "unit-run") if entry["kind"] == "outcome"]
    assert line["outcome"] == "not_recorded" and line["path"] == "in_module" and line["cause"] == "AuditDisabledError"


def test_a_module_that_left_the_record_to_the_writer_gets_it_from_the_writer(ledger_settings, writes):
    te = make_te(FakeTask())
    hook.before_task(te, te.handler, dict(TASK_VARS), ledger_settings)
    checks = len(writes)
    in_module_attempt(te, {"path": "writer", "why": "the module returned a diff"})
    hook.after_task(te, _core.DictResult(te, {"changed": True}), dict(TASK_VARS), ledger_settings)
    assert len(writes) == checks + 1
    [line] = [entry for entry in hook.read_ledger(ledger_settings.ledger_dir, "unit-run") if entry["kind"] == "outcome"]
    assert line["outcome"] == "recorded" and line["path"] == "writer"


def test_each_loop_item_builds_its_own_in_module_record(ledger_settings, writes):
    te = make_te(FakeTask())
    te.notes[hook.IN_MODULE_NOTE] = ({"op": "the first item's"}, None, None)
    hook.before_task(te, te.handler, dict(TASK_VARS), ledger_settings)
    assert hook.IN_MODULE_NOTE not in te.notes
