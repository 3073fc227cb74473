# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The every-change hook: what the record_changes callback does before and after each task on each host.

``_task_hook.install_task_hook`` runs ``before_task`` (_before.py) in the worker once per task and loop item, after the
connection for the (delegated) host is set up and before the action runs: the place to check that the record of the
task's change can be built, and, once per host per play, that the host can keep records, so that a host that cannot
fails *before* its first change. It runs ``after_task`` (_after.py) on the result after changed_when, failed_when
and until: the place to write the record of a change, through the same connection, before the host runs its next
task. Between the two, what the hook knows of the task is one TaskRun (_run.py).

Where the module's own process can write the record (_in_module_path.py), its payload carries the record, built
here, and the module writes it before its result is printed; after_task then only takes what the module reported,
so a change is recorded once, by the module or by the writer, and the ledger's outcome says which (``path``).

``install()`` refuses any ansible-core version CI has not tested the hook with, naming the tested ones; the callback
then holds every change back with ``_refusal.refuse_changes``.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _execution, _task_hook, _versions
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._after import after_task
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._before import before_task
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._in_module_path import in_module_prelude
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._run import TaskRun
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._settings import PLUGIN, Settings
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer import _in_module


class Hook:
    """The callback's settings, bound to the three places core calls the hook from (set before the workers fork)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def before_action(self, execution: _execution.Execution, handler: ActionBase, task_vars: t.Dict[str, t.Any]) -> None:
        before_task(execution, handler, task_vars, self.settings)

    def module_prelude(
        self, execution: _execution.Execution, handler: ActionBase, module_name: str, interpreter: str,
        task_vars: t.Dict[str, t.Any],
    ) -> t.Optional[str]:
        if not self.settings.in_module:
            return None
        return in_module_prelude(TaskRun.of(execution, self.settings), handler, module_name, interpreter, task_vars)

    def after_result(self, execution: _execution.Execution, view: t.Any, task_vars: t.Dict[str, t.Any]) -> None:
        after_task(execution, view, task_vars, self.settings)


def core_series(version: str = _versions.CORE_VERSION_TEXT) -> str:
    return _versions.series_text(_versions.parse_version(version))


def check_version(version: str = _versions.CORE_VERSION_TEXT) -> str:
    """The major.minor of ``version`` when CI tests the hook with it; else an error naming the tested ones."""
    if not _versions.is_tested(_versions.parse_version(version)):
        raise AnsibleError(
            _versions.untested_message(PLUGIN, version)
            + " Use one of those, or disable the callback (remove it from callbacks_enabled / "
            "ANSIBLE_CALLBACKS_ENABLED) and wrap the tasks to record in changeaudit.linux.audited."
        )
    return core_series(version)


def install(settings: Settings, version: str = _versions.CORE_VERSION_TEXT) -> Hook:
    """Take ``settings`` and put the task hook in place (once). Call before the workers fork."""
    series = check_version(version)
    hook = Hook(settings)
    if settings.in_module:
        _in_module.prepare()
    _task_hook.install_task_hook(hook.before_action, hook.after_result, _versions.parse_version(series), hook.module_prelude,
                                 _in_module.RESULT_KEY)
    return hook


def uninstall() -> None:
    """Undo install() (the unit tests use it)."""
    _task_hook.uninstall_task_hook()


def installed() -> bool:
    return _task_hook.task_hook_installed()


__all__ = ["Hook", "core_series", "check_version", "install", "uninstall", "installed"]
