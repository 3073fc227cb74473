# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""One task's run through the every-change hook, for one host and loop item: what ``before_task`` found (where the
change lands and as whom, how its record gets root, what the host check decided, the ledger entry of the change)
and what ``after_task`` needs of it, as typed attributes of one object the hook keeps with core's execution of the
task; and what the hook asks of every task (which action it is, whether its change gets a record, the record's
params)."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _execution, _plugins
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._settings import PLUGIN, Settings
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import Ledger
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record import _change_site
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._audited import change_record_params, module_arguments
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._change_site import ChangeSite
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._context import task_context
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._hashing import Hasher
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._privilege import Acting, Privilege, acting_identity

# A host that can keep records: the host check's verdict unless a host policy (_policies) says otherwise.
RECORDS = "records"
# The one key of core's execution notes the hook uses: its TaskRun.
RUN_NOTE = "changeaudit_task_run"
# in_module is not decided yet for this task (None is decided: the writer).
UNDECIDED: t.Any = object()
InModuleRequest = t.Tuple[t.Dict[str, t.Any], t.Optional[str], t.Optional[t.Tuple[str, ...]]]


class LedgerEntry(t.NamedTuple):
    """The ledger line of the change before_task noted, which after_task completes with its outcome."""

    ledger: Ledger
    host: str
    seq: int


class TaskRun:
    """What the hook knows of one task on one host (and loop item) between before_task and after_task."""

    def __init__(self, execution: _execution.Execution, settings: Settings) -> None:
        self.execution = execution
        self.settings = settings
        # Where the change lands and as whom (_change_site), taken before the action runs.
        self.site: t.Optional[ChangeSite] = None
        # How the record gets root on a change through the task's connection (_privilege).
        self.privilege: t.Optional[Privilege] = None
        # The host check's verdict: (RECORDS, "") or a host policy's (SKIP or CONTROLLER, why).
        self.verdict: t.Tuple[str, str] = (RECORDS, "")
        # What the action may change before after_task writes (synchronize swaps the interpreter and play context).
        self.pre_action_vars: t.Dict[str, t.Any] = {}
        self.play_context: t.Any = None
        # The outcome of a record written before the change, where nothing can be written after it (shutdown).
        self.written_before: t.Optional[t.Dict[str, t.Any]] = None
        # The host declared that it forwards its records instead of keeping a log.
        self.forwarding = False
        # The module's own process writes the record: (request, checksum, modules), None (the writer), or UNDECIDED.
        self.in_module: t.Any = UNDECIDED
        self.ledger_entry: t.Optional[LedgerEntry] = None

    @classmethod
    def start(cls, execution: _execution.Execution, settings: Settings) -> "TaskRun":
        """A fresh run for this task (loop item): nothing of the one before carries over."""
        run = cls(execution, settings)
        execution.notes[RUN_NOTE] = run
        return run

    @classmethod
    def of(cls, execution: _execution.Execution, settings: Settings) -> "TaskRun":
        """The run before_task started, or an empty one where it did not run (the task was refused before)."""
        run = execution.notes.get(RUN_NOTE)
        return run if isinstance(run, cls) else cls.start(execution, settings)

    @property
    def task(self) -> t.Any:
        return self.execution.task

    def acting(self) -> Acting:
        """Who the task acts as, taken before its action ran."""
        if self.site is not None:
            return self.site.acting
        return acting_identity(self.execution.connection, self.execution.play_context)

    def changed_host(self, task_vars: t.Mapping[str, t.Any]) -> str:
        """The inventory name of the host the task changes (_change_site), as before_task found it."""
        return self.site.host if self.site is not None else target(self.task, task_vars)

    def ledger_seq(self) -> t.Optional[int]:
        return self.ledger_entry.seq if self.ledger_entry is not None else None

    def record_params(
        self, task_vars: t.Dict[str, t.Any], result: t.Mapping[str, t.Any], res: str, hasher: Hasher
    ) -> t.Dict[str, t.Any]:
        """The usys_config params of the record of this task's change (``result``: the module's, or LONGEST_RESULT)."""
        task = self.task
        resolved, _written = action_names(task)
        settings = self.settings
        return change_record_params(
            module_fqcn=resolved,
            module_args=module_arguments(task.args),
            result=result,
            res=res,
            no_log=bool(task.no_log),
            extra_fields=self.written_before_fields(settings.fields),
            extra_source="by the fields option of %s" % PLUGIN,
            hash_extra=False,
            context=task_context(
                task, self.acting(), task_vars, getattr(self.execution.handler, "_templar", None), self.ledger_seq()
            ),
            inventory_host=task_vars.get("inventory_hostname"),
            delegated_to=task.delegate_to or None,
            backend=settings.backend,
            on_unavailable=settings.mode,
            verify=settings.verify,
            forwarding=self.forwarding,
            hasher=hasher,
        )

    def written_before_fields(self, fields: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
        """The fields option, and for a change whose record is written before it runs (shutdown) a field saying so."""
        if self.site is None or self.site.when != _change_site.BEFORE:
            return fields
        return dict(fields, recorded="before_change")


def action_names(task: t.Any) -> t.Tuple[str, str]:
    """(resolved FQCN, action as written) of a post-validated task."""
    written = str(task.action or "")
    try:
        resolved = task.resolved_action or written
    except AnsibleError:
        resolved = written
    return str(resolved), written


def target(task: t.Any, task_vars: t.Mapping[str, t.Any]) -> str:
    """The inventory name of the host the task changes: the delegated one, if any."""
    return str(task.delegate_to or task_vars.get("inventory_hostname") or "")


def recordable(task: t.Any, settings: Settings) -> bool:
    """Whether a change by this task gets a record at all (check mode, async poll 0 and the skip list do not)."""
    if task.check_mode:
        return False
    if task.async_val and not task.poll:
        return False
    if _plugins.core_controller_action(task):
        return False
    return not settings.skips(*action_names(task))


def skip_reason(task: t.Any, settings: Settings) -> str:
    return "skip list" if settings.skips(*action_names(task)) else "async with poll 0"


__all__ = [
    "RECORDS",
    "RUN_NOTE",
    "UNDECIDED",
    "LedgerEntry",
    "TaskRun",
    "action_names",
    "target",
    "recordable",
    "skip_reason",
]
