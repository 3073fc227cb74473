# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Changes made outside Ansible: every write the watch saw on a host, explained by a recorded change of the collection
or named as out of band, and the report an auditor reads and a pipeline gates on.

A write is ``explained`` by a record of the collection read on the same host when all of these hold:

- the object: the write's path (a PATH record's name, made absolute with the event's CWD) is the record's object or
  lies under it (a directory the change managed), or the process that made the explained write made it, within the
  same change, in the object's directory (Ansible's temp file, renamed over the object; a backup copy);
- the session: the event's ``ses`` and ``auid`` are the record's (the login the change ran under);
- the time: between the start of the change and its record. The start is the change's intent in the run's ledger
  when the ledger is at hand (no earlier than ``max_window`` before the record), else ``window`` seconds before the
  record; the intent widened by ``clock_skew`` (the ledger is stamped by the controller's clock, records and writes by the host's).

Every other successful write is ``out_of_band``, with who (auid and uid with names, ses, tty), how (exe, comm,
proctitle), when and what (path, watched object, syscall). A refused write (the kernel said no) is ``denied``. A host
or a time span in which the watch did not hold (unwatched.unwatched_spans) is "not watched": never clean.

Written (``write_report``) in the formats of ``_report.REPORT_FORMATS``: drift.json, drift.csv, junit.xml (a
failing case per out-of-band write) and drift.html (one page, no external asset); times are UTC.
"""

from __future__ import annotations

import datetime
import os
import posixpath
import typing as t

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._drift_rows import DENIED, EXPLAINED, OUT_OF_BAND, STATUSES
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report import DRIFT, open_report_directory, write_formats

DRIFT_FORMAT = 1
DEFAULT_WINDOW = 300.0
DEFAULT_MAX_WINDOW = 3600.0
DEFAULT_CLOCK_SKEW = 2.0
UNSET_ID = 4294967295

# The drift_report action's options (the docs-only module plugins/modules/drift_report.py describes them).
DRIFT_ARGUMENT_SPEC: t.Dict[str, t.Dict[str, t.Any]] = dict(
    report_dir={"type": "path"},
    hosts={"type": "list", "elements": "str", "default": []},
    events_var={"type": "str", "default": "changeaudit_drift_events"},
    ledger_dir={"type": "path"},
    window={"type": "float", "default": DEFAULT_WINDOW},
    max_window={"type": "float", "default": DEFAULT_MAX_WINDOW},
    clock_skew={"type": "float", "default": DEFAULT_CLOCK_SKEW},
    fail_on_drift={"type": "bool", "default": True},
)


def utc(epoch: t.Any) -> t.Optional[str]:
    if not isinstance(epoch, (int, float)):
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat(timespec="milliseconds")


def _norm(path: t.Optional[str], cwd: t.Optional[str] = None) -> t.Optional[str]:
    if not path:
        return None
    if not path.startswith("/"):
        if not cwd or not cwd.startswith("/"):
            return None
        path = posixpath.join(cwd, path)
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/")


def _within(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def event_targets(event: t.Mapping[str, t.Any]) -> t.List[str]:
    """The absolute names of what the event wrote: its PATH records but the directories written through (PARENT)."""
    found = []
    for item in event.get("paths") or []:
        if item.get("nametype") == "PARENT":
            continue
        name = _norm(item.get("name"), event.get("cwd"))
        if name and name not in found:
            found.append(name)
    return found


def primary_path(event: t.Mapping[str, t.Any], inode_names: t.Mapping[int, str]) -> t.Optional[str]:
    """The one path a reader is shown: what a rename created, else the first name written; by inode when the call
    named no path (fchown, fsetxattr on a descriptor)."""
    items = [item for item in event.get("paths") or [] if item.get("nametype") != "PARENT"]
    for wanted in ("CREATE", None):
        for item in items:
            if wanted is None or item.get("nametype") == wanted:
                name = _norm(item.get("name"), event.get("cwd"))
                if name:
                    return name
    for item in items:
        if item.get("inode") in inode_names:
            return inode_names[item["inode"]]
    return None


def watched_object(event: t.Mapping[str, t.Any], path: t.Optional[str], watched: t.Sequence[str],
                   inode_watched: t.Mapping[int, str]) -> t.Optional[str]:
    """The watched path the write is on: the path itself or the watched directory it lies in, else the watched file
    of the same inode (a write through a hard link or a symlink elsewhere)."""
    if path:
        best = None
        for top in watched:
            if _within(path, top) and (best is None or len(top) > len(best)):
                best = top
        if best:
            return best
    for item in event.get("paths") or []:
        if item.get("nametype") != "PARENT" and item.get("inode") in inode_watched:
            return inode_watched[item["inode"]]
    return None


def _same_login(event: t.Mapping[str, t.Any], record: t.Mapping[str, t.Any]) -> bool:
    return event.get("ses") == record.get("ses") and event.get("auid") == record.get("auid")


class Change(t.NamedTuple):
    record: t.Mapping[str, t.Any]
    obj: str
    start: float
    end: float
    intent_from: str


def changes_of(records: t.Sequence[t.Mapping[str, t.Any]], intents: t.Mapping[t.Tuple[str, str, str], float],
               window: float, max_window: float, clock_skew: float) -> t.List[Change]:
    found = []
    for record in records:
        obj = _norm(record.get("object"))
        stamp = record.get("timestamp")
        if not obj or not isinstance(stamp, (int, float)) or record.get("result") == "failed":
            continue
        intent = intents.get((str(record.get("run_id")), str(record.get("task_id")), str(record.get("seq"))))
        # The record and the writes are stamped by the host's clock, the intent by the controller's.
        if intent is not None:
            start, source = max(intent - clock_skew, stamp - max_window), "ledger"
        else:
            start, source = stamp - window, "window"
        found.append(Change(record, obj, start, stamp, source))
    return found


def classify_host(host: str, read: t.Mapping[str, t.Any], intents: t.Mapping[t.Tuple[str, str, str], float],
                  window: float = DEFAULT_WINDOW, max_window: float = DEFAULT_MAX_WINDOW,
                  clock_skew: float = DEFAULT_CLOCK_SKEW) -> t.List[t.Dict[str, t.Any]]:
    """The rows of one host's events: each explained, out of band or denied."""
    events = sorted(read.get("events") or [], key=lambda event: (event.get("timestamp") or 0, event.get("serial") or 0))
    changes = changes_of(read.get("records") or [], intents, window, max_window, clock_skew)
    watched = [item["path"] for item in read.get("watched_paths") or [] if item.get("path")]
    for path in (read.get("baseline") or {}).get("paths") or []:
        if path not in watched:
            watched.append(path)
    inode_watched = {item["inode"]: item["path"] for item in read.get("watched_paths") or [] if item.get("inode") is not None}
    inode_names: t.Dict[int, str] = {}
    for event in events:
        for item in event.get("paths") or []:
            name = _norm(item.get("name"), event.get("cwd"))
            if name and item.get("inode") is not None and item.get("nametype") != "PARENT":
                # The name a watched object has wins over a temp file's that shared the inode for a moment.
                if item["inode"] not in inode_names or any(_within(name, top) for top in watched):
                    inode_names[item["inode"]] = name
    for inode, path in list(inode_watched.items()):
        inode_names.setdefault(inode, path)
    # An inode a watched name had at any time in the span (a file replaced by rename has had several): a write
    # through a hard link or a symlink to it is on that object.
    for event in events:
        for item in event.get("paths") or []:
            name = _norm(item.get("name"), event.get("cwd"))
            if name and item.get("inode") is not None and item.get("nametype") != "PARENT":
                top = watched_object({"paths": []}, name, watched, {})
                if top is not None:
                    inode_watched.setdefault(item["inode"], top)
    spans = read.get("unwatched") or []
    rows = []
    explained_by_pid: t.Dict[int, t.List[Change]] = {}
    pending = []
    for event in events:
        path = primary_path(event, inode_names)
        row = _row(host, event, path, watched_object(event, path, watched, inode_watched), spans)
        if not event.get("success"):
            row.update(status=DENIED, reason="the kernel refused the call (exit %s)" % event.get("exit"))
            rows.append(row)
            continue
        targets = event_targets(event) or ([path] if path else [])
        stamp = event.get("timestamp") or 0
        match = None
        for change in changes:
            if change.start <= stamp <= change.end and _same_login(event, change.record) and any(
                    _within(target, change.obj) for target in targets):
                match = change
                break
        if match is not None:
            _explain(row, match, "its path is the object of the change, in the change's session and time")
            explained_by_pid.setdefault(event.get("pid"), []).append(match)
        else:
            pending.append((row, event, targets))
        rows.append(row)
    for row, event, targets in pending:
        stamp = event.get("timestamp") or 0
        match = None
        for change in explained_by_pid.get(event.get("pid"), ()):
            folder = posixpath.dirname(change.obj)
            if change.start <= stamp <= change.end and _same_login(event, change.record) and targets and all(
                    _within(target, change.obj) or posixpath.dirname(target) == folder for target in targets):
                match = change
                break
        if match is not None:
            _explain(row, match, "the process that wrote the change's object, within the change, in the object's directory "
                                 "(a temp file renamed over it, or a backup)")
        else:
            row.update(status=OUT_OF_BAND, reason=_why_not(event, targets, changes))
    return rows


def _why_not(event: t.Mapping[str, t.Any], targets: t.Sequence[str], changes: t.Sequence[Change]) -> str:
    stamp = event.get("timestamp") or 0
    on_object = [change for change in changes if any(_within(target, change.obj) for target in targets)]
    if not on_object:
        return "no recorded change of the collection on this object"
    timely = [change for change in on_object if change.start <= stamp <= change.end]
    if not timely:
        return "no recorded change of this object at that time"
    return "a recorded change of this object ran then, in another session (ses %s, auid %s)" % (
        timely[0].record.get("ses", "unset") if timely[0].record.get("ses") is not None else "unset",
        timely[0].record.get("auid"))


def _explain(row: t.Dict[str, t.Any], change: Change, why: str) -> None:
    record = change.record
    row.update(status=EXPLAINED, reason=why, explained_by={
        "run_id": record.get("run_id"), "task_id": record.get("task_id"), "seq": record.get("seq"),
        "module": record.get("module"), "object": record.get("object"), "record_serial": record.get("serial"),
        "record_time": record.get("time"), "start": utc(change.start), "start_from": change.intent_from,
    })


def _row(host: str, event: t.Mapping[str, t.Any], path: t.Optional[str], obj: t.Optional[str],
         spans: t.Sequence[t.Mapping[str, t.Any]]) -> t.Dict[str, t.Any]:
    stamp = event.get("timestamp") or 0
    return {
        "host": host, "time": event.get("time"), "timestamp": stamp, "serial": event.get("serial"),
        "event_id": event.get("event_id"), "status": None, "action": event.get("action"), "syscall": event.get("syscall"),
        "success": event.get("success"), "path": path, "object": obj,
        "paths": [{"name": item.get("name"), "nametype": item.get("nametype"), "inode": item.get("inode")}
                  for item in event.get("paths") or []],
        "auid": event.get("auid"), "auid_name": event.get("auid_name"), "uid": event.get("uid"),
        "uid_name": event.get("uid_name"), "ses": event.get("ses") if event.get("ses") is not None else "unset",
        "tty": event.get("tty"), "pid": event.get("pid"), "exe": event.get("exe"), "comm": event.get("comm"),
        "proctitle": event.get("proctitle"), "cwd": event.get("cwd"), "explained_by": None,
        "in_unwatched_span": any(span.get("start", 0) <= stamp <= span.get("end", 0) for span in spans), "reason": None,
    }


def classify(reads: t.Mapping[str, t.Mapping[str, t.Any]], intents: t.Mapping[t.Tuple[str, str, str], float],
             window: float = DEFAULT_WINDOW, max_window: float = DEFAULT_MAX_WINDOW,
             clock_skew: float = DEFAULT_CLOCK_SKEW, generated: t.Optional[str] = None) -> t.Dict[str, t.Any]:
    """The drift report. ``reads``: host -> {"reachable": bool, "error": str, "result": what watch_events_info
    returned there}. ``intents``: (run_id, task_id, seq) -> the epoch time of the change's intent in its ledger."""
    rows: t.List[t.Dict[str, t.Any]] = []
    hosts: t.Dict[str, t.Dict[str, t.Any]] = {}
    for host in sorted(reads):
        read = reads[host]
        result = read.get("result") or {}
        if not read.get("reachable", True) or not result:
            hosts[host] = {"watched": False, "error": read.get("error") or "the host's watched events were not read",
                           "unwatched": [{"start": None, "end": None, "start_time": None, "end_time": None,
                                          "reason": read.get("error") or "the host's watched events were not read"}],
                           "events": 0, "explained": 0, "out_of_band": 0, "denied": 0, "records": 0,
                           "since": None, "until": None, "watched_paths": []}
            continue
        host_rows = classify_host(host, result, intents, window, max_window, clock_skew)
        rows.extend(host_rows)
        counts = {status: 0 for status in STATUSES}
        for row in host_rows:
            counts[row["status"]] += 1
        spans = list(result.get("unwatched") or [])
        hosts[host] = dict(counts, watched=not spans, error=None, unwatched=spans, events=len(host_rows),
                           records=len(result.get("records") or []), since=result.get("since_time"),
                           until=result.get("until_time"),
                           watched_paths=[item.get("path") for item in result.get("watched_paths") or []])
    summary = {status: sum(1 for row in rows if row["status"] == status) for status in STATUSES}
    summary.update(hosts=len(hosts), events=len(rows), not_watched_hosts=sum(1 for about in hosts.values() if not about["watched"]),
                   unwatched_spans=sum(len(about["unwatched"]) for about in hosts.values()))
    return {
        "format": DRIFT_FORMAT,
        "generated": generated or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "verdict": verdict_text(summary, hosts),
        "summary": summary,
        "hosts": hosts,
        "events": rows,
    }


def verdict_text(summary: t.Mapping[str, int], hosts: t.Mapping[str, t.Mapping[str, t.Any]]) -> str:
    parts = []
    if summary[OUT_OF_BAND]:
        parts.append("%d write%s made outside Ansible" % (summary[OUT_OF_BAND], "" if summary[OUT_OF_BAND] == 1 else "s"))
    unwatched = sorted(host for host, about in hosts.items() if not about["watched"])
    if unwatched:
        more = " and %d more" % (len(unwatched) - 20) if len(unwatched) > 20 else ""
        parts.append("not watched for all of the span: %s%s" % (", ".join(unwatched[:20]), more))
    if parts:
        return "Not clean: " + "; ".join(parts) + "."
    return "Every write on a watched object was explained by a recorded change (%d write%s, %d host%s watched throughout)." % (
        summary[EXPLAINED], "" if summary[EXPLAINED] == 1 else "s", summary["hosts"], "" if summary["hosts"] == 1 else "s")


def write_report(drift: t.Mapping[str, t.Any], directory: str) -> t.Dict[str, str]:
    """The report's files, each made fresh (_report.write_fresh: a new temp name renamed over the old); a directory
    that is a symlink or not the controller user's is refused. Returns file name -> sha256."""
    directory = os.path.abspath(directory)
    dir_fd = open_report_directory(directory, "drift report")
    try:
        if os.fstat(dir_fd).st_uid != os.geteuid():
            raise AnsibleError("cannot write the drift report into %s: it is not the controller user's directory; name "
                               "a directory of your own as report_dir" % directory)
        sums = write_formats(DRIFT, drift, dir_fd, directory)
        os.fsync(dir_fd)
    except OSError as exc:
        raise AnsibleError("cannot write the drift report into %s: %s" % (directory, exc.strerror or exc)) from None
    finally:
        os.close(dir_fd)
    return sums


__all__ = [
    "DRIFT_FORMAT",
    "DEFAULT_WINDOW",
    "DEFAULT_MAX_WINDOW",
    "DEFAULT_CLOCK_SKEW",
    "DRIFT_ARGUMENT_SPEC",
    "event_targets",
    "primary_path",
    "watched_object",
    "changes_of",
    "classify_host",
    "classify",
    "verdict_text",
    "write_report",
]
