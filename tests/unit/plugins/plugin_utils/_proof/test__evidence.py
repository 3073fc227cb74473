"""Reconciling a run's ledger with the records each host holds, and writing its report."""

from __future__ import annotations

import os

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _evidence as evidence
from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._proof.evidence_helpers import RUN, SEALED, intent, outcome, record, statuses


def test_each_change_gets_its_status():
    ledger = [
        intent("web1", 1), outcome("web1", 1, "recorded"),
        intent("web1", 2), outcome("web1", 2, "unchanged"),
        intent("web1", 3), outcome("web1", 3, "recorded"),
        intent("web1", 4),
        intent("web1", 5, policy="skip list"), outcome("web1", 5, "skipped_by_policy"),
        intent("web1", 6), outcome("web1", 6, "not_recorded", reason="auditd is not running"),
        intent("db1", 1), outcome("db1", 1, "recorded"),
    ]
    reads = {
        "web1": {"reachable": True, "records": [
            record(1), record(7), record(None, module="changeaudit.linux.usys_config"), record(1, serial=500),
            record(2, run="other-run"),
        ]},
        "db1": {"reachable": False, "records": [], "error": "ssh: connection refused"},
    }
    result = evidence.reconcile(RUN, ledger, reads, SEALED)
    assert statuses(result) == [
        ("db1", 1, "host_unreachable"),
        ("web1", 1, "recorded"),
        ("web1", 1, "unexpected"),
        ("web1", 3, "missing"),
        ("web1", 4, "unknown_outcome"),
        ("web1", 5, "skipped_by_policy"),
        ("web1", 6, "missing"),
        ("web1", 7, "unexpected"),
        ("web1", None, "own_record"),
    ]
    rows = {(row["host"], row["seq"], row["status"]): row for row in result["changes"]}
    assert rows[("web1", 6, "missing")]["reason"] == "auditd is not running"
    assert rows[("web1", 1, "unexpected")]["reason"] == "a second record of this change"
    assert rows[("web1", 1, "recorded")]["audit_serial"] == 101 and rows[("web1", 1, "recorded")]["login"] == "alice"
    assert rows[("db1", 1, "host_unreachable")]["reason"] == "ssh: connection refused"
    assert result["summary"]["gaps"] == 6 and result["summary"]["recorded"] == 1
    assert result["hosts"]["web1"]["nodes"] == [] and result["hosts"]["db1"]["reachable"] is False
    forwarded = evidence.reconcile(RUN, None, {"web1": {"reachable": True, "records": [dict(record(None), node="web1.example")]}})
    assert forwarded["hosts"]["web1"]["nodes"] == ["web1.example"]
    assert result["window"] == {"since": "2026-12-03T09:55:01+00:00", "until": "2026-12-03T10:05:06+00:00"}


def test_a_record_whose_outcome_was_lost_still_proves_the_change():
    result = evidence.reconcile(RUN, [intent("web1", 1)], {"web1": {"reachable": True, "records": [record(1)]}}, SEALED)
    [row] = result["changes"]
    assert row["status"] == "recorded" and "no outcome" in row["reason"]
    assert result["summary"]["gaps"] == 0


def test_a_record_naming_another_host_is_that_hosts_even_in_a_shared_log():
    shared = [record(1, inventory_host="web1"), record(1, inventory_host="web2", serial=200),
              record(2, inventory_host="web2", delegated_to="web1", serial=300)]
    ledger = [intent("web1", 1), outcome("web1", 1, "recorded"), intent("web2", 1), outcome("web2", 1, "recorded"),
              intent("web1", 2), outcome("web1", 2, "recorded")]
    result = evidence.reconcile(RUN, ledger, {"web1": {"reachable": True, "records": shared},
                                              "web2": {"reachable": True, "records": shared}}, SEALED)
    assert statuses(result) == [("web1", 1, "recorded"), ("web1", 2, "recorded"), ("web2", 1, "recorded")]
    assert result["hosts"]["web1"]["records_of_other_hosts"] == 1 and result["hosts"]["web2"]["records_of_other_hosts"] == 2


def test_a_record_kept_on_the_controller_proves_the_change_of_the_host_it_names():
    # changeaudit_host_policy=controller: the switch keeps no record; the controller's log holds it, naming the switch.
    kept = record(1, inventory_host="switch1", changed_host="switch1", kept_on="controller")
    ledger = [intent("switch1", 1), outcome("switch1", 1, "recorded")]
    result = evidence.reconcile(RUN, ledger, {"switch1": {"reachable": True, "records": []}}, SEALED,
                                controller={"reachable": True, "records": [kept]})
    assert statuses(result) == [("switch1", 1, "recorded")]
    assert result["summary"]["gaps"] == 0


def test_a_record_of_another_run_with_the_same_run_id_proves_nothing():
    # A pipeline rerun with the same run_id and a fresh ledger: the first run's record has the run, host and seq of
    # the second run's change, but not the task the second run's ledger says made it.
    ledger = [intent("web1", 1, task_id="second-run-task"), outcome("web1", 1, "not_recorded", reason="dropped")]
    result = evidence.reconcile(RUN, ledger, {"web1": {"reachable": True, "records": [record(1, task_id="first-run-task")]}},
                                SEALED)
    assert statuses(result) == [("web1", 1, "missing"), ("web1", 1, "unexpected")]
    assert "another run with the same run_id" in result["changes"][1]["reason"]


@pytest.mark.parametrize("found, statuses_found", [
    ([record(1)], [("web1", 1, "recorded")]),
    ([], [("web1", 1, "unknown_outcome")]),
])
def test_an_unknown_outcome_is_a_gap_unless_its_record_is_there(found, statuses_found):
    ledger = [intent("web1", 1), outcome("web1", 1, "unknown", reason="the host became unreachable during the task")]
    result = evidence.reconcile(RUN, ledger, {"web1": {"reachable": True, "records": found}}, SEALED)
    assert statuses(result) == statuses_found
    assert "unreachable" in result["changes"][0]["reason"]


def test_a_ledger_no_seal_covers_or_with_problems_is_not_proven():
    ledger = [intent("web1", 1), outcome("web1", 1, "recorded")]
    reads = {"web1": {"reachable": True, "records": [record(1)]}}
    unsealed = evidence.reconcile(RUN, ledger, reads, dict(SEALED, sealed=False, final=False))
    assert unsealed["summary"]["gaps"] == 1 and unsealed["summary"]["change_gaps"] == 0
    assert unsealed["verdict"].startswith("Not proven: the run did not end")
    problem = {"line": 3, "problem": "edited", "detail": "line 3 does not match its mac"}
    tampered = evidence.reconcile(RUN, ledger, reads, dict(SEALED, problems=[problem]))
    assert tampered["summary"]["ledger_problems"] == 1 and tampered["summary"]["gaps"] == 1
    assert "line 3 does not match its mac" in tampered["verdict"]
    checkpoint = evidence.reconcile(RUN, ledger, reads, dict(SEALED, final=False))
    assert checkpoint["summary"]["gaps"] == 0 and "so far" in checkpoint["verdict"]
    assert evidence.reconcile(RUN, ledger, reads, SEALED)["verdict"] == "Every change of the run has its record."


def test_the_cost_grows_with_rows_not_hosts_times_rows():
    hosts = ["h%05d" % number for number in range(3000)]
    ledger = [line for host in hosts for line in (intent(host, 1), outcome(host, 1, "recorded"))]
    reads = {host: {"reachable": True, "records": [record(1, inventory_host=host)]} for host in hosts}
    result = evidence.reconcile(RUN, ledger, reads, SEALED)
    assert result["summary"]["recorded"] == 3000 and all(about["changes"] == 1 for about in result["hosts"].values())


def test_a_host_of_the_ledger_that_was_not_read_is_a_gap():
    result = evidence.reconcile(RUN, [intent("web9", 1), outcome("web9", 1, "recorded")], {}, SEALED)
    assert statuses(result) == [("web9", 1, "host_unreachable")]


def test_without_a_ledger_the_report_is_an_inventory():
    result = evidence.reconcile(RUN, None, {"web1": {"reachable": True, "records": [record(None), record(None, serial=7)]}})
    assert [row["status"] for row in result["changes"]] == ["recorded", "recorded"]
    assert result["ledger"] is False and result["summary"]["gaps"] == 0


def test_a_report_dir_that_is_a_symlink_or_another_users_is_refused(tmp_path):
    import pwd

    from ansible.errors import AnsibleError

    result = evidence.reconcile(RUN, None, {}, None)
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(str(real), str(tmp_path / "link"))
    with pytest.raises(AnsibleError, match="link: it is a symlink, which is never followed"):
        evidence.write_report(result, str(tmp_path / "link"))
    assert os.listdir(str(real)) == []
    other = pwd.getpwnam("nobody")
    os.chown(str(real), other.pw_uid, -1)
    with pytest.raises(AnsibleError, match=r"real: it is owned by uid %d, not by the controller's user" % other.pw_uid):
        evidence.write_report(result, str(real))
    assert os.listdir(str(real)) == []


from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import sign_record  # noqa: E402
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing_key import SigningKey  # noqa: E402

KEY = SigningKey.generate()
OP = "ansible-change:ansible.builtin.copy"
# What a run of 1.2 on says in its ledger: it signs its records.
SIGNED_LEDGER = dict(SEALED, entries=[{"kind": "start", "key_id": KEY.key_id, "record_signature": "ctl_sig"}])


def signed_record(seq, key=KEY, res="success", **fields):
    made = record(seq, inventory_host=fields.pop("inventory_host", "web1"), **fields)
    params = sign_record(key, {"op": OP, "result": res, "fields": made["fields"]})
    return dict(made, op=OP, result=res, fields=params["fields"])


def two_changes():
    return [intent("web1", 1), outcome("web1", 1, "recorded"), intent("web1", 2), outcome("web1", 2, "recorded")]


def reasons(result):
    return [(row["seq"], row["status"], row["reason"]) for row in result["changes"] if row["status"] == "unexpected"]


def test_signed_records_prove_their_changes_and_the_report_says_signatures_were_required():
    result = evidence.reconcile(RUN, two_changes(), {"web1": {"reachable": True, "records": [signed_record(1), signed_record(2)]}},
                                SIGNED_LEDGER, public_key=KEY)
    assert statuses(result) == [("web1", 1, "recorded"), ("web1", 2, "recorded")]
    assert result["signatures"] == {"required": True, "key_id": KEY.key_id} and result["summary"]["gaps"] == 0


def forged_copies():
    genuine = signed_record(1)
    unsigned = record(1, inventory_host="web1")
    lifted = dict(record(1, inventory_host="web1"), op=OP, result="success")
    lifted["fields"]["ctl_sig"] = signed_record(2)["fields"]["ctl_sig"]
    flipped = dict(genuine, result="failed", serial=900)
    other_key = signed_record(1, key=SigningKey.generate())
    return genuine, [unsigned, lifted, flipped, other_key]


@pytest.mark.parametrize("forged_first", [True, False])
def test_forged_records_are_unexpected_and_never_displace_the_genuine_one_whatever_the_order(forged_first):
    genuine, forged = forged_copies()
    found = forged + [genuine] if forged_first else [genuine] + forged
    result = evidence.reconcile(RUN, two_changes()[:2], {"web1": {"reachable": True, "records": found}},
                                SIGNED_LEDGER, public_key=KEY)
    recorded = [row for row in result["changes"] if row["status"] == "recorded"]
    assert len(recorded) == 1 and recorded[0]["audit_serial"] == genuine["serial"]
    said = sorted(reason for _seq, _status, reason in reasons(result))
    assert len(said) == 4
    assert said[0].startswith("signature does not verify: forged or altered (a signed field")
    assert "res was changed from success to failed" in said[1]
    assert said[2].startswith("signed by the key") and said[3].startswith("unsigned")


def test_a_record_forged_on_another_host_for_this_hosts_change_counts_nowhere():
    # Root on web2 writes web1's change, signature and all, naming web1: it is web1's only in web1's own trail.
    genuine = signed_record(1)
    reads = {"web1": {"reachable": True, "records": []}, "web2": {"reachable": True, "records": [genuine]}}
    result = evidence.reconcile(RUN, two_changes()[:2], reads, SIGNED_LEDGER, public_key=KEY)
    assert statuses(result) == [("web1", 1, "missing")]
    assert result["hosts"]["web2"]["records_of_other_hosts"] == 1


def test_a_record_signed_for_another_run_or_altered_to_this_run_is_unexpected():
    other_run = signed_record(1, run="run-other")
    moved = dict(other_run, fields=dict(other_run["fields"], run_id=RUN))
    result = evidence.reconcile(RUN, two_changes()[:2], {"web1": {"reachable": True, "records": [other_run, moved]}},
                                SIGNED_LEDGER, public_key=KEY)
    assert statuses(result) == [("web1", 1, "missing"), ("web1", 1, "unexpected")]
    assert reasons(result)[0][2].startswith("signature does not verify")


def test_a_replayed_record_of_a_run_that_reused_the_run_id_is_named_by_its_task():
    replayed = signed_record(1, task_id="first-run-task")
    ledger = [intent("web1", 1, task_id="second-run-task"), outcome("web1", 1, "recorded")]
    result = evidence.reconcile(RUN, ledger, {"web1": {"reachable": True, "records": [replayed]}}, SIGNED_LEDGER,
                                public_key=KEY)
    assert statuses(result) == [("web1", 1, "missing"), ("web1", 1, "unexpected")]
    assert "another run with the same run_id" in reasons(result)[0][2]


def test_kept_on_controller_counts_only_from_the_controllers_own_trail():
    kept = signed_record(1, inventory_host="switch1", changed_host="switch1", kept_on="controller")
    ledger = [intent("switch1", 1), outcome("switch1", 1, "recorded")]
    # Found in a managed host's trail (root there wrote or copied it): unexpected, and the change is not proven.
    result = evidence.reconcile(RUN, ledger, {"web1": {"reachable": True, "records": [kept]},
                                              "switch1": {"reachable": True, "records": []}},
                                SIGNED_LEDGER, public_key=KEY, controller={"reachable": True, "records": []})
    assert sorted(statuses(result)) == [("switch1", 1, "missing"), ("web1", 1, "unexpected")]
    assert "only the controller's own trail holds those" in reasons(result)[0][2]
    # From the controller's trail it proves the change; the same event seen again in a log shared with the
    # controller's (test hosts on one machine) is that log, not a second record.
    result = evidence.reconcile(RUN, ledger, {"web1": {"reachable": True, "records": [kept]},
                                              "switch1": {"reachable": True, "records": []}},
                                SIGNED_LEDGER, public_key=KEY, controller={"reachable": True, "records": [kept]})
    assert statuses(result) == [("switch1", 1, "recorded")]
    assert result["hosts"]["web1"]["records_of_other_hosts"] == 1
    # A controller's trail that could not be read is named in the reason of what is missing.
    result = evidence.reconcile(RUN, ledger, {"switch1": {"reachable": True, "records": []}}, SIGNED_LEDGER,
                                public_key=KEY, controller={"reachable": False, "records": [], "error": "sudo: a password is required"})
    assert "sudo: a password is required" in result["changes"][0]["reason"]


def test_a_run_that_signs_nothing_is_matched_as_before_and_a_bad_signature_still_counts():
    # A ledger of before 1.2 says nothing of signatures: unsigned records prove their changes.
    flipped = dict(signed_record(2), result="failed")
    result = evidence.reconcile(RUN, two_changes(), {"web1": {"reachable": True, "records": [record(1, inventory_host="web1"),
                                                                                             flipped]}},
                                SEALED, public_key=KEY)
    assert statuses(result) == [("web1", 1, "recorded"), ("web1", 2, "missing"), ("web1", 2, "unexpected")]


def test_an_own_record_with_a_bad_signature_is_unexpected_and_an_unsigned_one_is_listed():
    audited = signed_record(None, module="changeaudit.linux.audited")
    bad = dict(audited, result="failed")
    plain = record(None, inventory_host="web1", module="changeaudit.linux.usys_config")
    result = evidence.reconcile(RUN, two_changes()[:2], {"web1": {"reachable": True, "records": [signed_record(1), audited, bad, plain]}},
                                SIGNED_LEDGER, public_key=KEY)
    assert sorted(statuses(result), key=str) == sorted([("web1", 1, "recorded"), ("web1", None, "own_record"),
                                                        ("web1", None, "own_record"), ("web1", None, "unexpected")], key=str)


def test_reconcile_of_many_forged_records_diagnoses_only_the_first_ones(monkeypatch):
    monkeypatch.setattr(evidence, "DIAGNOSED_MAX", 3)
    forged = [dict(signed_record(1), serial=1000 + n, result="failed") for n in range(6)]
    result = evidence.reconcile(RUN, two_changes()[:2], {"web1": {"reachable": True, "records": forged}}, SIGNED_LEDGER,
                                public_key=KEY)
    said = [reason for _seq, _status, reason in reasons(result)]
    assert sum("res was changed" in reason for reason in said) == 3 and len(said) == 6
