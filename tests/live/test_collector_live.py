"""Issue 30, a run proven from a central collector, for real: a receiving auditd (``local_events = no``,
``tcp_listen_port``) started by scripts/collector.sh, fed by the system auditd's ``audisp-remote`` plugin under a
node name of this test's own (``name_format = user``); a run with the record_changes callback over the sshd test
hosts; then ``ansible-playbook changeaudit.linux.evidence`` reading only the collector's log.

- The run's records reach the collector, each with the sender's ``node=`` (ausearch --input on the collector's log,
  the independent oracle), and the proof from that log alone is green, read once on the collector host
  (``evidence_collector``) and from the file on the controller (``evidence_collector_log``).
- The sshd test hosts share this machine's kernel, so they share one node name: the node map gives them the same
  node, and each record goes to the host it names (inventory_host), the rule the guide documents.
- A node map sending one host to a node that sent nothing: its changes are "no records from this node", the proof
  fails and says so.
- Records of another run, and of the same run from another node, are in the same log and ignored.

Everything changed on the system auditd (the au-remote plugin, audisp-remote.conf, name_format and name) is put back
in a finally by ``collector.sh down``, and scripts/ensure-auditd.sh still finds auditd running afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import typing as t
import uuid

import pytest

from livelib import AUDIT_PREFIX, REPO, ensure_auditd
from test_fail_closed_live import ansible_env, output
from test_faults_live import SSH_INVENTORY, deploy, evidence_of, inventory, prove

COLLECTOR = os.path.join(REPO, "scripts", "collector.sh")
COLLECTOR_DIR = os.path.join(REPO, ".build", "collector")
COLLECTOR_LOG = os.path.join(COLLECTOR_DIR, "log", "audit.log")
SENDER_FILES = ("/etc/audit/auditd.conf", "/etc/audit/plugins.d/au-remote.conf", "/etc/audit/audisp-remote.conf")
HOSTS = ("ssh1", "ssh2")

pytestmark = [
    pytest.mark.skipif(AUDIT_PREFIX is not None, reason="the collector is fed by the system's auditd, not a version's"),
    pytest.mark.skipif(not os.path.isfile(SSH_INVENTORY) and not os.environ.get("CHANGEAUDIT_REQUIRE_SSH_HOSTS"),
                       reason="the sshd test hosts are not up (scripts/ssh-hosts.sh up writes .build/ssh/inventory.yml)"),
    pytest.mark.skipif(not os.path.exists("/sbin/audisp-remote") and not os.path.exists("/usr/sbin/audisp-remote"),
                       reason="audisp-remote is not installed (apt package audispd-plugins; scripts/setup.sh installs it)"),
]

PLAY = """
- name: Two changes on each host
  hosts: all
  gather_facts: false
  become: true
  tasks:
    - name: collector-first
      ansible.builtin.copy: {dest: "%(d)s/{{ inventory_hostname }}-first", content: "%(m)s"}
    - name: collector-second
      ansible.builtin.copy: {dest: "%(d)s/{{ inventory_hostname }}-second", content: "%(m)s"}
"""


def collector(*args: str) -> str:
    proc = subprocess.run(["bash", COLLECTOR, *args], capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, "collector.sh %s: %s%s" % (" ".join(args), proc.stdout, proc.stderr)
    return proc.stdout


def collected(needle: str) -> t.List[str]:
    """USYS_CONFIG lines of the collector's log holding ``needle``, as ausearch reads them."""
    proc = subprocess.run(["ausearch", "--input", COLLECTOR_LOG, "-m", "USYS_CONFIG", "--raw"], capture_output=True,
                          text=True, errors="replace", check=False, timeout=120)
    return [line for line in proc.stdout.splitlines() if needle in line]


def wait_collected(needle: str, count: int, timeout: float = 30.0) -> t.List[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = collected(needle)
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.5)


def node_of(line: str) -> t.Optional[str]:
    return line.split(" ", 1)[0][len("node="):] if line.startswith("node=") else None


@pytest.fixture(scope="module")
def collector_run(tmp_path_factory) -> t.Iterator[t.Dict[str, t.Any]]:
    base = tmp_path_factory.mktemp("collector")
    node = "ca-" + uuid.uuid4().hex[:12]
    other_node = "ca-other-" + uuid.uuid4().hex[:8]
    saved = {path: open(path, "rb").read() for path in SENDER_FILES}
    try:
        collector("up")
        collector("send", node)
        run_id = "collector-" + uuid.uuid4().hex
        other_run = "collector-other-" + uuid.uuid4().hex
        hosts = inventory(base, *HOSTS)
        changes = base / "changes"
        changes.mkdir()
        (base / "forged").mkdir()
        proc = deploy(base, hosts, PLAY % {"d": changes, "m": run_id}, ansible_env(CHANGEAUDIT_RUN_ID=run_id))
        # Mixed in: another run on the same hosts, and the same run's id written from another node (a host that
        # claims to be ssh1 in its fields), which only node= tells apart.
        other = deploy(base, hosts, PLAY % {"d": changes, "m": other_run}, ansible_env(CHANGEAUDIT_RUN_ID=other_run))
        collector("send", other_node)
        forged = deploy(base, inventory(base, "ssh1"), PLAY % {"d": base / "forged", "m": run_id},
                        ansible_env(CHANGEAUDIT_RUN_ID=run_id, CHANGEAUDIT_LEDGER_DIR=str(base / "other-ledgers")))
        collector("send", node)
        lines = wait_collected(run_id, 2 * len(HOSTS) + 2)
        yield {"base": base, "node": node, "other_node": other_node, "run_id": run_id, "hosts": hosts, "proc": proc,
               "other": other, "forged": forged, "lines": lines, "other_lines": wait_collected(other_run, 4)}
    finally:
        try:
            collector("down")
        finally:
            ensure_auditd()
            for path, data in saved.items():
                assert open(path, "rb").read() == data, "%s was not put back" % path


def node_map(**hosts: str) -> str:
    """The extra vars document (-e '{...}'): a dict, which key=value form cannot give."""
    return json.dumps({"evidence_node_map": hosts})


def test_the_runs_records_reach_the_collector_with_the_senders_node(collector_run):
    run = collector_run
    assert run["proc"].returncode == 0, output(run["proc"])
    assert run["other"].returncode == 0 and run["forged"].returncode == 0, output(run["forged"])
    nodes = [node_of(line) for line in run["lines"]]
    assert sorted(nodes) == sorted([run["node"]] * 2 * len(HOSTS) + [run["other_node"]] * 2), run["lines"]
    assert len(run["other_lines"]) == 2 * len(HOSTS)


@pytest.mark.parametrize("mode", ["collector_host", "controller_file"])
def test_the_run_is_proven_from_the_collectors_log_alone(collector_run, mode):
    run = collector_run
    report = run["base"] / ("report-" + mode)
    where = (["-e", "evidence_collector=localhost", "-e", "evidence_collector_path=%s" % COLLECTOR_LOG,
              "-e", "ansible_python_interpreter=/usr/bin/python3"] if mode == "collector_host"
             else ["-e", "evidence_collector_log=%s" % COLLECTOR_LOG])
    proved = prove(run["hosts"], run["run_id"], report, *where, "-e", node_map(**{host: run["node"] for host in HOSTS}),
                   env=ansible_env(callback=False))
    assert proved.returncode == 0, output(proved)
    evidence = evidence_of(report)
    assert evidence["summary"]["recorded"] == 2 * len(HOSTS) and evidence["summary"]["gaps"] == 0, evidence["summary"]
    assert {row["host"] for row in evidence["changes"]} == set(HOSTS)
    # The other node's two records of this run, and the other run's, were in the log and matched nothing.
    assert evidence["collector"]["unmapped_nodes"] == {run["other_node"]: 2}, evidence["collector"]
    assert evidence["collector"]["records_of_run"] == 2 * len(HOSTS) + 2
    for host in HOSTS:
        assert evidence["hosts"][host]["nodes"] == [run["node"]]


def test_a_host_whose_node_sent_nothing_is_no_records_from_this_node(collector_run):
    run = collector_run
    absent = "ca-absent-" + uuid.uuid4().hex[:8]
    report = run["base"] / "report-absent"
    proved = prove(run["hosts"], run["run_id"], report, "-e", "evidence_collector_log=%s" % COLLECTOR_LOG,
                   "-e", node_map(ssh1=run["node"], ssh2=absent), env=ansible_env(callback=False))
    assert proved.returncode != 0, output(proved)
    assert "no records from the host's node 2" in " ".join(proved.stdout.split()), output(proved)
    evidence = evidence_of(report)
    status = {(row["host"], row["seq"]): row["status"] for row in evidence["changes"]}
    assert status == {("ssh1", 1): "recorded", ("ssh1", 2): "recorded",
                      ("ssh2", 1): "no_records_from_node", ("ssh2", 2): "no_records_from_node"}, status
    gap = [row for row in evidence["changes"] if row["host"] == "ssh2"][0]
    assert "no records from this node" in gap["reason"] and absent in gap["reason"]
    # ssh2's records are in the log, under the node it shares with ssh1: not ssh1's, so they are counted apart.
    assert evidence["collector"]["ambiguous_nodes"] == {} and evidence["hosts"]["ssh1"]["records_of_other_hosts"] == 2
    html = (report / "evidence.html").read_text()
    assert "no records from this node" in html
