# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""One task (or loop item) being executed in a worker, as the task hook (``_task_hook``) sees it: ``Execution``
gives what the hook needs of ansible-core's ``TaskExecutor`` (its private ``_task``, ``_play_context``,
``_connection``, ``_handler``...), and a connection to a delegated task's inventory host
(``Execution.inventory_host_connection``), set up with ``TaskExecutor._get_connection`` and
``_set_connection_options`` as the executor sets up a task's own: an action that changes the inventory host from
the delegated one (synchronize push with delegate_to) gets its record there. ``Attempt`` is one run of the task's
action handler.
"""

from __future__ import annotations

import typing as t


class Execution:
    """One task (or loop item) being executed in a worker, by what the hook needs of ``TaskExecutor``."""

    def __init__(self, executor: t.Any) -> None:
        self._executor = executor

    task = property(lambda self: self._executor._task)
    play_context = property(lambda self: self._executor._play_context)
    connection = property(lambda self: self._executor._connection)
    loader = property(lambda self: self._executor._loader)
    shared_loader_obj = property(lambda self: self._executor._shared_loader_obj)
    # The action handler of this execution; None before one was made.
    handler = property(lambda self: getattr(self._executor, "_handler", None))

    def inventory_host_connection(self, task_vars: t.Mapping[str, t.Any], templar: t.Any) -> t.Tuple[t.Any, t.Any, t.Any]:
        """(connection, play context, task) to the inventory host of a delegated task, set up as TaskExecutor sets up
        a task's own: for an action that changes the inventory host from the delegated one (synchronize push with
        delegate_to). The caller closes the connection. Uses TaskExecutor._get_connection and
        _set_connection_options on a shallow copy of the executor, whose own connection stays as it is."""
        import copy

        executor = self._executor
        task = executor._task.copy(exclude_parent=False, exclude_tasks=True)
        task.delegate_to = None
        proxy = copy.copy(executor)
        proxy._task = task
        proxy._play_context = executor._play_context.set_task_and_variable_override(
            task=task, variables=task_vars, templar=templar
        )
        connection_type = task_vars.get("ansible_connection")
        connection_type = templar.template(connection_type) if connection_type is not None else task.connection
        proxy._connection = proxy._get_connection(task_vars, templar, connection_type)
        proxy._set_connection_options(task_vars, templar)
        return proxy._connection, proxy._play_context, task

    @property
    def attempts(self) -> t.List["Attempt"]:
        """The attempts of this execution so far: one per action handler TaskExecutor made (``until`` makes a new
        one for each retry), each with what its action returned before core's defaults and changed_when."""
        return self._executor.__dict__.setdefault(_ATTEMPTS_ATTR, [])

    @property
    def notes(self) -> t.Dict[str, t.Any]:
        """What the hook before the action leaves for the hook after it: kept on the TaskExecutor, which runs one
        task on one host (its loop items one after the other) in one worker."""
        return self._executor.__dict__.setdefault("_changeaudit_notes", {})


class Attempt:
    """One run of the task's action handler: whether it returned (a timeout or a crash of the action does not), and
    what it said. ``verdict``: the result held ``changed`` (core adds ``changed: false`` to any result that lacks it,
    so a module that died without JSON, or failed without saying, looks unchanged after core); ``module_changed``: a
    module the action ran reported a change (an action that runs several modules, such as copy of a directory,
    returns only the failing one's result)."""

    __slots__ = ("started", "ended", "verdict", "changed", "failed", "module_changed", "module_reports", "preluded")

    def __init__(self) -> None:
        self.started = False
        self.ended = False
        self.verdict = False
        self.changed = False
        self.failed = False
        self.module_changed = False
        # What the modules run with a prelude (install_task_hook's module_prelude) reported under its key, in order.
        self.module_reports: t.List[t.Dict[str, t.Any]] = []
        # Whether the module run now going on got a prelude: only its report counts.
        self.preluded = False

    @property
    def reported_change(self) -> bool:
        return self.changed or self.module_changed


_ATTEMPTS_ATTR = "_changeaudit_attempts"


__all__ = ["Attempt", "Execution"]
