# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Whose privileges write the record, whoever the task ran as.

The kernel keeps a user record only from root (or a holder of CAP_AUDIT_WRITE), while real roles run tasks as a
service account (``become_user: postgres``) or as the login user (``become: false``). So the record is written as
root for the record only: with the play's become method, through a become plugin the writer puts on the connection
for its own command and takes off again, so the task's become is never touched (``escalated``); or, where the
sudoers allow no arbitrary root command, through the fixed record helper the ``record_helper`` role installs, which
``sudo -n`` runs with the request on stdin (``HELPER``). Who the task acted as is taken before the action runs
(``acting_identity``): an action may change the shared play context (synchronize clears its ``become``).

Host variables choose (read per host, so one inventory can mix them):
``changeaudit_record_privilege`` (``become``, the default, or ``helper``), ``changeaudit_record_helper`` (the
helper's path) and ``changeaudit_become_password`` (root's password, for the methods that ask for the target user's:
su, machinectl, ksu; otherwise the task's own become password serves, which sudo and doas ask for the login user).
Under delegate_to they are the delegated host's alone, as ansible-core takes them, and none of them (nor a become
variable) is ever taken from a host's own facts (``host_variables``).
"""

from __future__ import annotations

import contextlib
import getpass
import typing as t

from ansible.errors import AnsibleError
from ansible.utils.display import Display
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _facts
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._plugins import (
    become_method_name,
    become_option_variables,
    become_plugin,
)

display = Display()

ROOT = "root"
PRIVILEGE_VAR = "changeaudit_record_privilege"
HELPER_PATH_VAR = "changeaudit_record_helper"
ROOT_PASSWORD_VAR = "changeaudit_become_password"
DEFAULT_HELPER_PATH = "/usr/local/sbin/changeaudit-record"
PRIVILEGE_CHOICES = ("become", "helper")
# These ask for the password of the user they switch to: for the record, root's.
TARGET_PASSWORD_METHODS = frozenset(("su", "machinectl", "ksu"))

# How a record gets written: as the task already is (it runs as root), escalated for the record, or by the helper.
AS_TASK = "task"
ESCALATED = "become"
HELPER = "helper"


class RecordPrivilegeError(AnsibleError):
    """A privilege setting that cannot work, found before anything runs on the host."""


class Acting(t.NamedTuple):
    """Who a task acts as on its host: ``user``, reached from the login ``login`` with become (``became``) or not."""

    user: str
    login: str
    became: bool

    def fields(self) -> t.Dict[str, str]:
        """What the record says of it: become_user with become, else the login user as remote_user."""
        return {"become_user": self.user} if self.became else {"remote_user": self.login}


class Privilege(t.NamedTuple):
    """How the record of a task's change gets root on the host."""

    how: str
    login: str
    method: t.Optional[str] = None
    helper_path: t.Optional[str] = None

    @property
    def key(self) -> str:
        """The same key means the same privileges: the check before the first change is done once per key."""
        return "%s:%s:%s" % (self.how, self.login, self.method or self.helper_path or "")

    @property
    def way(self) -> "PrivilegeWay":
        return PRIVILEGE_WAYS[self.how]

    def describe(self) -> str:
        return self.way.describe(self)


def login_user(connection: t.Any, play_context: t.Any) -> str:
    """The user the connection logs in as, as ActionBase._get_remote_user finds it; ssh without one set logs in as
    the controller's user."""
    try:
        user = connection.get_option("remote_user")
    except (KeyError, AttributeError):
        user = getattr(connection, "default_user", None) or getattr(play_context, "remote_user", None)
    return str(user or getpass.getuser())


def acting_identity(connection: t.Any, play_context: t.Any) -> Acting:
    """Who the task acts as, from the become plugin the connection carries for it (set by TaskExecutor before the
    action runs)."""
    login = login_user(connection, play_context)
    become = getattr(connection, "become", None)
    if become is not None:
        try:
            user = become.get_option("become_user")
        except KeyError:
            user = None
        return Acting(str(user or ROOT), login, True)
    return Acting(login, login, False)


def _become_variables() -> t.FrozenSet[str]:
    """Every variable a become plugin takes an option from (ansible_sudo_pass, ansible_su_exe, ...), found once."""
    if not _BECOME_VARS:
        _BECOME_VARS.append(become_option_variables())
    return _BECOME_VARS[0]


_BECOME_VARS: t.List[t.FrozenSet[str]] = []
# The collection's settings, the become settings the record is escalated with, and what AWX/AAP says of the job.
OPERATOR_PREFIXES = ("changeaudit_", "ansible_become", "awx_", "tower_")
# How the variables of become plugins' options end (ansible_sudo_pass, ansible_su_prompt_l10n, ansible_pbrun_wrap_execution).
BECOME_OPTION_ENDS = frozenset(("pass", "password", "exe", "flags", "user", "l10n", "chdir", "execution", "prompt"))


def operator_setting(name: str) -> bool:
    """Whether ``name`` is a setting only the operator gives (inventory, play, role or extra vars), never a host's
    facts: the collection's, the become plugins' and AWX/AAP's."""
    if name.startswith(OPERATOR_PREFIXES):
        return True
    # The become plugins are loaded only for a name shaped like one of their options: gathered facts are not.
    return name.startswith("ansible_") and name.rsplit("_", 1)[-1] in BECOME_OPTION_ENDS and name in _become_variables()


def host_variables(task: t.Any, task_vars: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    """The variables of the host the task runs on, as ansible-core's TaskExecutor takes them for the connection: under
    delegate_to the delegated host's alone (``ansible_delegated_vars``, which VariableManager computes with the
    play, the task and the extra vars), never falling back to the inventory host's. A setting of the operator's
    (operator_setting) that the host's own facts gave is ignored, with a warning."""
    host_name = task_vars.get("inventory_hostname")
    if task.delegate_to:
        # As TaskExecutor._execute: a delegated host whose variables core did not compute has none.
        task_vars = (task_vars.get("ansible_delegated_vars") or {}).get(task.delegate_to) or {}
        host_name = task.delegate_to
    return _facts.without_host_facts(task_vars, operator_setting, host_name, task, display.warning)


def variable(templar: t.Any, variables: t.Mapping[str, t.Any], name: str) -> t.Any:
    """The variable ``name`` of ``variables`` (host_variables), templated with them; None when it is not set."""
    value = variables.get(name)
    if value is None or templar is None:
        return value
    return templar.copy_with_new_env(available_variables=variables).template(value)


def record_privilege(
    connection: t.Any, play_context: t.Any, task: t.Any, task_vars: t.Mapping[str, t.Any], templar: t.Any
) -> Privilege:
    """How the record of this task's change gets root: refuses a setting that cannot work, naming it."""
    variables = host_variables(task, task_vars)
    acting = acting_identity(connection, play_context)
    choice = variable(templar, variables, PRIVILEGE_VAR) or "become"
    if choice not in PRIVILEGE_CHOICES:
        raise RecordPrivilegeError(
            "%s must be one of %s, not %r" % (PRIVILEGE_VAR, ", ".join(PRIVILEGE_CHOICES), choice)
        )
    if choice == HELPER:
        path = str(variable(templar, variables, HELPER_PATH_VAR) or DEFAULT_HELPER_PATH)
        if not path.startswith("/"):
            raise RecordPrivilegeError("%s must be an absolute path, not %r" % (HELPER_PATH_VAR, path))
        return Privilege(HELPER, acting.login, helper_path=path)
    if acting.user == ROOT:
        return Privilege(AS_TASK, acting.login)
    method = variable(templar, variables, "ansible_become_method") or task.become_method or "sudo"
    return Privilege(ESCALATED, acting.login, method=str(method))


# Absolute: the target's PATH is the login user's, and nothing of it may choose what runs as root for the record.
ENV_EXE = "/usr/bin/env"
# The whole environment of the writer's root process (env -i): no PYTHON*, BASH_ENV, ENV, LD_* or locale of the caller.
CLEAN_ENVIRONMENT = ("PATH=/usr/sbin:/usr/bin:/sbin:/bin",)
# These hand the caller's environment to the root shell they start, which runs BASH_ENV (bash is root's usual login
# shell) before the command does: the caller's environment is cleared before they start, outside them. KRB5CCNAME
# stays for ksu, whose authentication reads the caller's Kerberos ticket cache from it; it chooses nothing root runs.
ENVIRONMENT_KEEPING_METHODS = {"su": "", "ksu": '${KRB5CCNAME:+"KRB5CCNAME=$KRB5CCNAME"} '}


def clean_environment() -> t.Tuple[str, ...]:
    """The words that start a command with no environment but CLEAN_ENVIRONMENT: ``/usr/bin/env -i PATH=...``."""
    return (ENV_EXE, "-i") + CLEAN_ENVIRONMENT


def _started_clean(plugin: t.Any, keep: str) -> None:
    """The become command of ``plugin`` (one instance, made for the record) starts with a cleared environment."""
    build = plugin.build_become_command

    def build_become_command(cmd: str, shell: t.Any) -> str:
        return "%s %s%s" % (" ".join(clean_environment()), keep, build(cmd, shell))

    plugin.build_become_command = build_become_command


def root_become(
    connection: t.Any, play_context: t.Any, task: t.Any, task_vars: t.Mapping[str, t.Any], templar: t.Any, method: str
) -> t.Any:
    """A become plugin of ``method`` to root, with the options the task's own become has (or, without become, the
    host's become variables), for the writer's command only.

    su and ksu (ENVIRONMENT_KEEPING_METHODS) start with a cleared environment (``env -i``), so that PYTHONPATH,
    BASH_ENV or LD_LIBRARY_PATH exported by the login user's dotfiles never reach root's shell or the writer, which
    starts isolated again itself (``clean_environment``, ``_program.PYTHON_FLAGS``). What su or ksu from a login
    that is not root (``become: false`` tasks, or a become_user other than root) still trusts is that login account:
    its shell and startup files run before the command, in the session that types root's password
    (``changeaudit_become_password``) to su and that root's shell comes from, and the become_exe it finds on its
    PATH is the su that runs. Whoever can write that account's files, or run as it, can capture root's password or
    run code as root. Give root's password for su only to logins trusted as much as root, or use sudo or the record
    helper, which give that login only the record.
    """
    variables = host_variables(task, task_vars)
    plugin = become_plugin(method)
    if plugin is None:
        raise RecordPrivilegeError(
            "the become method %r, with which the record is written as root, was not found; set ansible_become_method "
            "to an installed one (ansible-doc -t become -l)" % method
        )
    current = getattr(connection, "become", None)
    name = become_method_name(plugin)
    if current is not None and become_method_name(current) == name:
        options = current.get_options()
        own_user = options.get("become_user") or ROOT
    else:
        var_options = {}
        for var in sorted(become_option_variables(plugin)):
            if var in variables:
                var_options[var] = variable(templar, variables, var)
        task_keys = task.dump_attrs()
        if getattr(play_context, "become_pass", None):
            task_keys["become_pass"] = play_context.become_pass
        plugin.set_options(task_keys=task_keys, var_options=var_options)
        options = plugin.get_options()
        own_user = (current.get_option("become_user") if current is not None else None) or ROOT
    options["become_user"] = ROOT
    root_password = variable(templar, variables, ROOT_PASSWORD_VAR)
    if root_password:
        options["become_pass"] = root_password
    elif name in TARGET_PASSWORD_METHODS and own_user != ROOT:
        # The password the task has is the password of the user it becomes, never root's.
        options["become_pass"] = None
    plugin.set_options(direct=options)
    if name in ENVIRONMENT_KEEPING_METHODS:
        _started_clean(plugin, ENVIRONMENT_KEEPING_METHODS[name])
    return plugin


@contextlib.contextmanager
def escalated(
    action: t.Any, privilege: Privilege, task_vars: t.Mapping[str, t.Any]
) -> t.Iterator[None]:
    """Within: the action's connection becomes root with ``privilege``'s method for the commands it runs as sudoable;
    the task's become plugin is back on the connection afterwards, whatever happens."""
    if not privilege.way.escalates:
        yield
        return
    connection = action._connection
    previous = getattr(connection, "become", None)
    plugin = root_become(connection, action._play_context, action._task, task_vars, action._templar, privilege.method or "sudo")
    if getattr(plugin, "require_tty", False) and not getattr(connection, "has_tty", False):
        raise RecordPrivilegeError(
            "the become method %s needs a terminal, which the %s connection does not give; set %s=helper"
            % (privilege.method, getattr(connection, "_load_name", "this"), PRIVILEGE_VAR)
        )
    connection.set_become_plugin(plugin)
    try:
        yield
    finally:
        connection.set_become_plugin(previous)


def _describe_as_task(privilege: Privilege) -> str:
    return "the task's own privileges (root)"


def _fix_as_task(privilege: Privilege) -> str:
    return "Run the task as root, or set %s=helper and install the record helper" % PRIVILEGE_VAR


def _describe_escalated(privilege: Privilege) -> str:
    return "becoming root with %s from the login user %s" % (privilege.method, privilege.login)


def _fix_escalated(privilege: Privilege) -> str:
    method = privilege.method or "sudo"
    password = (
        "give root's password in %s (%s asks for the password of the user it switches to)" % (ROOT_PASSWORD_VAR, method)
        if method.rsplit(".", 1)[-1] in TARGET_PASSWORD_METHODS
        else "give the become password of %s in ansible_become_password (or %s)" % (privilege.login, ROOT_PASSWORD_VAR)
    )
    return (
        "The record of a change is written as root whoever the task runs as: allow %s to run commands as root "
        "with %s, %s, or where the sudoers allow no arbitrary root command install the record helper (role "
        "changeaudit.linux.record_helper) and set %s=helper" % (privilege.login, method, password, PRIVILEGE_VAR)
    )


def _describe_helper(privilege: Privilege) -> str:
    if privilege.login == ROOT:
        return "the record helper %s" % privilege.helper_path
    return "the record helper %s run with sudo -n by %s" % (privilege.helper_path, privilege.login)


def _fix_helper(privilege: Privilege) -> str:
    return (
        "Install the record helper on this host with the role changeaudit.linux.record_helper (record_helper_users "
        "naming %s), which adds '%s ALL=(root) NOPASSWD: %s \"\"' to the sudoers, or set %s to its path"
        % (privilege.login, privilege.login, privilege.helper_path, HELPER_PATH_VAR)
    )


class PrivilegeWay(t.NamedTuple):
    """One way the record of a change gets root on the host: ``Privilege.how`` names its row in PRIVILEGE_WAYS."""

    how: str
    # What the error messages call it, and what to set when the record could not get root that way.
    describe: t.Callable[[Privilege], str]
    fix: t.Callable[[Privilege], str]
    # The writer's program runs under a become plugin put on the connection for the record alone (``escalated``),
    # started with a cleared environment.
    escalates: bool
    # The fixed record helper runs instead of the writer's program (``_writer._run_helper``).
    runs_helper: bool


PRIVILEGE_WAYS: t.Dict[str, PrivilegeWay] = {
    AS_TASK: PrivilegeWay(AS_TASK, _describe_as_task, _fix_as_task, escalates=False, runs_helper=False),
    ESCALATED: PrivilegeWay(ESCALATED, _describe_escalated, _fix_escalated, escalates=True, runs_helper=False),
    HELPER: PrivilegeWay(HELPER, _describe_helper, _fix_helper, escalates=False, runs_helper=True),
}


def escalation_fix(privilege: Privilege) -> str:
    """What to set when the record could not get root with ``privilege``."""
    return privilege.way.fix(privilege)


__all__ = [
    "AS_TASK",
    "ESCALATED",
    "HELPER",
    "ROOT",
    "PRIVILEGE_VAR",
    "HELPER_PATH_VAR",
    "ROOT_PASSWORD_VAR",
    "DEFAULT_HELPER_PATH",
    "TARGET_PASSWORD_METHODS",
    "RecordPrivilegeError",
    "Acting",
    "Privilege",
    "PrivilegeWay",
    "PRIVILEGE_WAYS",
    "login_user",
    "acting_identity",
    "OPERATOR_PREFIXES",
    "operator_setting",
    "host_variables",
    "variable",
    "record_privilege",
    "ENV_EXE",
    "CLEAN_ENVIRONMENT",
    "ENVIRONMENT_KEEPING_METHODS",
    "clean_environment",
    "root_become",
    "escalated",
    "escalation_fix",
]
