"""Issue 19, the run's ledger, for real: ansible-playbook with the record_changes callback on localhost.

- Every record the run wrote carries the host's sequence number of its change (seq=, next to task_id); the ledger
  holds an intent and an outcome line for each change with the same number, one to one: loop items and a handler
  flushed twice each get their own; an unchanged item is "unchanged"; a task on the skip list that changed the host
  is "skipped_by_policy" and has no record.
- A worker killed between its change and the record leaves the intent of that change without an outcome.

Records are read back with ausearch (the independent oracle), by the run's ID.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import typing as t

from livelib import ausearch_raw, msg_text
from test_fail_closed_live import HEADER, LEDGER_DIR, ansible_env, fence, output, run_playbook

KILL_MY_WORKER = '''
import os
import signal

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={"path": {"type": "str", "required": True}})
    with open(module.params["path"], "w") as handle:
        handle.write("changed")
    # The worker is the first ancestor running ansible-playbook (a fork of it); the run's own process is further up.
    pid = os.getppid()
    while pid > 1:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            if b"ansible-playbook" in handle.read():
                os.kill(pid, signal.SIGKILL)
                break
        with open("/proc/%d/stat" % pid) as handle:
            pid = int(handle.read().rsplit(")", 1)[1].split()[1])
    module.exit_json(changed=True)


main()
'''


def ledger(run_id: str) -> t.List[t.Dict[str, t.Any]]:
    with open(os.path.join(LEDGER_DIR, run_id, "ledger.jsonl"), encoding="ascii") as handle:
        return [json.loads(line) for line in handle]


def records(run_id: str) -> t.List[str]:
    fence()
    return [msg_text(line) for line in ausearch_raw('run_id="%s"' % run_id)]


def field(text: str, name: str) -> str:
    match = re.search(r"(?:^| )%s=\"?([^\" ]*)\"?(?: |$)" % name, text)
    assert match, (name, text)
    return match.group(1)


def test_every_change_has_its_ledger_lines_and_its_record_the_same_seq(tmp_path, marker):
    run_id = "ledger-" + marker
    kept = tmp_path / "kept"
    kept.write_text("same")
    play = HEADER + textwrap.indent(textwrap.dedent("""\
        vars:
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
        tasks:
          - name: Write three files, one of them unchanged
            ansible.builtin.copy: {dest: "%(dir)s/{{ item }}", content: "same"}
            loop: [a, kept, b]
            notify: Touch the handler file
          - name: Flush the handler once
            ansible.builtin.meta: flush_handlers
          - name: Change again
            ansible.builtin.copy: {dest: "%(dir)s/c", content: "x"}
            notify: Touch the handler file
          - name: A change on the skip list
            ansible.builtin.command: "touch %(dir)s/skipped"
            changed_when: true
          - name: Nothing to record
            ansible.builtin.debug: {msg: "%(m)s"}
        handlers:
          - name: Touch the handler file
            ansible.builtin.copy: {dest: "%(dir)s/handler-{{ 1000 | random }}", content: "h"}
    """ % {"dir": tmp_path, "m": marker}), "  ")
    env = ansible_env(CHANGEAUDIT_RUN_ID=run_id, CHANGEAUDIT_RECORD_CHANGES_SKIP="ansible.builtin.command")
    proc = run_playbook(tmp_path, play, env)
    assert proc.returncode == 0, output(proc)

    entries = ledger(run_id)
    intents = {entry["seq"]: entry for entry in entries if entry["kind"] == "intent"}
    outcomes = {entry["seq"]: entry for entry in entries if entry["kind"] == "outcome"}
    assert {entry["host"] for entry in entries} == {"localhost"}
    # 3 items, the change, the skipped command, the handler twice: one number each, none twice, none missing.
    assert sorted(intents) == sorted(outcomes) == list(range(1, 8)), entries
    assert sum(1 for entry in entries if entry["kind"] == "intent") == 7
    by_outcome = {}
    for seq, entry in outcomes.items():
        by_outcome.setdefault(entry["outcome"], []).append(seq)
    assert len(by_outcome["recorded"]) == 5 and len(by_outcome["unchanged"]) == 1
    [skipped] = by_outcome["skipped_by_policy"]
    assert intents[skipped]["module"] == "ansible.builtin.command" and intents[skipped]["policy"] == "skip list"
    [unchanged] = by_outcome["unchanged"]
    assert intents[unchanged]["object"] == str(kept)
    assert stat_mode(os.path.join(LEDGER_DIR, run_id)) == 0o700
    assert stat_mode(os.path.join(LEDGER_DIR, run_id, "ledger.jsonl")) == 0o600

    written = records(run_id)
    assert sorted(int(field(text, "seq")) for text in written) == sorted(by_outcome["recorded"])
    for text in written:
        seq = int(field(text, "seq"))
        assert field(text, "task_id") == intents[seq]["task_id"]
        assert re.search(r' task_id="[^"]+" seq="?%d"? ' % seq, text), text
        assert field(text, "object") in (intents[seq]["object"], intents[seq]["object"].encode().hex().upper())


def stat_mode(path: str) -> int:
    return os.stat(path).st_mode & 0o777


def test_a_worker_killed_between_its_change_and_the_record_leaves_an_intent_without_an_outcome(tmp_path, marker):
    run_id = "ledger-kill-" + marker
    library = tmp_path / "library"
    library.mkdir()
    (library / "kill_my_worker.py").write_text(KILL_MY_WORKER)
    changed = tmp_path / ("%s-killed" % marker)
    play = HEADER + textwrap.indent(textwrap.dedent("""\
        vars:
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
        tasks:
          - name: Change, then die before the record
            kill_my_worker: {path: "%(path)s"}
    """ % {"path": changed}), "  ")
    env = ansible_env(CHANGEAUDIT_RUN_ID=run_id, ANSIBLE_LIBRARY=str(library))
    proc = run_playbook(tmp_path, play, env)
    assert proc.returncode != 0, output(proc)
    assert changed.read_text() == "changed", output(proc)
    entries = ledger(run_id)
    assert [(entry["kind"], entry["seq"], entry["module"]) for entry in entries] == [("intent", 1, "kill_my_worker")], entries
    assert records(run_id) == []
