"""Issue 27, a run proven under faults, for real: ansible-playbook (and ad-hoc ansible) with the record_changes
callback over the sshd test hosts, then ``ansible-playbook changeaudit.linux.evidence``; each case asserts the
verdict (exit code, message) and the count of each status in the report's summary.

- No ledger (a mistyped run_id, a deleted ledger directory) fails the proof, "nothing can be proven", unless the
  caller says the run kept none; a ledger_dir set only in ansible.cfg is found by the evidence playbook too.
- A task that failed without its module saying changed (MODULE FAILURE, its timeout, a plain fail_json) on a host
  still reachable gets a record with res=failed, its ledger outcome is unknown, the report says recorded; a copy of
  a directory whose third file fails validation likewise.
- until/retries: one intent and one record per task and host, whichever attempt changed the host.
- Look-alike names (ping from another collection under collections:, a role's library/setup.py) are recorded.
- A change whose host then goes away (its sshd killed under the task) with ignore_unreachable: the deploy passes,
  the ledger says unknown, the end-of-run summary names the change, the proof fails.
- A reused run_id: the second run's dropped record is missing, the first run's record of the same seq proves
  nothing.
- The run to prove is the controller's: a host's awx_job_id fact does not change it.
- The controller SIGKILLed during a changing task: the change is a gap.
- strategy free and host_pinned, serial, throttle, run_once, delegate_to, a partly changing loop, handlers, async
  with poll, check mode and an ad-hoc run: one record per changed result, 0 gaps.

Each run has its own run_id (faults-<uuid>), and its records are found by it with ausearch (the independent oracle).
A host that must go away is a private sshd this file starts on its own loopback address with ssh1's login user and
host key, so that the shared test hosts are never stopped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import textwrap
import time
import typing as t
import uuid

import pytest
import yaml

from livelib import COLLECTIONS, REPO, ausearch_raw, msg_text
from test_fail_closed_live import ADHOC, LEDGER_DIR, PLAYBOOK, ansible_env, decode, fence, output

SSH_INVENTORY = os.path.join(REPO, ".build", "ssh", "inventory.yml")
SSH_BUILD = os.path.join(REPO, ".build", "ssh")
SSH_RUN = "/run/changeaudit-ssh"
# The private sshd of the unreachable case: outside 127.0.0.11-18, where scripts/ssh-hosts.sh puts its hosts.
PRIVATE_ADDRESS = "127.0.0.19"
PRIVATE_PORT = 2222
RUN_TIMEOUT = 240
STATUSES = ("recorded", "missing", "unknown_outcome", "skipped_by_policy", "host_unreachable", "unexpected", "own_record")
GAPS = ("missing", "unknown_outcome", "host_unreachable", "unexpected")

pytestmark = pytest.mark.skipif(
    not os.path.isfile(SSH_INVENTORY) and not os.environ.get("CHANGEAUDIT_REQUIRE_SSH_HOSTS"),
    reason="the sshd test hosts are not up (scripts/ssh-hosts.sh up writes .build/ssh/inventory.yml)",
)

# Changes the file, then exits without a result: MODULE FAILURE, and core hands back changed: false.
DIE_WITHOUT_JSON = '''#!/usr/bin/python
import os
import sys

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={"path": {"type": "str", "required": True}})
    with open(module.params["path"], "w") as handle:
        handle.write("changed")
    sys.stdout.write("dying before any result\\n")
    sys.stdout.flush()
    os._exit(1)


main()
'''
# Changes the file, then fails without saying whether it changed anything.
FAIL_PLAIN = '''#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={"path": {"type": "str", "required": True}})
    with open(module.params["path"], "w") as handle:
        handle.write("changed")
    module.fail_json(msg="failed after writing %s" % module.params["path"])


main()
'''
# A module that changes the host under a name core's own actions use (acme.tools.ping, a role's setup).
CHANGE_AND_SAY_SO = '''#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={"path": {"type": "str", "required": True}})
    with open(module.params["path"], "w") as handle:
        handle.write("changed")
    module.exit_json(changed=True, path=module.params["path"])


main()
'''
RETURN_FACTS = '''#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={"facts": {"type": "dict", "required": True}})
    module.exit_json(changed=False, ansible_facts=module.params["facts"])


main()
'''


# --- helpers ------------------------------------------------------------------------------------------------------


def new_run_id() -> str:
    return "faults-" + uuid.uuid4().hex


def inventory(directory, *names: str, extra: t.Optional[t.Dict[str, t.Dict[str, t.Any]]] = None) -> str:
    """The sshd test hosts ``names`` (and the hosts of ``extra``) with the shared connection settings, alone in an
    inventory, so that the evidence playbook (hosts: all) reads only them. Written 0600: ssh2's entry reads a
    password file."""
    with open(SSH_INVENTORY) as handle:
        source = yaml.safe_load(handle)
    known: t.Dict[str, t.Any] = {}
    for group in source["all"]["children"].values():
        # ssh_become and ssh_no_root name the hosts again, without their variables.
        known.update({name: values for name, values in (group.get("hosts") or {}).items() if values})
    hosts = {name: known[name] for name in names}
    hosts.update(extra or {})
    path = os.path.join(str(directory), "inventory-%s.yml" % uuid.uuid4().hex[:8])
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump({"all": {"vars": source["all"]["vars"], "hosts": hosts}}, handle)
    return path


def write_play(directory, play: str) -> str:
    path = os.path.join(str(directory), "play-%s.yml" % uuid.uuid4().hex[:8])
    with open(path, "w") as handle:
        handle.write(textwrap.dedent(play))
    return path


def deploy(directory, hosts: str, play: str, env: t.Dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PLAYBOOK, "-i", hosts, write_play(directory, play), *args], env=env, capture_output=True,
                          text=True, check=False, timeout=RUN_TIMEOUT)


def prove(hosts: str, run_id: str, report_dir, *extra: str,
          env: t.Optional[t.Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """ansible-playbook changeaudit.linux.evidence, as the README says to run it."""
    return subprocess.run(
        [PLAYBOOK, "changeaudit.linux.evidence", "-i", hosts, "-e", "run_id=%s" % run_id,
         "-e", "report_dir=%s" % report_dir, *extra],
        env=env if env is not None else ansible_env(callback=False), capture_output=True, text=True, check=False,
        timeout=RUN_TIMEOUT,
    )


def evidence_of(report_dir) -> t.Dict[str, t.Any]:
    with open(os.path.join(str(report_dir), "evidence.json"), encoding="utf-8") as handle:
        return json.load(handle)


def counts(evidence: t.Mapping[str, t.Any]) -> t.Dict[str, int]:
    """The summary's count of each status, of changes and of gaps."""
    return {key: evidence["summary"][key] for key in STATUSES + ("changes", "gaps")}


def expected(**given: int) -> t.Dict[str, int]:
    """A summary with ``given`` counts of statuses and none of the others; changes and gaps follow from them."""
    summary = {status: given.get(status, 0) for status in STATUSES}
    summary["changes"] = sum(summary.values())
    summary["gaps"] = sum(summary[status] for status in GAPS)
    return summary


def flat(proc: subprocess.CompletedProcess) -> str:
    """stdout and stderr with core's line wrapping undone."""
    return " ".join((proc.stdout + "\n" + proc.stderr).split())


def ledger_lines(run_id: str, root: str = LEDGER_DIR) -> t.List[t.Dict[str, t.Any]]:
    """The intent and outcome lines of the run's ledger."""
    with open(os.path.join(root, run_id, "ledger.jsonl"), encoding="ascii") as handle:
        return [entry for entry in map(json.loads, handle) if entry.get("kind") in ("intent", "outcome")]


def ledger_or_nothing(run_id: str) -> t.List[t.Dict[str, t.Any]]:
    """The run's ledger lines, or none where the run kept no ledger (its tests then fail on what they look for)."""
    try:
        return ledger_lines(run_id)
    except FileNotFoundError:
        return []


def intents_of(entries: t.List[t.Dict[str, t.Any]], task: str) -> t.List[t.Dict[str, t.Any]]:
    """The task's intent lines, each with the outcome line of its (host, seq) under "outcome" (None without one)."""
    outcomes = {(entry["host"], entry["seq"]): entry for entry in entries if entry["kind"] == "outcome"}
    found = []
    for entry in entries:
        if entry["kind"] == "intent" and named(entry.get("cmd"), task):
            found.append(dict(entry, outcome=outcomes.get((entry["host"], entry["seq"]))))
    return found


RECORD_FIELD = re.compile(r'(?:^| )([a-z_]+)=("[^"]*"|[^ ]*)')


def records(run_id: str) -> t.List[t.Dict[str, str]]:
    """The run's records as ausearch finds them by its run_id: the user fields decoded, the kernel's auid too."""
    fence()
    found = []
    for line in ausearch_raw('run_id="%s"' % run_id):
        values = {name: decode(value) for name, value in RECORD_FIELD.findall(msg_text(line))}
        auid = re.search(r" auid=(\d+) ", line.split(" msg='", 1)[0])
        values["kernel_auid"] = auid.group(1) if auid else ""
        found.append(values)
    return found


def named(name: t.Any, task: str) -> bool:
    """Whether a record's, an intent's or a row's task name is ``task``: core names a role's task "<role> : <name>"."""
    return isinstance(name, str) and (name == task or name.endswith(" : " + task))


def of_task(rows: t.Iterable[t.Mapping[str, t.Any]], task: str, key: str = "cmd") -> t.List[t.Mapping[str, t.Any]]:
    return [row for row in rows if named(row.get(key), task)]


def user_id(name: str) -> str:
    return subprocess.run(["id", "-u", name], capture_output=True, text=True, check=True, timeout=10).stdout.strip()


# --- 1. a run without a ledger; ledger_dir from ansible.cfg only ---------------------------------------------------


def test_a_run_without_its_ledger_is_not_proven_and_ansible_cfg_ledger_dir_is_found(tmp_path):
    run_id = new_run_id()
    root = os.path.join(LEDGER_DIR, run_id + "-cfg")
    config = tmp_path / "ansible.cfg"
    config.write_text("[changeaudit_record_changes]\nledger_dir = %s\n" % root)
    hosts = inventory(tmp_path, "ssh1")
    env = ansible_env(CHANGEAUDIT_RUN_ID=run_id, ANSIBLE_CONFIG=str(config))
    del env["CHANGEAUDIT_LEDGER_DIR"]
    proc = deploy(tmp_path, hosts, """
        - hosts: ssh1
          gather_facts: false
          become: true
          tasks:
            - name: case-cfg-ledger
              ansible.builtin.copy: {dest: "%s", content: "x"}
    """ % (tmp_path / "cfg-ledger"), env)
    assert proc.returncode == 0, output(proc)
    assert os.path.isfile(os.path.join(root, run_id, "ledger.jsonl")), "the callback did not keep its ledger in %s" % root
    assert len(of_task(records(run_id), "case-cfg-ledger")) == 1

    evidence_env = ansible_env(callback=False, ANSIBLE_CONFIG=str(config))
    del evidence_env["CHANGEAUDIT_LEDGER_DIR"]
    proved = prove(hosts, run_id, tmp_path / "report-cfg", env=evidence_env)
    assert proved.returncode == 0, output(proved)
    assert counts(evidence_of(tmp_path / "report-cfg")) == expected(recorded=1)

    mistyped = run_id + "x"
    proved = prove(hosts, mistyped, tmp_path / "report-mistyped", env=evidence_env)
    assert proved.returncode != 0, output(proved)
    assert "no ledger of run %s" % mistyped in flat(proved) and "nothing can be proven" in flat(proved), output(proved)
    # The caller says the run kept none: an inventory of its records (none), not a failure.
    proved = prove(hosts, mistyped, tmp_path / "report-none", "-e", "evidence_expect_ledger=false", env=evidence_env)
    assert proved.returncode == 0, output(proved)
    assert counts(evidence_of(tmp_path / "report-none")) == expected()

    shutil.rmtree(os.path.join(root, run_id))
    proved = prove(hosts, run_id, tmp_path / "report-deleted", env=evidence_env)
    assert proved.returncode != 0, output(proved)
    assert "no ledger of run %s" % run_id in flat(proved) and "nothing can be proven" in flat(proved), output(proved)


# --- 2. ended badly on a reachable host; until; look-alike names (one run, one proof) -----------------------------

FAULTS_PLAY = """
- name: Fail without a changed verdict
  hosts: ssh1
  gather_facts: false
  become: true
  tasks:
    - name: case-module-failure
      die_without_json: {path: "%(d)s/module-failure"}
      ignore_errors: true
    - name: case-fail-json
      fail_plain: {path: "%(d)s/fail-json"}
      ignore_errors: true
    - name: case-timeout
      ansible.builtin.shell: "echo changed > %(d)s/timeout; sleep 20"
      timeout: 3
      ignore_errors: true
    # The validation fails for the third file copied, whichever the directory lists third.
    - name: case-copy-dir
      ansible.builtin.copy:
        src: "%(src)s/"
        dest: "%(d)s/copied/"
        validate: "/bin/sh -c 'n=$(cat %(d)s/validated 2>/dev/null || echo 0); n=$((n + 1)); echo $n > %(d)s/validated; test $n -lt 3' %%s"
      ignore_errors: true
    - name: case-until-attempts
      ansible.builtin.shell: "echo x >> %(d)s/until-lines; test $(wc -l < %(d)s/until-lines) -ge 3"
      register: until_lines
      until: until_lines.rc == 0
      retries: 4
      delay: 0
    - name: case-until-last-unchanged
      ansible.builtin.copy: {dest: "%(d)s/until-copy", content: "once"}
      register: until_copy
      until: until_copy is not changed
      retries: 3
      delay: 0

- name: ping resolves to acme.tools.ping
  hosts: ssh1
  gather_facts: false
  become: true
  collections: [acme.tools]
  tasks:
    - name: case-lookalike-ping
      ping: {path: "%(d)s/lookalike-ping"}

- name: setup resolves to a role's library/setup.py
  hosts: ssh1
  gather_facts: false
  become: true
  roles:
    - lookalike
"""
FAULT_CASES = ("case-module-failure", "case-fail-json", "case-timeout")


@pytest.fixture(scope="module")
def faults_run(tmp_path_factory) -> t.Dict[str, t.Any]:
    """The run of FAULTS_PLAY on ssh1 and its proof, shared by the tests of this section."""
    base = tmp_path_factory.mktemp("faults")
    changes = base / "changes"
    (changes / "copied").mkdir(parents=True)
    source = base / "source"
    source.mkdir()
    for name in ("one", "two", "three"):
        (source / name).write_text(name)
    library = base / "library"
    library.mkdir()
    (library / "die_without_json.py").write_text(DIE_WITHOUT_JSON)
    (library / "fail_plain.py").write_text(FAIL_PLAIN)
    modules = base / "collections" / "ansible_collections" / "acme" / "tools" / "plugins" / "modules"
    modules.mkdir(parents=True)
    (modules / "ping.py").write_text(CHANGE_AND_SAY_SO)
    role = base / "roles" / "lookalike"
    (role / "library").mkdir(parents=True)
    (role / "tasks").mkdir()
    (role / "library" / "setup.py").write_text(CHANGE_AND_SAY_SO)
    (role / "tasks" / "main.yml").write_text(
        "- name: case-lookalike-setup\n  setup: {path: \"%s/lookalike-setup\"}\n" % changes)
    run_id = new_run_id()
    hosts = inventory(base, "ssh1")
    env = ansible_env(CHANGEAUDIT_RUN_ID=run_id, ANSIBLE_LIBRARY=str(library), ANSIBLE_ROLES_PATH=str(base / "roles"),
                      ANSIBLE_COLLECTIONS_PATH="%s:%s" % (base / "collections", COLLECTIONS))
    proc = deploy(base, hosts, FAULTS_PLAY % {"d": changes, "src": source}, env)
    proved = prove(hosts, run_id, base / "report")
    return {"run_id": run_id, "proc": proc, "proved": proved, "changes": changes, "records": records(run_id),
            "ledger": ledger_or_nothing(run_id), "evidence": evidence_of(base / "report")
            if os.path.isfile(str(base / "report" / "evidence.json")) else None}


def case_rows(run: t.Mapping[str, t.Any], task: str) -> t.List[t.Mapping[str, t.Any]]:
    assert run["evidence"] is not None, output(run["proved"])
    return of_task(run["evidence"]["changes"], task, key="task")


@pytest.mark.parametrize("task", FAULT_CASES)
def test_a_task_that_failed_without_saying_changed_has_a_failed_record_and_an_unknown_outcome(faults_run, task):
    run = faults_run
    name = task[len("case-"):]
    assert (run["changes"] / name).read_text().strip() == "changed", output(run["proc"])
    [intent] = intents_of(run["ledger"], task)
    assert intent["outcome"] is not None and intent["outcome"]["outcome"] == "unknown", (intent, output(run["proc"]))
    written = of_task(run["records"], task)
    assert [record["res"] for record in written] == ["failed"], (written, output(run["proc"]))
    assert [row["status"] for row in case_rows(run, task)] == ["recorded"], case_rows(run, task)


def test_a_directory_copy_whose_third_file_fails_validation_is_one_failed_record(faults_run):
    run = faults_run
    assert len(os.listdir(str(run["changes"] / "copied"))) == 2, output(run["proc"])
    assert len(intents_of(run["ledger"], "case-copy-dir")) == 1
    written = of_task(run["records"], "case-copy-dir")
    assert [record["res"] for record in written] == ["failed"], (written, output(run["proc"]))
    assert [row["status"] for row in case_rows(run, "case-copy-dir")] == ["recorded"], case_rows(run, "case-copy-dir")


@pytest.mark.parametrize("task", ("case-until-attempts", "case-until-last-unchanged"))
def test_until_retries_one_intent_and_one_record_whichever_attempt_changed(faults_run, task):
    run = faults_run
    if task == "case-until-attempts":
        assert (run["changes"] / "until-lines").read_text() == "x\n" * 3, output(run["proc"])
    intents = intents_of(run["ledger"], task)
    assert len(intents) == 1, intents
    assert intents[0]["outcome"] is not None, intents
    assert len(of_task(run["records"], task)) == 1, (of_task(run["records"], task), output(run["proc"]))
    assert [row["status"] for row in case_rows(run, task)] == ["recorded"], case_rows(run, task)


@pytest.mark.parametrize("task", ("case-lookalike-ping", "case-lookalike-setup"))
def test_a_look_alike_name_is_recorded(faults_run, task):
    run = faults_run
    assert (run["changes"] / task[len("case-"):]).read_text() == "changed", output(run["proc"])
    assert len(intents_of(run["ledger"], task)) == 1, run["ledger"]
    assert len(of_task(run["records"], task)) == 1, output(run["proc"])
    assert [row["status"] for row in case_rows(run, task)] == ["recorded"], case_rows(run, task)


def test_the_run_with_these_faults_is_proven(faults_run):
    run = faults_run
    assert run["proc"].returncode == 0, output(run["proc"])
    assert run["proved"].returncode == 0, output(run["proved"])
    # 3 failed verdicts, the directory copy, 2 until tasks, 2 look-alikes.
    assert counts(run["evidence"]) == expected(recorded=8)
    assert len(run["records"]) == 8


# --- 3. strategies, serial, throttle, run_once, delegate_to, loops, handlers, async, check mode --------------------

TOPOLOGY_PLAY = """
- name: strategy free
  hosts: all
  gather_facts: false
  become: true
  strategy: free
  tasks:
    - name: case-free
      ansible.builtin.copy: {dest: "%(d)s/{{ inventory_hostname }}-free", content: "x"}

- name: strategy host_pinned
  hosts: all
  gather_facts: false
  become: true
  strategy: host_pinned
  tasks:
    - name: case-host-pinned
      ansible.builtin.copy: {dest: "%(d)s/{{ inventory_hostname }}-host-pinned", content: "x"}

- name: serial
  hosts: all
  gather_facts: false
  become: true
  serial: 1
  tasks:
    - name: case-serial
      ansible.builtin.copy: {dest: "%(d)s/{{ inventory_hostname }}-serial", content: "x"}

- name: delegate_to
  hosts: ssh1
  gather_facts: false
  become: true
  tasks:
    - name: case-delegate
      ansible.builtin.copy: {dest: "%(d)s/delegated-for-{{ inventory_hostname }}", content: "x"}
      delegate_to: ssh6

- name: the rest
  hosts: all
  gather_facts: false
  become: true
  tasks:
    - name: case-throttle
      ansible.builtin.copy: {dest: "%(d)s/{{ inventory_hostname }}-throttle", content: "x"}
      throttle: 1
    - name: case-run-once
      ansible.builtin.copy: {dest: "%(d)s/run-once", content: "x"}
      run_once: true
    - name: case-loop
      ansible.builtin.copy: {dest: "%(d)s/{{ inventory_hostname }}-loop-{{ item }}", content: "same"}
      loop: [a, kept, b]
    - name: case-notify
      ansible.builtin.copy: {dest: "%(d)s/{{ inventory_hostname }}-notify", content: "x"}
      notify: case-handler
    - name: case-async
      ansible.builtin.shell: "echo async > %(d)s/{{ inventory_hostname }}-async"
      async: 30
      poll: 1
    - name: case-check-mode
      ansible.builtin.copy: {dest: "%(d)s/{{ inventory_hostname }}-check-mode", content: "x"}
      check_mode: true
  handlers:
    - name: case-handler
      ansible.builtin.copy: {dest: "%(d)s/{{ inventory_hostname }}-handler", content: "x"}
"""
TOPOLOGY_HOSTS = ("ssh1", "ssh6")
# task -> the hosts whose records it writes, one per changed result (the loop: items a and b on each host).
TOPOLOGY_CASES = {
    "case-free": ["ssh1", "ssh6"],
    "case-host-pinned": ["ssh1", "ssh6"],
    "case-serial": ["ssh1", "ssh6"],
    "case-throttle": ["ssh1", "ssh6"],
    "case-run-once": ["ssh1"],
    "case-delegate": ["ssh6"],
    "case-loop": ["ssh1", "ssh1", "ssh6", "ssh6"],
    "case-notify": ["ssh1", "ssh6"],
    "case-handler": ["ssh1", "ssh6"],
    "case-async": ["ssh1", "ssh6"],
    "case-check-mode": [],
}


@pytest.fixture(scope="module")
def topology_run(tmp_path_factory) -> t.Dict[str, t.Any]:
    base = tmp_path_factory.mktemp("topology")
    changes = base / "changes"
    changes.mkdir()
    for host in TOPOLOGY_HOSTS:
        (changes / ("%s-loop-kept" % host)).write_text("same")
    run_id = new_run_id()
    hosts = inventory(base, *TOPOLOGY_HOSTS)
    proc = deploy(base, hosts, TOPOLOGY_PLAY % {"d": changes}, ansible_env(CHANGEAUDIT_RUN_ID=run_id))
    proved = prove(hosts, run_id, base / "report")
    return {"run_id": run_id, "proc": proc, "proved": proved, "changes": changes, "records": records(run_id),
            "ledger": ledger_or_nothing(run_id), "evidence": evidence_of(base / "report")
            if os.path.isfile(str(base / "report" / "evidence.json")) else None}


def record_host(record: t.Mapping[str, str]) -> str:
    """The host a record says it was written on: the delegated host, else the inventory host."""
    return record.get("delegated_to") or record.get("inventory_host", "")


@pytest.mark.parametrize("task", sorted(TOPOLOGY_CASES))
def test_one_record_per_changed_result_under_each_way_to_run_tasks(topology_run, task):
    run = topology_run
    want = TOPOLOGY_CASES[task]
    written = of_task(run["records"], task)
    assert sorted(record_host(record) for record in written) == want, (written, output(run["proc"]))
    assert all(record["res"] == "success" for record in written), written
    rows = case_rows(run, task)
    assert sorted(row["host"] for row in rows) == want, rows
    assert all(row["status"] == "recorded" for row in rows), rows
    if task == "case-check-mode":
        assert not [name for name in os.listdir(str(run["changes"])) if name.endswith("-check-mode")]
    if task == "case-delegate":
        # Written through ssh6's own session: its login user's login uid, not ssh1's.
        [record] = written
        assert record["inventory_host"] == "ssh1" and record["kernel_auid"] == user_id("casu"), record
    if task == "case-loop":
        changed = [intent for intent in intents_of(run["ledger"], task)
                   if (intent["outcome"] or {}).get("outcome") != "unchanged"]
        assert len(changed) == 4, intents_of(run["ledger"], task)


def test_the_run_of_every_way_to_run_tasks_is_proven(topology_run):
    run = topology_run
    assert run["proc"].returncode == 0, output(run["proc"])
    assert run["proved"].returncode == 0, output(run["proved"])
    total = sum(len(hosts) for hosts in TOPOLOGY_CASES.values())
    assert counts(run["evidence"]) == expected(recorded=total)
    assert len(run["records"]) == total


# --- 4. the host goes away after the change -------------------------------------------------------------------------


def process_tree(root: int) -> t.List[int]:
    """``root`` and every process descending from it, by parent pid."""
    children: t.Dict[int, t.List[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    tree, stack = [root], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            tree.append(child)
            stack.append(child)
    return tree


def kill_tree(root: int) -> None:
    """SIGKILL to the whole tree at once: a session whose listener died first would no longer be found under it."""
    for pid in process_tree(root):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class PrivateHost:
    """An sshd of this test's own on PRIVATE_ADDRESS, as ssh1's (same login user, host key, PAM session), which the
    test may kill without disturbing the shared test hosts."""

    def __init__(self, directory) -> None:
        self.directory = str(directory)
        self.pidfile = os.path.join(self.directory, "sshd.pid")
        self.pid: t.Optional[int] = None

    def start(self) -> None:
        with open(os.path.join(SSH_RUN, "ssh1", "sshd_config")) as handle:
            lines = handle.read().splitlines()
        config = []
        for line in lines:
            if line.startswith("ListenAddress "):
                line = "ListenAddress %s:%d" % (PRIVATE_ADDRESS, PRIVATE_PORT)
            elif line.startswith("PidFile "):
                line = "PidFile %s" % self.pidfile
            config.append(line)
        path = os.path.join(self.directory, "sshd_config")
        with open(path, "w") as handle:
            handle.write("\n".join(config) + "\n")
        subprocess.run(["/usr/sbin/sshd", "-t", "-f", path], check=True, capture_output=True, timeout=30)
        subprocess.run(["/usr/sbin/sshd", "-f", path, "-E", os.path.join(self.directory, "sshd.log")], check=True,
                       capture_output=True, timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.isfile(self.pidfile) and self._answers():
                with open(self.pidfile) as handle:
                    self.pid = int(handle.read().strip())
                return
            time.sleep(0.1)
        raise AssertionError("the private sshd did not start; see %s/sshd.log" % self.directory)

    @staticmethod
    def _answers() -> bool:
        try:
            with socket.create_connection((PRIVATE_ADDRESS, PRIVATE_PORT), timeout=1):
                return True
        except OSError:
            return False

    def known_hosts(self) -> str:
        with open(os.path.join(SSH_BUILD, "known_hosts")) as handle:
            [key] = [line.split(None, 1)[1] for line in handle if line.startswith("[127.0.0.11]:")]
        path = os.path.join(self.directory, "known_hosts")
        with open(path, "w") as handle:
            handle.write("[%s]:%d %s" % (PRIVATE_ADDRESS, PRIVATE_PORT, key))
        return path

    def host_vars(self) -> t.Dict[str, t.Any]:
        return {
            "ansible_host": PRIVATE_ADDRESS,
            "ansible_port": str(PRIVATE_PORT),
            "ansible_user": "cadeploy",
            "ansible_ssh_common_args": "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
                                       % self.known_hosts(),
        }

    def kill(self) -> None:
        if self.pid is not None:
            kill_tree(self.pid)
            self.pid = None


def wait_for_file(path: str, proc: subprocess.Popen, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if os.path.exists(path):
            return True
        time.sleep(0.1)
    return os.path.exists(path)


def finished(proc: subprocess.Popen, out_path: str, err_path: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    with open(out_path) as out, open(err_path) as err:
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())


def start_playbook(directory, hosts: str, play: str, env: t.Dict[str, str]) -> t.Tuple[subprocess.Popen, str, str]:
    out_path = os.path.join(str(directory), "deploy.out")
    err_path = os.path.join(str(directory), "deploy.err")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen([PLAYBOOK, "-i", hosts, write_play(directory, play)], env=env, stdout=out, stderr=err,
                                start_new_session=True)
    return proc, out_path, err_path


def test_a_change_whose_host_then_goes_away_is_a_gap_the_summary_names(tmp_path):
    run_id = new_run_id()
    host = PrivateHost(tmp_path)
    changed = tmp_path / "unreachable"
    play = """
        - hosts: faultdown
          gather_facts: false
          become: true
          ignore_unreachable: true
          tasks:
            - name: case-unreachable
              ansible.builtin.shell: "echo changed > %s; sleep 60"
    """ % changed
    try:
        host.start()
        hosts = inventory(tmp_path, extra={"faultdown": host.host_vars()})
        proc, out_path, err_path = start_playbook(tmp_path, hosts, play, ansible_env(CHANGEAUDIT_RUN_ID=run_id))
        try:
            seen = wait_for_file(str(changed), proc)
        finally:
            # The sshd and every session under it, the task's too: the host is gone until the end of the test.
            host.kill()
        deployed = finished(proc, out_path, err_path)
        assert seen, output(deployed)
        assert deployed.returncode == 0, output(deployed)
        [intent] = intents_of(ledger_lines(run_id), "case-unreachable")
        assert intent["outcome"] is not None and intent["outcome"]["outcome"] == "unknown", (intent, output(deployed))
        banner = deployed.stdout.split("CHANGEAUDIT RECORDS", 1)
        assert len(banner) == 2, output(deployed)
        [line] = [line for line in banner[1].splitlines() if line.startswith("faultdown :")]
        assert "case-unreachable" in line and "UNKNOWN" in line, line

        proved = prove(hosts, run_id, tmp_path / "report")
        assert proved.returncode != 0, output(proved)
        summary = counts(evidence_of(tmp_path / "report"))
        assert summary["unknown_outcome"] + summary["host_unreachable"] == 1, summary
        assert {key: summary[key] for key in ("recorded", "missing", "unexpected", "changes", "gaps")} == {
            "recorded": 0, "missing": 0, "unexpected": 0, "changes": 1, "gaps": 1}, summary
    finally:
        host.kill()


# --- 5. a reused run_id ---------------------------------------------------------------------------------------------


def test_a_reused_run_id_does_not_borrow_the_first_runs_record(tmp_path):
    run_id = new_run_id()
    first, second = os.path.join(LEDGER_DIR, run_id + "-first"), os.path.join(LEDGER_DIR, run_id + "-second")
    hosts = inventory(tmp_path, "ssh1")
    play = """
        - hosts: ssh1
          gather_facts: false
          become: true
          tasks:
            - name: case-reused
              ansible.builtin.copy: {dest: "%s/{{ which }}", content: "{{ which }}"}
    """ % tmp_path
    proc = deploy(tmp_path, hosts, play, ansible_env(CHANGEAUDIT_RUN_ID=run_id, CHANGEAUDIT_LEDGER_DIR=first),
                  "-e", "which=first")
    assert proc.returncode == 0, output(proc)
    rule = ["-a", "exclude,always", "-F", "msgtype=USYS_CONFIG"]
    subprocess.run(["auditctl"] + rule, check=True, capture_output=True, timeout=30)
    try:
        proc = deploy(tmp_path, hosts, play, ansible_env(CHANGEAUDIT_RUN_ID=run_id, CHANGEAUDIT_LEDGER_DIR=second,
                                                         CHANGEAUDIT_RECORD_CHANGES_MODE="warn"), "-e", "which=second")
    finally:
        subprocess.run(["auditctl", "-d"] + rule[1:], capture_output=True, check=False, timeout=30)
    assert proc.returncode == 0, output(proc)
    assert (tmp_path / "second").read_text() == "second"
    assert len(records(run_id)) == 1, "the exclude rule let the second run's record through"

    proved = prove(hosts, run_id, tmp_path / "report-first", env=ansible_env(callback=False, CHANGEAUDIT_LEDGER_DIR=first))
    assert proved.returncode == 0, output(proved)
    assert counts(evidence_of(tmp_path / "report-first")) == expected(recorded=1)
    proved = prove(hosts, run_id, tmp_path / "report-second", env=ansible_env(callback=False, CHANGEAUDIT_LEDGER_DIR=second))
    assert proved.returncode != 0, output(proved)
    summary = counts(evidence_of(tmp_path / "report-second"))
    assert summary["missing"] >= 1 and summary["recorded"] == 0 and summary["gaps"] >= 1, summary


# --- 6. the run to prove comes from the controller -------------------------------------------------------------------


def test_a_host_fact_does_not_choose_the_run_the_evidence_proves(tmp_path):
    run_id = new_run_id()
    hosts = inventory(tmp_path, "ssh1")
    proc = deploy(tmp_path, hosts, """
        - hosts: ssh1
          gather_facts: false
          become: true
          tasks:
            - name: case-named-run
              ansible.builtin.copy: {dest: "%s", content: "x"}
    """ % (tmp_path / "named-run"), ansible_env(CHANGEAUDIT_RUN_ID=run_id))
    assert proc.returncode == 0, output(proc)
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "return_facts.py").write_text(RETURN_FACTS)
    report_dir = tmp_path / "report"
    facts_then_proof = """
        - hosts: ssh1
          gather_facts: false
          tasks:
            - name: A fact naming another run
              return_facts: {facts: {awx_job_id: 999}}
        - ansible.builtin.import_playbook: changeaudit.linux.evidence
    """
    proved = deploy(tmp_path, hosts, facts_then_proof, ansible_env(callback=False, ANSIBLE_LIBRARY=str(tmp_path / "library")),
                    "-e", "run_id=%s" % run_id, "-e", "report_dir=%s" % report_dir)
    assert proved.returncode == 0, output(proved)
    evidence = evidence_of(report_dir)
    assert evidence["run_id"] == run_id
    assert counts(evidence) == expected(recorded=1)

    # Imported at the end of the deploy, no run_id given anywhere (CHANGEAUDIT_RUN_ID unset, so the run derives a
    # fresh one of its own): the run proven is the controller's, not the job the host's fact names.
    report_dir = tmp_path / "report-imported"
    deployed = deploy(tmp_path, hosts, """
        - hosts: ssh1
          gather_facts: false
          become: true
          tasks:
            - name: case-imported-proof
              ansible.builtin.copy: {dest: "%s", content: "x"}
            - name: A fact naming another run
              return_facts: {facts: {awx_job_id: 999}}
        - ansible.builtin.import_playbook: changeaudit.linux.evidence
          vars:
            report_dir: "%s"
    """ % (tmp_path / "imported-proof", report_dir), ansible_env(ANSIBLE_LIBRARY=str(tmp_path / "library")))
    assert deployed.returncode == 0, output(deployed)
    evidence = evidence_of(report_dir)
    assert evidence["run_id"] not in ("awx-999", run_id), evidence["run_id"]
    assert len(of_task(records(evidence["run_id"]), "case-imported-proof")) == 1, output(deployed)
    assert counts(evidence) == expected(recorded=1)


# --- 7. the controller killed during a change ----------------------------------------------------------------------


def test_the_controller_killed_during_a_change_leaves_a_gap(tmp_path):
    run_id = new_run_id()
    hosts = inventory(tmp_path, "ssh1")
    started = tmp_path / "killed"
    # The callback's state directory lands here, not in /tmp: the killed run cannot remove it.
    (tmp_path / "tmp").mkdir()
    proc, out_path, err_path = start_playbook(tmp_path, hosts, """
        - hosts: ssh1
          gather_facts: false
          become: true
          tasks:
            - name: case-controller-killed
              ansible.builtin.shell: "echo started > %s; sleep 20"
    """ % started, ansible_env(CHANGEAUDIT_RUN_ID=run_id, TMPDIR=str(tmp_path / "tmp")))
    try:
        seen = wait_for_file(str(started), proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
    deployed = finished(proc, out_path, err_path)
    assert seen, output(deployed)
    assert deployed.returncode == -signal.SIGKILL, output(deployed)
    [intent] = intents_of(ledger_lines(run_id), "case-controller-killed")
    assert intent["outcome"] is None, intent

    proved = prove(hosts, run_id, tmp_path / "report")
    assert proved.returncode != 0, output(proved)
    assert "lacks proof" in flat(proved), output(proved)
    summary = counts(evidence_of(tmp_path / "report"))
    # gaps: the change, and the ledger no seal closes.
    assert {key: value for key, value in summary.items() if key != "gaps"} == {
        key: value for key, value in expected(unknown_outcome=1).items() if key != "gaps"}, summary
    assert summary["gaps"] >= 1, summary


# --- 8. ad hoc ------------------------------------------------------------------------------------------------------


def test_an_adhoc_change_is_provable_by_its_run_id(tmp_path):
    run_id = new_run_id()
    hosts = inventory(tmp_path, "ssh1")
    dest = tmp_path / "adhoc"
    variables = tmp_path / "adhoc-vars.yml"
    variables.write_text(yaml.safe_dump({"adhoc_dest": str(dest)}))
    proc = subprocess.run(
        [ADHOC, "ssh1", "-i", hosts, "-b", "-m", "ansible.builtin.copy", "-a", "dest={{ adhoc_dest }} content=adhoc",
         "-e", "@%s" % variables],
        env=ansible_env(CHANGEAUDIT_RUN_ID=run_id, ANSIBLE_LOAD_CALLBACK_PLUGINS="1"), capture_output=True, text=True,
        check=False, timeout=RUN_TIMEOUT,
    )
    assert proc.returncode == 0, output(proc)
    assert dest.read_text() == "adhoc"
    assert len(records(run_id)) == 1, output(proc)
    proved = prove(hosts, run_id, tmp_path / "report")
    assert proved.returncode == 0, output(proved)
    assert counts(evidence_of(tmp_path / "report")) == expected(recorded=1)
