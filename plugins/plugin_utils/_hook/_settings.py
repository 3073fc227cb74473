# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The every-change hook's settings: the record_changes callback's options, checked once when the run starts, and
the actions it never records."""

from __future__ import annotations

import fnmatch
import typing as t

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import OP_MAX
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditRecordTooLongError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _task_hook
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._audited import (
    CHANGE_FIELDS,
    LONGEST_RESULT,
    MODULE_NAME_MAX,
    OBJECT_TEXT_MAX,
    RecordRefusedError,
    change_record_params,
    check_before_change,
    with_signature_room,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._context import (
    CONTEXT_FIELDS,
    CONTEXT_TEXT_DEFAULT_MAX,
    CONTEXT_TEXT_MAX,
    RETIRED_CONTEXT_FIELDS,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._hashing import Hasher

RESULT_KEY = "changeaudit_record"
PLUGIN = "changeaudit.linux.record_changes"

OWN_ACTIONS = (
    "changeaudit.linux.audited",
    "changeaudit.linux.usys_config",
    "changeaudit.linux.usys_config_info",
    "changeaudit.linux.audit_status_info",
    # Writes the evidence report on the controller.
    "changeaudit.linux.evidence_report",
    # Reads a report on the controller.
    "changeaudit.linux.verify_evidence",
)
# Never recorded, as they record themselves or change nothing, matched against the resolved FQCN only: a name as
# written can resolve to anyone's plugin. ansible-core's own controller-side actions are left out by
# _plugins.core_controller_action, which looks at the file that runs.
DEFAULT_SKIP = frozenset(OWN_ACTIONS)

# The collection's own modules record themselves; their tasks are not in the ledger.
OWN_PREFIX = "changeaudit.linux."


class RecordKeepingError(_task_hook.TaskRefusedError):
    """Raised before a task runs on a host that cannot keep audit records (mode fail)."""


class Settings:
    """The callback's options, set in the controller process before the workers fork."""

    def __init__(
        self,
        mode: str = "fail",
        skip: t.Iterable[str] = (),
        fields: t.Optional[t.Mapping[str, t.Any]] = None,
        backend: str = "auto",
        verify: bool = False,
        state_dir: t.Optional[str] = None,
        ledger_dir: t.Optional[str] = None,
        controller_problem: t.Optional[str] = None,
        ledger_key: t.Optional[bytes] = None,
        ledger_key_id: t.Optional[str] = None,
        record_key: t.Optional[t.Any] = None,
        in_module: bool = True,
    ) -> None:
        if mode not in ("fail", "warn"):
            raise AnsibleError("%s: mode must be fail or warn, not %r" % (PLUGIN, mode))
        self.mode = mode
        if isinstance(skip, (str, bytes)) or any(not isinstance(item, str) for item in skip):
            raise AnsibleError("%s: skip must be a list of action names or patterns, not %r" % (PLUGIN, skip))
        self.skip_patterns = tuple(sorted(set(skip)))
        self.fields = validate_static_fields(fields or {})
        self.backend = backend
        self.verify = verify
        self.state_dir = state_dir
        # None: no ledger is kept.
        self.ledger_dir = ledger_dir
        # What chains the ledger's lines: the HMAC key derived from the controller's signing key, and its id.
        self.ledger_key = ledger_key
        self.ledger_key_id = ledger_key_id
        # What signs each record (_signing.SigningKey, the same key): None signs none.
        self.record_key = record_key
        # Whether a change's record may be written in the module's own process (_in_module) where it can be.
        self.in_module = in_module
        # Why the controller cannot keep records (changeaudit_host_policy=controller), found when the run starts.
        self.controller_problem = controller_problem
        self._skips: t.Dict[t.Tuple[str, str], bool] = {}
        # The host checks this process did and their verdicts (_host_check): a worker forks with none, and finds
        # those of earlier workers in the state directory.
        self.checked: t.Dict[t.Tuple[str, ...], t.Tuple[str, str]] = {}

    def skips(self, resolved: str, written: str) -> bool:
        """Whether the action is on the default or the user's skip list (names or fnmatch patterns)."""
        known = self._skips.get((resolved, written))
        if known is None:
            names = {resolved, written}
            known = resolved in DEFAULT_SKIP or any(
                fnmatch.fnmatchcase(name, pattern) for name in names for pattern in self.skip_patterns
            )
            self._skips[(resolved, written)] = known
        return known


def validate_static_fields(fields: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The fields option, refused now when any record it would go into could not be written: a name the record
    has itself or ausearch would misread, a value the binding cannot encode, or fields too long to fit beside the
    longest task context, object and result."""
    source = "the fields option of %s" % PLUGIN
    own = sorted(set(fields) & (set(CHANGE_FIELDS) | set(CONTEXT_FIELDS) | RETIRED_CONTEXT_FIELDS))
    if own:
        raise AnsibleError(
            "%s names fields every change record has itself: %s; rename them (for example ticket, change_ref)"
            % (source, ", ".join(own))
        )
    try:
        # The names and values are checked as part of the longest record they can be in.
        check_before_change(worst_case_params(dict(fields)))
    except RecordRefusedError as exc:
        if isinstance(exc.audit_error, AuditRecordTooLongError):
            raise AnsibleError(
                "%s is too long to fit in every record beside the longest task context, object and result: %s"
                % (source, exc)
            ) from None
        raise AnsibleError("%s cannot be recorded: %s" % (source, exc.audit_error)) from None
    return dict(fields)


def worst_case_params(fields: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    """The usys_config params of the longest record the hook can write with ``fields``: every context value and
    the object at their bound, in text that is written as hex (twice its length)."""

    def longest(max_bytes: int) -> str:
        return " " * max_bytes

    # A record names become_user or remote_user, never both (_privilege.Acting.fields).
    context = {
        name: longest(CONTEXT_TEXT_MAX.get(name, CONTEXT_TEXT_DEFAULT_MAX)) for name in CONTEXT_FIELDS if name != "remote_user"
    }
    params = change_record_params(
        module_fqcn=longest(MODULE_NAME_MAX),
        module_args={"path": longest(OBJECT_TEXT_MAX)},
        result=LONGEST_RESULT,
        res="success",
        no_log=False,
        extra_fields=fields,
        extra_source="by the fields option of %s" % PLUGIN,
        hash_extra=False,
        context=context,
        inventory_host=longest(CONTEXT_TEXT_DEFAULT_MAX),
        delegated_to=longest(CONTEXT_TEXT_DEFAULT_MAX),
        backend="auto",
        on_unavailable="fail",
        hasher=Hasher(b"k" * 32),
    )
    # op= holds what fits of the object; at its longest it is written bare, OP_MAX characters.
    params["op"] = "x" * OP_MAX
    return with_signature_room(params, True)


__all__ = [
    "RESULT_KEY",
    "PLUGIN",
    "OWN_ACTIONS",
    "OWN_PREFIX",
    "DEFAULT_SKIP",
    "RecordKeepingError",
    "Settings",
    "validate_static_fields",
    "worst_case_params",
]
