"""The one place that knows the ansible-core version and holds changes back while the recorder is not ready."""

from __future__ import annotations

import os
import types

import pytest
import yaml

from ansible.executor.task_executor import TaskExecutor
from ansible_collections.changeaudit.linux.plugins.callback import record_changes
from ansible_collections.changeaudit.linux.plugins.plugin_utils import _core

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def task(action="ansible.builtin.copy", check_mode=False):
    return types.SimpleNamespace(action=action, _resolved_action=action, check_mode=check_mode, ignore_errors=True)


@pytest.mark.parametrize(
    "text, expected",
    [("2.19.0", (2, 19)), ("2.21.0rc1", (2, 21)), ("2.22.0.dev0", (2, 22)), ("3", (3, 0)), ("", (0, 0)), ("x.y", (0, 0))],
)
def test_versions_are_parsed_to_major_minor(text, expected):
    assert _core.parse_version(text) == expected


def test_the_tested_range_is_requires_ansible_of_meta_runtime():
    with open(os.path.join(ROOT, "meta", "runtime.yml"), encoding="utf-8") as handle:
        requires = yaml.safe_load(handle)["requires_ansible"]
    low, high = _core.TESTED_CORE
    assert requires == ">=%d.%d.0,<%d.%d" % (low + high)
    assert _core.tested_series() == ["2.%d" % minor for minor in range(low[1], high[1])]


@pytest.mark.parametrize(
    "text", ["", "requires_ansible: '>=2.19.0'\n", "requires_ansible: '>=2.19.0,<2.22\"\n", "requires_ansible: '>=2.19.1,<2.22'\n"]
)
def test_a_runtime_yml_without_a_closed_range_tests_nothing(tmp_path, text):
    runtime = tmp_path / "runtime.yml"
    runtime.write_text(text)
    assert _core.read_tested_core(str(runtime)) == ((0, 0), (0, 0))
    assert _core.read_tested_core(str(tmp_path / "missing.yml")) == ((0, 0), (0, 0))


def test_without_a_readable_runtime_yml_nothing_is_tested_and_the_message_names_the_file(monkeypatch):
    monkeypatch.setattr(_core, "TESTED_CORE", ((0, 0), (0, 0)))
    assert not _core.is_tested((2, 19))
    assert _core.RUNTIME_YML in _core.untested_message("record_changes", "2.19.0")


@pytest.mark.parametrize("core, tested", [((2, 18), False), ((2, 19), True), ((2, 21), True), ((2, 22), False), ((3, 0), False)])
def test_tested_is_a_range(core, tested):
    assert _core.is_tested(core) is tested


def test_the_running_core_is_tested():
    assert _core.is_tested(), "CI runs only tested cores"


def test_the_result_object_starts_with_2_21():
    assert not _core.returns_result_object((2, 20)) and _core.returns_result_object((2, 21))
    assert _core.returns_result_object((2, 22))


@pytest.fixture
def refusing():
    yield
    _core.remove_refusal_wrapper()


def test_a_refusal_fails_a_task_that_may_change_before_the_original_runs(refusing, monkeypatch):
    ran = []
    monkeypatch.setattr(TaskExecutor, "_execute", lambda self, *args, **kwargs: ran.append(args) or "result")
    _core.refuse_changes("the recorder is broken: fix X")
    executor = types.SimpleNamespace(_task=task())
    with pytest.raises(_core.ChangesRefusedError, match="the recorder is broken: fix X"):
        TaskExecutor._execute(executor, "templar", variables={})
    assert ran == [] and executor._task.ignore_errors is False, "not run, and not ignorable"


@pytest.mark.parametrize("refused_task", [task("debug"), task("ansible.builtin.set_fact"), task("ansible.legacy.setup"),
                                          task("ansible.builtin.copy", check_mode=True)])
def test_a_refusal_lets_what_changes_no_host_run(refusing, monkeypatch, refused_task):
    monkeypatch.setattr(TaskExecutor, "_execute", lambda self, *args, **kwargs: "result")
    _core.refuse_changes("no")
    assert TaskExecutor._execute(types.SimpleNamespace(_task=refused_task)) == "result"


def test_allowing_changes_leaves_an_inert_wrapper_and_refusing_again_reuses_it(refusing, monkeypatch):
    monkeypatch.setattr(TaskExecutor, "_execute", lambda self, *args, **kwargs: "result")
    _core.refuse_changes("first")
    wrapper = TaskExecutor._execute
    _core.allow_changes()
    assert _core.refusal() is None
    assert TaskExecutor._execute(types.SimpleNamespace(_task=task())) == "result"
    _core.refuse_changes("second")
    assert TaskExecutor._execute is wrapper and _core.refusal() == "second"


def test_a_task_the_predicate_cannot_judge_is_refused(refusing, monkeypatch):
    monkeypatch.setattr(TaskExecutor, "_execute", lambda self, *args, **kwargs: "result")

    def broken(_task):
        raise KeyError("x")

    _core.refuse_changes("refused", broken)
    with pytest.raises(_core.ChangesRefusedError):
        TaskExecutor._execute(types.SimpleNamespace(_task=task()))


def read(*path):
    with open(os.path.join(ROOT, *path), encoding="utf-8") as handle:
        return " ".join(handle.read().split())


def test_every_list_of_the_tested_releases_is_the_range():
    names = _core.tested_series()
    spoken_and, spoken_or = _core.tested_text(), ", ".join(names[:-1]) + " or " + names[-1]
    readme = read("README.md")
    assert "**ansible-core versions:** %s, the ones CI runs it with" % spoken_and in readme
    assert "The controller needs ansible-core %s (`meta/runtime.yml`; CI tests each)" % spoken_or in readme
    assert "- ansible-core %s on the controller" % spoken_and in readme
    callback = yaml.safe_load(record_changes.DOCUMENTATION)["requirements"][0]
    assert callback.startswith("ansible-core %s on the controller." % spoken_or)
    for core in names[1:]:
        assert os.path.exists(os.path.join(ROOT, "requirements-controller-%s.txt" % core)), core
    for core in names:
        assert os.path.exists(os.path.join(ROOT, "tests", "sanity", "ignore-%s.txt" % core)), core
