# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""One write request in, the usys_config result out: what every writer path runs on the target.

The usys_config module and the controller's bundle writer both call ``execute``, so
they build the same record and report the same result, errors included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.auditd_conf import forwarding_plugins, read_auditd_conf
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backends import AUTO, BACKEND_NAMES
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.write import NOT_READ_BACK, write_record
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import (
    build_message,
    validate_comm,
    validate_hostname,
    validate_terminal,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditError,
    AuditInvalidInputError,
    AuditUnavailableError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.record import UserRecord, validate_addr
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.values import value_bytes

# typing only for annotations: importing it costs each record ~3 ms on the target (plugin_utils/_writer/_writer.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


# How the record is written and what a host that cannot keep it does: options of usys_config, audited and the
# record_changes callback alike (plugins/doc_fragments/_backend.py documents them).
BACKEND_OPTIONS: t.Dict[str, t.Dict[str, t.Any]] = {
    "verify": {"type": "bool", "default": False},
    "backend": {"type": "str", "default": AUTO, "choices": list(BACKEND_NAMES)},
    "on_unavailable": {"type": "str", "default": "fail", "choices": ["fail", "warn"]},
    "forwarding": {"type": "bool", "default": False},
}

# The one declaration of a write request, the usys_config options: plugins/module_utils/_specs.py builds the modules'
# argument specs from it, and the record helper checks the requests it reads against it on hosts that have only
# this package.
REQUEST_SPEC: t.Dict[str, t.Dict[str, t.Any]] = dict(
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
    **BACKEND_OPTIONS,
)


def sha256_of(value: t.Any) -> str:
    # Imported here: hashlib loads OpenSSL (~2.5 ms), which every write would pay and only hash_fields needs.
    import hashlib

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


def _fields(params: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    fields = params.get("fields") or {}
    hash_fields = params.get("hash_fields") or []
    # The controller validates against the argument spec; these guard callers that did not.
    if not isinstance(fields, Mapping):
        raise AuditInvalidInputError("fields must be a dict, not %s" % type(fields).__name__)
    if isinstance(hash_fields, (str, bytes)) or not isinstance(hash_fields, Iterable):
        raise AuditInvalidInputError("hash_fields must be a list, not %s" % type(hash_fields).__name__)
    return fields_with_hashes(fields, hash_fields)


def validate_request(params: t.Mapping[str, t.Any]) -> None:
    """Raise the AuditError that record_from_params would raise for these params, without touching the host.

    The part of building a record that needs no host (its exe, terminal, resolved address and the length
    they add are only known there): the controller runs it before it sends anything.
    """
    build_message(params["op"], _fields(params))
    validate_comm(params.get("comm", "ansible"))
    validate_hostname(params.get("hostname"))
    validate_addr(params.get("addr"))
    validate_terminal(params.get("terminal"))


def record_from_params(params: t.Mapping[str, t.Any]) -> UserRecord:
    return UserRecord(
        op=params["op"],
        fields=_fields(params),
        success=params.get("result", "success") == "success",
        comm=params.get("comm", "ansible"),
        hostname=params.get("hostname"),
        addr=params.get("addr"),
        terminal=params.get("terminal"),
    )


def error_result(exc: AuditError, on_unavailable: str = "fail", **result: t.Any) -> t.Dict[str, t.Any]:
    """The result for an AuditError: a warning when the host cannot take records and the play allows it."""
    if isinstance(exc, AuditUnavailableError) and on_unavailable == "warn":
        return dict(result, changed=False, recorded=False, unavailable=exc.as_dict(), warnings=[str(exc)])
    return dict(result, failed=True, msg=str(exc), recorded=False, **exc.as_dict())


def execute(params: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """Write (or with check_mode, only check and show) one record.

    ``params`` are the usys_config options, validated against its argument spec
    (defaults filled in), plus ``check_mode``. Returns the module's result:
    on an AuditError ``failed``/``msg``/``cause``/``errno``/``hint``, or with
    ``on_unavailable: warn`` ``warnings`` and ``unavailable``.
    """
    record_text = None
    warnings = []
    try:
        forwarding = bool(params.get("forwarding"))
        if forwarding:
            conf = read_auditd_conf()
            forwarded_to = forwarding_plugins() if conf is not None and not conf.write_logs else []
            if forwarded_to:
                # The record says where it went, since no log of this host holds it.
                params = dict(params, fields=dict(params.get("fields") or {}, forwarded_to=",".join(forwarded_to)))
                if params.get("verify"):
                    warnings.append("verify: " + NOT_READ_BACK)
        record = record_from_params(params)
        record_text = record.text
        outcome = write_record(
            record,
            params.get("backend") or "auto",
            check_mode=bool(params.get("check_mode")),
            verify=bool(params.get("verify")),
            forwarding=forwarding,
        )
    except AuditError as exc:
        return error_result(exc, params.get("on_unavailable") or "fail", record=record_text)
    result = {
        # A record is an event, not state: writing one changes nothing to converge on.
        "changed": False,
        "record": outcome.record,
        "recorded": outcome.recorded,
        "backend": outcome.backend,
        "backend_fallback": outcome.backend_fallback,
        "audit_status": outcome.audit_status,
        "sequence": outcome.sequence,
        "verified": outcome.verified,
    }
    if warnings:
        result["warnings"] = warnings
    return result


__all__ = ["BACKEND_OPTIONS", "REQUEST_SPEC", "sha256_of", "fields_with_hashes", "validate_request", "record_from_params", "error_result", "execute"]
