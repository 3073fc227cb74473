"""Checking a report against its signed manifest: an honest report is intact; each way of tampering with it is named
by the file it touched. Reports are written by write_report with a real key, into tmp dirs."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _evidence as evidence
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_check import check_report, summary_text
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report import EVIDENCE, report_files
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing_key import SigningKey

RUN = "run-check"
SEALED = {"problems": [], "sealed": True, "final": True, "head": "c" * 64, "lines": 6, "keyed": True}


def intent(host, seq):
    return {"kind": "intent", "host": host, "seq": seq, "time": "2026-12-03T10:00:%02d+00:00" % seq, "task_id": "t-%d" % seq,
            "module": "ansible.builtin.copy", "object": "/etc/f%d" % seq, "cmd": "Task %d" % seq}


def outcome(host, seq):
    return {"kind": "outcome", "host": host, "seq": seq, "outcome": "changed"}


def record(host, seq):
    return {"timestamp": 1796292000.5 + seq, "serial": 100 + seq, "event_id": "x:%d" % seq, "node": None,
            "fields": {"run_id": RUN, "seq": str(seq), "task_id": "t-%d" % seq, "inventory_host": host}}


@pytest.fixture
def key():
    return SigningKey.generate()


@pytest.fixture
def report(tmp_path, key):
    entries = [intent("web1", 1), outcome("web1", 1), intent("web1", 2), outcome("web1", 2), intent("web2", 1), outcome("web2", 1)]
    reads = {"web1": {"reachable": True, "records": [record("web1", 1)]}, "web2": {"reachable": True, "records": [record("web2", 1)]}}
    directory = tmp_path / "report"
    evidence.write_report(evidence.reconcile(RUN, entries, reads, SEALED), str(directory), key, ledger_head="c" * 64)
    return directory


def public_file(tmp_path, key):
    path = tmp_path / "controller.pub"
    path.write_text(key.public_pem())
    return str(path)


def found(check):
    return [(problem["file"], problem["problem"]) for problem in check["problems"]]


def rewrite_manifests(directory):
    """What someone who edits a report does next: recompute MANIFEST.sha256 and MANIFEST.json (not the signature)."""
    sums = {name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in report_files(EVIDENCE)}
    (directory / "MANIFEST.sha256").write_text("".join("%s  %s\n" % (sums[name], name) for name in report_files(EVIDENCE)))
    manifest = json.loads((directory / "MANIFEST.json").read_text())
    for name in manifest["files"]:
        manifest["files"][name] = hashlib.sha256((directory / name).read_bytes()).hexdigest()
    (directory / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def edit_status(directory, status="recorded"):
    report = json.loads((directory / "evidence.json").read_text())
    row = next(row for row in report["changes"] if row["status"] == "missing")
    row["status"] = status
    (directory / "evidence.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return row


def test_an_honest_report_is_intact_with_the_controllers_key_or_its_own(report, key, tmp_path):
    check = check_report(str(report), public_file(tmp_path, key))
    assert check["intact"] and check["problems"] == [] and not check["key_from_report"]
    assert check["run_id"] == RUN and check["ledger_head"] == "c" * 64 and check["key_id"] == check["signed_by"] == key.key_id
    assert check["files"] == 6
    assert summary_text(check).startswith("Report %s of run %s is intact" % (report, RUN))
    own = check_report(str(report))
    assert own["intact"] and own["key_from_report"]


def test_a_status_edited_with_both_manifests_recomputed_fails_on_the_signature_and_names_the_change(report, key, tmp_path):
    row = edit_status(report)
    rewrite_manifests(report)
    check = check_report(str(report), public_file(tmp_path, key))
    assert not check["intact"]
    assert ("MANIFEST.sig", "signature") in found(check)
    edits = [problem["detail"] for problem in check["problems"] if problem["problem"] == "edited"]
    assert any("(web1, %d): recorded, evidence.csv says missing" % row["seq"] in edit for edit in edits), edits
    assert any("its summary does not count its own rows (recorded 2 of 3, missing 1 of 0)" in edit for edit in edits), edits
    assert "MANIFEST.sig: the signature does not verify MANIFEST.json" in summary_text(check)


def test_a_status_edited_alone_names_evidence_json_and_what_was_edited(report, key, tmp_path):
    report_data = json.loads((report / "evidence.json").read_text())
    report_data["summary"]["missing"] = 0
    report_data["summary"]["gaps"] = 0
    (report / "evidence.json").write_text(json.dumps(report_data))
    check = check_report(str(report), public_file(tmp_path, key))
    assert found(check)[0] == ("evidence.json", "changed")
    edits = " ".join(problem["detail"] for problem in check["problems"] if problem["problem"] == "edited")
    assert "its summary differs from the one the manifest holds (gaps 1 -> 0, missing 1 -> 0)" in edits


@pytest.mark.parametrize("name", ["evidence.csv", "MANIFEST.sha256", "signing.pub", "junit.xml"])
def test_a_deleted_file_is_named(report, key, tmp_path, name):
    os.unlink(str(report / name))
    check = check_report(str(report), public_file(tmp_path, key))
    assert found(check) == [(name, "missing")]
    assert "%s is missing: it was deleted" % name in summary_text(check)


def test_a_file_added_or_a_symlink_planted_is_named(report, key, tmp_path):
    (report / "notes.txt").write_text("added\n")
    os.symlink("/etc/passwd", str(report / "passwd"))
    check = check_report(str(report), public_file(tmp_path, key))
    assert found(check) == [("notes.txt", "added"), ("passwd", "symlink")]


def test_a_report_file_replaced_by_a_symlink_to_its_own_copy_is_named_and_never_followed(report, key, tmp_path):
    os.rename(str(report / "evidence.html"), str(tmp_path / "evidence.html"))
    os.symlink(str(tmp_path / "evidence.html"), str(report / "evidence.html"))
    check = check_report(str(report), public_file(tmp_path, key))
    assert found(check) == [("evidence.html", "symlink")]


@pytest.mark.parametrize("mangle, says", [
    (lambda text: text[:-3] + ("A" if text[-3] != "A" else "B") + text[-2:], "the signature does not verify MANIFEST.json"),
    (lambda text: "", "holds no signature of this collection"),
    (lambda text: SigningKey.generate().sign(b"x") + "\n", "it is signed by the key"),
])
def test_an_altered_manifest_signature_is_named(report, key, tmp_path, mangle, says):
    (report / "MANIFEST.sig").write_text(mangle((report / "MANIFEST.sig").read_text()))
    check = check_report(str(report), public_file(tmp_path, key))
    assert found(check) == [("MANIFEST.sig", "signature")] and says in check["problems"][0]["detail"]


def test_a_report_resigned_with_another_key_verifies_only_with_its_own_key(report, key, tmp_path):
    forger = SigningKey.generate()
    edit_status(report)
    rewrite_manifests(report)
    (report / "signing.pub").write_text(forger.public_pem())
    rewrite_manifests(report)
    (report / "MANIFEST.sig").write_text(forger.sign((report / "MANIFEST.json").read_bytes()) + "\n")
    # The report's own key proves only that it was not changed since it was signed: by the forger.
    assert check_report(str(report))["intact"]
    check = check_report(str(report), public_file(tmp_path, key))
    assert ("MANIFEST.sig", "signature") in found(check)
    assert "signed by the key %s, not by the public key given (%s)" % (forger.key_id, key.key_id) in summary_text(check)


def test_an_unsigned_report_does_not_verify(tmp_path, key):
    evidence.write_report(evidence.reconcile(RUN, None, {}, None), str(tmp_path / "report"))
    check = check_report(str(tmp_path / "report"), public_file(tmp_path, key))
    assert found(check) == [("MANIFEST.sig", "missing")]
    assert "the report is not signed" in summary_text(check)


def test_a_missing_or_unreadable_manifest_is_named(report, key, tmp_path):
    (report / "MANIFEST.json").write_text("{not json")
    check = check_report(str(report), public_file(tmp_path, key))
    assert ("MANIFEST.json", "changed") in found(check) and ("MANIFEST.sig", "signature") in found(check)
    os.unlink(str(report / "MANIFEST.json"))
    check = check_report(str(report), public_file(tmp_path, key))
    assert found(check)[0] == ("MANIFEST.json", "missing")


def test_a_report_dir_that_is_a_symlink_is_not_followed(report, key, tmp_path):
    os.symlink(str(report), str(tmp_path / "link"))
    check = check_report(str(tmp_path / "link"), public_file(tmp_path, key))
    assert not check["intact"] and found(check) == [(str(tmp_path / "link"), "symlink")]


def test_no_report_or_an_unusable_public_key_is_a_clear_error(tmp_path, report):
    with pytest.raises(AnsibleError, match="there is no report to verify in .*nowhere: No such file"):
        check_report(str(tmp_path / "nowhere"))
    (tmp_path / "bad.pub").write_text("garbage")
    with pytest.raises(AnsibleError, match="bad.pub is not a PEM public key"):
        check_report(str(report), str(tmp_path / "bad.pub"))


# --- single records from a log, without the controller (issue 29) ----------------------------------------------------

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import build_message  # noqa: E402
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_check import check_records, records_summary_text  # noqa: E402
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import sign_record  # noqa: E402

OP = "ansible-change:ansible.builtin.copy"


def log_line(serial, op, fields, res="success"):
    return ("type=USYS_CONFIG msg=audit(1796292000.%03d:%d): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='%s "
            'comm="ansible" exe="/usr/bin/python3" hostname=ctl addr=? terminal=? res=%s\'\n'
            % (serial % 1000, serial, build_message(op, fields), res))


def signed_fields(key, seq, run=RUN, res="success"):
    fields = {"run_id": run, "seq": str(seq), "task_id": "02fc0000-0001-16ba-5381-%012d" % seq, "inventory_host": "web1",
              "object": "/etc/a file %d" % seq}
    return sign_record(key, {"op": OP, "result": res, "fields": fields})["fields"]


def test_each_record_of_a_log_is_checked_with_the_public_key_alone(tmp_path, key):
    public = tmp_path / "signing.pub"
    public.write_text(key.public_pem())
    good = signed_fields(key, 1)
    lines = [log_line(1, OP, good), log_line(2, OP, signed_fields(key, 2), res="failed"),
             log_line(3, OP, dict(good, seq="3")), log_line(4, OP, {k: v for k, v in good.items() if k != "ctl_sig"}),
             log_line(5, OP, signed_fields(key, 5, run="other-run")), log_line(6, "unrelated", {"x": "1"})]
    log = tmp_path / "audit.log"
    log.write_text("".join(lines))
    check = check_records(str(log), str(public), RUN)
    assert (check["intact"], check["checked"], check["failed"]) == (False, 4, 3)
    by_seq = {entry["seq"]: entry for entry in check["records"]}
    assert by_seq["1"]["intact"] is True and by_seq["1"]["host"] == "web1"
    assert "res was changed from success to failed" in by_seq["2"]["detail"]
    assert by_seq["3"]["detail"].startswith("signature does not verify: forged or altered")
    assert by_seq["1"]["detail"].startswith("the signature verifies") and check["records"][0]["intact"] is False
    text = records_summary_text(check)
    assert text.startswith("3 of the 4 change records") and "unsigned" in text
    every_run = check_records(str(log), str(public))
    assert every_run["checked"] == 5 and every_run["failed"] == 3
    log.write_text(log_line(1, OP, good))
    assert check_records(str(log), str(public), RUN)["intact"] is True
    assert "No change record" in records_summary_text(check_records(str(log), str(public), "no-such-run"))
    with pytest.raises(AnsibleError, match="cannot read the audit log"):
        check_records(str(tmp_path / "missing.log"), str(public))
