# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""After each task, on its final result (after changed_when, failed_when and until): the record of a change, or of
a result whose outcome is unknown, on the host that was changed, through the same connection, before the host runs
its next task; or what the module's own process reported it wrote. The ledger gets the change's outcome; a record
that cannot be written makes the task failed and not ignorable (mode fail)."""

from __future__ import annotations

import typing as t

from ansible.utils.display import Display
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _execution, _plugins, _results
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _notes, _writing
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._ledger_lines import ledger_outcome
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._policies import skips_records
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._run import TaskRun, action_names, recordable, skip_reason
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._settings import OWN_PREFIX, PLUGIN, RESULT_KEY, Settings
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._verdict import change_verdict
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import NOT_RECORDED, RECORDED, SKIPPED_BY_POLICY, UNCHANGED, UNKNOWN
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._audited import record_result
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._content import CHECKSUM_KEYS
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._context import run_id
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer import _in_module

display = Display()

# What of a module's result goes into the record (change_fields): the diff and the content's checksum.
RESULT_EVIDENCE = ("diff",) + CHECKSUM_KEYS


def count_own(run: TaskRun, view: t.Any, task_vars: t.Mapping[str, t.Any]) -> None:
    """Records the collection's own modules wrote count in the summary too."""
    task = run.task
    resolved, _written = action_names(task)
    if task.check_mode:
        return
    if resolved == "changeaudit.linux.audited":
        audit = view.get("audit") or {}
        recorded = isinstance(audit, dict) and audit.get("recorded")
    elif resolved == "changeaudit.linux.usys_config":
        recorded = view.get("recorded")
    else:
        return
    if recorded:
        _notes.note(run.settings, _notes.RECORDS_FILE, _notes.WRITTEN, run.changed_host(task_vars), run_id(task_vars))


def _not_recorded_here(run: TaskRun, view: t.Any, task_vars: t.Mapping[str, t.Any], changed: bool, unknown: t.Optional[str]) -> None:
    """A task whose change gets no record (the skip list, check mode, async poll 0, a host policy that skips)."""
    task = run.task
    count_own(run, view, task_vars)
    own = action_names(task)[0].startswith(OWN_PREFIX) or _plugins.core_controller_action(task)
    if (changed or unknown) and not task.check_mode and not own:
        why = "host policy skip: %s" % run.verdict[1] if skips_records(run.verdict) else skip_reason(task, run.settings)
        _notes.note(run.settings, _notes.RECORDS_FILE, _notes.SKIPPED, run.changed_host(task_vars), run_id(task_vars), why)
    ledger_outcome(run, SKIPPED_BY_POLICY if changed or unknown else UNCHANGED, failed=view.failed or None, unknown=unknown)


def _written(run: TaskRun, view: t.Any, summary: t.Dict[str, t.Any], outcome: t.Mapping[str, t.Any], res: str,
             unknown: t.Optional[str]) -> None:
    summary.update(record=outcome.get("record"), sequence=outcome.get("sequence"), verified=outcome.get("verified"))
    _notes.note(run.settings, _notes.RECORDS_FILE, _notes.WRITTEN, summary["host"], summary["run_id"])
    verified = outcome.get("verified") or {}
    ledger_outcome(run, UNKNOWN if unknown else RECORDED, res=res, serial=verified.get("serial"), recorded=True,
                   reason=unknown, path=summary["path"])
    view.set(RESULT_KEY, summary)


def _not_written(run: TaskRun, view: t.Any, task_vars: t.Mapping[str, t.Any], summary: t.Dict[str, t.Any],
                 outcome: t.Mapping[str, t.Any], res: str, unknown: t.Optional[str], in_module: bool) -> None:
    settings, target, this_run, path = run.settings, summary["host"], summary["run_id"], summary["path"]
    error = outcome.get("msg") or "; ".join(str(w) for w in outcome.get("warnings") or []) or "no record"
    summary.update(error=error, cause=outcome.get("cause"))
    if unknown:
        # The task failed or its host went away already: its failure stands, and the proof names the gap.
        why = "%s; no record could be written: %s" % (unknown, error)
        seq = run.ledger_seq()
        _notes.note(settings, _notes.RECORDS_FILE, _notes.UNKNOWN, target, this_run,
                    "%s%s: %s" % ("#%d " % seq if seq is not None else "", run.task.get_name(), why))
        ledger_outcome(run, UNKNOWN, res=res, reason=why, cause=outcome.get("cause"), path=path)
        display.warning("%s: %s: the outcome of this task is unknown (%s) and no record of it could be written: %s"
                        % (PLUGIN, target, unknown, error))
        view.set(RESULT_KEY, summary)
        return
    _notes.note(settings, _notes.RECORDS_FILE, _notes.FAILED, target, this_run)
    ledger_outcome(run, NOT_RECORDED, res=res, reason=error, cause=outcome.get("cause"), path=path)
    message = "The change was applied on %s but could not be recorded in its audit trail: %s" % (target, error)
    if settings.mode == "fail":
        # The module's own failure message is this one (the shim's), said once.
        original = view.get("msg") if not in_module else None
        view.fail(
            message
            + " (%s: ignore_errors does not apply to this failure; mode=warn only warns.)" % PLUGIN
            + (" Task message: %s" % original if original else "")
        )
        view.not_ignorable()
    else:
        display.warning("%s: %s: %s" % (PLUGIN, task_vars.get("inventory_hostname"), message))
    view.set(RESULT_KEY, summary)


def after_task(execution: _execution.Execution, view: t.Any, task_vars: t.Dict[str, t.Any], settings: Settings) -> None:
    """Write the record of a final changed result, or of a result whose outcome is unknown, on the host that was
    changed; note the outcome in the ledger."""
    task = execution.task
    if _results.refused_here(task) and view.failed:
        # before_task refused this task.
        view.not_ignorable()
        return
    run = TaskRun.of(execution, settings)
    if view.skipped:
        ledger_outcome(run, UNCHANGED, skipped=True)
        return
    changed, unknown = change_verdict(execution, view)
    # A record the module's process wrote (or failed to write) for a result it said changed (_in_module_path).
    in_module = _in_module.report(execution.attempts)
    if in_module is not None:
        changed, unknown = True, None
    if not recordable(task, settings) or skips_records(run.verdict):
        _not_recorded_here(run, view, task_vars, changed, unknown)
        return
    if not changed and not unknown:
        ledger_outcome(run, UNCHANGED, failed=view.failed or None)
        return
    # The module's process writes only the record of a result that did not fail.
    res = "success" if in_module is not None else "failed" if unknown else record_result(changed, view.failed)
    handler = execution.handler
    if handler is None:
        ledger_outcome(run, UNKNOWN if unknown else NOT_RECORDED, res=res, reason="the task ended before its action was made")
        return
    outcome, run.written_before = run.written_before, None
    path = _in_module.WRITER
    if outcome is None and in_module is not None:
        outcome, path = in_module, _in_module.IN_MODULE
    if outcome is None:
        outcome = _writing.write_change(run, handler, task_vars, res, {key: view.get(key) for key in RESULT_EVIDENCE})
    summary: t.Dict[str, t.Any] = {
        "recorded": bool(outcome.get("recorded")) and not outcome.get("failed"),
        "host": run.changed_host(task_vars), "run_id": run_id(task_vars), "path": path,
    }
    if unknown:
        summary["unknown_outcome"] = unknown
    if summary["recorded"]:
        _written(run, view, summary, outcome, res, unknown)
    else:
        _not_written(run, view, task_vars, summary, outcome, res, unknown, in_module is not None)


__all__ = ["RESULT_EVIDENCE", "after_task", "count_own"]
