#!/usr/bin/python
# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This is a documentation-only file: the work is done by the action plugin of the same name, on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: evidence_report
short_description: Match a run's ledger with the audit records each host holds, and write the evidence report
version_added: 1.2.0
author: changeaudit.linux developers (!UNKNOWN)
description:
  - Runs on the controller. Reads the ledger the P(changeaudit.linux.record_changes#callback) callback kept for the
    run O(run_id) (what the controller was about to change, and what came of it) and the records of that run that
    M(changeaudit.linux.usys_config_info) read on each host of O(hosts), registered there as O(records_var), and
    matches them one to one by host and C(seq).
  - "Each change is V(recorded), V(missing) (the ledger says it was changed and no record is there),
    V(unknown_outcome) (an intent and no outcome: a worker that died between the change and its record),
    V(skipped_by_policy), V(host_unreachable) (the host's trail could not be read), V(no_records_from_node) (read
    from a collector, O(collector) or O(collector_log), that holds no record of the run from the host's node), or,
    for a record the ledger does not know, V(unexpected). Records of M(changeaudit.linux.audited) and M(changeaudit.linux.usys_config)
    tasks, which record themselves, are listed as V(own_record). A run without a ledger gets an inventory of its
    records per host."
  - Writes into O(report_dir) C(evidence.json) (the whole reconciliation; its C(format) is 1), C(evidence.csv) (a row
    per change), C(junit.xml) (a test case per change of the ledger; a failure for each without its record or with
    an unknown outcome), C(evidence.html) (one page with no external asset) and C(MANIFEST.sha256) over them. Times
    are UTC.
  - Signs the report with the controller's Ed25519 signing key - C(MANIFEST.json) lists every file of the report
    with its sha256 and the head of the run's ledger, C(MANIFEST.sig) is the key's signature of it and
    C(signing.pub) the public key; M(changeaudit.linux.verify_evidence) checks it later. Each file is made fresh
    (never written through a symlink nor in place), mode 0640; a O(report_dir) that is a symlink or not the
    controller user's is refused. The key is E(CHANGEAUDIT_SIGNING_KEY), the extra var C(changeaudit_signing_key), the
    file named by E(CHANGEAUDIT_SIGNING_KEY_FILE) or C(changeaudit_signing_key_file), else C(signing.key) in
    O(ledger_dir), made on first use.
  - Fails when any change lacks its proof, unless O(fail_on_gaps=false).
  - The run ID, the report's directory and RV(summary) are also the run's custom statistic C(changeaudit_evidence),
    as M(ansible.builtin.set_stats) sets them, which AWX and AAP keep as the job's artifacts.
  - The playbook C(changeaudit.linux.evidence) runs the read on every host and this module; see the guide
    R(Proving a run,ansible_collections.changeaudit.linux.docsite.guide_evidence).
extends_documentation_fragment:
  - changeaudit.linux._attributes
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
  check_mode:
    support: full
    details:
      - In check mode the report is reconciled and returned, and no file is written.
  diff_mode:
    support: none
options:
  run_id:
    description:
      - The run to prove, as its records and ledger name it.
      - Without it, the extra var C(run_id) of this run (C(-e run_id=ID), which the playbook C(changeaudit.linux.evidence)
        takes), else the run this task is part of (its C(run_id), as the records of its tasks carry it), for a proof
        at the end of the deploy playbook itself. Never a host's variables or facts.
    type: str
  report_dir:
    description: Where the report is written (made if needed). Required unless O(window_only=true).
    type: path
  ledger_dir:
    description:
      - Where the callback keeps its ledgers.
      - Without it, where P(changeaudit.linux.record_changes#callback) keeps them, resolved as the callback resolves
        its C(ledger_dir) option (the extra var C(changeaudit_ledger_dir), E(CHANGEAUDIT_LEDGER_DIR),
        C([changeaudit_record_changes] ledger_dir) in C(ansible.cfg), then C(~/.ansible/changeaudit/ledger)), whether or
        not the callback is enabled in this run.
    type: path
  expect_ledger:
    description:
      - A run that kept no ledger (none in O(ledger_dir), or one with no line of the run) fails the proof, since
        nothing can be proven of it (a mistyped O(run_id), a deleted or another ledger directory).
      - V(false) says the run kept none (it ran without the callback); the report is then an inventory of the
        run's records per host, and says so.
    type: bool
    default: true
    version_added: 1.2.0
  hosts:
    description: The inventory hosts whose records were read (usually C(ansible_play_hosts_all)).
    type: list
    elements: str
    default: []
  records_var:
    description: The variable each host registered the result of M(changeaudit.linux.usys_config_info) in.
    type: str
    default: changeaudit_evidence_records
  controller_records_var:
    description:
      - The variable holding the result of M(changeaudit.linux.usys_config_info) run on the controller itself, the
        records the controller kept in its own audit trail for hosts whose C(changeaudit_host_policy) is
        V(controller) (C(kept_on=controller), C(changed_host=)). Such a record counts only from there; one found in a
        managed host's trail is V(unexpected). Unset or skipped, the controller's trail is not read.
      - Every record of a run that signs its records (record_changes 1.2.0 on) counts only with a valid signature
        C(ctl_sig) of the controller's key over its fields, for the host it was read on and the run; one without it
        is V(unexpected) with the reason (unsigned, forged or altered, another key's), and never takes the place of
        the genuine record of that change.
    type: str
    default: changeaudit_evidence_controller_records
    version_added: 1.2.0
  fail_on_gaps:
    description: Fail when a change lacks its record, has an unknown outcome, a host could not be read, or a record is unexpected.
    type: bool
    default: true
  window_only:
    description: Only return the time span of the run's ledger (RV(window)), for the read on each host.
    type: bool
    default: false
  collector:
    description:
      - The inventory host of a central collector (a receiving auditd with C(tcp_listen_port), fed by C(audisp-remote)
        on each host) whose log holds the records of every host of O(hosts), read there once by
        M(changeaudit.linux.usys_config_info) and registered as O(collector_var) (the playbook
        C(changeaudit.linux.evidence) does this with C(-e evidence_collector=HOST)).
      - Each record is placed with the inventory host its C(node=) prefix names, by the rule of O(node_map); records of
        nodes no host maps to are counted in the report's C(collector) part and never matched. A record without C(node=)
        is the collector's own.
    type: str
    version_added: 1.2.0
  collector_var:
    description: The variable the read of O(collector) was registered in.
    type: str
    default: changeaudit_evidence_collector
    version_added: 1.2.0
  collector_log:
    description:
      - A collector's log on the controller (a copy, or the controller is the collector), read once, streamed, from the
        start of the run's span (with its numbered rotations unless O(collector_rotated=false)) instead of any read on
        the hosts. Records are placed by their C(node=) as for O(collector).
    type: path
    version_added: 1.2.0
  collector_rotated:
    description: Whether to read the rotations of O(collector_log) too (C(<file>.1), C(<file>.2), ...).
    type: bool
    default: true
    version_added: 1.2.0
  node_map:
    description:
      - With O(collector) or O(collector_log), inventory host -> the C(node=) name (or list of names) its records carry.
        Entries of hosts not in O(hosts) are unused, so one map can serve the whole fleet.
      - A host the map does not name has as nodes its inventory name, its C(ansible_host) and the short name (up to the
        first dot) of each that is not an IP address, compared without case.
      - A node several hosts share (one kernel, one C(name)) gives each record to the host of those the record names
        (C(delegated_to), else C(inventory_host)).
    type: dict
    default: {}
    version_added: 1.2.0
seealso:
  - module: changeaudit.linux.usys_config_info
  - plugin: changeaudit.linux.record_changes
    plugin_type: callback
"""

EXAMPLES = r"""
- name: Write the evidence of the run the records were read for
  changeaudit.linux.evidence_report:
    run_id: "{{ run_id }}"
    report_dir: /srv/evidence/{{ run_id }}
    hosts: "{{ ansible_play_hosts_all }}"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
window:
  description:
    - The span of the run's ledger, widened by 5 minutes each side, as C(since) and C(until) for
      M(changeaudit.linux.usys_config_info); both V(null) without a ledger.
  type: dict
  returned: always
summary:
  description: How many changes have each status, and C(changes) and C(gaps) in all.
  type: dict
  returned: unless O(window_only=true)
  sample: {"changes": 12, "gaps": 1, "recorded": 10, "missing": 1, "unknown_outcome": 0, "skipped_by_policy": 1}
report_dir:
  description: Where the report was written.
  type: str
  returned: unless O(window_only=true)
files:
  description: The report's files and their sha256, as in C(MANIFEST.sha256).
  type: dict
  returned: when the report was written
run_id:
  description: The run the report is about.
  type: str
  returned: always
ledger:
  description: Whether the run kept a ledger.
  type: bool
  returned: always
ledger_dir:
  description: Where the ledger was looked for.
  type: str
  returned: always
  version_added: 1.2.0
verdict:
  description: The report's verdict in one sentence.
  type: str
  returned: unless O(window_only=true)
  version_added: 1.2.0
"""
