# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Writing the run's ledger on the controller: what the record_changes callback was about to change, what came of it, and a
seal that says the run ended, in one append-only file whose lines are chained under the controller's key.

One directory per run (``<ledger_dir>/<run_id>/``, 0700, the controller user's, or it is refused) holds
``ledger.jsonl`` (0600). Its lines (``LEDGER_FORMAT`` 2), each one JSON object:

- ``start``: a controller process began the run (its run nonce, the key id that chains the lines);
- ``intent``: a task that may change a host is about to run on it;
- ``outcome``: what came of it (``OUTCOMES``; ``unknown`` when the change may have happened and nobody saw it end);
  one that wrote, or tried to write, the change's record says by which ``path`` (``PATHS``);
- ``seal``: the run ended (``final``), or the evidence of a run still going sealed what it proves (a checkpoint).

Intent and outcome carry the host's number of the change in the run (``seq``), which the change's audit record
carries too, next to its task id. Every line carries its number in the file (``n``) and ``mac``: an HMAC-SHA256 under
the ledger key of the previous line's ``mac`` and this line's canonical JSON, so an edited, deleted, inserted,
reordered or duplicated line breaks the chain where it is, and a cut tail is short of the seal's count
(``_ledger_read.open_ledger`` names each). A seal is also signed with the controller's signing key, which anyone holding its
public key checks. Without a key (unit tests, benchmarks) the chain is plain SHA-256, which shows accidents, not
tampering, and is reported as such.

Workers are forked processes writing concurrently. A line is numbered and chained under an ``flock`` of the run's
lock file, and the chain's head (the last line's number, mac and the file's size) is kept in ``head``; each host's
last ``seq`` in a slot of the counter table ``seq``. Each is one fixed-width ``pwrite``, and a head that is behind the
file (a writer killed between its two writes) is caught up from the file's tail, so a change costs the same whether
the run has 10 hosts or 10,000, and a crash loses nothing.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
import secrets
import stat
import struct
import typing as t

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger_chain import (
    GENESIS,
    INTENT,
    LEDGER_FILE,
    LEDGER_FORMAT,
    OUTCOME,
    SEAL,
    START,
    LedgerError,
    chain_mac,
    check_private_directory,
    open_private,
    parse_line,
    run_directory,
    seal_text,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger_read import open_ledger

HEAD_FILE = "head"
LOCK_FILE = "lock"
SEQ_FILE = "seq"

# What came of a change, in an outcome line.
RECORDED = "recorded"
UNCHANGED = "unchanged"
NOT_RECORDED = "not_recorded"
SKIPPED_BY_POLICY = "skipped_by_policy"
# The change may have happened and nobody saw it end: unreachable after the intent, a failure without a verdict, a
# timeout, a module that died without JSON. Its record was written where the host still took one (recorded: true).
UNKNOWN = "unknown"
# The evidence's status (_evidence_rows.STATUSES) of a change of the ledger whose record is not found, from a host whose
# audit trail was read: recorded and skipped_by_policy are the outcomes' own names.
MISSING = "missing"
UNKNOWN_OUTCOME = "unknown_outcome"


class Outcome(t.NamedTuple):
    """An outcome, and what the evidence makes of a change that ended so: ``listed``, whether the evidence has a row
    for it (an unchanged one changed nothing to prove); ``unrecorded``, its status when no record of it is found."""

    listed: bool
    unrecorded: t.Optional[str]


# The one table of the outcomes: what the ledger takes in an outcome line (Ledger.outcome) and what the evidence
# (_evidence.reconcile) says of each.
OUTCOMES: t.Dict[str, Outcome] = {
    RECORDED: Outcome(True, MISSING),
    UNCHANGED: Outcome(False, None),
    NOT_RECORDED: Outcome(True, MISSING),
    SKIPPED_BY_POLICY: Outcome(True, SKIPPED_BY_POLICY),
    UNKNOWN: Outcome(True, UNKNOWN_OUTCOME),
}

# Who wrote a change's record: the module's own process, or the writer the controller ran after it.
IN_MODULE_PATH = "in_module"
WRITER_PATH = "writer"
PATHS = (IN_MODULE_PATH, WRITER_PATH)

_HEAD = "n=%020d size=%020d mac=%s\n"
_HEAD_BYTES = len(_HEAD % (0, 0, GENESIS))
# The seq counter table: a header, then from one page on 32-byte slots of (host digest, last seq); empty ones zero.
_SEQ_MAGIC = b"changeaudit-seq1"
_SEQ_HEADER = struct.Struct(">16sII")
_DIGEST_BYTES = 20
_SLOT = struct.Struct(">20sQ4x")
_EMPTY = b"\0" * _DIGEST_BYTES
_SLOTS_AT = 4096
_MIN_SLOTS = 1024
# The largest line the ledger takes: one write of at most a page lands whole in an O_APPEND file.
MAX_LINE = 3900


CALLBACK = "changeaudit.linux.record_changes"
# What the ledger's HMAC key is derived from the controller's signing key for (_signing_key.SigningKey.mac_key).
LEDGER_KEY_PURPOSE = b"changeaudit.linux ledger chain"


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


_RESOLVE = object()


def ledger_location(variables: t.Optional[t.Mapping[str, t.Any]] = None, option: t.Any = _RESOLVE) -> t.Optional[str]:
    """The ledger directory as the record_changes callback resolves its ``ledger_dir`` option: the extra var
    changeaudit_ledger_dir (``variables``: the run's extra vars), CHANGEAUDIT_LEDGER_DIR, ``[changeaudit_record_changes]
    ledger_dir`` in ansible.cfg, then the default; None when it is set empty (no ledger is kept). The one place the
    callback (which passes its resolved ``option``), evidence_report and the evidence playbook find it."""
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _vars

    if option is _RESOLVE:
        if variables is None:
            variables = _vars.extra_vars()
        option = _vars.callback_option(CALLBACK, "ledger_dir", variables)
    value = option
    if not value:
        return None
    return os.path.abspath(os.path.expanduser(str(value)))


def _make_private_directory(path: str) -> None:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise LedgerError("cannot make the ledger directory %s: %s" % (path, exc.strerror or exc)) from None
    check_private_directory(path, "run's ledger directory")
    if stat.S_IMODE(os.lstat(path).st_mode) & 0o077:
        raise LedgerError("the run's ledger directory %s may be read by group or others: chmod 700 it" % path)


class Ledger:
    """The ledger of one run, as the controller and its workers write it. ``key``: the HMAC key that chains the
    lines (``_signing``'s ledger key), ``key_id`` the id of the signing key it comes from."""

    def __init__(self, ledger_dir: str, run_id: str, key: t.Optional[bytes] = None, key_id: t.Optional[str] = None,
                 signer: t.Optional[t.Callable[[bytes], str]] = None) -> None:
        self.run_id = run_id
        self.base = os.path.abspath(os.path.expanduser(ledger_dir))
        self.directory = run_directory(self.base, run_id)
        self.key = key
        self.key_id = key_id
        self.signer = signer
        self._ready = False

    def _prepare(self) -> None:
        if self._ready:
            return
        try:
            os.makedirs(self.base, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise LedgerError("cannot make the ledger directory %s: %s" % (self.base, exc.strerror or exc)) from None
        check_private_directory(self.base)
        _make_private_directory(self.directory)
        self._ready = True

    # ------------------------------------------------------------------ the chain, under the run's lock

    def _head(self, head_fd: int, ledger_fd: int) -> t.Tuple[int, str, int]:
        """(n, mac, size) of the chain's last line, caught up from the file where the head is behind it."""
        raw = os.pread(head_fd, _HEAD_BYTES, 0)
        size = os.fstat(ledger_fd).st_size
        try:
            text = raw.decode("ascii")
            number = int(text[2:22])
            known = int(text[28:48])
            mac = text[53:117]
            if len(mac) != 64 or text[22:28] != " size=":
                raise ValueError(text)
        except (UnicodeDecodeError, ValueError, IndexError):
            number, known, mac = 0, 0, GENESIS
            if size:
                # No head, or a torn one: the whole file says where the chain is.
                known = -1
        if known == size:
            return number, mac, size
        start = 0 if known < 0 else known
        tail = os.pread(ledger_fd, size - start, start)
        if tail and not tail.endswith(b"\n"):
            # A writer killed in the middle of its line: end it, so the next line starts on its own (it reads as torn).
            os.write(ledger_fd, b"\n")
            size += 1
            tail += b"\n"
        for raw_line in tail.split(b"\n"):
            entry = parse_line(raw_line) if raw_line else None
            if entry is not None and isinstance(entry.get("n"), int) and isinstance(entry.get("mac"), str):
                number, mac = entry["n"], entry["mac"]
        return number, mac, size

    def _append(
        self, entry: t.Dict[str, t.Any], host: t.Optional[str] = None,
        complete: t.Optional[t.Callable[[t.Dict[str, t.Any], str, int], None]] = None,
    ) -> t.Dict[str, t.Any]:
        """Numbers, chains and writes one line (for an intent, with the host's next seq); returns it. ``complete``
        fills in, under the lock, what depends on the chain's head (a seal's count, head and signature)."""
        self._prepare()
        lock_fd = open_private(os.path.join(self.directory, LOCK_FILE), os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            ledger_fd = open_private(os.path.join(self.directory, LEDGER_FILE), os.O_RDWR | os.O_APPEND | os.O_CREAT)
            head_fd = open_private(os.path.join(self.directory, HEAD_FILE), os.O_RDWR | os.O_CREAT)
            try:
                number, previous, size = self._head(head_fd, ledger_fd)
                if number == 0 and entry.get("kind") != START:
                    # A run whose first line is not its start (the callback could not write one): the start still
                    # comes first, so that a reader knows how the lines are chained.
                    first = self._start_entry()
                    first["n"] = 1
                    first["mac"] = chain_mac(self.key, previous, first)
                    size += self._write_line(ledger_fd, first)
                    number, previous = 1, first["mac"]
                if host is not None:
                    entry["seq"] = self._next_seq(host, ledger_fd)
                if complete is not None:
                    complete(entry, previous, number)
                entry["n"] = number + 1
                entry["mac"] = chain_mac(self.key, previous, entry)
                written = self._write_line(ledger_fd, entry)
                os.pwrite(head_fd, (_HEAD % (entry["n"], size + written, entry["mac"])).encode("ascii"), 0)
            finally:
                os.close(head_fd)
                os.close(ledger_fd)
        except OSError as exc:
            raise LedgerError("cannot write the ledger in %s: %s" % (self.directory, exc.strerror or exc)) from None
        finally:
            os.close(lock_fd)
        return entry

    def _write_line(self, ledger_fd: int, entry: t.Mapping[str, t.Any]) -> int:
        data = (json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str) + "\n").encode("ascii")
        if len(data) > MAX_LINE:
            raise LedgerError("a ledger line of %d bytes is over the %d the ledger takes" % (len(data), MAX_LINE))
        written = os.write(ledger_fd, data)
        if written != len(data):
            raise LedgerError("the ledger in %s took %d of %d bytes of a line" % (self.directory, written, len(data)))
        return written

    def _next_seq(self, host: str, ledger_fd: int) -> int:
        """The host's next sequence number, from the run's counter table (under the run's lock).

        One file, an open-addressing hash table of fixed 32-byte slots (a host's digest and its last seq) after a
        header: a change reads and writes one slot whatever the number of hosts, each write is one aligned pwrite
        that cannot tear across a sector, and the table doubles (into a new file, renamed over) when half full. A
        table that does not read as one is rebuilt from the ledger, which holds every seq ever given."""
        digest = hashlib.sha256(host.encode("utf-8", "surrogateescape")).digest()[:_DIGEST_BYTES]
        path = os.path.join(self.directory, SEQ_FILE)
        fd = open_private(path, os.O_RDWR | os.O_CREAT)
        try:
            header = os.pread(fd, _SEQ_HEADER.size, 0)
            try:
                magic, capacity, used = _SEQ_HEADER.unpack(header)
                if magic != _SEQ_MAGIC or capacity < _MIN_SLOTS or capacity & (capacity - 1) or used > capacity:
                    raise ValueError(header)
            except (ValueError, struct.error):
                os.close(fd)
                fd = -1
                capacity, used = self._rebuild_seq(path, self._seqs_in_ledger(ledger_fd), _MIN_SLOTS)
                fd = open_private(path, os.O_RDWR)
            if (used + 1) * 2 > capacity:
                os.close(fd)
                fd = -1
                capacity, used = self._rebuild_seq(path, self._table(path), capacity * 2)
                fd = open_private(path, os.O_RDWR)
            index = int.from_bytes(digest[:8], "big") & (capacity - 1)
            while True:
                raw = os.pread(fd, _SLOT.size, _SLOTS_AT + index * _SLOT.size)
                owner, last = _SLOT.unpack(raw) if len(raw) == _SLOT.size else (_EMPTY, 0)
                if owner == digest or owner == _EMPTY:
                    break
                index = (index + 1) & (capacity - 1)
            seq = last + 1
            # Written before the line: a crash in between skips a number, never gives one twice.
            os.pwrite(fd, _SLOT.pack(digest, seq), _SLOTS_AT + index * _SLOT.size)
            if owner == _EMPTY:
                os.pwrite(fd, _SEQ_HEADER.pack(_SEQ_MAGIC, capacity, used + 1), 0)
            return seq
        finally:
            if fd >= 0:
                os.close(fd)

    @staticmethod
    def _table(path: str) -> t.Dict[bytes, int]:
        with open(path, "rb") as handle:
            data = handle.read()
        found = {}
        for offset in range(_SLOTS_AT, len(data) - _SLOT.size + 1, _SLOT.size):
            owner, last = _SLOT.unpack_from(data, offset)
            if owner != _EMPTY:
                found[owner] = last
        return found

    def _rebuild_seq(self, path: str, seqs: t.Mapping[bytes, int], capacity: int) -> t.Tuple[int, int]:
        while len(seqs) * 2 >= capacity:
            capacity *= 2
        table = bytearray(_SLOTS_AT + capacity * _SLOT.size)
        _SEQ_HEADER.pack_into(table, 0, _SEQ_MAGIC, capacity, len(seqs))
        for owner, last in seqs.items():
            index = int.from_bytes(owner[:8], "big") & (capacity - 1)
            while table[_SLOTS_AT + index * _SLOT.size:_SLOTS_AT + index * _SLOT.size + _DIGEST_BYTES] != _EMPTY:
                index = (index + 1) & (capacity - 1)
            _SLOT.pack_into(table, _SLOTS_AT + index * _SLOT.size, owner, last)
        fresh = path + ".new"
        fd = open_private(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            os.write(fd, bytes(table))
        finally:
            os.close(fd)
        os.replace(fresh, path)
        return capacity, len(seqs)

    @staticmethod
    def _seqs_in_ledger(ledger_fd: int) -> t.Dict[bytes, int]:
        size = os.fstat(ledger_fd).st_size
        last: t.Dict[bytes, int] = {}
        for raw_line in os.pread(ledger_fd, size, 0).split(b"\n"):
            entry = parse_line(raw_line) if raw_line else None
            if entry and isinstance(entry.get("host"), str) and isinstance(entry.get("seq"), int):
                owner = hashlib.sha256(entry["host"].encode("utf-8", "surrogateescape")).digest()[:_DIGEST_BYTES]
                last[owner] = max(last.get(owner, 0), entry["seq"])
        return last

    # ------------------------------------------------------------------ the lines

    def _entry(self, kind: str, **fields: t.Any) -> t.Dict[str, t.Any]:
        entry = {"format": LEDGER_FORMAT, "kind": kind, "time": now(), "run_id": self.run_id}
        entry.update(fields)
        return entry

    def _start_entry(self, **about: t.Any) -> t.Dict[str, t.Any]:
        return self._entry(START, nonce=secrets.token_hex(16), chain="hmac-sha256" if self.key else "sha256",
                           key_id=self.key_id, pid=os.getpid(), **about)

    def start(self, **about: t.Any) -> t.Dict[str, t.Any]:
        """Notes that a controller process began (or resumed) the run; ``about`` says who and where."""
        return self._append(self._start_entry(**about))

    def intent(self, host: str, task: t.Mapping[str, t.Any]) -> int:
        """Notes that a task may now change ``host``; returns the sequence number its record carries."""
        entry = self._entry(INTENT, host=host)
        entry.update({key: value for key, value in task.items() if key not in ("n", "mac", "seq", "kind", "format")})
        return int(self._append(entry, host=host)["seq"])

    def outcome(self, host: str, seq: int, outcome: str, **details: t.Any) -> None:
        if outcome not in OUTCOMES:
            raise ValueError("unknown outcome %r" % (outcome,))
        if details.get("path") not in (None,) + PATHS:
            raise ValueError("unknown record path %r" % (details["path"],))
        entry = self._entry(OUTCOME, host=host, seq=seq, outcome=outcome)
        entry.update({key: value for key, value in details.items() if value is not None})
        self._append(entry)

    def seal(self, final: bool = True, **about: t.Any) -> t.Dict[str, t.Any]:
        """Seals the ledger as it is: the count of lines before the seal and the mac of the last are in the seal's
        chained line, which the controller's signing key signs. ``final``: the run ended; else a checkpoint (the
        evidence of a run that goes on seals what it proves)."""
        signer = self.signer

        def complete(entry: t.Dict[str, t.Any], previous: str, number: int) -> None:
            entry.update(lines=number, head=previous)
            if signer is not None:
                entry["signature"] = signer(seal_text(entry))

        return self._append(self._entry(SEAL, final=final, pid=os.getpid(), **about), complete=complete)


# The writer's own read-back, which the callback's tests and record counts take: its check is open_ledger's.
def read_ledger(ledger_dir: str, run_id: str, key: t.Optional[bytes] = None) -> t.List[t.Dict[str, t.Any]]:
    """The intent and outcome lines of a run's ledger (``open_ledger`` for their check)."""
    return [entry for entry in open_ledger(ledger_dir, run_id, key).entries if entry.get("kind") in (INTENT, OUTCOME)]


__all__ = [
    "IN_MODULE_PATH",
    "WRITER_PATH",
    "PATHS",
    "LEDGER_KEY_PURPOSE",
    "RECORDED",
    "UNCHANGED",
    "NOT_RECORDED",
    "SKIPPED_BY_POLICY",
    "UNKNOWN",
    "MISSING",
    "UNKNOWN_OUTCOME",
    "Outcome",
    "OUTCOMES",
    "MAX_LINE",
    "Ledger",
    "ledger_location",
    "read_ledger",
]
