#!/usr/bin/python
# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: watch_events_info
short_description: Read the writes the audit watch saw on a host, and whether the watch held
version_added: 1.2.0
author: changeaudit.linux developers (!UNKNOWN)
description:
  - Reads the audit log and its rotations once, for the time span O(since) to O(until), and returns each event the
    kernel logged with the watch's key O(key) (rules of M(changeaudit.linux.watch_rules)) - its C(SYSCALL), C(CWD),
    C(PATH) and C(PROCTITLE) records together - and the collection's own C(USYS_CONFIG) records of changes to file
    objects in the span.
  - Returns RV(unwatched), the parts of the span in which a write could have gone unseen - before the watch was
    installed, beyond the start of the log, a rule of the key removed or added outside the watch role
    (C(CONFIG_CHANGE)), auditing disabled, auditd stopped, the kernel's lost counter grown since the baseline, the
    loaded rules no longer those installed - each with its reason.
  - The playbook C(changeaudit.linux.drift) runs this module on each host and classifies every write.
extends_documentation_fragment:
  - changeaudit.linux._attributes
  - changeaudit.linux._attributes.INFO_MODULE
options:
  since:
    description:
      - The start of the span, as M(changeaudit.linux.usys_config_info) takes it (epoch seconds, ISO-8601, V(today),
        a relative time such as V(-24h)).
    type: str
    default: -24h
  until:
    description: The end of the span; now when left out.
    type: str
  key:
    description: The key of the watch rules.
    type: str
    default: changeaudit-watch
  path:
    description: The audit log to read; C(log_file) of C(/etc/audit/auditd.conf) when left out.
    type: path
  include_rotated:
    description: Read the numbered rotations of the log too (only those that reach O(since)).
    type: bool
    default: true
  live:
    description:
      - Compare with the host's watch baseline and the kernel's state now (rules, lost counter). V(false) for a log
        exported from another host, where only the events and records are read and RV(unwatched) is empty.
    type: bool
    default: true
  state_file:
    description: The watch's baseline, as M(changeaudit.linux.watch_rules) wrote it.
    type: path
    default: /var/lib/changeaudit/watch-state.json
  max_events:
    description: The most events returned; past it RV(truncated) is V(true) and the whole span is unwatched.
    type: int
    default: 100000
notes:
  - Needs root (O(ignore:become=true)) to read the log, the baseline and the kernel's state.
seealso:
  - module: changeaudit.linux.watch_rules
  - module: changeaudit.linux.usys_config_info
"""

EXAMPLES = r"""
- name: Read the last day's watched writes
  changeaudit.linux.watch_events_info:
    since: -24h
  become: true
  register: watched
"""

RETURN = r"""
events:
  description:
    - Each event with the key, oldest first. C(syscall) is the call's name (the x86_64 table, else what auditd's
      ENRICHED format names), C(action) what it does to the object (V(write), V(create), V(rename), V(unlink),
      V(link), V(symlink), V(chmod), V(chown), V(setxattr), V(truncate), V(utime)); C(ses) is V(null) for a
      process outside any login session; C(proctitle) is the command line, arguments separated by spaces;
      C(paths) the C(PATH) records (C(name), C(nametype), C(inode)); C(complete) whether the C(PROCTITLE)
      record, the event's last, was found.
  type: list
  elements: dict
  returned: always
  sample:
    - time: "2026-05-20T10:00:00.123+00:00"
      timestamp: 1779271200.123
      serial: 4711
      syscall: rename
      action: rename
      success: true
      auid: 1000
      auid_name: deploy
      uid: 0
      uid_name: root
      ses: 12
      tty: pts0
      exe: /usr/bin/sed
      comm: sed
      proctitle: sed -i s/a/b/ /etc/motd
      cwd: /root
      paths: [{name: /etc/motd, nametype: CREATE, inode: 1234}]
records:
  description: The collection's C(USYS_CONFIG) records of changes to objects in the span (time, ses, auid, object, run_id, task_id, seq, op).
  type: list
  elements: dict
  returned: always
rule_changes:
  description: The C(CONFIG_CHANGE) records of rules of the key and of auditing switched on or off, and auditd's start and stop records.
  type: list
  elements: dict
  returned: always
unwatched:
  description: The parts of the span in which the host was not watched (C(start), C(end), C(start_time), C(end_time), C(reason)).
  type: list
  elements: dict
  returned: always
watched:
  description: Whether the whole span was watched (RV(unwatched) is empty).
  type: bool
  returned: always
baseline:
  description: The watch's baseline (C(installed), C(count), C(lost), C(boot_id), C(rules_sha256)); V(null) without one.
  type: dict
  returned: always
watched_paths:
  description: The watched paths and their inode now.
  type: list
  elements: dict
  returned: always
since:
  description: The start of the span, epoch seconds.
  type: float
  returned: always
until:
  description: The end of the span, epoch seconds.
  type: float
  returned: always
files:
  description: The log files read, oldest first.
  type: list
  elements: str
  returned: always
truncated:
  description: Whether more events than O(max_events) were found.
  type: bool
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.watch_events import read_watch_events
from ansible_collections.changeaudit.linux.plugins.module_utils._module import fail_from_audit_error


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            since=dict(type="str", default="-24h"),
            until=dict(type="str"),
            key=dict(type="str", default="changeaudit-watch", no_log=False),
            path=dict(type="path"),
            include_rotated=dict(type="bool", default=True),
            live=dict(type="bool", default=True),
            state_file=dict(type="path", default="/var/lib/changeaudit/watch-state.json"),
            max_events=dict(type="int", default=100000),
        ),
        supports_check_mode=True,
    )
    try:
        result = read_watch_events(module.params)
    except AuditError as exc:
        fail_from_audit_error(module, exc)
        return
    module.exit_json(**result)


if __name__ == "__main__":
    main()
