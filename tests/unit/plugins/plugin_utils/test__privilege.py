from __future__ import annotations

import types

import pytest

from ansible.plugins.loader import become_loader, init_plugin_loader
from ansible.plugins.shell.sh import ShellModule
from ansible_collections.changeaudit.linux.plugins.plugin_utils import _privilege
from ansible_collections.changeaudit.linux.plugins.plugin_utils._privilege import (
    AS_TASK,
    ESCALATED,
    HELPER,
    Acting,
    RecordPrivilegeError,
    acting_identity,
    escalated,
    escalation_fix,
    record_privilege,
    root_become,
)


@pytest.fixture(scope="module", autouse=True)
def loaders():
    """ansible-core's become loader, with the collection loader installed for this module only (as plugins/action's
    conftest does), so that the imports of other test modules stay plain."""
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


def become(method="sudo", **options):
    plugin = become_loader.get(method)
    plugin.set_options(direct=options)
    return plugin


class Connection:
    """As TaskExecutor leaves a connection for a task: its become plugin (or none) and its options."""

    transport = "ssh"

    def __init__(self, remote_user="deploy", become_plugin=None):
        self.options = {"remote_user": remote_user}
        self.become = become_plugin
        self._shell = ShellModule()
        self.has_tty = False

    def get_option(self, name):
        return self.options[name]

    def set_become_plugin(self, plugin):
        self.become = plugin


class Task:
    become_method = "sudo"
    delegate_to = None

    def dump_attrs(self):
        return {"become_user": None, "become_method": self.become_method}


PLAY_CONTEXT = types.SimpleNamespace(remote_user="deploy", become_pass=None)


def test_who_the_task_acts_as():
    assert acting_identity(Connection(become_plugin=become(become_user="postgres")), PLAY_CONTEXT) == Acting("postgres", "deploy", True)
    assert acting_identity(Connection(), PLAY_CONTEXT) == Acting("deploy", "deploy", False)
    assert Acting("postgres", "deploy", True).fields() == {"become_user": "postgres"}
    assert Acting("deploy", "deploy", False).fields() == {"remote_user": "deploy"}


@pytest.mark.parametrize(
    "connection, how",
    [
        (Connection(become_plugin=become(become_user="root")), AS_TASK),
        (Connection(remote_user="root"), AS_TASK),
        (Connection(become_plugin=become(become_user="www-data")), ESCALATED),
        (Connection(), ESCALATED),
    ],
)
def test_the_record_is_escalated_only_where_the_task_is_not_root(connection, how):
    privilege = record_privilege(connection, PLAY_CONTEXT, Task(), {}, None)
    assert privilege.how == how
    if how == ESCALATED:
        assert privilege.method == "sudo" and privilege.login == "deploy"


def test_the_play_become_method_is_used_without_become():
    privilege = record_privilege(Connection(), PLAY_CONTEXT, Task(), {"ansible_become_method": "su"}, None)
    assert (privilege.how, privilege.method) == (ESCALATED, "su")


def test_helper_mode_and_bad_settings():
    privilege = record_privilege(Connection(), PLAY_CONTEXT, Task(), {"changeaudit_record_privilege": "helper"}, None)
    assert (privilege.how, privilege.helper_path) == (HELPER, "/usr/local/sbin/changeaudit-record")
    with pytest.raises(RecordPrivilegeError, match="changeaudit_record_privilege must be one of become, helper"):
        record_privilege(Connection(), PLAY_CONTEXT, Task(), {"changeaudit_record_privilege": "sudo"}, None)
    with pytest.raises(RecordPrivilegeError, match="absolute path"):
        record_privilege(Connection(), PLAY_CONTEXT, Task(), {"changeaudit_record_privilege": "helper", "changeaudit_record_helper": "bin/x"}, None)


def test_escalation_becomes_root_for_the_record_only_and_puts_the_tasks_become_back():
    task_become = become(become_user="postgres", become_pass="deploy's password")
    connection = Connection(become_plugin=task_become)
    action = types.SimpleNamespace(_connection=connection, _play_context=PLAY_CONTEXT, _task=Task(), _templar=None)
    privilege = record_privilege(connection, PLAY_CONTEXT, Task(), {}, None)
    with escalated(action, privilege, {}):
        assert connection.become is not task_become
        assert connection.become.get_option("become_user") == "root"
        # sudo asks for the login user's password, whoever it switches to.
        assert connection.become.get_option("become_pass") == "deploy's password"
    assert connection.become is task_become
    assert task_become.get_option("become_user") == "postgres"
    with pytest.raises(RuntimeError):
        with escalated(action, privilege, {}):
            raise RuntimeError("the write failed")
    assert connection.become is task_become


def test_without_become_the_writer_makes_its_own_become_and_leaves_none_behind():
    connection = Connection()
    action = types.SimpleNamespace(_connection=connection, _play_context=PLAY_CONTEXT, _task=Task(), _templar=None)
    privilege = record_privilege(connection, PLAY_CONTEXT, Task(), {"ansible_become_password": "pw"}, None)
    with escalated(action, privilege, {"ansible_become_password": "pw"}):
        assert connection.become.get_option("become_user") == "root"
        assert connection.become.get_option("become_pass") == "pw"
    assert connection.become is None


def test_su_never_answers_with_another_users_password():
    task_become = become("su", become_user="postgres", become_pass="postgres's password")
    plugin = root_become(Connection(become_plugin=task_become), PLAY_CONTEXT, Task(), {}, None, "su")
    assert plugin.get_option("become_user") == "root" and plugin.get_option("become_pass") is None
    plugin = root_become(Connection(become_plugin=task_become), PLAY_CONTEXT, Task(), {"changeaudit_become_password": "root pw"}, None, "su")
    assert plugin.get_option("become_pass") == "root pw"
    fix = escalation_fix(_privilege.Privilege(ESCALATED, "deploy", method="su"))
    assert "root's password in changeaudit_become_password" in fix


def test_an_unknown_become_method_is_named():
    with pytest.raises(RecordPrivilegeError, match="'no_such_become'.*ansible_become_method"):
        root_become(Connection(), PLAY_CONTEXT, Task(), {}, None, "no_such_become")
