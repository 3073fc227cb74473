# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Settings as ansible-core resolves them, where it has no public way to ask: a module's ``module_defaults``
(``module_common._apply_action_arg_defaults``, the helper core's own package and service actions use for the module
they pick), the run's extra vars (``utils.vars.load_extra_vars`` on the CLI's arguments) and a callback plugin's
options (the config manager, and on 2.19 and 2.20 the option variables given as extra vars, which 2.21 resolves
itself)."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._versions import CORE_VERSION_TEXT, tested_text


def apply_module_defaults(module_fqcn: str, task: t.Any, args: t.Mapping[str, t.Any], templar: t.Any) -> t.Dict[str, t.Any]:
    """``args`` completed from the task's module_defaults for ``module_fqcn`` (and its action groups)."""
    from ansible.executor import module_common

    apply_defaults = getattr(module_common, "_apply_action_arg_defaults", None)
    if apply_defaults is None:
        raise AnsibleError(
            "changeaudit.linux.audited cannot apply module_defaults with ansible-core %s: it is tested with %s"
            % (CORE_VERSION_TEXT, tested_text())
        )
    return apply_defaults(module_fqcn, task, dict(args), templar)


def extra_vars() -> t.Dict[str, t.Any]:
    """The run's extra vars (-e), as the CLI parsed them (``ansible.utils.vars.load_extra_vars`` on
    ``context.CLIARGS``, which the workers inherit); empty when not run from a CLI. Settings of the collection that
    only the operator may give are read here, never from a host's variables."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.utils.vars import load_extra_vars

    try:
        return dict(load_extra_vars(DataLoader()))
    except KeyError:
        return {}


def callback_option(callback_name: str, option: str, variables: t.Optional[t.Mapping[str, t.Any]] = None) -> t.Any:
    """A callback plugin's option as core resolves it for that callback (its vars entries, environment, ini, default),
    whether or not the callback is enabled in this run: loading the class registers its option definitions."""
    from ansible import constants as C
    from ansible.plugins.loader import callback_loader

    plugin = callback_loader.get(callback_name, class_only=True)
    if plugin is None:
        raise AnsibleError("the callback plugin %s cannot be found" % callback_name)
    # The definitions are kept under the name the loader loaded the class by (its _load_name).
    return C.config.get_config_value(option, plugin_type="callback", plugin_name=getattr(plugin, "_load_name", callback_name),
                                     variables=dict(variables or {}))


def callback_var_options(callback: t.Any) -> t.Optional[t.Dict[str, t.Any]]:
    """The callback's documented option variables given as extra vars (-e), for a core that does not resolve them
    itself (2.19, 2.20); None where core does (2.21: TaskQueueManager._resolve_callback_option_variables)."""
    from ansible.executor import task_queue_manager

    if hasattr(task_queue_manager, "_resolve_callback_option_variables"):
        return None
    from ansible import constants as C
    from ansible.parsing.dataloader import DataLoader
    from ansible.utils.vars import load_extra_vars

    names = C.config.get_plugin_vars(callback.plugin_type, callback._load_name)
    if not names:
        return {}
    try:
        extra = load_extra_vars(DataLoader())
    except KeyError:
        # Not run from a CLI (no CLIARGS): there are no extra vars.
        return {}
    return {name: extra[name] for name in names if name in extra}


__all__ = ["apply_module_defaults", "callback_option", "callback_var_options", "extra_vars"]
