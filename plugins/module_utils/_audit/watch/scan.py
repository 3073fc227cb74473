# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The scan of the log for the watch's events: one pass over each file, in large chunks (``bytes.find`` of the key).

A SYSCALL line holding the key opens an event; its other records (CWD, PATH, PROCTITLE: the kernel emits them right
after the SYSCALL record, PROCTITLE last) are found by the event's ``audit(TIME:SERIAL)`` stamp just after it. The
key is the SYSCALL record's own key= field, never text elsewhere on the line. The same pass takes the CONFIG_CHANGE
records (rules added or removed, auditing switched off), auditd's DAEMON_START/END/ABORT and the collection's
own USYS_CONFIG records.
"""

from __future__ import annotations

import errno as _errno
import operator
import re

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.logfiles import CHUNK_SIZE, open_error, whole_lines
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.logline import UNSET_ID, parse_line
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.event import (
    ENRICHED_NAMES,
    Names,
    add_companion,
    decode_field,
    iso_time,
    kernel_fields,
    new_event,
    process_entry,
    proctitle_text,
    to_int,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.watch import WATCH_KEY

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

# The other records of an event follow its SYSCALL record closely; a record further than this is not looked for.
COMPANION_WINDOW = 256 * 1024
DEFAULT_MAX_EVENTS = 100000
_STAMP = re.compile(rb"msg=audit\((\d+)\.(\d+):(\d+)\): ")
_TYPE = re.compile(rb"(?:node=[^ ]+ )?type=([A-Z_0-9]+) msg=audit\(")
# The kernel writes a SYSCALL record's fields in this order (kernel/auditsc.c audit_log_exit, audit_log_task_info);
# a line that does not match is read field by field instead.
_SYSCALL_FAST = re.compile(
    rb"(?:node=([^ ]+) )?type=SYSCALL msg=audit\((\d+)\.(\d+):(\d+)\): arch=([0-9a-f]+) syscall=(\d+) "
    rb"(?:success=([a-z]+) exit=(-?\d+) )?a0=[0-9a-f]+ a1=([0-9a-f]+) a2=([0-9a-f]+) a3=[0-9a-f]+ items=\d+ "
    rb"ppid=(\d+) pid=(\d+) auid=(\d+) uid=(\d+) gid=(\d+) euid=(\d+) suid=\d+ fsuid=\d+ egid=\d+ sgid=\d+ "
    rb"fsgid=\d+ tty=([^ ]+) ses=(\d+) comm=([^ ]+) exe=([^ \x1d]+)(?: [^ \x1d]+)*? key=([^ \x1d]+)(?:\x1d(.*))?\Z",
    re.S)
# The usual event: the SYSCALL record and right after it the event's other records, PROCTITLE last, in one match.
# Only what an event's entry holds is captured: each group is an object made per event of a busy day.
_EVENT_FAST = re.compile(
    rb"(?:node=([^ ]+) )?type=SYSCALL msg=audit\(((\d+)\.(\d+):(\d+))\): arch=([0-9a-f]+) syscall=(\d+) "
    rb"(?:success=([a-z]+) exit=(-?\d+) )?a0=[^ \n]+ a1=[^ \n]+ a2=[^ \n]+ a3=[^ \n]+ items=[^ \n]+ "
    rb"ppid=[^ \n]+ pid=(\d+) (auid=\d+ uid=\d+ gid=[^ \n]+ euid=[^ \n]+ suid=[^ \n]+ fsuid=[^ \n]+ egid=[^ \n]+ sgid=[^ \n]+ "
    rb"fsgid=[^ \n]+ tty=[^ ]+ ses=\d+ comm=[^ ]+ exe=[^ \x1d\n]+)(?: [^ \x1d\n]+)*? key=([^ \x1d\n]+)"
    rb"(?:\x1d([^\n]*))?\n"
    rb"((?:(?:node=[^ ]+ )?type=(?!PROCTITLE )[A-Z_0-9]+ msg=audit\(\2\): [^\n]*\n)*)"
    rb"(?:node=[^ ]+ )?type=PROCTITLE msg=audit\(\2\): proctitle=([^ \x1d\n]+)")
# Within an event's block (whole lines of one stamp, from the newline before it): its CWD record and PATH records.
# A record starts after a newline; the newline, a literal, lets the search skip to each line in C.
_BLOCK_ITEMS = re.compile(rb"\n(?:node=[^ ]+ )?type=(?:CWD msg=audit\([^)]*\): cwd=([^ \x1d\n]+)|"
                          rb"PATH msg=audit\([^)]*\): item=(\d+) name=([^ \n]+) "
                          rb"(?:inode=(\d+) dev=([^ ]+) mode=([^ ]+) ouid=(\d+) ogid=\d+ rdev=[^ ]+ (?:[a-z_]+=[^ ]+ )*?)?"
                          rb"nametype=([A-Z_]+))")
_SYSCALL_FAST_NAMES = ("arch", "syscall", "success", "exit", "a1", "a2", "ppid", "pid", "auid", "uid", "gid", "euid",
                       "tty", "ses", "comm", "exe", "key")
_COMPANION = re.compile(rb"(?:node=[^ ]+ )?type=(CWD|PATH|PROCTITLE)")
_PATH_FAST = re.compile(rb"item=(\d+) name=([^ ]+) (?:inode=(\d+) dev=([^ ]+) mode=([^ ]+) ouid=(\d+) [^\x1d]*?)?"
                        rb"nametype=([A-Z_]+)")
# One search finds the five line types: the pattern's literal start lets the regex engine skip to each "type=" in C,
# faster than a bytes.find per type over every chunk; these lines are rare.
_LINE_SEARCH = re.compile(rb"type=(?:CONFIG_CHANGE|USYS_CONFIG|DAEMON_START|DAEMON_END|DAEMON_ABORT) msg=audit\(")
_LINE_TYPES = {b"CONFIG_CHANGE": b"type=CONFIG_CHANGE msg=audit(", b"USYS_CONFIG": b"type=USYS_CONFIG msg=audit(",
               b"DAEMON_START": b"type=DAEMON_START msg=audit(", b"DAEMON_END": b"type=DAEMON_END msg=audit(",
               b"DAEMON_ABORT": b"type=DAEMON_ABORT msg=audit("}
_LINE_TYPE = re.compile(rb"(?:node=[^ ]+ )?type=(CONFIG_CHANGE|USYS_CONFIG|DAEMON_START|DAEMON_END|DAEMON_ABORT) msg=audit\(")
_YEAR_10000 = 253402300800
# A cache's answer for a value not read yet (None is a value's text too).
_UNMADE = object()
# Entries of each per-run cache of decoded values before it starts over (bounds its memory on a host of many names).
_TEXT_CACHE = 50000


def _stamp(line: bytes) -> t.Optional[t.Tuple[int, str, int]]:
    match = _STAMP.search(line)
    if match is None:
        return None
    return int(match.group(1)), match.group(2).decode("ascii"), int(match.group(3))


def _stamp_bytes(stamp: t.Tuple[int, str, int]) -> bytes:
    return ("audit(%d.%s:%d): " % stamp).encode("ascii")


class WatchScan:
    """One pass over log files collecting the watch's events and what says whether the watch held."""

    def __init__(self, key: str = WATCH_KEY, start: t.Optional[float] = None, end: t.Optional[float] = None,
                 max_events: int = DEFAULT_MAX_EVENTS, chunk_size: int = CHUNK_SIZE) -> None:
        self.key = key
        self.start = start
        self.end = end
        self.max_events = max_events
        self.chunk_size = chunk_size
        self.needles = [(' key="%s"' % key).encode("ascii"), key.encode("ascii").hex().upper().encode("ascii")]
        self._quoted_key = '"%s"' % key
        self._quoted_key_bytes = self._quoted_key.encode("ascii")
        self.events: t.List[t.Dict[str, t.Any]] = []
        self.truncated = False
        self.changes: t.List[t.Dict[str, t.Any]] = []
        self.records: t.List[t.Dict[str, t.Any]] = []
        self.names = Names()
        self._pending: t.Dict[bytes, t.Dict[str, t.Any]] = {}
        self._seen: t.Set[str] = set()
        self._texts: t.Dict[bytes, str] = {}
        self._proctitles: t.Dict[bytes, t.Optional[str]] = {}
        self._items: t.Dict[t.Tuple[bytes, ...], t.Dict[str, t.Any]] = {}
        self._whos: t.Dict[t.Tuple[t.Any, ...], t.Dict[str, t.Any]] = {}
        self._low = float("-inf") if start is None else start
        self._high = float("inf") if end is None else end + 1

    def in_time(self, stamp: float) -> bool:
        return (self.start is None or stamp >= self.start) and (self.end is None or stamp <= self.end + 1)

    def read(self, path: str) -> None:
        try:
            handle = open(path, "rb", buffering=0)
        except OSError as exc:
            if exc.errno == _errno.ENOENT:
                return
            raise open_error(path, exc) from None
        with handle:
            self._scan(handle)
        self._pending.clear()
        # Each needle is searched on its own: the log's order back.
        order = operator.itemgetter("timestamp", "serial")
        self.events.sort(key=order)
        self.changes.sort(key=order)
        self.records.sort(key=order)

    def _scan(self, handle: t.BinaryIO) -> None:
        for buf, begin, end in whole_lines(handle, self.chunk_size):
            self._chunk(buf, begin, end)

    def _chunk(self, buf: bytearray, begin: int, stop: int) -> None:
        find = buf.find
        if self._pending:
            # Events whose last records were beyond the previous chunk's end.
            for stamp_bytes, event in list(self._pending.items()):
                self._companions(buf, begin, min(stop, begin + COMPANION_WINDOW), stamp_bytes, event)
                del self._pending[stamp_bytes]
        rfind, whole_match, whole_event = buf.rfind, _EVENT_FAST.match, self._whole_event
        for needle in self.needles:
            pos = find(needle, begin, stop)
            while pos >= 0:
                line_start = rfind(b"\n", begin, pos) + 1 or begin
                line_end = find(b"\n", pos, stop)
                if line_end < 0:
                    line_end = stop
                # The usual event in one match, else record by record.
                limit = line_end + COMPANION_WINDOW
                whole = whole_match(buf, line_start, limit if limit < stop else stop)
                if whole is None or not whole_event(buf, whole):
                    self._syscall(buf, line_start, line_end, stop)
                pos = find(needle, line_end, stop)
        seen_lines = set()
        for found in _LINE_SEARCH.finditer(buf, begin, stop):
            pos = found.start()
            line_start = rfind(b"\n", begin, pos) + 1 or begin
            line_end = find(b"\n", pos, stop)
            if line_end < 0:
                line_end = stop
            # Only the record type at the line's start (after node=) counts, not the text in a value.
            kind = _LINE_TYPE.match(buf, line_start, line_end)
            if kind is not None and line_start not in seen_lines:
                seen_lines.add(line_start)
                self._other(buf, line_start, line_end, _LINE_TYPES[kind.group(1)], stop)

    def _syscall(self, buf: bytearray, line_start: int, line_end: int, stop: int) -> None:
        """A SYSCALL line holding a needle that _EVENT_FAST did not take whole: read record by record."""
        line = bytes(buf[line_start:line_end])
        fast = _SYSCALL_FAST.match(line)
        if fast is not None:
            node_b, seconds_b, millis_b, serial_b = fast.group(1, 2, 3, 4)
            stamp = (int(seconds_b), millis_b.decode("ascii"), int(serial_b))
        else:
            match = _TYPE.match(line)
            if match is None or match.group(1) != b"SYSCALL":
                return
            stamp = _stamp(line)
            if stamp is None:
                return
            node_b = line[5:line.index(b" ")] if line.startswith(b"node=") else None
        if not self.in_time(float("%d.%s" % (stamp[0], stamp[1]))):
            return
        if fast is not None:
            fields = dict(zip(_SYSCALL_FAST_NAMES, (None if value is None else value.decode("utf-8", "surrogateescape")
                                                    for value in fast.groups()[4:21])))
            enriched = {}
            if fast.group(22):
                for name, value in ENRICHED_NAMES.findall(fast.group(22)):
                    enriched[name.decode("ascii")] = value.decode("utf-8", "surrogateescape").strip('"')
        else:
            _type_name, fields, enriched = kernel_fields(line)
        key = fields.get("key")
        if key != self._quoted_key and self.key not in (decode_field("key", key) or "").split("\x01"):
            return
        event_id = "%d.%s:%d" % stamp
        if event_id in self._seen:
            return
        self._seen.add(event_id)
        if len(self.events) >= self.max_events:
            self.truncated = True
            return
        node = node_b.decode("utf-8", "surrogateescape") if node_b else None
        event = new_event(stamp, fields, enriched, self.names, node)
        self.events.append(event)
        stamp_bytes = _stamp_bytes(stamp)
        limit = min(stop, line_end + COMPANION_WINDOW)
        self._companions(buf, line_end, limit, stamp_bytes, event)
        if not event["complete"] and limit == stop:
            self._pending[stamp_bytes] = event

    def _whole_event(self, buf: bytearray, match: t.Match[bytes]) -> bool:
        """An event matched at once (_EVENT_FAST); False leaves it to the record-by-record reading.

        The day's busiest path (every watched event of a host): the event is built straight from the match's groups,
        the same dict new_event builds. A host repeats its processes, users and files all day: the text of a value
        is made once per run (_text), and so are the call, names, session and process of a SYSCALL record (_who)."""
        node, stamp, seconds, millis, serial, arch, number, success, exit_code, pid, process, key, enriched, block, \
            proctitle = match.groups()
        if key != self._quoted_key_bytes and self.key not in (
                decode_field("key", key.decode("utf-8", "surrogateescape")) or "").split("\x01"):
            return True
        timestamp = float(seconds + b"." + millis)
        if timestamp < self._low or timestamp > self._high:
            return True
        event_id = stamp.decode("ascii")
        seen = self._seen
        if event_id in seen:
            return True
        seen.add(event_id)
        events = self.events
        if len(events) >= self.max_events:
            self.truncated = True
            return True
        who = self._whos.get((arch, number, process, enriched))
        if who is None:
            who = self._who(arch, number, process, enriched)
        title = self._proctitles.get(proctitle, _UNMADE)
        if title is _UNMADE:
            title = self._proctitle(proctitle)
        # The entry's keys in new_event's order, from the process's entry made once (_who).
        event = who.copy()
        event["timestamp"] = timestamp
        event["time"] = iso_time(int(seconds), millis.decode("ascii"))
        event["serial"] = int(serial)
        event["event_id"] = event_id
        if node:
            event["node"] = node.decode("utf-8", "surrogateescape")
        event["success"] = success == b"yes"
        event["exit"] = int(exit_code) if exit_code is not None else None
        event["pid"] = int(pid)
        event["proctitle"] = title
        event["paths"] = paths = []
        if block:
            items = self._items
            seen_cwd = False
            for cwd, item, name, inode, dev, mode, ouid, nametype in _BLOCK_ITEMS.findall(buf, match.start(14) - 1,
                                                                                          match.end(14)):
                if cwd:
                    if not seen_cwd:
                        # The first CWD record, as the record-by-record reading takes it.
                        event["cwd"] = self._texts.get(cwd) or self._text(cwd, "cwd")
                        seen_cwd = True
                    continue
                # The same file by the same owner all day: its item made once, copied with this event's item and inode.
                made = items.get((name, dev, mode, ouid, nametype))
                if made is None:
                    made = self._item(name, dev, mode, ouid, nametype)
                made = made.copy()
                made["item"] = int(item)
                made["inode"] = int(inode) if inode else None
                paths.append(made)
        events.append(event)
        return True

    def _text(self, value: bytes, name: str = "") -> t.Optional[str]:
        """A value's text as decode_field gives it, kept for the next event that logs the same bytes."""
        decoded = decode_field(name, value.decode("utf-8", "surrogateescape"))
        if decoded:
            if len(self._texts) > _TEXT_CACHE:
                self._texts.clear()
            self._texts[value] = decoded
        return decoded

    def _item(self, name: bytes, dev: bytes, mode: bytes, ouid: bytes, nametype: bytes) -> t.Dict[str, t.Any]:
        """A PATH record's entry but its item and inode (the keys in the order add_companion makes them)."""
        made = {"item": None, "name": self._texts.get(name) or self._text(name, "name"),
                "nametype": nametype.decode("ascii", "surrogateescape"), "inode": None,
                "dev": dev.decode("ascii", "surrogateescape") if dev else None,
                "mode": mode.decode("ascii", "surrogateescape") if mode else None, "ouid": int(ouid) if ouid else None}
        if len(self._items) > _TEXT_CACHE:
            self._items.clear()
        self._items[(name, dev, mode, ouid, nametype)] = made
        return made

    def _proctitle(self, value: bytes) -> t.Optional[str]:
        cache = self._proctitles
        if len(cache) > _TEXT_CACHE:
            cache.clear()
        found = cache[value] = proctitle_text(value.decode("ascii", "surrogateescape"))
        return found

    def _who(self, arch: bytes, number: bytes, process: bytes, enriched: t.Optional[bytes]) -> t.Dict[str, t.Any]:
        """process_entry, kept for the run."""
        who = process_entry(arch, number, process, enriched, self.names)
        if len(self._whos) > _TEXT_CACHE:
            self._whos.clear()
        self._whos[(arch, number, process, enriched)] = who
        return who

    def _companions(self, buf: bytearray, begin: int, limit: int, stamp_bytes: bytes, event: t.Dict[str, t.Any]) -> None:
        find = buf.find
        wanted = b"msg=" + stamp_bytes
        pos = find(stamp_bytes, begin, limit)
        while pos >= 0:
            line_start = buf.rfind(b"\n", begin, pos) + 1 or begin
            line_end = find(b"\n", pos, limit)
            if line_end < 0:
                line_end = limit
            line = bytes(buf[line_start:line_end])
            match = _COMPANION.match(line)
            # The stamp where the record's own stamp is, not inside a value.
            if match is not None and line.startswith(wanted, match.end(1) + 1):
                rest = match.end(1) + 1 + len(wanted)
                kind = match.group(1)
                if kind == b"PATH":
                    found = _PATH_FAST.match(line, rest)
                    if found is not None:
                        item, name, inode, dev, mode, ouid, nametype = (
                            None if value is None else value.decode("utf-8", "surrogateescape") for value in found.groups())
                        event["paths"].append({"item": to_int(item), "name": decode_field("name", name), "nametype": nametype,
                                               "inode": to_int(inode), "dev": dev, "mode": mode, "ouid": to_int(ouid)})
                    else:
                        add_companion(event, "PATH", kernel_fields(line)[1])
                else:
                    add_companion(event, kind.decode("ascii"), kernel_fields(line)[1])
                    if event["complete"]:
                        return
            pos = find(stamp_bytes, line_end, limit)

    def _other(self, buf: bytearray, line_start: int, line_end: int, needle: bytes, stop: int) -> None:
        line = bytes(buf[line_start:line_end])
        if needle.startswith(b"type=USYS_CONFIG"):
            # The parser reads the stamp as _stamp does (its header is the line's start).
            if b" object=" not in line:
                return
            record = parse_line(line, "USYS_CONFIG")
            if record is None or not self.in_time(record.timestamp):
                return
            fields = record.fields
            if "object" not in fields or "task_id" not in fields:
                return
            kernel = record.kernel
            ses = to_int(kernel.get("ses"))
            seconds, _dot, millis = record.event_id.partition(":")[0].partition(".")
            # record.time's text, from the minute's cache (it is None past the year 9999, where iso_time is not).
            when_text = iso_time(int(seconds), millis) if int(seconds) < _YEAR_10000 else None
            self.records.append({
                "timestamp": record.timestamp, "time": when_text, "serial": record.serial, "event_id": record.event_id,
                "node": record.node, "pid": to_int(kernel.get("pid")), "uid": to_int(kernel.get("uid")),
                "auid": to_int(kernel.get("auid")), "ses": None if ses == UNSET_ID else ses, "ses_unset": ses == UNSET_ID,
                "op": record.op,
                "result": record.result, "object": fields.get("object"), "module": fields.get("module"),
                "run_id": fields.get("run_id"), "task_id": fields.get("task_id"), "seq": fields.get("seq"),
                "inventory_host": fields.get("inventory_host"), "delegated_to": fields.get("delegated_to"),
            })
            return
        stamp = _stamp(line)
        if stamp is None:
            return
        when = float("%d.%s" % (stamp[0], stamp[1]))
        # Rule and daemon changes are kept whatever their time: the state before the span matters too.
        type_name, fields, _enriched = kernel_fields(line)
        change: t.Dict[str, t.Any] = {"type": type_name, "timestamp": when, "time": iso_time(stamp[0], stamp[1]),
                                      "serial": stamp[2], "op": fields.get("op"), "auid": to_int(fields.get("auid")),
                                      "ses": to_int(fields.get("ses")), "res": fields.get("res")}
        if type_name == "CONFIG_CHANGE":
            keys = (decode_field("key", fields.get("key")) or "").split("\x01")
            if "audit_enabled" in fields:
                change["audit_enabled"] = to_int(fields.get("audit_enabled"))
            elif self.key in keys and change["op"] in ("add_rule", "remove_rule"):
                change["key"] = self.key
            else:
                return
            # Who did it: the SYSCALL record of the same event.
            stamp_bytes = _stamp_bytes(stamp)
            limit = min(stop, line_end + COMPANION_WINDOW)
            pos = buf.find(stamp_bytes, line_end, limit)
            low = max(0, line_start - COMPANION_WINDOW)
            if pos < 0:
                pos = buf.rfind(stamp_bytes, low, line_start)
            if pos >= 0:
                start_of = buf.rfind(b"\n", 0, pos) + 1
                end_of = buf.find(b"\n", pos)
                other = bytes(buf[start_of:end_of if end_of >= 0 else limit])
                if other.startswith(b"type=SYSCALL") or b" type=SYSCALL " in other[:80]:
                    _type, sys_fields, sys_enriched = kernel_fields(other)
                    change.update(pid=to_int(sys_fields.get("pid")), exe=decode_field("exe", sys_fields.get("exe")),
                                  comm=decode_field("comm", sys_fields.get("comm")),
                                  auid_name=self.names(to_int(sys_fields.get("auid")), sys_enriched.get("AUID")))
        self.changes.append(change)


__all__ = [
    "COMPANION_WINDOW",
    "DEFAULT_MAX_EVENTS",
    "WatchScan",
]
