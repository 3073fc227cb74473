from __future__ import annotations

import types

import pytest

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.callback import record_changes
from ansible_collections.changeaudit.linux.plugins.plugin_utils import _every_change as hook


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


def test_the_summary_has_one_line_per_host(tmp_path, monkeypatch):
    settings = hook.Settings(state_dir=str(tmp_path))
    for status, host in (("written", "web1"), ("written", "web1"), ("failed", "web2"), ("written", "backup")):
        hook._note(settings, "records", status, host, "run-1")
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
        "web2 : 0 records written, 1 change NOT recorded",
        "web3 : 0 records written",
    ]
