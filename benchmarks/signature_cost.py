"""What the controller's record signatures cost: per change, and in proving a run, against the same work unsigned.

    python benchmarks/signature_cost.py [--hosts 6] [--changes 200] [--repeat 5] [--json FILE]

Per change: the record's params built as the every-change hook builds them (change_record_params with a task context)
and written through the binding (netlink, the real kernel and auditd, in this process), with and without
sign_record between the two; the ratio is signed / unsigned in the same run. That anchor is the cheapest part of a
change's cost (no connection, no module), so the ratio is far above what a change costs; the share of a recorded
change in a playbook (every_change_overhead.py's measure: --tasks lineinfile tasks on localhost with record_changes
on, run here too) is printed beside it.

Proving a run: hosts x changes signed records written for real, then, as the evidence playbook does, each host's
records of the run read back (read_records) and reconciled with the ledger and the report written: once checking
every record (the run's ledger says its records are signed; with the controller's key, as evidence_report holds it,
which checks each record's ctl_mac and falls back to the Ed25519 signature only where that fails), once the same
records unchecked (a run that signs nothing). The Ed25519 check alone, as a third party makes it without the
controller (verify_evidence -e audit_log), is printed per record too. Printed: signed / unsigned of reconcile + report alone, and of the whole proof (reads
included). The issue's goal: under 5 % (ratios under 1.05).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import statistics
import sys
import tempfile
import time
import typing as t

from _common import ROOT, AuditLock, check_auditd, kernel_status, new_run_id

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backend_netlink import NetlinkBackend
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.reader import read_records
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.request import execute
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.record import UserRecord
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._audited import change_record_params
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._evidence import reconcile, window, write_report
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import LEDGER_KEY_PURPOSE, RECORDED, Ledger, read_ledger
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger_read import open_ledger
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import (
    RECORD_SIG_FIELD,
    SigningKey,
    record_signature_problem,
    sign_record,
)

CONTEXT = {"play": "Deploy the web tier", "cmd": "Write the site configuration", "task_path": "/srv/play/site.yml:42",
           "task_id": "02fc0000-0001-16ba-5381-00000000002a", "ctl_user": "deploy", "become_user": "root"}


def params_for(run_id: str, seq: int, res: str = "success") -> t.Dict[str, t.Any]:
    return change_record_params(
        module_fqcn="ansible.builtin.copy", module_args={"dest": "/etc/bench/%d.conf" % seq, "content": "x"},
        result={"checksum": "0" * 40}, res=res, no_log=False, extra_fields={}, extra_source="bench", hash_extra=False,
        context=dict(CONTEXT, seq=str(seq), run_id=run_id), inventory_host="bench-host", delegated_to=None,
        backend="netlink", on_unavailable="fail",
    )


def per_change(key: SigningKey, run_id: str, changes: int) -> t.Tuple[float, float]:
    """(seconds per change unsigned, signed): build + write, interleaved so that drift hits both alike."""
    unsigned, signed = [], []
    for seq in range(1, changes + 1):
        for sign, times in ((False, unsigned), (True, signed)):
            began = time.perf_counter()
            params = params_for(run_id, seq)
            if sign:
                params = sign_record(key, params)
            outcome = execute(dict(params, check_mode=False, verify=False, forwarding=False, comm="ansible"))
            times.append(time.perf_counter() - began)
            if not outcome.get("recorded"):
                sys.exit("the record was not written: %r" % outcome)
    return statistics.median(unsigned), statistics.median(signed)


PLAY = """---
- name: signature cost, changes recorded by record_changes
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
%s
"""
TASK = """    - name: Setting %(i)d
      ansible.builtin.lineinfile: {path: "%(dir)s/file%(i)d.conf", line: "setting%(i)d = on", create: true, mode: "0644"}
"""


def playbook_change_seconds(work: str, tasks: int) -> float:
    """Seconds per changed task of a playbook with record_changes on (every task changes and is recorded)."""
    os.makedirs(os.path.join(work, "files"), exist_ok=True)
    path = os.path.join(work, "play.yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(PLAY % "".join(TASK % {"i": i, "dir": os.path.join(work, "files")} for i in range(tasks)))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"), CHANGEAUDIT_RUN_ID=new_run_id(),
               CHANGEAUDIT_LEDGER_DIR=os.path.join(work, "ledger"), ANSIBLE_CALLBACKS_ENABLED="changeaudit.linux.record_changes",
               ANSIBLE_NOCOLOR="1")
    began = time.perf_counter()
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", path], env=env,
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - began
    if proc.returncode != 0 or "changed=%d " % tasks not in proc.stdout:
        sys.exit("the playbook failed or did not change every task:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    return elapsed / tasks


def write_run(key: SigningKey, run_id: str, hosts: t.Sequence[str], changes: int, ledger_dir: str) -> None:
    ledger = Ledger(ledger_dir, run_id, key.mac_key(LEDGER_KEY_PURPOSE), key.key_id, key.sign)
    ledger.start(record_signature=RECORD_SIG_FIELD)
    with NetlinkBackend() as backend:
        for number in range(changes):
            for host in hosts:
                task = {"task_id": "02fc0000-0001-16ba-5381-%012d" % number, "module": "ansible.builtin.copy",
                        "object": "/etc/bench/%d.conf" % number, "cmd": "Bench change %d" % number}
                seq = ledger.intent(host, task)
                params = sign_record(key, {"op": "ansible-change:ansible.builtin.copy", "result": "success",
                                           "fields": dict(task, seq=str(seq), inventory_host=host, run_id=run_id)})
                backend.send(UserRecord(params["op"], params["fields"]))
                ledger.outcome(host, seq, RECORDED)
    ledger.seal()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--hosts", type=int, default=6)
    parser.add_argument("--changes", type=int, default=200, help="changes per host (default 200)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=30, help="changed tasks of the playbook anchor (0: leave it out)")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    key = SigningKey.generate()
    run_id = new_run_id()
    hosts = ["bench-host-%d" % number for number in range(args.hosts)]
    work = tempfile.mkdtemp(prefix="changeaudit-signature-cost.")
    results: t.Dict[str, t.List[float]] = {"reconcile_unsigned": [], "reconcile_signed": [], "read": []}
    try:
        with AuditLock():
            check_auditd(kernel_status())
            change_unsigned, change_signed = per_change(key, new_run_id(), 1000)
            playbook_change = playbook_change_seconds(work, args.tasks) if args.tasks else None
            write_run(key, run_id, hosts, args.changes, work)
            mac_key = key.mac_key(LEDGER_KEY_PURPOSE)
            span = window(read_ledger(work, run_id, mac_key))
            time.sleep(2)  # auditd flushes asynchronously
            for _round in range(args.repeat):
                reads = {}
                began = time.perf_counter()
                for host in hosts:
                    found = read_records({"run_id": run_id, "fields": {"inventory_host": host}, "since": span["since"],
                                          "until": span["until"], "limit": 0, "order": "oldest"})
                    if found["count"] != args.changes:
                        sys.exit("%s: read %d records of %d" % (host, found["count"], args.changes))
                    reads[host] = {"reachable": True, "records": found["records"]}
                results["read"].append(time.perf_counter() - began)
                # Alternated, the unsigned arm first in even rounds: neither gets a warmer cache every time.
                arms = [("reconcile_unsigned", False), ("reconcile_signed", True)]
                for name, checked in (arms if _round % 2 == 0 else arms[::-1]):
                    began = time.perf_counter()
                    reading = open_ledger(work, run_id, mac_key, key.key_id)
                    entries = [entry for entry in reading.entries if entry["kind"] in ("intent", "outcome")]
                    evidence = reconcile(run_id, entries, reads, reading._asdict(), public_key=key if checked else None,
                                         signed=checked)
                    write_report(evidence, "%s/report-%s" % (work, name), key, ledger_head=reading.head)
                    results[name].append(time.perf_counter() - began)
                    if evidence["summary"]["recorded"] != len(hosts) * args.changes or evidence["summary"]["gaps"]:
                        sys.exit("%s: %r" % (name, evidence["summary"]))
            # A third party's check: the public key only, so each record's Ed25519 signature.
            records = [record for read in reads.values() for record in read["records"]]
            began = time.perf_counter()
            for record in records:
                if record_signature_problem(key.public_key, record["op"], record["result"], record["fields"]) is not None:
                    sys.exit("a record does not verify: %r" % record)
            public_check = (time.perf_counter() - began) / len(records)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    read = statistics.median(results["read"])
    unsigned = statistics.median(results["reconcile_unsigned"])
    signed = statistics.median(results["reconcile_signed"])
    summary = {
        "hosts": args.hosts, "changes_per_host": args.changes,
        "per_change_signed_vs_unsigned": change_signed / change_unsigned,
        "sign_us_per_change": (change_signed - change_unsigned) * 1e6,
        "reconcile_signed_vs_unsigned": signed / unsigned,
        "proof_signed_vs_unsigned": (read + signed) / (read + unsigned),
        "verify_us_per_record": (signed - unsigned) / (len(hosts) * args.changes) * 1e6,
        "public_key_check_vs_mac_check": public_check / max((signed - unsigned) / (len(hosts) * args.changes), 1e-9),
        "playbook_change_with_signature_vs_without": (
            None if playbook_change is None else (playbook_change) / (playbook_change - (change_signed - change_unsigned))),
    }
    print("signatures of the controller, signed / unsigned in this run (goal: under 1.05):")
    print("  per change, the record built and written through the binding (netlink, real kernel): %.3fx "
          "(signing adds %.0f us to a record)" % (summary["per_change_signed_vs_unsigned"], summary["sign_us_per_change"]))
    if playbook_change is not None:
        print("  per recorded change of a playbook (%d lineinfile tasks, localhost, record_changes on: %.1f ms a change "
              "here): with its signature / without %.4fx" % (args.tasks, playbook_change * 1e3,
                                                             summary["playbook_change_with_signature_vs_without"]))
    print("  proving %d hosts x %d changes: reconcile + report %.3fx; the whole proof with each host's read %.3fx "
          "(checking adds %.0f us a record)" % (args.hosts, args.changes, summary["reconcile_signed_vs_unsigned"],
                                                summary["proof_signed_vs_unsigned"], summary["verify_us_per_record"]))
    print("  a third party's check of one record with the public key only (Ed25519): %.0fx the controller's check "
          "(verify_evidence -e audit_log; not part of the proof)" % summary["public_key_check_vs_mac_check"])
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(dict(summary, raw=results), handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
