# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The notes the hook's workers leave in the run's state directory (one forked worker per task: the controller
process reads them back): which records were written, failed or skipped per host, for the end-of-run summary, and
what the host checks found, so that a later worker does not check a host again."""

from __future__ import annotations

import os
import typing as t

from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._settings import Settings

# The summary's notes: status, host, run_id[, detail].
RECORDS_FILE = "records"
WRITTEN, FAILED, SKIPPED, UNKNOWN = "written", "failed", "skipped", "unknown"
# The host checks' notes: the check's key, then its verdict.
CHECKED_FILE = "checked"


def note(settings: Settings, name: str, *columns: str) -> None:
    """Append one line to a file in the run's state directory (O_APPEND: whole lines from any worker)."""
    if not settings.state_dir:
        return
    line = "\t".join(column.replace("\t", " ").replace("\n", " ") for column in columns) + "\n"
    fd = os.open(os.path.join(settings.state_dir, name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("utf-8", "surrogateescape"))
    finally:
        os.close(fd)


def read_lines(settings: Settings, name: str) -> t.List[t.List[str]]:
    if not settings.state_dir:
        return []
    try:
        with open(os.path.join(settings.state_dir, name), encoding="utf-8", errors="surrogateescape") as handle:
            return [line.rstrip("\n").split("\t") for line in handle]
    except FileNotFoundError:
        return []


def record_counts(settings: Settings) -> t.Dict[str, t.Dict[str, t.Any]]:
    """Per host: {"written": n, "failed": n, "skipped": {why: n}, "unknown": [change], "run_ids": [...]}, from the
    workers' notes; ``unknown`` names each change whose outcome is unknown and has no record."""
    counts: t.Dict[str, t.Dict[str, t.Any]] = {}
    for line in read_lines(settings, RECORDS_FILE):
        if len(line) < 3:
            continue
        status, host, this_run = line[:3]
        entry = counts.setdefault(host, {WRITTEN: 0, FAILED: 0, SKIPPED: {}, UNKNOWN: [], "run_ids": []})
        if status == UNKNOWN:
            entry[UNKNOWN].append(line[3] if len(line) > 3 else "a change")
        elif status == SKIPPED:
            why = line[3] if len(line) > 3 else "policy"
            entry[SKIPPED][why] = entry[SKIPPED].get(why, 0) + 1
        else:
            entry[status] = entry.get(status, 0) + 1
        if this_run not in entry["run_ids"]:
            entry["run_ids"].append(this_run)
    return counts


__all__ = ["RECORDS_FILE", "WRITTEN", "FAILED", "SKIPPED", "UNKNOWN", "CHECKED_FILE", "note", "read_lines", "record_counts"]
