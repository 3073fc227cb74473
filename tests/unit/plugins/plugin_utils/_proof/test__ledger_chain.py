"""The ledger's lines and directory: a run's directory only its user may write, and a run ID that cannot leave it."""

from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger_chain import LedgerError, run_directory
from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._proof.ledger_helpers import keyed


def test_a_ledger_directory_others_may_write_or_that_is_a_symlink_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(LedgerError, match="group or others"):
        keyed(shared).intent("web1", {})
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(LedgerError, match="not a directory"):
        keyed(tmp_path / "link").intent("web1", {})


@pytest.mark.parametrize("run_id", ["", ".", "..", "a/b", "../x", "a\0b"])
def test_a_run_id_that_is_not_a_file_name_cannot_leave_the_ledger(tmp_path, run_id):
    with pytest.raises(LedgerError):
        run_directory(str(tmp_path), run_id)
