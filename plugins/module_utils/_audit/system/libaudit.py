# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""ctypes binding of the few libaudit.so.1 calls we use.

Loading fails with ImportError when the library is missing; backends.py turns
that into the netlink fallback. Wrappers keep the C names. Only what production
calls is bound: a symbol missing from some libaudit build must not move a host
onto the fallback unless we need it (tests load their own oracle symbols).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import LIBAUDIT_SONAME
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditNotInKernelError,
    AuditProtocolError,
    error_from_errno,
)

# typing only for annotations: importing it costs each record ~3 ms on the target (plugin_utils/_writer/_writer.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


def _errno_or(default: int) -> int:
    return ctypes.get_errno() or default


def _check_fd(result: int, func: t.Any, args: t.Tuple[t.Any, ...]) -> int:
    if result < 0:
        err = _errno_or(errno.EIO)
        if err in (errno.EPROTONOSUPPORT, errno.EAFNOSUPPORT, errno.EINVAL):
            raise AuditNotInKernelError("libaudit cannot open the audit socket", errno=err)
        raise error_from_errno(err, "open the audit socket with libaudit")
    return result


def _check_sent(result: int, func: t.Any, args: t.Tuple[t.Any, ...]) -> int:
    # libaudit returns the netlink sequence number (> 0) on success. It returns
    # 0 for ECONNREFUSED and for EPERM of non-root callers "as though auditing
    # is not enabled", so 0 is a failure here, never a success.
    if result <= 0:
        err = -result if result < 0 else ctypes.get_errno()
        if err:
            raise error_from_errno(err, "write the audit record with libaudit")
        raise AuditProtocolError(
            "libaudit did not send the record (it returns 0 when the kernel refuses the connection or the "
            "caller lacks CAP_AUDIT_WRITE)"
        )
    return result


_c_str = ctypes.c_char_p
_c_int = ctypes.c_int

# name: (restype, argtypes, errcheck)
SIGNATURES: t.Dict[str, t.Tuple[t.Any, t.List[t.Any], t.Any]] = {
    "audit_open": (_c_int, [], _check_fd),
    "audit_close": (None, [_c_int], None),
    "audit_log_user_message": (_c_int, [_c_int, _c_int, _c_str, _c_str, _c_str, _c_str, _c_int], _check_sent),
    "audit_log_user_comm_message": (
        _c_int,
        [_c_int, _c_int, _c_str, _c_str, _c_str, _c_str, _c_str, _c_int],
        _check_sent,
    ),
}


def _opt(value: t.Optional[str]) -> t.Optional[bytes]:
    return None if value is None else value.encode("utf-8")


class LibAudit:
    """libaudit.so.1 through ctypes; every call has its errno checked."""

    def __init__(self, soname: str = LIBAUDIT_SONAME) -> None:
        try:
            self._lib = ctypes.CDLL(soname, use_errno=True)
        except OSError as exc:
            raise ImportError("%s cannot be loaded: %s" % (soname, exc)) from None
        for name, (restype, argtypes, errcheck) in SIGNATURES.items():
            func = getattr(self._lib, name, None)
            if func is None:
                raise ImportError("%s has no %s()" % (soname, name))
            func.restype = restype
            func.argtypes = argtypes
            if errcheck is not None:
                func.errcheck = errcheck
        self.soname = soname

    def audit_open(self) -> int:
        """The audit socket, close-on-exec whatever the libaudit version does, so no child inherits it."""
        ctypes.set_errno(0)
        fd = self._lib.audit_open()
        try:
            fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.fcntl(fd, fcntl.F_GETFD) | fcntl.FD_CLOEXEC)
        except OSError as exc:
            self._lib.audit_close(fd)
            raise error_from_errno(exc.errno or errno.EIO, "make the audit socket close-on-exec") from None
        return fd

    def audit_close(self, fd: int) -> None:
        self._lib.audit_close(fd)

    def audit_log_user_comm_message(
        self,
        fd: int,
        msg_type: int,
        message: str,
        comm: t.Optional[str],
        hostname: t.Optional[str],
        addr: t.Optional[str],
        tty: t.Optional[str],
        success: bool,
    ) -> int:
        ctypes.set_errno(0)
        return self._lib.audit_log_user_comm_message(
            fd, msg_type, _opt(message), _opt(comm), _opt(hostname), _opt(addr), _opt(tty), 1 if success else 0
        )

    def audit_log_user_message(
        self,
        fd: int,
        msg_type: int,
        message: str,
        hostname: t.Optional[str],
        addr: t.Optional[str],
        tty: t.Optional[str],
        success: bool,
    ) -> int:
        ctypes.set_errno(0)
        return self._lib.audit_log_user_message(
            fd, msg_type, _opt(message), _opt(hostname), _opt(addr), _opt(tty), 1 if success else 0
        )


__all__ = ["LibAudit", "SIGNATURES"]
