"""The evidence_report action: the run's ledger and the hosts' registered reads in, the report and its verdict out."""

from __future__ import annotations

import json
import os

import pytest

from ansible.errors import AnsibleActionFail
from ansible_collections.changeaudit.linux.plugins.action import evidence_report
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import LEDGER_KEY_PURPOSE, RECORDED, Ledger
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import controller_key

NAME = "changeaudit.linux.evidence_report"


def read(*seqs, run="run-5"):
    return {"changed": False, "records": [
        {"timestamp": 1796292000.0, "serial": 10 + seq,
         "fields": {"run_id": run, "seq": str(seq), "inventory_host": "web1", "task_id": "t"}}
        for seq in seqs
    ]}


@pytest.fixture
def ledger_dir(tmp_path):
    """A run's ledger as the callback keeps it: chained under the controller key of its directory, and sealed."""
    directory = str(tmp_path / "ledger")
    key = controller_key(directory, {})
    ledger = Ledger(directory, "run-5", key.mac_key(LEDGER_KEY_PURPOSE), key.key_id, key.sign)
    ledger.start()
    for _change in range(2):
        ledger.outcome("web1", ledger.intent("web1", {"task_id": "t", "module": "ansible.builtin.copy"}), RECORDED)
    ledger.seal()
    return directory


def run(harness, args, hostvars, check_mode=False):
    h = harness(evidence_report, NAME, args, task_vars={"hostvars": hostvars})
    h.task.check_mode = check_mode
    return h.run()


def test_every_change_recorded_writes_the_report_and_hands_out_the_summary(harness, ledger_dir, tmp_path):
    args = {"run_id": "run-5", "report_dir": str(tmp_path / "report"), "ledger_dir": ledger_dir, "hosts": ["web1"]}
    result = run(harness, args, {"web1": {"changeaudit_evidence_records": read(1, 2)}})
    assert not result.get("failed") and result["changed"] is True
    assert result["summary"]["recorded"] == 2 and result["summary"]["gaps"] == 0
    assert sorted(result["files"]) == ["evidence.csv", "evidence.html", "evidence.json", "junit.xml"]
    assert json.loads((tmp_path / "report" / "evidence.json").read_text())["summary"] == result["summary"]
    assert result["ansible_stats"]["data"]["changeaudit_evidence"]["summary"] == result["summary"]
    assert result["ansible_stats"]["per_host"] is False


def test_a_gap_fails_the_task_naming_it_or_only_warns(harness, ledger_dir, tmp_path):
    args = {"run_id": "run-5", "report_dir": str(tmp_path / "report"), "ledger_dir": ledger_dir, "hosts": ["web1"]}
    result = run(harness, args, {"web1": {"changeaudit_evidence_records": read(1)}})
    assert result["failed"] is True and "1 change of run run-5 lacks proof (missing 1" in result["msg"]
    result = run(harness, dict(args, fail_on_gaps=False), {"web1": {"changeaudit_evidence_records": read(1)}})
    assert not result.get("failed") and result["summary"]["missing"] == 1


@pytest.mark.parametrize("registered, says", [
    (None, "changeaudit_evidence_records is not set"),
    ({"unreachable": True, "msg": "ssh: no route"}, "ssh: no route"),
    ({"failed": False, "msg": "Permission denied: /var/log/audit/audit.log"}, "Permission denied"),
])
def test_a_host_whose_trail_was_not_read_is_a_gap_with_the_reason(harness, ledger_dir, tmp_path, registered, says):
    hostvars = {"web1": {} if registered is None else {"changeaudit_evidence_records": registered}}
    args = {"run_id": "run-5", "report_dir": str(tmp_path / "report"), "ledger_dir": ledger_dir, "hosts": ["web1"]}
    result = run(harness, args, hostvars)
    assert result["failed"] is True and result["summary"]["host_unreachable"] == 2
    rows = json.loads((tmp_path / "report" / "evidence.json").read_text())["changes"]
    assert all(says in row["reason"] for row in rows)


def test_check_mode_reconciles_and_writes_nothing(harness, ledger_dir, tmp_path):
    args = {"run_id": "run-5", "report_dir": str(tmp_path / "report"), "ledger_dir": ledger_dir, "hosts": ["web1"]}
    result = run(harness, args, {"web1": {"changeaudit_evidence_records": read(1, 2)}}, check_mode=True)
    assert result["changed"] is False and result["summary"]["recorded"] == 2 and "files" not in result
    assert not os.path.exists(str(tmp_path / "report"))


def test_the_window_comes_from_the_ledger(harness, ledger_dir):
    result = run(harness, {"run_id": "run-5", "ledger_dir": ledger_dir, "window_only": True}, {})
    assert result["ledger"] is True and result["window"]["since"] < result["window"]["until"]
    assert "summary" not in result


def test_without_a_run_id_it_proves_the_run_it_is_part_of(harness, tmp_path):
    result = run(harness, {"ledger_dir": str(tmp_path), "window_only": True, "expect_ledger": False}, {})
    assert result["run_id"] == "unit-run" and result["ledger"] is False


def test_a_run_without_a_ledger_proves_nothing_unless_told_it_kept_none(harness, tmp_path):
    with pytest.raises(AnsibleActionFail, match="no ledger of run unit-run in .*: nothing can be proven"):
        run(harness, {"ledger_dir": str(tmp_path), "report_dir": str(tmp_path / "report")}, {})


def test_the_run_to_prove_is_never_a_hosts_variable(harness, ledger_dir, tmp_path):
    # A host that returns awx_job_id as a fact: under run_once the task's variables are that host's.
    h = harness(evidence_report, NAME, {"ledger_dir": ledger_dir, "window_only": True, "expect_ledger": False},
                task_vars={"hostvars": {}, "awx_job_id": "999", "run_id": "run-5"})
    assert h.run()["run_id"] == "unit-run"
    # The playbook hands its run_id over; one that only a host's fact set is not the controller's.
    h = harness(evidence_report, NAME, {"run_id": "run-5", "ledger_dir": ledger_dir, "window_only": True,
                                        "expect_ledger": False},
                task_vars={"hostvars": {}, "ansible_facts": {"run_id": "run-5"}})
    assert h.run()["run_id"] == "unit-run"


def test_an_empty_run_id_or_no_report_dir_is_refused(harness, ledger_dir):
    with pytest.raises(AnsibleActionFail, match="run_id is empty"):
        run(harness, {"run_id": "", "ledger_dir": ledger_dir, "window_only": True}, {})
    with pytest.raises(AnsibleActionFail, match="report_dir is required"):
        run(harness, {"run_id": "run-5", "ledger_dir": ledger_dir}, {})
