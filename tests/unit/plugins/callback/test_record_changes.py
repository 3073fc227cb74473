from __future__ import annotations

import os
import re
import types

import pytest
import yaml

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.callback import record_changes
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _refusal
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _install, _notes, _settings
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._context import FIXED_RUN_ID_ENV


@pytest.mark.parametrize(
    "value, fields",
    [
        (None, {}),
        ("", {}),
        ({}, {}),
        ({"ticket": "CHG-1"}, {"ticket": "CHG-1"}),
        ('{"ticket": "CHG-1", "pipeline": 42}', {"ticket": "CHG-1", "pipeline": 42}),
        ("ticket=CHG-1, approver = alice", {"ticket": "CHG-1", "approver": "alice"}),
        ("query=a=b", {"query": "a=b"}),
    ],
)
def test_fields_from_ini_env_or_vars(value, fields):
    assert record_changes.parse_fields(value) == fields


@pytest.mark.parametrize(
    "value, message",
    [
        ("{not json", "not a valid JSON object"),
        ("ticket", "name=value pairs"),
        (["ticket"], "must be a dict"),
        ({"Ticket": "x"}, "field names are lower case"),
        ({"a b": "x"}, "field names are lower case"),
    ],
)
def test_bad_fields_are_refused_naming_the_fix(value, message):
    with pytest.raises(AnsibleError, match=message):
        record_changes.parse_fields(value)


@pytest.fixture(autouse=True)
def no_refusal_left(tmp_path, monkeypatch):
    """Making the callback refuses changes in this process until it loads, and loading it fixes the run ID in the
    environment: neither for the tests after this one. The ledger goes to the test's directory."""
    monkeypatch.setenv("CHANGEAUDIT_LEDGER_DIR", str(tmp_path / "ledger"))
    yield
    _refusal.remove_refusal_wrapper()
    os.environ.pop(FIXED_RUN_ID_ENV, None)


def test_the_summary_has_one_line_per_host(tmp_path, monkeypatch):
    settings = _settings.Settings(state_dir=str(tmp_path))
    for status, host in (("written", "web1"), ("written", "web1"), ("failed", "web2"), ("written", "backup")):
        _notes.note(settings, _notes.RECORDS_FILE, status, host, "run-1")
    callback = record_changes.CallbackModule()
    callback._settings = settings
    lines = []
    banners = []
    monkeypatch.setattr(callback._display, "display", lambda msg, color=None, **_kw: lines.append(msg))
    monkeypatch.setattr(callback._display, "banner", lambda msg, **_kw: banners.append(msg))
    callback.v2_playbook_on_stats(types.SimpleNamespace(processed={"web1": 1, "web2": 1, "web3": 1}))
    assert banners == ["CHANGEAUDIT RECORDS (run_id run-1)"]
    assert lines == [
        "backup : 1 record written",
        "web1 : 2 records written",
        "web2 : 0 records written, 1 change NOT recorded (the record could not be written)",
        "web3 : 0 records written",
    ]


# --- failing closed -----------------------------------------------------------------------------------------------


@pytest.fixture
def loaded():
    """Makes the callback with its options registered from its DOCUMENTATION, as ansible-core's loader does; the
    hook and the refusal are undone after."""
    from ansible import constants as C

    def make():
        callback = record_changes.CallbackModule()
        callback._load_name = record_changes.PLUGIN
        options = yaml.safe_load(record_changes.DOCUMENTATION)["options"]
        C.config.initialize_plugin_configuration_definitions("callback", callback._load_name, options)
        return callback

    yield make
    _install.uninstall()
    _refusal.remove_refusal_wrapper()


def test_from_the_moment_it_is_made_every_change_is_refused(loaded):
    loaded()
    assert "did not finish loading" in _refusal.refusal()
    assert "remove changeaudit.linux.record_changes from callbacks_enabled" in _refusal.refusal()


@pytest.mark.parametrize(
    "direct, cause",
    [
        ({"mode": "bogus"}, "bogus"),
        ({"fields": "{not json"}, "not a valid JSON object"),
        ({"fields": {"res": "success"}}, "'res' is reserved"),
        ({"fields": {"cmd": "x"}}, "names fields every change record has itself: cmd"),
        ({"fields": {"note": "n" * 9000}}, "alone is|too long"),
        ({"fields": {"note": "a b" * 1200}}, "too long to fit in every record"),
        ({"skip": "ansible.builtin.raw"}, ""),
    ],
)
def test_a_bad_setting_keeps_every_change_refused_naming_the_cause(loaded, direct, cause):
    callback = loaded()
    try:
        callback.set_options(direct=direct)
    except Exception as exc:  # ansible-core turns this into a warning and goes on
        assert re.search(cause, str(exc))
        assert re.search(cause, _refusal.refusal()) and "no task that may change a host runs" in _refusal.refusal()
    else:
        assert direct == {"skip": "ansible.builtin.raw"}, "a string is a list of one for ansible-core's config"
        assert _refusal.refusal() is None


def test_an_unknown_ansible_core_keeps_every_change_refused(loaded, monkeypatch):
    callback = loaded()
    monkeypatch.setattr(_install.check_version, "__defaults__", ("2.22.0",))
    with pytest.raises(AnsibleError, match="cannot run with ansible-core 2.22.0"):
        callback.set_options()
    assert "is tested with ansible-core 2.19, 2.20 and 2.21 only" in _refusal.refusal()
    assert not _install.installed()


def test_our_own_code_failing_to_import_keeps_every_change_refused(loaded, monkeypatch):
    callback = loaded()
    monkeypatch.setattr(record_changes, "_hook", None)
    monkeypatch.setattr(record_changes, "_IMPORT_ERROR", "ImportError: no module named x")
    with pytest.raises(AnsibleError, match="cannot import its own code"):
        callback.set_options()
    assert "ImportError: no module named x" in _refusal.refusal()


def test_good_settings_end_the_refusal_and_install_the_hook(loaded):
    callback = loaded()
    callback.set_options(direct={"fields": {"ticket": "CHG-1"}})
    assert _refusal.refusal() is None and _install.installed()
