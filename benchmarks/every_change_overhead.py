"""What the record_changes callback (the every-change hook) costs a playbook of root tasks, as ratios measured in one
run against the same playbook with the callback off, over three transports:

- local: localhost, connection local, as root;
- ssh-pipelining: the ssh test host ssh1 (login cadeploy, become root with sudo), ANSIBLE_PIPELINING=True;
- ssh: the same host without pipelining (the module goes as a file: one more transfer per task).

For each transport:

1. changes: --tasks lineinfile tasks that each change something; with the callback on, each writes its record,
   in the module's own process where it can (issue 32; target <= 1.05x plain), and the run must leave exactly one
   record per task, found by its run_id; the ledger says which path wrote each (in_module or writer);
2. idempotent: the same tasks again, when none changes (target <= 1.02x plain); no record is written.

Variants alternate (off, on, per transport, per round), so that a slow moment of the machine hits both alike; the
best of --repeat runs is compared. Every run starts without an SSH connection (its own ControlPath directory, whose
masters are closed afterwards). Needs root, auditd and the ssh test hosts (bash scripts/ssh-hosts.sh up; without
them the ssh transports are reported as not measured). Holds the audit lock for the whole run.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid

from _common import ROOT, AuditLock, count_run_records

TASKS = 50
CHANGE_TARGET = 1.05
IDEMPOTENT_TARGET = 1.02
CALLBACK = "changeaudit.linux.record_changes"
SSH_INVENTORY = ROOT / ".build" / "ssh" / "inventory.yml"
SSH_HOST = "ssh1"

LOCAL_PLAY = """---
- name: every-change benchmark
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
  tasks:
{tasks}
"""

SSH_PLAY = """---
- name: every-change benchmark over ssh
  hosts: %s
  gather_facts: false
  become: true
  tasks:
{tasks}
""" % SSH_HOST

TASK = """    - name: Setting {i}
      ansible.builtin.lineinfile:
        path: "{dir}/file{i}.conf"
        line: "setting{i} = on"
        create: true
        mode: "0644"
"""

TRANSPORTS = ("local", "ssh-pipelining", "ssh")


def close_masters(control_dir: str) -> None:
    """Stop the SSH connection masters a run left behind, so the next run starts without a connection too."""
    if not os.path.isdir(control_dir):
        return
    for name in os.listdir(control_dir):
        subprocess.run(
            ["ssh", "-o", "ControlPath=" + os.path.join(control_dir, name), "-O", "exit", "bench"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
        )


def run_playbook(transport: str, playbook: str, tmp: str, run_id: str, callback: bool) -> float:
    # Short: a unix socket's path holds at most 107 bytes.
    control_dir = os.path.join(tmp, "cp", uuid.uuid4().hex[:8])
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"),
        CHANGEAUDIT_RUN_ID=run_id,
        CHANGEAUDIT_LEDGER_DIR=os.path.join(tmp, "ledger"),
        ANSIBLE_SSH_CONTROL_PATH_DIR=control_dir,
        ANSIBLE_PIPELINING="True" if transport == "ssh-pipelining" else "False",
        ANSIBLE_NOCOLOR="1",
    )
    # An empty ANSIBLE_CALLBACKS_ENABLED is an error to ansible-core: leave it out for the plain runs.
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    if callback:
        env["ANSIBLE_CALLBACKS_ENABLED"] = CALLBACK
    inventory = "localhost," if transport == "local" else str(SSH_INVENTORY)
    try:
        start = time.perf_counter()
        proc = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", inventory, playbook],
            env=env, capture_output=True, text=True, check=False,
        )
        elapsed = time.perf_counter() - start
    finally:
        close_masters(control_dir)
    if proc.returncode != 0:
        sys.exit("playbook failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    return elapsed


def record_paths(tmp: str, run_id: str) -> t.Counter[str]:
    """Which path wrote each record of the run, from its ledger's outcome lines."""
    paths: t.Counter[str] = collections.Counter()
    try:
        with open(os.path.join(tmp, "ledger", run_id, "ledger.jsonl"), encoding="ascii") as handle:
            for entry in map(json.loads, handle):
                if entry.get("kind") == "outcome" and entry.get("recorded"):
                    paths[entry.get("path") or "?"] += 1
    except FileNotFoundError:
        pass
    return paths


def ssh_hosts_up() -> t.Optional[str]:
    """None when the ssh test hosts accept logins, else why not."""
    if not SSH_INVENTORY.is_file():
        return "no ssh test hosts (%s is missing: bash scripts/ssh-hosts.sh up)" % SSH_INVENTORY
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "ssh-hosts.sh"), "status"], capture_output=True, text=True, check=False)
    return None if proc.returncode == 0 else "the ssh test hosts are not all up (bash scripts/ssh-hosts.sh up)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant; the best is compared")
    parser.add_argument("--tasks", type=int, default=TASKS, help="tasks of each playbook")
    parser.add_argument("--transport", action="append", choices=TRANSPORTS, help="only these (default: all three)")
    args = parser.parse_args()
    transports = list(args.transport or TRANSPORTS)
    missing = ssh_hosts_up() if any(name != "local" for name in transports) else None
    if missing:
        transports = [name for name in transports if name == "local"]
    problems: t.List[str] = []
    times: t.Dict[t.Tuple[str, str, bool], t.List[float]] = collections.defaultdict(list)
    paths: t.Dict[str, t.Counter[str]] = collections.defaultdict(collections.Counter)
    with tempfile.TemporaryDirectory(prefix="every_change.") as tmp, AuditLock():
        # The ssh host is this machine: its root writes under this directory.
        os.chmod(tmp, 0o755)
        playbooks = {}
        for transport in transports:
            work = os.path.join(tmp, "work-" + transport)
            playbooks[transport] = (work, os.path.join(tmp, "%s.yml" % transport))
            play = LOCAL_PLAY if transport == "local" else SSH_PLAY
            with open(playbooks[transport][1], "w") as handle:
                handle.write(play.format(tasks="".join(TASK.format(i=i, dir=work) for i in range(args.tasks))))
        for _run in range(args.repeat):
            for transport in transports:
                work, playbook = playbooks[transport]
                for callback in (False, True):
                    variant = "on" if callback else "off"
                    subprocess.run(["rm", "-rf", work], check=True)
                    os.makedirs(work)
                    run_id = "bench-every-change-%s-%s-%s" % (transport, variant, uuid.uuid4().hex)
                    times[(transport, "changes", callback)].append(run_playbook(transport, playbook, tmp, run_id, callback))
                    expected = args.tasks if callback else 0
                    found = count_run_records(run_id, expected)
                    if found != expected:
                        problems.append("%s: %d records, expected %d" % (run_id, found, expected))
                    if callback:
                        paths[transport].update(record_paths(tmp, run_id))
                    # The files are in place now: the same playbook changes nothing.
                    run_id = "bench-every-change-idempotent-%s-%s-%s" % (transport, variant, uuid.uuid4().hex)
                    times[(transport, "idempotent", callback)].append(run_playbook(transport, playbook, tmp, run_id, callback))
                    if count_run_records(run_id, 0) != 0:
                        problems.append("%s: an idempotent run wrote records" % run_id)
    best = {key: min(values) for key, values in times.items()}
    print("Playbooks of %d root lineinfile tasks, callback on / off, best of %d runs each:" % (args.tasks, args.repeat))
    for transport in transports:
        on, off = best[(transport, "changes", True)], best[(transport, "changes", False)]
        ratio = on / off
        print(
            "  %-15s every task changes: %.2fx  (target <= %.2fx: %s; %.2f s against %.2f s, %+.0f ms per changed task)"
            % (transport, ratio, CHANGE_TARGET, "met" if ratio <= CHANGE_TARGET else "NOT MET", on, off,
               (on - off) / args.tasks * 1000)
        )
        on, off = best[(transport, "idempotent", True)], best[(transport, "idempotent", False)]
        ratio = on / off
        print(
            "  %-15s nothing changes:    %.3fx (target <= %.2fx: %s; %.2f s against %.2f s)"
            % ("", ratio, IDEMPOTENT_TARGET, "met" if ratio <= IDEMPOTENT_TARGET else "NOT MET", on, off)
        )
        print("  %-15s records by path:    %s" % ("", ", ".join("%s %d" % item for item in sorted(paths[transport].items())) or "none"))
    if missing:
        print("  ssh-pipelining, ssh: not measured: %s" % missing)
    print("  records: %s" % ("as expected in every run" if not problems else "; ".join(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
