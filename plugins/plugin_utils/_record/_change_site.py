# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Which host an action changes, as whom, and when its record can be written: decided before the action runs.

Most actions change the host their connection reaches (the delegated one under ``delegate_to``), as the user the
connection becomes. Some move their work elsewhere, read from their own code (ansible.posix 2.1.0,
community.general 11.4.2):

- ``ansible.posix.synchronize`` runs rsync on the controller or on the delegated host. Push changes the inventory
  host's ``dest``, also with ``delegate_to`` (whose connection reaches the delegated host, so the record needs a
  connection of its own); pull changes the delegated host, or the controller without ``delegate_to``. The remote
  rsync runs as ``become_user`` only with become, ``become_method`` sudo and no ``rsync_path`` (it is ``sudo -u
  <user> rsync`` then), else as the login user. Its action clears ``become`` on the shared play context and, on
  ansible-core 2.21, swaps the interpreter variables of the shared task vars for the controller's, which is why this
  is read before it runs. A ``dest`` that names the host itself (``dest_is_local``: no delegate_to and a local
  connection, or delegate_to the inventory host) changes the connection's host.
- ``community.general.shutdown`` powers the host off with no delay by default, and nothing can be written after it:
  its record is written before it runs (``BEFORE``), and says so (``recorded=before_change``).
- ``ansible.builtin.reboot`` and ``ansible.posix.patch`` change the connection's host; after reboot the action has
  run its test command through that same connection, so the record follows as for any task.
"""

from __future__ import annotations

import getpass
import typing as t

from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._privilege import Acting

# Where the record of the change goes.
CONNECTION = "connection"
INVENTORY_HOST = "inventory_host"
CONTROLLER = "controller"
# When: after the task (every action but those that end the host).
AFTER, BEFORE = "after", "before"

SYNCHRONIZE = frozenset(("ansible.posix.synchronize", "synchronize"))
SHUTDOWN = frozenset(("community.general.shutdown", "shutdown", "community.general.system.shutdown"))


class ChangeSite(t.NamedTuple):
    where: str
    host: str
    acting: Acting
    when: str = AFTER


def _synchronize(task: t.Any, task_vars: t.Mapping[str, t.Any], connection: t.Any, play_context: t.Any, acting: Acting) -> ChangeSite:
    args = task.args or {}
    inventory_host = str(task_vars.get("inventory_hostname") or "")
    delegate = task.delegate_to
    ansible_host = ((task_vars.get("hostvars") or {}).get(inventory_host) or {}).get("ansible_host")
    transport = str(getattr(connection, "transport", "") or getattr(connection, "_load_name", "")).rsplit(".", 1)[-1]
    if (not delegate and transport == "local") or (delegate and delegate in (inventory_host, ansible_host)):
        return ChangeSite(CONNECTION, str(delegate or inventory_host), acting)
    if str(args.get("mode") or "push") == "pull":
        if delegate:
            return ChangeSite(CONNECTION, str(delegate), acting)
        controller_user = getpass.getuser()
        return ChangeSite(CONTROLLER, "localhost", Acting(controller_user, controller_user, False))
    login = str(task_vars.get("ansible_user") or getattr(play_context, "remote_user", None) or acting.login)
    method = str(getattr(play_context, "become_method", None) or "").rsplit(".", 1)[-1]
    if getattr(play_context, "become", False) and method == "sudo" and not args.get("rsync_path"):
        rsync_as = Acting(str(getattr(play_context, "become_user", None) or "root"), login, True)
    else:
        rsync_as = Acting(login, login, False)
    return ChangeSite(INVENTORY_HOST if delegate else CONNECTION, inventory_host, rsync_as)


def change_site(
    resolved_action: str, task: t.Any, task_vars: t.Mapping[str, t.Any], connection: t.Any, play_context: t.Any, acting: Acting
) -> ChangeSite:
    """Where the change of this task lands and as whom, before its action runs."""
    if resolved_action in SYNCHRONIZE:
        return _synchronize(task, task_vars, connection, play_context, acting)
    host = str(task.delegate_to or task_vars.get("inventory_hostname") or "")
    if resolved_action in SHUTDOWN:
        return ChangeSite(CONNECTION, host, acting, BEFORE)
    return ChangeSite(CONNECTION, host, acting)


__all__ = ["CONNECTION", "INVENTORY_HOST", "CONTROLLER", "AFTER", "BEFORE", "ChangeSite", "change_site"]
