"""What recording a change costs a playbook: per changed task, the same tasks plain and wrapped in
changeaudit.linux.audited, measured in one run and printed as a ratio (target: audited <= 1.3x plain).

Three connections, each with its own pair of runs:
  local            connection local on this machine
  ssh              over SSH to an ssh test host (scripts/ssh-hosts.sh up), become root with sudo, no pipelining
  ssh+pipelining   the same with pipelining

The ssh rows need the ssh test hosts (.build/ssh/inventory.yml); without them they are reported as skipped.
Each run starts from an empty directory, so every task changes something; an audited run must leave exactly
one record per task (counted in audit.log by its run id), a plain run none.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid

from _common import ROOT, AuditLock, count_run_records

SSH_INVENTORY = ROOT / ".build" / "ssh" / "inventory.yml"
# The ssh host used: its login user may sudo to root without a password.
SSH_HOST = "ssh1"

PLAY = """---
- name: {name}
  hosts: {hosts}
  connection: {connection}
  gather_facts: false
  become: {become}
  vars:
{vars}
  tasks:
{tasks}
"""

LOCAL_VARS = '    ansible_python_interpreter: "{{ ansible_playbook_python }}"\n'

PLAIN_TASK = """    - name: Change {i}
      ansible.builtin.lineinfile:
        path: "{dir}/file{i}.conf"
        line: "setting{i} = on"
        create: true
        mode: "0644"
"""

AUDITED_TASK = """    - name: Change {i}
      changeaudit.linux.audited:
        module: ansible.builtin.lineinfile
        args:
          path: "{dir}/file{i}.conf"
          line: "setting{i} = on"
          create: true
          mode: "0644"
"""


class Connection(t.NamedTuple):
    name: str
    hosts: str
    connection: str
    inventory: str
    become: bool
    pipelining: bool
    vars: str


CONNECTIONS = [
    Connection("local", "localhost", "local", "localhost,", False, False, LOCAL_VARS),
    Connection("ssh", SSH_HOST, "ansible.builtin.ssh", str(SSH_INVENTORY), True, False, "    {}\n"),
    Connection("ssh+pipelining", SSH_HOST, "ansible.builtin.ssh", str(SSH_INVENTORY), True, True, "    {}\n"),
]


def write_playbook(path: str, connection: Connection, template: str, work_dir: str, changes: int) -> None:
    tasks = "".join(template.format(i=i, dir=work_dir) for i in range(changes))
    with open(path, "w") as handle:
        handle.write(
            PLAY.format(
                name=os.path.basename(path), hosts=connection.hosts, connection=connection.connection,
                become=str(connection.become).lower(),
                vars=connection.vars, tasks=tasks,
            )
        )


def run_playbook(playbook: str, connection: Connection, run_id: str, work_dir: str) -> float:
    # The target is this machine in every case, so the directory can be emptied from here.
    subprocess.run(["rm", "-rf", work_dir], check=True)
    os.makedirs(work_dir)
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"),
        ANSIBLE_PIPELINING=str(connection.pipelining),
        CHANGEAUDIT_RUN_ID=run_id,
        ANSIBLE_NOCOLOR="1",
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", connection.inventory, playbook],
        env=env, capture_output=True, text=True, check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit("playbook %s failed:\n%s\n%s" % (playbook, proc.stdout[-3000:], proc.stderr[-3000:]))
    return elapsed


def measure(connection: Connection, tmp: str, changes: int, repeat: int) -> t.Tuple[float, float, int]:
    """(best plain seconds, best audited seconds, runs with records missing), the variants interleaved."""
    base = os.path.join(tmp, connection.name)
    os.makedirs(base)
    plain_dir, audited_dir = os.path.join(base, "plain"), os.path.join(base, "audited")
    plain_pb, audited_pb = os.path.join(base, "plain.yml"), os.path.join(base, "audited.yml")
    write_playbook(plain_pb, connection, PLAIN_TASK, plain_dir, changes)
    write_playbook(audited_pb, connection, AUDITED_TASK, audited_dir, changes)
    plain_times, audited_times = [], []
    missing = 0
    # Interleaved, so that a slow moment of the machine hits both variants alike.
    for _run in range(repeat):
        plain_times.append(run_playbook(plain_pb, connection, "bench-plain-" + uuid.uuid4().hex, plain_dir))
        run_id = "bench-audited-" + uuid.uuid4().hex
        audited_times.append(run_playbook(audited_pb, connection, run_id, audited_dir))
        found = count_run_records(run_id, changes)
        if found != changes:
            missing += 1
            print("%s: audited run %s left %d records in audit.log, expected %d" % (connection.name, run_id, found, changes))
    return min(plain_times), min(audited_times), missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant; the best is compared")
    parser.add_argument("--changes", type=int, default=30, help="changed tasks per playbook")
    parser.add_argument(
        "--only", action="append", choices=[c.name for c in CONNECTIONS], help="measure only these connections"
    )
    args = parser.parse_args()
    rows = []
    missing = 0
    with tempfile.TemporaryDirectory() as tmp, AuditLock():
        for connection in CONNECTIONS:
            if args.only and connection.name not in args.only:
                continue
            if connection.inventory != "localhost," and not SSH_INVENTORY.is_file():
                rows.append((connection.name, None))
                continue
            plain, audited, lost = measure(connection, tmp, args.changes, args.repeat)
            missing += lost
            rows.append((connection.name, (plain, audited)))
    print("Per changed task, best of %d runs of %d changes each (audited / plain, target <= 1.3x):" % (args.repeat, args.changes))
    met = True
    for name, times in rows:
        if times is None:
            print("  %-15s skipped: no ssh test hosts (%s); run scripts/ssh-hosts.sh up" % (name, SSH_INVENTORY))
            continue
        plain, audited = times
        ratio = audited / plain
        met = met and ratio <= 1.3
        print(
            "  %-15s plain %4.0f ms  audited %4.0f ms  %.2fx%s"
            % (name, plain / args.changes * 1000, audited / args.changes * 1000, ratio, "" if ratio <= 1.3 else "  NOT MET")
        )
    print("  target audited <= 1.3x plain: %s" % ("met" if met else "NOT MET"))
    print("  records: %s" % ("every audited run left one per task" if not missing else "MISSING in %d run(s)" % missing))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
