# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import typing as t

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.changeaudit.linux.plugins.module_utils._specs import VERIFY_EVIDENCE_ARGUMENT_SPEC
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_check import (
    check_records,
    check_report,
    records_summary_text,
    summary_text,
)


class ActionModule(ActionBase):
    """Checks an evidence report against its signed manifest, and single records of an audit log against the
    controller's public key, on the controller (or anywhere the collection is: it needs no controller)."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(VERIFY_EVIDENCE_ARGUMENT_SPEC)

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        result = super().run(tmp, task_vars or {})
        del tmp
        _validation, options = self.validate_argument_spec(argument_spec=VERIFY_EVIDENCE_ARGUMENT_SPEC)
        if not options["report_dir"] and not options["audit_log"]:
            raise AnsibleActionFail("give report_dir (a report to check) or audit_log (an audit log whose change records "
                                    "to check, with public_key), or both")
        if options["audit_log"]:
            if not options["public_key"]:
                raise AnsibleActionFail("audit_log needs public_key: the controller's signing.pub, which checks each "
                                        "record's signature (a log carries no key of its own)")
            try:
                records = check_records(os.path.abspath(options["audit_log"]), options["public_key"], options["run_id"])
            except AnsibleError as exc:
                raise AnsibleActionFail("cannot verify the records: %s" % exc) from None
            result.update(records=records["records"], records_checked=records["checked"], records_failed=records["failed"],
                          records_intact=records["intact"], audit_log=records["log"], key_id=records["key_id"])
            if not options["report_dir"]:
                result.update(changed=False, intact=records["intact"], problems=[], run_id=options["run_id"],
                              msg=records_summary_text(records))
                if not records["intact"]:
                    result["failed"] = True
                return result
        report_dir = os.path.abspath(options["report_dir"])
        try:
            check = check_report(report_dir, options["public_key"])
        except AnsibleError as exc:
            raise AnsibleActionFail("cannot verify the report: %s" % exc) from None
        if check["key_from_report"]:
            self._display.warning(
                "The public key was taken from the report itself (%s): that proves the report was not changed since it "
                "was signed, not who signed it (whoever rewrites a report can sign it with a key of their own). To "
                "prove it was the controller, pass public_key (-e public_key=FILE) with the controller's signing.pub, "
                "kept apart from the reports." % os.path.join(report_dir, "signing.pub"))
        message = summary_text(check)
        intact = check["intact"]
        if options["audit_log"]:
            message += " " + records_summary_text(records)
            intact = intact and records["intact"]
        result.update(changed=False, intact=intact, problems=check["problems"], run_id=check["run_id"],
                      ledger_head=check["ledger_head"], key_id=check["key_id"], signed_by=check["signed_by"],
                      key_from_report=check["key_from_report"], report_dir=report_dir, msg=message)
        if not intact:
            result["failed"] = True
        return result
