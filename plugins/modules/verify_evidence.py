#!/usr/bin/python
# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This is a documentation-only file: the work is done by the action plugin of the same name, on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: verify_evidence
short_description: Check that an evidence report is the one the controller signed
version_added: 1.2.0
author: changeaudit.linux developers (!UNKNOWN)
description:
  - Runs on the controller. Checks the report M(changeaudit.linux.evidence_report) wrote into O(report_dir) against
    its manifest C(MANIFEST.json), which lists every file of the report with its sha256 and the head of the run's
    ledger, and whose signature C(MANIFEST.sig) the controller's Ed25519 signing key made.
  - Says the report is intact, or fails naming each file that no longer verifies, in RV(problems) and the message
    - a file V(changed) since it was written, V(missing) (deleted), V(added), a V(symlink) (one planted in the
    report, or a report file replaced by one), a bad manifest V(signature) (the manifest was rewritten, or signed by
    another key). For an C(evidence.json) that no longer verifies, it also says what was V(edited) where it can
    tell - its summary or verdict against the ones the manifest holds, the statuses of its changes against
    C(evidence.csv) and against its own summary.
  - Never follows a symlink in the report, nor the report directory if it is one.
  - With O(audit_log), checks single records without the controller, months later, for anyone holding the
    controller's public key (O(public_key)) - each change record of the log (a record with the signature C(ctl_sig),
    or one that names the change of a run by C(run_id) and C(seq)), of the run O(run_id) only when given. Each is
    intact when its signature verifies (it covers C(op), C(res) and every field but C(ctl_sig) and
    C(forwarded_to)); else RV(records) says why - V(unsigned), signed by another key, C(res) changed, a field added,
    or forged or altered. Fails when any does not verify, or when the log holds no change record to check.
  - The playbook C(changeaudit.linux.verify_evidence) runs it (C(-e report_dir=DIR), optionally
    C(-e public_key=FILE); C(-e audit_log=FILE -e public_key=FILE [-e run_id=ID]) for single records); see the guide
    R(Proving a run,ansible_collections.changeaudit.linux.docsite.guide_evidence).
extends_documentation_fragment:
  - changeaudit.linux._attributes
  - changeaudit.linux._attributes.INFO_MODULE
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
options:
  report_dir:
    description:
      - The directory of the report to check.
      - One of O(report_dir) and O(audit_log) is required; both check both.
    type: path
  public_key:
    description:
      - The controller's public key (the C(signing.pub) written beside its signing key), a PEM file.
      - Without it, the C(signing.pub) the report carries, with a warning - that proves the report was not changed
        since it was signed, not who signed it, since whoever rewrites a report can sign it with a key of their own.
        Keep the controller's public key apart from its reports, and pass it here.
      - Required with O(audit_log).
    type: path
  audit_log:
    description:
      - An audit log (auditd's format, RAW or ENRICHED, with or without C(node=); a rotation, or what a SIEM exported)
        whose change records to check against O(public_key). Read as it is, without its rotations.
    type: path
    version_added: 1.2.0
  run_id:
    description: With O(audit_log), check only the records of this run.
    type: str
    version_added: 1.2.0
seealso:
  - module: changeaudit.linux.evidence_report
"""

EXAMPLES = r"""
- name: Check the evidence of a run against the controller's public key
  changeaudit.linux.verify_evidence:
    report_dir: /srv/evidence/{{ run_id }}
    public_key: /srv/keys/changeaudit-signing.pub
  delegate_to: localhost
  run_once: true

- name: Check the records of a run a SIEM exported, without the controller
  changeaudit.linux.verify_evidence:
    audit_log: /srv/siem-export/web1-audit.log
    public_key: /srv/keys/changeaudit-signing.pub
    run_id: 9f86d081884c7d65
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
intact:
  description: Whether every file of the report verifies against the signed manifest, and no file was added; with
    O(audit_log), and every change record of the log verifies.
  type: bool
  returned: always
records:
  description: With O(audit_log), each change record checked (those that fail first, at most 1000), with its
    C(event_id), C(time), C(node), C(run_id), C(host) (C(changed_host), else C(delegated_to), else
    C(inventory_host)), C(seq), C(task_id), C(intact) and a C(detail) sentence.
  type: list
  elements: dict
  returned: when audit_log is given
  sample: [{"event_id": "1796292000.512:4711", "host": "web1", "seq": "3", "intact": false,
            "detail": "signature does not verify: forged or altered (res was changed from failed to success after signing)"}]
records_checked:
  description: How many change records of O(audit_log) were checked.
  type: int
  returned: when audit_log is given
records_failed:
  description: How many of them do not verify.
  type: int
  returned: when audit_log is given
problems:
  description: Each finding, with the C(file) it is about, the C(problem) (V(changed), V(missing), V(added),
    V(symlink), V(not_a_file), V(signature), V(unreadable), V(edited)) and a C(detail) sentence.
  type: list
  elements: dict
  returned: always
  sample: [{"file": "evidence.json", "problem": "changed", "detail": "its sha256 is not the one the manifest holds"}]
run_id:
  description: The run the report is about, as its manifest says (with O(audit_log) alone, O(run_id)).
  type: str
  returned: always
ledger_head:
  description: The head of the run's ledger when the report was written, as its manifest says.
  type: str
  returned: when report_dir is given
key_id:
  description: The id of the public key that checked the signature (the first 16 hex digits of the sha256 of the raw key).
  type: str
  returned: always
signed_by:
  description: The key id the manifest's signature names.
  type: str
  returned: when report_dir is given
key_from_report:
  description: Whether the public key was the report's own C(signing.pub) (proves integrity, not origin).
  type: bool
  returned: when report_dir is given
report_dir:
  description: The directory checked.
  type: str
  returned: when report_dir is given
"""
