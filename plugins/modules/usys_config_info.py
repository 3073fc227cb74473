#!/usr/bin/python
# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: usys_config_info
short_description: Read AUDIT_USYS_CONFIG records back from the audit log
version_added: 1.0.0
author: changeaudit.linux developers (!UNKNOWN)
description:
  - Reads C(AUDIT_USYS_CONFIG) (type 1111) records from C(audit.log) and, by default, its numbered rotations
    (C(audit.log.N) ... C(audit.log.1), then C(audit.log)), and returns them with every field decoded.
  - By default returns the newest 100 matching records, newest first. Rotations are read newest first and only
    as far back as the O(limit) and O(since) need, so a host with many rotations is not read whole unasked.
  - Times are returned as epoch seconds and as ISO-8601 in UTC; user IDs with the user name beside them.
  - Reads C(RAW) and C(ENRICHED) log formats and logs forwarded from other nodes (C(node=NAME) prefix).
  - Hex-encoded values are decoded back to the text that was recorded; V(op), V(hostname), V(addr),
    V(terminal) and C(res) are returned as written.
  - Lines cut by rotation or truncation are skipped. Only the log file is read; auditd is not asked, so the
    module works on copies of logs too.
extends_documentation_fragment:
  - changeaudit.linux._attributes
  - changeaudit.linux._attributes.INFO_MODULE
  - changeaudit.linux._attributes.ACTIONGROUP_AUDIT_INFO
options:
  path:
    description:
      - The audit log.
      - When not given, C(log_file) from C(/etc/audit/auditd.conf) on the managed host, or
        V(/var/log/audit/audit.log) when that file does not set it (as C(ausearch --input-logs) does).
      - An empty string is an error.
    type: path
  include_rotated:
    description:
      - Whether to read the rotations C(<path>.1), C(<path>.2), ... as well, oldest first. Compressed rotations
        (C(.gz)) are not read.
    type: bool
    default: true
  since:
    description:
      - Only records at or after this time.
      - Epoch seconds, ISO-8601 (V(2024-05-20T10:00:00), V(2024-05-20 10:00:00+02:00), V(2024-05-20T08:00:00Z)),
        V(now), V(today), V(yesterday), or relative to now like V(-10m), V(-2h), V(-1d), V(-1w).
      - Times without a zone are local time on the managed host, as for C(ausearch --start).
      - Rotations that ended before this time are not read.
      - An empty string is an error.
    type: str
  until:
    description:
      - Only records at or before this time; same forms as O(since).
      - An empty string is an error.
    type: str
  op:
    description:
      - Only records with this C(op=), or whose C(op=) is this followed by C(:) and more; so V(ansible-change) finds
        every change that M(changeaudit.linux.audited) and the P(changeaudit.linux.record_changes#callback) plugin
        recorded (their C(op=) goes on with the module and the object).
      - An empty string is an error.
    type: str
  comm:
    description:
      - Only records with this C(comm=) (decoded).
      - An empty string is an error.
    type: str
  result:
    description: Only records with this outcome (C(res=)).
    type: str
    choices: [success, failed]
  fields:
    description:
      - Only records whose fields have these values, compared after decoding. Values that are not strings are
        compared the way M(changeaudit.linux.usys_config) writes them (V(3) as C("3"), V(true) as C("true")).
      - A value the writer cut to fit its record (it ends with C([cut:sha256:<hex>])) matches the whole value it was
        cut from, by that hash, so searching for a long object or task name finds its records.
      - An empty string as a value is an error (it is almost always an unset variable).
    type: dict
    default: {}
  task_id:
    description:
      - Only records of this task; short for a V(task_id) key in O(fields), which it overrides.
      - The action plugins record the task's UUID as C(task_id). Records written by version 1.0.0 hold it as
        C(task_uuid); find those with a C(task_uuid) key in O(fields).
      - An empty string is an error.
    type: str
    aliases: [task_uuid]
    version_added: 1.1.0
  run_id:
    description:
      - Only records of this run; short for a V(run_id) key in O(fields), which it overrides.
      - An empty string is an error, not zero records, so that an unset variable (for example
        C(lookup('ansible.builtin.env', 'CHANGEAUDIT_RUN_ID')) outside a run) does not look like a run that
        recorded nothing.
    type: str
  limit:
    description:
      - Return only the newest N matching records. Only those are decoded, and rotations are read (newest first)
        only until N are found, so a small limit keeps large logs and many rotations cheap.
      - V(0) returns every matching record, reading every rotation (limited by O(since)).
      - When the limit cut the answer short, RV(truncated) is V(true).
    type: int
    default: 100
  order:
    description:
      - The order of RV(records). V(newest) puts the newest record first, V(oldest) the oldest.
      - Either way O(limit) keeps the newest records; O(order=oldest) with O(limit=0) is what version 1.0.0
        returned.
    type: str
    choices: [newest, oldest]
    default: newest
    version_added: 1.1.0
notes:
  - Reading C(/var/log/audit) needs root or membership of auditd's C(log_group); use O(ignore:become=true).
  - Records are returned in log order (or its reverse), which is time order up to the small reordering auditd
    allows.
  - Version 1.0.0 returned every matching record, oldest first; set O(limit=0) and O(order=oldest) for that.
seealso:
  - module: changeaudit.linux.usys_config
  - module: changeaudit.linux.audit_status_info
  - name: ausearch(8)
    description: Query the audit daemon logs.
    link: https://man7.org/linux/man-pages/man8/ausearch.8.html
"""

EXAMPLES = r"""
- name: Changes recorded in the last two hours
  changeaudit.linux.usys_config_info:
    since: -2h
  become: true
  register: recent

- name: The records this run wrote
  changeaudit.linux.usys_config_info:
    run_id: "{{ lookup('ansible.builtin.env', 'CHANGEAUDIT_RUN_ID') }}"
  become: true
  register: this_run

- name: The last failed firewall reload
  changeaudit.linux.usys_config_info:
    op: firewall-reload
    result: failed
    limit: 1
  become: true
  register: last_failure

- name: Every record of the last week, oldest first, for an export
  changeaudit.linux.usys_config_info:
    since: -1w
    limit: 0
    order: oldest
  become: true
  register: week

- name: Records about one file, from a copied log only
  changeaudit.linux.usys_config_info:
    path: /srv/evidence/audit.log
    include_rotated: false
    fields:
      object: /etc/nftables.conf
"""

RETURN = r"""
records:
  description: The newest O(limit) matching records, in O(order) (newest first by default).
  type: list
  elements: dict
  returned: success
  contains:
    type:
      description: The record type, V(USYS_CONFIG).
      type: str
      sample: USYS_CONFIG
    timestamp:
      description: Event time, epoch seconds.
      type: float
      sample: 1716200000.123
    time:
      description:
        - Event time as ISO-8601 in UTC with its offset, to the millisecond the log holds; the same instant as
          RV(records[].timestamp).
        - V(null) for a time out of the range a date can show.
      type: str
      sample: "2024-05-20T10:13:20.123+00:00"
      version_added: 1.1.0
    serial:
      description: Event serial number.
      type: int
      sample: 4711
    event_id:
      description: C(<timestamp>:<serial>) as in the log, what C(ausearch -a) takes.
      type: str
      sample: "1716200000.123:4711"
    node:
      description: The C(node=) name of a forwarded record; V(null) for local records.
      type: str
    pid:
      description: Process that sent the record.
      type: int
    uid:
      description: Its user ID.
      type: int
    uid_name:
      description:
        - The user name of RV(records[].uid), as C(ausearch -i) shows it; V(unset) for 4294967295.
        - The name auditd logged with the record (C(log_format = ENRICHED)), else the name on the managed host
          now; V(null) when neither knows the user, and for a forwarded record (RV(records[].node)) of a RAW log.
      type: str
      sample: root
      version_added: 1.1.0
    auid:
      description: Its login (audit) user ID; 4294967295 when unset.
      type: int
    auid_name:
      description:
        - The user name of RV(records[].auid), found the same way as RV(records[].uid_name); V(unset) for
          4294967295 (no login, for example a task run from a service or cron without a login session).
      type: str
      sample: admin
      version_added: 1.1.0
    ses:
      description: Its audit session ID; 4294967295 when unset.
      type: int
    op:
      description: C(op=) as written.
      type: str
      sample: firewall-reload
    comm:
      description: C(comm=), decoded.
      type: str
      sample: ansible
    exe:
      description: C(exe=), decoded.
      type: str
      sample: /usr/bin/python3.11
    hostname:
      description: C(hostname=) as written; V(?) when none.
      type: str
    addr:
      description: C(addr=) as written; V(?) when none.
      type: str
    terminal:
      description: C(terminal=) as written; V(?) when none.
      type: str
    result:
      description: C(res=) as V(success) or V(failed).
      type: str
      sample: success
    fields:
      description: The other fields, decoded, in record order.
      type: dict
      sample: {object: /etc/nftables.conf, reason: ticket CHG-1234, task_id: 02fc0000-0001-f721-4bd2-000000000004}
    text:
      description: The record text as in the log (after C(msg=')), not decoded.
      type: str
count:
  description: Number of records returned.
  type: int
  returned: success
files:
  description: The log files read, oldest first. Rotations the O(limit) or O(since) made unnecessary are not read.
  type: list
  elements: str
  returned: success
  sample: [/var/log/audit/audit.log.1, /var/log/audit/audit.log]
log_file:
  description: The audit log read (O(path), or C(log_file) from C(/etc/audit/auditd.conf)).
  type: str
  returned: success
  sample: /var/log/audit/audit.log
  version_added: 1.1.0
truncated:
  description:
    - V(true) when O(limit) stopped the reading, so older matching records may exist; raise O(limit), set it to
      V(0), or narrow the search with O(since).
  type: bool
  returned: success
  version_added: 1.1.0
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.reader import DEFAULT_LIMIT, ORDERS, read_records
from ansible_collections.changeaudit.linux.plugins.module_utils._module import fail_from_audit_error

ARGUMENT_SPEC = dict(
    path={"type": "path"},
    include_rotated={"type": "bool", "default": True},
    since={"type": "str"},
    until={"type": "str"},
    op={"type": "str"},
    comm={"type": "str"},
    result={"type": "str", "choices": ["success", "failed"]},
    fields={"type": "dict", "default": {}},
    task_id={"type": "str", "aliases": ["task_uuid"]},
    run_id={"type": "str"},
    limit={"type": "int", "default": DEFAULT_LIMIT},
    order={"type": "str", "choices": list(ORDERS), "default": ORDERS[0]},
)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = read_records(module.params)
    except AuditError as exc:
        fail_from_audit_error(module, exc)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
