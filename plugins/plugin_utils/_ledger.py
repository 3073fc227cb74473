# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The run's ledger on the controller: what the record_changes callback was about to change, and what came of it.

One directory per run (``<ledger_dir>/<run_id>/``, 0700) holds ``ledger.jsonl`` (0600): an *intent* line before a
task that may change a host runs on it, an *outcome* line after it. Each pair carries the host's sequence number
in the run (``seq``), which the change's audit record carries too, next to its task id: loop items, a handler
flushed twice and the tasks of an ``include_tasks`` loop each get their own, so a record and its ledger lines match
one to one. An intent without an outcome is a change whose end nobody saw (a worker killed between the change and
its record).

Workers are forked processes writing concurrently: each line is one ``write`` to a file opened with ``O_APPEND``,
and the sequence numbers are counted under an ``flock`` of the run's directory.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import typing as t

LEDGER_FORMAT = 1
LEDGER_FILE = "ledger.jsonl"
COUNTERS_FILE = "seq.json"

# What came of a change, in an outcome line.
RECORDED = "recorded"
UNCHANGED = "unchanged"
NOT_RECORDED = "not_recorded"
SKIPPED_BY_POLICY = "skipped_by_policy"
OUTCOMES = (RECORDED, UNCHANGED, NOT_RECORDED, SKIPPED_BY_POLICY)


class LedgerError(Exception):
    """The ledger cannot be written: the change it is about must not go unnoted."""


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def run_directory(ledger_dir: str, run_id: str) -> str:
    """The run's directory; a run ID that is not a plain file name (the operator sets it) cannot leave the ledger."""
    if not run_id or run_id in (".", "..") or "/" in run_id or "\0" in run_id:
        raise LedgerError("run_id %r cannot name a ledger directory" % (run_id,))
    return os.path.join(ledger_dir, run_id)


def _private_directory(path: str) -> None:
    os.makedirs(path, mode=0o700, exist_ok=True)
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o700)


class Ledger:
    """The ledger of one run, as a worker writes it."""

    def __init__(self, ledger_dir: str, run_id: str) -> None:
        self.run_id = run_id
        self.directory = run_directory(os.path.abspath(os.path.expanduser(ledger_dir)), run_id)

    def _append(self, entry: t.Dict[str, t.Any]) -> None:
        line = json.dumps(entry, sort_keys=True, ensure_ascii=True, default=str) + "\n"
        try:
            _private_directory(self.directory)
            fd = os.open(os.path.join(self.directory, LEDGER_FILE), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                written = os.write(fd, line.encode("ascii"))
            finally:
                os.close(fd)
        except OSError as exc:
            raise LedgerError("cannot write the ledger in %s: %s" % (self.directory, exc)) from None
        if written != len(line):
            raise LedgerError("the ledger in %s took %d of %d bytes of a line" % (self.directory, written, len(line)))

    def next_seq(self, host: str) -> int:
        """The host's next sequence number in this run, counted under a lock across the run's workers."""
        try:
            _private_directory(self.directory)
            fd = os.open(os.path.join(self.directory, COUNTERS_FILE), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise LedgerError("cannot count in the ledger in %s: %s" % (self.directory, exc)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+", encoding="utf-8") as handle:
                text = handle.read()
                counters = json.loads(text) if text.strip() else {}
                counters[host] = int(counters.get(host, 0)) + 1
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(counters, sort_keys=True))
            return counters[host]
        except (OSError, ValueError) as exc:
            raise LedgerError("cannot count in the ledger in %s: %s" % (self.directory, exc)) from None
        finally:
            os.close(fd)

    def intent(self, host: str, task: t.Mapping[str, t.Any]) -> int:
        """Notes that a task may now change ``host``; returns the sequence number its record carries."""
        seq = self.next_seq(host)
        entry = {"format": LEDGER_FORMAT, "kind": "intent", "time": now(), "run_id": self.run_id, "host": host, "seq": seq}
        entry.update(task)
        self._append(entry)
        return seq

    def outcome(self, host: str, seq: int, outcome: str, **details: t.Any) -> None:
        if outcome not in OUTCOMES:
            raise ValueError("unknown outcome %r" % (outcome,))
        entry = {"format": LEDGER_FORMAT, "kind": "outcome", "time": now(), "run_id": self.run_id, "host": host,
                 "seq": seq, "outcome": outcome}
        entry.update({key: value for key, value in details.items() if value is not None})
        self._append(entry)


def read_ledger(ledger_dir: str, run_id: str) -> t.List[t.Dict[str, t.Any]]:
    """Every line of a run's ledger; a line cut short (a worker killed while writing) is left out."""
    path = os.path.join(Ledger(ledger_dir, run_id).directory, LEDGER_FILE)
    entries = []
    with open(path, encoding="ascii") as handle:
        for line in handle:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                entries.append(entry)
    return entries


__all__ = [
    "LEDGER_FORMAT",
    "LEDGER_FILE",
    "RECORDED",
    "UNCHANGED",
    "NOT_RECORDED",
    "SKIPPED_BY_POLICY",
    "OUTCOMES",
    "LedgerError",
    "Ledger",
    "run_directory",
    "read_ledger",
]
