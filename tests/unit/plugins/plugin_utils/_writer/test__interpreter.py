"""Which Python the writer runs on a target, and whether it runs the controller's bytecode."""

from __future__ import annotations

import base64
import importlib.util
import sys
import types

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _target
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer import _interpreter


def action(transport="ssh", remote_is_local=False, delegate_to=None, delegate_facts=False):
    connection = types.SimpleNamespace(transport=transport, _remote_is_local=remote_is_local)
    return types.SimpleNamespace(
        _connection=connection,
        _task=types.SimpleNamespace(delegate_to=delegate_to, delegate_facts=delegate_facts),
        _templar=types.SimpleNamespace(template=lambda value: value),
    )


@pytest.fixture(autouse=True)
def run_local_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(_interpreter.C, "DEFAULT_LOCAL_TMP", str(tmp_path))
    return tmp_path


@pytest.fixture
def no_discovery(monkeypatch):
    monkeypatch.setattr(_target, "discover_interpreter", lambda **_kw: pytest.fail("discovered"))


def test_a_configured_interpreter_is_used_as_it_is(no_discovery):
    assert _interpreter.python_interpreter(action(), {"ansible_python_interpreter": "/opt/py/bin/python3 "}) == (
        "/opt/py/bin/python3", None)


def test_one_discovered_earlier_is_reused(no_discovery):
    task_vars = {"ansible_facts": {"discovered_interpreter_python": "/usr/bin/python3.12"}}
    assert _interpreter.python_interpreter(action(), task_vars) == ("/usr/bin/python3.12", None)


def test_a_connection_to_the_controller_itself_uses_the_playbooks_python(no_discovery):
    assert _interpreter.python_interpreter(action(remote_is_local=True), {"ansible_playbook_python": "/venv/python"}) == (
        "/venv/python", None)


def test_discovery_is_remembered_and_returned_as_a_fact_unless_delegated(monkeypatch):
    calls = []

    def discover(action, interpreter_name, discovery_mode, task_vars):
        calls.append(discovery_mode)
        return "/usr/bin/python3"

    monkeypatch.setattr(_target, "discover_interpreter", discover)
    task_vars = {}
    assert _interpreter.python_interpreter(action(), task_vars) == ("/usr/bin/python3", "/usr/bin/python3")
    assert task_vars["ansible_facts"]["discovered_interpreter_python"] == "/usr/bin/python3"
    delegated = {"ansible_delegated_vars": {"db1": {}}}
    assert _interpreter.python_interpreter(action(delegate_to="db1"), delegated) == ("/usr/bin/python3", None)
    assert calls == ["auto", "auto"]


def test_the_controllers_own_python_on_a_local_connection_runs_its_bytecode():
    assert _interpreter.same_python(action(transport="local"), {}, sys.executable, "localhost")
    assert not _interpreter.same_python(action(transport="local"), {}, "/usr/bin/false", "localhost")


def test_gathered_facts_naming_this_python_and_version_are_enough():
    version = dict(zip(("major", "minor", "micro", "releaselevel"), sys.version_info[:4]))
    facts = {"ansible_facts": {"python": {"executable": "/usr/bin/python3", "version": version}}}
    assert _interpreter.same_python(action(), facts, "/usr/bin/python3", "web1")
    assert not _interpreter.same_python(action(), facts, "/usr/bin/python3.9", "web1")
    facts["ansible_facts"]["python"]["version"] = dict(version, minor=version["minor"] + 1)
    assert not _interpreter.same_python(action(), facts, "/usr/bin/python3", "web1")


def test_a_reported_magic_is_noted_per_host_and_interpreter(run_local_tmp):
    magic = base64.b64encode(importlib.util.MAGIC_NUMBER).decode("ascii")
    assert not _interpreter.same_python(action(), {}, "/usr/bin/python3", "web1")
    _interpreter.remember_python("web1", "/usr/bin/python3", magic)
    assert _interpreter.same_python(action(), {}, "/usr/bin/python3", "web1")
    assert not _interpreter.same_python(action(), {}, "/usr/bin/python3", "web2")
    _interpreter.remember_python("web1", "/usr/bin/python3", base64.b64encode(b"\0\0\r\n").decode("ascii"))
    assert not _interpreter.same_python(action(), {}, "/usr/bin/python3", "web1")
    _interpreter.remember_python("web1", "/usr/bin/python3", None)
    assert len(list(run_local_tmp.iterdir())) == 1, "nothing noted for no answer"
