# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The only Ansible-aware utility: argument specs, and one place where AuditError becomes fail_json."""

from __future__ import annotations

import hashlib
import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.backends import BACKEND_NAMES, write_record
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.encoding import value_bytes
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.errors import (
    AuditError,
    AuditUnavailableError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record import UserRecord

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
    **BACKEND_ARGUMENT_SPEC,
)


def sha256_of(value: t.Any) -> str:
    return "sha256:" + hashlib.sha256(value_bytes(value)).hexdigest()


def fields_with_hashes(fields: t.Mapping[str, t.Any], hash_fields: t.Iterable[str]) -> t.Dict[str, t.Any]:
    """Replace the values named in hash_fields by their sha256 so that secrets never reach the log."""
    hashed = set(hash_fields)
    missing = sorted(hashed - set(fields))
    if missing:
        raise AuditError(
            "hash_fields names fields that are not in fields: %s" % ", ".join(missing),
            hint="List only names that appear in fields",
        )
    return {name: sha256_of(value) if name in hashed else value for name, value in fields.items()}


def record_from_params(params: t.Mapping[str, t.Any]) -> UserRecord:
    return UserRecord(
        op=params["op"],
        fields=fields_with_hashes(params["fields"] or {}, params["hash_fields"] or []),
        success=params["result"] == "success",
        comm=params["comm"],
        hostname=params["hostname"],
        addr=params["addr"],
        terminal=params["terminal"],
    )


def fail_from_audit_error(module: AnsibleModule, exc: AuditError, **result: t.Any) -> None:
    """fail_json with the message (cause and fix) and the structured details. Uses module.fail_json."""
    module.fail_json(msg=str(exc), **dict(result, **exc.as_dict()))


def exit_unavailable_or_fail(module: AnsibleModule, exc: AuditError, **result: t.Any) -> None:
    """Where a writer's AuditError leaves the binding. Uses module.params, warn, exit_json, fail_json."""
    if isinstance(exc, AuditUnavailableError) and module.params.get("on_unavailable") == "warn":
        module.warn(str(exc))
        module.exit_json(changed=False, recorded=False, unavailable=exc.as_dict(), **result)
    fail_from_audit_error(module, exc, recorded=False, **result)


def run_writer(module: AnsibleModule) -> None:
    """Write (or in check mode, show) one record. Uses module.params, check_mode and the exit helpers."""
    record_text = None
    try:
        record = record_from_params(module.params)
        record_text = record.text
        outcome = write_record(record, module.params["backend"], check_mode=module.check_mode)
    except AuditError as exc:
        exit_unavailable_or_fail(module, exc, record=record_text)
    module.exit_json(
        # A record is an event, not state: writing one changes nothing to converge on.
        changed=False,
        record=outcome.record,
        recorded=outcome.recorded,
        backend=outcome.backend,
        backend_fallback=outcome.backend_fallback,
        audit_status=outcome.audit_status,
        sequence=outcome.sequence,
    )


__all__ = [
    "BACKEND_ARGUMENT_SPEC",
    "WRITER_ARGUMENT_SPEC",
    "sha256_of",
    "fields_with_hashes",
    "record_from_params",
    "fail_from_audit_error",
    "exit_unavailable_or_fail",
    "run_writer",
]
