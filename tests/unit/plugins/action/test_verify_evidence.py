"""The verify_evidence action: "intact" or a failure naming each file, and the warning when the key is the report's."""

from __future__ import annotations

import os

import pytest

from ansible_collections.changeaudit.linux.plugins.action import verify_evidence
from ansible_collections.changeaudit.linux.plugins.module_utils import _specs
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _evidence as evidence
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import SigningKey

NAME = "changeaudit.linux.verify_evidence"


@pytest.fixture
def report(tmp_path):
    key = SigningKey.generate()
    evidence.write_report(evidence.reconcile("run-v", None, {}, None), str(tmp_path / "report"), key, ledger_head=None)
    (tmp_path / "controller.pub").write_text(key.public_pem())
    return tmp_path / "report", str(tmp_path / "controller.pub")


def run(harness, args, monkeypatch):
    warnings = []
    h = harness(verify_evidence, NAME, args)
    monkeypatch.setattr(h.action._display, "warning", warnings.append)
    return h.run(), warnings


def test_an_intact_report_passes_and_says_so(harness, report, monkeypatch):
    directory, public = report
    result, warnings = run(harness, {"report_dir": str(directory), "public_key": public}, monkeypatch)
    assert not result.get("failed") and result["intact"] is True and result["changed"] is False
    assert "is intact" in result["msg"] and warnings == []


def test_the_reports_own_key_warns_that_it_proves_integrity_not_origin(harness, report, monkeypatch):
    directory, _public = report
    result, warnings = run(harness, {"report_dir": str(directory)}, monkeypatch)
    assert result["intact"] is True and result["key_from_report"] is True
    assert len(warnings) == 1 and "not who signed it" in warnings[0] and "public_key" in warnings[0]


def test_a_tampered_report_fails_naming_the_file(harness, report, monkeypatch):
    directory, public = report
    os.unlink(str(directory / "junit.xml"))
    result, _warnings = run(harness, {"report_dir": str(directory), "public_key": public}, monkeypatch)
    assert result["failed"] is True and result["intact"] is False
    assert "junit.xml is missing: it was deleted" in result["msg"]
    assert result["problems"] == [{"file": "junit.xml", "problem": "missing", "detail": "junit.xml is missing: it was deleted"}]


def test_no_report_fails_with_the_reason(harness, tmp_path, monkeypatch):
    from ansible.errors import AnsibleActionFail

    with pytest.raises(AnsibleActionFail, match="cannot verify the report: there is no report to verify"):
        run(harness, {"report_dir": str(tmp_path / "none")}, monkeypatch)


def test_the_action_takes_exactly_its_spec():
    assert verify_evidence.ActionModule._VALID_ARGS == frozenset(_specs.VERIFY_EVIDENCE_ARGUMENT_SPEC)


def test_single_records_need_the_public_key_and_one_of_the_two_is_required(harness, tmp_path, monkeypatch):
    from ansible.errors import AnsibleActionFail

    log = tmp_path / "audit.log"
    log.write_text("")
    with pytest.raises(AnsibleActionFail, match="audit_log needs public_key"):
        run(harness, {"audit_log": str(log)}, monkeypatch)
    with pytest.raises(AnsibleActionFail, match="give report_dir .* or audit_log"):
        run(harness, {}, monkeypatch)


def test_a_log_without_a_change_record_fails_and_says_there_was_nothing_to_verify(harness, report, tmp_path, monkeypatch):
    _directory, public = report
    log = tmp_path / "audit.log"
    log.write_text("")
    result, _warnings = run(harness, {"audit_log": str(log), "public_key": public, "run_id": "run-v"}, monkeypatch)
    assert result["failed"] is True and result["records_checked"] == 0 and "nothing to verify" in result["msg"]
