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

Each round runs every variant off on on off (ABBA; on off off on every second round), so that a machine drifting
within the round hits both alike; a round's ratio is on / off of its two runs of each, summed, and the median of the
per-round ratios is printed with its min-max and IQR: of the elapsed time, of the CPU time of the ansible-playbook
process tree (RUSAGE_CHILDREN deltas; the ControlMasters adopted as subreaper; for local the module processes too,
for ssh not the target's) and of the machine's busy CPU (/proc/stat: the ssh targets' processes too, and anything
else running). Every run starts with no SSH connection (its own ControlPath directory, whose masters are closed after
the run), as a new ansible-playbook run would. The ledger of each "on" run says which path wrote each record: every
record of the three root variants must be in_module. Every record carries bench="<token of this invocation>" (the
callback's fields option) and its run's run_id; at the end ausearch --input-logs -m USYS_CONFIG -ts <start> must find
exactly one record per changed task and host of each "on" run and none of any "off" run, or the script exits 1.

Needs root, auditd running, and the ssh test hosts (bash scripts/ssh-hosts.sh up); refuses to start otherwise.
Holds the audit lock for the whole run.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pwd
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid

import yaml

from _common import (
    ROOT, AuditLock, Measured, Spread, abba, become_subreaper, check_auditd, kernel_status, ledger_paths, run_measured, spread,
    verdict,
)

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
VARIANTS = ("fleet", "root", "nobody", "root-pipelining", "root-local")
IN_MODULE = "in_module"
ROUNDS = 3

ONE_HOST_CHANGE = """    - name: Change {i}
      ansible.builtin.lineinfile:
        path: "{dir}/file{i}.conf"
        regexp: "^token="
        line: "token={{{{ bench_token }}}}"
        create: true
        mode: "0644"
"""


class Run(t.NamedTuple):
    variant: str  # fleet, root, nobody, root-pipelining or root-local
    callback: bool
    run_id: str
    expected: int  # records it must leave
    seconds: float
    cpu: float  # user + sys of the ansible-playbook process tree (and its ControlMasters)
    machine_cpu: float  # all busy CPU of the machine over the run
    round: int


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


def run_playbook(
    playbook: str, tmp: str, run_id: str, token: str, callback: bool, forks: int, pipelining: bool = False,
    local: bool = False,
) -> Measured:
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
    return run_measured(command, env, control_dir)


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


def per_round(runs: t.Sequence[Run], variant: str, field: str = "seconds") -> t.List[t.Tuple[float, float]]:
    """(off, on) per round of a variant: the field summed over the round's two runs of each (ABBA)."""
    sums: t.Dict[int, t.List[float]] = collections.defaultdict(lambda: [0.0, 0.0])
    for run in runs:
        if run.variant == variant:
            sums[run.round][run.callback] += getattr(run, field)
    return [(off, on) for off, on in (sums[number] for number in sorted(sums)) if off > 0 and on > 0]


def ratios(runs: t.Sequence[Run], variant: str, field: str = "seconds") -> t.List[float]:
    return [on / off for off, on in per_round(runs, variant, field)]


def costs(runs: t.Sequence[Run], variant: str, changes: int) -> t.List[float]:
    """A record's cost per change in each round: (on - off) / 2 runs / changes, in seconds."""
    return [(on - off) / 2 / changes for off, on in per_round(runs, variant)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=ROUNDS,
                        help="rounds, each off on on off (ABBA) per variant; medians of the per-round ratios are compared")
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
    paths: t.Dict[str, t.Counter[str]] = collections.defaultdict(collections.Counter)
    nobody_reason: t.Optional[str] = None
    # The SSH ControlMasters daemonize: adopted, their CPU time counts for the run that started them.
    subreaper = become_subreaper()
    started = time.monotonic()
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
        playbooks = {variant: os.path.join(tmp, variant + ".yml") for variant in VARIANTS}
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
            for variant in VARIANTS:
                for callback in abba(round_number):
                    if variant == "nobody" and nobody_reason:
                        continue
                    run_id = "bench-%s-%s-r%d-%s" % (variant, "on" if callback else "off", round_number, uuid.uuid4().hex[:8])
                    if variant in ("root-pipelining", "root-local"):
                        # The files are made anew by every run: each task changes the host.
                        subprocess.run(["rm", "-rf", os.path.join(tmp, variant)], check=True)
                        os.makedirs(os.path.join(tmp, variant))
                    measured = run_playbook(playbooks[variant], tmp, run_id, token, callback, forks[variant],
                                            pipelining=variant == "root-pipelining", local=variant == "root-local")
                    proc = measured.proc
                    leaves = expected[variant] if callback else 0
                    if proc.returncode != 0:
                        reason = unavailable_reason(proc) if variant == "nobody" and callback else None
                        if reason is None:
                            failed(playbooks[variant], proc)
                        # Refused before its first task ran: the run must have left no record.
                        nobody_reason = reason
                        leaves = 0
                    runs.append(Run(variant, callback, run_id, leaves, measured.seconds, measured.cpu,
                                    measured.machine_cpu, round_number))
                    if callback:
                        paths[variant].update(ledger_paths(os.path.join(tmp, "ledger"), run_id))
        found, problems = count_records(runs, since, token)
    minutes = (time.monotonic() - started) / 60
    for variant in ROOT_VARIANTS:
        # A root task's record must come from the module's own process, or its ratio is not issue 32's.
        other = {path: n for path, n in paths[variant].items() if path != IN_MODULE}
        if other:
            problems.append("%s: records not written in the module (%s): its ratio is not the in-module path's"
                            % (variant, ", ".join("%s %d" % item for item in sorted(other.items()))))
    nobody_available = nobody_reason is None
    # Only complete pairs count: a refused nobody run measured nothing.
    measured_runs = [run for run in runs if run.variant != "nobody" or nobody_available]
    fleet = spread(ratios(measured_runs, "fleet"))
    anchors = [off / 2 / args.changes for off, _on in per_round(measured_runs, "root")]
    root_costs = costs(measured_runs, "root", args.changes)
    root_x = [cost / base for cost, base in zip(root_costs, anchors)]
    nobody_x: t.Optional[t.List[float]] = None
    nobody_costs: t.List[float] = []
    nobody_root: t.List[float] = []
    if nobody_available:
        nobody_costs = costs(measured_runs, "nobody", args.changes)
        nobody_x = [cost / base for cost, base in zip(nobody_costs, anchors)]
        nobody_root = [nob / root for nob, root in zip(nobody_costs, root_costs) if root > 0]
    records_on = sum(run.expected for run in runs)

    print(
        "%d round(s), each variant off on on off (ABBA, the other way round every second round), %.1f min; median of the"
        " per-round ratios\n(on / off of the round's summed runs) with min-max and IQR. CPU: user + sys of the"
        " ansible-playbook process tree\n(RUSAGE_CHILDREN: controller, ssh clients%s; for local the module processes"
        " too; for ssh NOT the target's sshd, sudo\nand module, which run under the test host's sshd). machine: all busy"
        " CPU of this machine over the run (/proc/stat): holds the\nssh targets' processes, auditd and any other work:"
        " meaningful on a quiet machine only."
        % (args.rounds, minutes, " and ControlMasters" if subreaper else " (not the ControlMasters: PR_SET_CHILD_SUBREAPER refused)")
    )
    print(
        "Fleet: %d tasks (%d change each host) on %d hosts (%s), forks %d, become root:"
        % (args.tasks, per_host, len(hosts), " ".join(hosts), len(hosts))
    )
    print("  callback on / off:  elapsed %s  goal <= %.1fx: %s" % (fleet.text(), FLEET_GOAL, verdict(ratios(measured_runs, "fleet"), FLEET_GOAL, "--rounds")))
    print("                      CPU     %s" % spread(ratios(measured_runs, "fleet", "cpu")).text())
    print("                      machine %s" % spread(ratios(measured_runs, "fleet", "machine_cpu")).text())
    print("One host (%s), %d changed lineinfile tasks per play:" % (ONE_HOST, args.changes))
    print("  anchor: plain changed task (callback off / %d):  1.00   (%s)" % (args.changes, spread([a * 1000 for a in anchors]).text("%.0f", " ms")))
    print("  record of a root task, (on - off) / %d:          %s the anchor  (%s)"
          % (args.changes, spread(root_x).text("%.3f"), spread([c * 1000 for c in root_costs]).text("%+.1f", " ms")))
    if nobody_x is not None:
        print("  record of a become_user nobody task, the same:   %s the anchor  (%s)"
              % (spread(nobody_x).text("%.3f"), spread([c * 1000 for c in nobody_costs]).text("%+.1f", " ms")))
        print("  nobody record / root record:                     %s" % (
            spread(nobody_root).text("%.2f") if nobody_root else "n/a (the root record cost nothing measurable)"))
    else:
        print("  record of a become_user nobody task: unavailable: the callback cannot write it yet (escalating back to")
        print("    root for the record is not in place); its run failed before the first task with: %s" % nobody_reason)
    root_ratios = {}
    print("Root task, callback on / off per changed task (%d changed lineinfile tasks per play):" % args.changes)
    for variant, how in ROOT_VARIANTS.items():
        elapsed = ratios(measured_runs, variant)
        root_ratios[variant] = {
            "elapsed": spread(elapsed)._asdict(),
            "cpu": spread(ratios(measured_runs, variant, "cpu"))._asdict(),
            "machine_cpu": spread(ratios(measured_runs, variant, "machine_cpu"))._asdict(),
            "ms_per_change_extra": spread([c * 1000 for c in costs(measured_runs, variant, args.changes)])._asdict(),
            "ms_per_plain_change": spread([off / 2 / args.changes * 1000 for off, _on in per_round(measured_runs, variant)])._asdict(),
        }
        print("  %-16s elapsed %s  goal <= %.2fx: %s" % (how + ":", spread(elapsed).text(), ROOT_GOAL, verdict(elapsed, ROOT_GOAL, "--rounds")))
        print("  %-16s CPU     %s" % ("", spread(ratios(measured_runs, variant, "cpu")).text()))
        print("  %-16s machine %s" % ("", spread(ratios(measured_runs, variant, "machine_cpu")).text()))
        print("  %-16s %s per changed task against the plain changed task's %s"
              % ("", spread_text(root_ratios[variant]["ms_per_change_extra"], "%+.1f"),
                 spread_text(root_ratios[variant]["ms_per_plain_change"], "%.0f")))
    print("  records by path (callback on runs): %s" % "; ".join(
        "%s %s" % (variant, ", ".join("%s %d" % item for item in sorted(paths[variant].items())) or "none")
        for variant in VARIANTS if variant in paths))
    print(
        "  records (ausearch -m USYS_CONFIG --input-logs -ts <start>, bench=%s): %d found, %d expected: %s"
        % (token, sum(found.values()), records_on,
           "as expected in every run, every root record in_module" if not problems else "; ".join(problems))
    )

    if args.json:
        with open(args.json, "w") as handle:
            json.dump(
                {
                    "bench": token,
                    "hosts": hosts,
                    "rounds": args.rounds,
                    "minutes": minutes,
                    "tasks": args.tasks,
                    "changes_per_host": per_host,
                    "changes_one_host": args.changes,
                    "fleet_ratio": fleet._asdict(),
                    "fleet_cpu_ratio": spread(ratios(measured_runs, "fleet", "cpu"))._asdict(),
                    "fleet_goal": FLEET_GOAL,
                    "anchor_seconds_per_change": spread(anchors)._asdict(),
                    "root_record_seconds": spread(root_costs)._asdict(),
                    "root_record_x_anchor": spread(root_x)._asdict(),
                    "nobody_available": nobody_available,
                    "nobody_unavailable_reason": nobody_reason,
                    "nobody_record_x_anchor": None if nobody_x is None else spread(nobody_x)._asdict(),
                    "nobody_x_root": spread(nobody_root)._asdict() if nobody_root else None,
                    "root_ratios": root_ratios,
                    "root_goal": ROOT_GOAL,
                    "paths": {variant: dict(counts) for variant, counts in paths.items()},
                    "records_found": sum(found.values()),
                    "records_expected": records_on,
                    "problems": problems,
                    "runs": [run._asdict() for run in runs],
                },
                handle,
                indent=2,
            )
    return 1 if problems else 0


def spread_text(figure: t.Mapping[str, t.Any], fmt: str) -> str:
    return Spread(**figure).text(fmt, " ms")


if __name__ == "__main__":
    sys.exit(main())
