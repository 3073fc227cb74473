"""ansible-core's own variable machinery for a test: a real inventory, VariableManager, fact cache, play and task, so
that what the collection reads of a host's variables (and where a value came from) is what core computes."""

from __future__ import annotations

import json

import pytest
import yaml


class CoreRun:
    """An inventory, the run's extra vars, host facts and set_facts, and a play of one task, as core holds them."""

    def __init__(self, tmp_path, monkeypatch, inventory, extra_vars=None, play_vars=None, task=None):
        from ansible import context
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
        from ansible.playbook.play import Play
        from ansible.utils.context_objects import CLIArgs
        from ansible.vars.hostvars import HostVars
        from ansible.vars.manager import VariableManager

        from ansible.utils import vars as core_vars

        # load_extra_vars keeps what it parsed first for the process: each run parses its own.
        monkeypatch.setattr(core_vars.load_extra_vars, "extra_vars", None, raising=False)
        monkeypatch.setattr(context, "CLIARGS", CLIArgs({"extra_vars": (json.dumps(extra_vars),) if extra_vars else ()}))
        path = tmp_path / "inventory.yml"
        path.write_text(yaml.safe_dump(inventory))
        self.loader = DataLoader()
        self.inventory = InventoryManager(loader=self.loader, sources=[str(path)])
        self.manager = VariableManager(loader=self.loader, inventory=self.inventory)
        HostVars(inventory=self.inventory, variable_manager=self.manager, loader=self.loader)
        play = Play.load({"name": "unit", "hosts": "all", "gather_facts": False, "vars": play_vars or {},
                          "tasks": [task or {"ansible.builtin.command": "true"}]},
                         variable_manager=self.manager, loader=self.loader)
        self.task = play.compile()[1].block[0]

    def facts(self, host, **facts):
        """What a host returned as ansible_facts (the strategy's set_host_facts)."""
        self.manager.set_host_facts(host, facts)

    def set_fact(self, host, **values):
        self.manager.set_nonpersistent_facts(host, values)

    def task_vars(self, host, delegate_to=None):
        """The variables TaskExecutor runs the task with on ``host``; with ``delegate_to``, ansible_delegated_vars as
        TaskExecutor._calculate_delegate_to adds them."""
        from ansible.template import Templar

        task_vars = self.manager.get_vars(play=self.task.get_play(), host=self.inventory.get_host(host), task=self.task)
        if delegate_to:
            self.task.delegate_to = delegate_to
            delegated, _name = self.manager.get_delegated_vars_and_hostname(
                Templar(loader=self.loader, variables=task_vars), self.task, task_vars)
            task_vars.update(delegated)
        return task_vars


@pytest.fixture(scope="module")
def core_loaders():
    """ansible-core's plugin loaders (a play resolves its task's module), with the collection loader installed for
    the module only when it is not already (ansible-test units installs it first)."""
    from ansible.plugins.loader import init_plugin_loader
    from ansible.utils.collection_loader._collection_config import AnsibleCollectionConfig

    if AnsibleCollectionConfig.collection_finder is not None:
        yield
        return
    init_plugin_loader()
    try:
        yield
    finally:
        from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

        _AnsibleCollectionFinder._remove()


@pytest.fixture
def core_run(tmp_path, monkeypatch, core_loaders):
    """CoreRun(inventory, extra_vars=, play_vars=, task=) factory; each call a fresh run."""
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _facts

    monkeypatch.setattr(_facts, "_FACTS_WARNED", set())
    monkeypatch.setattr(_facts, "_WITHOUT_FACTS", {})
    return lambda inventory, **kwargs: CoreRun(tmp_path, monkeypatch, inventory, **kwargs)
