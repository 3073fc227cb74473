"""The evidence report's manifests: the sha256 of each file, signed with the controller's key."""

from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _evidence as evidence
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._manifest import MANIFEST, MANIFEST_JSON, MANIFEST_SIG, REPORT_PUBLIC_KEY
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing_key import verify
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report import EVIDENCE, report_files
from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._proof.evidence_helpers import RUN

REPORT_FILES = report_files(EVIDENCE)


def test_the_manifest_holds_the_sha256_of_each_file(written):
    directory, _result, sums = written
    lines = (directory / "MANIFEST.sha256").read_text().splitlines()
    assert [line.split("  ")[1] for line in lines] == list(REPORT_FILES)
    for line in lines:
        digest, name = line.split("  ")
        assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == digest == sums[name]
    assert sorted(os.listdir(str(directory))) == sorted(list(REPORT_FILES) + [MANIFEST, MANIFEST_JSON])


# --- the signed report (write_report with the controller's key) --------------------------------------------------


def test_the_signed_manifest_lists_every_file_and_the_ledger_head(signed_report):
    directory, key, sums = signed_report
    data = (directory / MANIFEST_JSON).read_bytes()
    manifest = json.loads(data)
    assert manifest["ledger_head"] == "ab" * 32 and manifest["key_id"] == key.key_id and manifest["run_id"] == RUN
    assert sorted(manifest["files"]) == sorted(list(REPORT_FILES) + [MANIFEST, REPORT_PUBLIC_KEY])
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == digest
    assert {name: manifest["files"][name] for name in REPORT_FILES} == sums
    assert verify(key.public_key, data, (directory / MANIFEST_SIG).read_text().strip())
    assert (directory / REPORT_PUBLIC_KEY).read_text() == key.public_pem()
    assert sorted(os.listdir(str(directory))) == sorted(list(manifest["files"]) + [MANIFEST_JSON, MANIFEST_SIG])


def test_an_unsigned_report_leaves_no_earlier_signature_behind(signed_report):
    directory, _key, _sums = signed_report
    evidence.write_report(evidence.reconcile(RUN, None, {}, None), str(directory))
    names = os.listdir(str(directory))
    assert MANIFEST_SIG not in names and REPORT_PUBLIC_KEY not in names
    assert json.loads((directory / MANIFEST_JSON).read_text())["key_id"] is None
