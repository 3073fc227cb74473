from __future__ import annotations

import pytest

from ansible.errors import AnsibleError
from ansible.executor.task_executor import TaskExecutor
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _install, _settings


@pytest.mark.parametrize("version, series", [("2.19.14", "2.19"), ("2.20.10", "2.20"), ("2.21.5", "2.21")])
def test_tested_versions_pass_the_gate(version, series):
    assert _install.check_version(version) == series


@pytest.mark.parametrize("version", ["2.18.9", "2.22.0.dev0", "2.99.0"])
def test_untested_versions_are_refused_naming_the_tested_ones(version):
    with pytest.raises(AnsibleError, match=r"is tested with ansible-core 2\.19, 2\.20 and 2\.21 only") as info:
        _install.check_version(version)
    assert version in str(info.value)


def test_install_wraps_and_uninstall_restores():
    originals = {name: getattr(TaskExecutor, name) for name in ("_execute", "_get_action_handler_with_module_context", "run")}
    _install.install(_settings.Settings())
    try:
        assert _install.installed()
        assert TaskExecutor._execute is not originals["_execute"]
        assert TaskExecutor._get_action_handler_with_module_context is not originals["_get_action_handler_with_module_context"]
        second = _install.install(_settings.Settings(mode="warn"))  # a second load only takes the new settings
        assert second.settings.mode == "warn"
        assert TaskExecutor._execute is not originals["_execute"]
    finally:
        _install.uninstall()
    assert {name: getattr(TaskExecutor, name) for name in originals} == originals
