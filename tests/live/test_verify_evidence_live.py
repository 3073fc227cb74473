"""Issue 29, the signed report, for real: ``ansible-playbook changeaudit.linux.verify_evidence`` on a report that
write_report wrote (a reconcile of a synthetic ledger and records, signed with a controller key made on first use in
a ledger directory), then on copies of it tampered with one way each. The honest report says intact; each tampered
copy fails with a message naming the file.

No audit record is written: the report is made in the test, so these runs need no host and no audit trail.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid

import pytest

from test_fail_closed_live import PLAYBOOK, ansible_env, failure_messages, output

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _evidence as evidence
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report import EVIDENCE, report_files
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import controller_key


def verify(report_dir, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PLAYBOOK, "changeaudit.linux.verify_evidence", "-i", "localhost,", "-e", "report_dir=%s" % report_dir, *extra],
        env=ansible_env(callback=False), capture_output=True, text=True, check=False, timeout=300,
    )


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    """A signed report of a run of two hosts (one change without its record), and the controller's public key."""
    base = tmp_path_factory.mktemp("verify")
    run_id = "verify-" + uuid.uuid4().hex
    entries = []
    for host in ("web1", "web2"):
        for seq in (1, 2):
            entries.append({"kind": "intent", "host": host, "seq": seq, "run_id": run_id, "task_id": "%s-t%d" % (run_id, seq),
                            "time": "2026-12-03T10:00:%02d+00:00" % seq, "module": "ansible.builtin.copy",
                            "object": "/etc/motd", "cmd": "Deploy motd"})
            entries.append({"kind": "outcome", "host": host, "seq": seq, "run_id": run_id, "outcome": "changed"})
    reads = {host: {"reachable": True, "records": [
        {"timestamp": 1796292000.0 + seq, "serial": 40 + seq, "event_id": "1796292000.0:%d" % seq, "node": host,
         "fields": {"run_id": run_id, "seq": str(seq), "task_id": "%s-t%d" % (run_id, seq), "inventory_host": host}}
        for seq in ((1, 2) if host == "web1" else (1,))]} for host in ("web1", "web2")}
    sealed = {"problems": [], "sealed": True, "final": True, "head": "d" * 64, "lines": 10, "keyed": True}
    result = evidence.reconcile(run_id, entries, reads, sealed)
    assert result["summary"]["missing"] == 1
    key = controller_key(str(base / "ledger"))
    evidence.write_report(result, str(base / "report"), key, ledger_head="d" * 64)
    return base / "report", str(base / "ledger" / "signing.pub"), run_id


@pytest.fixture
def copy(honest, tmp_path):
    report, public, _run_id = honest
    target = tmp_path / "report"
    shutil.copytree(str(report), str(target), symlinks=True)
    return target, public


def fails_naming(proc: subprocess.CompletedProcess, *texts: str) -> str:
    assert proc.returncode != 0, output(proc)
    messages = failure_messages(proc)
    assert len(messages) == 1, output(proc)
    for text in texts:
        assert text in messages[0], output(proc)
    return messages[0]


def test_the_honest_report_is_intact(honest):
    report, public, run_id = honest
    proc = verify(report, "-e", "public_key=%s" % public)
    assert proc.returncode == 0, output(proc)
    assert "Report %s of run %s is intact" % (report, run_id) in proc.stdout
    assert "taken from the report itself" not in proc.stdout + proc.stderr


def test_without_a_public_key_it_uses_the_reports_own_and_warns_what_that_cannot_prove(honest):
    report, _public, _run_id = honest
    proc = verify(report)
    assert proc.returncode == 0, output(proc)
    said = " ".join((proc.stdout + proc.stderr).split())
    assert "is intact" in said and "The public key was taken from the report itself" in said and "not who signed it" in said


def test_a_status_edited_with_both_manifests_recomputed_fails_on_the_signature(copy):
    report, public = copy
    data = json.loads((report / "evidence.json").read_text())
    row = next(row for row in data["changes"] if row["status"] == "missing")
    row["status"] = "recorded"
    (report / "evidence.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    sums = {name: hashlib.sha256((report / name).read_bytes()).hexdigest() for name in report_files(EVIDENCE)}
    (report / "MANIFEST.sha256").write_text("".join("%s  %s\n" % (sums[name], name) for name in report_files(EVIDENCE)))
    manifest = json.loads((report / "MANIFEST.json").read_text())
    manifest["files"] = {name: hashlib.sha256((report / name).read_bytes()).hexdigest() for name in manifest["files"]}
    (report / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    # sha256sum -c, the unkeyed check, is fooled; the signature is not.
    subprocess.run(["sha256sum", "-c", "--quiet", "MANIFEST.sha256"], cwd=str(report), check=True)
    message = fails_naming(verify(report, "-e", "public_key=%s" % public),
                           "MANIFEST.sig: the signature does not verify MANIFEST.json",
                           "(%s, %s): recorded, evidence.csv says missing" % (row["host"], row["seq"]))
    assert "does not verify" in message


def test_a_deleted_file_is_named(copy):
    report, public = copy
    os.unlink(str(report / "evidence.csv"))
    fails_naming(verify(report, "-e", "public_key=%s" % public), "evidence.csv is missing: it was deleted")


def test_an_added_file_is_named(copy):
    report, public = copy
    (report / "evidence-fixed.json").write_text("{}\n")
    fails_naming(verify(report, "-e", "public_key=%s" % public),
                 "evidence-fixed.json: a file the manifest does not list was added to the report")


def test_a_planted_symlink_is_named_and_not_followed(copy, tmp_path):
    report, public = copy
    os.rename(str(report / "junit.xml"), str(tmp_path / "junit.xml"))
    os.symlink(str(tmp_path / "junit.xml"), str(report / "junit.xml"))
    os.symlink("/etc/shadow", str(report / "shadow"))
    fails_naming(verify(report, "-e", "public_key=%s" % public),
                 "junit.xml is a symlink (never followed", "shadow: a symlink was planted in the report")


def test_an_altered_manifest_signature_is_named(copy):
    report, public = copy
    text = (report / "MANIFEST.sig").read_text().strip()
    (report / "MANIFEST.sig").write_text(text[:-2] + ("AA" if text[-2:] != "AA" else "BA") + "\n")
    fails_naming(verify(report, "-e", "public_key=%s" % public), "MANIFEST.sig: the signature does not verify MANIFEST.json")
