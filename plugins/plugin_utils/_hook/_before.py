# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Before each task that may change a host: the record of its change can be built, the host can keep records (or
its policy says what to do instead), and the run's ledger has the change's intent; a record that can only be
written before the change (shutdown) is written now. The task fails before its action runs when any is not so."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _execution, _refusal, _tasks
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _host_check, _writing
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._ledger_lines import ledger_intent
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._policies import forwarding_declared, host_policy, skips_records
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._run import TaskRun, action_names, recordable, skip_reason
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._settings import OWN_PREFIX, PLUGIN, RecordKeepingError, Settings
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record import _change_site
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._audited import LONGEST_RESULT, check_before_change, with_signature_room
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._change_site import SYNCHRONIZE, change_site
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._hashing import hasher_for
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._privilege import RecordPrivilegeError, acting_identity, record_privilege
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer._writer import with_origin

display = Display()


def check_record(run: TaskRun, handler: ActionBase, task_vars: t.Dict[str, t.Any]) -> t.Optional[t.Dict[str, t.Any]]:
    """The record of this task's change, built with the longest result a module returns, is one the writer takes
    and that fits. Returns its fields; raises RecordKeepingError (mode fail) when it is not, and only warns (None)
    in mode warn."""
    settings = run.settings
    try:
        hasher = hasher_for(handler._templar, task_vars)
        params = run.record_params(task_vars, LONGEST_RESULT, "success", hasher)
        check_before_change(with_signature_room(with_origin(params), settings.record_key is not None))
    except AnsibleError as exc:
        message = "%s: the change of this task could not be recorded, so it was not run: %s" % (PLUGIN, exc)
        if settings.mode == "fail":
            raise RecordKeepingError(message) from None
        display.warning(message)
        return None
    return params["fields"]


def check_host(run: TaskRun, handler: ActionBase, task_vars: t.Dict[str, t.Any], policy: str) -> t.Tuple[str, str]:
    """Once per play, target host and record privileges: whether the host can keep records (_host_check)."""
    where = run.site.where if run.site is not None else _change_site.CONNECTION
    key = _host_check.check_key(
        _tasks.play_uuid(run.task), run.changed_host(task_vars), where,
        run.privilege.key if run.privilege is not None else "", policy,
    )
    return _host_check.check_host(
        key, where, run.execution.connection, run.settings, policy, lambda: _writing.write_check(run, handler, task_vars)
    )


def before_task(execution: _execution.Execution, handler: ActionBase, task_vars: t.Dict[str, t.Any], settings: Settings) -> None:
    """Before a task that may change a host runs: its record can be built (every task), and, once per play, target
    host and record privileges, the host can keep records with them (or its policy says what to do instead). Fails
    the task (mode fail) before its action runs when not."""
    run = TaskRun.start(execution, settings)
    task = execution.task
    # Taken now: the action may change the shared play context, connection and variables (synchronize).
    resolved = action_names(task)[0]
    run.site = site = change_site(
        resolved, task, task_vars, execution.connection, execution.play_context,
        acting_identity(execution.connection, execution.play_context),
    )
    if resolved in SYNCHRONIZE:
        run.play_context = execution.play_context.copy()
        run.pre_action_vars = {name: value for name, value in task_vars.items() if name.endswith("_interpreter")}
    if not recordable(task, settings):
        if _refusal.may_change_hosts(task) and not resolved.startswith(OWN_PREFIX):
            # Skipped by policy (the skip list, async with poll 0): the ledger still says the change happened.
            ledger_intent(run, task_vars, None, skip_reason(task, settings))
        return
    try:
        if site.where == _change_site.CONNECTION:
            run.privilege = record_privilege(execution.connection, execution.play_context, task, task_vars, handler._templar)
        policy = host_policy(task, task_vars, handler._templar)
        run.forwarding = forwarding_declared(task, task_vars, handler._templar)
    except RecordPrivilegeError as exc:
        # A bad setting stops the change whatever the mode: it is not the host that cannot record.
        raise RecordKeepingError("%s: %s, so this task was not run" % (PLUGIN, exc)) from None
    fields = check_record(run, handler, task_vars)
    run.verdict = check_host(run, handler, task_vars, policy)
    if skips_records(run.verdict):
        ledger_intent(run, task_vars, fields, "host policy skip: %s" % run.verdict[1])
        return
    ledger_intent(run, task_vars, fields)
    if site.when == _change_site.BEFORE:
        # Nothing can be written once the action has run (shutdown): the record goes now, and says so.
        outcome = _writing.write_change(run, handler, task_vars, "success", {})
        if outcome.get("failed") and settings.mode == "fail":
            raise RecordKeepingError(
                "%s: %s: the record of this change is written before it runs, since nothing can be written after it, "
                "and could not be written, so the task was not run: %s" % (PLUGIN, site.host, outcome.get("msg"))
            )
        run.written_before = outcome


__all__ = ["before_task", "check_record", "check_host"]
