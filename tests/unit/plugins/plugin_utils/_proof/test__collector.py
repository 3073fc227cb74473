"""The central collector mode: one log of many hosts' records, placed by node=, and the new status."""

from __future__ import annotations

import datetime
import typing as t

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import build_message, render_record
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._collector import (
    NodeIndex,
    host_nodes,
    read_collector_log,
    split_records,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._evidence import reconcile
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._evidence_rows import NO_RECORDS_FROM_NODE
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import RECORDED
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_html import render_evidence_html
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_junit import render_evidence_junit

RUN = "run-collector-1"
NOW = 1_800_000_000.0


def line(node: t.Optional[str], serial: int, run_id: str, host: str, seq: int, task_id: str, **extra: str) -> str:
    fields = {"run_id": run_id, "seq": str(seq), "task_id": task_id, "inventory_host": host, "module": "copy",
              "object": "/etc/x"}
    fields.update(extra)
    text = render_record(build_message("ansible-change:copy:/etc/x", fields), b"/usr/bin/python3", "ansible", None, None,
                         None, True)
    record = "type=USYS_CONFIG msg=audit(%.3f:%d): pid=1 uid=0 auid=1000 ses=3 subj=unconfined msg='%s'" % (
        NOW + serial, serial, text)
    return "node=%s %s" % (node, record) if node else record


def ledger(hosts: t.Mapping[str, int]) -> t.List[t.Dict[str, t.Any]]:
    stamp = datetime.datetime.fromtimestamp(NOW, datetime.timezone.utc).isoformat()
    entries = []
    for host, count in hosts.items():
        for seq in range(1, count + 1):
            task = "task-%s-%d" % (host, seq)
            entries.append({"kind": "intent", "run_id": RUN, "host": host, "seq": seq, "task_id": task, "time": stamp})
            entries.append({"kind": "outcome", "run_id": RUN, "host": host, "seq": seq, "outcome": "recorded",
                            "time": stamp})
    return entries


def test_default_rule_names_a_host_by_inventory_name_address_and_short_names():
    hostvars = {"web1.example.com": {"ansible_host": "Web1.Prod.Example.com"}, "db": {"ansible_host": "10.0.0.5"}}
    assert host_nodes("web1.example.com", hostvars, {}) == ["web1", "web1.example.com", "web1.prod.example.com"]
    # An address is no name: no "10" short name.
    assert host_nodes("db", hostvars, {}) == ["10.0.0.5", "db"]
    assert host_nodes("db", hostvars, {"db": ["Node-A", "node-b"]}) == ["node-a", "node-b"]


def test_a_node_map_of_the_whole_fleet_serves_a_report_of_part_of_it_and_a_bad_one_is_refused():
    assert NodeIndex(["a"], {}, {"a": "n1", "elsewhere": "x"}).by_node == {"n1": ["a"]}
    with pytest.raises(ValueError, match="node name"):
        NodeIndex(["a"], {}, {"a": {"not": "a name"}})


def test_one_log_of_many_hosts_is_split_by_node_and_a_silent_node_is_named(tmp_path):
    log = tmp_path / "audit.log"
    lines = [
        line("node-b", 2, RUN, "b", 1, "task-b-1"),
        # Another run, and a node no host maps to: ignored.
        line("node-a", 3, "other-run", "a", 2, "task-a-2"),
        line("stranger", 4, RUN, "a", 2, "task-a-2"),
        # A record on node-b naming host a: b's log, so it proves nothing of a.
        line("node-b", 5, RUN, "a", 2, "task-a-2"),
        line("node-a", 6, RUN, "a", 2, "task-a-2"),
    ]
    log.write_text("\n".join(lines) + "\n")
    # The rotation holds the run's first record: read, since it is in the run's span.
    (tmp_path / "audit.log.1").write_text(line("node-a", 1, RUN, "a", 1, "task-a-1") + "\n")
    index = NodeIndex(["a", "b", "c"], {}, {"a": "node-a", "b": "NODE-B", "c": "node-c"})
    since = datetime.datetime.fromtimestamp(NOW - 300, datetime.timezone.utc).isoformat()
    records, files = read_collector_log(str(log), RUN, since)
    reads, info = split_records(records, RUN, index, str(log), files)
    assert [r["fields"]["seq"] for r in reads["a"]["records"]] == ["1", "2"] and len(files) == 2
    assert len(reads["b"]["records"]) == 2 and reads["c"]["records"] == []
    assert reads["c"]["node_silent"] and not reads["a"].get("node_silent")
    assert info["unmapped_nodes"] == {"stranger": 1} and info["nodes"]["node-a"] == 2
    evidence = reconcile(RUN, ledger({"a": 2, "b": 1, "c": 1}), reads, {"sealed": True, "final": True})
    status = {(row["host"], row["seq"]): row["status"] for row in evidence["changes"]}
    assert status[("a", 1)] == status[("a", 2)] == status[("b", 1)] == RECORDED
    assert status[("c", 1)] == NO_RECORDS_FROM_NODE
    [gap] = [row for row in evidence["changes"] if row["status"] == NO_RECORDS_FROM_NODE]
    assert "no records from this node" in gap["reason"] and "node-c" in gap["reason"]
    assert evidence["hosts"]["b"]["records_of_other_hosts"] == 1
    assert evidence["summary"][NO_RECORDS_FROM_NODE] == 1 and evidence["summary"]["gaps"] == 1
    assert "no_records_from_node" in render_evidence_html(evidence) and "no_records_from_node" in render_evidence_junit(evidence)


def test_hosts_sharing_one_node_are_told_apart_by_the_host_the_record_names():
    records = []
    for serial, host in enumerate(["a", "b", "a", "zz"]):
        fields = {"run_id": RUN, "seq": "1", "inventory_host": host}
        records.append({"node": "shared", "fields": fields, "serial": serial})
    records.append({"node": "shared", "fields": {"run_id": RUN, "seq": "2", "inventory_host": "a", "delegated_to": "b"}})
    index = NodeIndex(["a", "b"], {}, {"a": "shared", "b": "shared"})
    reads, info = split_records(records, RUN, index, "collector")
    assert len(reads["a"]["records"]) == 2 and len(reads["b"]["records"]) == 2
    assert info["ambiguous_nodes"] == {"shared": 1}


def test_a_collector_record_is_kept_as_slim_keeps_the_whole_record(tmp_path):
    """read_collector_log builds each record's slim form from its line, without as_dict's whole dict: the same
    keys and values, for a local record and a forwarded one, a hex-encoded value and ENRICHED names."""
    from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.reader import AuditLogReader, RecordFilter, UserNames
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._collector import slim

    log = tmp_path / "audit.log"
    log.write_text("\n".join([
        line("web1.example", 1, RUN, "web1", 1, "t1"),
        line(None, 2, RUN, "web2", 1, "t2", cmd="a value with spaces 'and quotes'") + '\x1dUID="root" AUID="deploy"',
        line("web3", 3, "another-run", "web3", 1, "t3"),
    ]) + "\n")
    records, files = read_collector_log(str(log), RUN, None, include_rotated=False)
    streamed = list(records)
    names = UserNames()
    whole = [slim(record.as_dict(names), {}) for record in AuditLogReader(str(log), False, RecordFilter(fields={"run_id": RUN}))]
    assert files == [str(log)] and len(streamed) == 2
    assert [dict(record) for record in streamed] == whole
    assert streamed[1]["fields"]["cmd"] == "a value with spaces 'and quotes'" and streamed[1]["auid_name"] == "deploy"
