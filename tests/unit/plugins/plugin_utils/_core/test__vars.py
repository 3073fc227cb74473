"""Settings as ansible-core resolves them: module_defaults, extra vars, callback options."""

from __future__ import annotations

import types

import pytest

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _vars


def test_without_a_cli_there_are_no_extra_vars(monkeypatch):
    from ansible import context

    monkeypatch.setattr(context, "CLIARGS", context.CLIArgs({}))
    assert _vars.extra_vars() == {}


def test_extra_vars_are_the_clis(monkeypatch):
    from ansible import context

    monkeypatch.setattr(context, "CLIARGS", context.CLIArgs({"extra_vars": ("changeaudit_run_id=r1",)}))
    assert _vars.extra_vars() == {"changeaudit_run_id": "r1"}


def test_module_defaults_need_cores_helper(monkeypatch):
    from ansible.executor import module_common

    monkeypatch.delattr(module_common, "_apply_action_arg_defaults")
    with pytest.raises(AnsibleError, match="cannot apply module_defaults with ansible-core"):
        _vars.apply_module_defaults("ansible.builtin.copy", types.SimpleNamespace(), {}, None)


def test_a_missing_callback_has_no_options(core_loaders):
    with pytest.raises(AnsibleError, match="cannot be found"):
        _vars.callback_option("acme.missing.callback", "ledger_dir")
