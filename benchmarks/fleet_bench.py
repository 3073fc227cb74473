"""What the record_changes callback costs a fleet run over SSH, and what one record costs when the task ran as an
unprivileged become_user, as ratios measured in one run:

    python benchmarks/fleet_bench.py [--rounds 3] [--tasks 30] [--changes 20] [--json FILE]

1. fleet: a play of --tasks tasks (every fifth changes the host: a copy whose content differs per run; the others
   are a stat and a command with changed_when false) on the ssh_become hosts of the ssh test inventory (ssh1, ssh2
   sudo with a password, ssh3 requiretty without pipelining, ssh4 without libaudit, ssh6 su), become root,
   gather_facts false, forks = number of hosts. Printed: callback on / off of the whole run's wall time (goal <= 1.1x,
   reported, never enforced).
2. one host (ssh1, passwordless sudo): --changes changed lineinfile tasks, once become root and once become_user
   nobody (into a directory owned by nobody, made before the runs), each with the callback off and on. Printed: the
   record's cost per change, (on - off) / changes, for root tasks and for nobody tasks, as ratios to the anchor, a
   plain changed task with the callback off (off / changes), and nobody's cost against root's.
3. the root play again with pipelining on, and on localhost (connection local, as root): with 2.'s root play, the
   ratio callback on / off per changed task for a root task over SSH without pipelining, with it and locally (goal
   <= 1.05x, issue 32: the record written in the module's own process). A nobody task's record
   needs the callback to escalate back to root; while it cannot, such a task fails with "cannot keep audit records"
   and this comparison is reported as unavailable (with the reason), which is not an error.

Variants run interleaved (fleet off, fleet on, root off, root on, nobody off, nobody on, then the next round), so a
slow moment of the machine hits all alike; medians of --rounds are compared. Every run starts with no SSH
connection (its own ControlPath directory, whose masters are closed after the run), as a new ansible-playbook run
would. Every record carries bench="<token of this invocation>" (the callback's fields option) and its run's run_id;
at the end ausearch --input-logs -m USYS_CONFIG -ts <start> must find exactly one record per changed task and host
of each "on" run and none of any "off" run, or the script exits 1.

Needs root, auditd running, and the ssh test hosts (bash scripts/ssh-hosts.sh up); refuses to start otherwise.
Holds the audit lock for the whole run.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pwd
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid

import yaml

from _common import ROOT, AuditLock, check_auditd, kernel_status

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.logline import parse_line

CALLBACK = "changeaudit.linux.record_changes"
SSH_INVENTORY = ROOT / ".build" / "ssh" / "inventory.yml"
# The hosts whose login user can become root (ssh5's cannot; it is left out).
FLEET_GROUP = "ssh_become"
# The one-host comparison: cadeploy, sudo without a password.
ONE_HOST = "ssh1"
CHANGE_EVERY = 5
FLEET_GOAL = 1.1
# What the callback says when a task's user cannot write the record (before escalating back to root exists).
UNAVAILABLE = "cannot keep audit records"

FLEET_PLAY = """---
- name: fleet benchmark
  hosts: {group}
  gather_facts: false
  become: true
  tasks:
{tasks}
"""

FLEET_CHANGE = """    - name: Change {i}
      ansible.builtin.copy:
        content: "{{{{ bench_token }}}} {i}\\n"
        dest: "{dir}/{{{{ inventory_hostname }}}}/file{i}.conf"
        mode: "0644"
"""

FLEET_STAT = """    - name: Look {i}
      ansible.builtin.stat:
        path: "{dir}/{{{{ inventory_hostname }}}}"
"""

FLEET_COMMAND = """    - name: Read {i}
      ansible.builtin.command: /bin/true
      changed_when: false
"""

ONE_HOST_PLAY = """---
- name: per-change benchmark, become_user {user}
  hosts: {host}
  gather_facts: false
  become: true
  become_user: {user}
  tasks:
{tasks}
"""

LOCAL_PLAY = """---
- name: per-change benchmark, localhost
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
  tasks:
{tasks}
"""
# A root task's ratio goal per changed task (issue 32).
ROOT_GOAL = 1.05
# The root play's variants: how the host is reached.
ROOT_VARIANTS = {"root": "ssh", "root-pipelining": "ssh, pipelining", "root-local": "local"}

ONE_HOST_CHANGE = """    - name: Change {i}
      ansible.builtin.lineinfile:
        path: "{dir}/file{i}.conf"
        regexp: "^token="
        line: "token={{{{ bench_token }}}}"
        create: true
        mode: "0644"
"""


class Run(t.NamedTuple):
    variant: str  # fleet, root or nobody
    callback: bool
    run_id: str
    expected: int  # records it must leave
    seconds: float


def fleet_playbook(path: str, work: str, tasks: int) -> int:
    """Write the fleet play; returns how many of its tasks change each host."""
    body = []
    for i in range(tasks):
        if i % CHANGE_EVERY == CHANGE_EVERY - 1:
            body.append(FLEET_CHANGE.format(i=i, dir=work))
        elif i % 2:
            body.append(FLEET_STAT.format(i=i, dir=work))
        else:
            body.append(FLEET_COMMAND.format(i=i))
    with open(path, "w") as handle:
        handle.write(FLEET_PLAY.format(group=FLEET_GROUP, tasks="".join(body)))
    return tasks // CHANGE_EVERY


def one_host_playbook(path: str, work: str, user: str, changes: int, local: bool = False) -> None:
    tasks = "".join(ONE_HOST_CHANGE.format(i=i, dir=work) for i in range(changes))
    with open(path, "w") as handle:
        handle.write(LOCAL_PLAY.format(tasks=tasks) if local else ONE_HOST_PLAY.format(host=ONE_HOST, user=user, tasks=tasks))


def fleet_hosts() -> t.List[str]:
    with open(SSH_INVENTORY) as handle:
        inventory = yaml.safe_load(handle)
    return list(inventory["all"]["children"][FLEET_GROUP]["hosts"])


def check_ssh_hosts() -> None:
    """Refuse to start unless every ssh test host accepts a login (scripts/ssh-hosts.sh status)."""
    if not SSH_INVENTORY.is_file():
        sys.exit("No ssh test hosts (%s is missing): run  bash scripts/ssh-hosts.sh up  first. Nothing was run." % SSH_INVENTORY)
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ssh-hosts.sh"), "status"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        sys.exit(
            "The ssh test hosts are not all up:\n%s%s\nRun  bash scripts/ssh-hosts.sh up  first. Nothing was run."
            % (proc.stdout, proc.stderr)
        )


def close_masters(control_dir: str) -> None:
    """Stop the SSH connection masters a run left behind, so the next run starts without a connection too."""
    if not os.path.isdir(control_dir):
        return
    for name in os.listdir(control_dir):
        subprocess.run(
            ["ssh", "-o", "ControlPath=" + os.path.join(control_dir, name), "-O", "exit", "bench"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
        )


def run_playbook(
    playbook: str, tmp: str, run_id: str, token: str, callback: bool, forks: int, pipelining: bool = False,
    local: bool = False,
) -> t.Tuple[float, subprocess.CompletedProcess]:
    # Short: a unix socket's path holds at most 107 bytes.
    control_dir = os.path.join(tmp, "cp", uuid.uuid4().hex[:8])
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"),
        ANSIBLE_SSH_CONTROL_PATH_DIR=control_dir,
        # Ansible's default, said explicitly (ssh3 has it off in the inventory anyway), unless the variant is pipelining.
        ANSIBLE_PIPELINING="True" if pipelining else "False",
        CHANGEAUDIT_RUN_ID=run_id,
        CHANGEAUDIT_LEDGER_DIR=os.path.join(tmp, "ledger"),
        CHANGEAUDIT_RECORD_CHANGES_FIELDS="bench=" + token,
        ANSIBLE_NOCOLOR="1",
    )
    # An empty ANSIBLE_CALLBACKS_ENABLED is an error to ansible-core: leave it out for the plain runs.
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    if callback:
        env["ANSIBLE_CALLBACKS_ENABLED"] = CALLBACK
    command = [
        str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost," if local else str(SSH_INVENTORY), "-f", str(forks),
        "-e", "bench_token=" + run_id, playbook,
    ]
    try:
        start = time.perf_counter()
        proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
    finally:
        close_masters(control_dir)
    return elapsed, proc


def unavailable_reason(proc: subprocess.CompletedProcess) -> t.Optional[str]:
    """Why a nobody run failed, when it failed because the record cannot be written as that user; else None."""
    if proc.returncode == 0:
        return None
    for line in proc.stdout.splitlines():
        if UNAVAILABLE in line and not line.startswith("fatal:"):
            return line.replace("[ERROR]: ", "").replace("Task failed: ", "").strip()
    return None


def failed(playbook: str, proc: subprocess.CompletedProcess) -> t.NoReturn:
    sys.exit("playbook %s failed (rc %d):\n%s\n%s" % (playbook, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))


def read_records(since: float, token: str) -> t.List[t.Any]:
    """The USYS_CONFIG records carrying bench=<token> that ausearch finds from ``since`` on."""
    start = time.localtime(since)
    proc = subprocess.run(
        ["ausearch", "--input-logs", "-m", "USYS_CONFIG", "--raw", "-ts",
         time.strftime("%m/%d/%y", start), time.strftime("%H:%M:%S", start)],
        env=dict(os.environ, LC_ALL="C"), capture_output=True, check=False,
    )
    records = []
    for line in proc.stdout.splitlines():
        record = parse_line(line, "USYS_CONFIG")
        if record is not None and record.get("bench") == token:
            records.append(record)
    return records


def count_records(runs: t.Sequence[Run], since: float, token: str) -> t.Tuple[t.Counter, t.List[str]]:
    """(records per run_id, problems); waits up to 10 s for auditd to write the last ones."""
    expected = sum(run.expected for run in runs)
    deadline = time.monotonic() + 10
    while True:
        records = read_records(since, token)
        if len(records) >= expected or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    found: t.Counter[str] = collections.Counter(record.get("run_id") for record in records)
    seen: t.Counter[t.Tuple[t.Any, ...]] = collections.Counter(
        (record.get("run_id"), record.get("inventory_host"), record.get("seq")) for record in records
    )
    problems = ["%s: record for %s seq %s found %d times" % (key[0], key[1], key[2], n) for key, n in seen.items() if n > 1]
    known = {run.run_id for run in runs}
    for run in runs:
        if found[run.run_id] != run.expected:
            problems.append(
                "%s (%s, callback %s): %d records, expected %d"
                % (run.run_id, run.variant, "on" if run.callback else "off", found[run.run_id], run.expected)
            )
    for run_id in sorted(set(found) - known):
        problems.append("%d records with bench=%s and an unknown run_id %s" % (found[run_id], token, run_id))
    return found, problems


def median(runs: t.Sequence[Run], variant: str, callback: bool) -> float:
    return statistics.median(run.seconds for run in runs if run.variant == variant and run.callback == callback)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every variant; medians are compared")
    parser.add_argument("--tasks", type=int, default=30, help="tasks of the fleet play (every fifth changes the host)")
    parser.add_argument("--changes", type=int, default=20, help="changed tasks of each one-host play")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    if args.rounds < 1 or args.tasks < CHANGE_EVERY or args.changes < 1:
        parser.error("--rounds and --changes must be at least 1, --tasks at least %d" % CHANGE_EVERY)
    if os.geteuid() != 0:
        sys.exit("Run as root: the status query and ausearch need it")
    check_ssh_hosts()
    hosts = fleet_hosts()
    token = "fleet-" + uuid.uuid4().hex[:16]
    runs: t.List[Run] = []
    nobody_reason: t.Optional[str] = None
    with tempfile.TemporaryDirectory(prefix="fleet_bench.") as tmp, AuditLock():
        check_auditd(kernel_status())
        # The hosts are this machine, so the directories the plays write into are made from here (unrecorded):
        # one per fleet host, root's, and nobody's own (the nobody tasks may write nothing else).
        os.chmod(tmp, 0o755)
        fleet_dir, root_dir, nobody_dir = (os.path.join(tmp, name) for name in ("fleet", "root", "nobody"))
        for host in hosts:
            os.makedirs(os.path.join(fleet_dir, host))
        os.makedirs(root_dir)
        os.makedirs(nobody_dir)
        for variant in ("root-pipelining", "root-local"):
            os.makedirs(os.path.join(tmp, variant))
        nobody = pwd.getpwnam("nobody")
        os.chown(nobody_dir, nobody.pw_uid, nobody.pw_gid)
        playbooks = {
            "fleet": os.path.join(tmp, "fleet.yml"),
            "root": os.path.join(tmp, "root.yml"),
            "nobody": os.path.join(tmp, "nobody.yml"),
            "root-pipelining": os.path.join(tmp, "root-pipelining.yml"),
            "root-local": os.path.join(tmp, "root-local.yml"),
        }
        per_host = fleet_playbook(playbooks["fleet"], fleet_dir, args.tasks)
        one_host_playbook(playbooks["root"], root_dir, "root", args.changes)
        one_host_playbook(playbooks["nobody"], nobody_dir, "nobody", args.changes)
        one_host_playbook(playbooks["root-pipelining"], os.path.join(tmp, "root-pipelining"), "root", args.changes)
        one_host_playbook(playbooks["root-local"], os.path.join(tmp, "root-local"), "root", args.changes, local=True)
        expected = {"fleet": per_host * len(hosts), "root": args.changes, "nobody": args.changes,
                    "root-pipelining": args.changes, "root-local": args.changes}
        forks = {"fleet": len(hosts), "root": 1, "nobody": 1, "root-pipelining": 1, "root-local": 1}
        since = time.time() - 1
        for round_number in range(args.rounds):
            for variant in ("fleet", "root", "nobody", "root-pipelining", "root-local"):
                if variant == "nobody" and nobody_reason:
                    continue
                for callback in (False, True):
                    run_id = "bench-%s-%s-r%d-%s" % (variant, "on" if callback else "off", round_number, uuid.uuid4().hex[:8])
                    if variant in ("root-pipelining", "root-local"):
                        # The files are made anew by every run: each task changes the host.
                        subprocess.run(["rm", "-rf", os.path.join(tmp, variant)], check=True)
                        os.makedirs(os.path.join(tmp, variant))
                    seconds, proc = run_playbook(playbooks[variant], tmp, run_id, token, callback, forks[variant],
                                                 pipelining=variant == "root-pipelining", local=variant == "root-local")
                    if proc.returncode != 0:
                        reason = unavailable_reason(proc) if variant == "nobody" and callback else None
                        if reason is None:
                            failed(playbooks[variant], proc)
                        # Refused before its first task ran: the run must have left no record.
                        nobody_reason = reason
                        runs.append(Run(variant, callback, run_id, 0, seconds))
                        continue
                    runs.append(Run(variant, callback, run_id, expected[variant] if callback else 0, seconds))
        found, problems = count_records(runs, since, token)
    nobody_available = nobody_reason is None
    # Only complete pairs count: a refused nobody run measured nothing.
    measured = [run for run in runs if run.variant != "nobody" or nobody_available]
    fleet_ratio = median(measured, "fleet", True) / median(measured, "fleet", False)
    anchor = median(measured, "root", False) / args.changes
    root_cost = (median(measured, "root", True) - median(measured, "root", False)) / args.changes
    nobody_cost = None
    if nobody_available:
        nobody_cost = (median(measured, "nobody", True) - median(measured, "nobody", False)) / args.changes
    records_on = sum(run.expected for run in runs)

    print(
        "Fleet: %d tasks (%d change each host) on %d hosts (%s), forks %d, become root, median of %d rounds:"
        % (args.tasks, per_host, len(hosts), " ".join(hosts), len(hosts), args.rounds)
    )
    print(
        "  callback on / off:              %.2fx  (goal <= %.1fx: %s; %.1f s against %.1f s)"
        % (fleet_ratio, FLEET_GOAL, "met" if fleet_ratio <= FLEET_GOAL else "NOT MET",
           median(measured, "fleet", True), median(measured, "fleet", False))
    )
    print("One host (%s), %d changed lineinfile tasks per play, median of %d rounds:" % (ONE_HOST, args.changes, args.rounds))
    print("  anchor: plain changed task (callback off / %d):   1.00   (%.0f ms)" % (args.changes, anchor * 1000))
    print("  record of a root task, (on - off) / %d:           %.2fx the anchor  (%+.0f ms)" % (args.changes, root_cost / anchor, root_cost * 1000))
    if nobody_cost is not None:
        print(
            "  record of a become_user nobody task, the same:    %.2fx the anchor  (%+.0f ms)"
            % (nobody_cost / anchor, nobody_cost * 1000)
        )
        ratio = "%.2fx" % (nobody_cost / root_cost) if root_cost > 0 else "n/a (the root record cost nothing measurable)"
        print("  nobody record / root record:                      %s" % ratio)
    else:
        print("  record of a become_user nobody task: unavailable: the callback cannot write it yet (escalating back to")
        print("    root for the record is not in place); its run failed before the first task with: %s" % nobody_reason)
    root_ratios = {}
    print("Root task, callback on / off per changed task (%d changed lineinfile tasks per play, median of %d rounds):"
          % (args.changes, args.rounds))
    for variant, how in ROOT_VARIANTS.items():
        root_ratios[variant] = median(measured, variant, True) / median(measured, variant, False)
        print("  %-16s %.2fx  (goal <= %.2fx: %s)" % (how + ":", root_ratios[variant], ROOT_GOAL,
                                                      "met" if root_ratios[variant] <= ROOT_GOAL else "NOT MET"))
    spreads = []
    for variant in ("fleet", "root", "nobody", "root-pipelining", "root-local"):
        for callback in (False, True):
            seconds = [run.seconds for run in measured if run.variant == variant and run.callback == callback]
            if seconds:
                spreads.append("%s %s %.0f%%" % (variant, "on" if callback else "off", (max(seconds) - min(seconds)) / statistics.median(seconds) * 100))
    print("  noise, (slowest - fastest) / median of the rounds: %s" % ", ".join(spreads))
    print(
        "  records (ausearch -m USYS_CONFIG --input-logs -ts <start>, bench=%s): %d found, %d expected: %s"
        % (token, sum(found.values()), records_on, "as expected in every run" if not problems else "; ".join(problems))
    )

    if args.json:
        with open(args.json, "w") as handle:
            json.dump(
                {
                    "bench": token,
                    "hosts": hosts,
                    "rounds": args.rounds,
                    "tasks": args.tasks,
                    "changes_per_host": per_host,
                    "changes_one_host": args.changes,
                    "fleet_ratio": fleet_ratio,
                    "fleet_goal": FLEET_GOAL,
                    "anchor_seconds_per_change": anchor,
                    "root_record_seconds": root_cost,
                    "root_record_x_anchor": root_cost / anchor,
                    "nobody_available": nobody_available,
                    "nobody_unavailable_reason": nobody_reason,
                    "nobody_record_seconds": nobody_cost,
                    "nobody_record_x_anchor": None if nobody_cost is None else nobody_cost / anchor,
                    "nobody_x_root": None if nobody_cost is None or root_cost <= 0 else nobody_cost / root_cost,
                    "root_ratios": root_ratios,
                    "root_goal": ROOT_GOAL,
                    "records_found": sum(found.values()),
                    "records_expected": records_on,
                    "problems": problems,
                    "runs": [run._asdict() for run in runs],
                },
                handle,
                indent=2,
            )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
