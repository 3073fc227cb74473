# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Proving a run: the run's ledger (what the controller changed) matched with what each host's audit trail holds,
and the report an auditor reads and a pipeline gates on.

and the evidence an auditor reads and a pipeline gates on.

A change is one (host, seq) of the ledger; a record is matched to it by the host it was read on, its ``run_id``
and its ``seq``. What came of each change is the ledger's table of outcomes (``_ledger.OUTCOMES``), the rows'
statuses ``_evidence_rows``'. The report is written (``write_report``) in the formats of ``_report.REPORT_FORMATS``:
evidence.json (the whole reconciliation, ``EVIDENCE_FORMAT``), evidence.csv (a row per change), junit.xml (a test case
per change of the ledger), evidence.html (one page with no external asset), then the manifests over them
(``_manifest``); times are UTC.
"""

from __future__ import annotations

import datetime
import os
import typing as t

from ansible.errors import AnsibleError

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.fields import RECORD_COLUMNS
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._evidence_rows import (
    GAPS,
    HOST_UNREACHABLE,
    NO_RECORDS_FROM_NODE,
    OWN_RECORD,
    STATUSES,
    UNEXPECTED,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import (
    MISSING,
    OUTCOMES,
    RECORDED,
    SKIPPED_BY_POLICY,
    UNKNOWN,
    UNKNOWN_OUTCOME,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._manifest import write_manifests
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report import EVIDENCE, open_report_directory, write_formats
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import RECORD_SIG_FIELD, record_signature_problem

if t.TYPE_CHECKING:
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing_key import SigningKey

EVIDENCE_FORMAT = 2


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
    row: t.Dict[str, t.Any] = {
        "host": host,
        "seq": seq,
        "status": status,
        "time": (record and _utc(record.get("timestamp"))) or intent.get("time"),
    }
    # The record's fields the field table gives a report column, from the intent line where no record was found.
    row.update({column: fields.get(name, intent.get(name)) for name, column in RECORD_COLUMNS.items()})
    row.update({
        "login": (record or {}).get("auid_name"),
        "audit_serial": (record or {}).get("serial"),
        "event_id": (record or {}).get("event_id"),
        "reason": reason,
    })
    return row


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
    (``_ledger_read.LedgerReading`` as a dict: problems, sealed, final, head, lines, keyed, entries); each problem, and a
    ledger no seal covers (the run did not end, or its tail was cut), fails the proof. ``public_key``: the
    controller's (``_signing_key.PublicKey`` or ``SigningKey``), which checks each record's signature. ``controller``:
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
        # None: no outcome line, or one the table does not know (missing, as any change that ended without its record).
        known = OUTCOMES.get(said) if isinstance(said, str) else None
        record = found.get((host, seq))
        if known is not None and not known.listed:
            continue
        reason = None
        if record is not None:
            status = RECORDED
            if not slot["outcome"]:
                reason = "the record is there; the ledger has no outcome for this change"
            elif said == UNKNOWN:
                reason = "the outcome was unknown (%s); the record of the attempt is there" % (outcome.get("reason") or "")
        elif host in reads and not reads[host].get("reachable", True):
            status, reason = HOST_UNREACHABLE, reads[host].get("error") or "the host could not be reached"
        elif host not in reads:
            status, reason = HOST_UNREACHABLE, "the host's audit trail was not read (not in the inventory of this report)"
        elif known is not None and known.unrecorded == SKIPPED_BY_POLICY:
            status, reason = SKIPPED_BY_POLICY, (intent or {}).get("policy")
        elif not slot["outcome"]:
            status, reason = UNKNOWN_OUTCOME, "the ledger has the intent of this change and no outcome"
        elif known is not None and known.unrecorded == UNKNOWN_OUTCOME:
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


def write_report(evidence: t.Mapping[str, t.Any], directory: str, key: t.Optional["SigningKey"] = None,
                 ledger_head: t.Optional[str] = None) -> t.Dict[str, str]:
    """Writes the report files, MANIFEST.sha256 (for ``sha256sum -c``) and MANIFEST.json into ``directory``; with
    ``key``, MANIFEST.sig (its signature of MANIFEST.json's bytes) and signing.pub (its public key). Returns report
    file name -> sha256.

    Each file is made fresh: written to a new temp name in the directory (O_EXCL, never through a symlink), then
    renamed over the old one, which replaces a planted symlink instead of writing through it; 0640. A directory that
    is a symlink or not the controller user's is refused (AnsibleError): its owner could rewrite the report."""
    directory = os.path.abspath(directory)
    dir_fd = open_report_directory(directory)
    try:
        info = os.fstat(dir_fd)
        if info.st_uid != os.geteuid():
            raise AnsibleError("cannot write the report into %s: it is owned by uid %d, not by the controller's user "
                               "(uid %d), who could then not vouch for what it holds. Name a directory of your own as "
                               "report_dir" % (directory, info.st_uid, os.geteuid()))
        sums = write_formats(EVIDENCE, evidence, dir_fd, directory)
        write_manifests(dir_fd, directory, evidence, sums, key, ledger_head)
        os.fsync(dir_fd)
    except OSError as exc:
        raise AnsibleError("cannot write the report into %s: %s" % (directory, exc.strerror or exc)) from None
    finally:
        os.close(dir_fd)
    return sums


__all__ = [
    "EVIDENCE_FORMAT",
    "ledger_changes",
    "window",
    "records_signed",
    "DIAGNOSED_MAX",
    "CONTROLLER_TRAIL",
    "reconcile",
    "verdict_text",
    "write_report",
]
