"""libaudit's own encoder, loaded for tests only.

The production binding (plugins/module_utils/_audit/system/libaudit.py) binds only the
calls it makes, so that a libaudit build without these symbols still writes.
Tests load them here, from the same libaudit.so.1, to compare our text with
libaudit's, and mirror audit_log_user_comm_message()'s trailer (lib/audit_logging.c)
with libaudit's encoder and libc's gethostname().
"""

from __future__ import annotations

import ctypes
import typing as t

SONAME = "libaudit.so.1"
# lib/audit_logging.c: HOSTLEN, and the prefixes _get_hostname() tests (4.x adds /dev/pts).
HOSTLEN = 64
LOCAL_TTY_PREFIXES = ("pts", "tty", "/dev/tty", "/dev/pts")


class LibauditOracle:
    def __init__(self, soname: str = SONAME) -> None:
        self._lib = ctypes.CDLL(soname, use_errno=True)
        self._libc = ctypes.CDLL(None)
        # Returns malloc()ed memory: a void pointer, so that it can be freed.
        self._lib.audit_encode_nv_string.restype = ctypes.c_void_p
        self._lib.audit_encode_nv_string.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]
        self._lib.audit_value_needs_encoding.restype = ctypes.c_int
        self._lib.audit_value_needs_encoding.argtypes = [ctypes.c_char_p, ctypes.c_uint]
        self._libc.free.argtypes = [ctypes.c_void_p]
        self._libc.free.restype = None
        self._libc.gethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        self._libc.gethostname.restype = ctypes.c_int

    def audit_encode_nv_string(self, name: str, value: bytes) -> str:
        pointer = self._lib.audit_encode_nv_string(name.encode("ascii"), value, len(value))
        if not pointer:
            raise MemoryError("audit_encode_nv_string() failed")
        try:
            return ctypes.string_at(pointer).decode("ascii")
        finally:
            self._libc.free(pointer)

    def audit_value_needs_encoding(self, value: bytes) -> bool:
        return bool(self._lib.audit_value_needs_encoding(value, len(value)))

    def trailer_value(self, raw: bytes) -> str:
        """_get_exename()/_get_commname(): audit_value_needs_encoding() decides hex or quotes."""
        return self.audit_encode_nv_string("x", raw)[2:]

    def gethostname(self) -> str:
        buf = ctypes.create_string_buffer(HOSTLEN)
        self._libc.gethostname(buf, HOSTLEN)
        return buf.raw[:HOSTLEN - 1].split(b"\0", 1)[0].decode("ascii", "replace")

    def format_user_comm_message(
        self,
        message: str,
        comm: t.Optional[bytes],
        exe: bytes,
        hostname: t.Optional[str],
        addr: t.Optional[str],
        tty: t.Optional[str],
        success: bool,
    ) -> str:
        """The text audit_log_user_comm_message() (comm given) or audit_log_user_message() builds,
        for a caller that passes the tty (no ttyname() lookup) and the address (no resolution)."""
        if hostname == "":
            hostname = None
        if tty == "":
            tty = None
        if hostname is None and tty is not None and tty.startswith(LOCAL_TTY_PREFIXES):
            hostname = self.gethostname()
        return "%s%s exe=%s hostname=%s addr=%s terminal=%s res=%s" % (
            message,
            "" if comm is None else " comm=" + self.trailer_value(comm),
            self.trailer_value(exe) if exe else '"?"',
            "?" if hostname is None else hostname,
            addr or "?",
            "?" if tty is None else tty,
            "success" if success else "failed",
        )


def load_oracle() -> t.Optional[LibauditOracle]:
    try:
        return LibauditOracle()
    except (OSError, AttributeError):
        return None
