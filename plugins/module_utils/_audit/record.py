# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""One user record, with the trailer libaudit would add computed up front.

libaudit fills in exe=, addr= (by resolving hostname=) and terminal= itself. We
compute them the same way before sending, and hand libaudit the resolved values,
so the text we return, the text the netlink backend sends and the text libaudit
sends are the same bytes.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import socket
import stat
import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.constants import AUDIT_USYS_CONFIG
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.encoding import (
    build_message,
    check_length,
    render_record,
    validate_comm,
    validate_hostname,
    validate_terminal,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.errors import AuditInvalidInputError

# libaudit's ttyname_r() buffer (TTY_PATH): longer names are not reported.
_TTY_PATH = 32


# Neither changes during a process's life; asking again per record cost more than building it.
@functools.lru_cache(maxsize=1)
def executable() -> bytes:
    try:
        return os.fsencode(os.readlink("/proc/self/exe"))
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
        if name and len(name) < _TTY_PATH:
            break
    else:
        return None
    try:
        info = os.lstat(name)
    except OSError:
        return None
    if not stat.S_ISCHR(info.st_mode) or (info.st_nlink > 1 and not name.startswith("/dev/")):
        return None
    return name[5:] if name.startswith("/dev/") else name


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
    return str(answers[0][4][0]).split("%", 1)[0]


def validate_addr(addr: t.Optional[str]) -> t.Optional[str]:
    if addr is None or addr == "":
        return None
    try:
        return str(ipaddress.ip_address(addr))
    except ValueError:
        raise AuditInvalidInputError(
            "addr %r is not an IP address" % (addr,),
            hint="libaudit writes addr= unencoded; give an IPv4 or IPv6 address, or leave it out",
        ) from None


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
        self.msg_type = msg_type
        self.success = success
        self.message = build_message(op, fields)
        self.comm = validate_comm(comm)
        self.hostname = validate_hostname(hostname)
        self.addr = validate_addr(addr) or resolve_addr(self.hostname)
        self.terminal = validate_terminal(terminal) or current_terminal()
        self.exe = executable()
        self.text = check_length(
            render_record(self.message, self.exe, self.comm, self.hostname, self.addr, self.terminal, success)
        )


__all__ = ["UserRecord", "executable", "current_terminal", "resolve_addr", "validate_addr"]
