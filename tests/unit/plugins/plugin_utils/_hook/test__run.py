from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._hook.hook_helpers import FakeTask
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _tasks
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _run, _settings


@pytest.mark.parametrize("action, resolved, recorded", [
    ("ansible.builtin.set_fact", "ansible.builtin.set_fact", False),
    ("debug", "ansible.builtin.debug", False),
    ("ansible.legacy.ping", "ansible.legacy.ping", False),
    # A ping of another collection, or one the task's collections resolve to, may change a host.
    ("acme.tools.ping", "acme.tools.ping", True),
    ("ping", "acme.tools.ping", True),
])
def test_only_core_controller_actions_resolved_to_cores_own_files_are_left_out(action, resolved, recorded):
    task = FakeTask(action=action)
    task.resolved_action = resolved
    assert _run.recordable(task, _settings.Settings()) is recorded


@pytest.mark.parametrize(
    "fields, recordable",
    [({}, True), ({"check_mode": True}, False), ({"async_val": 30, "poll": 0}, False), ({"async_val": 30, "poll": 5}, True)],
)
def test_recordable(fields, recordable):
    assert _run.recordable(FakeTask(**fields), _settings.Settings()) is recordable


def test_each_task_starts_a_fresh_run_and_after_task_finds_the_one_before_task_started():
    from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._hook.hook_helpers import make_te

    settings = _settings.Settings()
    te = make_te(FakeTask())
    first = _run.TaskRun.start(te, settings)
    first.verdict = ("skip", "a container")
    assert _run.TaskRun.of(te, settings) is first
    second = _run.TaskRun.start(te, settings)
    assert second is not first and second.verdict == (_run.RECORDS, "") and second.in_module is _run.UNDECIDED
    assert second.changed_host({"inventory_hostname": "web1"}) == "web1"
    assert _tasks.play_uuid(te.task) == "play-1"
