# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The only Ansible-aware utility: the one place where AuditError becomes fail_json, and the module runner."""

from __future__ import annotations

import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.request import execute

if t.TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule


def fail_from_audit_error(module: AnsibleModule, exc: AuditError, **result: t.Any) -> None:
    """fail_json with the message (cause and fix) and the structured details. Uses module.fail_json."""
    module.fail_json(msg=str(exc), **dict(result, **exc.as_dict()))


def run_writer(module: AnsibleModule) -> None:
    """Write (or in check mode, show) one record. Uses module.params, check_mode, warn and the exit helpers.

    The work is request.execute, which the controller's bundle writer runs too: this only reports its result.
    """
    result = execute(dict(module.params, check_mode=module.check_mode))
    for warning in result.pop("warnings", ()):
        module.warn(warning)
    if result.get("failed"):
        del result["failed"]
        module.fail_json(**result)
    module.exit_json(**result)


__all__ = [
    "fail_from_audit_error",
    "run_writer",
]
