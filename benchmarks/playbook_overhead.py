"""Wall time of a playbook of 50 changes on localhost, plain tasks against the same tasks wrapped in
changeaudit.linux.audited, measured in one run and printed as a ratio (target: audited <= 1.3x plain).

Each variant starts from an empty directory, so every one of the 50 tasks changes something; the audited
run must leave exactly 50 records (counted in audit.log by its run id), the plain run none.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid

from _common import ROOT, AuditLock

CHANGES = 50

PLAY = """---
- name: {name}
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
  tasks:
{tasks}
"""

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


def write_playbook(path: str, name: str, template: str, work_dir: str) -> None:
    tasks = "".join(template.format(i=i, dir=work_dir) for i in range(CHANGES))
    with open(path, "w") as handle:
        handle.write(PLAY.format(name=name, tasks=tasks))


def run_playbook(playbook: str, run_id: str, work_dir: str) -> float:
    subprocess.run(["rm", "-rf", work_dir], check=True)
    os.makedirs(work_dir)
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"),
        CHANGEAUDIT_RUN_ID=run_id,
        ANSIBLE_NOCOLOR="1",
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", playbook],
        env=env, capture_output=True, text=True, check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit("playbook failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    return elapsed


def count_records(run_id: str) -> int:
    needle = 'run_id="%s"' % run_id
    count = 0
    for _attempt in range(50):
        proc = subprocess.run(
            ["ausearch", "--input-logs", "-m", "USYS_CONFIG", "--raw"],
            capture_output=True, text=True, errors="replace", check=False,
        )
        count = sum(1 for line in proc.stdout.splitlines() if needle in line)
        if count >= CHANGES:
            return count
        time.sleep(0.1)
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant; the best is compared")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, AuditLock():
        plain_dir, audited_dir = os.path.join(tmp, "plain"), os.path.join(tmp, "audited")
        plain_pb, audited_pb = os.path.join(tmp, "plain.yml"), os.path.join(tmp, "audited.yml")
        write_playbook(plain_pb, "plain", PLAIN_TASK, plain_dir)
        write_playbook(audited_pb, "audited", AUDITED_TASK, audited_dir)
        plain_times, audited_times = [], []
        missing = 0
        # Interleaved, so that a slow moment of the machine hits both variants alike.
        for _run in range(args.repeat):
            plain_times.append(run_playbook(plain_pb, "bench-plain-" + uuid.uuid4().hex, plain_dir))
            run_id = "bench-audited-" + uuid.uuid4().hex
            audited_times.append(run_playbook(audited_pb, run_id, audited_dir))
            found = count_records(run_id)
            if found != CHANGES:
                missing += 1
                print("audited run %s: %d records in audit.log, expected %d" % (run_id, found, CHANGES))
    plain, audited = min(plain_times), min(audited_times)
    ratio = audited / plain
    print("Playbook of %d changes on localhost, best of %d runs each:" % (CHANGES, args.repeat))
    print("  plain tasks:    %6.2f s  (%.0f ms/task)" % (plain, plain / CHANGES * 1000))
    print("  audited tasks:  %6.2f s  (%.0f ms/task)  %.2fx plain" % (audited, audited / CHANGES * 1000, ratio))
    print("  target audited <= 1.3x plain: %s" % ("met" if ratio <= 1.3 else "NOT MET"))
    print("  records: %s" % ("every audited run left exactly %d" % CHANGES if not missing else "MISSING in %d run(s)" % missing))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
