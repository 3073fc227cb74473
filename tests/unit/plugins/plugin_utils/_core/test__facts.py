"""A host's variables without the facts it returned (the rest: _record/test__privilege.py, with a real VariableManager)."""

from __future__ import annotations

from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _facts


def operator(name):
    return name.startswith("changeaudit_")


def test_without_a_variable_manager_the_facts_in_task_vars_are_the_hosts():
    task_vars = {"inventory_hostname": "web1", "changeaudit_backend": "file", "changeaudit_run_id": "r1",
                 "ansible_facts": {"changeaudit_backend": "file"}}
    assert _facts.variable_manager(task_vars) is None
    assert _facts.host_fact_names(task_vars, "web1", operator) == ["changeaudit_backend"]
    warned = []
    variables = _facts.without_host_facts(task_vars, operator, warn=warned.append)
    assert "changeaudit_backend" not in variables and variables["changeaudit_run_id"] == "r1"
    assert len(warned) == 1 and "changeaudit_backend" in warned[0]
    _facts.without_host_facts(task_vars, operator, warn=warned.append)
    assert len(warned) == 1, "once per worker, host and name"


def test_outside_a_worker_there_is_no_current_task_and_extra_vars_are_the_clis():
    assert _facts.current_task() is None
    assert isinstance(_facts.run_extra_vars({}), dict)
