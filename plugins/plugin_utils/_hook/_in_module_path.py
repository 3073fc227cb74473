# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The record of a change written by the module's own process, after its result is final and before it is printed
(_writer/_in_module.py, module_utils/_audit/in_module.py): no second process on the target, no second round trip.
Only where that process can write it and its result is the task's verdict; every other task keeps the writer, and
so does a task whose module leaves it to the writer (its result is not what the record was built with). Which path
wrote the record comes back in the module's result (_core takes it out), so a change is recorded once, by one of
them."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.request import validate_request
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _plugins
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._run import RECORDS, UNDECIDED, InModuleRequest, TaskRun, recordable
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record import _change_site
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._audited import sign_record
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._hashing import hasher_for
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._privilege import AS_TASK
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer import _in_module
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer._interpreter import same_python
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer._writer import is_mitogen, validate, with_origin

# The modules of an action of core that may write the record: the action runs them, and their result is the task's.
IN_MODULE_ACTIONS = {"normal": None, "copy": ("ansible.legacy.copy",)}


def in_module_refusal(run: TaskRun, handler: ActionBase) -> t.Optional[str]:
    """Why this task's record cannot be written in the module's process (the writer writes it), or None."""
    task = run.task
    site = run.site
    privilege = run.privilege
    if not recordable(task, run.settings) or run.verdict[0] != RECORDS:
        return "not recorded on its host"
    if (site is None or site.where != _change_site.CONNECTION or site.when != _change_site.AFTER
            or run.written_before is not None):
        return "recorded elsewhere or before the change"
    if privilege is None or privilege.how != AS_TASK:
        return "the module does not run as root"
    if task.check_mode or task.async_val or task.changed_when or task.failed_when or task.until:
        return "the verdict is the controller's (check mode, async, changed_when, failed_when, until)"
    if task.no_log:
        return "no_log"
    if is_mitogen(run.execution.connection):
        return "Mitogen"
    action = _plugins.core_action(handler)
    if action not in IN_MODULE_ACTIONS:
        return "an action plugin that is not core's normal"
    if action == "copy" and (task.args.get("src") or task.args.get("remote_src") or task.diff
                             or not isinstance(task.args.get("content"), str)):
        # Several modules, or a diff the action makes: only copy of a text content runs one copy module.
        return "copy without text content, or with a diff"
    return None


def in_module_request(run: TaskRun, handler: ActionBase, task_vars: t.Dict[str, t.Any]) -> t.Optional[InModuleRequest]:
    """(request, checksum, modules) for the module's process: the record's params as record_params builds them with
    res=success and the result the module will return (for copy of a text content, its checksum), signed, with the
    writer's defaults and checks; None where the writer must write it."""
    if in_module_refusal(run, handler) is not None:
        return None
    task = run.task
    action = _plugins.core_action(handler)
    checksum = None
    result: t.Dict[str, t.Any] = {}
    if action == "copy":
        import hashlib

        # As the copy action writes the content before the copy module takes it (ActionModule._create_content_tempfile).
        result["checksum"] = hashlib.sha1(task.args["content"].encode("utf-8", "surrogateescape")).hexdigest()  # nosec
        checksum = "sha1:" + result["checksum"]
    try:
        params = run.record_params(task_vars, result, "success", hasher_for(handler._templar, task_vars))
        params = sign_record(run.settings.record_key, with_origin(params))
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
    run: TaskRun, handler: ActionBase, module_name: str, interpreter: str, task_vars: t.Dict[str, t.Any]
) -> t.Optional[str]:
    """What goes in front of this Python module so that its own process writes the record (_core's module prelude);
    None for the writer. Decided once per task (loop item); one module of an attempt writes at most one record."""
    if run.in_module is UNDECIDED:
        run.in_module = in_module_request(run, handler, task_vars)
    decided = run.in_module
    if decided is None or _in_module.report(run.execution.attempts) is not None:
        return None
    request, checksum, modules = decided
    if modules is not None and module_name not in modules:
        return None
    host = run.changed_host(task_vars)
    try:
        return _in_module.prelude(request, checksum, same_python(handler, task_vars, interpreter, host))
    except (TypeError, ValueError):
        # A value the payload cannot carry: the writer records the change (and names what it cannot write).
        return None


__all__ = ["IN_MODULE_ACTIONS", "in_module_refusal", "in_module_request", "in_module_prelude"]
