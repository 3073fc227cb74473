"""The CSV format of a report: a row per change, no formula."""

from __future__ import annotations

import csv
import io

from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._proof.evidence_helpers import HOSTILE


def test_the_csv_has_a_row_per_change_and_no_formula(written):
    directory, result, _sums = written
    rows = list(csv.DictReader(io.StringIO((directory / "evidence.csv").read_text())))
    assert len(rows) == len(result["changes"]) == 3
    # The line break shown as an escape: one line per change (test_renderers_take_any_text).
    assert rows[0]["task"] == HOSTILE.replace("\n", "\\x0a")
    assert all(not value.startswith(("=", "+", "-", "@")) for row in rows for value in row.values())


def test_every_record_field_the_field_table_gives_a_column_is_a_column_of_the_evidence_csv():
    from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.fields import RECORD_COLUMNS
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_csv import EVIDENCE_COLUMNS

    assert set(RECORD_COLUMNS.values()) <= set(EVIDENCE_COLUMNS)
