# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Running things on a task's target through an action plugin, for the record writer: what ``ActionBase`` does for
its own module runs (``_low_level_execute_command``, ``_make_tmp_path``, ``_transfer_data``, ``_execute_module``,
interpreter discovery), the connection's shell plugin (``_shell``) and whether the connection runs its modules on the
controller (``_remote_is_local``). All are private to ansible-core; an action plugin of a collection has no public way
to run a command on its host, so they are used here only, with the same signatures on 2.19, 2.20 and 2.21.

Each function takes the action (an ``ActionBase``) and calls the method on it, so a test's fake action stands in.
"""

from __future__ import annotations

import typing as t

from ansible.executor.interpreter_discovery import discover_interpreter


def shell(connection: t.Any) -> t.Any:
    """The connection's shell plugin (``ConnectionBase._shell``): how commands are quoted and joined on the target,
    and its family (``SHELL_FAMILY``); None for a connection without one."""
    return getattr(connection, "_shell", None)


def remote_is_local(connection: t.Any) -> bool:
    """Whether the connection runs its modules on the controller (``ConnectionBase._remote_is_local``: network_cli,
    httpapi and the like): the target is then no Linux host of its own."""
    return bool(getattr(connection, "_remote_is_local", False))


def run_command(action: t.Any, command: str, sudoable: bool, in_data: t.Optional[bytes] = None) -> t.Dict[str, t.Any]:
    """Runs ``command`` on the action's host (``ActionBase._low_level_execute_command``): through the connection's
    become plugin when ``sudoable``, ``in_data`` on its stdin; {rc, stdout, stderr, ...}."""
    return action._low_level_execute_command(command, sudoable=sudoable, in_data=in_data)


def private_tmp_path(action: t.Any) -> str:
    """A new directory on the host, made by the login user, that is not the task's remote tmp dir
    (``ActionBase._make_tmp_path``, which makes the task's own when the shell has none yet, and notes that the task's
    cleanup removes it): the task's tmp dir and its cleanup stay as they were, and the caller removes this one."""
    target_shell = action._connection._shell
    task_tmpdir, task_cleanup = target_shell.tmpdir, getattr(action, "_cleanup_remote_tmp", None)
    target_shell.tmpdir = None
    try:
        return action._make_tmp_path()
    finally:
        target_shell.tmpdir = task_tmpdir
        if task_cleanup is not None:
            action._cleanup_remote_tmp = task_cleanup


def transfer_data(action: t.Any, remote_path: str, data: t.Any) -> str:
    """Puts ``data`` (text or bytes) into ``remote_path`` on the host (``ActionBase._transfer_data``)."""
    return action._transfer_data(remote_path, data)


def execute_module(action: t.Any, module_name: str, module_args: t.Dict[str, t.Any], task_vars: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    """Runs a module on the host as the task runs its own (``ActionBase._execute_module``): the only way in under
    Mitogen, whose connection replaces how modules run."""
    return action._execute_module(module_name=module_name, module_args=module_args, task_vars=task_vars)


def discover_python(action: t.Any, discovery_mode: str, task_vars: t.Mapping[str, t.Any]) -> str:
    """The host's Python as ansible-core discovers it for a module (``executor.interpreter_discovery``, not public:
    ``ActionBase._configure_module`` calls it) with the action's connection."""
    return discover_interpreter(action=action, interpreter_name="python", discovery_mode=discovery_mode, task_vars=task_vars)


def json_object_lines(text: str) -> str:
    """The JSON object in a module's output, without the lines around it, as core parses a module's output
    (``module_utils.json_utils._filter_non_json_lines``)."""
    from ansible.module_utils.json_utils import _filter_non_json_lines

    return _filter_non_json_lines(text, objects_only=True)[0]


__all__ = [
    "discover_python",
    "execute_module",
    "json_object_lines",
    "private_tmp_path",
    "remote_is_local",
    "run_command",
    "shell",
    "transfer_data",
]
