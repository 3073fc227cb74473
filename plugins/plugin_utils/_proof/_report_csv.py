# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The CSV format of each report: evidence.csv (a row per change), drift.csv (a row per write). Every line break and
control character is escaped (``shown``), and a cell a spreadsheet would run as a formula starts with a quote."""

from __future__ import annotations

import csv
import io
import typing as t

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._drift_rows import cell
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_text import shown, spreadsheet_safe

EVIDENCE_COLUMNS = ("host", "seq", "status", "time", "task", "module", "object", "user", "audit_serial", "event_id",
                    "task_id", "reason")
DRIFT_COLUMNS = ("host", "time", "status", "action", "syscall", "path", "object", "auid", "auid_name", "uid", "uid_name",
                 "ses", "tty", "pid", "exe", "comm", "proctitle", "serial", "explained_by", "in_unwatched_span", "reason")


def iter_evidence_csv(evidence: t.Mapping[str, t.Any]) -> t.Iterator[str]:
    """evidence.csv's text in pieces of a thousand rows (render_evidence_csv)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EVIDENCE_COLUMNS)
    for number, row in enumerate(evidence["changes"], 1):
        # Every line break and control character escaped (shown): one line per change, for csv readers and grep alike.
        writer.writerow(["" if row.get(column) is None else spreadsheet_safe(shown(row[column])) for column in EVIDENCE_COLUMNS])
        if not number % 1000:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def render_evidence_csv(evidence: t.Mapping[str, t.Any]) -> str:
    return "".join(iter_evidence_csv(evidence))


def render_drift_csv(drift: t.Mapping[str, t.Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DRIFT_COLUMNS)
    for row in drift["events"]:
        writer.writerow([cell(row.get(column)) for column in DRIFT_COLUMNS])
    return out.getvalue()


__all__ = [
    "EVIDENCE_COLUMNS",
    "DRIFT_COLUMNS",
    "iter_evidence_csv",
    "render_evidence_csv",
    "render_drift_csv",
]
