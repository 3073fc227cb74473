# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The only Ansible-aware utility: argument specs, and one place where AuditError becomes fail_json."""

from __future__ import annotations

import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.backends import BACKEND_NAMES
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.errors import AuditError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.request import execute

if t.TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule

BACKEND_ARGUMENT_SPEC: t.Dict[str, t.Dict[str, t.Any]] = {
    "backend": {"type": "str", "default": "auto", "choices": list(BACKEND_NAMES)},
    "on_unavailable": {"type": "str", "default": "fail", "choices": ["fail", "warn"]},
}

WRITER_ARGUMENT_SPEC: t.Dict[str, t.Dict[str, t.Any]] = dict(
    op={"type": "str", "required": True},
    fields={"type": "dict", "default": {}},
    hash_fields={"type": "list", "elements": "str", "default": []},
    result={"type": "str", "default": "success", "choices": ["success", "failed"]},
    comm={"type": "str", "default": "ansible"},
    hostname={"type": "str"},
    addr={"type": "str"},
    terminal={"type": "str"},
    # Consumed by the action plugin; accepted here so the module can be called directly.
    context={"type": "bool", "default": True},
    verify={"type": "bool", "default": False},
    **BACKEND_ARGUMENT_SPEC,
)


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
    "BACKEND_ARGUMENT_SPEC",
    "WRITER_ARGUMENT_SPEC",
    "fail_from_audit_error",
    "run_writer",
]
