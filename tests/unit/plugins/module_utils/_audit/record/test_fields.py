"""The record-field table: its rows are sound, and what the binding derives from it is what it was before the table
(the literals below are the values of 1.2.0, copied; a new field changes them on purpose)."""

from __future__ import annotations

import re

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read import reader
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record import constants, fields
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import build_message
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError

SOURCES = (fields.BINDING, fields.CHANGE, fields.CONTROLLER, fields.CONTEXT, fields.TARGET)
# The fields a play's own fields are written beside: everything but op= and the trailer.
IN_FIELDS = [row.name for row in fields.FIELDS if row.source != fields.BINDING]


def test_every_name_is_unique_retired_ones_included():
    every = [row.name for row in fields.FIELDS] + [name for row in fields.FIELDS for name in row.retired]
    assert len(every) == len(set(every))


@pytest.mark.parametrize("row", fields.FIELDS, ids=lambda row: row.name)
def test_every_row_is_well_formed(row):
    assert re.match(r"\A[a-z][a-z0-9_]*\Z", row.name)
    assert row.source in SOURCES
    assert row.bound is None or (isinstance(row.bound, int) and row.bound > 0)
    assert fields.bound_of(row.name) > 0
    assert row.column is None or re.match(r"\A[a-z][a-z0-9_]*\Z", row.column)
    # Only the task context had other names before.
    assert not row.retired or row.source == fields.CONTEXT


def test_report_columns_are_unique():
    assert len(set(fields.RECORD_COLUMNS.values())) == len(fields.RECORD_COLUMNS)


@pytest.mark.parametrize("name", IN_FIELDS)
def test_the_binding_takes_every_name_the_collection_writes_beside_a_plays_fields(name):
    assert name not in constants.RESERVED_FIELD_NAMES
    try:
        build_message("x", {name: "v"})
    except AuditError as exc:  # pragma: no cover - the message is the point
        pytest.fail("%s: %s" % (name, exc))


def test_the_binding_writes_op_and_its_trailer_itself():
    assert fields.names(fields.BINDING) == ("op", "comm", "exe", "hostname", "addr", "terminal", "res")
    assert set(fields.names(fields.BINDING)) <= constants.RESERVED_FIELD_NAMES


# --- what derives from the table, pinned ---------------------------------------------------------------------


def test_the_context_fields_and_their_bounds_are_those_of_1_2_0():
    assert fields.names(fields.CONTEXT) == (
        "play", "cmd", "loop_label", "task_path", "task_id", "seq", "ctl_user", "ctl_login_id", "ctl_login",
        "become_user", "remote_user", "awx_job_id", "awx_user_name", "awx_job_template_name", "awx_workflow_job_id",
        "awx_project_revision", "ci_actor", "ci_commit", "run_id",
    )
    assert fields.bounds(fields.CONTEXT) == {"play": 256, "cmd": 256, "task_path": 256, "seq": 10}
    assert list(fields.bounds(fields.CONTEXT)) == ["play", "cmd", "task_path", "seq"]
    assert fields.DEFAULT_MAX == 96
    assert fields.retired(fields.CONTEXT) == frozenset(("task", "task_uuid", "ctl_auid"))


def test_the_change_and_controller_fields_and_their_bounds_are_those_of_1_2_0():
    assert fields.names(fields.CONTROLLER) == ("changed_host", "kept_on", "ctl_sig", "ctl_mac")
    assert fields.names(fields.CHANGE, fields.CONTROLLER) == (
        "module", "object_arg", "object", "arg_names", "checksum", "diff_sha256", "inventory_host", "delegated_to",
        "withheld", "changed_host", "kept_on", "ctl_sig", "ctl_mac",
    )
    assert (fields.bound_of("object"), fields.bound_of("arg_names"), fields.bound_of("module")) == (384, 256, 128)
    assert fields.bound_of("inventory_host") == fields.bound_of("delegated_to") == fields.bound_of("changed_host") == 96


def test_the_reserved_names_and_comm_are_those_of_1_2_0():
    assert constants.RESERVED_FIELD_NAMES == frozenset((
        "type", "msg", "node", "pid", "uid", "auid", "ses", "subj", "exe", "comm",
        "hostname", "addr", "terminal", "res", "op", "result", "success",
        "arch", "syscall", "a0", "a1", "a2", "a3",
    ))
    assert constants.COMM_MAX_BYTES == 15


def test_the_readers_string_filters_are_those_of_1_2_0():
    assert fields.READER_FILTERS == ("op", "comm", "task_id", "run_id")
    assert reader.STRING_FILTERS == ("path", "since", "until", "op", "comm", "task_id", "run_id")


def test_the_ledger_fields_and_the_report_columns_are_those_of_1_2_0():
    # 1.2.0 listed them as ("object", "object_arg", "withheld", "play", "cmd", "loop_label", "task_path",
    # "become_user", "inventory_host"); the ledger writes an entry's keys sorted, so only the set is seen.
    assert fields.LEDGER_FIELDS == (
        "object_arg", "object", "inventory_host", "withheld", "play", "cmd", "loop_label", "task_path", "become_user",
    )
    # What _evidence._change_row reads from a record's fields (or its intent line) for a column of CSV_COLUMNS.
    assert fields.RECORD_COLUMNS == {
        "module": "module", "object": "object", "cmd": "task", "task_id": "task_id", "become_user": "user",
    }
