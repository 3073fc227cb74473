# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import typing as t

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.changeaudit.linux.plugins.module_utils._specs import EVIDENCE_ARGUMENT_SPEC
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._collector import NodeIndex, failed_reads, read_collector_log, split_records
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._context import run_id as this_run_id
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._evidence import reconcile, window, write_report
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._evidence_rows import NO_RECORDS_FROM_NODE
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._vars import extra_vars
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import controller_key
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import LEDGER_KEY_PURPOSE, Ledger, ledger_location
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger_chain import LedgerError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger_read import LedgerReading, open_ledger


class ActionModule(ActionBase):
    """Matches a run's ledger with the records each host holds and writes the evidence report, on the controller."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(EVIDENCE_ARGUMENT_SPEC)

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _validation, options = self.validate_argument_spec(argument_spec=EVIDENCE_ARGUMENT_SPEC)
        extra = extra_vars()
        # The run to prove is the controller's to name (the option, the run's extra var run_id, or this run's own),
        # never a host's variables: under run_once they would be the first host's, whose facts that host returns.
        run_id = options["run_id"]
        facts = task_vars.get("ansible_facts") or {}
        if run_id is not None and extra.get("run_id") != run_id and isinstance(facts, dict) and facts.get("run_id") == run_id:
            # Only a fact the host returned set it (play, role and extra vars outrank facts): not the controller's word.
            self._display.warning("%s returned a fact named run_id (%s); the run to prove is named by the controller, so "
                                  "the fact is ignored: give -e run_id" % (task_vars.get("inventory_hostname"), run_id))
            run_id = None
        if run_id is None:
            run_id = str(extra["run_id"]) if extra.get("run_id") not in (None, "") else this_run_id({})
        if not run_id:
            raise AnsibleActionFail("run_id is empty: name the run to prove (the run_id its records carry)")
        try:
            ledger_dir = options["ledger_dir"] or ledger_location(extra)
        except AnsibleError as exc:
            raise AnsibleActionFail("cannot find where the ledgers are kept: %s" % exc) from None
        if not ledger_dir:
            raise AnsibleActionFail("ledger_dir is empty (the callback keeps no ledger): name the directory that holds "
                                    "the ledger of run %s, or set expect_ledger=false for a run that kept none" % run_id)
        reading = self._read_ledger(ledger_dir, run_id, extra, options["expect_ledger"])
        entries = None if reading is None else [entry for entry in reading.entries if entry.get("kind") in ("intent", "outcome")]
        result.update(changed=False, run_id=run_id, ledger=entries is not None, ledger_dir=ledger_dir,
                      window=window(reading.entries if reading is not None else []))
        if options["window_only"]:
            return result
        if not options["report_dir"]:
            raise AnsibleActionFail("report_dir is required: the directory the report is written to")
        if reading is not None and not reading.sealed and not self._task.check_mode and run_id == this_run_id({}):
            # The proof of the run it is part of: the run goes on, so the ledger is sealed up to here (a checkpoint,
            # signed as the end of a run is), and what it proves is what came before.
            reading = self._checkpoint(ledger_dir, run_id, extra) or reading
            entries = [entry for entry in reading.entries if entry.get("kind") in ("intent", "outcome")]
        collector = None
        if options["collector"] or options["collector_log"]:
            reads, collector = self._collector_reads(run_id, options, result["window"], task_vars)
        else:
            reads = self._reads(options["hosts"], options["records_var"], task_vars)
        # Each record's signature is checked with the controller's key; the records it kept for other hosts count
        # only from its own trail.
        evidence = reconcile(run_id, entries, reads, reading._asdict() if reading is not None else None,
                             public_key=self._key(ledger_dir, extra) if reading is not None else None,
                             controller=self._controller_read(options["controller_records_var"], task_vars))
        # The records are in the rows now: a collector's 200,000 are not held while the report is written.
        del reads
        if collector is not None:
            evidence["collector"] = collector
        result.update(summary=evidence["summary"], verdict=evidence["verdict"], report_dir=options["report_dir"])
        # set_stats' way of handing data out of a run: AWX and AAP keep it as the job's artifacts.
        result["ansible_stats"] = {
            "data": {"changeaudit_evidence": {"run_id": run_id, "report_dir": options["report_dir"], "summary": evidence["summary"],
                                              "verdict": evidence["verdict"]}},
            "per_host": False,
            "aggregate": False,
        }
        if not self._task.check_mode:
            try:
                result["files"] = write_report(evidence, os.path.abspath(options["report_dir"]), self._key(ledger_dir, extra),
                                               ledger_head=reading.head if reading is not None else None)
            except AnsibleError as exc:
                raise AnsibleActionFail("cannot write the signed report of run %s: %s" % (run_id, exc)) from None
            result["changed"] = True
        summary = evidence["summary"]
        if summary["gaps"]:
            gaps = summary["change_gaps"]
            message = "%d change%s of run %s lack%s proof (missing %d, unknown outcome %d, host unreachable %d, unexpected %d%s)" % (
                gaps, "" if gaps == 1 else "s", run_id, "s" if gaps == 1 else "", summary["missing"],
                summary["unknown_outcome"], summary["host_unreachable"], summary["unexpected"],
                ", no records from the host's node %d" % summary[NO_RECORDS_FROM_NODE] if summary.get(NO_RECORDS_FROM_NODE) else "")
            if summary["gaps"] > gaps:
                message = "Run %s is not proven. %s%s" % (run_id, evidence["verdict"], " " + message if gaps else "")
            message += ": see %s" % os.path.join(options["report_dir"], "evidence.html")
            if options["fail_on_gaps"]:
                result.update(failed=True, msg=message)
            else:
                self._display.warning(message)
        return result

    @staticmethod
    def _key(ledger_dir: str, extra: t.Mapping[str, t.Any]) -> t.Any:
        try:
            return controller_key(ledger_dir, extra)
        except AnsibleError as exc:
            raise AnsibleActionFail("cannot check the ledger's chain: %s" % exc) from None

    def _read_ledger(self, ledger_dir: str, run_id: str, extra: t.Mapping[str, t.Any], expected: bool) -> t.Optional[LedgerReading]:
        """The run's ledger, checked; None for a run that kept none when the caller says so (expect_ledger=false)."""
        nothing = "no ledger of run %s in %s: nothing can be proven" % (run_id, ledger_dir)
        try:
            key = self._key(ledger_dir, extra) if os.path.isdir(os.path.join(ledger_dir, run_id)) else None
            reading = open_ledger(ledger_dir, run_id, key.mac_key(LEDGER_KEY_PURPOSE) if key else None,
                                  key.key_id if key else None)
        except FileNotFoundError:
            reading = None
        except (OSError, LedgerError) as exc:
            raise AnsibleActionFail("cannot read the ledger of run %s in %s: %s" % (run_id, ledger_dir, exc)) from None
        if reading is not None and not any(entry.get("run_id") == run_id for entry in reading.entries) and not reading.problems:
            reading = None
            nothing = "the ledger of run %s in %s holds no line of that run: nothing can be proven" % (run_id, ledger_dir)
        if reading is None and expected:
            raise AnsibleActionFail(
                "%s. Check run_id (the run_id= its records carry; the end-of-run summary of record_changes names it) and "
                "ledger_dir (the callback's ledger_dir option, changeaudit_ledger_dir, CHANGEAUDIT_LEDGER_DIR or "
                "[changeaudit_record_changes] ledger_dir in ansible.cfg); for a run that kept no ledger, set "
                "expect_ledger=false (evidence_expect_ledger=false for the evidence playbook) to report its records only"
                % nothing)
        return reading

    def _checkpoint(self, ledger_dir: str, run_id: str, extra: t.Mapping[str, t.Any]) -> t.Optional[LedgerReading]:
        key = self._key(ledger_dir, extra)
        mac_key = key.mac_key(LEDGER_KEY_PURPOSE)
        ledger = Ledger(ledger_dir, run_id, mac_key, key.key_id, key.sign)
        try:
            ledger.seal(final=False)
            return open_ledger(ledger_dir, run_id, mac_key, key.key_id)
        except (OSError, LedgerError) as exc:
            self._display.warning("cannot seal the ledger of run %s up to this proof: %s" % (run_id, exc))
            return None

    @staticmethod
    def _collector_reads(run_id: str, options: t.Mapping[str, t.Any], span: t.Mapping[str, t.Any],
                         task_vars: t.Mapping[str, t.Any]) -> t.Tuple[t.Dict[str, t.Dict[str, t.Any]], t.Dict[str, t.Any]]:
        """Host -> its records, from one collector's log that holds every host's (read on the collector host by
        usys_config_info and registered as collector_var, or a file on the controller, collector_log)."""
        hosts = options["hosts"]
        try:
            index = NodeIndex(hosts, task_vars.get("hostvars") or {}, options["node_map"] or {}, options["collector"])
        except ValueError as exc:
            raise AnsibleActionFail("node_map: %s" % exc) from None
        if options["collector_log"]:
            source = options["collector_log"]
            try:
                records, files = read_collector_log(source, run_id, span.get("since"), options["collector_rotated"])
                reads, info = split_records(records, run_id, index, source, files)
            except AuditError as exc:
                raise AnsibleActionFail("cannot read the collector's log %s on the controller: %s" % (source, exc)) from None
            return reads, info
        source = options["collector"]
        registered = task_vars.get(options["collector_var"])
        if not isinstance(registered, dict):
            error = "the collector %s was not read (%s is not set)" % (source, options["collector_var"])
        elif registered.get("unreachable"):
            error = "the collector %s is unreachable: %s" % (source, registered.get("msg") or "")
        elif registered.get("failed") or "records" not in registered:
            error = "reading the collector %s failed: %s" % (source, registered.get("msg") or "")
        else:
            return split_records(registered.get("records") or [], run_id, index, source, registered.get("files") or [])
        return failed_reads(hosts, error), {"source": source, "error": error}

    @staticmethod
    def _controller_read(variable: str, task_vars: t.Mapping[str, t.Any]) -> t.Optional[t.Dict[str, t.Any]]:
        """What usys_config_info read of the controller's own trail (None: not read, or skipped)."""
        registered = task_vars.get(variable) if variable else None
        if not isinstance(registered, dict) or registered.get("skipped"):
            return None
        if registered.get("unreachable") or registered.get("failed") or "records" not in registered:
            return {"reachable": False, "records": [], "error": registered.get("msg") or "reading the records failed"}
        return {"reachable": True, "records": list(registered.get("records") or [])}

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
