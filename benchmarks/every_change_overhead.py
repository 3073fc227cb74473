"""What the record_changes callback (the every-change hook) costs a playbook of root tasks, as ratios measured in one
run against the same playbook with the callback off, over three transports:

- local: localhost, connection local, as root;
- ssh-pipelining: the ssh test host ssh1 (login cadeploy, become root with sudo), ANSIBLE_PIPELINING=True;
- ssh: the same host without pipelining (the module goes as a file: one more transfer per task).

For each transport:

1. changes: --tasks lineinfile tasks that each change something; with the callback on, each writes its record in the
   module's own process (issue 32; target <= 1.05x plain), and the run must leave exactly one record per task, found
   by its run_id; the ledger says which path wrote each, and every one must be in_module (else exit 1: the ratio
   would not be that path's);
2. idempotent: the same tasks again, when none changes (target <= 1.02x plain); no record is written.

Each playbook also runs with only --short tasks, so that what the callback costs once per run (its import, the
controller's key, the ledger's start and seal, the check of each host once per play before its first change) comes
apart from what it costs per task: the per-task ratio (the target's) is that of the long playbook's extra tasks,
(on_long - on_short) / (off_long - off_short), and the once-per-run cost is printed in ms beside it, with the ratio
of the whole long playbook.

Each round runs, per transport, off on on off (ABBA; on off off on every second round), so that a machine drifting
within the round hits both alike; a round's ratio is on / off of its two runs of each, summed, and the median of the
per-round ratios is printed with its min-max and IQR: of the elapsed time, of the CPU time of the ansible-playbook
process tree (RUSAGE_CHILDREN deltas; the ControlMasters adopted as subreaper; for local the module processes too,
for ssh not the target's), of the machine's busy CPU (/proc/stat: an ssh target's processes too, and anything else
running), and the ms a task costs more against the plain task's. Every run starts without an SSH connection (its own
ControlPath directory, whose masters are closed afterwards). Needs root, auditd and the ssh test hosts (bash
scripts/ssh-hosts.sh up; without them the ssh transports are reported as not measured). Holds the audit lock for the
whole run.
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

from _common import ROOT, AuditLock, Measured, abba, become_subreaper, count_run_records, ledger_paths, run_measured, spread, verdict

TASKS = 20
# The short playbook: the callback's once-per-run costs, with the first change that a host check precedes.
SHORT = 2
# ~10 minutes for the three transports on the 2-core test machine, quiet.
REPEAT = 3
IN_MODULE = "in_module"
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


class Pair(t.NamedTuple):
    """One round of one transport and kind: the ABBA runs summed per variant."""
    off: Measured
    on: Measured


def run_playbook(transport: str, playbook: str, tmp: str, run_id: str, callback: bool) -> Measured:
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
    measured = run_measured([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", inventory, playbook], env, control_dir)
    if measured.proc.returncode != 0:
        sys.exit("playbook failed:\n%s\n%s" % (measured.proc.stdout[-3000:], measured.proc.stderr[-3000:]))
    return measured


def summed(runs: t.Sequence[Measured]) -> Measured:
    return Measured(sum(run.seconds for run in runs), sum(run.cpu for run in runs),
                    sum(run.machine_cpu for run in runs), runs[0].proc)


def ssh_hosts_up() -> t.Optional[str]:
    """None when the ssh test hosts accept logins, else why not."""
    if not SSH_INVENTORY.is_file():
        return "no ssh test hosts (%s is missing: bash scripts/ssh-hosts.sh up)" % SSH_INVENTORY
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "ssh-hosts.sh"), "status"], capture_output=True, text=True, check=False)
    return None if proc.returncode == 0 else "the ssh test hosts are not all up (bash scripts/ssh-hosts.sh up)"


def per_task(long: Pair, short: Pair, attribute: str) -> float:
    """on / off of the long playbook's extra tasks (what the short one does not run)."""
    off = getattr(long.off, attribute) - getattr(short.off, attribute)
    on = getattr(long.on, attribute) - getattr(short.on, attribute)
    return on / off if off > 0 else float("nan")


def report(transport: str, kind: str, pairs: t.Sequence[Pair], shorts: t.Sequence[Pair], tasks: int, short: int,
           target: float) -> None:
    rounds = list(zip(pairs, shorts))
    elapsed = [per_task(long, brief, "seconds") for long, brief in rounds]
    cpu = [per_task(long, brief, "cpu") for long, brief in rounds]
    machine = [per_task(long, brief, "machine_cpu") for long, brief in rounds if long.off.machine_cpu > brief.off.machine_cpu]
    whole = [pair.on.seconds / pair.off.seconds for pair in pairs]
    # Each variant ran twice per round: the sums / 2.
    extra_tasks = tasks - short
    extra = [((long.on.seconds - brief.on.seconds) - (long.off.seconds - brief.off.seconds)) / 2 / extra_tasks * 1000
             for long, brief in rounds]
    anchor = [(long.off.seconds - brief.off.seconds) / 2 / extra_tasks * 1000 for long, brief in rounds]
    once = [(brief.on.seconds - brief.off.seconds) / 2 * 1000 - short * added for (long, brief), added in zip(rounds, extra)]
    label = "every task changes:" if kind == "changes" else "nothing changes:"
    transport = transport if kind == "changes" else ""
    print("  %-15s %-19s per task: elapsed %s  target <= %.2fx: %s"
          % (transport, label, spread(elapsed).text(), target, verdict(elapsed, target)))
    print("  %-15s %-19s           CPU     %s" % ("", "", spread(cpu).text()))
    if machine:
        print("  %-15s %-19s           machine %s" % ("", "", spread(machine).text()))
    print(
        "  %-15s %-19s           %s per task against the plain task's %s (callback off)"
        % ("", "", spread(extra).text("%+.1f", " ms"), spread(anchor).text("%.0f", " ms"))
    )
    print("  %-15s %-19s once per run: %s; the whole %d-task playbook: %s"
          % ("", "", spread(once).text("%+.0f", " ms"), tasks, spread(whole).text()))


def figures(pairs: t.Sequence[Pair], shorts: t.Sequence[Pair], tasks: int) -> t.Dict[str, t.Any]:
    return {
        "per_task_elapsed_ratio": spread([per_task(long, brief, "seconds") for long, brief in zip(pairs, shorts)])._asdict(),
        "per_task_cpu_ratio": spread([per_task(long, brief, "cpu") for long, brief in zip(pairs, shorts)])._asdict(),
        "elapsed_ratio": spread([pair.on.seconds / pair.off.seconds for pair in pairs])._asdict(),
        "cpu_ratio": spread([pair.on.cpu / pair.off.cpu for pair in pairs])._asdict(),
        "machine_cpu_ratio": spread([pair.on.machine_cpu / pair.off.machine_cpu for pair in pairs
                                     if pair.off.machine_cpu > 0] or [float("nan")])._asdict(),
        "ms_per_task_extra": spread([(pair.on.seconds - pair.off.seconds) / 2 / tasks * 1000 for pair in pairs])._asdict(),
        "ms_per_plain_task": spread([pair.off.seconds / 2 / tasks * 1000 for pair in pairs])._asdict(),
        "rounds": [{"off": pair.off[:3], "on": pair.on[:3]} for pair in pairs],
        "short_rounds": [{"off": pair.off[:3], "on": pair.on[:3]} for pair in shorts],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=REPEAT,
                        help="rounds, each off on on off (ABBA) per transport; the median of the per-round ratios is compared")
    parser.add_argument("--tasks", type=int, default=TASKS, help="tasks of each playbook")
    parser.add_argument("--short", type=int, default=SHORT,
                        help="tasks of the short playbook, which parts the once-per-run cost from the per-task one")
    parser.add_argument("--transport", action="append", choices=TRANSPORTS, help="only these (default: all three)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    if args.repeat < 1 or args.short < 1 or args.tasks <= args.short:
        parser.error("--repeat and --short must be at least 1, --tasks more than --short")
    transports = list(args.transport or TRANSPORTS)
    missing = ssh_hosts_up() if any(name != "local" for name in transports) else None
    if missing:
        transports = [name for name in transports if name == "local"]
    problems: t.List[str] = []
    pairs: t.Dict[t.Tuple[str, str, int], t.List[Pair]] = collections.defaultdict(list)
    paths: t.Dict[str, t.Counter[str]] = collections.defaultdict(collections.Counter)
    # The SSH ControlMasters daemonize: adopted, their CPU time counts for the run that started them.
    subreaper = become_subreaper()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="every_change.") as tmp, AuditLock():
        # The ssh host is this machine: its root writes under this directory.
        os.chmod(tmp, 0o755)
        playbooks = {}
        for transport in transports:
            work = os.path.join(tmp, "work-" + transport)
            play = LOCAL_PLAY if transport == "local" else SSH_PLAY
            for length in (args.tasks, args.short):
                playbooks[(transport, length)] = (work, os.path.join(tmp, "%s-%d.yml" % (transport, length)))
                with open(playbooks[(transport, length)][1], "w") as handle:
                    handle.write(play.format(tasks="".join(TASK.format(i=i, dir=work) for i in range(length))))
        for round_number in range(args.repeat):
            for transport in transports:
                for length in (args.tasks, args.short):
                    work, playbook = playbooks[(transport, length)]
                    runs: t.Dict[t.Tuple[str, bool], t.List[Measured]] = collections.defaultdict(list)
                    for callback in abba(round_number):
                        variant = "on" if callback else "off"
                        subprocess.run(["rm", "-rf", work], check=True)
                        os.makedirs(work)
                        run_id = "bench-every-change-%s-%d-%s-%s" % (transport, length, variant, uuid.uuid4().hex)
                        runs[("changes", callback)].append(run_playbook(transport, playbook, tmp, run_id, callback))
                        expected = length if callback else 0
                        found = count_run_records(run_id, expected)
                        if found != expected:
                            problems.append("%s: %d records, expected %d" % (run_id, found, expected))
                        if callback:
                            paths[transport].update(ledger_paths(os.path.join(tmp, "ledger"), run_id))
                        # The files are in place now: the same playbook changes nothing.
                        run_id = "bench-every-change-idempotent-%s-%d-%s-%s" % (transport, length, variant, uuid.uuid4().hex)
                        runs[("idempotent", callback)].append(run_playbook(transport, playbook, tmp, run_id, callback))
                        if count_run_records(run_id, 0) != 0:
                            problems.append("%s: an idempotent run wrote records" % run_id)
                    for kind in ("changes", "idempotent"):
                        pairs[(transport, kind, length)].append(Pair(summed(runs[(kind, False)]), summed(runs[(kind, True)])))
    minutes = (time.monotonic() - started) / 60
    for transport in transports:
        # Root tasks: every record must come from the module's own process, or the ratio is not issue 32's.
        other = {path: n for path, n in paths[transport].items() if path != IN_MODULE}
        if other:
            problems.append("%s: records not written in the module (%s): the ratio is not the in-module path's"
                            % (transport, ", ".join("%s %d" % item for item in sorted(other.items()))))
    print(
        "Playbooks of %d and of %d root lineinfile tasks, callback on / off; %d round(s) of off on on off (ABBA, the other"
        " way round every second round) per transport and length, %.1f min;" % (args.tasks, args.short, args.repeat, minutes)
    )
    print("median of the per-round ratios (on / off of the round's summed runs), with min-max and IQR; per task: of the"
          " %d tasks the\n  long playbook runs more than the short one; once per run: what the short one costs more than its"
          " tasks do:" % (args.tasks - args.short))
    print(
        "  elapsed: ansible-playbook started to exited. CPU: user + sys of its process tree from RUSAGE_CHILDREN:"
        " the controller, its ssh\n  clients%s; for local the module processes on the target too; for ssh NOT the"
        " target's (sshd, sudo, the module\n  run under the test host's sshd). machine: all busy CPU of this machine"
        " over the run (/proc/stat), the only figure\n  holding an ssh target's processes; auditd and any other work"
        " too: meaningful on a quiet machine only."
        % (" and ControlMasters" if subreaper else " (not the ControlMasters: PR_SET_CHILD_SUBREAPER refused)")
    )
    for transport in transports:
        for kind, target in (("changes", CHANGE_TARGET), ("idempotent", IDEMPOTENT_TARGET)):
            report(transport, kind, pairs[(transport, kind, args.tasks)], pairs[(transport, kind, args.short)], args.tasks,
                   args.short, target)
        print("  %-15s %-19s %s" % ("", "records by path:", ", ".join("%s %d" % item for item in sorted(paths[transport].items())) or "none"))
    if missing:
        print("  ssh-pipelining, ssh: not measured: %s" % missing)
    print("  records: %s" % ("as expected in every run, every one in_module" if not problems else "; ".join(problems)))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as handle:
            json.dump({
                "tasks": args.tasks, "short": args.short, "repeat": args.repeat, "minutes": minutes,
                "change_target": CHANGE_TARGET, "idempotent_target": IDEMPOTENT_TARGET,
                "transports": {transport: {kind: figures(pairs[(transport, kind, args.tasks)], pairs[(transport, kind, args.short)],
                                                         args.tasks)
                                           for kind in ("changes", "idempotent")} for transport in transports},
                "paths": {transport: dict(paths[transport]) for transport in transports},
                "not_measured": missing, "problems": problems,
            }, handle, indent=2)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
