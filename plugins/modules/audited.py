#!/usr/bin/python
# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This is a documentation-only file: the work is done by the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: audited
short_description: Run any module and record the change it made in the Linux audit trail
version_added: 1.0.0
author: changeaudit.linux developers (!UNKNOWN)
description:
  - Runs the module named in O(module) with O(args), through that module's own action plugin when it has one
    (V(ansible.builtin.copy), V(ansible.builtin.template)), and returns its result unchanged; C(changed),
    C(diff), C(failed) and C(register) behave as they would without the wrapper.
  - When the module reports C(changed), writes one C(AUDIT_USYS_CONFIG) record on the same target through
    M(changeaudit.linux.usys_config), holding the module FQCN, the object changed (its C(path), C(dest), C(name)
    or C(key) argument), a hash of the diff when the module returned one, and the task context (play, task,
    task path, task UUID, controller user, become user, AWX job ID, run ID).
  - B(Checked before the module runs.) The whole record is built and checked first, with the longest result a
    module can return. That checks the field names, the encodings, O(hash_fields), and the size once encoded (a value
    with a space or non-ASCII text is written as hex, twice its length), keeping room for the trailer the target adds and the
    kernel's prefix. A record that could not be written fails the task before anything changed.
  - Values nobody typed into the record (the task and play names, the task path, the object) are cut past their
    bound at a character boundary and end with C([cut:sha256:<hex of the whole value>]); the fields of O(fields)
    are never cut, a record too long with them is refused before the module runs.
  - The audit outcome is added to the result under one key, RV(audit).
  - Under C(no_log), no argument value and no diff text reaches the audit log; the record holds argument names
    and keyed hashes only (see the notes).
extends_documentation_fragment:
  - changeaudit.linux._hashing
  - changeaudit.linux._attributes
  - changeaudit.linux._attributes.ACTIONGROUP_AUDIT
  - changeaudit.linux._backend
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
  async:
    description: Supports being used with the C(async) keyword.
    support: none
    details:
      - A task with C(async) is refused, since the change would end after the task and could not be recorded.
  check_mode:
    support: N/A
    details:
      - Support depends on the wrapped module, which runs in check mode as it would on its own (as
        M(ansible.builtin.package) does with the module it picks).
      - In check mode no record is written; RV(audit.record) is the record that would be written if the module
        predicts a change.
  diff_mode:
    support: N/A
    details:
      - Support depends on the wrapped module; whatever it returns as C(diff) is returned unchanged.
options:
  module:
    description: The module to run, by FQCN or short name.
    type: str
    required: true
  args:
    description: Arguments of O(module).
    type: dict
    default: {}
  op:
    description:
      - The start of the record's C(op=). The record's C(op=) is this, C(:), the wrapped module's FQCN and, when the
        module names its object (the first of its C(path), C(dest), C(name) or C(key) arguments) as text or a list,
        C(:) and the object percent-encoded as in a URL, for example
        C(op=ansible-change:ansible.builtin.copy:/etc/my%20app.conf).
      - The object is left out under C(no_log), and when C(op=) would be longer than 255 characters.
      - C(ausearch --format text) and C(--format csv) show C(op=) as the action, and have no other place for the
        object of a USYS_CONFIG record. The C(object) field holds it in full.
    type: str
    default: ansible-change
  fields:
    description:
      - Further fields for the record, as in O(changeaudit.linux.usys_config#module:fields). Under C(no_log) their
        values are replaced by their keyed hash, or left out without a hash key.
    type: dict
    default: {}
  hash_fields:
    description:
      - Names of O(fields), or V(object) (the object the module changes), whose values are recorded as
        C(hmac-sha256:<key id>:<hex>) of the value instead of the value, as
        O(changeaudit.linux.usys_config#module:hash_fields) does; C(op=) then leaves the object out.
      - Under C(no_log) every field of O(fields) and the object are hashed, whatever this says.
      - Any other name, or any name without a hash key (see the notes), is refused before the module runs.
    type: list
    elements: str
    default: []
  record_failures:
    description:
      - Also write a record (with C(res=failed)) when the module fails without reporting a change.
      - A module that fails after reporting C(changed) is always recorded, with C(res=failed).
    type: bool
    default: false
  context:
    description: Whether the task context fields are added to the record.
    type: bool
    default: true
notes:
  - The record is written with the privileges of the task, so the task needs O(ignore:become=true) (or a
    connection as root) to be recorded; without them the task fails after the change, and says so, unless
    O(on_unavailable=warn).
seealso:
  - module: changeaudit.linux.usys_config
  - module: changeaudit.linux.usys_config_info
"""

EXAMPLES = r"""
- name: Harden sshd and record the change
  changeaudit.linux.audited:
    module: ansible.builtin.lineinfile
    args:
      path: /etc/ssh/sshd_config
      regexp: '^#?PermitRootLogin'
      line: PermitRootLogin no
  become: true
  notify: Reload sshd

- name: Deploy a template; the record names the module, the dest and the hash of the diff
  changeaudit.linux.audited:
    module: ansible.builtin.template
    args:
      src: app.conf.j2
      dest: /etc/app/app.conf
      mode: "0644"
    fields:
      ticket: CHG-1234
  become: true

- name: Set a secret; only argument names and keyed hashes reach audit.log
  changeaudit.linux.audited:
    module: ansible.builtin.copy
    args:
      dest: /etc/app/token
      content: "{{ app_token }}"
      mode: "0600"
  become: true
  no_log: true
  vars:
    changeaudit_hash_key: "{{ vault_changeaudit_hash_key }}"

- name: Record failed attempts too
  changeaudit.linux.audited:
    module: ansible.builtin.sysctl
    args:
      name: net.ipv4.ip_forward
      value: "1"
    record_failures: true
  become: true
"""

RETURN = r"""
audit:
  description: What was recorded. The rest of the result is the wrapped module's own.
  type: dict
  returned: always
  contains:
    recorded:
      description: Whether a record was written and acknowledged with auditing enabled and auditd running.
      type: bool
      returned: always
    reason:
      description: Why no record was needed (V(not changed) or V(failed)).
      type: str
      returned: when no record was needed
    record:
      description: The record text, or in check mode the text that would be written.
      type: str
      returned: when a record was needed
    backend:
      description: V(libaudit) or V(netlink).
      type: str
      returned: when a record was written
    backend_fallback:
      description: Why V(auto) fell back to V(netlink).
      type: str
      returned: when a record was written
    sequence:
      description: Netlink sequence number of the record.
      type: int
      returned: when a record was written
    verified:
      description:
        - With O(verify=true), where the record was read back from the audit log (C(event_id), C(serial),
          C(timestamp), C(log_file)), as RV(changeaudit.linux.usys_config#module:verified); V(null) without it.
      type: dict
      returned: when a record was written
    error:
      description: Why the record could not be written.
      type: str
      returned: when writing the record failed
    cause:
      description: The error class, for example V(AuditPermissionError).
      type: str
      returned: when writing the record failed
"""
