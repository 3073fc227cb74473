"""The controller's record vocabulary is the record-field table's (module_utils/_audit/record/fields.py): the literals
below are the values of 1.2.0, copied; the bounds the table states are the ones the code that writes the values
keeps; and a record with every field at its bound still fits."""

from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record import fields
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import AUDIT_MESSAGE_TEXT_MAX
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import OP_MAX, build_message
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _signing
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record import _audited, _context, _hashing


def test_the_context_vocabulary_is_that_of_1_2_0():
    assert _context.CONTEXT_FIELDS == (
        "play", "cmd", "loop_label", "task_path", "task_id", "seq", "ctl_user", "ctl_login_id", "ctl_login",
        "become_user", "remote_user", "awx_job_id", "awx_user_name", "awx_job_template_name", "awx_workflow_job_id",
        "awx_project_revision", "ci_actor", "ci_commit", "run_id",
    )
    assert _context.AWX_VARS == ("awx_user_name", "awx_job_template_name", "awx_workflow_job_id", "awx_project_revision")
    assert _context.CONTEXT_TEXT_MAX == {"play": 256, "cmd": 256, "task_path": 256, "seq": 10}
    assert _context.CONTEXT_TEXT_DEFAULT_MAX == 96
    assert _context.RETIRED_CONTEXT_FIELDS == frozenset(("task", "task_uuid", "ctl_auid"))


def test_the_change_vocabulary_is_that_of_1_2_0():
    assert _audited.CONTROLLER_ONLY_FIELDS == ("changed_host", "kept_on", _signing.RECORD_SIG_FIELD, _signing.RECORD_MAC_FIELD)
    assert _audited.CHANGE_FIELDS == (
        "module", "object_arg", "object", "arg_names", "checksum", "diff_sha256", "inventory_host", "delegated_to",
        _audited.WITHHELD_FIELD,
    ) + _audited.CONTROLLER_ONLY_FIELDS
    assert (_audited.OBJECT_TEXT_MAX, _audited.ARG_NAMES_MAX, _audited.MODULE_NAME_MAX) == (384, 256, 128)
    assert _audited.WITHHELD_FIELD in fields.names(fields.CHANGE)
    assert set(_audited.WITHHELD_NAMES) <= set(fields.names(fields.CHANGE))


def test_the_ledger_and_the_report_columns_are_those_of_1_2_0():
    # 1.2.0's LEDGER_FIELDS; the ledger writes an entry's keys sorted (_ledger.Ledger): the order is no one's.
    assert set(fields.LEDGER_FIELDS) == {"object", "object_arg", "withheld", "play", "cmd", "loop_label", "task_path",
                                         "become_user", "inventory_host"}
    # 1.2.0's _evidence.CSV_COLUMNS: the table's columns are among them, from the record's fields the table names.
    csv_columns = ("host", "seq", "status", "time", "task", "module", "object", "user", "audit_serial", "event_id",
                   "task_id", "reason")
    assert set(fields.RECORD_COLUMNS.values()) <= set(csv_columns)


# --- the bounds the table states are the code's ----------------------------------------------------------------


def test_the_fixed_bounds_are_the_longest_values_the_code_writes():
    assert fields.bound_of("op") == OP_MAX
    assert fields.bound_of("object_arg") == max(len(name) for name in _audited.OBJECT_ARGUMENTS)
    assert fields.bound_of("checksum") == fields.bound_of("diff_sha256") == _hashing.HASH_TEXT_MAX
    assert len("sha1:" + "0" * 40) <= _hashing.HASH_TEXT_MAX
    assert fields.bound_of(_signing.RECORD_SIG_FIELD) == len(_signing.SIGNATURE_PLACEHOLDER)
    assert fields.bound_of(_signing.RECORD_MAC_FIELD) == len(_signing.MAC_PLACEHOLDER)
    assert fields.bound_of("kept_on") == len("controller")


def test_the_trailer_room_is_the_trailer_at_the_tables_bounds():
    bound = fields.bound_of
    # comm= is quoted, exe= written as hex, the others bare; res= at its longest is success.
    trailer = ' comm="%s" exe=%s hostname=%s addr=%s terminal=%s res=%s' % (
        "x" * bound("comm"), "X" * 2 * bound("exe"), "x" * bound("hostname"), "x" * bound("addr"),
        "x" * bound("terminal"), "x" * bound("res"))
    assert len(trailer) == _audited.TRAILER_ROOM
    assert bound("res") == max(len("success"), len("failed"))


# --- the longest record fits -------------------------------------------------------------------------------------

# Values that never hold a space or non-ASCII text, so are never written as hex: a name, hashes, the signature, a
# UUID, numbers, and the comma-joined names of the values left out.
NEVER_HEX = {"object_arg", "checksum", "diff_sha256", "withheld", "kept_on", "ctl_sig", "ctl_mac", "task_id", "seq",
             "ctl_login_id"}


@pytest.mark.parametrize("no_log", [False, True], ids=["plain", "no_log"])
def test_a_record_with_every_field_at_its_bound_fits_with_room_for_the_trailer_and_the_kernels_prefix(no_log):
    longest = {
        row.name: ("x" if row.name in NEVER_HEX else " ") * fields.bound_of(row.name)
        for row in fields.FIELDS if row.source != fields.BINDING
    }
    # A record names become_user or remote_user, never both; arg_names only under no_log, where the object is a
    # keyed hash.
    del longest["remote_user"]
    if no_log:
        longest["object"] = "x" * _hashing.HASH_TEXT_MAX
    else:
        del longest["arg_names"]
    text = build_message("x" * fields.bound_of("op"), longest)
    room = AUDIT_MESSAGE_TEXT_MAX - len(text) - _audited.TRAILER_ROOM - _audited.KERNEL_PREFIX_ROOM
    assert len(text) + room == _audited.RECORD_FIELDS_MAX
    # Even with changed_host, kept_on and forwarded_to beside delegated_to, which no record holds at once.
    assert room > 200, "room left for the play's own fields at the worst: %d bytes" % room
