# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The hook's lines in the run's ledger (_proof/_ledger.py): the intent of each change before it runs, its outcome
after, and what the run's start line says of the controller."""

from __future__ import annotations

import getpass
import typing as t

from ansible.utils.display import Display
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.fields import LEDGER_FIELDS
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _tasks, _versions
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._run import LedgerEntry, TaskRun, action_names
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._settings import PLUGIN, RecordKeepingError, Settings
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _signing
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import Ledger, LedgerError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._context import controller_origin, run_id

display = Display()


def run_ledger(settings: Settings, this_run: str, signer: t.Optional[t.Callable[[bytes], str]] = None) -> Ledger:
    """The ledger of ``this_run`` in the settings' ledger directory, chained under the settings' key (``signer``
    signs its seals: only the callback seals)."""
    return Ledger(str(settings.ledger_dir), this_run, settings.ledger_key, settings.ledger_key_id, signer)


def ledger_intent(
    run: TaskRun, task_vars: t.Dict[str, t.Any], record_fields: t.Optional[t.Mapping[str, t.Any]],
    policy: t.Optional[str] = None,
) -> None:
    """Notes in the run's ledger that the task may now change the host. A ledger that cannot be written stops the
    change (mode fail)."""
    settings = run.settings
    if not settings.ledger_dir:
        return
    task = run.task
    target = run.changed_host(task_vars)
    described: t.Dict[str, t.Any] = {"task_id": _tasks.task_uuid(task), "module": action_names(task)[0]}
    if policy:
        described["policy"] = policy
    # The fields of its record the field table marks for the ledger, as check_record built them with the longest result
    # (under no_log the same keyed hashes; withheld then names the diff too, which the module may not return).
    described.update({name: record_fields[name] for name in LEDGER_FIELDS if name in (record_fields or {})})
    try:
        ledger = run_ledger(settings, run_id(task_vars))
        seq = ledger.intent(target, described)
    except LedgerError as exc:
        message = "%s: the run's ledger cannot be written, so this task was not run: %s" % (PLUGIN, exc)
        if settings.mode == "fail":
            raise RecordKeepingError(message) from None
        display.warning(message)
        return
    run.ledger_entry = LedgerEntry(ledger, target, seq)


def ledger_outcome(run: TaskRun, outcome: str, **details: t.Any) -> None:
    """Completes the change's intent line with its outcome (once: a second call adds nothing)."""
    entry, run.ledger_entry = run.ledger_entry, None
    if entry is None:
        return
    try:
        entry.ledger.outcome(entry.host, entry.seq, outcome, **details)
    except LedgerError as exc:
        display.warning("%s: %s: the outcome of change %d is not in the run's ledger: %s" % (PLUGIN, entry.host, entry.seq, exc))


def start_details(settings: t.Optional[Settings] = None) -> t.Dict[str, t.Any]:
    """What the start line of a run's ledger says of the controller process that began it; with ``settings`` that
    sign records, the field their signature is in, so that the evidence of this run accepts only signed records
    (the line is chained under the key: nobody can take that back unseen)."""
    origin = controller_origin()
    details = {"controller": origin.get("hostname"), "user": getpass.getuser(), "ansible_core": _versions.CORE_VERSION_TEXT}
    if settings is not None and settings.record_key is not None:
        details["record_signature"] = _signing.RECORD_SIG_FIELD
    return details


__all__ = ["run_ledger", "ledger_intent", "ledger_outcome", "start_details"]
