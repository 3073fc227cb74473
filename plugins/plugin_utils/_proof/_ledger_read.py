# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Reading a run's ledger back and checking its chain (``open_ledger``): each line against the mac of the line
before it, the seal's count and head against the lines it covers, and each break named (edited, deleted, inserted,
duplicated, reordered, torn). The evidence (``_evidence``) and the drift report read a ledger so.
"""

from __future__ import annotations

import hmac
import os
import typing as t

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger_chain import (
    GENESIS,
    INTENT,
    LEDGER_FILE,
    OUTCOME,
    SEAL,
    START,
    canonical,
    chain_mac,
    check_private_directory,
    open_private,
    parse_line,
    run_directory,
    seal_text,
)

# What open_ledger finds wrong with a ledger's lines.
EDITED = "edited"
DELETED = "deleted"
INSERTED = "inserted"
DUPLICATED = "duplicated"
REORDERED = "reordered"
TORN = "torn"
UNREADABLE = "unreadable"


class LedgerReading(t.NamedTuple):
    """A run's ledger as read and checked: ``entries`` the lines that parse (intent, outcome, start, seal);
    ``problems`` each break of the chain ({"line": n or file line, "problem": EDITED..., "detail": text});
    ``sealed`` whether a seal covers every change line, ``final`` whether that seal says the run ended; ``head`` the
    mac of the last line; ``keyed`` whether the chain was checked under the key (False: plain SHA-256, or the key
    was not at hand); ``seal_signatures`` the seals' signatures and what they signed, for the caller to verify."""

    entries: t.List[t.Dict[str, t.Any]]
    problems: t.List[t.Dict[str, t.Any]]
    sealed: bool
    final: bool
    head: t.Optional[str]
    lines: int
    keyed: bool
    format: int
    seal_signatures: t.List[t.Tuple[bytes, str]]

    @property
    def intact(self) -> bool:
        return not self.problems


# Values of a ledger line that repeat across lines (open_ledger holds each once).
_SHARED_VALUES = frozenset(("kind", "run_id", "host", "module", "object", "task_id", "outcome", "res", "path", "cmd",
                            "play", "task_path", "become_user", "ctl_user", "key_id", "chain", "policy"))


def open_ledger(ledger_dir: str, run_id: str, key: t.Optional[bytes] = None, key_id: t.Optional[str] = None) -> LedgerReading:
    """Reads a run's ledger and checks its chain; raises FileNotFoundError when the run has none, and LedgerError
    when its directory is not the controller user's own. Streams the file: what it keeps grows with the lines'
    count (their entries, and a mac each), not with their text.

    Each line is checked against the mac of the line numbered before it, wherever that one stands in the file, so
    that a moved line, or the line after a deleted one, is not taken for an edited one; a line no genuine line
    follows and whose number is past the chain's end is one that was inserted."""
    directory = run_directory(ledger_dir, run_id)
    if not os.path.lexists(directory):
        raise FileNotFoundError(directory)
    check_private_directory(directory, "run's ledger directory")
    problems: t.List[t.Dict[str, t.Any]] = []
    signatures: t.List[t.Tuple[bytes, str]] = []
    kept: t.Dict[int, t.Dict[str, t.Any]] = {}
    seen: t.Dict[int, str] = {}
    verified: t.Set[int] = set()
    order: t.List[int] = []
    pending: t.Dict[int, t.Tuple[t.Dict[str, t.Any], t.Any]] = {}
    legacy: t.List[t.Dict[str, t.Any]] = []
    format_seen = 0
    keyed = False
    missing = object()
    # The key the lines are checked under: None for a plain SHA-256 chain, ``missing`` when it is not at hand.
    mac_key: t.Any = None

    def problem(where: t.Any, kind: str, detail: str) -> None:
        problems.append({"line": where, "problem": kind, "detail": detail})

    def check(number: int, entry: t.Dict[str, t.Any], before: str, under: t.Any) -> None:
        if under is missing or hmac.compare_digest(chain_mac(under, before, entry), str(entry.get("mac"))):
            verified.add(number)
        else:
            problem(number, EDITED, "line %d does not match its mac: it was changed after it was written" % number)

    shared: t.Dict[str, str] = {}
    share = shared.setdefault
    fd = open_private(os.path.join(directory, LEDGER_FILE), os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        for file_line, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            entry = parse_line(raw.rstrip(b"\n"))
            if entry is None:
                problem(file_line, TORN if not raw.endswith(b"\n") else UNREADABLE,
                        "line %d of the file is not a whole ledger line (a writer killed while writing it, or an edit)"
                        % file_line)
                continue
            if "mac" not in entry and "n" not in entry:
                # A ledger of collection 1.1, before its lines were chained.
                legacy.append(entry)
                continue
            number, mac = entry.get("n"), entry.get("mac")
            if not isinstance(number, int) or isinstance(number, bool) or number < 1 or not isinstance(mac, str):
                problem(file_line, EDITED, "line %d of the file has no line number or mac" % file_line)
                continue
            format_seen = max(format_seen, entry.get("format") if isinstance(entry.get("format"), int) else 0)
            if entry.get("kind") == START:
                if entry.get("chain") != "hmac-sha256":
                    mac_key = None
                elif key is not None and (key_id is None or entry.get("key_id") == key_id):
                    mac_key, keyed = key, True
                else:
                    if mac_key is not missing:
                        problem(number, UNREADABLE, "the lines are chained under the key %s, which is not at hand: their "
                                "order is checked, their content cannot be" % entry.get("key_id"))
                    mac_key = missing
            if number in seen:
                if seen[number] == mac and canonical(entry) == canonical(kept[number]):
                    problem(number, DUPLICATED, "line %d appears again at line %d of the file" % (number, file_line))
                else:
                    problem(number, INSERTED, "a second line %d (line %d of the file) that the chain does not hold"
                            % (number, file_line))
                continue
            seen[number] = mac
            order.append(number)
            # Each line's names, and the values that repeat from line to line, held once for the whole ledger: a
            # run of 200,000 changes is 400,000 lines, kept until the evidence is written.
            kept[number] = entry = {share(name, name): share(value, value) if name in _SHARED_VALUES and isinstance(value, str)
                                    else value for name, value in entry.items()}
            before = GENESIS if number == 1 else seen.get(number - 1)
            if before is None:
                pending[number - 1] = (entry, mac_key)
            else:
                check(number, entry, before, mac_key)
            follower = pending.pop(number, None)
            if follower is not None:
                check(number + 1, follower[0], mac, follower[1])
    # The chain ends at the last line that verifies or that a verified line follows.
    anchored = verified | {number - 1 for number in verified if number > 1}
    highest = max(anchored) if anchored else 0
    untrusted = {found["line"] for found in problems if found["problem"] == EDITED}
    for before, (entry, _under) in pending.items():
        if before + 1 > highest:
            problem(before + 1, INSERTED, "line %d is not held by the chain (it follows no line of the ledger)" % (before + 1))
            untrusted.add(before + 1)
    running = 0
    for number in order:
        if number in verified:
            if number < running:
                problem(number, REORDERED, "line %d comes after line %d in the file" % (number, running))
            running = max(running, number)
    for first, last in _ranges([number for number in range(1, highest + 1) if number not in seen]):
        problem(first, DELETED, "line%s %s of the ledger %s missing" % (
            "s" if last > first else "", "%d-%d" % (first, last) if last > first else str(first),
            "are" if last > first else "is"))
    if legacy:
        problem(None, UNREADABLE, "%d line%s of format 1 (collection 1.1) carry no chain, so no edit of them can be shown"
                % (len(legacy), "" if len(legacy) == 1 else "s"))
    if not highest and not legacy and not problems:
        problem(None, UNREADABLE, "the ledger holds no line")
    entries: t.List[t.Dict[str, t.Any]] = list(legacy)
    sealed_through, final, last_change = 0, False, 0
    for number in sorted(kept):
        entry = kept[number]
        kind = entry.get("kind")
        if number in untrusted or number > highest:
            continue
        if kind == SEAL:
            if number in verified and entry.get("lines") == number - 1 and entry.get("head") == seen.get(number - 1):
                sealed_through, final = number, bool(entry.get("final"))
                if isinstance(entry.get("signature"), str):
                    signatures.append((seal_text(entry), entry["signature"]))
            continue
        if kind in (INTENT, OUTCOME):
            last_change = number
        entries.append(entry)
    sealed = bool(sealed_through) and sealed_through == highest and sealed_through > last_change
    problems.sort(key=lambda found: (found["line"] is not None, found["line"] or 0))
    return LedgerReading(entries, problems, sealed, final and sealed, seen.get(highest), highest, keyed,
                         format_seen or (1 if legacy else 0), signatures)


def _ranges(numbers: t.Sequence[int]) -> t.Iterator[t.Tuple[int, int]]:
    start = None
    last = 0
    for number in numbers:
        if start is None:
            start = number
        elif number != last + 1:
            yield start, last
            start = number
        last = number
    if start is not None:
        yield start, last


__all__ = [
    "EDITED",
    "DELETED",
    "INSERTED",
    "DUPLICATED",
    "REORDERED",
    "TORN",
    "UNREADABLE",
    "LedgerReading",
    "open_ledger",
]
