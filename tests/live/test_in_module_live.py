"""Issue 32, the record written in the module's own process, for real: ansible-playbook with the record_changes
callback, on localhost and over the ssh test host ssh1 (login cadeploy, become root with sudo), pipelining on and off.

- A root lineinfile and a copy with content= get exactly one record each, written by the module's process (the
  ledger's outcome says path in_module), read back from audit.log by the collection's reader and by
  ``ausearch --input-logs -m USYS_CONFIG``; the record holds the fields the writer writes for the same task (the
  same play run with CHANGEAUDIT_IN_MODULE=false), field by field, but for what names the run.
- Each task this path does not cover is recorded once by the writer (path writer): template (several modules),
  a changed_when that turns an unchanged result into a change, a become_user task; a changed_when that turns a
  change into none leaves no record, nor does check mode.
- Auditing off (``auditctl -e 0``, restored afterwards) after the host check: the in-module task fails closed with
  the cause, ignore_errors notwithstanding, and the ledger names the path.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import textwrap
import typing as t
import uuid

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.reader import read_records
from livelib import ausearch_raw, msg_text
from test_fail_closed_live import LEDGER_DIR, PLAYBOOK, ansible_env, fence, output
from test_writer_live import SSH_INVENTORY, needs_ssh_hosts

# What differs between two runs of the same play: which run and task the record is of, and its signature over them.
PER_RUN = {"run_id", "task_id", "ctl_sig", "ctl_mac"}


@pytest.fixture
def work():
    """A directory root and nobody may write in (pytest's tmp dirs are root's alone), removed afterwards."""
    path = tempfile.mkdtemp(prefix="ca-in-module-")
    os.chmod(path, 0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def play(hosts: str, directory: str, tasks: str, local: bool) -> str:
    head = "- hosts: %s\n  gather_facts: false\n" % hosts
    if local:
        head += "  connection: local\n  vars:\n    ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n"
    else:
        head += "  become: true\n"
    return head + "  tasks:\n" + textwrap.indent(textwrap.dedent(tasks % {"dir": directory}), "    ")


IN_MODULE_TASKS = """
- name: In module lineinfile
  ansible.builtin.lineinfile:
    path: "%(dir)s/lines.conf"
    line: "value {{ marker }}"
    create: true
    mode: "0644"
- name: In module copy
  ansible.builtin.copy:
    dest: "%(dir)s/copied.conf"
    content: "copied\\n"
    mode: "0644"
"""

LOOP_TASK = """
- name: In module loop
  ansible.builtin.lineinfile:
    path: "%(dir)s/item-{{ item }}.conf"
    line: "item {{ item }}"
    create: true
    mode: "0644"
  loop: [one, two]
"""

FALLBACK_TASKS = """
- name: Writer template
  ansible.builtin.template:
    src: "%(dir)s/source.j2"
    dest: "%(dir)s/templated.conf"
    mode: "0644"
- name: Writer changed_when true
  ansible.builtin.lineinfile:
    path: "%(dir)s/lines.conf"
    line: "value {{ marker }}"
  changed_when: true
- name: No record changed_when false
  ansible.builtin.lineinfile:
    path: "%(dir)s/other.conf"
    line: "other {{ marker }}"
    create: true
    mode: "0644"
  changed_when: false
- name: Writer become_user
  ansible.builtin.lineinfile:
    path: "%(dir)s/nobody.conf"
    line: "nobody {{ marker }}"
    create: true
    mode: "0644"
  become: true
  become_user: nobody
  vars:
    # nobody may not run the controller's venv.
    ansible_python_interpreter: /usr/bin/python3
- name: No record check mode
  ansible.builtin.lineinfile:
    path: "%(dir)s/checked.conf"
    line: "checked {{ marker }}"
    create: true
  check_mode: true
"""


def run(directory: str, text: str, inventory: str = "localhost,", **env: str) -> t.Tuple[str, subprocess.CompletedProcess]:
    """Runs the play with a fresh run_id (the marker is in a vars file, never on the command line)."""
    run_id = "inmod-" + uuid.uuid4().hex
    path = os.path.join(directory, "play.yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    variables = os.path.join(directory, "vars.json")
    with open(variables, "w", encoding="utf-8") as handle:
        json.dump({"marker": run_id}, handle)
    proc = subprocess.run(
        [PLAYBOOK, "-i", inventory, path, "-e", "@" + variables], env=ansible_env(CHANGEAUDIT_RUN_ID=run_id, **env),
        capture_output=True, text=True, check=False, timeout=600,
    )
    return run_id, proc


def outcomes(run_id: str) -> t.Dict[str, t.Dict[str, t.Any]]:
    """The ledger's outcome line of each task, by the task's name (cmd of its intent, and its loop item)."""
    with open(os.path.join(LEDGER_DIR, run_id, "ledger.jsonl"), encoding="ascii") as handle:
        entries = [json.loads(line) for line in handle]
    names = {(entry["host"], entry["seq"]): entry.get("cmd") + (" " + entry["loop_label"] if "loop_label" in entry else "")
             for entry in entries if entry["kind"] == "intent"}
    return {names[(entry["host"], entry["seq"])]: entry for entry in entries if entry["kind"] == "outcome"}


def records(run_id: str) -> t.Dict[str, t.Dict[str, t.Any]]:
    """The run's records by task name (and loop item), as the collection's reader decodes them; each found once, and
    ausearch finds the same ones."""
    fence()
    found = read_records({"run_id": run_id, "limit": 0})["records"]
    by_name: t.Dict[str, t.Dict[str, t.Any]] = {}
    for record in found:
        name = record["fields"]["cmd"] + (" " + record["fields"]["loop_label"] if "loop_label" in record["fields"] else "")
        assert name not in by_name, "recorded twice: %s" % name
        by_name[name] = record
    oracle = sorted(msg_text(line) for line in ausearch_raw('run_id="%s"' % run_id))
    assert oracle == sorted(record["text"] for record in found)
    return by_name


def comparable(record: t.Dict[str, t.Any]) -> t.Tuple[t.Any, ...]:
    """A record without what names its run: its fields in order, op, result, comm, exe, uid, auid, ses."""
    fields = [(name, value) for name, value in record["fields"].items() if name not in PER_RUN]
    return (fields, record["op"], record["result"], record["comm"], record["exe"], record["uid"], record["auid"],
            record["ses"])


def test_root_tasks_on_localhost_write_their_record_in_the_module_and_the_rest_keep_the_writer(work):
    with open(os.path.join(work, "source.j2"), "w", encoding="utf-8") as handle:
        handle.write("templated {{ marker }}\n")
    run_id, proc = run(work, play("localhost", work, IN_MODULE_TASKS + LOOP_TASK + FALLBACK_TASKS, local=True))
    assert proc.returncode == 0, output(proc)
    found = records(run_id)
    assert sorted(found) == ["In module copy", "In module lineinfile", "In module loop one", "In module loop two",
                             "Writer become_user", "Writer changed_when true", "Writer template"]
    # Each loop item its own record, with its own number of the change.
    assert found["In module loop one"]["fields"]["seq"] != found["In module loop two"]["fields"]["seq"]
    paths = {name: line.get("path") for name, line in outcomes(run_id).items()}
    assert paths == {
        "In module lineinfile": "in_module", "In module copy": "in_module", "In module loop one": "in_module",
        "In module loop two": "in_module", "Writer template": "writer",
        "Writer changed_when true": "writer", "No record changed_when false": None, "Writer become_user": "writer",
    }, paths
    assert found["In module copy"]["fields"]["checksum"].startswith("sha1:")
    assert found["Writer become_user"]["fields"]["become_user"] == "nobody"

    # The same tasks with the writer: the same record, field by field.
    for name in ("lines.conf", "copied.conf"):
        os.remove(os.path.join(work, name))
    writer_run, proc = run(work, play("localhost", work, IN_MODULE_TASKS, local=True), CHANGEAUDIT_IN_MODULE="false")
    assert proc.returncode == 0, output(proc)
    by_writer = records(writer_run)
    assert {line.get("path") for line in outcomes(writer_run).values()} == {"writer"}
    for name in ("In module lineinfile", "In module copy"):
        assert comparable(found[name]) == comparable(by_writer[name]), name
        assert by_writer[name]["fields"]["run_id"] == writer_run and found[name]["fields"]["run_id"] == run_id


@needs_ssh_hosts
@pytest.mark.parametrize("pipelining", ["True", "False"])
def test_root_tasks_over_ssh_write_their_record_in_the_module_as_the_writer_would(work, pipelining):
    tasks = IN_MODULE_TASKS + """
- name: Writer become_user
  ansible.builtin.lineinfile:
    path: "%(dir)s/nobody.conf"
    line: "nobody {{ marker }}"
    create: true
    mode: "0644"
  become_user: nobody
"""
    text = play("ssh1", work, tasks, local=False)
    run_id, proc = run(work, text, SSH_INVENTORY, ANSIBLE_PIPELINING=pipelining)
    assert proc.returncode == 0, output(proc)
    found = records(run_id)
    assert sorted(found) == ["In module copy", "In module lineinfile", "Writer become_user"]
    assert {name: line.get("path") for name, line in outcomes(run_id).items()} == {
        "In module lineinfile": "in_module", "In module copy": "in_module", "Writer become_user": "writer"}
    login = pwd.getpwnam("cadeploy").pw_uid
    for name in ("In module lineinfile", "In module copy"):
        # Written by the module's root process in the session sshd opened for the login user.
        assert found[name]["uid"] == 0 and found[name]["auid"] == login, found[name]
    for name in ("lines.conf", "copied.conf", "nobody.conf"):
        os.remove(os.path.join(work, name))
    writer_run, proc = run(work, text, SSH_INVENTORY, ANSIBLE_PIPELINING=pipelining, CHANGEAUDIT_IN_MODULE="false")
    assert proc.returncode == 0, output(proc)
    by_writer = records(writer_run)
    for name in ("In module lineinfile", "In module copy"):
        mine, theirs = comparable(found[name]), comparable(by_writer[name])
        # The session differs from run to run (a new ssh login): all else is the same.
        assert mine[:-1] == theirs[:-1], name


def test_with_auditing_off_the_in_module_task_fails_closed_with_the_cause(work, restore_audit):
    tasks = """
- name: In module first
  ansible.builtin.lineinfile:
    path: "%(dir)s/first.conf"
    line: "first {{ marker }}"
    create: true
    mode: "0644"
- name: Auditing off
  ansible.builtin.command: auditctl -e 0
  changed_when: false
- name: In module unrecorded
  ansible.builtin.lineinfile:
    path: "%(dir)s/second.conf"
    line: "second {{ marker }}"
    create: true
    mode: "0644"
  ignore_errors: true
- name: Never reached
  ansible.builtin.debug:
    msg: the host must have failed
"""
    try:
        run_id, proc = run(work, play("localhost", work, tasks, local=True))
    finally:
        subprocess.run(["auditctl", "-e", str(restore_audit.get("enabled", 1))], check=True, capture_output=True)
    assert proc.returncode != 0, output(proc)
    assert "Never reached" not in proc.stdout and "the host must have failed" not in proc.stdout
    fatal = [line for line in proc.stdout.splitlines() if line.startswith("fatal: [localhost]")]
    assert fatal and "could not be recorded in its audit trail" in fatal[0] and "auditctl -e 1" in fatal[0], output(proc)
    assert os.path.exists(os.path.join(work, "second.conf"))
    lines = outcomes(run_id)
    assert lines["In module first"]["path"] == "in_module" and lines["In module first"]["outcome"] == "recorded"
    failed = lines["In module unrecorded"]
    assert failed["outcome"] == "not_recorded" and failed["path"] == "in_module" and failed["cause"] == "AuditDisabledError"
    assert sorted(records(run_id)) == ["In module first"]
