"""No key from the environment of the tests; the ledger directory a key is made in; the evidence reports the tests of
the report's files read: one unsigned, one signed by a fresh key."""

from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _evidence as evidence
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing_key import KEY_ENV, KEY_FILE_ENV
from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._proof.evidence_helpers import (
    HOSTILE,
    RUN,
    SEALED,
    intent,
    outcome,
    record,
)


@pytest.fixture
def written(tmp_path):
    ledger = [intent("web1", 1, cmd=HOSTILE), outcome("web1", 1, "recorded"), intent("web1", 2), intent("web2", 1),
              outcome("web2", 1, "skipped_by_policy")]
    result = evidence.reconcile(RUN, ledger, {"web1": {"reachable": True, "records": [record(1, cmd=HOSTILE)]},
                                              "web2": {"reachable": True, "records": []}}, SEALED)
    sums = evidence.write_report(result, str(tmp_path / "report"))
    return tmp_path / "report", result, sums


@pytest.fixture
def signed_report(tmp_path):
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import SigningKey

    key = SigningKey.generate()
    result = evidence.reconcile(RUN, [intent("web1", 1), outcome("web1", 1, "recorded")],
                                {"web1": {"reachable": True, "records": [record(1)]}}, SEALED)
    sums = evidence.write_report(result, str(tmp_path / "report"), key, ledger_head="ab" * 32)
    return tmp_path / "report", key, sums


@pytest.fixture(autouse=True)
def no_key_from_the_environment(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)


@pytest.fixture
def ledger(tmp_path):
    path = tmp_path / "ledger"
    path.mkdir(mode=0o700)
    return path
