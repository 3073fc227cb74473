# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Proving a run: the run's ledger (what the controller changed) matched with what each host's audit trail holds,
and the report an auditor reads and a pipeline gates on.

A change is one (host, seq) of the ledger; a record is matched to it by the host it was read on, its ``run_id``
and its ``seq``. The report is written as evidence.json (the whole reconciliation, ``EVIDENCE_FORMAT``),
evidence.csv (a row per change), junit.xml (a test case per change of the ledger), evidence.html (one page with
no external asset) and MANIFEST.sha256 over them; times are UTC.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import html
import io
import json
import os
import secrets
import stat
import typing as t
from xml.etree import ElementTree

from ansible.errors import AnsibleError

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import RECORD_SIG_FIELD, record_signature_problem

if t.TYPE_CHECKING:
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import SigningKey

EVIDENCE_FORMAT = 2

# Per change.
RECORDED = "recorded"
MISSING = "missing"
UNKNOWN_OUTCOME = "unknown_outcome"
SKIPPED_BY_POLICY = "skipped_by_policy"
HOST_UNREACHABLE = "host_unreachable"
# Central collector mode (_collector.py): the host's nodes sent the collector no record of the run at all.
NO_RECORDS_FROM_NODE = "no_records_from_node"
UNEXPECTED = "unexpected"
# A record of the collection's own modules (audited, usys_config): they record themselves and are not in a ledger.
OWN_RECORD = "own_record"
STATUSES = (RECORDED, MISSING, UNKNOWN_OUTCOME, SKIPPED_BY_POLICY, HOST_UNREACHABLE, NO_RECORDS_FROM_NODE, UNEXPECTED,
            OWN_RECORD)
# What fails the proof: a change of the ledger without its record, or whose end nobody saw, or a record nobody
# ordered, or a host whose trail could not be read or whose node sent the collector nothing.
GAPS = (MISSING, UNKNOWN_OUTCOME, HOST_UNREACHABLE, NO_RECORDS_FROM_NODE, UNEXPECTED)

REPORT_FILES = ("evidence.json", "evidence.csv", "junit.xml", "evidence.html")
MANIFEST = "MANIFEST.sha256"
CSV_COLUMNS = ("host", "seq", "status", "time", "task", "module", "object", "user", "audit_serial", "event_id",
               "task_id", "reason")
# The signed manifest (write_report): every file of the report and its sha256, the ledger's head, the summary and
# verdict; MANIFEST.sig holds the controller key's signature of MANIFEST.json's bytes, signing.pub its public key.
MANIFEST_JSON = "MANIFEST.json"
MANIFEST_SIG = "MANIFEST.sig"
REPORT_PUBLIC_KEY = "signing.pub"
MANIFEST_FORMAT = 1
REPORT_FILE_MODE = 0o640


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _utc(epoch: t.Any) -> t.Optional[str]:
    if not isinstance(epoch, (int, float)):
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat(timespec="milliseconds")


def _int(value: t.Any) -> t.Optional[int]:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def ledger_changes(entries: t.Iterable[t.Mapping[str, t.Any]]) -> t.Dict[t.Tuple[str, int], t.Dict[str, t.Any]]:
    """(host, seq) -> {"intent": line, "outcome": line or None}, in the ledger's order."""
    changes: t.Dict[t.Tuple[str, int], t.Dict[str, t.Any]] = {}
    for entry in entries:
        host, seq = entry.get("host"), _int(entry.get("seq"))
        if not isinstance(host, str) or seq is None:
            continue
        slot = changes.setdefault((host, seq), {"intent": None, "outcome": None})
        if entry.get("kind") in ("intent", "outcome"):
            # The line itself, not a copy: a run of 200,000 changes would hold its ledger twice.
            slot[entry["kind"]] = entry
    return changes


def window(entries: t.Sequence[t.Mapping[str, t.Any]], margin: float = 300.0) -> t.Dict[str, t.Optional[str]]:
    """The span of the run's ledger, widened by ``margin`` seconds each side (clocks of hosts drift), as ISO-8601
    UTC times usys_config_info takes for since/until; both None for an empty ledger."""
    times = []
    for entry in entries:
        try:
            times.append(datetime.datetime.fromisoformat(str(entry.get("time"))))
        except ValueError:
            continue
    if not times:
        return {"since": None, "until": None}
    delta = datetime.timedelta(seconds=margin)
    return {"since": (min(times) - delta).isoformat(timespec="seconds"), "until": (max(times) + delta).isoformat(timespec="seconds")}


def _change_row(host: str, seq: t.Optional[int], status: str, intent: t.Optional[t.Mapping[str, t.Any]],
                record: t.Optional[t.Mapping[str, t.Any]], reason: t.Optional[str]) -> t.Dict[str, t.Any]:
    intent = intent or {}
    fields = (record or {}).get("fields") or {}
    return {
        "host": host,
        "seq": seq,
        "status": status,
        "time": (record and _utc(record.get("timestamp"))) or intent.get("time"),
        "task": fields.get("cmd", intent.get("cmd")),
        "module": fields.get("module", intent.get("module")),
        "object": fields.get("object", intent.get("object")),
        "user": fields.get("become_user", intent.get("become_user")),
        "login": (record or {}).get("auid_name"),
        "audit_serial": (record or {}).get("serial"),
        "event_id": (record or {}).get("event_id"),
        "task_id": fields.get("task_id", intent.get("task_id")),
        "reason": reason,
    }


def records_signed(ledger: t.Optional[t.Mapping[str, t.Any]]) -> t.Tuple[bool, t.Optional[str]]:
    """(whether the run signed its records, the id of the key its ledger is chained under), from the start lines
    of its checked ledger (``LedgerReading._asdict()``): a run of 1.2 on says so there, under the chain's key."""
    signed, key_id = False, None
    for entry in (ledger or {}).get("entries") or ():
        if entry.get("kind") == "start":
            signed = signed or entry.get("record_signature") == RECORD_SIG_FIELD
            key_id = key_id or entry.get("key_id")
    return signed, key_id


# How many records that fail their signature check get the costlier diagnosis (what was altered): a flood of
# forged records must not make the proof take hours.
DIAGNOSED_MAX = 200
# The name the controller's own trail has in a report.
CONTROLLER_TRAIL = "the controller"


def _event_key(record: t.Mapping[str, t.Any]) -> t.Tuple[t.Any, ...]:
    return (record.get("node"), record.get("event_id"), record.get("serial"))


def reconcile(
    run_id: str,
    entries: t.Optional[t.Sequence[t.Mapping[str, t.Any]]],
    reads: t.Mapping[str, t.Mapping[str, t.Any]],
    ledger: t.Optional[t.Mapping[str, t.Any]] = None,
    public_key: t.Optional[t.Any] = None,
    controller: t.Optional[t.Mapping[str, t.Any]] = None,
    signed: t.Optional[bool] = None,
) -> t.Dict[str, t.Any]:
    """The evidence of one run. ``entries``: its ledger lines (None: the run kept no ledger, so the report is an
    inventory of its records). ``reads``: inventory host -> {"reachable": bool, "records": [...],
    "error": str}, the records usys_config_info read there. ``ledger``: what the check of the ledger's chain found
    (``_ledger.LedgerReading`` as a dict: problems, sealed, final, head, lines, keyed, entries); each problem, and a
    ledger no seal covers (the run did not end, or its tail was cut), fails the proof. ``public_key``: the
    controller's (``_signing.PublicKey`` or ``SigningKey``), which checks each record's signature. ``controller``:
    the read of the controller's own trail (as a read of ``reads``), the only place a record kept there
    (``kept_on=controller``, for a host that cannot keep its own) counts. ``signed``: whether the run's records must
    carry the controller's signature (None: as the ledger's start lines say, ``records_signed``).

    A record proves a change when it names the change's run, host and seq and the task the ledger says made it
    (task_id, whose random part differs between runs), is read on the host it names (or, kept on the controller, in
    the controller's trail), and, for a run that signs its records, carries a signature of the run's key over all of
    that: a record a host forged for another host or another run, altered, copied from another run, or unsigned is
    unexpected, and never takes the place of the genuine record of the change, whatever the order they are read in.
    Time and memory grow with the changes and records, not with hosts times rows."""
    changes = ledger_changes(entries or [])
    if signed is None:
        signed = records_signed(ledger)[0]
    found: t.Dict[t.Tuple[str, int], t.Mapping[str, t.Any]] = {}
    rows: t.List[t.Dict[str, t.Any]] = []
    nodes: t.Dict[str, t.Set[str]] = {}
    foreign: t.Dict[str, int] = {}
    diagnosed = [0]

    def signature_problem(record: t.Mapping[str, t.Any], fields: t.Mapping[str, t.Any]) -> t.Optional[str]:
        if not signed and fields.get(RECORD_SIG_FIELD) in (None, ""):
            # A run of before 1.2 signed nothing: its records are matched as they were then.
            return None
        if not signed and public_key is None:
            return None
        diagnose = diagnosed[0] < DIAGNOSED_MAX
        problem = record_signature_problem(public_key, record.get("op"), record.get("result"), fields, diagnose)
        if problem is not None and diagnose and problem.startswith("signature does not verify"):
            diagnosed[0] += 1
        return problem

    # What the controller's trail holds that it kept for other hosts: the same event read again in a managed host's
    # log is that log shared with the controller's (test hosts on one machine), not a second record.
    kept_events: t.Set[t.Tuple[t.Any, ...]] = set()
    sources: t.List[t.Tuple[str, t.Mapping[str, t.Any], bool]] = [(host, read, False) for host, read in reads.items()]
    if controller is not None:
        sources.insert(0, (CONTROLLER_TRAIL, controller, True))
        kept_events = {_event_key(record) for record in controller.get("records") or ()
                       if (record.get("fields") or {}).get("kept_on") == "controller"}
    for host, read, own_trail in sources:
        names = nodes.setdefault(host, set()) if not own_trail else set()
        for record in read.get("records") or []:
            fields = record.get("fields") or {}
            if fields.get("run_id") != run_id:
                continue
            kept = fields.get("kept_on") == "controller"
            if own_trail:
                if not kept:
                    # A managed host's record in a log it shares with the controller: matched in that host's read.
                    continue
                owner = str(fields.get("changed_host") or "")
                if not owner:
                    rows.append(_change_row(CONTROLLER_TRAIL, _int(fields.get("seq")), UNEXPECTED, None, record,
                                            "a record kept on the controller that names no changed_host"))
                    continue
            elif kept:
                if _event_key(record) in kept_events:
                    foreign[host] = foreign.get(host, 0) + 1
                    continue
                # Only the controller writes these, into its own trail: one in a managed host's log was written there
                # (root on that host forging another host's record) or copied into it.
                rows.append(_change_row(host, _int(fields.get("seq")), UNEXPECTED, None, record,
                                        "a record kept on the controller (kept_on=controller, for host %s) found in the "
                                        "trail of %s: only the controller's own trail holds those, so it counts for "
                                        "nothing here: forged, or copied there" % (fields.get("changed_host"), host)))
                continue
            else:
                # A record is written on the host it changed, which it names (delegated_to, else inventory_host): one
                # naming another host is that host's, read here from a log that holds several hosts' records (a log
                # forwarded to one place, or test hosts sharing one machine), and counts only in that host's read.
                target = fields.get("delegated_to") or fields.get("inventory_host")
                if target and target != host:
                    foreign[host] = foreign.get(host, 0) + 1
                    continue
                owner = host
            # node= names the host that logged the record (auditd's name_format); hostname= is where the change
            # came from, the controller.
            if record.get("node"):
                names.add(str(record["node"]))
            seq = _int(fields.get("seq"))
            problem = signature_problem(record, fields)
            if seq is None:
                if problem is not None and fields.get(RECORD_SIG_FIELD) not in (None, ""):
                    # A record of audited or usys_config whose signature fails: someone else's text.
                    rows.append(_change_row(owner, None, UNEXPECTED, None, record, problem))
                else:
                    rows.append(_change_row(owner, None, OWN_RECORD if entries is not None else RECORDED, None, record, None))
                continue
            slot = changes.get((owner, seq))
            ordered_by = ((slot or {}).get("intent") or {}).get("task_id")
            if problem is not None:
                why = problem
            elif slot is None:
                why = "the ledger of the run has no such change"
            elif ordered_by and fields.get("task_id") != ordered_by:
                why = ("a record of another run with the same run_id: its task %s is not the one the ledger says made "
                       "this change (%s)" % (fields.get("task_id"), ordered_by))
            elif (owner, seq) in found:
                why = "a second record of this change"
            else:
                found[(owner, seq)] = record
                continue
            rows.append(_change_row(owner, seq, UNEXPECTED, None, record, why))
    for (host, seq), slot in changes.items():
        intent, outcome = slot["intent"], slot["outcome"] or {}
        said = outcome.get("outcome")
        record = found.get((host, seq))
        if said == "unchanged":
            continue
        reason = None
        if record is not None:
            status = RECORDED
            if not slot["outcome"]:
                reason = "the record is there; the ledger has no outcome for this change"
            elif said == "unknown":
                reason = "the outcome was unknown (%s); the record of the attempt is there" % (outcome.get("reason") or "")
        elif host in reads and not reads[host].get("reachable", True):
            status, reason = HOST_UNREACHABLE, reads[host].get("error") or "the host could not be reached"
        elif host not in reads:
            status, reason = HOST_UNREACHABLE, "the host's audit trail was not read (not in the inventory of this report)"
        elif said == "skipped_by_policy":
            status, reason = SKIPPED_BY_POLICY, (intent or {}).get("policy")
        elif not slot["outcome"]:
            status, reason = UNKNOWN_OUTCOME, "the ledger has the intent of this change and no outcome"
        elif said == "unknown":
            status, reason = UNKNOWN_OUTCOME, outcome.get("reason") or "nobody saw this change end"
        elif reads[host].get("node_silent"):
            # Read from a collector that holds nothing of the run from this host's node: not one dropped record,
            # the host's whole forwarding (or the node map) is what is wrong.
            status, reason = NO_RECORDS_FROM_NODE, reads[host].get("error") or "no records from this node"
        else:
            status = MISSING
            reason = outcome.get("reason") or "no record of this change in the host's audit trail"
            if controller is not None and not controller.get("reachable", True):
                reason += (" (nor could the controller's own trail be read, which holds the records of hosts whose "
                           "changeaudit_host_policy is controller: %s)" % (controller.get("error") or "no detail"))
        rows.append(_change_row(host, seq, status, intent, record, reason))
    rows.sort(key=lambda row: (row["host"], row["seq"] if row["seq"] is not None else 1 << 62, STATUSES.index(row["status"]),
                               row["time"] or ""))
    summary = {status: 0 for status in STATUSES}
    per_host: t.Dict[str, t.List[int]] = {}
    for row in rows:
        summary[row["status"]] += 1
        counted = per_host.setdefault(row["host"], [0, 0])
        counted[0] += 1
        counted[1] += row["status"] in GAPS
    hosts = {}
    for host in sorted(set(reads) | set(per_host)):
        read = reads.get(host, {})
        counted = per_host.get(host, [0, 0])
        hosts[host] = {
            "reachable": host in reads and bool(read.get("reachable", True)),
            "error": read.get("error"),
            "nodes": sorted(nodes.get(host, ())),
            "records_read": len(read.get("records") or []),
            "records_of_other_hosts": foreign.get(host, 0),
            "collector": read.get("collector"),
            "changes": counted[0],
            "gaps": counted[1],
        }
    check = _ledger_check(entries, ledger)
    change_gaps = sum(summary[status] for status in GAPS)
    ledger_gaps = len(check["problems"]) + (0 if check["sealed"] or entries is None else 1)
    summary.update(changes=len(rows), gaps=change_gaps + ledger_gaps, change_gaps=change_gaps,
                   ledger_problems=len(check["problems"]), run_ended=bool(check["final"]))
    key_id = getattr(public_key, "key_id", None)
    return {
        "signatures": {"required": bool(signed), "key_id": key_id},
        "controller_trail": None if controller is None else {
            "reachable": bool(controller.get("reachable", True)), "error": controller.get("error"),
            "records_read": len(controller.get("records") or [])},
        "format": EVIDENCE_FORMAT,
        "run_id": run_id,
        "generated": utc_now(),
        "ledger": entries is not None,
        "ledger_check": check,
        "verdict": verdict_text(summary, check, entries is not None),
        "window": window(entries or []),
        "summary": summary,
        "hosts": hosts,
        "changes": rows,
    }


def _ledger_check(entries: t.Optional[t.Sequence[t.Mapping[str, t.Any]]], ledger: t.Optional[t.Mapping[str, t.Any]]) -> t.Dict[str, t.Any]:
    if entries is None:
        return {"kept": False, "problems": [], "sealed": False, "final": False, "head": None, "lines": 0, "keyed": False}
    ledger = dict(ledger or {})
    return {
        "kept": True,
        "problems": list(ledger.get("problems") or []),
        "sealed": bool(ledger.get("sealed")),
        "final": bool(ledger.get("final")),
        "head": ledger.get("head"),
        "lines": int(ledger.get("lines") or 0),
        "keyed": bool(ledger.get("keyed")),
    }


def verdict_text(summary: t.Mapping[str, t.Any], check: t.Mapping[str, t.Any], kept: bool) -> str:
    """The report's verdict in one sentence: what an auditor signs off on, or why not."""
    parts = []
    if summary["change_gaps"]:
        parts.append("%d change%s without proof" % (summary["change_gaps"], "" if summary["change_gaps"] == 1 else "s"))
    if check["problems"]:
        parts.append("the ledger was altered after it was written (%s)" % "; ".join(
            problem["detail"] for problem in check["problems"][:5]))
    if kept and not check["sealed"]:
        parts.append("the run did not end (its ledger has no seal over its last change: the run is still going, was "
                     "killed, or the ledger's tail was cut); what it holds was checked")
    if parts:
        return "Not proven: " + "; ".join(parts) + "."
    if not kept:
        return "The run kept no ledger: this is the inventory of its records per host, not a proof."
    if not check["final"]:
        return "Every change of the run so far has its record (the run goes on; its ledger is sealed up to here)."
    return "Every change of the run has its record."


# ---------------------------------------------------------------------------------------------- the report


def _escape(code: int) -> str:
    if 0xDC80 <= code <= 0xDCFF:
        # surrogateescape's stand-in for the undecodable byte code - 0xDC00: shown as that byte.
        return "\\x%02x" % (code - 0xDC00)
    if code <= 0xFF:
        return "\\x%02x" % code
    if code <= 0xFFFF:
        return "\\u%04x" % code
    return "\\U%08x" % code


_SURROGATES = range(0xD800, 0xE000)
# What a report shows as an escape instead of as itself: every control character (C0 with NUL, DEL, C1), the
# line and paragraph separators U+2028/U+2029, the noncharacters (U+FFFE and U+FFFF of every plane, U+FDD0-U+FDEF)
# and surrogates (a byte the reader could not decode,
# as surrogateescape gives it, or a lone one). XML 1.0 cannot hold most of them, a line break would split a CSV row
# for every line-based tool, and none is seen on a page; surrogates have no UTF-8 form at all, so the report could
# not even be written. The task and play names in records are anyone's text.
_UNSHOWN = {code: _escape(code) for code in (
    list(range(0x20)) + list(range(0x7F, 0xA0)) + [0x2028, 0x2029] + list(_SURROGATES) + list(range(0xFDD0, 0xFDF0))
    + [plane * 0x10000 + low for plane in range(17) for low in (0xFFFE, 0xFFFF)])}
# For evidence.json: a surrogate as its JSON escape.
_JSON_SURROGATES = {code: "\\u%04x" % code for code in _SURROGATES}


def shown(value: t.Any, keep: str = "") -> str:
    """``value`` as report text: anything as str, each character of _UNSHOWN (but those in ``keep``) as a
    ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN`` escape (an undecodable byte as ``\\xNN`` of the byte). The result is
    valid UTF-8 and XML 1.0 text. A backslash is left as it is: the escapes are for the eye, evidence.json holds
    the values themselves."""
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if text.isprintable():
        # Every character of _UNSHOWN is unprintable to Python (Cc, Cs, Cn, Zl, Zp): almost every value is done here.
        return text
    if keep:
        table = dict(_UNSHOWN)
        for char in keep:
            table.pop(ord(char), None)
        return text.translate(table)
    return text.translate(_UNSHOWN)


def rows_by_host(evidence: t.Mapping[str, t.Any]) -> t.Dict[str, t.List[t.Mapping[str, t.Any]]]:
    """The report's rows per host, in their order: a renderer walks each host's once, not every row for every host."""
    grouped: t.Dict[str, t.List[t.Mapping[str, t.Any]]] = {}
    for row in evidence["changes"]:
        grouped.setdefault(row["host"], []).append(row)
    return grouped


def iter_json(evidence: t.Mapping[str, t.Any]) -> t.Iterator[str]:
    """evidence.json's text in pieces (render_json): the rows of ``changes`` and the entries of ``hosts`` one a line,
    each through json's C encoder, the rest indented; a report of 200,000 changes is written as it is made, never
    held whole, in a fraction of the pure-Python indenting encoder's time. The same JSON value as one json.dumps."""
    encode = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode

    def indented(value: t.Any) -> str:
        # json never writes a raw line break inside a string: every one here is layout.
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).replace("\n", "\n  ")

    names = sorted(evidence)
    yield "{"
    for number, name in enumerate(names):
        value = evidence[name]
        yield "%s\n  %s: " % ("," if number else "", encode(name))
        if name == "changes" and isinstance(value, list) and value:
            yield "["
            for start in range(0, len(value), 1000):
                yield ",".join("\n    " + encode(row) for row in value[start:start + 1000]).translate(_JSON_SURROGATES) + (
                    "," if start + 1000 < len(value) else "")
            yield "\n  ]"
        elif name == "hosts" and isinstance(value, dict) and value and all(isinstance(key, str) for key in value):
            items = sorted(value.items())
            yield "{"
            for start in range(0, len(items), 1000):
                yield ",".join("\n    %s: %s" % (encode(host), encode(about)) for host, about in items[start:start + 1000]
                               ).translate(_JSON_SURROGATES) + ("," if start + 1000 < len(items) else "")
            yield "\n  }"
        else:
            yield indented(value).translate(_JSON_SURROGATES)
    yield "\n}\n" if names else "}\n"


def render_json(evidence: t.Mapping[str, t.Any]) -> str:
    """evidence.json's text: every value as it is, a surrogate (an undecodable byte, a lone surrogate) as its
    ``\\udcNN`` JSON escape, which json.loads turns back into the same text; valid UTF-8 whatever the values.
    Outside its strings json.dumps writes ASCII only, so every surrogate it leaves is inside one."""
    return "".join(iter_json(evidence))


def iter_csv(evidence: t.Mapping[str, t.Any]) -> t.Iterator[str]:
    """evidence.csv's text in pieces of a thousand rows (render_csv)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for number, row in enumerate(evidence["changes"], 1):
        # Every line break and control character escaped (shown): one line per change, for csv readers and grep alike.
        writer.writerow(["" if row.get(column) is None else _spreadsheet_safe(shown(row[column])) for column in CSV_COLUMNS])
        if not number % 1000:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def render_csv(evidence: t.Mapping[str, t.Any]) -> str:
    return "".join(iter_csv(evidence))


def _spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet would run as a formula (a task name is anyone's text) starts with a quote instead."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_junit(evidence: t.Mapping[str, t.Any]) -> str:
    """A test suite per host, a test case per change of the ledger: a failure for each without its record or with an
    unknown outcome, an error for a host whose trail was not read, skipped for the skip list."""
    # Every text through shown: ElementTree writes a control character or a surrogate as it is, which no XML parser
    # takes. A failure's text keeps its line breaks and tabs, which XML holds.
    return "".join(iter_junit(evidence))


def iter_junit(evidence: t.Mapping[str, t.Any]) -> t.Iterator[str]:
    """junit.xml's text a test suite at a time (render_junit): the tree of one host's cases, never the whole run's."""
    run_id = shown(evidence["run_id"])
    suites = ElementTree.Element("testsuites", name="changeaudit evidence %s" % run_id)
    by_host = rows_by_host(evidence)
    hosts = list(evidence["hosts"])
    if not hosts:
        yield '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"
        return
    # The root element's own text, open: each suite is serialized on its own between its start and end tags.
    suites.text = "\x00"
    head, tail = ElementTree.tostring(suites, encoding="unicode").split("\x00")
    yield '<?xml version="1.0" encoding="UTF-8"?>\n' + head
    for host in hosts:
        cases = [row for row in by_host.get(host, ()) if row["seq"] is not None]
        suite = ElementTree.Element("testsuite", name=shown(host), tests=str(len(cases)))
        counts = {"failures": 0, "errors": 0, "skipped": 0}
        for row in cases:
            case = ElementTree.SubElement(
                suite, "testcase", classname="%s.%s" % (run_id, shown(host)),
                name=shown("#%s %s: %s %s" % (row["seq"], row["task"] or "", row["module"] or "", row["object"] or "")),
            )
            status = shown(row["status"])
            if row["status"] in (MISSING, UNKNOWN_OUTCOME, NO_RECORDS_FROM_NODE, UNEXPECTED):
                ElementTree.SubElement(case, "failure", message=status, type=status).text = shown(row["reason"], "\n\t")
                counts["failures"] += 1
            elif row["status"] == HOST_UNREACHABLE:
                ElementTree.SubElement(case, "error", message=status, type=status).text = shown(row["reason"], "\n\t")
                counts["errors"] += 1
            elif row["status"] == SKIPPED_BY_POLICY:
                ElementTree.SubElement(case, "skipped", message=shown(row["reason"] or row["status"]))
                counts["skipped"] += 1
        for name, value in counts.items():
            suite.set(name, str(value))
        yield ElementTree.tostring(suite, encoding="unicode")
    yield tail + "\n"


_STYLE = """
body{font-family:sans-serif;margin:2em;color:#111}h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em}
table{border-collapse:collapse;margin-top:.5em}td,th{border:1px solid #bbb;padding:.25em .5em;text-align:left;
vertical-align:top;font-size:.9em}th{background:#eee}.recorded{background:#e3f4e1}.missing,.unknown_outcome,
.unexpected,.host_unreachable,.no_records_from_node{background:#fbe0e0;font-weight:bold}
.skipped_by_policy,.own_record{background:#f4f1dc}
.verdict{font-size:1.2em;font-weight:bold}.ok{color:#176b1e}.bad{color:#a31515}code{font-size:.95em}
details.host{margin:.3em 0}details.host>summary{cursor:pointer}details.host.has-gaps>summary{color:#a31515}
#controls{margin:.5em 0;padding:.5em;background:#f4f4f4}#controls label{margin-right:1em}
"""
# Rows a host shows at once; the rest of its rows are in a second <details> below them (and all of them in
# evidence.csv): a page of 10,000 hosts stays a page, with or without scripts.
HTML_ROWS_SHOWN = 50
# The gaps table at the top lists at most this many; the rest are in their hosts' listings and evidence.csv.
HTML_GAP_ROWS = 1000
# Hosts per page when scripts run; without them every host is on the page, each folded.
HTML_HOSTS_PER_PAGE = 50
# Reports of at most this many hosts open every host's listing.
HTML_OPEN_HOSTS = 20

# Filter and pages, inline (no external asset): hosts matching the name and status filters, a page at a time.
_SCRIPT = """
(function(){
var hosts=[].slice.call(document.querySelectorAll('details.host'));
var c=document.getElementById('controls');c.hidden=false;
var q=document.getElementById('f-host'),s=document.getElementById('f-status'),n=document.getElementById('f-size');
var info=document.getElementById('f-info'),page=0,shown=[];
function match(h){var st=s.value,name=q.value.toLowerCase();
 if(name&&h.getAttribute('data-host').toLowerCase().indexOf(name)<0)return false;
 if(st==='gaps')return h.classList.contains('has-gaps');
 return !st||(' '+h.getAttribute('data-statuses')+' ').indexOf(' '+st+' ')>=0;}
function draw(){var size=parseInt(n.value,10)||50;shown=hosts.filter(match);
 var pages=Math.max(1,Math.ceil(shown.length/size));if(page>=pages)page=pages-1;if(page<0)page=0;
 hosts.forEach(function(h){h.hidden=true;});
 shown.slice(page*size,(page+1)*size).forEach(function(h){h.hidden=false;});
 document.body.className=s.value?'only-'+s.value:'';
 info.textContent=shown.length+' of '+hosts.length+' hosts; page '+(page+1)+' of '+pages;}
document.getElementById('f-prev').onclick=function(){page--;draw();};
document.getElementById('f-next').onclick=function(){page++;draw();};
document.getElementById('f-open').onclick=function(){hosts.forEach(function(h){if(!h.hidden)h.open=true;});};
q.oninput=s.onchange=n.onchange=function(){page=0;draw();};
// A link can preset the filters: evidence.html#status=missing&host=web&page=2
location.hash.slice(1).split('&').forEach(function(kv){var p=kv.split('='),v=decodeURIComponent(p[1]||'');
 if(p[0]==='host')q.value=v;if(p[0]==='status')s.value=v;if(p[0]==='page')page=(parseInt(v,10)||1)-1;});
draw();})();
"""


def _status_css() -> str:
    # With a status chosen, the rows of the other statuses are hidden too (body.only-<status>).
    rules = ["body.only-%s tr.row:not(.%s){display:none}" % (status, status) for status in STATUSES]
    rules.append("body.only-gaps tr.row:not(.gap){display:none}")
    return "\n".join(rules)


def render_html(evidence: t.Mapping[str, t.Any]) -> str:
    """One page, no external asset: the verdict and summary, the gaps, then each host's changes folded (its first
    HTML_ROWS_SHOWN rows, the rest one click further), with an inline filter by host and status and pages of hosts
    when scripts run."""
    return "".join(iter_html(evidence))


def iter_html(evidence: t.Mapping[str, t.Any]) -> t.Iterator[str]:
    """evidence.html's text in pieces of a few hundred hosts (render_html)."""

    def esc(value: t.Any) -> str:
        # A control character or an undecodable byte as a visible escape (shown), then HTML's own escapes.
        return html.escape(shown(value))

    summary = evidence["summary"]
    said = evidence.get("verdict") or "Every change of the run has its record."
    verdict = (
        '<p class="verdict ok">%s</p>' % esc(said) if not summary["gaps"]
        else '<p class="verdict bad">%s See the gaps below, and the rows in red.</p>' % esc(said)
    )
    by_host = rows_by_host(evidence)
    hosts_with_gaps = sum(1 for about in evidence["hosts"].values() if about.get("gaps"))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Audit evidence of run %s</title>' % esc(evidence["run_id"]),
        "<style>%s\n%s</style></head><body>" % (_STYLE, _status_css()),
        "<h1>Audit evidence of run <code>%s</code></h1>" % esc(evidence["run_id"]),
        verdict,
        "<table><tr><th>hosts</th><th>hosts with gaps</th><th>changes</th><th>recorded</th><th>gaps</th>"
        "<th>skipped by policy</th><th>records of audited tasks</th><th>generated (UTC)</th></tr>",
        "<tr><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%s</td></tr></table>" % (
            len(evidence["hosts"]), hosts_with_gaps, summary["changes"], summary[RECORDED], summary["gaps"],
            summary[SKIPPED_BY_POLICY], summary[OWN_RECORD], esc(evidence["generated"])),
    ]
    if not evidence["ledger"]:
        parts.append("<p>The run kept no ledger: this is the inventory of its records per host.</p>")
    collector = evidence.get("collector")
    if collector:
        parts.append("<p>Read from the central collector <code>%s</code>%s: %s record%s of the run%s. Nodes are "
                     "mapped to hosts by this rule: %s.</p>" % (
                         esc(collector.get("source")),
                         " (%s)" % esc(", ".join(collector.get("files") or ())) if collector.get("files") else "",
                         esc(collector.get("records_of_run", 0)), "" if collector.get("records_of_run") == 1 else "s",
                         "; records of nodes no host maps to, ignored: %s" % esc(", ".join(
                             "%s (%s)" % item for item in sorted((collector.get("unmapped_nodes") or {}).items())))
                         if collector.get("unmapped_nodes") else "",
                         esc(collector.get("rule") or "")))
        if collector.get("error"):
            parts.append('<p class="bad">%s</p>' % esc(collector["error"]))
    columns = ("time", "task", "module", "object", "user", "login", "audit_serial", "status", "reason")
    heads = "".join("<th>%s</th>" % esc(c.replace("_", " ")) for c in columns)

    def cells(row: t.Mapping[str, t.Any]) -> str:
        return "".join("<td>%s</td>" % esc(row.get(c)) for c in columns)

    gap_rows = [row for row in evidence["changes"] if row["status"] in GAPS]
    problems = (evidence.get("ledger_check") or {}).get("problems") or []
    if gap_rows or problems:
        # What an auditor must look at comes first, before the host-by-host listing.
        parts.append("<h2>Gaps</h2>")
        if problems:
            parts.append("<p>The ledger: %s</p>" % "; ".join(esc(problem.get("detail")) for problem in problems))
        if gap_rows:
            parts.append('<table class="gaps"><tr><th>host</th><th>#</th>%s</tr>' % heads)
            for row in gap_rows[:HTML_GAP_ROWS]:
                parts.append('<tr class="%s"><td>%s</td><td>%s</td>%s</tr>' % (
                    esc(row["status"]), esc(row["host"]), "" if row["seq"] is None else row["seq"], cells(row)))
            parts.append("</table>")
            if len(gap_rows) > HTML_GAP_ROWS:
                parts.append("<p>%d more gaps: in their hosts' listings below (status: gaps) and in evidence.csv.</p>"
                             % (len(gap_rows) - HTML_GAP_ROWS))
    parts.append("<h2>Hosts</h2>")
    parts.append(
        '<div id="controls" hidden><label>host <input id="f-host" type="search"></label>'
        '<label>status <select id="f-status"><option value="">any</option><option value="gaps">gaps</option>%s'
        '</select></label><label>hosts a page <select id="f-size">%s</select></label>'
        '<button id="f-prev" type="button">previous</button> <button id="f-next" type="button">next</button> '
        '<button id="f-open" type="button">open this page</button> <span id="f-info"></span></div>' % (
            "".join('<option value="%s">%s</option>' % (status, status.replace("_", " ")) for status in STATUSES),
            "".join('<option%s>%d</option>' % (" selected" if size == HTML_HOSTS_PER_PAGE else "", size)
                    for size in (20, 50, 200, 1000))))
    # Hosts with gaps first, then by name.
    order = sorted(evidence["hosts"].items(), key=lambda item: (not item[1].get("gaps"), item[0]))
    open_all = len(order) <= HTML_OPEN_HOSTS
    for host, about in order:
        rows = by_host.get(host, ())
        statuses = sorted({row["status"] for row in rows})
        nodes = about.get("nodes") or ((about.get("collector") or {}).get("nodes")) or ()
        parts.append('<details class="host%s" data-host="%s" data-statuses="%s"%s><summary><b>%s</b>: %d change%s, '
                     "%d gap%s, %d record%s read%s%s</summary>" % (
                         " has-gaps" if about.get("gaps") else "", esc(host), " ".join(statuses),
                         " open" if open_all else "", esc(host),
                         about["changes"], "" if about["changes"] == 1 else "s", about["gaps"],
                         "" if about["gaps"] == 1 else "s", about["records_read"],
                         "" if about["records_read"] == 1 else "s",
                         "; its log names it node %s" % esc(", ".join(nodes)) if nodes else "",
                         "; %s" % esc(about["error"]) if about.get("error") else ""))
        table = "<table><tr><th>#</th>%s</tr>" % heads
        listed = []
        for row in rows:
            listed.append('<tr class="row %s%s"><td>%s</td>%s</tr>' % (
                esc(row["status"]), " gap" if row["status"] in GAPS else "",
                "" if row["seq"] is None else esc(row["seq"]), cells(row)))
        parts.append(table + "".join(listed[:HTML_ROWS_SHOWN]) + "</table>")
        if len(listed) > HTML_ROWS_SHOWN:
            parts.append("<details><summary>the other %d changes of %s</summary>%s%s</table></details>" % (
                len(listed) - HTML_ROWS_SHOWN, esc(host), table, "".join(listed[HTML_ROWS_SHOWN:])))
        parts.append("</details>")
        if len(parts) >= 1000:
            yield "\n".join(parts) + "\n"
            parts = []
    parts.append("<script>%s</script>" % _SCRIPT)
    parts.append("</body></html>")
    yield "\n".join(parts) + "\n"


def write_report(evidence: t.Mapping[str, t.Any], directory: str, key: t.Optional["SigningKey"] = None,
                 ledger_head: t.Optional[str] = None) -> t.Dict[str, str]:
    """Writes the report files, MANIFEST.sha256 (for ``sha256sum -c``) and MANIFEST.json into ``directory``; with
    ``key``, MANIFEST.sig (its signature of MANIFEST.json's bytes) and signing.pub (its public key). Returns report
    file name -> sha256.

    Each file is made fresh: written to a new temp name in the directory (O_EXCL, never through a symlink), then
    renamed over the old one, which replaces a planted symlink instead of writing through it; 0640. A directory that
    is a symlink or not the controller user's is refused (AnsibleError): its owner could rewrite the report."""
    directory = os.path.abspath(directory)
    try:
        os.makedirs(directory, mode=0o750, exist_ok=True)
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        is_link = os.path.islink(directory)
        raise AnsibleError("cannot write the report into %s: %s. Name a directory of the controller's user as "
                           "report_dir" % (directory, "it is a symlink, which is never followed" if is_link
                                           else exc.strerror or exc)) from None
    try:
        info = os.fstat(dir_fd)
        if info.st_uid != os.geteuid():
            raise AnsibleError("cannot write the report into %s: it is owned by uid %d, not by the controller's user "
                               "(uid %d), who could then not vouch for what it holds. Name a directory of your own as "
                               "report_dir" % (directory, info.st_uid, os.geteuid()))
        renderers = {
            "evidence.json": iter_json,
            "evidence.csv": iter_csv,
            "junit.xml": iter_junit,
            "evidence.html": iter_html,
        }
        sums = {}
        for name in REPORT_FILES:
            # Streamed: a report of 200,000 changes is a few hundred MB of text, never held whole.
            sums[name] = _write_fresh(dir_fd, directory, name, renderers[name](evidence))
        listed = dict(sums)
        listed[MANIFEST] = _write_fresh(dir_fd, directory, MANIFEST, "".join(
            "%s  %s\n" % (sums[name], name) for name in REPORT_FILES).encode("ascii"))
        if key is not None:
            listed[REPORT_PUBLIC_KEY] = _write_fresh(dir_fd, directory, REPORT_PUBLIC_KEY, key.public_pem().encode("ascii"))
        manifest = {
            "format": MANIFEST_FORMAT,
            "run_id": evidence.get("run_id"),
            "generated": evidence.get("generated"),
            "verdict": evidence.get("verdict"),
            "summary": evidence.get("summary"),
            "ledger_head": ledger_head,
            "key_id": key.key_id if key is not None else None,
            "files": listed,
        }
        data = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")
        _write_fresh(dir_fd, directory, MANIFEST_JSON, data)
        if key is not None:
            _write_fresh(dir_fd, directory, MANIFEST_SIG, (key.sign(data) + "\n").encode("ascii"))
        else:
            # An earlier report's signature and key would claim this unsigned one.
            for stale in (MANIFEST_SIG, REPORT_PUBLIC_KEY):
                try:
                    os.unlink(stale, dir_fd=dir_fd)
                except FileNotFoundError:
                    pass
        os.fsync(dir_fd)
    except OSError as exc:
        raise AnsibleError("cannot write the report into %s: %s" % (directory, exc.strerror or exc)) from None
    finally:
        os.close(dir_fd)
    return sums


_WRITE_CHUNK = 1 << 20


def _write_fresh(dir_fd: int, directory: str, name: str, data: t.Union[bytes, t.Iterable[str]]) -> str:
    """``data`` (bytes, or text in pieces, written as UTF-8 as they come) as ``name`` in the directory ``dir_fd``: a
    new temp file renamed over it; returns its sha256."""
    temp = ".%s.%s.tmp" % (name, secrets.token_hex(8))
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                 REPORT_FILE_MODE, dir_fd=dir_fd)
    digest = hashlib.sha256()

    def write(chunk: bytes) -> None:
        digest.update(chunk)
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]

    try:
        try:
            os.fchmod(fd, REPORT_FILE_MODE)
            if isinstance(data, (bytes, bytearray)):
                write(bytes(data))
            else:
                pending: t.List[bytes] = []
                size = 0
                for piece in data:
                    encoded = piece.encode("utf-8")
                    pending.append(encoded)
                    size += len(encoded)
                    if size >= _WRITE_CHUNK:
                        write(b"".join(pending))
                        pending, size = [], 0
                write(b"".join(pending))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            if stat.S_ISDIR(os.lstat(name, dir_fd=dir_fd).st_mode):
                raise AnsibleError("cannot write the report file %s: a directory of that name is in the way; remove it"
                                   % os.path.join(directory, name))
        except FileNotFoundError:
            pass
        os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(temp, dir_fd=dir_fd)
        except OSError:
            pass
        raise
    return digest.hexdigest()


__all__ = [
    "EVIDENCE_FORMAT",
    "STATUSES",
    "GAPS",
    "REPORT_FILES",
    "MANIFEST",
    "CSV_COLUMNS",
    "MANIFEST_JSON",
    "MANIFEST_SIG",
    "REPORT_PUBLIC_KEY",
    "MANIFEST_FORMAT",
    "REPORT_FILE_MODE",
    "ledger_changes",
    "window",
    "records_signed",
    "DIAGNOSED_MAX",
    "CONTROLLER_TRAIL",
    "reconcile",
    "rows_by_host",
    "verdict_text",
    "shown",
    "iter_json",
    "render_json",
    "iter_csv",
    "render_csv",
    "iter_junit",
    "render_junit",
    "iter_html",
    "render_html",
    "write_report",
]
