# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.

from __future__ import annotations


class ModuleDocFragment:
    # Standard documentation fragment
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
"""

    ACTIONGROUP_AUDIT = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/changeaudit.linux.audit) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - changeaudit.linux.audit
"""

    ACTIONGROUP_AUDIT_INFO = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/changeaudit.linux.audit_info) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - changeaudit.linux.audit_info
"""
