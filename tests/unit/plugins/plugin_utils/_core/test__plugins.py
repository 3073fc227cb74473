"""Which plugin runs a task, as ansible-core's loaders find it."""

from __future__ import annotations

import os
import types

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _plugins


@pytest.mark.parametrize("action, resolved, controller_only", [
    ("debug", "ansible.builtin.debug", True),
    ("ansible.builtin.set_fact", "ansible.builtin.set_fact", True),
    ("ping", "ansible.builtin.ping", True),
    ("include_tasks", "ansible.builtin.include_tasks", True),
    ("copy", "ansible.builtin.copy", False),
    # Names of the list that resolve elsewhere.
    ("ping", "acme.tools.ping", False),
    ("acme.tools.setup", "acme.tools.setup", False),
])
def test_only_cores_own_controller_actions_change_no_host(core_loaders, action, resolved, controller_only):
    task = types.SimpleNamespace(action=action, resolved_action=resolved, collections=None, check_mode=False)
    assert _plugins.core_controller_action(task) is controller_only


def test_a_roles_library_module_of_a_core_name_may_change_hosts(core_loaders, tmp_path):
    from ansible.plugins.loader import module_loader

    library = tmp_path / "library"
    library.mkdir()
    (library / "setup.py").write_text("#!/usr/bin/python\nprint('{}')\n")
    module_loader.add_directory(str(library))
    try:
        task = types.SimpleNamespace(action="setup", resolved_action="ansible.legacy.setup", collections=None, check_mode=False)
        assert _plugins.core_controller_action(task) is False
    finally:
        # The loader is the process's: later tests would find this setup.py instead of core's.
        module_loader._extra_dirs.remove(os.path.realpath(str(library)))
        module_loader._clear_caches()


def test_core_action_names_cores_own_action_plugins_by_their_file(core_loaders):
    from ansible.plugins.loader import action_loader

    for name in ("normal", "copy", "template"):
        plugin = action_loader.get(name, class_only=True)
        assert _plugins.core_action(plugin.__new__(plugin)) == name
    assert _plugins.core_action(types.SimpleNamespace()) is None


def _action(collections=None):
    from ansible.plugins.loader import action_loader, module_loader

    task = types.SimpleNamespace(collections=collections, copy=lambda **_kw: types.SimpleNamespace())
    return types.SimpleNamespace(
        _task=task, _connection="connection", _play_context="play context", _loader="loader", _templar="templar",
        _shared_loader_obj=types.SimpleNamespace(action_loader=action_loader, module_loader=module_loader),
    )


@pytest.mark.parametrize("name, fqcn", [("copy", "ansible.builtin.copy"), ("ansible.legacy.lineinfile", "ansible.builtin.lineinfile")])
def test_a_module_is_found_by_its_fqcn(core_loaders, name, fqcn):
    found = _plugins.find_module(_action(), name)
    assert found.resolved and found.fqcn == fqcn and found.action_plugin is None


def test_a_module_that_does_not_exist_is_not_resolved(core_loaders):
    found = _plugins.find_module(_action(), "acme.missing.nothing")
    assert not found.resolved and found.fqcn == ""


@pytest.mark.parametrize("module, handler", [
    (_plugins.FoundModule(True, "ansible.builtin.copy", None, []), "copy"),
    (_plugins.FoundModule(True, "acme.tools.copy", "ansible.builtin.template", []), "template"),
    (_plugins.FoundModule(True, "ansible.builtin.lineinfile", None, []), "normal"),
])
def test_the_handler_is_the_one_taskexecutor_would_run(core_loaders, module, handler):
    from ansible.playbook.block import Block
    from ansible.playbook.play import Play
    from ansible.playbook.task import Task
    from ansible.parsing.dataloader import DataLoader

    action = _action()
    action._task = Task(block=Block(play=Play.load({"name": "p", "hosts": "all"}, loader=DataLoader())))
    action._task.action = "changeaudit.linux.audited"
    built = _plugins.module_handler(action, module, {"path": "/etc/motd"})
    assert _plugins.core_action(built) == handler
    assert built._task.args == {"path": "/etc/motd"} and built._task.resolved_action == module.fqcn
    assert action._task.args == {}, "the task itself is left as it is"


def test_become_plugins_are_found_with_their_option_variables(core_loaders):
    sudo = _plugins.become_plugin("sudo")
    assert _plugins.become_method_name(sudo) == "sudo"
    assert "ansible_sudo_pass" in _plugins.become_option_variables(sudo)
    every = _plugins.become_option_variables()
    assert "ansible_su_pass" in every and _plugins.become_option_variables(sudo) <= every
    assert _plugins.become_plugin("acme.missing.become") is None
