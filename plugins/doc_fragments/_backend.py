# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.

from __future__ import annotations


# The backend choices are BACKEND_NAMES of module_utils/_audit/send/backends.py (its registry plus auto), written
# out because doc fragments are static YAML to every docs tool;
# tests/unit/plugins/doc_fragments/test_docs_match_specs.py checks that they agree.
class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  backend:
    description:
      - How the record reaches the kernel.
      - V(libaudit) calls C(audit_log_user_comm_message()) in C(libaudit.so.1) through ctypes.
      - V(netlink) speaks C(NETLINK_AUDIT) directly and needs no library; the record text is the same.
      - V(auto) uses libaudit when it can be loaded and falls back to netlink otherwise; the result says which
        backend was used and, after a fallback, why.
    type: str
    choices: [auto, libaudit, netlink]
    default: auto
  on_unavailable:
    description:
      - What to do when the host cannot keep the record right now.
      - That covers missing root or C(CAP_AUDIT_WRITE), auditing disabled in the kernel (which silently drops
        user records), no audit daemon running (records would reach the kernel log only), a kernel without
        audit support, a non-initial user namespace, a loaded audit rule that drops the record
        (C(-a always,exclude -F msgtype=USYS_CONFIG), C(-a never,user ...)), auditd configured not to write
        (C(write_logs = no), C(log_format = NOLOG)), records lost to the kernel's rate or backlog limit while
        the record was sent, and, with O(verify=true), a record that did not reach the log.
      - V(fail) fails the task with a message naming the cause and the fix.
      - V(warn) emits that message as a warning and carries on; the result then says the record was not written
        (C(recorded=false)).
      - Invalid input and a record that would be too long always fail.
    type: str
    choices: [fail, warn]
    default: fail
  verify:
    description:
      - After the kernel acknowledged the record, read it back from the log auditd writes (C(log_file) in
        C(/etc/audit/auditd.conf)), found by its exact text and the pid of the writing process, following a
        rotation; fail when it has not arrived within 10 seconds.
      - auditd writes asynchronously, so this waits for it (usually about a millisecond); it catches what no
        check before the send can, such as auditd suspended on a full disk or an auditd.conf edited but not
        reloaded.
      - Needs read access to the audit log (root).
      - On a host that forwards its records (O(forwarding=true) and auditd writing no log), there is no log to read
        the record from, and the result says so (C(verified.read_back=false)) and warns.
    type: bool
    default: false
  forwarding:
    description:
      - Declares that this host forwards its records instead of keeping a local log, as SIEM-fed sites run it, with
        C(write_logs = no) (or C(log_format = NOLOG)) in C(/etc/audit/auditd.conf) with an active dispatcher plugin
        such as C(audisp-remote) or C(syslog) in C(/etc/audit/plugins.d).
      - Without it such a host is refused, since its records reach no log. With it the record is written when a
        plugin sends records out (and refused when none does), and says where it went in C(forwarded_to=), the
        plugins' program names.
      - Has no effect on a host whose auditd writes a log.
    type: bool
    default: false
    version_added: 1.2.0
notes:
  - The kernel only keeps records from root or from processes holding C(CAP_AUDIT_WRITE); use O(ignore:become=true).
  - Before sending, the kernel audit status and the loaded audit rules are read (this needs C(CAP_AUDIT_CONTROL),
    which root has) and C(/etc/audit/auditd.conf) is read, because the kernel acknowledges and then drops user
    records while auditing is disabled or when a rule on the C(user) or C(exclude) list matches them. After the
    send the status is read again, and a rise of its C(lost) counter fails the task.
"""
