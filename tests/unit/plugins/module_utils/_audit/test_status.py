from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.errors import (
    AuditdNotRunningError,
    AuditDisabledError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.status import (
    ensure_records_kept,
    process_capabilities,
)


@pytest.mark.parametrize(
    "status, error",
    [
        ({"enabled": 0, "pid": 10}, AuditDisabledError),
        ({"enabled": 1, "pid": 0}, AuditdNotRunningError),
        ({"enabled": 0, "pid": 0}, AuditDisabledError),
    ],
)
def test_states_that_lose_records(status, error):
    with pytest.raises(error):
        ensure_records_kept(status)


@pytest.mark.parametrize("enabled", [1, 2])
def test_enabled_and_locked_keep_records(enabled):
    ensure_records_kept({"enabled": enabled, "pid": 10})


@pytest.mark.parametrize(
    "capeff, write, control",
    [("000001ffffffffff", True, True), ("0000000020000000", True, False), ("0000000040000000", False, True), ("0", False, False)],
)
def test_capabilities_from_proc_status(tmp_path, capeff, write, control):
    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapEff:\t%s\n" % capeff)
    assert process_capabilities(str(status)) == {"cap_audit_write": write, "cap_audit_control": control}
