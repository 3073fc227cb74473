"""What verify: true costs: write_record() with and without reading the record back, in one run.

    python benchmarks/verify_cost.py [--records 300] [--repeat 5] [--json FILE]

Both variants run the whole writer path a module runs per record (backend selection, status, rules and
auditd.conf checks, send, the status again for the lost counter); verify adds marking audit.log before the
send and waiting for auditd to write the line (flush = incremental_async, so this is mostly auditd's latency).
Variants are interleaved batch by batch so drift over the run hits both alike. Printed: the time per write of
each variant and the ratio verify / no-verify measured in this run, never a bare time alone. The records of
the no-verify batches are counted in audit.log too (AuditLogWatcher), and the kernel lost counter must not move.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import typing as t

from _common import AuditLock, AuditLogWatcher, bench_fields, check_auditd, kernel_status, new_run_id

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.write import write_record
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.record import UserRecord

BACKENDS = ("libaudit", "netlink")


def batch(backend: str, verify: bool, run_id: str, writer: str, records: int) -> float:
    """Seconds per write of one batch."""
    start = time.perf_counter()
    for seq in range(records):
        outcome = write_record(UserRecord("bench-verify", bench_fields(run_id, writer, seq, "verify")), backend,
                               verify=verify)
        if verify and not outcome.verified:
            raise RuntimeError("verify returned no record")
    return (time.perf_counter() - start) / records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--records", type=int, default=300, help="writes per batch (default 300)")
    parser.add_argument("--repeat", type=int, default=5, help="batches per variant (default 5)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("Run as root: writing, the status and audit.log need it")

    run_id = new_run_id()
    per_write: t.Dict[str, t.List[float]] = {}
    with AuditLock():
        before = kernel_status()
        check_auditd(before)
        watcher = AuditLogWatcher(run_id)
        watcher.start()
        missing = 0
        try:
            for round_no in range(args.repeat):
                for backend in BACKENDS:
                    for verify in (False, True):
                        key = "%s-%s" % (backend, "verify" if verify else "plain")
                        writer = "%s-%d" % (key, round_no)
                        per_write.setdefault(key, []).append(batch(backend, verify, run_id, writer, args.records))
                        # Every batch is in audit.log before the next starts, so none waits behind another.
                        watcher.wait_for(lambda: watcher.count_batch(writer, args.records)[0] == 0, 30.0)
                        missing += watcher.count_batch(writer, args.records)[0]
            lost = kernel_status()["lost"] - before["lost"]
        finally:
            watcher.close()

    print("run %s: %d writes per batch, %d batches per variant" % (run_id, args.records, args.repeat))
    print("%-10s %14s %14s %8s" % ("backend", "plain us/write", "verify us/write", "ratio"))
    results = {}
    for backend in BACKENDS:
        plain = statistics.median(per_write["%s-plain" % backend])
        verify = statistics.median(per_write["%s-verify" % backend])
        results[backend] = {"plain_us": plain * 1e6, "verify_us": verify * 1e6, "ratio": verify / plain}
        print("%-10s %14.1f %14.1f %7.2fx" % (backend, plain * 1e6, verify * 1e6, verify / plain))
    print("records missing from audit.log: %d; kernel lost counter moved by %d during the run" % (missing, lost))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"run_id": run_id, "results": results, "lost": lost, "missing": missing}, handle, indent=2)
    return 1 if lost or missing else 0


if __name__ == "__main__":
    sys.exit(main())
