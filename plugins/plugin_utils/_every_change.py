# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The every-change hook: what the record_changes callback does before and after each task on each host.

``_core.install_task_hook`` runs ``before_task`` in the worker once per task and loop item, after the connection for
the (delegated) host is set up and before the action runs: the place to check that the record of the task's change
can be built, and, once per host per play, that the host can keep records, so that a host that cannot fails *before*
its first change. It runs ``after_task`` on the result after changed_when, failed_when and until: the place to write
the record of a change, through the same connection, before the host runs its next task.

Where the module's own process can write the record (a root Python module of core's normal action, or copy of a
text content: ``in_module_prelude``), its payload carries the record, built here, and the module writes it before its
result is printed; after_task then only takes what the module reported (``_in_module.report``), so a change is
recorded once, by the module or by the writer, and the ledger's outcome says which (``path``).

A record that cannot be written makes the task failed and not ignorable, so ignore_errors cannot hide it.
``install()`` refuses any ansible-core version CI has not tested the hook with (``_core.TESTED_CORE``), naming
the tested ones; the callback then holds every change back with ``_core.refuse_changes``.
"""

from __future__ import annotations

import fnmatch
import getpass
import os
import typing as t

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import OP_MAX
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError, AuditRecordTooLongError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.request import validate_request
from ansible_collections.changeaudit.linux.plugins.plugin_utils import _core
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._audited import (
    CHANGE_FIELDS,
    CHANGE_OP,
    CHECKSUM_KEYS,
    LONGEST_RESULT,
    MODULE_NAME_MAX,
    OBJECT_TEXT_MAX,
    RecordRefusedError,
    change_record_params,
    check_before_change,
    module_arguments,
    record_result,
    sign_record,
    with_signature_room,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._context import (
    CONTEXT_FIELDS,
    CONTEXT_TEXT_DEFAULT_MAX,
    CONTEXT_TEXT_MAX,
    RETIRED_CONTEXT_FIELDS,
    bounded_text,
    controller_origin,
    fix_run_id,
    run_id,
    task_context,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._hashing import Hasher, hasher_for
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import (
    NOT_RECORDED,
    RECORDED,
    SKIPPED_BY_POLICY,
    UNCHANGED,
    UNKNOWN,
    LEDGER_KEY_PURPOSE,
    Ledger,
    LedgerError,
    ledger_location,
    read_ledger,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _signing
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record import _change_site
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._change_site import SYNCHRONIZE, change_site
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._privilege import (
    AS_TASK,
    Acting,
    Privilege,
    RecordPrivilegeError,
    acting_identity,
    host_variables,
    record_privilege,
    variable,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer._writer import (
    PYTHON_NOT_FOUND,
    is_mitogen,
    validate,
    with_origin,
    write_on_target,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer import _in_module
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer._interpreter import same_python

display = Display()
ANSIBLE_CORE_VERSION = _core.CORE_VERSION_TEXT

# What of a module's result goes into the record (change_fields): the diff and the content's checksum.
RESULT_EVIDENCE = ("diff",) + CHECKSUM_KEYS
# The key the hook adds to every result it wrote (or failed to write) a record for.
RESULT_KEY = "changeaudit_record"
PLUGIN = "changeaudit.linux.record_changes"

OWN_ACTIONS = (
    "changeaudit.linux.audited",
    "changeaudit.linux.usys_config",
    "changeaudit.linux.usys_config_info",
    "changeaudit.linux.audit_status_info",
    # Writes the evidence report on the controller.
    "changeaudit.linux.evidence_report",
    # Reads a report on the controller.
    "changeaudit.linux.verify_evidence",
)
# Never recorded, as they record themselves or change nothing, matched against the resolved FQCN only: a name as
# written can resolve to anyone's plugin. ansible-core's own controller-side actions are left out by
# _core.core_controller_action, which looks at the file that runs.
DEFAULT_SKIP = frozenset(OWN_ACTIONS)


class RecordKeepingError(_core.TaskRefusedError):
    """Raised before a task runs on a host that cannot keep audit records (mode fail)."""


class Settings:
    """The callback's options, set in the controller process before the workers fork."""

    def __init__(
        self,
        mode: str = "fail",
        skip: t.Iterable[str] = (),
        fields: t.Optional[t.Mapping[str, t.Any]] = None,
        backend: str = "auto",
        verify: bool = False,
        state_dir: t.Optional[str] = None,
        ledger_dir: t.Optional[str] = None,
        controller_problem: t.Optional[str] = None,
        ledger_key: t.Optional[bytes] = None,
        ledger_key_id: t.Optional[str] = None,
        record_key: t.Optional[t.Any] = None,
        in_module: bool = True,
    ) -> None:
        if mode not in ("fail", "warn"):
            raise AnsibleError("%s: mode must be fail or warn, not %r" % (PLUGIN, mode))
        self.mode = mode
        if isinstance(skip, (str, bytes)) or any(not isinstance(item, str) for item in skip):
            raise AnsibleError("%s: skip must be a list of action names or patterns, not %r" % (PLUGIN, skip))
        self.skip_patterns = tuple(sorted(set(skip)))
        self.fields = validate_static_fields(fields or {})
        self.backend = backend
        self.verify = verify
        self.state_dir = state_dir
        # None: no ledger is kept.
        self.ledger_dir = ledger_dir
        # What chains the ledger's lines: the HMAC key derived from the controller's signing key, and its id.
        self.ledger_key = ledger_key
        self.ledger_key_id = ledger_key_id
        # What signs each record (_signing.SigningKey, the same key): None signs none.
        self.record_key = record_key
        # Whether a change's record may be written in the module's own process (_in_module) where it can be.
        self.in_module = in_module
        # Why the controller cannot keep records (changeaudit_host_policy=controller), found when the run starts.
        self.controller_problem = controller_problem
        self._skips: t.Dict[t.Tuple[str, str], bool] = {}

    def skips(self, resolved: str, written: str) -> bool:
        """Whether the action is on the default or the user's skip list (names or fnmatch patterns)."""
        known = self._skips.get((resolved, written))
        if known is None:
            names = {resolved, written}
            known = resolved in DEFAULT_SKIP or any(
                fnmatch.fnmatchcase(name, pattern) for name in names for pattern in self.skip_patterns
            )
            self._skips[(resolved, written)] = known
        return known


def validate_static_fields(fields: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The fields option, refused now when any record it would go into could not be written: a name the record
    has itself or ausearch would misread, a value the binding cannot encode, or fields too long to fit beside the
    longest task context, object and result."""
    source = "the fields option of %s" % PLUGIN
    own = sorted(set(fields) & (set(CHANGE_FIELDS) | set(CONTEXT_FIELDS) | RETIRED_CONTEXT_FIELDS))
    if own:
        raise AnsibleError(
            "%s names fields every change record has itself: %s; rename them (for example ticket, change_ref)"
            % (source, ", ".join(own))
        )
    try:
        # The names and values are checked as part of the longest record they can be in.
        check_before_change(worst_case_params(dict(fields)))
    except RecordRefusedError as exc:
        if isinstance(exc.audit_error, AuditRecordTooLongError):
            raise AnsibleError(
                "%s is too long to fit in every record beside the longest task context, object and result: %s"
                % (source, exc)
            ) from None
        raise AnsibleError("%s cannot be recorded: %s" % (source, exc.audit_error)) from None
    return dict(fields)


def worst_case_params(fields: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    """The usys_config params of the longest record the hook can write with ``fields``: every context value and
    the object at their bound, in text that is written as hex (twice its length)."""

    def longest(max_bytes: int) -> str:
        return " " * max_bytes

    # A record names become_user or remote_user, never both (_privilege.Acting.fields).
    context = {
        name: longest(CONTEXT_TEXT_MAX.get(name, CONTEXT_TEXT_DEFAULT_MAX)) for name in CONTEXT_FIELDS if name != "remote_user"
    }
    params = change_record_params(
        module_fqcn=longest(MODULE_NAME_MAX),
        module_args={"path": longest(OBJECT_TEXT_MAX)},
        result=LONGEST_RESULT,
        res="success",
        no_log=False,
        extra_fields=fields,
        extra_source="by the fields option of %s" % PLUGIN,
        hash_extra=False,
        context=context,
        inventory_host=longest(CONTEXT_TEXT_DEFAULT_MAX),
        delegated_to=longest(CONTEXT_TEXT_DEFAULT_MAX),
        backend="auto",
        on_unavailable="fail",
        hasher=Hasher(b"k" * 32),
    )
    # op= holds what fits of the object; at its longest it is written bare, OP_MAX characters.
    params["op"] = "x" * OP_MAX
    return with_signature_room(params, True)


_SETTINGS: t.Optional[Settings] = None
# Per worker process: host checks already done, and what they found.
_CHECKED: t.Dict[t.Tuple[str, ...], t.Tuple[str, str]] = {}


def core_series(version: str = ANSIBLE_CORE_VERSION) -> str:
    return _core.series_text(_core.parse_version(version))


def check_version(version: str = ANSIBLE_CORE_VERSION) -> str:
    """The major.minor of ``version`` when CI tests the hook with it; else an error naming the tested ones."""
    if not _core.is_tested(_core.parse_version(version)):
        raise AnsibleError(
            _core.untested_message(PLUGIN, version)
            + " Use one of those, or disable the callback (remove it from callbacks_enabled / "
            "ANSIBLE_CALLBACKS_ENABLED) and wrap the tasks to record in changeaudit.linux.audited."
        )
    return core_series(version)


def install(settings: Settings, version: str = ANSIBLE_CORE_VERSION) -> None:
    """Take ``settings`` and put the task hook in place (once). Call before the workers fork."""
    global _SETTINGS
    series = check_version(version)
    _SETTINGS = settings
    if settings.in_module:
        _in_module.prepare()
    _core.install_task_hook(_before_action, _after_result, _core.parse_version(series), _module_prelude, _in_module.RESULT_KEY)


def uninstall() -> None:
    """Undo install() (the unit tests use it)."""
    global _SETTINGS
    _core.uninstall_task_hook()
    _CHECKED.clear()
    _SETTINGS = None


def installed() -> bool:
    return _core.task_hook_installed()


def _module_prelude(
    execution: _core.Execution, handler: ActionBase, module_name: str, interpreter: str, task_vars: t.Dict[str, t.Any]
) -> t.Optional[str]:
    if _SETTINGS is None or not _SETTINGS.in_module:
        return None
    return in_module_prelude(execution, handler, module_name, interpreter, task_vars, _SETTINGS)


def _before_action(execution: _core.Execution, handler: ActionBase, task_vars: t.Dict[str, t.Any]) -> None:
    if _SETTINGS is not None:
        before_task(execution, handler, task_vars, _SETTINGS)


def _after_result(execution: _core.Execution, view: t.Any, task_vars: t.Dict[str, t.Any]) -> None:
    if _SETTINGS is not None:
        after_task(execution, view, task_vars, _SETTINGS)


# ---------------------------------------------------------------------------------------------- helpers


def write(
    action: ActionBase, task_vars: t.Dict[str, t.Any], params: t.Dict[str, t.Any], privilege: t.Optional[Privilege] = None
) -> t.Dict[str, t.Any]:
    """The one place the hook hands a record to the writer (check mode is action._task.check_mode)."""
    return write_on_target(action, task_vars, params, privilege)


def action_names(task: t.Any) -> t.Tuple[str, str]:
    """(resolved FQCN, action as written) of a post-validated task."""
    written = str(task.action or "")
    try:
        resolved = task.resolved_action or written
    except AnsibleError:
        resolved = written
    return str(resolved), written


def _play_uuid(task: t.Any) -> str:
    node = task
    while node is not None:
        play = getattr(node, "_play", None)
        if play is not None:
            return str(play._uuid)
        node = getattr(node, "_parent", None)
    return ""


def _target(task: t.Any, task_vars: t.Mapping[str, t.Any]) -> str:
    """The inventory name of the host the task changes: the delegated one, if any."""
    return str(task.delegate_to or task_vars.get("inventory_hostname") or "")


def _note(settings: Settings, name: str, *columns: str) -> None:
    """Append one line to a file in the run's state directory (O_APPEND: whole lines from any worker)."""
    if not settings.state_dir:
        return
    line = "\t".join(column.replace("\t", " ").replace("\n", " ") for column in columns) + "\n"
    fd = os.open(os.path.join(settings.state_dir, name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("utf-8", "surrogateescape"))
    finally:
        os.close(fd)


def _read_lines(settings: Settings, name: str) -> t.List[t.List[str]]:
    if not settings.state_dir:
        return []
    try:
        with open(os.path.join(settings.state_dir, name), encoding="utf-8", errors="surrogateescape") as handle:
            return [line.rstrip("\n").split("\t") for line in handle]
    except FileNotFoundError:
        return []


class _WriterAction(ActionBase):
    """Carries the task's connection to the writer; never run as a task."""

    TRANSFERS_FILES = False

    def run(self, tmp: t.Any = None, task_vars: t.Any = None) -> t.Dict[str, t.Any]:
        raise NotImplementedError("only the writer uses this action")


def _writer_action(
    execution: _core.Execution, templar: t.Any, check_mode: bool, connection: t.Any = None, play_context: t.Any = None,
    task: t.Any = None,
) -> ActionBase:
    """An action bound to the task's (delegated) connection, become and environment, for the writer only; or to
    the ``connection``, ``play_context`` and ``task`` given.

    Made directly rather than through the action loader: a worker is a fresh fork for each task, and a loader
    lookup there would search the collection paths again for every record.
    """
    task = task if task is not None else execution.task
    writer_task = task.copy(exclude_parent=True, exclude_tasks=True)
    writer_task._parent = task._parent
    writer_task.args = {}
    writer_task.async_val = 0
    writer_task.poll = 0
    writer_task.check_mode = check_mode
    writer_task.diff = False
    return _WriterAction(
        task=writer_task,
        connection=connection if connection is not None else execution.connection,
        play_context=play_context if play_context is not None else execution.notes.get(PLAY_CONTEXT_NOTE) or execution.play_context,
        loader=execution.loader,
        templar=templar,
        shared_loader_obj=execution.shared_loader_obj,
    )


def _write_for_change(
    execution: _core.Execution, templar: t.Any, check_mode: bool, task_vars: t.Dict[str, t.Any], params: t.Dict[str, t.Any],
    key: t.Optional[t.Any] = None,
) -> t.Dict[str, t.Any]:
    """Write (or check) a record on the host the task changes: through the task's connection, through a connection
    of its own to the inventory host (synchronize push with delegate_to), or on the controller. ``key`` signs the
    record once its fields are final (on the controller: with the host it names)."""
    site = execution.notes.get(SITE_NOTE)
    verdict = execution.notes.get(VERDICT_NOTE) or (RECORDS, "")
    if verdict[0] == CONTROLLER or (site is not None and site.where == _change_site.CONTROLLER):
        return write_on_controller(params, site.host if site is not None else _target(execution.task, task_vars), check_mode,
                                   key)
    params = sign_record(key, params)
    # The variables as they were before the action ran (synchronize swaps the interpreter for the controller's).
    task_vars = dict(task_vars, **execution.notes.get(VARS_NOTE, {}))
    if site is not None and site.where == _change_site.INVENTORY_HOST:
        connection, play_context, task = execution.inventory_host_connection(task_vars, templar)
        try:
            action = _writer_action(execution, templar, check_mode, connection, play_context, task)
            try:
                return write(action, task_vars, params)
            finally:
                action.cleanup()
        finally:
            connection.close()
    action = _writer_action(execution, templar, check_mode)
    try:
        return write(action, task_vars, params, execution.notes.get(PRIVILEGE_NOTE))
    finally:
        # The remote tmp dir the writer may have made (no pipelining) goes, as after any action.
        action.cleanup()


# ---------------------------------------------------------------------------------------------- the in-module path
#
# The record of a change written by the module's own process, after its result is final and before it is printed
# (_in_module, module_utils/_audit/in_module.py): no second process on the target, no second round trip. Only where
# that process can write it and its result is the task's verdict; every other task keeps the writer, and so does a
# task whose module leaves it to the writer (its result is not what the record was built with). Which path wrote the
# record comes back in the module's result (_core takes it out), so a change is recorded once, by one of them.

# Where in_module_prelude leaves what it decided for the task: None (the writer), or (request, checksum, modules).
IN_MODULE_NOTE = "in_module"
# The modules of an action of core that may write the record: the action runs them, and their result is the task's.
IN_MODULE_ACTIONS = {"normal": None, "copy": ("ansible.legacy.copy",)}


def in_module_refusal(execution: _core.Execution, handler: ActionBase, settings: Settings) -> t.Optional[str]:
    """Why this task's record cannot be written in the module's process (the writer writes it), or None."""
    task = execution.task
    notes = execution.notes
    site = notes.get(SITE_NOTE)
    privilege = notes.get(PRIVILEGE_NOTE)
    if not recordable(task, settings) or (notes.get(VERDICT_NOTE) or (RECORDS, ""))[0] != RECORDS:
        return "not recorded on its host"
    if site is None or site.where != _change_site.CONNECTION or site.when != _change_site.AFTER or WRITTEN_BEFORE_NOTE in notes:
        return "recorded elsewhere or before the change"
    if privilege is None or privilege.how != AS_TASK:
        return "the module does not run as root"
    if task.check_mode or task.async_val or task.changed_when or task.failed_when or task.until:
        return "the verdict is the controller's (check mode, async, changed_when, failed_when, until)"
    if task.no_log:
        return "no_log"
    if is_mitogen(execution.connection):
        return "Mitogen"
    action = _core.core_action(handler)
    if action not in IN_MODULE_ACTIONS:
        return "an action plugin that is not core's normal"
    if action == "copy" and (task.args.get("src") or task.args.get("remote_src") or task.diff
                             or not isinstance(task.args.get("content"), str)):
        # Several modules, or a diff the action makes: only copy of a text content runs one copy module.
        return "copy without text content, or with a diff"
    return None


def in_module_request(
    execution: _core.Execution, handler: ActionBase, task_vars: t.Dict[str, t.Any], settings: Settings
) -> t.Optional[t.Tuple[t.Dict[str, t.Any], t.Optional[str], t.Optional[t.Tuple[str, ...]]]]:
    """(request, checksum, modules) for the module's process: the record's params as record_params builds them with
    res=success and the result the module will return (for copy of a text content, its checksum), signed, with the
    writer's defaults and checks; None where the writer must write it."""
    if in_module_refusal(execution, handler, settings) is not None:
        return None
    task = execution.task
    action = _core.core_action(handler)
    checksum = None
    result: t.Dict[str, t.Any] = {}
    if action == "copy":
        import hashlib

        # As the copy action writes the content before the copy module takes it (ActionModule._create_content_tempfile).
        result["checksum"] = hashlib.sha1(task.args["content"].encode("utf-8", "surrogateescape")).hexdigest()  # nosec
        checksum = "sha1:" + result["checksum"]
    try:
        params = record_params(execution, settings, task_vars, result, "success", hasher_for(handler._templar, task_vars))
        params = sign_record(settings.record_key, with_origin(params))
        validated, error = validate(params)
        if error:
            return None
        request = dict(validated, check_mode=False)
        validate_request(request)
    except (AnsibleError, AuditError):
        # The writer builds it again and reports why it cannot.
        return None
    return request, checksum, IN_MODULE_ACTIONS[action or ""]


def in_module_prelude(
    execution: _core.Execution, handler: ActionBase, module_name: str, interpreter: str, task_vars: t.Dict[str, t.Any],
    settings: Settings,
) -> t.Optional[str]:
    """What goes in front of this Python module so that its own process writes the record (_core's module prelude);
    None for the writer. Decided once per task (loop item); one module of an attempt writes at most one record."""
    notes = execution.notes
    if IN_MODULE_NOTE not in notes:
        notes[IN_MODULE_NOTE] = in_module_request(execution, handler, task_vars, settings)
    decided = notes[IN_MODULE_NOTE]
    if decided is None or _in_module.report(execution.attempts) is not None:
        return None
    request, checksum, modules = decided
    if modules is not None and module_name not in modules:
        return None
    host = changed_host(execution, task_vars)
    try:
        return _in_module.prelude(request, checksum, same_python(handler, task_vars, interpreter, host))
    except (TypeError, ValueError):
        # A value the payload cannot carry: the writer records the change (and names what it cannot write).
        return None


def recordable(task: t.Any, settings: Settings) -> bool:
    """Whether a change by this task gets a record at all (check mode, async poll 0 and the skip list do not)."""
    if task.check_mode:
        return False
    if task.async_val and not task.poll:
        return False
    if _core.core_controller_action(task):
        return False
    return not settings.skips(*action_names(task))


# ---------------------------------------------------------------------------------------------- before each task


def record_params(
    execution: _core.Execution, settings: Settings, task_vars: t.Dict[str, t.Any], result: t.Mapping[str, t.Any], res: str,
    hasher: Hasher,
) -> t.Dict[str, t.Any]:
    """The usys_config params of the record of this task's change (``result``: the module's, or LONGEST_RESULT)."""
    task = execution.task
    resolved, _written = action_names(task)
    return change_record_params(
        module_fqcn=resolved,
        module_args=module_arguments(task.args),
        result=result,
        res=res,
        no_log=bool(task.no_log),
        extra_fields=written_before_fields(execution, settings.fields),
        extra_source="by the fields option of %s" % PLUGIN,
        hash_extra=False,
        context=task_context(
            task, acting(execution), task_vars, getattr(execution.handler, "_templar", None), ledger_seq(execution)
        ),
        inventory_host=task_vars.get("inventory_hostname"),
        delegated_to=task.delegate_to or None,
        backend=settings.backend,
        on_unavailable=settings.mode,
        verify=settings.verify,
        forwarding=bool(execution.notes.get(FORWARDING_NOTE)),
        hasher=hasher,
    )


def written_before_fields(execution: _core.Execution, fields: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    """The fields option, and for a change whose record is written before it runs (shutdown) a field saying so."""
    site = execution.notes.get(SITE_NOTE)
    if site is None or site.when != _change_site.BEFORE:
        return fields
    return dict(fields, recorded="before_change")


def check_record(
    execution: _core.Execution, handler: ActionBase, task_vars: t.Dict[str, t.Any], settings: Settings
) -> t.Optional[t.Dict[str, t.Any]]:
    """Before each task that may change a host: the record of its change, built with the longest result a module
    returns, is one the writer takes and that fits. Returns its fields; raises RecordKeepingError (mode fail) when it
    is not, and only warns (None) in mode warn."""
    try:
        hasher = hasher_for(handler._templar, task_vars)
        params = record_params(execution, settings, task_vars, LONGEST_RESULT, "success", hasher)
        check_before_change(with_signature_room(with_origin(params), settings.record_key is not None))
    except AnsibleError as exc:
        message = "%s: the change of this task could not be recorded, so it was not run: %s" % (PLUGIN, exc)
        if settings.mode == "fail":
            raise RecordKeepingError(message) from None
        display.warning(message)
        return None
    return params["fields"]


def before_task(execution: _core.Execution, handler: ActionBase, task_vars: t.Dict[str, t.Any], settings: Settings) -> None:
    """Before a task that may change a host runs: its record can be built (every task), and, once per play, target
    host and record privileges, the host can keep records with them (or its policy says what to do instead). Fails
    the task (mode fail) before its action runs when not."""
    task = execution.task
    notes = execution.notes
    for note in (LEDGER_NOTE, PRIVILEGE_NOTE, VERDICT_NOTE, VARS_NOTE, PLAY_CONTEXT_NOTE, WRITTEN_BEFORE_NOTE, FORWARDING_NOTE,
                 IN_MODULE_NOTE):
        notes.pop(note, None)
    # Taken now: the action may change the shared play context, connection and variables (synchronize).
    resolved = action_names(task)[0]
    site = change_site(
        resolved, task, task_vars, execution.connection, execution.play_context,
        acting_identity(execution.connection, execution.play_context),
    )
    notes[SITE_NOTE] = site
    if resolved in SYNCHRONIZE:
        notes[PLAY_CONTEXT_NOTE] = execution.play_context.copy()
        notes[VARS_NOTE] = {name: value for name, value in task_vars.items() if name.endswith("_interpreter")}
    if not recordable(task, settings):
        if _core.may_change_hosts(task) and not resolved.startswith(OWN_PREFIX):
            # Skipped by policy (the skip list, async with poll 0): the ledger still says the change happened.
            _ledger_intent(execution, settings, task_vars, None, skip_reason(task, settings))
        return
    try:
        if site.where == _change_site.CONNECTION:
            notes[PRIVILEGE_NOTE] = record_privilege(
                execution.connection, execution.play_context, task, task_vars, handler._templar
            )
        policy = host_policy(task, task_vars, handler._templar)
        notes[FORWARDING_NOTE] = forwarding_declared(task, task_vars, handler._templar)
    except RecordPrivilegeError as exc:
        # A bad setting stops the change whatever the mode: it is not the host that cannot record.
        raise RecordKeepingError("%s: %s, so this task was not run" % (PLUGIN, exc)) from None
    fields = check_record(execution, handler, task_vars, settings)
    verdict = check_host(execution, handler, task_vars, settings, policy)
    notes[VERDICT_NOTE] = verdict
    if verdict[0] == SKIP:
        _ledger_intent(execution, settings, task_vars, fields, "host policy skip: %s" % verdict[1])
        return
    _ledger_intent(execution, settings, task_vars, fields)
    if site.when == _change_site.BEFORE:
        # Nothing can be written once the action has run (shutdown): the record goes now, and says so.
        outcome = write_change(execution, handler, task_vars, settings, "success", {})
        if outcome.get("failed") and settings.mode == "fail":
            raise RecordKeepingError(
                "%s: %s: the record of this change is written before it runs, since nothing can be written after it, "
                "and could not be written, so the task was not run: %s" % (PLUGIN, site.host, outcome.get("msg"))
            )
        notes[WRITTEN_BEFORE_NOTE] = outcome


# Where before_task leaves where the change lands and as whom, how its record gets root, what the host check decided,
# what the action may change before after_task writes (synchronize), and the outcome of a record written before.
SITE_NOTE = "site"
PRIVILEGE_NOTE = "privilege"
VERDICT_NOTE = "verdict"
VARS_NOTE = "task_vars"
PLAY_CONTEXT_NOTE = "play_context"
WRITTEN_BEFORE_NOTE = "written_before"
FORWARDING_NOTE = "forwarding"

# A host that forwards its records instead of keeping a log (write_logs = no with an audisp plugin), when declared.
FORWARDING_VAR = "changeaudit_audit_forwarding"

# What becomes of the changes on a host that cannot keep Linux audit records (changeaudit_host_policy).
POLICY_VAR = "changeaudit_host_policy"
FAIL, SKIP, CONTROLLER = "fail", "skip", "controller"
HOST_POLICIES = (FAIL, SKIP, CONTROLLER)
# A host that can keep records.
RECORDS = "records"
# Causes of a failed check write that no setting of this collection mends: the host has no Python where the writer
# looks, a kernel without audit, or a namespace or capability set (a container) where the kernel refuses records.
CANNOT_HOLD_CAUSES = {
    PYTHON_NOT_FOUND: "no Python where the writer looks (ansible_python_interpreter)",
    "AuditNotInKernelError": "a kernel without audit support",
    "AuditNamespaceError": "the kernel refuses audit records from its user namespace (a rootless container)",
    "AuditCapabilityError": "root without CAP_AUDIT_WRITE (a container)",
}


def acting(execution: _core.Execution) -> Acting:
    site = execution.notes.get(SITE_NOTE)
    return site.acting if site is not None else acting_identity(execution.connection, execution.play_context)


def changed_host(execution: _core.Execution, task_vars: t.Mapping[str, t.Any]) -> str:
    """The inventory name of the host the task changes (_change_site), as before_task found it."""
    site = execution.notes.get(SITE_NOTE)
    return site.host if site is not None else _target(execution.task, task_vars)


def skip_reason(task: t.Any, settings: Settings) -> str:
    return "skip list" if settings.skips(*action_names(task)) else "async with poll 0"


def forwarding_declared(task: t.Any, task_vars: t.Mapping[str, t.Any], templar: t.Any) -> bool:
    value = variable(templar, host_variables(task, task_vars), FORWARDING_VAR)
    if value in (None, ""):
        return False
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise RecordPrivilegeError("%s must be true or false, not %r" % (FORWARDING_VAR, value)) from None


def host_policy(task: t.Any, task_vars: t.Mapping[str, t.Any], templar: t.Any) -> str:
    value = variable(templar, host_variables(task, task_vars), POLICY_VAR) or FAIL
    if value not in HOST_POLICIES:
        raise RecordPrivilegeError("%s must be one of %s, not %r" % (POLICY_VAR, ", ".join(HOST_POLICIES), value))
    return str(value)


def cannot_hold_reason(connection: t.Any) -> t.Optional[str]:
    """Why a host cannot hold a Linux audit record, known from its connection alone; None when it may."""
    name = getattr(connection, "_load_name", None) or type(connection).__name__
    if getattr(connection, "_remote_is_local", False):
        return "a network device or API (connection %s runs its modules on the controller)" % name
    family = getattr(getattr(connection, "_shell", None), "SHELL_FAMILY", "sh")
    if family in ("powershell", "cmd"):
        return "not a Linux host (connection %s, shell family %s)" % (name, family)
    return None


def _unrecordable(host: str, reason: str, detail: t.Optional[str], policy: str) -> str:
    return (
        "%s: %s cannot keep Linux audit records: %s%s. Set %s for this host to skip (its changes run unrecorded, with a "
        "warning, and the end-of-run summary lists them) or controller (their records go into the controller's audit "
        "trail), or make the host able to keep records; it is now %s." % (
            PLUGIN, host, reason, " (%s)" % detail.rstrip(".") if detail else "", POLICY_VAR, policy)
    )


def check_host(
    execution: _core.Execution, handler: ActionBase, task_vars: t.Dict[str, t.Any], settings: Settings, policy: str = FAIL
) -> t.Tuple[str, str]:
    """Once per play, target host and record privileges: whether the host can keep records, by a check mode write
    through the task's connection with the privileges the records will be written with. Returns (RECORDS, "") or,
    for a host that cannot hold a Linux audit record and a policy that allows it, (SKIP or CONTROLLER, why)."""
    task = execution.task
    privilege = execution.notes.get(PRIVILEGE_NOTE)
    site = execution.notes.get(SITE_NOTE)
    target = changed_host(execution, task_vars)
    where = site.where if site is not None else _change_site.CONNECTION
    key = (_play_uuid(task), target, "%s:%s" % (where, privilege.key if privilege is not None else ""), policy)
    if key in _CHECKED:
        return _CHECKED[key]
    for line in _read_lines(settings, "checked"):
        if tuple(line[:4]) == key and len(line) >= 6:
            _CHECKED[key] = (line[4], line[5])
            return _CHECKED[key]
    reason = cannot_hold_reason(execution.connection) if where == _change_site.CONNECTION else None
    detail = None
    message = None
    if where == _change_site.CONTROLLER:
        if settings.controller_problem:
            message = "%s: the task changes the controller, which cannot keep audit records: %s" % (
                PLUGIN, settings.controller_problem)
    elif reason is None:
        try:
            outcome = _write_for_change(
                execution,
                handler._templar,
                True,
                task_vars,
                {"op": CHANGE_OP, "fields": {}, "backend": settings.backend, "on_unavailable": "fail", "context": False,
                 "forwarding": bool(execution.notes.get(FORWARDING_NOTE))},
            )
        except AnsibleConnectionFailure:
            # Unreachable before anything ran: core reports the host unreachable, and nothing was changed.
            raise
        except AnsibleError as exc:
            # The connection's own errors (a become password the task's become lacks): the task would fail on them too.
            outcome = {"failed": True, "msg": str(exc)}
        if outcome.get("failed"):
            if outcome.get("cause") in CANNOT_HOLD_CAUSES:
                reason, detail = CANNOT_HOLD_CAUSES[outcome["cause"]], outcome.get("msg")
            else:
                message = (
                    "%s: %s cannot keep audit records, so this task was not run and no task may change this host: %s "
                    "(The check runs before the first task that may change a host in each play; mode=warn only warns.)"
                    % (PLUGIN, target, outcome.get("msg") or "the writer failed")
                )
    verdict = (RECORDS, "")
    if reason is not None:
        if policy == FAIL:
            message = _unrecordable(target, reason, detail, policy)
        elif policy == CONTROLLER and settings.controller_problem:
            message = _unrecordable(target, reason, detail, policy) + (
                " The controller cannot keep them either: %s" % settings.controller_problem
            )
        else:
            verdict = (policy, reason)
            if policy == SKIP:
                display.warning(
                    "%s: %s cannot keep Linux audit records: %s%s; by %s=skip its changes are not recorded, and the "
                    "end-of-run summary lists them." % (PLUGIN, target, reason, " (%s)" % detail.rstrip(".") if detail else "", POLICY_VAR)
                )
    if message is not None:
        if settings.mode == "fail":
            raise RecordKeepingError(message)
        display.warning(message)
    _CHECKED[key] = verdict
    _note(settings, "checked", *(key + verdict))
    return verdict


# The collection's own modules record themselves; their tasks are not in the ledger.
OWN_PREFIX = "changeaudit.linux."


# Where before_task leaves the ledger entry of the change for after_task: (ledger, host, seq).
LEDGER_NOTE = "ledger"


# What an intent line says of the change: these fields of its record, as check_record built it with the longest
# result (under no_log the same keyed hashes; withheld then names the diff too, which the module may not return).
LEDGER_FIELDS = ("object", "object_arg", "withheld", "play", "cmd", "loop_label", "task_path", "become_user", "inventory_host")


def _ledger_intent(
    execution: _core.Execution, settings: Settings, task_vars: t.Dict[str, t.Any],
    record_fields: t.Optional[t.Mapping[str, t.Any]], policy: t.Optional[str] = None,
) -> None:
    """Notes in the run's ledger that the task may now change the host. A ledger that cannot be written stops the
    change (mode fail)."""
    if not settings.ledger_dir:
        return
    task = execution.task
    target = changed_host(execution, task_vars)
    described: t.Dict[str, t.Any] = {"task_id": task._uuid, "module": action_names(task)[0]}
    if policy:
        described["policy"] = policy
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
    execution.notes[LEDGER_NOTE] = (ledger, target, seq)


def run_ledger(settings: Settings, this_run: str, signer: t.Optional[t.Callable[[bytes], str]] = None) -> Ledger:
    """The ledger of ``this_run`` in the settings' ledger directory, chained under the settings' key (``signer``
    signs its seals: only the callback seals)."""
    return Ledger(str(settings.ledger_dir), this_run, settings.ledger_key, settings.ledger_key_id, signer)


def controller_key(ledger_dir: str, extra: t.Mapping[str, t.Any]) -> t.Any:
    return _signing.controller_key(ledger_dir, extra)


def explicit_key(extra: t.Mapping[str, t.Any]) -> t.Any:
    return _signing.explicit_key(extra)


def start_details(settings: t.Optional[Settings] = None) -> t.Dict[str, t.Any]:
    """What the start line of a run's ledger says of the controller process that began it; with ``settings`` that
    sign records, the field their signature is in, so that the evidence of this run accepts only signed records
    (the line is chained under the key: nobody can take that back unseen)."""
    origin = controller_origin()
    details = {"controller": origin.get("hostname"), "user": getpass.getuser(), "ansible_core": ANSIBLE_CORE_VERSION}
    if settings is not None and settings.record_key is not None:
        details["record_signature"] = _signing.RECORD_SIG_FIELD
    return details


def ledger_seq(execution: _core.Execution) -> t.Optional[int]:
    noted = execution.notes.get(LEDGER_NOTE)
    return noted[2] if noted else None


def _ledger_outcome(execution: _core.Execution, outcome: str, settings: Settings, **details: t.Any) -> None:
    noted = execution.notes.pop(LEDGER_NOTE, None)
    if not noted:
        return
    ledger, target, seq = noted
    try:
        ledger.outcome(target, seq, outcome, **details)
    except LedgerError as exc:
        display.warning("%s: %s: the outcome of change %d is not in the run's ledger: %s" % (PLUGIN, target, seq, exc))


def _count_own(execution: _core.Execution, view: t.Any, settings: Settings, task_vars: t.Mapping[str, t.Any]) -> None:
    """Records the collection's own modules wrote count in the summary too."""
    task = execution.task
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
        _note(settings, "records", "written", changed_host(execution, task_vars), run_id(task_vars))


def write_on_controller(params: t.Dict[str, t.Any], target: str, check_mode: bool = False, key: t.Optional[t.Any] = None) -> t.Dict[str, t.Any]:
    """Write the record of a change on ``target`` into the controller's own audit trail, naming the changed host: for
    a host that cannot keep records (changeaudit_host_policy=controller) and for a change of the controller itself
    (synchronize pull); the binding runs in this worker. ``key`` signs it, kept_on and changed_host included."""
    from ansible_collections.changeaudit.linux.plugins.module_utils._audit.request import execute

    params = with_origin(params)
    fields = dict(params.get("fields") or {})
    # Set here whatever params held: a play's own fields may not take these names (_audited.CONTROLLER_ONLY_FIELDS).
    fields.update(changed_host=bounded_text(target, CONTEXT_TEXT_DEFAULT_MAX), kept_on="controller")
    params["fields"] = fields
    params = sign_record(key, params)
    validated, error = validate(params)
    if error:
        return {"failed": True, "msg": error, "recorded": False}
    result = execute(dict(validated, check_mode=check_mode))
    if result.get("failed"):
        result["msg"] = "the controller could not keep the record of a change on %s: %s" % (target, result.get("msg"))
    return result


def controller_problem() -> t.Optional[str]:
    """Why this controller cannot keep audit records (for hosts with changeaudit_host_policy=controller), or None;
    asked when the run starts, with a check mode write of the binding in this process."""
    outcome = write_on_controller({"op": CHANGE_OP, "fields": {}, "on_unavailable": "fail", "context": False}, "localhost", True)
    if not outcome.get("failed"):
        return None
    return "%s%s" % (
        outcome.get("msg"),
        " (an AWX/AAP execution environment is a container without CAP_AUDIT_WRITE: use skip there, or run the "
        "job from a controller that keeps audit records)",
    )


def write_change(
    execution: _core.Execution, handler: ActionBase, task_vars: t.Dict[str, t.Any], settings: Settings, res: str,
    evidence: t.Mapping[str, t.Any],
) -> t.Dict[str, t.Any]:
    """Write the record of the task's change on the host it changed; the writer's outcome. ``before``: written before
    the action runs, because nothing can be written after it (shutdown; record_params adds recorded=before_change)."""
    try:
        params = record_params(execution, settings, task_vars, evidence, res, hasher_for(handler._templar, task_vars))
        # Signed here, where res is final and nothing else is added to the record but where it is kept.
        return _write_for_change(execution, handler._templar, False, task_vars, params, settings.record_key)
    except AnsibleError as exc:
        return {"failed": True, "msg": str(exc)}


def change_verdict(execution: _core.Execution, view: t.Any) -> t.Tuple[bool, t.Optional[str]]:
    """(changed, why the outcome is unknown or None) of the task's final result.

    Core's final verdict, widened where it hides a change: without changed_when (the author's own verdict), an
    attempt of ``until`` before the last that reported a change, and a failed action whose earlier modules
    reported one (copy of a directory returns only the failing file's result), count as changed. A task that
    ended unreachable, or failed without its action saying whether it changed the host (a module that died without
    JSON, a timeout, a failure that names no verdict), may have changed it: its outcome is unknown."""
    task = execution.task
    if view.changed:
        return True, None
    attempts = execution.attempts
    if not any(attempt.started for attempt in attempts):
        # The action never ran (refused, or the host unreachable before it): nothing it could have changed.
        return False, None
    if bool(task.changed_when):
        return False, None
    if any(attempt.changed for attempt in attempts[:-1]):
        return True, None
    if (view.failed or view.unreachable) and any(attempt.module_changed for attempt in attempts):
        return True, None
    if view.unreachable:
        return False, "the host became unreachable during the task: %s" % (view.get("msg") or "no detail")
    last = attempts[-1] if attempts else None
    if not view.failed or last is None or last.verdict:
        return False, None
    if view.get("timedout"):
        return False, "the task timed out before its action said whether it changed the host"
    if not last.ended:
        return False, "the task's action ended without a result (%s)" % (view.get("msg") or "no detail")
    if view.get("module_stdout") is not None or view.get("module_stderr") is not None:
        return False, "the module ended without a result that says whether it changed the host (MODULE FAILURE)"
    return False, "the task failed without saying whether it changed the host"


def _note_unknown(settings: Settings, execution: _core.Execution, target: str, this_run: str, why: str) -> None:
    seq = ledger_seq(execution)
    _note(settings, "records", "unknown", target, this_run,
          "%s%s: %s" % ("#%d " % seq if seq is not None else "", execution.task.get_name(), why))


def after_task(execution: _core.Execution, view: t.Any, task_vars: t.Dict[str, t.Any], settings: Settings) -> None:
    """Write the record of a final changed result, or of a result whose outcome is unknown, on the host that was
    changed; note the outcome in the ledger."""
    task = execution.task
    if _core.refused_here(task) and view.failed:
        # before_task refused this task.
        view.not_ignorable()
        return
    if view.skipped:
        _ledger_outcome(execution, UNCHANGED, settings, skipped=True)
        return
    verdict = execution.notes.get(VERDICT_NOTE) or (RECORDS, "")
    changed, unknown = change_verdict(execution, view)
    # A record the module's process wrote (or failed to write) for a result it said changed, in_module_prelude's.
    in_module = _in_module.report(execution.attempts)
    if in_module is not None:
        changed, unknown = True, None
    if not recordable(task, settings) or verdict[0] == SKIP:
        _count_own(execution, view, settings, task_vars)
        own = action_names(task)[0].startswith(OWN_PREFIX) or _core.core_controller_action(task)
        if (changed or unknown) and not task.check_mode and not own:
            why = "host policy skip: %s" % verdict[1] if verdict[0] == SKIP else skip_reason(task, settings)
            _note(settings, "records", "skipped", changed_host(execution, task_vars), run_id(task_vars), why)
        _ledger_outcome(execution, SKIPPED_BY_POLICY if changed or unknown else UNCHANGED, settings,
                        failed=view.failed or None, unknown=unknown)
        return
    if not changed and not unknown:
        _ledger_outcome(execution, UNCHANGED, settings, failed=view.failed or None)
        return
    # The module's process writes only the record of a result that did not fail.
    res = "success" if in_module is not None else "failed" if unknown else record_result(changed, view.failed)
    handler = execution.handler
    target = changed_host(execution, task_vars)
    this_run = run_id(task_vars)
    if handler is None:
        _ledger_outcome(execution, UNKNOWN if unknown else NOT_RECORDED, settings, res=res,
                        reason="the task ended before its action was made")
        return
    outcome = execution.notes.pop(WRITTEN_BEFORE_NOTE, None)
    path = _in_module.WRITER
    if outcome is None and in_module is not None:
        outcome, path = in_module, _in_module.IN_MODULE
    if outcome is None:
        outcome = write_change(execution, handler, task_vars, settings, res, {key: view.get(key) for key in RESULT_EVIDENCE})
    recorded = bool(outcome.get("recorded")) and not outcome.get("failed")
    summary: t.Dict[str, t.Any] = {"recorded": recorded, "host": target, "run_id": this_run, "path": path}
    if unknown:
        summary["unknown_outcome"] = unknown
    if recorded:
        summary.update(record=outcome.get("record"), sequence=outcome.get("sequence"), verified=outcome.get("verified"))
        _note(settings, "records", "written", target, this_run)
        verified = outcome.get("verified") or {}
        _ledger_outcome(execution, UNKNOWN if unknown else RECORDED, settings, res=res, serial=verified.get("serial"),
                        recorded=True, reason=unknown, path=path)
        view.set(RESULT_KEY, summary)
        return
    error = outcome.get("msg") or "; ".join(str(w) for w in outcome.get("warnings") or []) or "no record"
    summary.update(error=error, cause=outcome.get("cause"))
    if unknown:
        # The task failed or its host went away already: its failure stands, and the proof names the gap.
        _note_unknown(settings, execution, target, this_run, "%s; no record could be written: %s" % (unknown, error))
        _ledger_outcome(execution, UNKNOWN, settings, res=res, reason="%s; no record could be written: %s" % (unknown, error),
                        cause=outcome.get("cause"), path=path)
        display.warning("%s: %s: the outcome of this task is unknown (%s) and no record of it could be written: %s"
                        % (PLUGIN, target, unknown, error))
        view.set(RESULT_KEY, summary)
        return
    _note(settings, "records", "failed", target, this_run)
    _ledger_outcome(execution, NOT_RECORDED, settings, res=res, reason=error, cause=outcome.get("cause"), path=path)
    message = "The change was applied on %s but could not be recorded in its audit trail: %s" % (target, error)
    if settings.mode == "fail":
        # The module's own failure message is this one (the shim's), said once.
        original = view.get("msg") if in_module is None else None
        view.fail(
            message
            + " (%s: ignore_errors does not apply to this failure; mode=warn only warns.)" % PLUGIN
            + (" Task message: %s" % original if original else "")
        )
        view.not_ignorable()
    else:
        display.warning("%s: %s: %s" % (PLUGIN, task_vars.get("inventory_hostname"), message))
    view.set(RESULT_KEY, summary)


# ---------------------------------------------------------------------------------------------- summary


def record_counts(settings: Settings) -> t.Dict[str, t.Dict[str, t.Any]]:
    """Per host: {"written": n, "failed": n, "skipped": {why: n}, "unknown": [change], "run_ids": [...]}, from the
    workers' notes; ``unknown`` names each change whose outcome is unknown and has no record."""
    counts: t.Dict[str, t.Dict[str, t.Any]] = {}
    for line in _read_lines(settings, "records"):
        if len(line) < 3:
            continue
        status, host, this_run = line[:3]
        entry = counts.setdefault(host, {"written": 0, "failed": 0, "skipped": {}, "unknown": [], "run_ids": []})
        if status == "unknown":
            entry["unknown"].append(line[3] if len(line) > 3 else "a change")
        elif status == "skipped":
            why = line[3] if len(line) > 3 else "policy"
            entry["skipped"][why] = entry["skipped"].get(why, 0) + 1
        else:
            entry[status] = entry.get(status, 0) + 1
        if this_run not in entry["run_ids"]:
            entry["run_ids"].append(this_run)
    return counts


__all__ = [
    "RESULT_KEY",
    "DEFAULT_SKIP",
    "RecordKeepingError",
    "Settings",
    "core_series",
    "check_version",
    "install",
    "uninstall",
    "installed",
    "write",
    "action_names",
    "recordable",
    "before_task",
    "check_record",
    "record_params",
    "validate_static_fields",
    "worst_case_params",
    "after_task",
    "record_counts",
    "fix_run_id",
    "check_host",
    "host_policy",
    "cannot_hold_reason",
    "write_on_controller",
    "controller_problem",
    "POLICY_VAR",
    "HOST_POLICIES",
    "ledger_seq",
    "run_ledger",
    "LEDGER_NOTE",
    "read_ledger",
    "ledger_location",
    "controller_key",
    "explicit_key",
    "LEDGER_KEY_PURPOSE",
    "LedgerError",
    "start_details",
]
