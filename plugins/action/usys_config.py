# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible_collections.changeaudit.linux.plugins.module_utils._specs import WRITER_ARGUMENT_SPEC
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.request import error_result
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._audited import (
    WITHHELD_FIELD,
    RecordRefusedError,
    check_before_change,
    protect_values,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._context import task_context, with_context
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._hashing import hasher_for
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._privilege import acting_identity
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer._writer import validate, with_origin, write_on_target


class ActionModule(ActionBase):
    """Adds the task context on the controller, then has the one writer write the record on the target."""

    TRANSFERS_FILES = False

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        module_args = dict(self._task.args)
        fields = module_args.get("fields") or {}
        if not isinstance(fields, dict):
            raise AnsibleActionFail("fields must be a dict, not %s" % type(fields).__name__)
        hash_fields = module_args.get("hash_fields") or []
        if isinstance(hash_fields, (str, bytes)) or not isinstance(hash_fields, (list, tuple)):
            raise AnsibleActionFail("hash_fields must be a list, not %s" % type(hash_fields).__name__)
        missing = sorted(set(map(str, hash_fields)) - set(fields))
        if missing:
            raise AnsibleActionFail("hash_fields names fields that are not in fields: %s; list only names that appear "
                                    "in fields" % ", ".join(missing))
        try:
            module_args["fields"] = self._hashed(fields, set(hash_fields), task_vars)
            module_args["hash_fields"] = []
            if boolean(module_args.get("context", WRITER_ARGUMENT_SPEC["context"]["default"]), strict=False):
                module_args["fields"] = with_context(
                    module_args["fields"], task_context(self._task, acting_identity(self._connection, self._play_context), task_vars, self._templar)
                )
            validated, error = validate(with_origin(module_args))
            if not error:
                # A request the argument spec refuses gets the module's own message from write_on_target.
                check_before_change(validated)
        except RecordRefusedError as exc:
            # As the module fails on the same input: cause, errno and hint in the result; nothing was written.
            result.update(error_result(exc.audit_error, "fail", record=None))
            return result
        except AnsibleError as exc:
            raise AnsibleActionFail("%s. Nothing was written." % str(exc).rstrip(".")) from None
        result.update(write_on_target(self, task_vars, module_args))
        return result

    def _hashed(self, fields: t.Dict[str, t.Any], hash_fields: t.Set[str], task_vars: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
        """The fields with the values hash_fields names (under no_log: all) hashed here, on the controller, with the
        operator's key; under no_log without a key the values are left out and named in ``withheld``."""
        hasher = hasher_for(self._templar, task_vars)
        if hash_fields:
            hasher.require("hash_fields")
        withheld: t.List[str] = []
        hashed = protect_values(fields, hash_fields, bool(self._task.no_log), hasher, withheld)
        if withheld:
            if WITHHELD_FIELD in hashed:
                raise AnsibleActionFail("the field %s is the record's own under no_log; rename it" % WITHHELD_FIELD)
            hashed[WITHHELD_FIELD] = ",".join(withheld)
        return hashed
