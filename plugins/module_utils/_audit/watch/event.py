# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""One watched event as the report shows it: the kernel's fields of its records decoded, its call named, its users
named, its time as text.

What the kernel writes is read as the kernel writes it: a value with a space, a quote or a control character is
hex (audit_log_untrustedstring), so no file or command name can add or hide a field.
"""

from __future__ import annotations

import re
import time

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.logline import UNSET_ID
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.reader import UserNames

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

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
# The names auditd's ENRICHED format adds after the kernel's fields.
ENRICHED_NAMES = re.compile(rb'(?:^| )(SYSCALL|AUID|UID|EUID)=("[^"]*"|[^ ]*)')
# The process part of a SYSCALL record from auid= to exe=, read once per run for each one a host logs.
_WHO = re.compile(rb"auid=(\d+) uid=(\d+) .* tty=([^ ]+) ses=(\d+) comm=([^ ]+) exe=([^ \x1d\n]+)\Z", re.S)


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


def to_int(value: t.Optional[str]) -> t.Optional[int]:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def syscall_name(fields: t.Mapping[str, str], enriched: t.Mapping[str, str]) -> str:
    number = to_int(fields.get("syscall"))
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


def new_event(stamp: t.Tuple[int, str, int], fields: t.Mapping[str, str], enriched: t.Mapping[str, str],
              names: Names, node: t.Optional[str]) -> t.Dict[str, t.Any]:
    # Built once per event of a busy day (tens of thousands): only what the report shows or matches on.
    seconds, millis, serial = stamp
    get = fields.get
    name = syscall_name(fields, enriched)
    auid, uid, ses = to_int(get("auid")), to_int(get("uid")), to_int(get("ses"))
    return {
        "timestamp": float("%d.%s" % (seconds, millis)),
        "time": iso_time(seconds, millis),
        "serial": serial,
        "event_id": "%d.%s:%d" % stamp,
        "node": node,
        "syscall": name,
        "action": ACTIONS.get(name, name),
        "success": get("success") == "yes",
        "exit": to_int(get("exit")),
        "pid": to_int(get("pid")),
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


def add_companion(event: t.Dict[str, t.Any], type_name: str, fields: t.Mapping[str, str]) -> None:
    if type_name == "CWD":
        event["cwd"] = decode_field("cwd", fields.get("cwd"))
    elif type_name == "PATH":
        event["paths"].append({
            "item": to_int(fields.get("item")),
            "name": decode_field("name", fields.get("name")),
            "nametype": fields.get("nametype"),
            "inode": to_int(fields.get("inode")),
            "dev": fields.get("dev"),
            "mode": fields.get("mode"),
            "ouid": to_int(fields.get("ouid")),
        })
    elif type_name == "PROCTITLE":
        event["proctitle"] = proctitle_text(fields.get("proctitle"))
        event["complete"] = True


def process_entry(arch: bytes, number: bytes, process: bytes, enriched: t.Optional[bytes],
                  names: Names) -> t.Dict[str, t.Any]:
    """The entry of an event of this process (call, names, session, tty, comm, exe), the event's own fields None, the
    keys in new_event's order; ``process`` is the SYSCALL record's text from auid= to exe=."""
    # It matches: the scan's _EVENT_FAST matched the same fields.
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
        for name, value in ENRICHED_NAMES.findall(enriched or b""):
            if name == b"SYSCALL":
                call = value.decode("ascii", "replace")
        call = call or "syscall-%d" % int(number)
    auid_number, uid_number, ses_number = int(auid), int(uid), int(ses)
    return {
        "timestamp": None, "time": None, "serial": None, "event_id": None, "node": None,
        "syscall": call, "action": ACTIONS.get(call, call), "success": None, "exit": None, "pid": None,
        "auid": auid_number, "auid_name": names(auid_number, logged.get(b"AUID")),
        "uid": uid_number, "uid_name": names(uid_number, logged.get(b"UID")),
        "ses": None if ses_number == UNSET_ID else ses_number,
        "tty": decode_field("tty", tty.decode("utf-8", "surrogateescape")),
        "comm": decode_field("comm", comm.decode("utf-8", "surrogateescape")),
        "exe": decode_field("exe", exe.decode("utf-8", "surrogateescape")),
        "cwd": None, "proctitle": None, "paths": None, "complete": True,
    }


def iso_epoch(epoch: float) -> t.Optional[str]:
    seconds = int(epoch)
    return iso_time(seconds, "%03d" % int(round((epoch - seconds) * 1000)) if epoch - seconds < 0.9995 else "999")


__all__ = [
    "ARCH_X86_64",
    "SYSCALLS_X86_64",
    "ACTIONS",
    "decode_field",
    "kernel_fields",
    "iso_time",
    "iso_epoch",
    "to_int",
    "syscall_name",
    "proctitle_text",
    "Names",
    "new_event",
    "add_companion",
    "process_entry",
    "ENRICHED_NAMES",
]
