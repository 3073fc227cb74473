#!/usr/bin/python
# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: watch_rules
short_description: Install persistent audit watch rules on the objects Ansible manages, or remove them
version_added: 1.2.0
author: changeaudit.linux developers (!UNKNOWN)
description:
  - Writes one audit rules file with a C(-w PATH -p wa -k KEY) rule for each of O(paths), all with one key of the
    collection's (O(key)), and loads it into the kernel; what the kernel then holds is read back and must be
    those rules exactly.
  - A file watch follows the file when it is replaced by rename (Ansible's own atomic move, C(sed -i), editors);
    a directory watch covers everything under it. Writes, creates, renames, unlinks, links, C(chmod), C(chown)
    and C(setxattr) are reported by the kernel with the key, which
    M(changeaudit.linux.watch_events_info) and the playbook C(changeaudit.linux.drift) read.
  - Where the rules file is in C(/etc/audit/rules.d) and C(augenrules) is installed, the rules are loaded with
    C(augenrules --load) (which loads the whole of C(rules.d)); else the difference with the loaded rules is
    loaded with C(auditctl -R). O(state=absent) removes the file and deletes the loaded rules of O(key) only.
  - Records a baseline in O(state_file) (root only, mode 0600) - the hash of the loaded rule set, the kernel's lost
    counter, the boot, the time, and the time windows of this module's own rule changes - so that the drift
    report can tell a span in which the host was not watched.
  - Refused with a clear message where the audit rules are locked (C(auditctl -s) shows C(enabled 2), set by
    C(-e 2)), and where more than O(max_rules) paths are given.
  - The role P(changeaudit.linux.watch#role) runs this module.
extends_documentation_fragment:
  - changeaudit.linux._attributes
attributes:
  check_mode:
    support: full
    details:
      - Nothing is written nor loaded; RV(added) and RV(removed) say what would be.
  diff_mode:
    support: full
    details:
      - The rules file before and after.
options:
  paths:
    description:
      - The absolute paths to watch, files or directories. A path that does not exist yet is watched from when it
        is created, as long as its directory exists.
      - A path holding white space or a control character cannot be written in a rules file and is refused.
    type: list
    elements: path
    default: []
  state:
    description: V(present) installs the rules of O(paths) (and only those); V(absent) removes them all.
    type: str
    choices: [present, absent]
    default: present
  key:
    description: The audit key of the rules, as C(ausearch -k) finds the events.
    type: str
    default: changeaudit-watch
  max_rules:
    description: The most paths accepted. Each watch costs kernel memory and a check on every file operation in its directory.
    type: int
    default: 1000
  rules_file:
    description: The rules file to write. It sorts before C(99-finalize.rules), which holds C(-e 2) where rules are locked.
    type: path
    default: /etc/audit/rules.d/70-changeaudit-watch.rules
  loader:
    description:
      - How the rules are loaded. V(auto) is V(augenrules) when O(rules_file) is in C(/etc/audit/rules.d) and
        C(augenrules) is installed, else V(auditctl).
    type: str
    choices: [auto, augenrules, auditctl]
    default: auto
  state_file:
    description: Where the baseline is kept (root only).
    type: path
    default: /var/lib/changeaudit/watch-state.json
notes:
  - Needs root (O(ignore:become=true)) - C(CAP_AUDIT_CONTROL) to read and load the rules.
  - The kernel records the key of the first rule that matches an event. An earlier rule of another key on the same
    path (a STIG rule on C(/etc/sudoers), say) hides this key from those events; the module warns of such rules.
seealso:
  - module: changeaudit.linux.watch_events_info
  - name: auditctl(8)
    description: The C(-w) watch rules.
    link: https://man7.org/linux/man-pages/man8/auditctl.8.html
"""

EXAMPLES = r"""
- name: Watch what the play manages
  changeaudit.linux.watch_rules:
    paths:
      - /etc/ssh/sshd_config
      - /etc/sudoers.d
  become: true

- name: Remove the watch
  changeaudit.linux.watch_rules:
    state: absent
  become: true
"""

RETURN = r"""
rules:
  description: The rules of the file, one C(auditctl) line each.
  type: list
  elements: str
  returned: always
  sample: ["-w /etc/ssh/sshd_config -p wa -k changeaudit-watch"]
paths:
  description: The watched paths, normalized and sorted.
  type: list
  elements: str
  returned: always
count:
  description: How many paths are watched.
  type: int
  returned: always
added:
  description: The paths whose rule was (or in check mode would be) loaded.
  type: list
  elements: str
  returned: always
removed:
  description: The paths whose loaded rule was (or would be) deleted.
  type: list
  elements: str
  returned: always
loader:
  description: How the rules were (or would be) loaded, V(augenrules) or V(auditctl).
  type: str
  returned: always
key:
  description: The key of the rules.
  type: str
  returned: always
rules_file:
  description: The rules file.
  type: str
  returned: always
state_file:
  description: The baseline file.
  type: str
  returned: always
baseline:
  description: The time the rules were loaded (epoch seconds) and the kernel's lost counter then.
  type: dict
  returned: when the rules were loaded
  sample: {installed: 1716200000.5, lost: 0}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.watch import apply
from ansible_collections.changeaudit.linux.plugins.module_utils._module import fail_from_audit_error


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="list", elements="path", default=[]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            key=dict(type="str", default="changeaudit-watch", no_log=False),
            max_rules=dict(type="int", default=1000),
            rules_file=dict(type="path", default="/etc/audit/rules.d/70-changeaudit-watch.rules"),
            loader=dict(type="str", choices=["auto", "augenrules", "auditctl"], default="auto"),
            state_file=dict(type="path", default="/var/lib/changeaudit/watch-state.json"),
        ),
        supports_check_mode=True,
    )

    def run(argv):
        returncode, out, err = module.run_command(argv, environ_update={"LC_ALL": "C"})
        return returncode, (out or "") + (err or "")

    try:
        result = apply(module.params, run, module.check_mode, module._diff)
    except AuditError as exc:
        fail_from_audit_error(module, exc)
        return
    for warning in result.pop("warnings", ()):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
