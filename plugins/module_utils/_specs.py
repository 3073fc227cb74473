# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The options of the writing plugins, declared once.

The usys_config module, the controller's writer and the audited action plugin all
validate against these. The modules' DOCUMENTATION stays YAML, which
ansible-doc reads from the source without running it; a unit test checks that
it documents exactly these options. No Ansible import: the binding's backend
names are the only thing this needs.
"""

from __future__ import annotations

import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.backends import AUTO, BACKEND_NAMES

# The options of the changeaudit.linux._backend doc fragment, in the order usys_config's invocation lists them.
BACKEND_ARGUMENT_SPEC: t.Dict[str, t.Dict[str, t.Any]] = {
    "verify": {"type": "bool", "default": False},
    "backend": {"type": "str", "default": AUTO, "choices": list(BACKEND_NAMES)},
    "on_unavailable": {"type": "str", "default": "fail", "choices": ["fail", "warn"]},
}

# changeaudit.linux.usys_config, the module the one writer runs (or whose request it runs) on the target.
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

# changeaudit.linux.audited, validated by its action plugin on the controller.
AUDITED_ARGUMENT_SPEC: t.Dict[str, t.Dict[str, t.Any]] = dict(
    module={"type": "str", "required": True},
    args={"type": "dict", "default": {}},
    op={"type": "str", "default": "ansible-change"},
    fields={"type": "dict", "default": {}},
    hash_fields={"type": "list", "elements": "str", "default": []},
    record_failures={"type": "bool", "default": False},
    context={"type": "bool", "default": True},
    **BACKEND_ARGUMENT_SPEC,
)


# changeaudit.linux.evidence_report, an action that runs on the controller only.
EVIDENCE_ARGUMENT_SPEC: t.Dict[str, t.Dict[str, t.Any]] = dict(
    run_id={"type": "str"},
    report_dir={"type": "path"},
    ledger_dir={"type": "path", "default": "~/.ansible/changeaudit/ledger"},
    hosts={"type": "list", "elements": "str", "default": []},
    records_var={"type": "str", "default": "changeaudit_evidence_records"},
    fail_on_gaps={"type": "bool", "default": True},
    window_only={"type": "bool", "default": False},
)


__all__ = [
    "BACKEND_ARGUMENT_SPEC",
    "WRITER_ARGUMENT_SPEC",
    "AUDITED_ARGUMENT_SPEC",
    "EVIDENCE_ARGUMENT_SPEC",
]
