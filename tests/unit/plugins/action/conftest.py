"""Runs the collection's action plugins the way TaskExecutor does, with ansible-core's real task, templar and module
resolution; faked are only the target (the usys_config module the one writer reaches through _execute_module, as
under Mitogen) and the wrapped module's action handler. Nothing reaches a host or the audit subsystem."""

from __future__ import annotations

import copy
import sys
import types

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.block import Block
from ansible.playbook.play import Play
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.plugins.shell.sh import ShellModule
from ansible.template import Templar
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.request import error_result, record_from_params

TASK_VARS = {"inventory_hostname": "web1", "ansible_play_name": "Harden sshd", "ansible_python_interpreter": sys.executable}


@pytest.fixture(scope="module")
def plugin_loaders():
    """ansible-core's module and action loaders.

    ansible-test units installs the collection loader before it imports anything; under plain pytest it is
    installed here and removed again after the module, so that the imports of other test modules stay plain.
    """
    from ansible.plugins import loader
    from ansible.utils.collection_loader._collection_config import AnsibleCollectionConfig

    if AnsibleCollectionConfig.collection_finder is not None:
        yield loader
        return
    loader.init_plugin_loader()
    try:
        yield loader
    finally:
        from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

        _AnsibleCollectionFinder._remove()


class Target:
    """The usys_config module on the target: builds the record from the params it gets, as request.execute does,
    and writes it unless in check mode. ``error`` is an AuditError the host raises instead (after building it)."""

    def __init__(self):
        self.calls = []
        self.error = None

    @property
    def params(self):
        return self.calls[-1][1]

    def __call__(self, action, module_name=None, module_args=None, task_vars=None, **kwargs):
        check_mode = bool(action._task.check_mode)
        self.calls.append((module_name, dict(module_args), check_mode))
        text = None
        try:
            text = record_from_params(module_args).text
            if self.error is not None:
                raise self.error
        except AuditError as exc:
            return error_result(exc, module_args.get("on_unavailable") or "fail", record=text)
        return {
            "changed": False, "record": text, "recorded": not check_mode, "backend": "netlink",
            "backend_fallback": None, "audit_status": {"enabled": 1}, "sequence": None if check_mode else 7,
            "verified": None,
        }


class InnerHandler:
    """The wrapped module's action handler: returns the result the test set, remembers how it was made."""

    def __init__(self, name, task, collection_list, result):
        self.name = name
        self.task = task
        self.collection_list = collection_list
        self.result = result
        self.cleaned = []

    def run(self, tmp=None, task_vars=None):
        return copy.deepcopy(self.result)

    def cleanup(self, force=False):
        self.cleaned.append(force)


class ActionLoader:
    """Which handler would run the wrapped module is ansible-core's answer; the handler itself is an InnerHandler."""

    def __init__(self, real):
        self.real = real
        self.result = {"changed": True}
        self.handlers = []

    def has_plugin(self, name, collection_list=None):
        return self.real.has_plugin(name, collection_list=collection_list)

    def get(self, name, *args, task=None, collection_list=None, **kwargs):
        handler = InnerHandler(name, task, collection_list, self.result)
        self.handlers.append(handler)
        return handler


class ModuleLoader:
    """ansible-core's module resolution, plus ``extra`` names a test adds (a collection not installed here)."""

    def __init__(self, real):
        self.real = real
        self.extra = {}

    def find_plugin_with_context(self, name, collection_list=None):
        if name in self.extra:
            return self.extra[name]
        return self.real.find_plugin_with_context(name, collection_list=collection_list)


def resolved(fqcn, action_plugin=None):
    """A module load context as ansible-core returns it for a module it found."""
    return types.SimpleNamespace(resolved=True, resolved_fqcn=fqcn, action_plugin=action_plugin, redirect_list=[fqcn])


class Harness:
    def __init__(self, loaders, plugin, action_name, args, mitogen, task_fields, become, task_vars):
        data_loader = DataLoader()
        play = Play.load({"name": "Harden sshd", "hosts": "web1", "gather_facts": False}, loader=data_loader)
        task = Task(block=Block(play=play))
        task.action = action_name
        task._resolved_action = action_name
        task.args = dict(args)
        task.name = "Deploy motd"
        task.check_mode = False
        task.no_log = False
        for name, value in task_fields.items():
            setattr(task, name, value)
        play_context = PlayContext(play=play)
        play_context.become = become
        play_context.become_user = "root" if become else None
        connection_cls = type("Connection", (), {})
        if mitogen:
            connection_cls.__module__ = "ansible_mitogen.connection"
        connection = connection_cls()
        # As TaskExecutor leaves it: the become plugin on the connection, or none; a root login without become, so
        # the record is written with the task's own privileges.
        connection.become = None
        connection.default_user = "root"
        if become:
            connection.become = loaders.become_loader.get("sudo")
            connection.become.set_options(direct={"become_user": "root"})
        connection._shell = ShellModule()
        connection._shell.tmpdir = None
        self.task_vars = dict(TASK_VARS, **(task_vars or {}))
        templar = Templar(loader=data_loader, variables=self.task_vars)
        self.action = plugin.ActionModule(task, connection, play_context, data_loader, templar, None)
        self.actions = ActionLoader(loaders.action_loader)
        self.modules = ModuleLoader(loaders.module_loader)
        self.action._shared_loader_obj = types.SimpleNamespace(action_loader=self.actions, module_loader=self.modules)
        self.target = Target()
        self.action._execute_module = lambda **kwargs: self.target(self.action, **kwargs)
        self.commands = []
        self.action._low_level_execute_command = lambda cmd, *args, **kwargs: pytest.fail("ran on the target: %s" % cmd)

    @property
    def task(self):
        return self.action._task

    @property
    def handler(self):
        [handler] = self.actions.handlers
        return handler

    def run(self):
        return self.action.run(task_vars=dict(self.task_vars))


@pytest.fixture
def harness(plugin_loaders, monkeypatch, tmp_path):
    """harness(plugin, action_name, args, mitogen=True, become=True, task_vars=None, **task_fields) -> Harness.

    With ``mitogen`` the writer reaches the Target through _execute_module; without, nothing may run on the
    target (for requests the controller refuses itself).
    """
    monkeypatch.setenv("CHANGEAUDIT_RUN_ID", "unit-run")
    # No controller key unless a test sets one: a key left beside this machine's default ledger dir by an earlier
    # run would sign the records of every test.
    ledger_dir = tmp_path / "ledgers"
    ledger_dir.mkdir(mode=0o700)
    monkeypatch.setenv("CHANGEAUDIT_LEDGER_DIR", str(ledger_dir))
    for name in ("CHANGEAUDIT_SIGNING_KEY", "CHANGEAUDIT_SIGNING_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)

    def make(plugin, action_name, args, mitogen=True, become=True, task_vars=None, **task_fields):
        return Harness(plugin_loaders, plugin, action_name, args, mitogen, task_fields, become, task_vars)

    return make
