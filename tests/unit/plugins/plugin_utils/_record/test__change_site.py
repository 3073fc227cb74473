from __future__ import annotations

import getpass
import types

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._change_site import (
    BEFORE,
    CONNECTION,
    CONTROLLER,
    INVENTORY_HOST,
    change_site,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._privilege import Acting

ACTING = Acting("root", "deploy", True)
TASK_VARS = {"inventory_hostname": "web1", "hostvars": {"web1": {"ansible_host": "10.0.0.1"}}}


def task(args=None, delegate_to=None):
    return types.SimpleNamespace(args=args or {}, delegate_to=delegate_to)


def play_context(become=True, become_user="root", become_method="sudo"):
    return types.SimpleNamespace(become=become, become_user=become_user, become_method=become_method, remote_user="deploy")


SSH = types.SimpleNamespace(transport="ssh")
LOCAL = types.SimpleNamespace(transport="local")


def site(args=None, delegate_to=None, connection=SSH, context=None, action="ansible.posix.synchronize"):
    return change_site(action, task(args, delegate_to), TASK_VARS, connection, context or play_context(), ACTING)


def test_most_actions_change_the_host_their_connection_reaches():
    assert site(action="ansible.builtin.copy") == (CONNECTION, "web1", ACTING, "after")
    assert site(action="ansible.posix.patch", delegate_to="db1") == (CONNECTION, "db1", ACTING, "after")
    assert site(action="ansible.builtin.reboot").when == "after"


def test_shutdown_is_recorded_before_it_runs():
    assert site(action="community.general.shutdown") == (CONNECTION, "web1", ACTING, BEFORE)


def test_synchronize_push_changes_the_inventory_host_as_the_rsync_it_runs():
    assert site({"src": "a", "dest": "/b"}) == (CONNECTION, "web1", Acting("root", "deploy", True), "after")
    # With delegate_to the connection reaches the delegated host; the change is the inventory host's.
    assert site({"src": "a", "dest": "/b"}, delegate_to="localhost") == (INVENTORY_HOST, "web1", Acting("root", "deploy", True), "after")
    # rsync_path, another method or no become: the remote rsync runs as the login user.
    for args, context in (
        ({"rsync_path": "rsync"}, play_context()),
        ({}, play_context(become_method="su")),
        ({}, play_context(become=False)),
    ):
        assert site(args, context=context).acting == Acting("deploy", "deploy", False)


def test_synchronize_pull_changes_the_delegated_host_or_the_controller():
    user = getpass.getuser()
    assert site({"mode": "pull"}) == (CONTROLLER, "localhost", Acting(user, user, False), "after")
    assert site({"mode": "pull"}, delegate_to="backup1") == (CONNECTION, "backup1", ACTING, "after")


@pytest.mark.parametrize("delegate_to, connection", [(None, LOCAL), ("web1", SSH), ("10.0.0.1", SSH)])
def test_synchronize_to_the_host_itself_changes_the_connections_host(delegate_to, connection):
    for mode in ("push", "pull"):
        assert site({"mode": mode}, delegate_to=delegate_to, connection=connection).where == CONNECTION
