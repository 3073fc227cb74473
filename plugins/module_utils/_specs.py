# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The options of the writing plugins, declared once.

The usys_config module, the controller's writer and the audited action plugin all
validate against these. The modules' DOCUMENTATION stays YAML, which
ansible-doc reads from the source without running it; a unit test checks that
it documents exactly these options. No Ansible import: the write request's
options are the binding's (request.REQUEST_SPEC), which the record helper
on a host checks requests against too.
"""

from __future__ import annotations

import copy
import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.request import BACKEND_OPTIONS, REQUEST_SPEC

# The options of the changeaudit.linux._backend doc fragment, in the order usys_config's invocation lists them.
BACKEND_ARGUMENT_SPEC: t.Dict[str, t.Dict[str, t.Any]] = copy.deepcopy(BACKEND_OPTIONS)

# changeaudit.linux.usys_config, the module the one writer runs (or whose request it runs) on the target: the
# binding's request, declared there because the record helper on a host has only the binding.
WRITER_ARGUMENT_SPEC: t.Dict[str, t.Dict[str, t.Any]] = copy.deepcopy(REQUEST_SPEC)

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
    # None: where the record_changes callback keeps it (its ledger_dir option, however it was set).
    ledger_dir={"type": "path"},
    expect_ledger={"type": "bool", "default": True},
    hosts={"type": "list", "elements": "str", "default": []},
    records_var={"type": "str", "default": "changeaudit_evidence_records"},
    # The read of the controller's own trail, the only place a record kept there for another host counts.
    controller_records_var={"type": "str", "default": "changeaudit_evidence_controller_records"},
    fail_on_gaps={"type": "bool", "default": True},
    window_only={"type": "bool", "default": False},
    # Central collector mode (_collector.py): one read of a collector's log instead of one per host.
    collector={"type": "str"},
    collector_var={"type": "str", "default": "changeaudit_evidence_collector"},
    collector_log={"type": "path"},
    collector_rotated={"type": "bool", "default": True},
    node_map={"type": "dict", "default": {}},
)

# changeaudit.linux.verify_evidence, an action that runs on the controller only.
VERIFY_EVIDENCE_ARGUMENT_SPEC: t.Dict[str, t.Dict[str, t.Any]] = dict(
    # One of report_dir and audit_log, or both (the action checks).
    report_dir={"type": "path"},
    # None: the signing.pub the report carries, which proves integrity only; audit_log needs it.
    public_key={"type": "path"},
    audit_log={"type": "path"},
    run_id={"type": "str"},
)


__all__ = [
    "BACKEND_ARGUMENT_SPEC",
    "WRITER_ARGUMENT_SPEC",
    "AUDITED_ARGUMENT_SPEC",
    "EVIDENCE_ARGUMENT_SPEC",
    "VERIFY_EVIDENCE_ARGUMENT_SPEC",
]
