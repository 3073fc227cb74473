# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Every field this collection writes into a record, one row each: the controller's lists of names, its bounds, the
reader's filters, the ledger's and the report's fields derive from FIELDS. Standard library only: the binding, and
so this table, is shipped to the targets."""

from __future__ import annotations

import typing as t

# Who writes a field. The binding: op= before the fields it is given, the trailer (comm= ... res=) after them.
BINDING = "binding"
# The controller, from the task and its result (_audited.change_fields, change_record_params).
CHANGE = "change"
# The controller, where only it vouches for the value: where a record is kept (_every_change.write_on_controller)
# and its signature (_signing.sign_record). A play's own fields may not take these names.
CONTROLLER = "controller"
# The controller, from the task context (_context.task_context); a play's field of one of these names is refused.
CONTEXT = "context"
# The target, after the controller signed: where it forwarded the record (request.execute).
TARGET = "target"

# The bound of a row that gives none: what a task context value is cut to (_context.bounded_text).
DEFAULT_MAX = 96


class Field(t.NamedTuple):
    name: str
    source: str
    # The most UTF-8 bytes of the value before encoding (hex may double it); None: DEFAULT_MAX.
    bound: t.Optional[int] = None
    # usys_config_info has a string option of the field's name that selects records by it.
    reader_filter: bool = False
    # The intent line of the run's ledger holds it.
    ledger: bool = False
    # Its column in the evidence report, or None.
    column: t.Optional[str] = None
    # The names it had in earlier versions: a play's own field may not take them either.
    retired: t.Tuple[str, ...] = ()


FIELDS = (
    # audit takes op= up to 255 bytes; comm= is a task's comm (TASK_COMM_LEN 16 with the NUL); exe= is a path of up
    # to 256 bytes, written as hex; hostname=, addr= (inet_ntop's IPv6) and terminal= at their longest; res=success.
    Field("op", BINDING, 255, reader_filter=True),
    Field("comm", BINDING, 15, reader_filter=True),
    Field("exe", BINDING, 256),
    Field("hostname", BINDING, 255),
    Field("addr", BINDING, 45),
    Field("terminal", BINDING, 32),
    Field("res", BINDING, 7),
    # object_arg is one of _audited.OBJECT_ARGUMENTS; a checksum or a diff's hash at its longest is a keyed hash
    # (_hashing.HASH_TEXT_MAX); withheld names the values left out.
    Field("module", CHANGE, 128, column="module"),
    Field("object_arg", CHANGE, 4, ledger=True),
    Field("object", CHANGE, 384, ledger=True, column="object"),
    Field("arg_names", CHANGE, 256),
    Field("checksum", CHANGE, 93),
    Field("diff_sha256", CHANGE, 93),
    Field("inventory_host", CHANGE, ledger=True),
    Field("delegated_to", CHANGE),
    Field("withheld", CHANGE, ledger=True),
    # kept_on is "controller"; ctl_sig and ctl_mac at their longest are _signing's placeholders.
    Field("changed_host", CONTROLLER),
    Field("kept_on", CONTROLLER, 10),
    Field("ctl_sig", CONTROLLER, 111),
    Field("ctl_mac", CONTROLLER, 32),
    # In the order task_context writes them. Names and paths get more room than identities and IDs.
    Field("play", CONTEXT, 256, ledger=True),
    Field("cmd", CONTEXT, 256, ledger=True, column="task", retired=("task",)),
    Field("loop_label", CONTEXT, ledger=True),
    Field("task_path", CONTEXT, 256, ledger=True),
    Field("task_id", CONTEXT, reader_filter=True, column="task_id", retired=("task_uuid",)),
    Field("seq", CONTEXT, 10),
    Field("ctl_user", CONTEXT),
    Field("ctl_login_id", CONTEXT, retired=("ctl_auid",)),
    Field("ctl_login", CONTEXT),
    # A record names become_user or remote_user, never both (_privilege.Acting.fields).
    Field("become_user", CONTEXT, ledger=True, column="user"),
    Field("remote_user", CONTEXT),
    Field("awx_job_id", CONTEXT),
    Field("awx_user_name", CONTEXT),
    Field("awx_job_template_name", CONTEXT),
    Field("awx_workflow_job_id", CONTEXT),
    Field("awx_project_revision", CONTEXT),
    Field("ci_actor", CONTEXT),
    Field("ci_commit", CONTEXT),
    Field("run_id", CONTEXT, reader_filter=True),
    # The names of the dispatcher plugins that sent the record out, not cut.
    Field("forwarded_to", TARGET),
)


def names(*sources: str) -> t.Tuple[str, ...]:
    """The names of the fields of ``sources``, in the table's order."""
    return tuple(row.name for row in FIELDS if row.source in sources)


def bound_of(name: str) -> int:
    row = next(row for row in FIELDS if row.name == name)
    return DEFAULT_MAX if row.bound is None else row.bound


def bounds(source: str) -> t.Dict[str, int]:
    """The bounds the rows of ``source`` give themselves (not the default), in the table's order."""
    return {row.name: row.bound for row in FIELDS if row.source == source and row.bound is not None}


def retired(source: str) -> t.FrozenSet[str]:
    return frozenset(name for row in FIELDS if row.source == source for name in row.retired)


# The fields usys_config_info selects records by with an option of their name.
READER_FILTERS = tuple(row.name for row in FIELDS if row.reader_filter)
# What an intent line of the ledger says of the change (the ledger writes its keys sorted: the order is no one's).
LEDGER_FIELDS = tuple(row.name for row in FIELDS if row.ledger)
# Field -> the evidence report's column that shows it.
RECORD_COLUMNS = {row.name: row.column for row in FIELDS if row.column}

__all__ = [
    "BINDING",
    "CHANGE",
    "CONTROLLER",
    "CONTEXT",
    "TARGET",
    "DEFAULT_MAX",
    "Field",
    "FIELDS",
    "names",
    "bound_of",
    "bounds",
    "retired",
    "READER_FILTERS",
    "LEDGER_FIELDS",
    "RECORD_COLUMNS",
]
