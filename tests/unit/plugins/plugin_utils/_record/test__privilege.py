from __future__ import annotations

import types

import pytest

from ansible.plugins.loader import become_loader, init_plugin_loader
from ansible.plugins.shell.sh import ShellModule
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record import _privilege
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._privilege import (
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


@pytest.mark.parametrize("method", ["su", "sudo"])
def test_su_starts_with_the_callers_environment_cleared(tmp_path, method):
    """su hands the login user's environment to root's shell, which runs BASH_ENV before the command: the record's
    su starts under env -i, outside it. sudo resets the environment itself and is left as it is."""
    import os
    import subprocess

    plugin = root_become(Connection(), PLAY_CONTEXT, Task(), {}, None, method)
    command = plugin.build_become_command("/bin/true", ShellModule())
    clean = "/usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "
    assert command.startswith(clean) is (method == "su"), command
    # The words before su, run for real: BASH_ENV and PYTHONPATH of the caller are gone, the command still runs.
    planted = tmp_path / "bash_env.sh"
    planted.write_text("echo PLANTED\n")
    shown = subprocess.run(
        ["/bin/sh", "-c", " ".join(_privilege.clean_environment()) + " /bin/bash -c 'echo ran; env'"],
        env=dict(os.environ, BASH_ENV=str(planted), PYTHONPATH=str(tmp_path)), capture_output=True, text=True, check=True,
    ).stdout
    assert "PLANTED" not in shown and shown.startswith("ran\n")
    assert "PYTHONPATH" not in shown and "BASH_ENV" not in shown


@pytest.mark.parametrize("cache", [None, "FILE:/tmp/krb5cc_ca test"])
def test_ksu_keeps_only_the_ticket_cache_of_the_caller(cache):
    """ksu (community.general) authenticates with the caller's Kerberos tickets: KRB5CCNAME alone stays, when set."""
    import os
    import subprocess

    words = " ".join(_privilege.clean_environment()) + " " + _privilege.ENVIRONMENT_KEEPING_METHODS["ksu"]
    env = dict(os.environ, BASH_ENV="/nonexistent")
    env.pop("KRB5CCNAME", None)
    if cache:
        env["KRB5CCNAME"] = cache
    shown = subprocess.run(["/bin/sh", "-c", words + "/usr/bin/env"], env=env, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert sorted(shown) == sorted(["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] + (["KRB5CCNAME=" + cache] if cache else []))


def test_an_unknown_become_method_is_named():
    with pytest.raises(RecordPrivilegeError, match="'no_such_become'.*ansible_become_method"):
        root_become(Connection(), PLAY_CONTEXT, Task(), {}, None, "no_such_become")


# --- whose variables: the delegated host's alone, never a host's facts (issue 28) ----------------------------------

TWO_HOSTS = {"all": {"hosts": {
    "web1": {"ansible_become_password": "web1-sudo", "changeaudit_become_password": "web1-root",
             "changeaudit_record_privilege": "helper", "changeaudit_record_helper": "/opt/web1/record",
             "ansible_become_method": "su", "changeaudit_host_policy": "skip"},
    "web2": {},
}}}


@pytest.fixture
def warnings(monkeypatch):
    seen = []
    monkeypatch.setattr(_privilege.display, "warning", seen.append)
    return seen


def test_under_delegate_to_the_inventory_hosts_settings_never_reach_the_delegated_host(core_run, warnings):
    run = core_run(TWO_HOSTS)
    task_vars = run.task_vars("web1", delegate_to="web2")
    variables = _privilege.host_variables(run.task, task_vars)
    for name in TWO_HOSTS["all"]["hosts"]["web1"]:
        assert name not in variables, name
    assert variables["inventory_hostname"] == "web1", "core's delegated vars, as TaskExecutor takes them"
    connection = Connection(become_plugin=become(become_user="postgres"))
    privilege = record_privilege(connection, PLAY_CONTEXT, run.task, task_vars, None)
    assert (privilege.how, privilege.method) == (ESCALATED, "sudo")
    # The inventory host's own run still has them.
    run.task.delegate_to = None
    own = _privilege.host_variables(run.task, run.task_vars("web1"))
    assert own["changeaudit_record_privilege"] == "helper" and own["ansible_become_password"] == "web1-sudo"
    assert not warnings


def test_under_delegate_to_play_and_extra_vars_still_apply(core_run):
    run = core_run(TWO_HOSTS, extra_vars={"changeaudit_record_helper": "/usr/sbin/rec"},
                   play_vars={"changeaudit_record_privilege": "helper"})
    variables = _privilege.host_variables(run.task, run.task_vars("web1", delegate_to="web2"))
    assert variables["changeaudit_record_privilege"] == "helper"
    assert variables["changeaudit_record_helper"] == "/usr/sbin/rec"
    assert "changeaudit_become_password" not in variables


def test_a_delegated_host_core_computed_no_variables_for_has_none(core_run):
    run = core_run(TWO_HOSTS)
    task_vars = run.task_vars("web1")
    run.task.delegate_to = "web2"
    assert dict(_privilege.host_variables(run.task, task_vars)) == {}


@pytest.mark.parametrize("delegated", [False, True])
def test_a_hosts_facts_never_choose_the_record_privilege(core_run, warnings, delegated):
    inventory = {"all": {"hosts": {"web1": {"changeaudit_record_privilege": "become"}, "web2": {}}}}
    run = core_run(inventory)
    target = "web2" if delegated else "web1"
    run.facts(target, changeaudit_record_privilege="helper", changeaudit_record_helper="/tmp/evil",
              changeaudit_become_password="guess", ansible_sudo_pass="guess", ansible_hostname=target)
    task_vars = run.task_vars("web1", delegate_to="web2" if delegated else None)
    variables = _privilege.host_variables(run.task, task_vars)
    assert variables.get("changeaudit_record_privilege") == (None if delegated else "become")
    for name in ("changeaudit_record_helper", "changeaudit_become_password", "ansible_sudo_pass"):
        assert name not in variables, name
    assert variables["ansible_hostname"] == target, "other facts stay"
    assert sorted(w.split(" returned a fact named ")[1].split(",")[0] for w in warnings) == [
        "ansible_sudo_pass", "changeaudit_become_password", "changeaudit_record_helper", "changeaudit_record_privilege"]
    assert all(("the host %s returned" % target) in w for w in warnings)
    _privilege.host_variables(run.task, task_vars)
    assert len(warnings) == 4, "once per host and name"
    privilege = record_privilege(Connection(become_plugin=become(become_user="postgres")), PLAY_CONTEXT, run.task, task_vars, None)
    assert privilege.how == ESCALATED


def test_a_play_authors_set_fact_is_trusted(core_run, warnings):
    run = core_run({"all": {"hosts": {"web1": {}}}})
    run.facts("web1", changeaudit_record_privilege="helper")
    run.set_fact("web1", changeaudit_record_privilege="helper")
    assert _privilege.host_variables(run.task, run.task_vars("web1"))["changeaudit_record_privilege"] == "helper"
    assert not warnings


def test_which_names_are_the_operators():
    for name in ("changeaudit_host_policy", "ansible_become_password", "ansible_su_pass", "ansible_sudo_flags", "awx_user_name"):
        assert _privilege.operator_setting(name), name
    for name in ("ansible_hostname", "ansible_user_id", "ansible_distribution", "my_var"):
        assert not _privilege.operator_setting(name), name


def test_every_way_a_record_gets_root_has_its_row():
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._record import _privilege as privilege_module

    ways = privilege_module.PRIVILEGE_WAYS
    assert set(ways) == {privilege_module.AS_TASK, privilege_module.ESCALATED, privilege_module.HELPER}
    assert all(way.how == how for how, way in ways.items())
    assert [how for how, way in ways.items() if way.escalates] == [privilege_module.ESCALATED]
    assert [how for how, way in ways.items() if way.runs_helper] == [privilege_module.HELPER]
    for how in ways:
        privilege = privilege_module.Privilege(how, "deploy", method="sudo", helper_path="/usr/local/sbin/changeaudit-record")
        assert privilege.way is ways[how] and privilege.describe() and privilege_module.escalation_fix(privilege)
