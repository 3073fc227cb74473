"""What the run's ledger costs per change as the fleet grows: 50 concurrent workers, 10, 1,000 and 10,000 hosts.

    python benchmarks/ledger_bench.py [--workers 50] [--changes 200000] [--json FILE]

The callback's workers are forked processes that each note a change in the run's ledger (its intent, then its
outcome) for the host they run a task on. Here ``--workers`` forked processes do the same, with the ledger the
callback writes (chained under a key, a seq counter per host), for ``--changes`` changes spread over 10, then 1,000,
then 10,000 hosts (10,000 hosts x 20 changes at the default), and the ledger is then read back and checked as the
evidence does. Printed: the time per change at each size as a ratio to the one at 10 hosts (the goal: 10,000/10 at
most 1.2), and the check of the whole ledger as a ratio to the writing; never a bare time.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sys
import tempfile
import time
import typing as t

from _common import new_run_id

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import RECORDED, Ledger
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger_read import open_ledger

KEY = b"ledger-bench key, 32 bytes long."


def _worker(directory: str, run_id: str, hosts: int, first: int, changes: int, workers: int, start: t.Any) -> None:
    ledger = Ledger(directory, run_id, KEY, "bench")
    start.wait()
    # Worker w takes changes w, w + workers, ...: every worker touches hosts all over the fleet, as forks do.
    for change in range(first, changes, workers):
        host = "host-%05d" % (change % hosts)
        seq = ledger.intent(host, {"task_id": "bench-%d" % (change // hosts), "module": "ansible.builtin.copy",
                                   "object": "/etc/bench.conf"})
        ledger.outcome(host, seq, RECORDED, res="success")


def write_ledger(directory: str, run_id: str, hosts: int, changes: int, workers: int,
                 start_details: t.Optional[t.Mapping[str, t.Any]] = None) -> float:
    """Seconds per change, ``changes`` changes over ``hosts`` hosts written by ``workers`` forked workers at once;
    the ledger is sealed afterwards."""
    Ledger(directory, run_id, KEY, "bench").start(**(start_details or {}))
    context = multiprocessing.get_context("fork")
    start = context.Event()
    processes = [context.Process(target=_worker, args=(directory, run_id, hosts, number, changes, workers, start))
                 for number in range(workers)]
    for process in processes:
        process.start()
    began = time.perf_counter()
    start.set()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            sys.exit("a ledger worker failed (exit %s)" % process.exitcode)
    wrote = time.perf_counter() - began
    Ledger(directory, run_id, KEY, "bench").seal()
    return wrote / changes


def per_change(directory: str, hosts: int, changes: int, workers: int) -> t.Tuple[float, float]:
    """(seconds per change written by ``workers`` at once, seconds to read and check the whole ledger)."""
    run_id = "%s-%d" % (new_run_id(), hosts)
    per_written = write_ledger(directory, run_id, hosts, changes, workers)
    began = time.perf_counter()
    reading = open_ledger(directory, run_id, KEY, "bench")
    checked = time.perf_counter() - began
    if reading.problems or not reading.sealed or reading.lines != 2 * changes + 2:
        sys.exit("the ledger of %d hosts does not check: %r" % (hosts, reading.problems[:3]))
    seqs: t.Dict[str, t.Set[int]] = {}
    for entry in reading.entries:
        if entry["kind"] == "intent":
            seqs.setdefault(entry["host"], set()).add(entry["seq"])
    if len(seqs) != min(hosts, changes) or any(found != set(range(1, len(found) + 1)) for found in seqs.values()):
        sys.exit("the hosts' seq numbers are not 1..n each")
    return per_written, checked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--changes", type=int, default=200000, help="changes at each fleet size (default 200,000)")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="changeaudit-ledger-bench.")
    results: t.Dict[str, t.Any] = {}
    try:
        for hosts in (10, 1000, 10000):
            results[hosts] = per_change(work, hosts, args.changes, args.workers)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = results[10][0]
    print("ledger of %d changes written by %d concurrent workers (an intent and an outcome per change):"
          % (args.changes, args.workers))
    for hosts in (10, 1000, 10000):
        print("  %6d hosts: %.2fx the time per change at 10 hosts" % (hosts, results[hosts][0] / base))
    print("  goal: 10,000 hosts / 10 hosts at most 1.2x: %s" % ("met" if results[10000][0] / base <= 1.2 else "NOT met"))
    print("  reading and checking the whole ledger of 10,000 hosts: %.2fx the time its workers took to write it"
          % (results[10000][1] / (results[10000][0] * args.changes)))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({str(hosts): {"per_change_ratio": value[0] / base} for hosts, value in results.items()}, handle,
                      indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
