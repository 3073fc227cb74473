#!/usr/bin/python
# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: usys_config
short_description: Write an AUDIT_USYS_CONFIG record to the Linux audit trail
version_added: 1.0.0
author: changeaudit.linux developers (!UNKNOWN)
description:
  - Sends one C(AUDIT_USYS_CONFIG) (type 1111) user record to the kernel, which hands it to auditd; it lands in
    C(/var/log/audit/audit.log) next to the syscall records, where C(ausearch), C(aureport) and SIEM forwarders
    read it.
  - The record reads C(op=<op> <field>=<value> ... comm= exe= hostname= addr= terminal= res=), exactly as
    C(audit_log_user_comm_message()) of libaudit writes it.
  - Every field value is encoded the way audit encodes untrusted values; a value that holds a double or single
    quote, C(=), a space, a control byte or non-ASCII text is written as uppercase hex, any other value
    double-quoted. No value can forge a field or split a record.
  - The action plugin of the same name adds the task context (play, task, task path, task UUID, controller user,
    become user, AWX job ID, run ID) unless O(context=false).
  - A record is an event, not state, so the module never reports C(changed).
  - The action plugin checks the record before it sends anything, the names, the encodings and its size once
    encoded, keeping room for the trailer the target adds and the kernel's prefix (see the record limits guide).
extends_documentation_fragment:
  - changeaudit.linux._hashing
  - changeaudit.linux._attributes
  - changeaudit.linux._attributes.ACTIONGROUP_AUDIT
  - changeaudit.linux._backend
attributes:
  check_mode:
    support: full
    details:
      - In check mode no record is written; RV(record) holds the text that would be written, and the checks that
        the host can keep a record still run.
  diff_mode:
    support: none
options:
  op:
    description:
      - >-
        What was done, written as C(op=) without quotes; 1 to 255 letters, digits and C(- _ : . / % @ + ~), not
        ending in C(:).
      - C(ausearch --format text) and C(--format csv) show it as the action.
    type: str
    required: true
  fields:
    description:
      - Further fields, written in the order given after C(op=).
      - Names must match C([a-z][a-z0-9_]*); names the kernel, libaudit, auparse or this collection use themselves
        (V(pid), V(uid), V(auid), V(ses), V(subj), V(exe), V(comm), V(hostname), V(addr), V(terminal), V(res),
        V(op), V(msg), V(type), V(node), V(result), V(success), V(arch), V(syscall), V(a0) to V(a3)) are refused.
      - So are names that end with a field name ausearch finds by substring search (V(pid), V(uid), V(auid),
        V(loginuid), V(ses), V(subj), V(vm), V(uuid), V(comm), V(acct), V(hostname), V(addr), V(cwd), V(terminal),
        V(exe), V(res), V(result)), for example V(xuid) or V(src_hostname), because ausearch would read them as
        the record's own field. The error suggests a rename.
      - Values that are not strings are written as text (numbers, V(true)/V(false), JSON for lists and dicts);
        NaN, infinities, sets and other objects are refused.
    type: dict
    default: {}
  hash_fields:
    description:
      - Names of O(fields) whose values are replaced by C(hmac-sha256:<key id>:<hex>) of the value before the record
        is built, on the controller, so that a secret can be proven without being logged (see the notes for the
        key). Without a key this is refused before anything is written.
      - Under C(no_log) every field of O(fields) is hashed, whatever this says (without a key, left out and named
        in C(withheld)); the task context fields are not.
    type: list
    elements: str
    default: []
  result:
    description: Outcome written as C(res=).
    type: str
    choices: [success, failed]
    default: success
  comm:
    description:
      - Written as C(comm=); up to 15 letters, digits, dots, colons, underscores, plus and minus signs, not starting
        with a minus sign.
    type: str
    default: ansible
  hostname:
    description:
      - Remote host the change came from, written as C(hostname=) unencoded, so only letters, digits, dots, underscores, colons
        and dashes
        (not starting with C(-), not ending with C(:)). When O(addr) is not given, libaudit resolves this name and
        writes its first address as C(addr=); the module does the same.
      - When not given and the terminal is a C(pts)/C(tty) one, this host's own name is written, as libaudit does.
    type: str
  addr:
    description:
      - IPv4 or IPv6 address of the remote host, written as C(addr=) in the form C(inet_ntop) gives it
        (C(2001:DB8::) is written C(2001:db8::0)). An IPv6 scope id (C(%eth0)) is refused.
    type: str
  terminal:
    description:
      - Written as C(terminal=). Defaults to the terminal of the module process (usually none, written as C(?)).
    type: str
  context:
    description:
      - Whether the action plugin adds the task context fields V(play), V(cmd) (the task's name), V(loop_label)
        (in a loop, not under C(no_log), the item's C(loop_control.label) or the item), V(task_path), V(task_id),
        V(seq) (written by the P(changeaudit.linux.record_changes#callback) callback, the host's number of the change
        in the run, as in its ledger), V(ctl_user), V(ctl_login_id), V(ctl_login), V(become_user) (with become, the user the
        task became) or V(remote_user) (without, the login user it ran as; the record itself is written as root either
        way), and when set V(awx_job_id), V(awx_user_name),
        V(awx_job_template_name), V(awx_workflow_job_id), V(awx_project_revision), V(ci_actor) and V(ci_commit),
        and V(run_id), after O(fields).
      - Records written by version 1.0.0 named the task's name V(task) and its UUID V(task_uuid).
      - A field in O(fields) with one of those names fails the task unless this is V(false).
      - The run ID is E(CHANGEAUDIT_RUN_ID) on the controller when set, else the AWX job ID, else one derived from
        the C(ansible-playbook) process, the same for every task of one run.
    type: bool
    default: true
seealso:
  - module: changeaudit.linux.audited
  - module: changeaudit.linux.usys_config_info
  - name: ausearch(8)
    description: Query the audit daemon logs.
    link: https://man7.org/linux/man-pages/man8/ausearch.8.html
"""

EXAMPLES = r"""
- name: Record that the firewall policy was reloaded
  changeaudit.linux.usys_config:
    op: firewall-reload
    fields:
      object: /etc/nftables.conf
      reason: "ticket CHG-1234"
  become: true

- name: Record a credential rotation without logging the credential
  changeaudit.linux.usys_config:
    op: credential-rotate
    fields:
      account: backup
      new_value: "{{ new_password }}"
    hash_fields: [new_value]
  become: true
  no_log: true
  vars:
    # The HMAC key of the value hashes, from a vault.
    changeaudit_hash_key: "{{ vault_changeaudit_hash_key }}"

- name: Record a failed change, but do not fail the play where auditing is unavailable
  changeaudit.linux.usys_config:
    op: kernel-param
    result: failed
    fields:
      key: net.ipv4.ip_forward
    on_unavailable: warn
  become: true
"""

RETURN = r"""
record:
  description:
    - The record text as it appears after C(msg=') in C(audit.log); in check mode the text that would be written.
  type: str
  returned: always
  sample: >-
    op=firewall-reload object="/etc/nftables.conf" reason=7469636B6574204348472D31323334 comm="ansible"
    exe="/usr/bin/python3.11" hostname=? addr=? terminal=? res=success
recorded:
  description: Whether the kernel acknowledged the record with auditing enabled and auditd running.
  type: bool
  returned: always
backend:
  description: The backend that sent (or in check mode would send) the record.
  type: str
  returned: success
  sample: libaudit
backend_fallback:
  description: Why V(auto) fell back to V(netlink); V(null) when it did not.
  type: str
  returned: success
audit_status:
  description: The kernel audit status read before sending (C(struct audit_status)).
  type: dict
  returned: success
  sample: {enabled: 1, failure: 1, pid: 612, rate_limit: 0, backlog_limit: 8192, lost: 0, backlog: 0}
sequence:
  description: Netlink sequence number of the message; V(null) in check mode.
  type: int
  returned: success
verified:
  description:
    - With O(verify=true), where the record was read back from the audit log; V(null) without O(verify) and in
      check mode.
  type: dict
  returned: success
  contains:
    event_id:
      description: The event id, C(<seconds>.<milliseconds>:<serial>), as C(ausearch -a) takes it.
      type: str
      sample: "1764075600.123:4711"
    serial:
      description: The kernel's serial number of the event.
      type: int
      sample: 4711
    timestamp:
      description: The event time, seconds since the epoch.
      type: float
      sample: 1764075600.123
    log_file:
      description: The file it was found in (C(audit.log), or C(audit.log.1) after a rotation).
      type: str
      sample: /var/log/audit/audit.log
unavailable:
  description: Why no record was written, when O(on_unavailable=warn) let the task go on.
  type: dict
  returned: when the record could not be written and O(on_unavailable=warn)
  sample: {cause: AuditdNotRunningError, errno: null, errno_name: null, hint: "Start the audit daemon"}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.changeaudit.linux.plugins.module_utils._module import run_writer
from ansible_collections.changeaudit.linux.plugins.module_utils._specs import WRITER_ARGUMENT_SPEC


def main() -> None:
    module = AnsibleModule(argument_spec=WRITER_ARGUMENT_SPEC, supports_check_mode=True)
    run_writer(module)


if __name__ == "__main__":
    main()
