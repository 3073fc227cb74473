# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.changeaudit.linux.plugins.module_utils._specs import AUDITED_ARGUMENT_SPEC
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._audited import (
    LONGEST_RESULT,
    change_record_params,
    check_before_change,
    final_outcome,
    record_result,
    sign_record,
    unknown_hash_fields,
    with_signature_room,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._context import task_context
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._vars import apply_module_defaults, extra_vars
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._plugins import FoundModule, find_module, module_handler
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import ledger_location
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import existing_key
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._hashing import hasher_for
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._privilege import (
    AS_TASK,
    RecordPrivilegeError,
    acting_identity,
    record_privilege,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer._writer import with_origin, write_on_target


class ActionModule(ActionBase):
    """Runs any module (through its own action plugin when it has one) and records the change it made.

    The inner result goes back unchanged; the audit outcome is added under one key, ``audit``.
    """

    TRANSFERS_FILES = False
    _inner_handler: t.Any = None
    _VALID_ARGS = frozenset(AUDITED_ARGUMENT_SPEC)

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        task_vars = task_vars or {}
        # Before ActionBase.run, whose generic "does not support async" would not say why or what to do.
        if self._task.async_val:
            raise AnsibleActionFail(
                "changeaudit.linux.audited cannot run with async: the change would finish after the task, "
                "so it could not be recorded; remove async/poll from this task"
            )
        super().run(tmp, task_vars)
        del tmp
        _validation, options = self.validate_argument_spec(argument_spec=AUDITED_ARGUMENT_SPEC)
        unknown = unknown_hash_fields(options["hash_fields"], options["fields"])
        if unknown:
            # Refused before the module runs: a record that cannot be written after the change is a change unrecorded.
            raise AnsibleActionFail(
                "hash_fields names fields that are neither in fields nor the object: %s; list only those" % ", ".join(unknown)
            )
        module = self._resolve(options["module"])
        module_fqcn = module.fqcn
        # module_defaults name the wrapped module, not audited: apply them as core's package/service actions do.
        module_args = apply_module_defaults(module_fqcn, self._task, options["args"], self._templar)
        try:
            # The controller's key signs the record when there is one (set, or made by record_changes beside its
            # ledgers); audited never makes one itself.
            extra = extra_vars()
            key = existing_key(self._ledger_dir(extra), extra)
            hasher = hasher_for(self._templar, task_vars)
            context = task_context(self._task, acting_identity(self._connection, self._play_context), task_vars, self._templar) if options["context"] else None

            def params_for(result: t.Mapping[str, t.Any], res: str) -> t.Dict[str, t.Any]:
                return change_record_params(
                    module_fqcn=module_fqcn,
                    module_args=module_args,
                    result=result,
                    res=res,
                    no_log=bool(self._task.no_log),
                    extra_fields=options["fields"],
                    extra_source="by changeaudit.linux.audited itself",
                    hash_extra=True,
                    context=context,
                    inventory_host=task_vars.get("inventory_hostname"),
                    delegated_to=self._task.delegate_to or None,
                    backend=options["backend"],
                    on_unavailable=options["on_unavailable"],
                    verify=bool(options.get("verify")),
                    forwarding=bool(options.get("forwarding")),
                    op=options["op"],
                    hash_fields=options["hash_fields"],
                    hasher=hasher,
                )

            # The whole record, with the longest result a module can return, before the module runs: what would
            # keep it from being written is refused now, while nothing has changed.
            check_before_change(with_signature_room(with_origin(params_for(LONGEST_RESULT, "success")), key is not None))
        except AnsibleError as exc:
            raise AnsibleActionFail("%s. Nothing was run." % str(exc).rstrip(".")) from None
        privilege = self._check_record_privilege(task_vars, options)
        inner = self._run_inner(module, module_args, task_vars)

        # The record follows the task's final result: changed_when, failed_when and until are applied here as
        # TaskExecutor will apply them to what this action returns.
        changed, failed, final = final_outcome(self._task, self._templar, task_vars, inner)
        res = record_result(changed, failed, options["record_failures"]) if final else None
        if res is None:
            inner["audit"] = {
                "recorded": False,
                "reason": "not final" if not final else "failed" if failed else "not changed",
            }
            return inner

        # Signed once res is final: the record says what came of the change, and nothing alters it afterwards.
        recorder = write_on_target(self, task_vars, sign_record(key, params_for(inner, res)), privilege)
        return self._merge(inner, recorder)

    @staticmethod
    def _ledger_dir(extra: t.Mapping[str, t.Any]) -> t.Optional[str]:
        """Where record_changes keeps its ledgers and key; None where that callback cannot be loaded."""
        try:
            return ledger_location(extra)
        except AnsibleError:
            return None

    def _check_record_privilege(self, task_vars: t.Dict[str, t.Any], options: t.Mapping[str, t.Any]) -> t.Any:
        """How the record will get root; when not with the task's own privileges (a service account, no become), a
        check mode write with them first, so that a host where they fail refuses before the change."""
        try:
            privilege = record_privilege(self._connection, self._play_context, self._task, task_vars, self._templar)
        except RecordPrivilegeError as exc:
            raise AnsibleActionFail("%s. Nothing was run." % str(exc).rstrip(".")) from None
        if privilege.how == AS_TASK or self._task.check_mode:
            return privilege
        probe = write_on_target(
            self, task_vars,
            {"op": options["op"], "fields": {}, "backend": options["backend"], "on_unavailable": "fail", "context": False,
             "forwarding": bool(options.get("forwarding"))},
            privilege, check_mode=True,
        )
        if probe.get("failed") and options["on_unavailable"] == "fail":
            raise AnsibleActionFail("%s Nothing was run." % (probe.get("msg") or "The record could not be written."))
        return privilege

    def _resolve(self, name: str) -> FoundModule:
        """The module to audit, resolved as TaskExecutor resolves a task's module (its FQCN and action plugin)."""
        found = find_module(self, name)
        if not found.resolved:
            raise AnsibleActionFail("module %r to audit was not found: %s" % (name, found.redirects or "no such module"))
        if found.fqcn == "changeaudit.linux.audited":
            raise AnsibleActionFail("changeaudit.linux.audited cannot wrap itself")
        return found

    def _run_inner(self, module: FoundModule, module_args: t.Dict[str, t.Any], task_vars: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
        """Run the module the way TaskExecutor would: through its action plugin when it has one (copy, template)."""
        handler = module_handler(self, module, module_args)
        # Its cleanup waits for this action's (TaskExecutor always calls it after run): the module's tmp dir stays
        # until the record is written (the writer never uses it: its program lives in a directory of its own).
        self._inner_handler = handler
        return handler.run(task_vars=task_vars)

    def cleanup(self, force: bool = False) -> None:
        if self._inner_handler is not None:
            self._inner_handler.cleanup(force)
            self._inner_handler = None
        super().cleanup(force)

    @staticmethod
    def _merge(inner: t.Dict[str, t.Any], recorder: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
        """Keep the inner result whole; add the audit outcome and fail only when the record was required."""
        audit = {
            key: recorder.get(key) for key in ("recorded", "record", "backend", "backend_fallback", "sequence", "verified")
        }
        inner["audit"] = audit
        warnings = list(inner.get("warnings") or []) + list(recorder.get("warnings") or [])
        if warnings:
            inner["warnings"] = warnings
        if recorder.get("failed"):
            audit.update(error=recorder.get("msg"), cause=recorder.get("cause"))
            inner_msg = inner.get("msg")
            inner["msg"] = "The change %s but could not be recorded in the audit trail: %s%s" % (
                "failed" if inner.get("failed") else "was applied",
                recorder.get("msg"),
                " Module message: %s" % inner_msg if inner_msg else "",
            )
            inner["failed"] = True
        return inner
