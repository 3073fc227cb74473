# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""A host's variables without the facts it returned, from ansible-core's own record of where a value came from.

Facts a host returns are that host's variables, ranked above its inventory: VariableManager.get_vars merges the fact
cache after the host and group vars. So a managed host could set a variable only the controller's operator may
set. What follows reads ansible-core's own record of where a value came from (the fact cache, the set_fact cache,
both private to VariableManager) and recomputes a host's variables without the facts a name came from; used by the
settings that decide what is recorded, how, under which key or run.
"""

from __future__ import annotations

import typing as t

from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._tasks import task_uuid
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._vars import extra_vars
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._versions import CORE, is_tested

_FACTS_WARNED: t.Set[t.Tuple[str, str]] = set()
_WITHOUT_FACTS: t.Dict[t.Tuple[str, str, t.Tuple[str, ...]], t.Dict[str, t.Any]] = {}


def _worker_process() -> t.Any:
    """The WorkerProcess this code runs in (``multiprocessing.current_process()`` in a worker is the
    ``ansible.executor.process.worker.WorkerProcess`` that forked it: ``_task``, ``_variable_manager``, the same
    attributes on 2.19, 2.20 and 2.21), or None outside one."""
    import multiprocessing

    try:
        from ansible.executor.process.worker import WorkerProcess
    except ImportError:
        return None
    process = multiprocessing.current_process()
    return process if isinstance(process, WorkerProcess) else None


def variable_manager(task_vars: t.Mapping[str, t.Any]) -> t.Any:
    """The VariableManager that made ``task_vars``: the magic variable ``hostvars`` is a ``HostVars`` that keeps it as
    ``_variable_manager`` (2.19-2.21), else the worker's (``WorkerProcess._variable_manager``); None when neither
    is there (variables made by hand) or on a core CI has not tested these internals with (then a protected name
    that ``ansible_facts`` holds is unset rather than trusted)."""
    if not is_tested(CORE):
        return None
    manager = getattr(task_vars.get("hostvars"), "_variable_manager", None)
    if manager is None:
        manager = getattr(_worker_process(), "_variable_manager", None)
    if manager is None or not hasattr(manager, "_fact_cache") or not hasattr(manager, "get_vars"):
        return None
    return manager


def current_task() -> t.Any:
    """The task this worker runs (``WorkerProcess._task``): its play, role and task vars, which a host's variables
    are recomputed with; None outside a worker."""
    return getattr(_worker_process(), "_task", None)


def run_extra_vars(task_vars: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The run's extra vars (-e) alone: ``VariableManager.extra_vars`` of the manager that made ``task_vars``, else
    the CLI's (``extra_vars()``). What AWX/AAP passes about the job (awx_job_id, awx_user_name) arrives only there."""
    manager = variable_manager(task_vars)
    extra = getattr(manager, "extra_vars", None) if manager is not None else None
    if isinstance(extra, t.Mapping):
        return dict(extra)
    return extra_vars()


def _inventory_host(manager: t.Any, name: str) -> t.Any:
    """The Host ``name`` stands for, as ``VariableManager.get_delegated_vars_and_hostname`` finds a delegate_to
    host (by name, else by address); None for a name the inventory does not know (it has no facts)."""
    inventory = getattr(manager, "_inventory", None)
    if inventory is None:
        return None
    host = inventory.get_host(name)
    if host is not None:
        return host
    for candidate in inventory.get_hosts(ignore_limits=True, ignore_restrictions=True):
        if candidate.address == name:
            return candidate
    return None


def _cached_facts(manager: t.Any, host_name: str) -> t.Mapping[str, t.Any]:
    try:
        facts = manager._fact_cache.get(host_name)
    except KeyError:
        return {}
    return facts if isinstance(facts, t.Mapping) else {}


def host_fact_names(task_vars: t.Mapping[str, t.Any], host_name: str, protected: t.Callable[[str], bool]) -> t.List[str]:
    """The ``protected`` names that ``host_name``'s own facts set (``VariableManager._fact_cache``) and no set_fact
    or register of the play sets over them (``VariableManager._nonpersistent_fact_cache``, which ranks higher: the
    play author's). Without a VariableManager, the names the ``ansible_facts`` of ``task_vars`` hold (namespaced:
    ``ansible_`` taken off), which cannot tell a fact from a set_fact cacheable."""
    manager = variable_manager(task_vars)
    if manager is None:
        facts = task_vars.get("ansible_facts")
        if not isinstance(facts, t.Mapping):
            return []
        return sorted(name for name in task_vars if protected(name) and (
            name in facts or (name.startswith("ansible_") and name[len("ansible_"):] in facts)))
    host = _inventory_host(manager, host_name)
    if host is None:
        return []
    facts = _cached_facts(manager, host.name)
    play_set = getattr(manager, "_nonpersistent_fact_cache", {}).get(host.name) or {}
    return sorted(name for name in facts if isinstance(name, str) and protected(name) and name not in play_set)


class _FactsWithout:
    """The fact cache with ``names`` taken out of one host's facts; read only, every other call goes to the cache."""

    def __init__(self, cache: t.Any, host_name: str, names: t.Collection[str]) -> None:
        self._cache = cache
        self._host_name = host_name
        self._names = frozenset(names)

    def get(self, key: str) -> t.Any:
        facts = self._cache.get(key)
        if key != self._host_name or not isinstance(facts, t.Mapping):
            return facts
        return {name: value for name, value in facts.items() if name not in self._names}

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self._cache, name)


def values_without_facts(
    task_vars: t.Mapping[str, t.Any], host_name: str, names: t.Collection[str], task: t.Any = None
) -> t.Dict[str, t.Any]:
    """The values ``names`` have for ``host_name`` when its facts of those names do not exist: ``VariableManager.
    get_vars(play, host, task)`` (what core computes a task's and a delegated host's variables with) on a copy of the
    manager whose fact cache leaves them out. A name no other source sets is absent. Cached per worker, task and
    host: a worker runs one task."""
    manager = variable_manager(task_vars)
    task = task if task is not None else current_task()
    host = _inventory_host(manager, host_name) if manager is not None else None
    if host is None:
        return {}
    key = (task_uuid(task), host.name, tuple(sorted(names)))
    known = _WITHOUT_FACTS.get(key)
    if known is not None:
        return known
    proxy = object.__new__(type(manager))
    proxy.__dict__.update(manager.__dict__)
    proxy._fact_cache = _FactsWithout(manager._fact_cache, host.name, names)
    play = task.get_play() if task is not None else None
    computed = proxy.get_vars(play=play, host=host, task=task, include_hostvars=True)
    _WITHOUT_FACTS[key] = known = {name: computed[name] for name in names if name in computed}
    return known


def without_host_facts(
    task_vars: t.Mapping[str, t.Any], protected: t.Callable[[str], bool], host_name: t.Optional[str] = None,
    task: t.Any = None, warn: t.Optional[t.Callable[[str], None]] = None,
) -> t.Mapping[str, t.Any]:
    """``task_vars`` (of ``host_name``, by default their inventory_hostname) as if the host had returned no fact of a
    ``protected`` name: each such name takes the value the other sources give it, or is unset. ``warn`` is called
    once per worker, host and name with a message naming the fact (core's display shows a message once per run)."""
    host_name = str(host_name or task_vars.get("inventory_hostname") or "")
    found = host_fact_names(task_vars, host_name, protected)
    if not found:
        return task_vars
    for name in found:
        if warn is not None and (host_name, name) not in _FACTS_WARNED:
            _FACTS_WARNED.add((host_name, name))
            warn("changeaudit.linux: the host %s returned a fact named %s, a setting only the controller's inventory, "
                 "play, role or extra vars may give; the fact is ignored. Find what sets it on that host (a module "
                 "or a custom fact in /etc/ansible/facts.d) and remove it." % (host_name, name))
    trusted = values_without_facts(task_vars, host_name, found, task)
    variables = dict(task_vars)
    for name in found:
        if name in trusted:
            variables[name] = trusted[name]
        else:
            variables.pop(name, None)
    return variables


__all__ = [
    "current_task",
    "host_fact_names",
    "run_extra_vars",
    "values_without_facts",
    "variable_manager",
    "without_host_facts",
]
