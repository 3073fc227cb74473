# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.

from __future__ import annotations


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
        audit support, and a non-initial user namespace.
      - V(fail) fails the task with a message naming the cause and the fix.
      - V(warn) emits that message as a warning and carries on; the result then says the record was not written
        (C(recorded=false)).
      - Invalid input and a record that would be too long always fail.
    type: str
    choices: [fail, warn]
    default: fail
notes:
  - The kernel only keeps records from root or from processes holding C(CAP_AUDIT_WRITE); use O(ignore:become=true).
  - Before sending, the kernel audit status is read (this needs C(CAP_AUDIT_CONTROL), which root has) because the
    kernel acknowledges and then drops user records while auditing is disabled.
"""
