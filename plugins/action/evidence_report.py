# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.changeaudit.linux.plugins.module_utils._specs import EVIDENCE_ARGUMENT_SPEC
from ansible_collections.changeaudit.linux.plugins.plugin_utils._context import run_id as this_run_id
from ansible_collections.changeaudit.linux.plugins.plugin_utils._evidence import reconcile, window, write_report
from ansible_collections.changeaudit.linux.plugins.plugin_utils._ledger import LedgerError, read_ledger


class ActionModule(ActionBase):
    """Matches a run's ledger with the records each host holds and writes the evidence report, on the controller."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(EVIDENCE_ARGUMENT_SPEC)

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _validation, options = self.validate_argument_spec(argument_spec=EVIDENCE_ARGUMENT_SPEC)
        run_id = this_run_id(task_vars) if options["run_id"] is None else options["run_id"]
        if not run_id:
            raise AnsibleActionFail("run_id is empty: name the run to prove (the run_id its records carry)")
        try:
            entries: t.Optional[t.List[t.Dict[str, t.Any]]] = read_ledger(options["ledger_dir"], run_id)
        except FileNotFoundError:
            entries = None
        except (OSError, LedgerError) as exc:
            raise AnsibleActionFail("cannot read the ledger of run %s in %s: %s" % (run_id, options["ledger_dir"], exc)) from None
        result.update(changed=False, run_id=run_id, ledger=entries is not None, window=window(entries or []))
        if options["window_only"]:
            return result
        if not options["report_dir"]:
            raise AnsibleActionFail("report_dir is required: the directory the report is written to")
        evidence = reconcile(run_id, entries, self._reads(options["hosts"], options["records_var"], task_vars))
        result.update(summary=evidence["summary"], report_dir=options["report_dir"])
        # set_stats' way of handing data out of a run: AWX and AAP keep it as the job's artifacts.
        result["ansible_stats"] = {
            "data": {"changeaudit_evidence": {"run_id": run_id, "report_dir": options["report_dir"], "summary": evidence["summary"]}},
            "per_host": False,
            "aggregate": False,
        }
        if not self._task.check_mode:
            result["files"] = write_report(evidence, os.path.abspath(options["report_dir"]))
            result["changed"] = True
        gaps = evidence["summary"]["gaps"]
        if gaps:
            message = "%d change%s of run %s lack%s proof (missing %d, unknown outcome %d, host unreachable %d, unexpected %d): see %s" % (
                gaps, "" if gaps == 1 else "s", run_id, "s" if gaps == 1 else "",
                evidence["summary"]["missing"], evidence["summary"]["unknown_outcome"],
                evidence["summary"]["host_unreachable"], evidence["summary"]["unexpected"],
                os.path.join(options["report_dir"], "evidence.html"),
            )
            if options["fail_on_gaps"]:
                result.update(failed=True, msg=message)
            else:
                self._display.warning(message)
        return result

    @staticmethod
    def _reads(hosts: t.Sequence[str], records_var: str, task_vars: t.Mapping[str, t.Any]) -> t.Dict[str, t.Dict[str, t.Any]]:
        """Host -> what usys_config_info read there: reachable, records, error."""
        hostvars = task_vars.get("hostvars") or {}
        reads = {}
        for host in hosts:
            registered = (hostvars.get(host) or {}).get(records_var)
            if not isinstance(registered, dict):
                reads[host] = {"reachable": False, "records": [], "error": "no records were read on this host (%s is not set)" % records_var}
            elif registered.get("unreachable"):
                reads[host] = {"reachable": False, "records": [], "error": registered.get("msg") or "unreachable"}
            elif registered.get("failed") or "records" not in registered:
                reads[host] = {"reachable": False, "records": [], "error": registered.get("msg") or "reading the records failed"}
            else:
                reads[host] = {"reachable": True, "records": list(registered.get("records") or [])}
        return reads
