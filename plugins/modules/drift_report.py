#!/usr/bin/python
# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This is a documentation-only file: the work is done by the action plugin of the same name, on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: drift_report
short_description: Name every write on a watched object that no recorded change explains, and write the drift report
version_added: 1.2.0
author: changeaudit.linux developers (!UNKNOWN)
description:
  - Runs on the controller. Takes what M(changeaudit.linux.watch_events_info) read on each host of O(hosts),
    registered there as O(events_var), and classifies every write the watch saw.
  - A write is V(explained) by a record of the collection read on the same host when its path is the record's
    object (or lies under it), or it was made by the process that wrote the object, within the change, in the
    object's directory (Ansible's temp file renamed over it); when its C(ses) and C(auid) are the record's; and
    when it happened between the change's intent in the run's ledger (where the ledger is at hand, no earlier than
    O(max_window) before the record, and O(clock_skew) earlier, the ledger being stamped by the controller's
    clock) or O(window) seconds before the record, and the record.
  - Every other successful write is V(out_of_band), with who (auid and uid with names, ses, tty), how (exe, comm,
    proctitle), when and what (path, watched object, syscall); a call the kernel refused is V(denied).
  - A host that could not be read, or whose watch did not hold for part of the span (rules removed or changed,
    auditing disabled, auditd stopped, lost events; see M(changeaudit.linux.watch_events_info)), is named as not
    watched for that time, never as clean.
  - Writes into O(report_dir) C(drift.json) (with C(summary.explained) and C(summary.out_of_band)), C(drift.csv),
    C(junit.xml) (a failing case per out-of-band write, an error case per span not watched) and C(drift.html) (one
    page with no external asset). Each file is made fresh, mode 0640; a O(report_dir) that is a symlink or not the
    controller user's is refused.
  - Fails on out-of-band writes and hosts not watched, unless O(fail_on_drift=false).
  - The playbook C(changeaudit.linux.drift) runs the read on every host and this module; see the guide
    R(Changes made outside Ansible,ansible_collections.changeaudit.linux.docsite.guide_drift).
extends_documentation_fragment:
  - changeaudit.linux._attributes
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
  check_mode:
    support: full
    details:
      - In check mode the writes are classified and returned, and no file is written.
  diff_mode:
    support: none
options:
  report_dir:
    description: Where the report is written (made if needed). Required.
    type: path
  hosts:
    description: The inventory hosts whose events were read (usually C(ansible_play_hosts_all)).
    type: list
    elements: str
    default: []
  events_var:
    description: The variable each host registered the result of M(changeaudit.linux.watch_events_info) in.
    type: str
    default: changeaudit_drift_events
  ledger_dir:
    description:
      - Where the P(changeaudit.linux.record_changes#callback) callback keeps its ledgers, for the intent time of each
        change; resolved as the callback resolves its C(ledger_dir) option when left out.
    type: path
  window:
    description: Without the change's ledger, how many seconds before its record a write of the change may be.
    type: float
    default: 300
  max_window:
    description: With the ledger, the most seconds before its record that the change's intent is taken to start.
    type: float
    default: 3600
  clock_skew:
    description: Seconds each side of a change's span allowed for the difference of the controller's and the host's clocks.
    type: float
    default: 2
  fail_on_drift:
    description: Fail when a write was made outside Ansible or a host was not watched for all of the span.
    type: bool
    default: true
seealso:
  - module: changeaudit.linux.watch_events_info
  - module: changeaudit.linux.watch_rules
"""

EXAMPLES = r"""
- name: Classify the writes each host's watch saw
  changeaudit.linux.drift_report:
    report_dir: /srv/drift
    hosts: "{{ ansible_play_hosts_all }}"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
summary:
  description: How many writes are V(explained), V(out_of_band) and V(denied), and C(hosts), C(events), C(not_watched_hosts), C(unwatched_spans).
  type: dict
  returned: always
  sample: {"explained": 12, "out_of_band": 1, "denied": 0, "hosts": 2, "events": 13, "not_watched_hosts": 0, "unwatched_spans": 0}
verdict:
  description: The report's verdict in one sentence.
  type: str
  returned: always
report_dir:
  description: Where the report was written.
  type: str
  returned: always
files:
  description: The report's files and their sha256.
  type: dict
  returned: when the report was written
out_of_band:
  description: The first 50 out-of-band writes, as in C(drift.json).
  type: list
  elements: dict
  returned: always
"""
