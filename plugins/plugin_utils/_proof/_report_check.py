# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Checking an evidence report later (the verify_evidence action): is every file the one the controller signed?

MANIFEST.json lists each file of the report with its sha256; MANIFEST.sig is the controller key's signature of
MANIFEST.json's bytes (``_manifest.write_manifests``). A report is intact when the signature verifies with the public
key, every listed file is there as a regular file with its sha256, and no other file is in the directory. Nothing
is ever read through a symlink: a symlink in the report is itself a finding. For a changed evidence.json, what was
edited is said where it can be: its summary against the one the manifest signed, its rows' statuses against
evidence.csv and against its own summary.

``check_records`` checks single records the same way, without the controller: each change record of an audit log
(auditd's own, a rotation, or the lines a SIEM exported in auditd's format) against the controller's public key,
by the signature each carries (``_signing.record_message``).
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import re
import stat
import typing as t

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.reader import AuditLogReader, RecordFilter
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._evidence_rows import STATUSES
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._manifest import MANIFEST_JSON, MANIFEST_SIG, REPORT_PUBLIC_KEY
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report import EVIDENCE, REPORT_FORMATS
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import RECORD_SIG_FIELD, load_public_key, record_signature_problem
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing_key import PublicKey, signature_key_id, verify

# The files whose edits the check names (as the registry names them).
EVIDENCE_JSON = REPORT_FORMATS[EVIDENCE]["json"].file
EVIDENCE_CSV = REPORT_FORMATS[EVIDENCE]["csv"].file

# What is wrong with a file.
CHANGED = "changed"
MISSING = "missing"
ADDED = "added"
SYMLINK = "symlink"
NOT_A_FILE = "not_a_file"
SIGNATURE = "signature"
UNREADABLE = "unreadable"
EDITED = "edited"
PROBLEMS = (CHANGED, MISSING, ADDED, SYMLINK, NOT_A_FILE, SIGNATURE, UNREADABLE, EDITED)
_SHA256 = re.compile(r"[0-9a-f]{64}")
# The most bytes read of one report file (a report of a million changes is far below).
_READ_MAX = 1 << 30


def _read(dir_fd: int, name: str) -> t.Tuple[str, t.Optional[bytes]]:
    """(kind, bytes) of ``name`` in the directory: kind "file" with its bytes, or MISSING, SYMLINK, NOT_A_FILE."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), dir_fd=dir_fd)
    except FileNotFoundError:
        return MISSING, None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return SYMLINK, None
        return UNREADABLE, str(exc.strerror or exc).encode()
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return NOT_A_FILE, None
        chunks = []
        size = 0
        while size <= _READ_MAX:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return "file", b"".join(chunks)
    finally:
        os.close(fd)


def _csv_statuses(data: bytes) -> t.Optional[t.Dict[t.Tuple[str, str], str]]:
    """(host, seq) -> status of evidence.csv's rows, undoing the quote a cell a spreadsheet would run gets."""
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error):
        return None

    def cell(value: t.Optional[str]) -> str:
        value = value or ""
        return value[1:] if value[:1] == "'" and value[1:2] in ("=", "+", "-", "@", "\t", "\r") else value

    return {(cell(row.get("host")), cell(row.get("seq"))): cell(row.get("status")) for row in rows}


def _what_was_edited(evidence_data: bytes, manifest: t.Optional[t.Mapping[str, t.Any]],
                     csv_data: t.Optional[bytes]) -> t.List[str]:
    """What differs in evidence.json from what the signed manifest and evidence.csv say."""
    try:
        report = json.loads(evidence_data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return ["it is no longer JSON"]
    if not isinstance(report, dict):
        return ["it is no longer the report's JSON object"]
    found = []
    summary = report.get("summary") if isinstance(report.get("summary"), dict) else {}
    signed = (manifest or {}).get("summary")
    if isinstance(signed, dict):
        edited = ["%s %s -> %s" % (name, signed.get(name), summary.get(name)) for name in sorted(set(signed) | set(summary))
                  if signed.get(name) != summary.get(name)]
        if edited:
            found.append("its summary differs from the one the manifest holds (%s)" % ", ".join(edited))
    if manifest and manifest.get("verdict") is not None and report.get("verdict") != manifest.get("verdict"):
        found.append("its verdict differs from the one the manifest holds")
    rows = [row for row in report.get("changes") or [] if isinstance(row, dict)]
    counted = {status: sum(1 for row in rows if row.get("status") == status) for status in STATUSES}
    miscounted = ["%s %s of %d" % (status, summary.get(status), counted[status]) for status in STATUSES
                  if status in summary and summary.get(status) != counted[status]]
    if miscounted:
        found.append("its summary does not count its own rows (%s)" % ", ".join(miscounted))
    statuses = _csv_statuses(csv_data) if csv_data is not None else None
    if statuses is not None:
        differs = []
        for row in rows:
            key = (str(row.get("host")), "" if row.get("seq") is None else str(row.get("seq")))
            if key in statuses and statuses[key] != row.get("status"):
                differs.append("(%s, %s): %s, evidence.csv says %s" % (key[0], key[1] or "-", row.get("status"), statuses[key]))
        if differs:
            found.append("the status of %d change%s differs from evidence.csv: %s" % (
                len(differs), "" if len(differs) == 1 else "s", "; ".join(differs[:20])))
    return found


def check_report(directory: str, public_key: t.Optional[t.Any] = None) -> t.Dict[str, t.Any]:
    """What verifies of the report in ``directory``: {"intact", "problems" [{"file", "problem", "detail"}],
    "run_id", "ledger_head", "key_id" (of the key that checked the signature), "signed_by" (the key id the
    signature names), "key_from_report" (the public key was the report's own signing.pub), "files" (how many the
    manifest lists)}. ``public_key``: a PublicKey, PEM text or file; None takes the report's signing.pub.
    Raises AnsibleError only when there is no report to check (no such directory) or ``public_key`` is unusable."""
    directory = os.path.abspath(directory)
    problems: t.List[t.Dict[str, str]] = []

    def problem(name: str, kind: str, detail: str) -> None:
        problems.append({"file": name, "problem": kind, "detail": detail})

    result: t.Dict[str, t.Any] = {"directory": directory, "run_id": None, "ledger_head": None, "key_id": None,
                                  "signed_by": None, "key_from_report": public_key is None, "files": 0}
    key: t.Optional[PublicKey] = load_public_key(public_key) if public_key is not None else None
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if os.path.islink(directory):
            problem(directory, SYMLINK, "the report directory is a symlink, which is never followed: name the "
                    "directory itself")
            return dict(result, intact=False, problems=problems)
        raise AnsibleError("there is no report to verify in %s: %s" % (directory, exc.strerror or exc)) from None
    try:
        names = sorted(os.listdir(dir_fd))
        kind, manifest_data = _read(dir_fd, MANIFEST_JSON)
        manifest: t.Optional[t.Dict[str, t.Any]] = None
        if kind != "file":
            problem(MANIFEST_JSON, kind, _why(kind, MANIFEST_JSON) + ": nothing in the report can be verified")
        else:
            try:
                loaded = json.loads((manifest_data or b"").decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                loaded = None
            files = loaded.get("files") if isinstance(loaded, dict) else None
            if not isinstance(files, dict) or not all(isinstance(name, str) and isinstance(digest, str) and _SHA256.fullmatch(digest)
                                                      for name, digest in files.items()):
                problem(MANIFEST_JSON, CHANGED, "it is not a manifest of this collection (no files with their sha256)")
            else:
                manifest = loaded
                result.update(run_id=loaded.get("run_id"), ledger_head=loaded.get("ledger_head"), files=len(files))
        kind, signature_data = _read(dir_fd, MANIFEST_SIG)
        if key is None:
            key_kind, pem = _read(dir_fd, REPORT_PUBLIC_KEY)
            if key_kind != "file":
                problem(REPORT_PUBLIC_KEY, key_kind, _why(key_kind, REPORT_PUBLIC_KEY) + ": the signature cannot be "
                        "checked; pass public_key (the controller's signing.pub)")
            else:
                try:
                    key = load_public_key(pem or b"")
                except AnsibleError:
                    problem(REPORT_PUBLIC_KEY, CHANGED, "it is not a public key: pass public_key (the controller's "
                            "signing.pub)")
        result["key_id"] = key.key_id if key is not None else None
        if kind != "file":
            problem(MANIFEST_SIG, kind, _why(kind, MANIFEST_SIG) + ": the report is not signed, so anyone who rewrote "
                    "it with its manifest would go unseen")
        elif manifest_data is not None and key is not None:
            signature = (signature_data or b"").decode("ascii", "replace").strip()
            result["signed_by"] = signature_key_id(signature)
            if result["signed_by"] is None:
                problem(MANIFEST_SIG, SIGNATURE, "it holds no signature of this collection (ed25519:<key id>:<signature>)")
            elif result["signed_by"] != key.key_id:
                problem(MANIFEST_SIG, SIGNATURE, "it is signed by the key %s, not by the public key given (%s): the "
                        "report was signed elsewhere, or with a key of before a rotation (pass that key's signing.pub)"
                        % (result["signed_by"], key.key_id))
            elif not verify(key, manifest_data, signature):
                problem(MANIFEST_SIG, SIGNATURE, "the signature does not verify MANIFEST.json: the manifest or its "
                        "signature was changed after the report was written")
        signature_good = not any(found["file"] in (MANIFEST_SIG, MANIFEST_JSON, REPORT_PUBLIC_KEY) for found in problems)
        listed = (manifest or {}).get("files") or {}
        evidence_ok = False
        for name in sorted(listed):
            if "/" in name or name in ("", ".", ".."):
                problem(name, CHANGED, "the manifest names a file outside the report")
                continue
            kind, data = _read(dir_fd, name)
            if kind != "file":
                problem(name, kind, _why(kind, name))
            elif hashlib.sha256(data or b"").hexdigest() != listed[name]:
                problem(name, CHANGED, "its sha256 is not the one the manifest holds: it was changed after the report "
                        "was written")
            elif name == EVIDENCE_JSON:
                evidence_ok = True
        for name in names:
            if name in listed or name in (MANIFEST_JSON, MANIFEST_SIG) or manifest is None:
                continue
            kind, _data = _read(dir_fd, name)
            if kind == SYMLINK:
                problem(name, SYMLINK, "a symlink was planted in the report (never followed)")
            else:
                problem(name, ADDED, "a file the manifest does not list was added to the report")
        if (not evidence_ok or not signature_good) and EVIDENCE_JSON in names:
            kind, data = _read(dir_fd, EVIDENCE_JSON)
            csv_kind, csv_data = _read(dir_fd, EVIDENCE_CSV)
            if kind == "file":
                edits = _what_was_edited(data or b"", manifest if signature_good else None,
                                         csv_data if csv_kind == "file" else None)
                for edit in edits:
                    problem(EVIDENCE_JSON, EDITED, edit)
    finally:
        os.close(dir_fd)
    return dict(result, intact=not problems, problems=problems)


def _why(kind: str, name: str) -> str:
    return {
        MISSING: "%s is missing: it was deleted" % name,
        SYMLINK: "%s is a symlink (never followed; the report wrote a regular file)" % name,
        NOT_A_FILE: "%s is not a regular file" % name,
        UNREADABLE: "%s cannot be read" % name,
    }.get(kind, "%s cannot be read" % name)


def summary_text(check: t.Mapping[str, t.Any]) -> str:
    """One message: "intact" with what was checked, or every file that no longer verifies."""
    if check["intact"]:
        return "Report %s of run %s is intact: the %d files its manifest lists verify, and the manifest's signature " \
               "verifies with key %s." % (check["directory"], check["run_id"], check["files"], check["key_id"])
    return "Report %s does not verify: %s." % (check["directory"], "; ".join(
        "%s: %s" % (found["file"], found["detail"]) if not found["detail"].startswith(found["file"]) else found["detail"]
        for found in check["problems"]))


# --- single records, from a log ---------------------------------------------------------------------------------

# The most records check_records lists one by one in its result (the count and the verdict cover all of them).
RECORDS_LISTED_MAX = 1000


def _is_change_record(fields: t.Mapping[str, t.Any]) -> bool:
    """A record the collection signs: it carries a signature, or names the change of a run (run_id and seq)."""
    return fields.get(RECORD_SIG_FIELD) not in (None, "") or ("run_id" in fields and "seq" in fields)


def check_records(audit_log: str, public_key: t.Any, run_id: t.Optional[str] = None,
                  include_rotated: bool = False) -> t.Dict[str, t.Any]:
    """Each change record of ``audit_log`` (of run ``run_id`` only, when given) checked against ``public_key``:
    {"intact", "checked", "failed", "records" [{"event_id", "time", "node", "run_id", "host", "seq", "task_id",
    "intact", "detail"}] (the first RECORDS_LISTED_MAX, those that fail first), "key_id", "log", "files"}. A record
    whose signature does not verify names why (unsigned, another key's, res changed, a field added, or forged or
    altered). Raises AnsibleError when the log cannot be read or the key is unusable."""
    key = load_public_key(public_key)
    try:
        reader = AuditLogReader(audit_log, include_rotated, RecordFilter(fields={"run_id": run_id} if run_id else None))
        good: t.List[t.Dict[str, t.Any]] = []
        bad: t.List[t.Dict[str, t.Any]] = []
        checked = 0
        for record in reader:
            fields = record.fields
            if not _is_change_record(fields):
                continue
            checked += 1
            problem = record_signature_problem(key, record.op, record.result, fields, diagnose=len(bad) < 200)
            entry = {
                "event_id": record.event_id, "time": record.time, "node": record.node, "run_id": fields.get("run_id"),
                "host": fields.get("changed_host") or fields.get("delegated_to") or fields.get("inventory_host"),
                "seq": fields.get("seq"), "task_id": fields.get("task_id"), "intact": problem is None,
                "detail": problem or "the signature verifies: every field is the one the controller signed",
            }
            (good if problem is None else bad).append(entry)
    except AuditError as exc:
        raise AnsibleError("cannot read the audit log %s: %s" % (audit_log, exc)) from None
    listed = (bad + good)[:RECORDS_LISTED_MAX]
    return {"intact": checked > 0 and not bad, "checked": checked, "failed": len(bad), "records": listed,
            "key_id": key.key_id, "log": audit_log, "run_id": run_id, "files": list(reader.files_read)}


def records_summary_text(check: t.Mapping[str, t.Any]) -> str:
    """One message: every record intact, none found, or each record that does not verify."""
    where = "%s%s" % (check["log"], " (run %s)" % check["run_id"] if check.get("run_id") else "")
    if not check["checked"]:
        return ("No change record of this collection%s in %s: nothing to verify (check the file and run_id)" % (
            "" if not check.get("run_id") else " of run %s" % check["run_id"], check["log"]))
    if check["intact"]:
        return "The %d change record%s in %s %s intact: each signature verifies with key %s." % (
            check["checked"], "" if check["checked"] == 1 else "s", where, "is" if check["checked"] == 1 else "are",
            check["key_id"])
    failing = ["record %s (host %s, seq %s, run %s): %s" % (entry["event_id"], entry["host"], entry["seq"], entry["run_id"],
                                                            entry["detail"])
               for entry in check["records"] if not entry["intact"]]
    return "%d of the %d change records in %s do%s not verify: %s%s." % (
        check["failed"], check["checked"], where, "es" if check["failed"] == 1 else "", "; ".join(failing[:20]),
        "; and %d more" % (check["failed"] - 20) if check["failed"] > 20 else "")


__all__ = [
    "RECORDS_LISTED_MAX",
    "check_records",
    "records_summary_text",
    "CHANGED",
    "MISSING",
    "ADDED",
    "SYMLINK",
    "NOT_A_FILE",
    "SIGNATURE",
    "UNREADABLE",
    "EDITED",
    "PROBLEMS",
    "check_report",
    "summary_text",
]
