"""What the record_changes callback (the every-change hook) costs a playbook on localhost, as ratios measured in one
run against the same playbook with the callback off:

1. changes: 50 tasks that each change something; with the callback on, each writes its record (target: the
   cost of the record, per changed task, is printed; the run must leave exactly 50 records, found by its run_id);
2. idempotent: the same 50 tasks again, when none changes; with the callback on only the check that the host can
   keep records runs, once (target: <= 1.02x plain), and no record is written.

Variants alternate, so that a slow moment of the machine hits both alike; the best of --repeat runs is compared.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid

from _common import ROOT, AuditLock, count_run_records

TASKS = 50
IDEMPOTENT_TARGET = 1.02
CALLBACK = "changeaudit.linux.record_changes"

PLAY = """---
- name: every-change benchmark
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
  tasks:
{tasks}
"""

TASK = """    - name: Setting {i}
      ansible.builtin.lineinfile:
        path: "{dir}/file{i}.conf"
        line: "setting{i} = on"
        create: true
        mode: "0644"
"""


def run_playbook(playbook: str, run_id: str, callback: bool) -> float:
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"),
        CHANGEAUDIT_RUN_ID=run_id,
        ANSIBLE_NOCOLOR="1",
    )
    # An empty ANSIBLE_CALLBACKS_ENABLED is an error to ansible-core: leave it out for the plain runs.
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    if callback:
        env["ANSIBLE_CALLBACKS_ENABLED"] = CALLBACK
    start = time.perf_counter()
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", playbook],
        env=env, capture_output=True, text=True, check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit("playbook failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant; the best is compared")
    args = parser.parse_args()
    problems = []
    times = {"changes-plain": [], "changes-hook": [], "idempotent-plain": [], "idempotent-hook": []}
    with tempfile.TemporaryDirectory() as tmp, AuditLock():
        work = os.path.join(tmp, "work")
        playbook = os.path.join(tmp, "play.yml")
        with open(playbook, "w") as handle:
            handle.write(PLAY.format(tasks="".join(TASK.format(i=i, dir=work) for i in range(TASKS))))
        for _run in range(args.repeat):
            for callback in (False, True):
                variant = "hook" if callback else "plain"
                subprocess.run(["rm", "-rf", work], check=True)
                os.makedirs(work)
                run_id = "bench-every-change-%s-%s" % (variant, uuid.uuid4().hex)
                times["changes-" + variant].append(run_playbook(playbook, run_id, callback))
                found = count_run_records(run_id, TASKS if callback else 0)
                if found != (TASKS if callback else 0):
                    problems.append("%s: %d records, expected %d" % (run_id, found, TASKS if callback else 0))
                # The files are in place now: the same playbook changes nothing.
                run_id = "bench-every-change-idempotent-%s-%s" % (variant, uuid.uuid4().hex)
                times["idempotent-" + variant].append(run_playbook(playbook, run_id, callback))
                if count_run_records(run_id, 0) != 0:
                    problems.append("%s: an idempotent run wrote records" % run_id)
    best = {name: min(values) for name, values in times.items()}
    change_ratio = best["changes-hook"] / best["changes-plain"]
    per_change_ms = (best["changes-hook"] - best["changes-plain"]) / TASKS * 1000
    idempotent_ratio = best["idempotent-hook"] / best["idempotent-plain"]
    print("Playbook of %d lineinfile tasks on localhost, best of %d runs each:" % (TASKS, args.repeat))
    print(
        "  every task changes:    callback on %.2fx plain  (%.2f s against %.2f s, %+.0f ms per changed task: its record)"
        % (change_ratio, best["changes-hook"], best["changes-plain"], per_change_ms)
    )
    print(
        "  nothing changes:       callback on %.3fx plain  (%.2f s against %.2f s; target <= %.2fx: %s)"
        % (
            idempotent_ratio,
            best["idempotent-hook"],
            best["idempotent-plain"],
            IDEMPOTENT_TARGET,
            "met" if idempotent_ratio <= IDEMPOTENT_TARGET else "NOT MET",
        )
    )
    print("  records: %s" % ("as expected in every run" if not problems else "; ".join(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
