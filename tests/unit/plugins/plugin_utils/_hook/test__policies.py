from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _policies


def test_every_policy_has_its_row_and_only_skip_runs_changes_without_a_record():
    assert list(_policies.HOST_POLICIES) == ["fail", "skip", "controller"]
    assert [name for name, row in _policies.HOST_POLICIES.items() if row.skips_records] == ["skip"]
    assert all(row.name == name for name, row in _policies.HOST_POLICIES.items())
    assert _policies.skips_records(("skip", "a container")) and not _policies.skips_records(("records", ""))


def test_fail_stops_the_change_naming_the_policies_and_the_cause():
    decision = _policies.HOST_POLICIES["fail"].decide("web1", "a kernel without audit support", "no audit.", None)
    assert decision.verdict is None and decision.warning is None
    assert "web1 cannot keep Linux audit records: a kernel without audit support (no audit)" in decision.error
    assert "changeaudit_host_policy" in decision.error and "it is now fail" in decision.error


def test_skip_runs_the_change_with_a_warning():
    decision = _policies.HOST_POLICIES["skip"].decide("web1", "a container", None, None)
    assert decision.verdict == ("skip", "a container") and decision.error is None
    assert "by changeaudit_host_policy=skip its changes are not recorded" in decision.warning


@pytest.mark.parametrize("problem", [None, "no CAP_AUDIT_WRITE"])
def test_controller_keeps_the_records_unless_the_controller_cannot_either(problem):
    decision = _policies.HOST_POLICIES["controller"].decide("web1", "a container", None, problem)
    if problem:
        assert decision.verdict is None and "The controller cannot keep them either: no CAP_AUDIT_WRITE" in decision.error
    else:
        assert decision == _policies.Decision(("controller", "a container"))
