"""What proving a run costs: 6 hosts x 200 changes, read back and reconciled, against ausearch in the same run.

    python benchmarks/evidence_bench.py [--hosts 6] [--changes 200] [--repeat 3] [--json FILE]

The run's records are written for real (netlink backend) into this machine's audit log, one "host" per value of
inventory_host, and its ledger the way the callback writes it (an intent and an outcome per change). Then, as the
evidence playbook does per host, the reader reads that host's records of the run within the ledger's span
(usys_config_info's read_records), and the controller reconciles every host and writes the report. Printed: per
host, the read's time and the bytes it read (this process's rchar) as ratios to ``ausearch --input-logs -m
USYS_CONFIG -ts <span>`` over the same log, and reconcile + report against the same anchor; never a bare time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t

from _common import AuditLock, check_auditd, kernel_status, new_run_id

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backend_netlink import NetlinkBackend
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.reader import read_records
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.record import UserRecord
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._evidence import reconcile, window, write_report
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import RECORDED, Ledger, read_ledger
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger_read import open_ledger

# The ledger is chained under a key, as the callback's is (a key of the controller's, here one of the benchmark's).
LEDGER_KEY = b"evidence-bench ledger key 32 by"


def rchar() -> int:
    with open("/proc/self/io", encoding="ascii") as handle:
        return int(next(line for line in handle if line.startswith("rchar:")).split()[1])


def write_run(run_id: str, hosts: t.Sequence[str], changes: int, ledger_dir: str) -> None:
    ledger = Ledger(ledger_dir, run_id, LEDGER_KEY, "bench")
    ledger.start()
    with NetlinkBackend() as backend:
        for number in range(changes):
            for host in hosts:
                task = {"task_id": "bench-task-%d" % number, "module": "ansible.builtin.copy",
                        "object": "/etc/bench/%d.conf" % number, "cmd": "Bench change %d" % number}
                seq = ledger.intent(host, task)
                backend.send(UserRecord("ansible-change", dict(task, seq=str(seq), inventory_host=host, run_id=run_id)))
                ledger.outcome(host, seq, RECORDED)
    ledger.seal()


def ausearch_seconds(since: str) -> float:
    start = datetime.datetime.fromisoformat(since).astimezone()
    began = time.perf_counter()
    subprocess.run(["ausearch", "--input-logs", "-m", "USYS_CONFIG", "--raw", "-ts", start.strftime("%m/%d/%y"),
                    start.strftime("%H:%M:%S")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--hosts", type=int, default=6)
    parser.add_argument("--changes", type=int, default=200, help="changes per host (default 200)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    run_id = new_run_id()
    hosts = ["bench-host-%d" % number for number in range(args.hosts)]
    work = tempfile.mkdtemp(prefix="changeaudit-evidence-bench.")
    results: t.Dict[str, t.List[float]] = {"read": [], "read_bytes": [], "reconcile": [], "ausearch": []}
    try:
        with AuditLock():
            check_auditd(kernel_status())
            write_run(run_id, hosts, args.changes, work)
            span = window(read_ledger(work, run_id, LEDGER_KEY))
            time.sleep(2)  # auditd flushes asynchronously
            for _round in range(args.repeat):
                results["ausearch"].append(ausearch_seconds(span["since"]))
                reads = {}
                for host in hosts:
                    began, read_before = time.perf_counter(), rchar()
                    found = read_records({"run_id": run_id, "fields": {"inventory_host": host}, "since": span["since"],
                                          "until": span["until"], "limit": 0, "order": "oldest"})
                    results["read"].append(time.perf_counter() - began)
                    results["read_bytes"].append(rchar() - read_before)
                    if found["count"] != args.changes:
                        sys.exit("%s: read %d records of %d" % (host, found["count"], args.changes))
                    reads[host] = {"reachable": True, "records": found["records"]}
                began = time.perf_counter()
                reading = open_ledger(work, run_id, LEDGER_KEY, "bench")
                entries = [entry for entry in reading.entries if entry["kind"] in ("intent", "outcome")]
                evidence = reconcile(run_id, entries, reads, reading._asdict())
                write_report(evidence, "%s/report" % work)
                results["reconcile"].append(time.perf_counter() - began)
                if evidence["summary"]["recorded"] != len(hosts) * args.changes or evidence["summary"]["gaps"]:
                    sys.exit("reconcile: %r" % evidence["summary"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    anchor = statistics.median(results["ausearch"])
    read = statistics.median(results["read"])
    summary = {
        "hosts": args.hosts, "changes_per_host": args.changes,
        "read_per_host_vs_ausearch": read / anchor,
        "reconcile_and_report_vs_ausearch": statistics.median(results["reconcile"]) / anchor,
        "bytes_read_per_host_mb": statistics.median(results["read_bytes"]) / 1e6,
    }
    print("evidence of %d hosts x %d changes (median of %d rounds; one log holds every host's records here):"
          % (args.hosts, args.changes, args.repeat))
    print("  read of one host's records of the run (span of the ledger): %.2fx ausearch -m USYS_CONFIG -ts <span>"
          % summary["read_per_host_vs_ausearch"])
    print("  bytes read per host: %.1f MB (what the read's process read, rchar)" % summary["bytes_read_per_host_mb"])
    print("  reconcile of every host + the five report files: %.2fx ausearch" % summary["reconcile_and_report_vs_ausearch"])
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(dict(summary, raw=results), handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
