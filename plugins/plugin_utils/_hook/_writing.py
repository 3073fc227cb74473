# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Where the hook writes the record of a change: through the task's (delegated) connection, through a connection of
its own to the inventory host (synchronize push with delegate_to), or into the controller's own audit trail (a host
whose policy says controller, a change of the controller itself)."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _tasks
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._policies import CONTROLLER
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._run import TaskRun
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record import _change_site
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._audited import CHANGE_OP, sign_record
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._context import CONTEXT_TEXT_DEFAULT_MAX, bounded_text
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._hashing import hasher_for
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._privilege import Privilege
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer._writer import validate, with_origin, write_on_target


def write(
    action: ActionBase, task_vars: t.Dict[str, t.Any], params: t.Dict[str, t.Any], privilege: t.Optional[Privilege] = None
) -> t.Dict[str, t.Any]:
    """The one place the hook hands a record to the writer (check mode is action._task.check_mode)."""
    return write_on_target(action, task_vars, params, privilege)


class _WriterAction(ActionBase):
    """Carries the task's connection to the writer; never run as a task."""

    TRANSFERS_FILES = False

    def run(self, tmp: t.Any = None, task_vars: t.Any = None) -> t.Dict[str, t.Any]:
        raise NotImplementedError("only the writer uses this action")


def writer_action(
    run: TaskRun, templar: t.Any, check_mode: bool, connection: t.Any = None, play_context: t.Any = None,
    task: t.Any = None,
) -> ActionBase:
    """An action bound to the task's (delegated) connection, become and environment, for the writer only; or to
    the ``connection``, ``play_context`` and ``task`` given.

    Made directly rather than through the action loader: a worker is a fresh fork for each task, and a loader
    lookup there would search the collection paths again for every record.
    """
    execution = run.execution
    task = task if task is not None else execution.task
    writer_task = _tasks.copy_sharing_parent(task)
    writer_task.args = {}
    writer_task.async_val = 0
    writer_task.poll = 0
    writer_task.check_mode = check_mode
    writer_task.diff = False
    return _WriterAction(
        task=writer_task,
        connection=connection if connection is not None else execution.connection,
        play_context=play_context if play_context is not None else run.play_context or execution.play_context,
        loader=execution.loader,
        templar=templar,
        shared_loader_obj=execution.shared_loader_obj,
    )


def write_for_change(
    run: TaskRun, templar: t.Any, check_mode: bool, task_vars: t.Dict[str, t.Any], params: t.Dict[str, t.Any],
    key: t.Optional[t.Any] = None,
) -> t.Dict[str, t.Any]:
    """Write (or check) a record on the host the task changes. ``key`` signs the record once its fields are final
    (on the controller: with the host it names)."""
    site = run.site
    if run.verdict[0] == CONTROLLER or (site is not None and site.where == _change_site.CONTROLLER):
        return write_on_controller(params, run.changed_host(task_vars), check_mode, key)
    params = sign_record(key, params)
    # The variables as they were before the action ran (synchronize swaps the interpreter for the controller's).
    task_vars = dict(task_vars, **run.pre_action_vars)
    if site is not None and site.where == _change_site.INVENTORY_HOST:
        connection, play_context, task = run.execution.inventory_host_connection(task_vars, templar)
        try:
            action = writer_action(run, templar, check_mode, connection, play_context, task)
            try:
                return write(action, task_vars, params)
            finally:
                action.cleanup()
        finally:
            connection.close()
    action = writer_action(run, templar, check_mode)
    try:
        return write(action, task_vars, params, run.privilege)
    finally:
        # The remote tmp dir the writer may have made (no pipelining) goes, as after any action.
        action.cleanup()


def write_change(
    run: TaskRun, handler: ActionBase, task_vars: t.Dict[str, t.Any], res: str, evidence: t.Mapping[str, t.Any]
) -> t.Dict[str, t.Any]:
    """Write the record of the task's change on the host it changed; the writer's outcome."""
    try:
        params = run.record_params(task_vars, evidence, res, hasher_for(handler._templar, task_vars))
        # Signed here, where res is final and nothing else is added to the record but where it is kept.
        return write_for_change(run, handler._templar, False, task_vars, params, run.settings.record_key)
    except AnsibleError as exc:
        return {"failed": True, "msg": str(exc)}


def write_check(run: TaskRun, handler: ActionBase, task_vars: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    """A check mode record where the task's change lands, with the privileges its record will be written with."""
    settings = run.settings
    return write_for_change(
        run, handler._templar, True, task_vars,
        {"op": CHANGE_OP, "fields": {}, "backend": settings.backend, "on_unavailable": "fail", "context": False,
         "forwarding": run.forwarding},
    )


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


__all__ = ["write", "writer_action", "write_for_change", "write_change", "write_check", "write_on_controller", "controller_problem"]
