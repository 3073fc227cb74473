from __future__ import annotations

import types

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _settings, _writing
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _results


@pytest.fixture
def settings(tmp_path):
    return _settings.Settings(state_dir=str(tmp_path), fields={"ticket": "CHG-7"})


@pytest.fixture
def writes(monkeypatch):
    """Every writer call: (check_mode, params); answers with the next outcome queued (default: written)."""
    class Calls(list):
        outcomes: list = []

    calls = Calls()
    calls.outcomes = []
    outcomes = calls.outcomes

    def fake_writer_action(te, templar, check_mode):
        return types.SimpleNamespace(check_mode=check_mode, cleanup=lambda: None)

    def fake_write(action, task_vars, params, privilege=None):
        calls.append((action.check_mode, params))
        return outcomes.pop(0) if outcomes else {"recorded": True, "record": "op=ansible-change ...", "sequence": 7}

    monkeypatch.setattr(_writing, "writer_action", fake_writer_action)
    monkeypatch.setattr(_writing, "write", fake_write)
    monkeypatch.setenv("CHANGEAUDIT_RUN_ID", "unit-run")
    yield calls
    _results._NOT_IGNORABLE.clear()


@pytest.fixture(autouse=True, scope="module")
def loaders(core_loaders):
    """ansible-core's plugin loaders for every test here (conftest.core_loaders): whether an action is core's own
    is decided on the file it resolves to."""
    yield


@pytest.fixture
def ledger_settings(tmp_path):
    return _settings.Settings(state_dir=str(tmp_path), ledger_dir=str(tmp_path / "ledger"), skip=["my.ns.deploy"])
