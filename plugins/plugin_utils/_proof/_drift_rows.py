# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The statuses of the drift report's rows, which ``_drift.classify`` gives and every format of the report shows."""

from __future__ import annotations

import typing as t

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_text import shown, spreadsheet_safe

EXPLAINED = "explained"
OUT_OF_BAND = "out_of_band"
DENIED = "denied"
STATUSES = (OUT_OF_BAND, EXPLAINED, DENIED)


def failed(summary: t.Mapping[str, int]) -> bool:
    return bool(summary[OUT_OF_BAND] or summary["not_watched_hosts"])


def cell(value: t.Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        value = "%s %s #%s" % (value.get("run_id"), value.get("module"), value.get("seq"))
    return spreadsheet_safe(shown(value))


__all__ = [
    "EXPLAINED",
    "OUT_OF_BAND",
    "DENIED",
    "STATUSES",
    "failed",
    "cell",
]
