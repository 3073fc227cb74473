# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The lines of a run's ledger, as its writer (``_ledger``) and its reader (``_ledger_read``) both take them: their
kinds, the canonical JSON each line's mac is over, the chain of macs, and the run's directory, which must be the
controller user's own (whoever can write it can rewrite the proof).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import typing as t

LEDGER_FORMAT = 2
LEDGER_FILE = "ledger.jsonl"

START, INTENT, OUTCOME, SEAL = "start", "intent", "outcome", "seal"
KINDS = (START, INTENT, OUTCOME, SEAL)

GENESIS = "0" * 64


class LedgerError(Exception):
    """The ledger cannot be written or read: the change it is about must not go unnoted, the proof not pass."""


def run_directory(ledger_dir: str, run_id: str) -> str:
    """The run's directory; a run ID that is not a plain file name (the operator sets it) cannot leave the ledger."""
    if not run_id or run_id in (".", "..") or "/" in run_id or "\0" in run_id:
        raise LedgerError("run_id %r cannot name a ledger directory" % (run_id,))
    return os.path.join(os.path.abspath(os.path.expanduser(ledger_dir)), run_id)


def ledger_path(ledger_dir: str, run_id: str) -> str:
    return os.path.join(run_directory(ledger_dir, run_id), LEDGER_FILE)


def canonical(entry: t.Mapping[str, t.Any]) -> bytes:
    """The bytes a line's mac is over: its JSON without mac, keys sorted, no spaces, ASCII."""
    return json.dumps({key: value for key, value in entry.items() if key != "mac"}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=True, default=str).encode("ascii")


def chain_mac(key: t.Optional[bytes], previous: str, entry: t.Mapping[str, t.Any]) -> str:
    data = previous.encode("ascii") + b"\n" + canonical(entry)
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def check_private_directory(path: str, what: str = "ledger directory") -> None:
    """Refuses a directory that is a symlink, is not this user's, or that group or others may write (or, for the
    run's own directory, read): whoever can write it can rewrite the proof."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise LedgerError("cannot use the %s %s: %s" % (what, path, exc.strerror or exc)) from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise LedgerError("the %s %s is not a directory (a symlink or a file is refused): remove it, or set ledger_dir "
                          "to a directory of your own" % (what, path))
    if info.st_uid != os.geteuid():
        raise LedgerError("the %s %s belongs to uid %d, not to the controller's user (uid %d), who alone may write the "
                          "run's proof: set ledger_dir to a directory of your own" % (what, path, info.st_uid, os.geteuid()))
    if info.st_mode & 0o022:
        raise LedgerError("the %s %s may be written by group or others (mode %04o): chmod go-w it, or set ledger_dir to "
                          "a directory of your own" % (what, path, stat.S_IMODE(info.st_mode)))


def open_private(path: str, flags: int) -> int:
    try:
        return os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as exc:
        raise LedgerError("cannot open %s: %s" % (path, exc.strerror or exc)) from None


def parse_line(raw: bytes) -> t.Optional[t.Dict[str, t.Any]]:
    try:
        entry = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    return entry if isinstance(entry, dict) else None


def seal_text(entry: t.Mapping[str, t.Any]) -> bytes:
    """What a seal's signature is over: the seal line without its number in the file, mac and signature."""
    return canonical({key: value for key, value in entry.items() if key not in ("n", "mac", "signature")})


__all__ = [
    "LEDGER_FORMAT",
    "LEDGER_FILE",
    "START",
    "INTENT",
    "OUTCOME",
    "SEAL",
    "KINDS",
    "GENESIS",
    "LedgerError",
    "run_directory",
    "ledger_path",
    "canonical",
    "chain_mac",
    "check_private_directory",
    "open_private",
    "parse_line",
    "seal_text",
]
