# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The statuses of the evidence's rows, which reconcile gives and every format of the evidence report shows. Those of a
change of the ledger come from the ledger's table of outcomes (``_ledger.OUTCOMES``)."""

from __future__ import annotations

import typing as t

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import MISSING, RECORDED, SKIPPED_BY_POLICY, UNKNOWN_OUTCOME

# Per change, besides the ledger's: the host's trail could not be read.
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


def rows_by_host(evidence: t.Mapping[str, t.Any]) -> t.Dict[str, t.List[t.Mapping[str, t.Any]]]:
    """The report's rows per host, in their order: a renderer walks each host's once, not every row for every host."""
    grouped: t.Dict[str, t.List[t.Mapping[str, t.Any]]] = {}
    for row in evidence["changes"]:
        grouped.setdefault(row["host"], []).append(row)
    return grouped


__all__ = [
    "HOST_UNREACHABLE",
    "NO_RECORDS_FROM_NODE",
    "UNEXPECTED",
    "OWN_RECORD",
    "STATUSES",
    "GAPS",
    "rows_by_host",
]
