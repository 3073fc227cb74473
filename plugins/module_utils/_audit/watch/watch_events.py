# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The watched events of a host: the kernel's records of every write on an object the watch covers, and whether the
watch held over a time span.

One pass over the log and its rotations (only those that reach the span). The scan looks for the watch's key in
large chunks (``bytes.find``); a SYSCALL line holding it opens an event, and the other records of that event (CWD,
PATH, PROCTITLE: the kernel emits them right after the SYSCALL record, PROCTITLE last) are found by the event's
``audit(TIME:SERIAL)`` stamp just after it. The same pass takes the CONFIG_CHANGE records (rules added or removed,
auditing switched off), auditd's DAEMON_START/END/ABORT and the collection's own USYS_CONFIG records.

What the kernel writes is read as the kernel writes it: a value with a space, a quote or a control character is
hex (audit_log_untrustedstring), so no file or command name can add or hide a field. The key is taken from the
SYSCALL record's own key= field, never from text elsewhere on the line.
"""

from __future__ import annotations

import errno as _errno
import operator
import os
import re
import time

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError, AuditInvalidInputError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.logfiles import (
    CHUNK_SIZE,
    first_event_time,
    files_since,
    log_files,
    open_error,
    whole_lines,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.logline import UNSET_ID, parse_line
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.reader import UserNames, configured_log_file
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.timespec import time_range
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.watch import (
    STATE_FILE,
    WATCH_KEY,
    boot_id,
    check_key,
    read_state,
    rules_hash,
    watched_by_key,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

# The other records of an event follow its SYSCALL record closely; a record further than this is not looked for.
COMPANION_WINDOW = 256 * 1024
DEFAULT_MAX_EVENTS = 100000
ARCH_X86_64 = "c000003e"

# x86_64 (arch/x86/entry/syscalls/syscall_64.tbl): the calls a "-p wa" watch reports, and a few neighbours.
SYSCALLS_X86_64 = {
    2: "open", 4: "stat", 9: "mmap", 21: "access", 59: "execve", 76: "truncate", 77: "ftruncate", 82: "rename",
    83: "mkdir", 84: "rmdir", 85: "creat", 86: "link", 87: "unlink", 88: "symlink", 90: "chmod", 91: "fchmod",
    92: "chown", 93: "fchown", 94: "lchown", 132: "utime", 133: "mknod", 188: "setxattr", 189: "lsetxattr",
    190: "fsetxattr", 197: "removexattr", 198: "lremovexattr", 199: "fremovexattr", 235: "utimes", 257: "openat",
    258: "mkdirat", 259: "mknodat", 260: "fchownat", 261: "futimesat", 263: "unlinkat", 264: "renameat", 265: "linkat",
    266: "symlinkat", 268: "fchmodat", 280: "utimensat", 285: "fallocate", 316: "renameat2", 322: "execveat",
    437: "openat2", 452: "fchmodat2", 463: "setxattrat", 466: "removexattrat", 44: "sendto", 1: "write",
}
# What each call does to the object, in the report's words.
ACTIONS = {
    "open": "write", "openat": "write", "openat2": "write", "creat": "create", "truncate": "truncate",
    "ftruncate": "truncate", "fallocate": "write", "rename": "rename", "renameat": "rename", "renameat2": "rename",
    "mkdir": "create", "mkdirat": "create", "mknod": "create", "mknodat": "create", "rmdir": "unlink",
    "unlink": "unlink", "unlinkat": "unlink", "link": "link", "linkat": "link", "symlink": "symlink",
    "symlinkat": "symlink", "chmod": "chmod", "fchmod": "chmod", "fchmodat": "chmod", "fchmodat2": "chmod",
    "chown": "chown", "fchown": "chown", "lchown": "chown", "fchownat": "chown", "setxattr": "setxattr",
    "lsetxattr": "setxattr", "fsetxattr": "setxattr", "setxattrat": "setxattr", "removexattr": "setxattr",
    "lremovexattr": "setxattr", "fremovexattr": "setxattr", "removexattrat": "setxattr", "utime": "utime",
    "utimes": "utime", "utimensat": "utime", "futimesat": "utime",
}
# Fields the kernel writes with audit_log_untrustedstring: "quoted" or hex.
_ENCODED = frozenset(("comm", "exe", "key", "name", "cwd", "proctitle", "path", "old", "new"))
_HEX = re.compile(r"\A(?:[0-9A-F]{2})+\Z")
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
# The process part of an _EVENT_FAST match (its 11th group), read once per run for each one a host logs.
_WHO = re.compile(rb"auid=(\d+) uid=(\d+) .* tty=([^ ]+) ses=(\d+) comm=([^ ]+) exe=([^ \x1d\n]+)\Z", re.S)
# Within an event's block (whole lines of one stamp, from the newline before it): its CWD record and PATH records.
# A record starts after a newline; the newline, a literal, lets the search skip to each line in C.
_BLOCK_ITEMS = re.compile(rb"\n(?:node=[^ ]+ )?type=(?:CWD msg=audit\([^)]*\): cwd=([^ \x1d\n]+)|"
                          rb"PATH msg=audit\([^)]*\): item=(\d+) name=([^ \n]+) "
                          rb"(?:inode=(\d+) dev=([^ ]+) mode=([^ ]+) ouid=(\d+) ogid=\d+ rdev=[^ ]+ (?:[a-z_]+=[^ ]+ )*?)?"
                          rb"nametype=([A-Z_]+))")
_SYSCALL_FAST_NAMES = ("arch", "syscall", "success", "exit", "a1", "a2", "ppid", "pid", "auid", "uid", "gid", "euid",
                       "tty", "ses", "comm", "exe", "key")
_ENRICHED_NAMES = re.compile(rb'(?:^| )(SYSCALL|AUID|UID|EUID)=("[^"]*"|[^ ]*)')
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
# The module's windows are stamped by the same clock as the kernel's records: this covers rounding only.
_OWN_WINDOW_SLACK = 0.05


def decode_field(name: str, value: t.Optional[str]) -> t.Optional[str]:
    if value is None or value == "(null)" or value == "(none)":
        return None
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    if name in _ENCODED and _HEX.match(value):
        return bytes.fromhex(value).decode("utf-8", "surrogateescape")
    return value


def kernel_fields(line: bytes) -> t.Tuple[str, t.Dict[str, str], t.Dict[str, str]]:
    """(type, the kernel's fields as written, the fields auditd's ENRICHED format added)."""
    text = line.decode("utf-8", "surrogateescape")
    kernel, _sep, enriched = text.partition("\x1d")
    head, _colon, body = kernel.partition("): ")
    type_name = head.split("type=", 1)[-1].split(" ", 1)[0]
    fields = {}
    for item in body.split():
        name, _eq, value = item.partition("=")
        # The first of a name wins: PATH and others never repeat one, and a value never holds a space.
        fields.setdefault(name, value)
    extra = {}
    for item in enriched.split(" "):
        name, _eq, value = item.partition("=")
        if name:
            extra[name] = value.strip('"')
    return type_name, fields, extra


_LAST_MINUTE: t.List[t.Any] = [None, None]


def iso_time(seconds: int, millis: str) -> t.Optional[str]:
    # The records of one minute share its text, made once: a busy day's watched events are seconds apart.
    minute, second = divmod(seconds, 60)
    if _LAST_MINUTE[0] != minute:
        try:
            moment = time.gmtime(minute * 60)
        except (OverflowError, OSError, ValueError):
            return None
        _LAST_MINUTE[:] = [minute, "%04d-%02d-%02dT%02d:%02d:" % moment[:5]]
    return "%s%02d.%s+00:00" % (_LAST_MINUTE[1], second, millis)


def _int(value: t.Optional[str]) -> t.Optional[int]:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def syscall_name(fields: t.Mapping[str, str], enriched: t.Mapping[str, str]) -> str:
    number = _int(fields.get("syscall"))
    if fields.get("arch") == ARCH_X86_64 and number in SYSCALLS_X86_64:
        return SYSCALLS_X86_64[number]
    return enriched.get("SYSCALL") or ("syscall-%s" % fields.get("syscall"))


def proctitle_text(value: t.Optional[str]) -> t.Optional[str]:
    """The command line as ausearch -i shows it: arguments separated by spaces."""
    if not value or value[0] == '"' or value == "(null)":
        return decode_field("proctitle", value)
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return value
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "surrogateescape")


class Names:
    """uid -> name as ausearch -i gives it: auditd's ENRICHED name where logged, else a lookup on this host."""

    def __init__(self) -> None:
        self._lookup = UserNames()

    def __call__(self, uid: t.Optional[int], logged: t.Optional[str]) -> t.Optional[str]:
        if uid is None:
            return None
        if uid == UNSET_ID:
            return "unset"
        if logged and not logged.startswith("unknown("):
            return logged
        return self._lookup(uid)


def _new_event(stamp: t.Tuple[int, str, int], fields: t.Mapping[str, str], enriched: t.Mapping[str, str],
               names: Names, node: t.Optional[str]) -> t.Dict[str, t.Any]:
    # Built once per event of a busy day (tens of thousands): only what the report shows or matches on.
    seconds, millis, serial = stamp
    get = fields.get
    name = syscall_name(fields, enriched)
    auid, uid, ses = _int(get("auid")), _int(get("uid")), _int(get("ses"))
    return {
        "timestamp": float("%d.%s" % (seconds, millis)),
        "time": iso_time(seconds, millis),
        "serial": serial,
        "event_id": "%d.%s:%d" % stamp,
        "node": node,
        "syscall": name,
        "action": ACTIONS.get(name, name),
        "success": get("success") == "yes",
        "exit": _int(get("exit")),
        "pid": _int(get("pid")),
        "auid": auid,
        "auid_name": names(auid, enriched.get("AUID")),
        "uid": uid,
        "uid_name": names(uid, enriched.get("UID")),
        "ses": None if ses == UNSET_ID else ses,
        "tty": decode_field("tty", get("tty")),
        "comm": decode_field("comm", get("comm")),
        "exe": decode_field("exe", get("exe")),
        "cwd": None,
        "proctitle": None,
        "paths": [],
        "complete": False,
    }


def _add_companion(event: t.Dict[str, t.Any], type_name: str, fields: t.Mapping[str, str]) -> None:
    if type_name == "CWD":
        event["cwd"] = decode_field("cwd", fields.get("cwd"))
    elif type_name == "PATH":
        event["paths"].append({
            "item": _int(fields.get("item")),
            "name": decode_field("name", fields.get("name")),
            "nametype": fields.get("nametype"),
            "inode": _int(fields.get("inode")),
            "dev": fields.get("dev"),
            "mode": fields.get("mode"),
            "ouid": _int(fields.get("ouid")),
        })
    elif type_name == "PROCTITLE":
        event["proctitle"] = proctitle_text(fields.get("proctitle"))
        event["complete"] = True


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
                for name, value in _ENRICHED_NAMES.findall(fast.group(22)):
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
        event = _new_event(stamp, fields, enriched, self.names, node)
        self.events.append(event)
        stamp_bytes = _stamp_bytes(stamp)
        limit = min(stop, line_end + COMPANION_WINDOW)
        self._companions(buf, line_end, limit, stamp_bytes, event)
        if not event["complete"] and limit == stop:
            self._pending[stamp_bytes] = event

    def _whole_event(self, buf: bytearray, match: t.Match[bytes]) -> bool:
        """An event matched at once (_EVENT_FAST); False leaves it to the record-by-record reading.

        The day's busiest path (every watched event of a host): the event is built straight from the match's groups,
        the same dict _new_event builds. A host repeats its processes, users and files all day: the text of a value
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
        # The entry's keys in _new_event's order, from the process's entry made once (_who).
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
        """A PATH record's entry but its item and inode (the keys in the order _add_companion makes them)."""
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
        """The entry of an event of this process (call, names, session, tty, comm, exe), the event's own fields None;
        kept for the run."""
        # It matches: _EVENT_FAST matched the same fields.
        auid, uid, tty, ses, comm, exe = _WHO.match(process).groups()  # type: ignore[union-attr]
        logged = {}
        if enriched:
            # The names auditd's ENRICHED format logged (they win over a lookup now); found, not parsed, for speed.
            for name, marker in ((b"AUID", b' AUID="'), (b"UID", b' UID="')):
                at = enriched.find(marker)
                if at >= 0:
                    at += len(marker)
                    logged[name] = enriched[at:enriched.find(b'"', at)].decode("utf-8", "surrogateescape")
        call = SYSCALLS_X86_64.get(int(number)) if arch == b"c000003e" else None
        if call is None:
            for name, value in _ENRICHED_NAMES.findall(enriched or b""):
                if name == b"SYSCALL":
                    call = value.decode("ascii", "replace")
            call = call or "syscall-%d" % int(number)
        auid_number, uid_number, ses_number = int(auid), int(uid), int(ses)
        who = {
            "timestamp": None, "time": None, "serial": None, "event_id": None, "node": None,
            "syscall": call, "action": ACTIONS.get(call, call), "success": None, "exit": None, "pid": None,
            "auid": auid_number, "auid_name": self.names(auid_number, logged.get(b"AUID")),
            "uid": uid_number, "uid_name": self.names(uid_number, logged.get(b"UID")),
            "ses": None if ses_number == UNSET_ID else ses_number,
            "tty": decode_field("tty", tty.decode("utf-8", "surrogateescape")),
            "comm": decode_field("comm", comm.decode("utf-8", "surrogateescape")),
            "exe": decode_field("exe", exe.decode("utf-8", "surrogateescape")),
            "cwd": None, "proctitle": None, "paths": None, "complete": True,
        }
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
                        event["paths"].append({"item": _int(item), "name": decode_field("name", name), "nametype": nametype,
                                               "inode": _int(inode), "dev": dev, "mode": mode, "ouid": _int(ouid)})
                    else:
                        _add_companion(event, "PATH", kernel_fields(line)[1])
                else:
                    _add_companion(event, kind.decode("ascii"), kernel_fields(line)[1])
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
            ses = _int(kernel.get("ses"))
            seconds, _dot, millis = record.event_id.partition(":")[0].partition(".")
            # record.time's text, from the minute's cache (it is None past the year 9999, where iso_time is not).
            when_text = iso_time(int(seconds), millis) if int(seconds) < _YEAR_10000 else None
            self.records.append({
                "timestamp": record.timestamp, "time": when_text, "serial": record.serial, "event_id": record.event_id,
                "node": record.node, "pid": _int(kernel.get("pid")), "uid": _int(kernel.get("uid")),
                "auid": _int(kernel.get("auid")), "ses": None if ses == UNSET_ID else ses, "ses_unset": ses == UNSET_ID,
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
                                      "serial": stamp[2], "op": fields.get("op"), "auid": _int(fields.get("auid")),
                                      "ses": _int(fields.get("ses")), "res": fields.get("res")}
        if type_name == "CONFIG_CHANGE":
            keys = (decode_field("key", fields.get("key")) or "").split("\x01")
            if "audit_enabled" in fields:
                change["audit_enabled"] = _int(fields.get("audit_enabled"))
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
                    change.update(pid=_int(sys_fields.get("pid")), exe=decode_field("exe", sys_fields.get("exe")),
                                  comm=decode_field("comm", sys_fields.get("comm")),
                                  auid_name=self.names(_int(sys_fields.get("auid")), sys_enriched.get("AUID")))
        self.changes.append(change)


def _span(start: float, end: float, reason: str) -> t.Dict[str, t.Any]:
    return {"start": start, "end": end, "start_time": _iso(start), "end_time": _iso(end), "reason": reason}


def _iso(epoch: float) -> t.Optional[str]:
    seconds = int(epoch)
    return iso_time(seconds, "%03d" % int(round((epoch - seconds) * 1000)) if epoch - seconds < 0.9995 else "999")


def _who(change: t.Mapping[str, t.Any]) -> str:
    parts = []
    if change.get("auid") is not None:
        parts.append("auid %s" % ("unset" if change["auid"] == UNSET_ID else change["auid"]))
    if change.get("ses") is not None:
        parts.append("ses %s" % ("unset" if change["ses"] == UNSET_ID else change["ses"]))
    if change.get("exe"):
        parts.append("exe %s" % change["exe"])
    return ", ".join(parts) or "someone"


def unwatched_spans(start: float, end: float, state: t.Optional[t.Mapping[str, t.Any]], changes: t.Sequence[t.Mapping[str, t.Any]],
                    log_start: t.Optional[float], now_rules: t.Optional[t.Mapping[str, int]], status: t.Optional[t.Mapping[str, int]],
                    key: str = WATCH_KEY, now: t.Optional[float] = None, current_boot: t.Optional[str] = None) -> t.List[t.Dict[str, t.Any]]:
    """The parts of [start, end] in which a write on a watched object may have gone unseen, each with its reason."""
    now = time.time() if now is None else now
    spans: t.List[t.Dict[str, t.Any]] = []
    if state is None:
        if now_rules:
            return [_span(start, end, "watch rules of key %s are loaded but the watch's baseline (its state file) is "
                                      "missing: apply the changeaudit.linux.watch role" % key)]
        return [_span(start, end, "no watch of key %s is installed on this host (no state file and no rule)" % key)]
    installed = float(state.get("installed") or 0)
    if installed > start:
        spans.append(_span(start, min(installed, end), "the watch was installed at %s" % _iso(installed)))
    if log_start is not None and log_start > start:
        spans.append(_span(start, min(log_start, end), "the audit log (with its rotations) begins at %s" % _iso(log_start)))
    loads = sorted((load for load in state.get("loads") or [] if isinstance(load, dict)), key=lambda load: load.get("start", 0))
    own = [(float(load.get("start", 0)) - _OWN_WINDOW_SLACK, float(load.get("end", 0)) + _OWN_WINDOW_SLACK, int(load.get("count") or 0),
            load.get("ses")) for load in loads]
    expected = int(state.get("count") or 0)
    for _window_start, window_end, count, _ses in own:
        if window_end <= installed + _OWN_WINDOW_SLACK:
            expected = count
    count = expected
    opened: t.Optional[t.Tuple[float, str]] = None
    disabled: t.Optional[t.Tuple[float, str]] = None
    daemon: t.Optional[t.Tuple[float, str]] = None
    next_own = 0
    for change in sorted(changes, key=lambda item: item["timestamp"]):
        when = change["timestamp"]
        while next_own < len(own) and own[next_own][1] < when:
            # A load of the module ended before this change: what it loaded is the expected set from then on.
            if own[next_own][1] >= installed:
                expected = count = own[next_own][2]
                if opened is not None:
                    spans.append(_span(opened[0], own[next_own][1], opened[1]))
                    opened = None
            next_own += 1
        if when < installed - _OWN_WINDOW_SLACK:
            continue
        # The module's own change: in one of its windows, and from its session (the one it wrote in the baseline).
        ours = any(low <= when <= high and (ses is None or change.get("ses") is None or ses == change.get("ses"))
                   for low, high, _c, ses in own)
        if change.get("key") == key and not ours:
            if change["op"] == "remove_rule":
                count -= 1
                if opened is None:
                    opened = (when, "a watch rule of key %s was removed at %s by %s" % (key, _iso(when), _who(change)))
            elif change["op"] == "add_rule":
                count += 1
                if opened is None and count > expected:
                    spans.append(_span(when, when, "a watch rule of key %s was added at %s by %s, not by the watch role: "
                                                   "the rules were changed" % (key, _iso(when), _who(change))))
            if opened is not None and count >= expected and change["op"] == "add_rule":
                spans.append(_span(opened[0], when, opened[1] + " (until it was added again at %s)" % _iso(when)))
                opened = None
        elif "audit_enabled" in change:
            if change["audit_enabled"] == 0 and disabled is None:
                disabled = (when, "auditing was disabled (auditctl -e 0) at %s by %s" % (_iso(when), _who(change)))
            elif change["audit_enabled"] and disabled is not None:
                spans.append(_span(disabled[0], when, disabled[1]))
                disabled = None
        elif change["type"] in ("DAEMON_END", "DAEMON_ABORT") and daemon is None:
            daemon = (when, "auditd stopped at %s (%s): events of that time went to the kernel log at best" % (
                _iso(when), change["type"]))
        elif change["type"] == "DAEMON_START" and daemon is not None:
            spans.append(_span(daemon[0], when, daemon[1]))
            daemon = None
    for pending in (opened, disabled, daemon):
        if pending is not None:
            spans.append(_span(pending[0], max(end, pending[0]), pending[1]))
    if now_rules is not None and rules_hash(now_rules, key) != state.get("rules_sha256") and opened is None:
        last = max([change["timestamp"] for change in changes if change.get("key") == key] + [installed])
        why = "the watch rules of key %s loaded now (%d) are not those the watch role installed (%d)" % (
            key, len(now_rules), int(state.get("count") or 0))
        spans.append(_span(max(start, last), end, why))
    if status is not None and status.get("lost") is not None and state.get("lost") is not None:
        lost_now, lost_then = int(status["lost"]), int(state["lost"])
        same_boot = state.get("boot_id") is not None and state.get("boot_id") == current_boot
        if same_boot and lost_now > lost_then:
            spans.append(_span(max(start, installed), min(end, now), "the kernel lost %d audit records since the watch "
                                                                     "was installed (lost %d then, %d now; when, the "
                                                                     "counter does not say)" % (lost_now - lost_then, lost_then, lost_now)))
        elif not same_boot and lost_now > 0:
            spans.append(_span(max(start, installed), min(end, now), "the kernel lost %d audit records since this boot "
                                                                     "(the watch was installed in an earlier one)" % lost_now))
    if status is not None and status.get("enabled") == 0 and disabled is None:
        spans.append(_span(start, end, "auditing is disabled now (auditctl -s shows enabled 0)"))
    kept = []
    for span in spans:
        low, high = max(span["start"], start), min(span["end"], end)
        if low <= high:
            kept.append(_span(low, high, span["reason"]))
    return sorted(kept, key=lambda span: (span["start"], span["end"]))


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
        spans.append(_span(start, end, "the kernel's audit state could not be read: %s" % kernel_error))
    if scan.truncated:
        spans.append(_span(start, end, "more than %d watched events: the rest were not read (max_events)" % scan.max_events))
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
        "since_time": _iso(start), "until_time": _iso(end),
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
    "COMPANION_WINDOW",
    "DEFAULT_MAX_EVENTS",
    "SYSCALLS_X86_64",
    "ACTIONS",
    "decode_field",
    "kernel_fields",
    "syscall_name",
    "proctitle_text",
    "WatchScan",
    "unwatched_spans",
    "read_watch_events",
]
