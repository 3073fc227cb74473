"""Concurrent writers: nothing may go missing when many processes write at once.

    python benchmarks/load_test.py [--writers 8] [--records 10000] [--backend mixed|libaudit|netlink]

Each writer is its own process with its own backend connection (mixed: even
writers use libaudit, odd ones netlink) and writes --records records tagged
writer=<n> seq=0..records-1. All writers start together. Afterwards every
(writer, seq) must be in audit.log or a rotation exactly once, and the kernel
`lost` counter must not have grown. Exit 1 otherwise.

With more writers than auditd can drain, the kernel queue reaches backlog_limit;
the kernel then makes the sender sleep (up to backlog_wait_time) instead of
dropping user records. The report shows the peak backlog seen and how long
senders waited, so a run that hit the limit is visible as such.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import typing as t

from _common import (
    AUDIT_LOG,
    AuditLock,
    AuditLogWatcher,
    audit_log_settings,
    bench_fields,
    check_auditd,
    kernel_status,
    new_run_id,
)

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backend_libaudit import LibauditBackend
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backend_netlink import NetlinkBackend
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.record import UserRecord

BACKENDS = {"libaudit": LibauditBackend, "netlink": NetlinkBackend}


def backend_for(index: int, choice: str) -> str:
    if choice != "mixed":
        return choice
    return "libaudit" if index % 2 == 0 else "netlink"


def writer_main(index: int, backend_name: str, run_id: str, records: int, go: t.Any, results: t.Any) -> None:
    """One writer process: open a connection here (never share a socket across fork), wait, write."""
    error = None
    written = 0
    with BACKENDS[backend_name]() as backend:
        go.wait()
        start = time.perf_counter()
        try:
            for seq in range(records):
                backend.send(UserRecord("bench-load", bench_fields(run_id, str(index), seq, "load")))
                written += 1
        except AuditError as exc:
            # Reported by the parent, which fails the run: a writer must not die silently.
            error = "%s: %s" % (type(exc).__name__, exc)
        elapsed = time.perf_counter() - start
    results.put((index, backend_name, written, elapsed, error))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--records", type=int, default=10000, help="records per writer")
    parser.add_argument("--backend", choices=("mixed", "libaudit", "netlink"), default="mixed")
    parser.add_argument("--settle-timeout", type=float, default=60.0,
                        help="seconds to wait for the last records to show up in audit.log")
    args = parser.parse_args()

    if os.geteuid() != 0:
        sys.exit("Run as root: writing needs CAP_AUDIT_WRITE, reading the status and audit.log needs root")
    total = args.writers * args.records
    if total > 200_000:
        sys.exit("%d records planned; keep a run at 200,000 or fewer" % total)

    # fork: children start at once and inherit the imported binding; each still
    # opens its own connection in writer_main.
    ctx = multiprocessing.get_context("fork")
    run_id = new_run_id()
    conf = audit_log_settings()
    problems: t.List[str] = []

    with AuditLock():
        before = kernel_status()
        check_auditd(before)
        print("run %s: %d writers x %d records (%s); %s rotates at %s MB, keeps %s files (rotations are followed)"
              % (run_id, args.writers, args.records, args.backend, AUDIT_LOG,
                 conf.get("max_log_file", "?"), conf.get("num_logs", "?")), flush=True)
        watcher = AuditLogWatcher(run_id)
        watcher.start()
        go = ctx.Event()
        results = ctx.Queue()
        procs = [
            ctx.Process(target=writer_main, args=(i, backend_for(i, args.backend), run_id, args.records, go, results))
            for i in range(args.writers)
        ]
        try:
            for proc in procs:
                proc.start()
            time.sleep(0.5)  # let every child open its connection before the clock starts
            peak_backlog = 0
            start = time.perf_counter()
            go.set()
            # While the writers run, the parent samples the kernel queue and reads the
            # log as it grows (so rotated files are held before auditd deletes them).
            # It runs on its own core share, never inside a writer.
            outcomes = []
            while len(outcomes) < len(procs):
                while not results.empty():
                    outcomes.append(results.get())
                if len(outcomes) == len(procs):
                    break
                if not any(proc.is_alive() for proc in procs) and results.empty():
                    break
                peak_backlog = max(peak_backlog, kernel_status().get("backlog", 0))
                watcher.poll()
                time.sleep(0.1)
            wall = time.perf_counter() - start
            for proc in procs:
                proc.join()
                if proc.exitcode:
                    problems.append("writer process %s exited with %s" % (proc.name, proc.exitcode))
            watcher.wait_for(lambda: sum(1 for k in watcher.found if k[0] != "?") >= total, args.settle_timeout)
            settled = time.perf_counter() - start
            after = kernel_status()
        finally:
            for proc in procs:
                if proc.is_alive():
                    proc.terminate()
            watcher.close()

    outcomes.sort()
    print()
    print("%-7s %-9s %9s %9s %10s %9s %10s" % ("writer", "backend", "written", "found", "missing", "dup", "rec/s"))
    missing_total = dup_total = 0
    for index, backend_name, written, elapsed, error in outcomes:
        missing, duplicated = watcher.count_batch(str(index), args.records)
        missing_total += missing
        dup_total += duplicated
        print("%-7d %-9s %9d %9d %10d %9d %10.0f" % (
            index, backend_name, written, args.records - missing, missing, duplicated,
            written / elapsed if elapsed else 0))
        if error:
            problems.append("writer %d stopped after %d records: %s" % (index, written, error))
    if len(outcomes) < args.writers:
        problems.append("only %d of %d writers reported back" % (len(outcomes), args.writers))
    if missing_total:
        problems.append("%d of %d records missing from audit.log" % (missing_total, total))
    if dup_total:
        problems.append("%d records found more than once" % dup_total)
    lost_delta = after.get("lost", 0) - before.get("lost", 0)
    if lost_delta:
        problems.append("kernel lost counter grew by %d (%d -> %d)" % (lost_delta, before["lost"], after["lost"]))

    written_total = sum(o[2] for o in outcomes)
    waited = after.get("backlog_wait_time_actual", 0) - before.get("backlog_wait_time_actual", 0)
    print()
    print("total: %d records written by %d writers in %.2f s = %.0f rec/s (all in audit.log after %.2f s)"
          % (written_total, len(outcomes), wall, written_total / wall, settled))
    print("found: %d of %d in %d log file(s) (%d rotation(s) during the run); duplicates %d"
          % (total - missing_total, total, watcher.files_opened, watcher.files_opened - 1, dup_total))
    print("kernel: lost %d -> %d; peak backlog seen %d (limit %d); backlog_wait_time_actual +%d"
          % (before.get("lost", 0), after.get("lost", 0), peak_backlog, before.get("backlog_limit", 0), waited))
    for problem in problems:
        print("FAIL: " + problem)
    if not problems:
        print("OK: all %d records found exactly once, nothing lost" % total)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
