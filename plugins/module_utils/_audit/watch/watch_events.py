# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The watched events of a host (watch_events_info): the kernel's records of every write on an object the watch
covers, and whether the watch held over a time span.

One pass over the log and its rotations (only those that reach the span) collects the events and the rule and
daemon changes (scan.py); the baseline and the kernel's state now say whether the watch held (unwatched.py).
"""

from __future__ import annotations

import os
import time

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError, AuditInvalidInputError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.logfiles import files_since, first_event_time, log_files
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.reader import configured_log_file
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.timespec import time_range
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.event import iso_epoch
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.scan import DEFAULT_MAX_EVENTS, WatchScan
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.unwatched import span, unwatched_spans
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.watch import STATE_FILE, WATCH_KEY, boot_id, check_key, read_state, watched_by_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


def _related(obj: t.Any, paths: t.Sequence[str]) -> bool:
    if not isinstance(obj, str) or not obj.startswith("/"):
        return False
    obj = os.path.normpath(obj)
    return any(obj == path or obj.startswith(path.rstrip("/") + "/") or path.startswith(obj.rstrip("/") + "/")
               for path in paths)


def _watched_now(paths: t.Iterable[str]) -> t.List[t.Dict[str, t.Any]]:
    found = []
    for path in paths:
        try:
            info = os.lstat(path)
        except OSError:
            found.append({"path": path, "exists": False, "inode": None, "dev": None})
            continue
        found.append({"path": path, "exists": True, "inode": info.st_ino,
                      "dev": "%02x:%02x" % (os.major(info.st_dev), os.minor(info.st_dev))})
    return found


def _kernel_now(key: str) -> t.Tuple[t.Optional[t.Dict[str, int]], t.Optional[t.Dict[str, int]], t.Optional[str]]:
    from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.netlink import query_rules, query_status

    try:
        return query_status(), watched_by_key(query_rules(), key), None
    except AuditError as exc:
        return None, None, str(exc)


def read_watch_events(params: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The watch_events_info result for its options (see the module's DOCUMENTATION); raises AuditError."""
    key = check_key(params.get("key") or WATCH_KEY)
    now = time.time()
    start, end = time_range(params.get("since") or "-24h", params.get("until"), now)
    if start is None:
        raise AuditInvalidInputError("since is required", hint="Give a time such as -24h")
    end = now if end is None else end
    path = params.get("path") or configured_log_file()
    files = log_files(path, params.get("include_rotated", True))
    files = files_since(files, start)
    max_events = params.get("max_events")
    scan = WatchScan(key, start, end, DEFAULT_MAX_EVENTS if max_events is None else int(max_events))
    read = []
    for name in files:
        before = os.path.exists(name)
        scan.read(name)
        if before:
            read.append(name)
    log_start = first_event_time(read[0]) if read else None
    live = params.get("live", True)
    state = read_state(params.get("state_file") or STATE_FILE) if live else None
    status = rules = None
    kernel_error = None
    if live:
        status, rules, kernel_error = _kernel_now(key)
    spans = unwatched_spans(start, end, state, scan.changes, log_start, rules, status, key, now, boot_id()) if live else []
    if kernel_error:
        spans.append(span(start, end, "the kernel's audit state could not be read: %s" % kernel_error))
    if scan.truncated:
        spans.append(span(start, end, "more than %d watched events: the rest were not read (max_events)" % scan.max_events))
    paths = list((state or {}).get("paths") or [])
    records = scan.records
    if paths:
        # Only the changes that can explain a write on a watched object: on it, under a watched directory, or on a
        # directory that holds one. A busy host records far more than it watches.
        # Or on a name an event wrote (a link to a watched file that a change manages).
        written = set()
        for event in scan.events:
            for item in event["paths"]:
                name = item.get("name")
                if name and item.get("nametype") != "PARENT":
                    written.add(os.path.normpath(os.path.join(event.get("cwd") or "/", name)))
        records = [record for record in records if _related(record.get("object"), paths)
                   or isinstance(record.get("object"), str) and os.path.normpath(record["object"]) in written]
    return {
        "changed": False,
        "key": key,
        "since": start, "until": end,
        "since_time": iso_epoch(start), "until_time": iso_epoch(end),
        "events": scan.events,
        "records": records,
        "rule_changes": scan.changes,
        "unwatched": spans,
        "watched": spans == [],
        "baseline": None if state is None else {
            name: state.get(name) for name in ("installed", "count", "lost", "boot_id", "rules_sha256", "rules_file")},
        "watched_paths": _watched_now(paths) if live else [],
        "status": None if status is None else {"enabled": status.get("enabled"), "lost": status.get("lost")},
        "rules_loaded": None if rules is None else len(rules),
        "files": read,
        "log_file": path,
        "truncated": scan.truncated,
    }


__all__ = [
    "read_watch_events",
]
