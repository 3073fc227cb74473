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
    return types.SimpleNamespace(action=action, resolved_action=action, collections=None, check_mode=check_mode,
                                 ignore_errors=True)


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
def test_a_refusal_lets_what_changes_no_host_run(core_loaders, refusing, monkeypatch, refused_task):
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


class _Action:
    """An action as TaskExecutor runs it: run() returns its result, _execute_module() each module's."""

    def __init__(self, modules, result):
        self.modules, self.result = modules, result

    def _execute_module(self, **_kwargs):
        return self.modules.pop(0)

    def run(self, task_vars=None):
        for _module in list(self.modules):
            self._execute_module(module_name="ansible.legacy.copy")
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


@pytest.mark.parametrize("modules, result, said", [
    ([{"changed": True}], {"changed": True}, (True, True, True, True)),
    # A module that died without JSON: core adds changed=false afterwards, but the action's result had none.
    ([], {"failed": True, "module_stdout": ""}, (True, False, False, False)),
    # copy of a directory: the first files changed, the last failed, and only its result is handed back.
    ([{"changed": True}, {"failed": True, "msg": "validation failed"}], {"failed": True, "msg": "validation failed"},
     (True, False, False, True)),
])
def test_an_attempt_notes_what_its_action_and_modules_said(modules, result, said):
    attempt = _core.Attempt()
    action = _Action(modules, result)
    _core._watch_handler(action, attempt)
    assert action.run() == result
    assert (attempt.ended, attempt.verdict, attempt.changed, attempt.module_changed) == said
    assert attempt.reported_change is (said[2] or said[3])


def test_an_action_that_never_returned_leaves_its_attempt_unended():
    attempt = _core.Attempt()
    action = _Action([], KeyboardInterrupt())
    _core._watch_handler(action, attempt)
    with pytest.raises(KeyboardInterrupt):
        action.run()
    assert attempt.started and not attempt.ended and not attempt.verdict


@pytest.mark.parametrize("action, resolved, controller_only", [
    ("debug", "ansible.builtin.debug", True),
    ("ansible.builtin.set_fact", "ansible.builtin.set_fact", True),
    ("ping", "ansible.builtin.ping", True),
    ("include_tasks", "ansible.builtin.include_tasks", True),
    ("copy", "ansible.builtin.copy", False),
    # Names of the list that resolve elsewhere.
    ("ping", "acme.tools.ping", False),
    ("acme.tools.setup", "acme.tools.setup", False),
])
def test_only_cores_own_controller_actions_change_no_host(core_loaders, action, resolved, controller_only):
    task = types.SimpleNamespace(action=action, resolved_action=resolved, collections=None, check_mode=False)
    assert _core.core_controller_action(task) is controller_only
    assert _core.may_change_hosts(task) is not controller_only


def test_a_roles_library_module_of_a_core_name_may_change_hosts(core_loaders, tmp_path):
    from ansible.plugins.loader import module_loader

    library = tmp_path / "library"
    library.mkdir()
    (library / "setup.py").write_text("#!/usr/bin/python\nprint('{}')\n")
    module_loader.add_directory(str(library))
    task = types.SimpleNamespace(action="setup", resolved_action="ansible.legacy.setup", collections=None, check_mode=False)
    assert _core.core_controller_action(task) is False


# --- the module prelude -------------------------------------------------------------------------------------------


def _built(data=b"", style="new", shebang="#!/usr/bin/python3"):
    from ansible.executor.module_common import _BuiltModule

    return _BuiltModule(b_module_data=data, module_style=style, shebang=shebang, serialization_profile="legacy")


class _ModuleAction:
    """An action whose _execute_module builds each module with _configure_module, as ActionBase does, and returns
    what that module printed."""

    def __init__(self, printed, style="new"):
        self.printed, self.style, self.sent = printed, style, []

    def _configure_module(self, module_name, module_args, task_vars):
        return _built(WRAPPER_TEXT, self.style), "/modules/%s.py" % module_name

    def _execute_module(self, module_name=None, module_args=None, task_vars=None):
        bits, _path = self._configure_module(module_name=module_name, module_args=module_args, task_vars=task_vars)
        self.sent.append(bits.b_module_data)
        return dict(self.printed.pop(0))

    def run(self, task_vars=None):
        return self._execute_module(module_name="ansible.legacy.lineinfile", task_vars={})


WRAPPER_TEXT = (
    b"#!/usr/bin/python3\n_ANSIBALLZ_WRAPPER = True\n" + _core.ANSIBALLZ_MAIN + b"ansible_module='lineinfile',\n)\n"
)


@pytest.fixture
def prelude_hook():
    asked = []

    def prelude(execution, handler, module_name, interpreter, task_vars):
        asked.append((module_name, interpreter))
        return "PRELUDE = %r\n" % module_name

    _core._HOOK["prelude"] = (prelude, "_report")
    yield asked
    _core._HOOK.pop("prelude", None)


def test_a_python_module_gets_the_prelude_and_its_report_comes_back_out_of_its_result(prelude_hook):
    attempt = _core.Attempt()
    action = _ModuleAction([{"changed": True, "_report": {"path": "in_module"}}])
    _core._watch_handler(action, attempt, _core.Execution(types.SimpleNamespace()))
    result = action.run()
    assert "_report" not in result and attempt.module_reports == [{"path": "in_module"}]
    assert prelude_hook == [("ansible.legacy.lineinfile", "/usr/bin/python3")]
    assert b"PRELUDE = 'ansible.legacy.lineinfile'\n" + _core.ANSIBALLZ_MAIN in action.sent[0]


def test_a_report_from_a_module_that_got_no_prelude_is_taken_out_and_ignored(prelude_hook):
    attempt = _core.Attempt()
    action = _ModuleAction([{"changed": True, "_report": {"path": "in_module", "recorded": True}}], style="binary")
    _core._watch_handler(action, attempt, _core.Execution(types.SimpleNamespace()))
    result = action.run()
    assert "_report" not in result and attempt.module_reports == [] and not prelude_hook
    assert action.sent == [WRAPPER_TEXT]


def test_without_a_prelude_hooked_the_module_goes_as_core_built_it():
    attempt = _core.Attempt()
    action = _ModuleAction([{"changed": True, "_report": {"path": "in_module"}}])
    _core._watch_handler(action, attempt, _core.Execution(types.SimpleNamespace()))
    assert action.run()["_report"] == {"path": "in_module"} and action.sent == [WRAPPER_TEXT]
    assert attempt.module_reports == []


def test_core_action_names_cores_own_action_plugins_by_their_file(core_loaders):
    from ansible.plugins.loader import action_loader

    for name in ("normal", "copy", "template"):
        plugin = action_loader.get(name, class_only=True)
        assert _core.core_action(plugin.__new__(plugin)) == name
    assert _core.core_action(_ModuleAction([])) is None
