# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible_collections.changeaudit.linux.plugins.module_utils._specs import WRITER_ARGUMENT_SPEC
from ansible_collections.changeaudit.linux.plugins.plugin_utils._context import task_context, with_context
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer import write_record


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
        if self._task.no_log:
            # Under no_log the values the play passed may be secrets: only their hashes reach the log.
            module_args["hash_fields"] = sorted(set(module_args.get("hash_fields") or []) | set(fields))
        if boolean(module_args.get("context", WRITER_ARGUMENT_SPEC["context"]["default"]), strict=False):
            module_args["fields"] = with_context(fields, task_context(self._task, self._play_context, task_vars))
        result.update(write_record(self, task_vars, module_args))
        return result
