# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import os
import typing as t

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._vars import extra_vars
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._drift import DRIFT_ARGUMENT_SPEC, classify, write_report
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._drift_rows import OUT_OF_BAND, failed
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import LEDGER_KEY_PURPOSE, ledger_location
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger_chain import LedgerError, run_directory
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger_read import open_ledger
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import controller_key


class ActionModule(ActionBase):
    """Classifies each host's watched writes against the collection's records and writes the drift report."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(DRIFT_ARGUMENT_SPEC)

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _validation, options = self.validate_argument_spec(argument_spec=DRIFT_ARGUMENT_SPEC)
        if not options["report_dir"]:
            raise AnsibleActionFail("report_dir is required: the directory the drift report is written to")
        for name in ("window", "max_window", "clock_skew"):
            if options[name] < 0:
                raise AnsibleActionFail("%s must be 0 or more seconds, not %s" % (name, options[name]))
        extra = extra_vars()
        reads = self._reads(options["hosts"], options["events_var"], task_vars)
        try:
            ledger_dir = options["ledger_dir"] or ledger_location(extra)
        except AnsibleError:
            ledger_dir = None
        intents, notes = self._intents(ledger_dir, reads, extra)
        for note in notes:
            self._display.warning(note)
        drift = classify(reads, intents, options["window"], options["max_window"], options["clock_skew"])
        drift["ledger_dir"] = ledger_dir
        summary = drift["summary"]
        result.update(changed=False, summary=summary, verdict=drift["verdict"], report_dir=options["report_dir"])
        result["ansible_stats"] = {
            "data": {"changeaudit_drift": {"report_dir": options["report_dir"], "summary": summary, "verdict": drift["verdict"]}},
            "per_host": False,
            "aggregate": False,
        }
        if not self._task.check_mode:
            try:
                result["files"] = write_report(drift, os.path.abspath(options["report_dir"]))
            except AnsibleError as exc:
                raise AnsibleActionFail(str(exc)) from None
            result["changed"] = True
        if failed(summary):
            message = "%s See %s" % (drift["verdict"], os.path.join(options["report_dir"], "drift.html"))
            if options["fail_on_drift"]:
                result.update(failed=True, msg=message)
            else:
                self._display.warning(message)
        result["out_of_band"] = [row for row in drift["events"] if row["status"] == OUT_OF_BAND][:50]
        return result

    @staticmethod
    def _reads(hosts: t.Sequence[str], events_var: str, task_vars: t.Mapping[str, t.Any]) -> t.Dict[str, t.Dict[str, t.Any]]:
        hostvars = task_vars.get("hostvars") or {}
        reads: t.Dict[str, t.Dict[str, t.Any]] = {}
        for host in hosts:
            registered = (hostvars.get(host) or {}).get(events_var)
            if not isinstance(registered, dict):
                reads[host] = {"reachable": False, "error": "the host's watched events were not read (%s is not set)" % events_var}
            elif registered.get("unreachable"):
                reads[host] = {"reachable": False, "error": "unreachable: %s" % (registered.get("msg") or "")}
            elif registered.get("failed") or "events" not in registered:
                reads[host] = {"reachable": False, "error": "reading the watched events failed: %s" % (
                    registered.get("msg") or "no events returned")}
            else:
                reads[host] = {"reachable": True, "result": registered}
        return reads

    def _intents(self, ledger_dir: t.Optional[str], reads: t.Mapping[str, t.Mapping[str, t.Any]],
                 extra: t.Mapping[str, t.Any]) -> t.Tuple[t.Dict[t.Tuple[str, str, str], float], t.List[str]]:
        """(run_id, task_id, seq) -> the intent's time, from the ledgers of the runs the records name."""
        intents: t.Dict[t.Tuple[str, str, str], float] = {}
        notes: t.List[str] = []
        if not ledger_dir:
            return intents, notes
        run_ids = sorted({str(record.get("run_id")) for read in reads.values() for record in
                          (read.get("result") or {}).get("records") or [] if record.get("run_id")})
        key = None
        for run_id in run_ids:
            try:
                if not os.path.isdir(run_directory(ledger_dir, run_id)):
                    continue
                if key is None:
                    key = controller_key(ledger_dir, extra)
                reading = open_ledger(ledger_dir, run_id, key.mac_key(LEDGER_KEY_PURPOSE), key.key_id)
            except (OSError, LedgerError, AnsibleError) as exc:
                notes.append("the ledger of run %s cannot be read (%s): its changes are matched within the window "
                             "before their records" % (run_id, exc))
                continue
            if reading.problems:
                notes.append("the ledger of run %s was altered (%s): its changes are matched within the window before "
                             "their records" % (run_id, "; ".join(problem["detail"] for problem in reading.problems[:3])))
                continue
            for entry in reading.entries:
                if entry.get("kind") != "intent":
                    continue
                try:
                    moment = datetime.datetime.fromisoformat(str(entry.get("time"))).timestamp()
                except ValueError:
                    continue
                intents[(run_id, str(entry.get("task_id")), str(entry.get("seq")))] = moment
        return intents, notes
