#!/usr/bin/python
# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_status_info
short_description: Report whether the Linux audit trail can take records, and why not
version_added: 1.0.0
author: changeaudit.linux developers (!UNKNOWN)
description:
  - Returns the kernel audit status (C(auditctl -s)), whether auditd runs, which write backends are available, the
    audit capabilities of the module process, and whether M(changeaudit.linux.usys_config) could write a record
    that is kept.
  - Never fails because of the host's audit state. When the status cannot be read (not root, no audit support in
    the kernel, a non-initial user namespace) RV(status) is V(null) and RV(status_error) says why.
extends_documentation_fragment:
  - changeaudit.linux._attributes
  - changeaudit.linux._attributes.INFO_MODULE
  - changeaudit.linux._attributes.ACTIONGROUP_AUDIT_INFO
options: {}
notes:
  - Reading the kernel status needs C(CAP_AUDIT_CONTROL), which root has; use O(ignore:become=true).
seealso:
  - module: changeaudit.linux.usys_config
  - module: changeaudit.linux.usys_config_info
  - name: auditctl(8)
    description: Shows the same status with C(auditctl -s).
    link: https://man7.org/linux/man-pages/man8/auditctl.8.html
"""

EXAMPLES = r"""
- name: Check the audit trail before changing anything
  changeaudit.linux.audit_status_info:
  become: true
  register: audit

- name: Stop where changes would not be recorded
  ansible.builtin.assert:
    that: audit.can_write
    fail_msg: "{{ audit.can_write_reason }}"
"""

RETURN = r"""
status:
  description: The kernel's C(struct audit_status); V(null) when it cannot be read.
  type: dict
  returned: always
  sample:
    enabled: 1
    failure: 1
    pid: 612
    rate_limit: 0
    backlog_limit: 8192
    lost: 0
    backlog: 0
    feature_bitmap: 127
    backlog_wait_time: 60000
    backlog_wait_time_actual: 0
status_error:
  description: Why RV(status) is V(null); V(null) otherwise.
  type: dict
  returned: always
  sample:
    cause: AuditStatusUnknownError
    errno: 1
    errno_name: EPERM
    hint: Reading the audit status needs CAP_AUDIT_CONTROL; run the task with become true (root) ...
    msg: "Cannot read the kernel audit status (EPERM: Operation not permitted). Reading the audit status needs ..."
enabled:
  description: Whether auditing is enabled in the kernel; V(null) when unknown.
  type: bool
  returned: always
locked:
  description: Whether the audit configuration is locked until reboot (C(enabled=2)); V(null) when unknown.
  type: bool
  returned: always
auditd_running:
  description:
    - Whether a live audit daemon is registered with the kernel. A registered pid whose process has exited
      (auditd killed or crashed) counts as not running. When the status is unknown, whether the pid in
      C(/run/auditd.pid) is a running auditd.
  type: bool
  returned: always
auditd_pid:
  description: The pid of the registered audit daemon, 0 when none; V(null) when unknown.
  type: int
  returned: always
backends:
  description: Each write backend and, when unavailable, why.
  type: dict
  returned: always
  sample: {libaudit: {available: true, reason: null}, netlink: {available: true, reason: null}}
capabilities:
  description: Audit capabilities in the effective set of the module process.
  type: dict
  returned: always
  sample: {cap_audit_write: true, cap_audit_control: true}
euid:
  description: Effective user ID of the module process.
  type: int
  returned: always
lost:
  description:
    - The kernel's count of records it dropped (rate limit, backlog limit, out of memory) since boot or the last
      C(auditctl --reset-lost); the same as C(status.lost). V(null) when unknown.
    - M(changeaudit.linux.usys_config) fails when it rises while a record is sent.
  type: int
  returned: always
dropping_rules:
  description:
    - The loaded rules on the C(user) and C(exclude) lists that drop (C(certain)) or may drop (a condition
      that cannot be decided here, such as C(subj_type)) a C(USYS_CONFIG) record written by this module's
      process, each as C(auditctl -l) prints it. V(null) when the rules cannot be read.
  type: list
  elements: dict
  returned: always
  sample: [{rule: "-a always,exclude -F msgtype=USYS_CONFIG", list: exclude, certain: true}]
rules_error:
  description: Why RV(dropping_rules) is V(null); V(null) otherwise.
  type: dict
  returned: always
auditd_conf:
  description:
    - What C(/etc/audit/auditd.conf) tells auditd, read the way auditd reads it; V(null) when it cannot be read.
    - With C(write_logs=false) (C(write_logs = no) or C(log_format = NOLOG)) auditd writes no log, and
      RV(can_write) is V(false).
  type: dict
  returned: always
  sample: {path: /etc/audit/auditd.conf, write_logs: true, log_format: ENRICHED, log_file: /var/log/audit/audit.log}
auditd_conf_error:
  description: Why RV(auditd_conf) is V(null); V(null) otherwise.
  type: str
  returned: always
can_write:
  description:
    - Whether M(changeaudit.linux.usys_config) would write a record that is kept, by the same checks it runs.
  type: bool
  returned: always
can_write_reason:
  description: Why RV(can_write) is V(false), with the fix; V(null) when it is V(true).
  type: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.health import audit_report


def main() -> None:
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    module.exit_json(changed=False, **audit_report())


if __name__ == "__main__":
    main()
