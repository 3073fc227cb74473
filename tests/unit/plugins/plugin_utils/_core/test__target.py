"""Running things on a task's target through an action plugin."""

from __future__ import annotations

import types

from ansible.plugins.shell.sh import ShellModule
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _target


class Action:
    """What the functions call on an ActionBase."""

    def __init__(self):
        self._connection = types.SimpleNamespace(_shell=ShellModule(), _remote_is_local=False)
        self._connection._shell.tmpdir = "/tmp/ansible-task"
        self._cleanup_remote_tmp = False
        self.calls = []

    def _make_tmp_path(self):
        # As ActionBase: the shell's tmpdir becomes the new one, and the task's cleanup removes it.
        self._connection._shell.tmpdir = "/tmp/ansible-new"
        self._cleanup_remote_tmp = True
        return "/tmp/ansible-new"

    def _low_level_execute_command(self, cmd, sudoable=True, in_data=None):
        self.calls.append(("command", cmd, sudoable, in_data))
        return {"rc": 0, "stdout": "", "stderr": ""}

    def _transfer_data(self, remote_path, data):
        self.calls.append(("transfer", remote_path, data))
        return remote_path

    def _execute_module(self, module_name=None, module_args=None, task_vars=None):
        self.calls.append(("module", module_name, module_args, task_vars))
        return {"changed": False}


def test_the_shell_and_where_modules_run_come_from_the_connection():
    action = Action()
    assert _target.shell(action._connection) is action._connection._shell
    assert _target.shell(types.SimpleNamespace()) is None
    assert not _target.remote_is_local(action._connection) and not _target.remote_is_local(types.SimpleNamespace())
    assert _target.remote_is_local(types.SimpleNamespace(_remote_is_local=True))


def test_a_private_tmp_path_leaves_the_tasks_tmp_dir_and_cleanup_as_they_were():
    action = Action()
    assert _target.private_tmp_path(action) == "/tmp/ansible-new"
    assert action._connection._shell.tmpdir == "/tmp/ansible-task" and action._cleanup_remote_tmp is False


def test_commands_files_and_modules_go_through_the_action():
    action = Action()
    assert _target.run_command(action, "true", sudoable=False, in_data=b"x")["rc"] == 0
    assert _target.transfer_data(action, "/tmp/x/f", "data") == "/tmp/x/f"
    assert _target.execute_module(action, "changeaudit.linux.usys_config", {"op": "x"}, {"a": 1}) == {"changed": False}
    assert action.calls == [("command", "true", False, b"x"), ("transfer", "/tmp/x/f", "data"),
                            ("module", "changeaudit.linux.usys_config", {"op": "x"}, {"a": 1})]


def test_python_is_discovered_by_core_for_the_action(monkeypatch):
    asked = []
    monkeypatch.setattr(_target, "discover_interpreter", lambda **kwargs: asked.append(kwargs) or "/usr/bin/python3")
    action = Action()
    assert _target.discover_python(action, "auto_silent", {"x": 1}) == "/usr/bin/python3"
    assert asked == [{"action": action, "interpreter_name": "python", "discovery_mode": "auto_silent", "task_vars": {"x": 1}}]


def test_the_json_object_is_taken_out_of_what_a_module_printed():
    assert _target.json_object_lines('motd\n{"changed": true}\nbye\n') == '{"changed": true}'
