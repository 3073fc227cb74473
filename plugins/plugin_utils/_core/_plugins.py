# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Which plugin runs a task, found as ansible-core's loaders find it: whether it is one of core's own actions that
change no managed host (``core_controller_action``, ``core_action``), the module and action handler the audited
action wraps (``find_module``, ``module_handler``) and the become plugins the record gets root with.

The loaders are public, but what they return (``PluginLoadContext``), how TaskExecutor chooses a handler
(``_get_action_handler_with_module_context``) and a plugin's ``_load_name`` are not: they are read here only.
"""

from __future__ import annotations

import inspect
import os
import typing as t

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._tasks import task_running

# ansible-core's own actions that change no managed host: they run on the controller, only read, or only decide
# what runs next. Nothing is refused or recorded for them.
CONTROLLER_ONLY_ACTIONS = (
    "add_host",
    "assert",
    "async_status",
    "debug",
    "fail",
    "gather_facts",
    "group_by",
    "import_playbook",
    "import_role",
    "import_tasks",
    "include",
    "include_role",
    "include_tasks",
    "include_vars",
    "meta",
    "pause",
    "ping",
    "set_fact",
    "set_stats",
    "setup",
    "validate_argument_spec",
    "wait_for_connection",
)
CONTROLLER_ONLY = frozenset(
    [prefix + name for prefix in ("", "ansible.builtin.", "ansible.legacy.") for name in CONTROLLER_ONLY_ACTIONS]
)

# Where ansible-core's own plugins live: an action of the list above counts only when the file that runs it is here.
CORE_PACKAGE_DIR = os.path.dirname(os.path.abspath(__import__("ansible").__file__)) + os.sep


def _plugin_path(loader: t.Any, name: str, collections: t.Any) -> t.Optional[str]:
    try:
        found = loader.find_plugin_with_context(name, collection_list=collections)
    except (AnsibleError, ImportError):
        # Not resolved: not core's own, so it may change hosts.
        return None
    return found.plugin_resolved_path if found.resolved else None


def core_controller_action(task: t.Any) -> bool:
    """Whether the task runs one of ansible-core's own actions that change no managed host (CONTROLLER_ONLY_ACTIONS).

    Decided on the plugin the task resolves to, as ``TaskExecutor._get_action_handler_with_module_context`` picks
    it (a module's action plugin, else an action plugin of the name, else the module under ``normal``), never on
    the name as written: ``ping:`` under ``collections: [acme.tools]`` is acme.tools.ping, and a role's
    ``library/setup.py`` is not core's setup, so both may change hosts."""
    from ansible.plugins.loader import action_loader, module_loader

    action = str(task.action or "")
    try:
        resolved = str(getattr(task, "resolved_action", None) or action)
    except AnsibleError:
        resolved = action
    if resolved not in CONTROLLER_ONLY:
        return False
    collections = getattr(task, "collections", None)
    path = None
    try:
        module = module_loader.find_plugin_with_context(action, collection_list=collections)
    except (AnsibleError, ImportError):
        module = None
    if module is not None and module.resolved and module.action_plugin:
        path = _plugin_path(action_loader, module.action_plugin, collections)
    if path is None:
        path = _plugin_path(action_loader, action, collections)
    if path is None and module is not None and module.resolved:
        path = module.plugin_resolved_path
    if path is None:
        # Nothing runs a file of that name: the includes, imports and meta, which the executor handles itself.
        return resolved.rsplit(".", 1)[-1] in ("include_tasks", "include_role", "import_tasks", "import_role",
                                               "import_playbook", "include", "meta")
    return os.path.abspath(path).startswith(CORE_PACKAGE_DIR)


def core_action(handler: t.Any) -> t.Optional[str]:
    """The name of ansible-core's own action plugin ``handler`` is (``normal``, ``copy``), decided on the file its
    class comes from; None for any other plugin."""
    try:
        path = inspect.getfile(type(handler))
    except (TypeError, OSError):
        return None
    if not os.path.abspath(path).startswith(os.path.join(CORE_PACKAGE_DIR, "plugins", "action") + os.sep):
        return None
    return os.path.splitext(os.path.basename(path))[0]


class FoundModule(t.NamedTuple):
    """A module as the module loader resolved a name: ``fqcn`` and the action plugin it names, if any;
    ``redirects`` what the name was redirected through (or why it resolved to nothing)."""

    resolved: bool
    fqcn: str
    action_plugin: t.Optional[str]
    redirects: t.List[str]


def find_module(action: t.Any, name: str) -> FoundModule:
    """``name`` resolved as TaskExecutor resolves a task's module, under the task's ``collections``: wraps
    ``module_loader.find_plugin_with_context`` of the action's shared loaders, whose ``PluginLoadContext`` is not
    public, so that only this function reads its fields."""
    found = action._shared_loader_obj.module_loader.find_plugin_with_context(name, collection_list=action._task.collections)
    return FoundModule(
        bool(found.resolved), str(found.resolved_fqcn or "") if found.resolved else "",
        getattr(found, "action_plugin", None) or None, list(found.redirect_list or []),
    )


def module_handler(action: t.Any, module: FoundModule, module_args: t.Mapping[str, t.Any]) -> t.Any:
    """The action handler TaskExecutor would run ``module`` with (``_get_action_handler_with_module_context``,
    private): the module's own action plugin when it names one (copy, template), else an action plugin of the
    module's name, else ``normal``; bound to the action's connection, play context, loader and templar, for a copy of
    the task that runs the module with ``module_args``."""
    collections = action._task.collections
    action_loader = action._shared_loader_obj.action_loader
    if module.action_plugin:
        handler_name = module.action_plugin
    elif action_loader.has_plugin(module.fqcn, collection_list=collections):
        handler_name = module.fqcn
    else:
        handler_name, collections = "ansible.legacy.normal", None
    return action_loader.get(
        handler_name,
        task=task_running(action._task, module.fqcn, module_args),
        connection=action._connection,
        play_context=action._play_context,
        loader=action._loader,
        templar=action._templar,
        shared_loader_obj=action._shared_loader_obj,
        collection_list=collections,
    )


def become_plugin(method: str) -> t.Any:
    """A new instance of the become plugin ``method`` (``become_loader.get``), or None when none is installed."""
    from ansible.plugins.loader import become_loader

    return become_loader.get(method)


def become_method_name(plugin: t.Any) -> str:
    """The short name of a become plugin (``sudo``, ``su``), as the loader loaded it (``_load_name``, private)."""
    return str(getattr(plugin, "_load_name", "") or getattr(plugin, "name", "")).rsplit(".", 1)[-1]


def become_option_variables(plugin: t.Any = None) -> t.FrozenSet[str]:
    """The variables a become plugin takes options from (ansible_sudo_pass, ansible_su_exe, ...); of every installed
    become plugin without ``plugin``. Their definitions are kept under the plugin's ``_load_name``."""
    if plugin is not None:
        return frozenset(C.config.get_plugin_vars("become", plugin._load_name))
    from ansible.plugins.loader import become_loader

    names: t.Set[str] = set()
    for found in become_loader.all(class_only=True):
        names.update(C.config.get_plugin_vars("become", found._load_name))
    return frozenset(names)


__all__ = [
    "CONTROLLER_ONLY",
    "CONTROLLER_ONLY_ACTIONS",
    "CORE_PACKAGE_DIR",
    "FoundModule",
    "become_method_name",
    "become_option_variables",
    "become_plugin",
    "core_action",
    "core_controller_action",
    "find_module",
    "module_handler",
]
