# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""One user record, with the trailer libaudit would add computed up front.

libaudit fills in exe=, addr= (by resolving hostname=), terminal= and, on a
terminal, hostname= (gethostname()) itself. We compute them the same way before
sending, and hand libaudit the resolved values, so the text we return, the text
the netlink backend sends and the text libaudit sends are the same bytes.
"""

from __future__ import annotations

import functools
import os
import socket
import stat

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import AUDIT_USYS_CONFIG
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import (
    HOSTNAME_PATTERN,
    TERMINAL_PATTERN,
    build_message,
    check_length,
    render_record,
    validate_addr,
    validate_comm,
    validate_hostname,
    validate_terminal,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditInvalidInputError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.fieldnames import validate_msg_type
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.values import describe

# typing only for annotations: importing it costs each record ~3 ms on the target (plugin_utils/_writer/_writer.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

# libaudit's ttyname_r() buffer (TTY_PATH): longer names are not reported.
_TTY_PATH = 32
# readlink("/proc/self/exe", tmp, PATH_MAX) in _get_exename(): a longer path is cut there.
_PATH_MAX = 4096
# _get_hostname(): gethostname() into char _host[HOSTLEN], last byte forced to NUL.
_HOSTLEN = 64
# _get_hostname() writes the local host name when the terminal starts with one of
# these; 3.0.x knows the first three, 4.x adds "/dev/pts". We pass hostname=
# explicitly whenever either would, so every libaudit version writes the same.
_LOCAL_TTY_PREFIXES = ("pts", "tty", "/dev/tty", "/dev/pts")
# The kernel's name for a host that was never given one; auparse keeps it whole.
_UNSET_HOSTNAME = "(none)"


# Neither changes during a process's life; asking again per record cost more than building it.
@functools.lru_cache(maxsize=1)
def executable() -> bytes:
    try:
        return os.fsencode(os.readlink("/proc/self/exe"))[:_PATH_MAX]
    except OSError:
        return b""


@functools.lru_cache(maxsize=1)
def current_terminal() -> t.Optional[str]:
    """libaudit's _get_tty(): the first of fds 0-2 that is a terminal, without /dev/."""
    for fd in (0, 1, 2):
        try:
            name = os.ttyname(fd)
        except OSError:
            continue
        if name and len(os.fsencode(name)) < _TTY_PATH:
            break
    else:
        return None
    try:
        info = os.lstat(name)
    except OSError:
        return None
    if not stat.S_ISCHR(info.st_mode) or (info.st_nlink > 1 and not name.startswith("/dev/")):
        return None
    name = name[5:] if name.startswith("/dev/") else name
    # libaudit writes it unencoded: a name that could end a field is not reported at all.
    return name if TERMINAL_PATTERN.match(name) else None


@functools.lru_cache(maxsize=1)
def _gethostname() -> str:
    # libaudit asks once per process and keeps the answer (static _host).
    raw = os.fsencode(os.uname().nodename)[:_HOSTLEN - 1].split(b"\0", 1)[0]
    return raw.decode("ascii", "replace")


def terminal_hostname(terminal: t.Optional[str]) -> t.Optional[str]:
    """libaudit's _get_hostname(): with no hostname given, a record from a terminal names this host."""
    if terminal is None or not terminal.startswith(_LOCAL_TTY_PREFIXES):
        return None
    hostname = _gethostname()
    if hostname != _UNSET_HOSTNAME and not HOSTNAME_PATTERN.match(hostname):
        raise AuditInvalidInputError(
            "This host's name %s would be written as hostname= (libaudit does so for a record from terminal %s), "
            "unencoded, and it holds characters that could end the field" % (describe(hostname), terminal),
            hint="Give hostname (letters, digits and . _ : -) explicitly",
        )
    return hostname


def resolve_addr(hostname: t.Optional[str]) -> t.Optional[str]:
    """libaudit's _resolve_addr(): first getaddrinfo() answer, AI_ADDRCONFIG, SOCK_STREAM."""
    if not hostname:
        return None
    try:
        answers = socket.getaddrinfo(hostname, None, 0, socket.SOCK_STREAM, 0, socket.AI_ADDRCONFIG)
    except (OSError, UnicodeError):
        return None
    if not answers:
        return None
    # inet_ntop() has no "%scope" suffix; Python adds one for link-local IPv6.
    try:
        return validate_addr(str(answers[0][4][0]).split("%", 1)[0])
    except AuditInvalidInputError:
        return None


class UserRecord:
    """A validated user record; ``text`` is exactly what lands after msg=' in audit.log."""

    def __init__(
        self,
        op: str,
        fields: t.Optional[t.Mapping[str, t.Any]] = None,
        success: bool = True,
        comm: t.Optional[str] = "ansible",
        hostname: t.Optional[str] = None,
        addr: t.Optional[str] = None,
        terminal: t.Optional[str] = None,
        msg_type: int = AUDIT_USYS_CONFIG,
    ) -> None:
        self.msg_type = validate_msg_type(msg_type)
        if success is not True and success is not False:
            raise AuditInvalidInputError(
                "success must be True or False, not %s" % describe(success),
                hint="Map the result to a bool first (result: success or failed)",
            )
        self.success = success
        self.message = build_message(op, fields, msg_type)
        self.comm = validate_comm(comm)
        self.hostname = validate_hostname(hostname)
        # libaudit resolves only the caller's hostname, never the one it fills in below.
        self.addr = validate_addr(addr) or resolve_addr(self.hostname)
        self.terminal = validate_terminal(terminal) or current_terminal()
        if self.hostname is None:
            self.hostname = terminal_hostname(self.terminal)
        self.exe = executable()
        self.text = check_length(
            render_record(self.message, self.exe, self.comm, self.hostname, self.addr, self.terminal, success)
        )


__all__ = ["UserRecord", "executable", "current_terminal", "terminal_hostname", "resolve_addr", "validate_addr"]
