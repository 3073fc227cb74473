# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Proving a run from a central collector: one log holding many hosts' records (a receiving auditd with
``tcp_listen_port`` fed by ``audisp-remote``), split into the per-inventory-host reads ``_evidence.reconcile`` takes.

A record's ``node=`` prefix (the sending auditd's ``name_format``) says where it was logged; that decides which
inventory host it belongs to, never the host a record's own fields name (a host can write any text into its own
records, but not another node's prefix). The rule, in order:

1. the explicit map (``node_map``: inventory host -> node name or list of names) for the hosts it names;
2. otherwise a host's nodes are its inventory name, its ``ansible_host`` and the short name (up to the first dot)
   of each that is not an IP address, compared without case; a node matching none of them is tried by its own
   short name (``name_format = fqd`` senders, an inventory of short names);
3. a node several inventory hosts share (containers or test hosts on one kernel, one ``name``) gives a record to
   the host of those that the record names (``delegated_to``, else ``inventory_host``; for a record the
   controller kept, ``changed_host``); a record naming none of them is counted, not matched;
4. a record without ``node=`` is the collector's own, and belongs to the collector's inventory host, if given.

A host with changes in the ledger whose nodes sent no record of the run at all is reported
"no records from this node" (``node_silent``): its forwarding is off or broken, or the map names the wrong node.
"""

from __future__ import annotations

import ipaddress
import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.reader import AuditLogReader, RecordFilter, UserNames
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.timespec import time_range

NODE_RULE = ("node= (or its short name) is the inventory name, ansible_host, or the short name of either (without "
             "case), unless node_map names the host's nodes; a node several hosts share goes to the one the record "
             "names (delegated_to, else inventory_host)")


# What reconcile and the report use of a record; the rest (its text, exe, comm, hostname, addr, terminal, pid) is
# left out of the reads of a collector, whose 200,000 records would otherwise hold the log twice over in memory.
KEPT_KEYS = ("timestamp", "time", "serial", "event_id", "node", "uid", "uid_name", "auid", "auid_name", "ses", "op",
             "result", "fields")
# Field values that repeat from record to record (the same task on every host, the run's id): held once each.
SHARED_VALUES = frozenset(("module", "object_arg", "object", "play", "cmd", "task_path", "task_id", "ctl_user",
                           "become_user", "run_id", "inventory_host", "delegated_to", "kept_on", "changed_host", "seq"))


def slim(record: t.Mapping[str, t.Any], shared: t.Dict[str, str]) -> t.Dict[str, t.Any]:
    """The parts of a record the proof uses, field names and repeating values shared between records."""
    kept = {key: record.get(key) for key in KEPT_KEYS}
    fields = {}
    setdefault = shared.setdefault
    for name, value in (record.get("fields") or {}).items():
        # A dict, not sys.intern: ansible-core wraps that in Python, at twice the cost.
        name = setdefault(name, name)
        if name in SHARED_VALUES and isinstance(value, str):
            value = setdefault(value, value)
        fields[name] = value
    kept["fields"] = fields
    for key in ("node", "uid_name", "auid_name", "op", "result"):
        if isinstance(kept[key], str):
            kept[key] = shared.setdefault(kept[key], kept[key])
    return kept


class SlimRecord(dict):
    """A record as ``slim`` keeps it, built straight from the log's line (read_collector_log): never slimmed twice."""

    __slots__ = ()


def slim_line(record: t.Any, names: t.Optional[UserNames], shared: t.Dict[str, str]) -> SlimRecord:
    """``slim(record.as_dict(names))`` of an AuditRecord read from a log, without the whole dict in between: the same
    keys and values, the record's fields decoded once (the reader's run_id filter decoded them already)."""
    setdefault = shared.setdefault
    fields = {}
    for name, value in record.fields.items():
        name = setdefault(name, name)
        if name in SHARED_VALUES:
            value = setdefault(value, value)
        fields[name] = value
    kernel = record.kernel
    enriched = record.enriched
    uid = _int_or_none(kernel.get("uid"))
    auid = _int_or_none(kernel.get("auid"))
    kept = SlimRecord(
        timestamp=record.timestamp, time=record.time, serial=record.serial, event_id=record.event_id,
        node=record.node, uid=uid, uid_name=record._name_of(uid, enriched.get("UID"), names),  # pylint: disable=protected-access
        auid=auid, auid_name=record._name_of(auid, enriched.get("AUID"), names),  # pylint: disable=protected-access
        ses=_int_or_none(kernel.get("ses")), op=record.op, result=record.result, fields=fields,
    )
    for key in ("node", "uid_name", "auid_name", "op", "result"):
        value = kept[key]
        if isinstance(value, str):
            kept[key] = setdefault(value, value)
    return kept


def _int_or_none(text: t.Optional[str]) -> t.Optional[int]:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _short(name: str) -> t.Optional[str]:
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        return name.split(".", 1)[0] if "." in name else None


def host_nodes(host: str, hostvars: t.Mapping[str, t.Any], node_map: t.Mapping[str, t.Any]) -> t.List[str]:
    """The node names (lower case) whose records are the inventory host ``host``'s."""
    if host in node_map:
        named = node_map[host]
        names = [named] if isinstance(named, str) else list(named or [])
        return sorted({str(name).lower() for name in names if str(name)})
    candidates = {host}
    address = (hostvars.get(host) or {}).get("ansible_host") if hostvars else None
    if isinstance(address, str) and address:
        candidates.add(address)
    for name in list(candidates):
        short = _short(name)
        if short:
            candidates.add(short)
    return sorted({name.lower() for name in candidates})


class NodeIndex:
    """node name -> the inventory hosts it can belong to, and the placing of each record."""

    def __init__(self, hosts: t.Sequence[str], hostvars: t.Mapping[str, t.Any], node_map: t.Mapping[str, t.Any],
                 collector: t.Optional[str] = None) -> None:
        if not isinstance(node_map, dict) or not all(isinstance(names, (str, list)) for names in node_map.values()):
            raise ValueError("node_map maps inventory hosts to a node name or a list of node names")
        # A map of the whole fleet serves a report of part of it (evidence_hosts): the other hosts' entries are unused.
        known = set(hosts)
        node_map = {host: names for host, names in node_map.items() if host in known}
        self.hosts = list(hosts)
        self.nodes = {host: host_nodes(host, hostvars, node_map) for host in hosts}
        self.by_node: t.Dict[str, t.List[str]] = {}
        for host, names in self.nodes.items():
            for name in names:
                self.by_node.setdefault(name, []).append(host)
        self.collector = collector if collector in self.nodes else None

    def key(self, node: t.Any) -> t.Optional[str]:
        """The index's name for a record's node (None: no host has it); "" for a record without node=."""
        if not node:
            return "" if self.collector else None
        node = str(node).lower()
        if node in self.by_node:
            return node
        # A node named by its full name (name_format = fqd) for a host the inventory names short.
        short = _short(node)
        return short if short in self.by_node else None

    def owner(self, record: t.Mapping[str, t.Any], key: t.Optional[str]) -> t.Tuple[t.Optional[str], str]:
        """(the inventory host the record is placed with, or None; why not: "unmapped", "ambiguous", "")."""
        if key is None:
            return None, "unmapped"
        if key == "":
            return self.collector, ""
        candidates = self.by_node[key]
        if len(candidates) == 1:
            return candidates[0], ""
        fields = record.get("fields") or {}
        named = fields.get("changed_host") if fields.get("kept_on") == "controller" else (
            fields.get("delegated_to") or fields.get("inventory_host"))
        if named in candidates:
            return named, ""
        return None, "ambiguous"


def split_records(records: t.Iterable[t.Mapping[str, t.Any]], run_id: str, index: NodeIndex,
                  source: str, files: t.Sequence[str] = ()) -> t.Tuple[t.Dict[str, t.Dict[str, t.Any]], t.Dict[str, t.Any]]:
    """(inventory host -> read as reconcile takes it, what the collector held): one pass over ``records``.

    Records of other runs are skipped (the reader's run_id filter leaves none, a file read without it may);
    records of nodes no host maps to are counted per node, never matched."""
    reads: t.Dict[str, t.Dict[str, t.Any]] = {host: {"reachable": True, "records": []} for host in index.hosts}
    per_node: t.Dict[str, int] = {}
    per_key: t.Dict[t.Optional[str], int] = {}
    unmapped: t.Dict[str, int] = {}
    ambiguous: t.Dict[str, int] = {}
    other_runs = 0
    total = 0
    shared: t.Dict[str, str] = {}
    for record in records:
        fields = record.get("fields") or {}
        if fields.get("run_id") != run_id:
            other_runs += 1
            continue
        total += 1
        node = str(record.get("node") or "")
        per_node[node.lower()] = per_node.get(node.lower(), 0) + 1
        key = index.key(record.get("node"))
        per_key[key] = per_key.get(key, 0) + 1
        host, why = index.owner(record, key)
        if host is None:
            bucket = unmapped if why == "unmapped" else ambiguous
            bucket[node] = bucket.get(node, 0) + 1
            continue
        reads[host]["records"].append(record if isinstance(record, SlimRecord) else slim(record, shared))
    for host, read in reads.items():
        names = index.nodes[host]
        sent = sum(per_key.get(name, 0) for name in names) + (per_key.get("", 0) if host == index.collector else 0)
        read["collector"] = {"source": source, "nodes": names, "records_from_nodes": sent}
        if not sent:
            read["node_silent"] = True
            read["error"] = ("no records from this node: the collector %s holds no record of the run from node%s %s "
                             "(its audisp-remote does not forward, or the node map names another node)"
                             % (source, "" if len(names) == 1 else "s", ", ".join(names) or "(none)"))
    info = {
        "source": source,
        "files": list(files),
        "rule": NODE_RULE,
        "records_of_run": total,
        "records_of_other_runs": other_runs,
        "nodes": dict(sorted(per_node.items())),
        "unmapped_nodes": dict(sorted(unmapped.items())),
        "ambiguous_nodes": dict(sorted(ambiguous.items())),
    }
    return reads, info


def read_collector_log(path: str, run_id: str, since: t.Optional[str], include_rotated: bool = True) -> t.Tuple[t.Iterator[t.Dict[str, t.Any]], t.List[str]]:
    """(the run's records in a collector's log on the controller, streamed oldest first; the files read): the log
    and its rotations back to ``since``, one pass, a record at a time. Raises AuditError when the log cannot be read."""
    start, _end = time_range(since, None) if since else (None, None)
    record_filter = RecordFilter(start, None, fields={"run_id": run_id})
    reader = AuditLogReader(path, include_rotated, record_filter)
    names = UserNames()
    shared: t.Dict[str, str] = {}

    def records() -> t.Iterator[t.Dict[str, t.Any]]:
        for record in reader:
            # A forwarded record's user names are the sender's (ENRICHED) or unknown here: as_dict's lookup asks
            # this machine only for a local record.
            yield slim_line(record, names, shared)

    return records(), list(reader.files)


def failed_reads(hosts: t.Sequence[str], error: str) -> t.Dict[str, t.Dict[str, t.Any]]:
    """Every host's read when the collector itself could not be read: each change is a host_unreachable gap."""
    return {host: {"reachable": False, "records": [], "error": error} for host in hosts}


__all__ = [
    "NODE_RULE",
    "SlimRecord",
    "slim_line",
    "host_nodes",
    "NodeIndex",
    "split_records",
    "read_collector_log",
    "failed_reads",
]
