"""The one writer for real: playbooks on this machine (connection local, and over SSH to the ssh test hosts
when scripts/ssh-hosts.sh has built them). Records are read back from audit.log with ausearch.

- The bundle writer and the usys_config module write byte-identical records for the same input.
- become (sudo, su), pipelining on and off, interpreter discovery.
- Nothing of the record in any process's arguments: while the playbooks run, an execve audit rule logs
  every command line (EXECVE, PROCTITLE) and sudo logs its own USER_CMD; none may hold the marker.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
import typing as t
import urllib.parse
import uuid

import pytest

from livelib import COLLECTIONS, REPO, ausearch_command, library_env, log_reader, msg_text, wait_for_lines

PLAYBOOK = os.path.join(REPO, ".venv", "bin", "ansible-playbook")
SSH_INVENTORY = os.path.join(REPO, ".build", "ssh", "inventory.yml")
# Values that must come through stdin or the file unchanged, whatever a shell or Python literal makes of them.
HOSTILE = {"quote": "it's \"here\"", "shell": "$(id) `id` ; | &", "python": "''' \"\"\" \\x00 \\n", "eq": "a=b c"}

# A test-only action that runs the usys_config module the way the writer did before: _execute_module.
MODULE_WRITER = '''
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        result.update(self._execute_module(
            module_name="changeaudit.linux.usys_config", module_args=dict(self._task.args), task_vars=task_vars))
        return result
'''


def run_playbook(tmp_path, play: str, inventory: str = "localhost,", env: t.Optional[t.Dict[str, str]] = None,
                 verbosity: int = 0) -> subprocess.CompletedProcess:
    """The marker is in the playbook file, never in ansible-playbook's own arguments."""
    path = tmp_path / ("play-%s.yml" % uuid.uuid4().hex[:8])
    path.write_text(textwrap.dedent(play))
    actions = tmp_path / "action_plugins"
    actions.mkdir(exist_ok=True)
    (actions / "module_writer.py").write_text(MODULE_WRITER)
    run_env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_ACTION_PLUGINS=str(actions),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
    )
    run_env.pop("ANSIBLE_PYTHON_INTERPRETER", None)
    # The writer on localhost loads libaudit.so.1 of the audit userspace under test.
    run_env.update(library_env())
    run_env.update(env or {})
    args = [PLAYBOOK, "-i", inventory, str(path)] + (["-" + "v" * verbosity] if verbosity else [])
    proc = subprocess.run(args, env=run_env, capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, "playbook failed:\n%s\n%s" % (proc.stdout[-4000:], proc.stderr[-4000:])
    return proc


def results(tmp_path) -> t.Dict[str, t.Any]:
    with open(tmp_path / "results.json") as handle:
        return json.load(handle)


SAVE = """
        - name: Save the results
          ansible.builtin.copy:
            content: "{{ %s | to_json }}"
            dest: "%s/results.json"
            mode: "0600"
          check_mode: false
          become: false
"""


def save(tmp_path, names: t.Sequence[str]) -> str:
    return SAVE % ("{%s}" % ", ".join("'%s': %s" % (name, name) for name in names), tmp_path)


@pytest.fixture
def argv_watch():
    """Logs every execve while the test runs (EXECVE + PROCTITLE records), and removes the rule afterwards."""
    key = "ca-argv-" + uuid.uuid4().hex[:8]
    rule = ["-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-k", key]
    start = time.strftime("%H:%M:%S")
    day = time.strftime("%x")
    subprocess.run(["auditctl"] + rule, check=True, capture_output=True)
    try:
        yield lambda: exec_records(key, day, start)
    finally:
        subprocess.run(["auditctl", "-d"] + rule[1:], check=False, capture_output=True)


def exec_records(key: str, day: str, start: str) -> t.Tuple[t.List[str], t.List[str]]:
    """(command-line records of our rule, sudo's USER_CMD records) since the watch began."""
    # The control: an argument we did pass must show up, or finding no marker would prove nothing.
    control = "ctl-" + uuid.uuid4().hex
    subprocess.run(["/bin/true", control], check=True)
    for _attempt in range(50):
        commands = subprocess.run(
            ["ausearch", "--input-logs", "-k", key, "--raw"], capture_output=True, text=True, errors="replace", check=False
        ).stdout.splitlines()
        if any(control in line for line in commands):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the execve rule did not log the control command")
    sudo = subprocess.run(
        ["ausearch", "--input-logs", "-m", "USER_CMD", "--start", day, start, "--raw"],
        capture_output=True, text=True, errors="replace", check=False,
    ).stdout.splitlines()
    return commands, sudo


def assert_nowhere_in_argv(marker: str, records: t.Tuple[t.List[str], t.List[str]], want_sudo: bool) -> None:
    commands, sudo = records
    assert any("type=EXECVE" in line for line in commands), "the execve rule logged nothing"
    if want_sudo:
        assert sudo, "sudo logged no USER_CMD record"
    # Audit writes an argument with a space or quote as hex, PROCTITLE always.
    needles = (marker, marker.encode().hex().upper())
    leaked = [line for line in commands + sudo for needle in needles if needle in line]
    assert not leaked, leaked


def test_bundle_and_module_write_byte_identical_records(tmp_path, marker):
    fields = dict(HOSTILE, run=marker)
    # The origin given: the writer adds the controller's where none is, a module called directly does not.
    args = json.dumps({"op": "it-writer", "fields": fields, "context": False, "hostname": "it-controller", "addr": "192.0.2.7"})
    play = """
    - hosts: localhost
      connection: local
      gather_facts: false
      vars:
        ansible_python_interpreter: /usr/bin/python3
      tasks:
        - {name: Check with the bundle, changeaudit.linux.usys_config: %(a)s, check_mode: true, register: bundle_check}
        - {name: Check with the module, module_writer: %(a)s, check_mode: true, register: module_check}
        - {name: Write with the bundle, changeaudit.linux.usys_config: %(a)s, register: bundle}
        - {name: Write with the module, module_writer: %(a)s, register: module}
    """ % {"a": args} + save(tmp_path, ["bundle_check", "module_check", "bundle", "module"])
    for pipelining in ("true", "false"):
        run_playbook(tmp_path, play, env={"ANSIBLE_PIPELINING": pipelining})
        got = results(tmp_path)
        bundle, module = got["bundle"], got["module"]
        assert bundle["recorded"] is module["recorded"] is True
        assert bundle["record"] == module["record"]
        assert sorted(bundle) == sorted(module)
        assert got["bundle_check"]["recorded"] is got["module_check"]["recorded"] is False
        assert got["bundle_check"]["record"] == got["module_check"]["record"] == bundle["record"]
    lines = wait_for_lines(marker, count=4)
    assert len(lines) == 4, "two writes per run, none in check mode: %r" % lines
    assert {msg_text(line) for line in lines} == {bundle["record"]}


def ausearch_event(serial: str, *view: str) -> t.List[str]:
    proc = subprocess.run(
        ausearch_command("-m", "USYS_CONFIG", "-a", serial, *view), capture_output=True, text=True, errors="replace",
        check=False,
    )
    return proc.stdout.splitlines()


def test_each_audit_tool_shows_the_task_the_object_and_the_user_readably(tmp_path, marker):
    """What an auditor reads: ausearch -i decodes the task name (cmd=), --format text and csv show the module and
    the object in their action (op=), one CSV column even for a path with a comma, a space and a quote."""
    target = tmp_path / ("my app, v2 'x'") / "app.conf"
    task = "Set the listen address %s" % marker
    play = """
    - hosts: localhost
      connection: local
      gather_facts: false
      vars:
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
      tasks:
        - name: %(task)s
          changeaudit.linux.audited:
            module: ansible.builtin.lineinfile
            args: {path: %(path)s, line: "listen 8080", create: true}
            fields: {run: %(marker)s}
    """ % {"task": json.dumps(task), "path": json.dumps(str(target)), "marker": marker}
    os.makedirs(str(target.parent))
    run_playbook(tmp_path, play)
    [raw] = wait_for_lines(marker)
    serial = raw.split("msg=audit(", 1)[1].split(":", 1)[1].split(")", 1)[0]
    op = "ansible-change:ansible.builtin.lineinfile:" + urllib.parse.quote(str(target), safe="/@+:~")

    [interpreted] = [line for line in ausearch_event(serial, "-i") if "type=USYS_CONFIG" in line]
    assert " cmd=%s " % task in interpreted
    assert " msg='op=%s " % op in interpreted

    [text] = [line for line in ausearch_event(serial, "--format", "text") if line.strip()]
    assert " successfully %s " % op in text + " "

    header, row = [line for line in ausearch_event(serial, "--format", "csv") if line.strip()]
    columns = dict(zip(header.split(","), row.split(",")))
    assert len(row.split(",")) == len(header.split(","))
    assert columns["ACTION"] == op and columns["RESULT"] == "success"
    assert urllib.parse.unquote(columns["ACTION"].split(":", 2)[2]) == str(target)

    # aureport -c: "N. date time USYS_CONFIG auid success serial", one row for the change, counted as a success.
    report = subprocess.run(log_reader("aureport", "-c"), capture_output=True, text=True, errors="replace", check=False)
    rows = [line.split() for line in report.stdout.splitlines() if line.split()[-1:] == [serial]]
    assert [(row[3], row[5]) for row in rows] == [("USYS_CONFIG", "yes")], report.stdout[-2000:]


@pytest.mark.parametrize("pipelining", ["true", "false"])
def test_local_become_sudo_and_su(tmp_path, marker, pipelining, argv_watch):
    play = """
    - hosts: localhost
      connection: local
      gather_facts: false
      vars:
        ansible_python_interpreter: /usr/bin/python3
      tasks:
        - name: As root
          changeaudit.linux.usys_config: {op: it-writer-root, fields: {run: "%(m)s"}}
          register: plain
        - name: Through sudo
          changeaudit.linux.usys_config: {op: it-writer-sudo, fields: {run: "%(m)s"}}
          become: true
          become_method: ansible.builtin.sudo
          register: sudo
        - name: Through su
          changeaudit.linux.usys_config: {op: it-writer-su, fields: {run: "%(m)s"}}
          become: true
          become_method: ansible.builtin.su
          register: su
    """ % {"m": marker} + save(tmp_path, ["plain", "sudo", "su"])
    run_playbook(tmp_path, play, env={"ANSIBLE_PIPELINING": pipelining})
    got = results(tmp_path)
    for name in ("plain", "sudo", "su"):
        assert got[name]["recorded"] is True, got[name]
    lines = wait_for_lines(marker, count=3)
    assert sorted(msg_text(line).split()[0] for line in lines) == ["op=it-writer-root", "op=it-writer-su", "op=it-writer-sudo"]
    # sudo from root to root logs no USER_CMD; the ssh test below has the ones of real users.
    assert_nowhere_in_argv(marker, argv_watch(), want_sudo=False)


def test_interpreter_discovery(tmp_path, marker):
    play = """
    - hosts: localhost
      connection: local
      gather_facts: false
      tasks:
        - {changeaudit.linux.usys_config: {op: it-writer-discovery, fields: {run: "%(m)s", n: "1"}}, register: first}
        - {changeaudit.linux.usys_config: {op: it-writer-discovery, fields: {run: "%(m)s", n: "2"}}, register: second}
    """ % {"m": marker} + save(tmp_path, ["first", "second"])
    # Only the system's interpreters on PATH: the ones discovery finds on a plain host.
    proc = run_playbook(tmp_path, play, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, verbosity=3)
    got = results(tmp_path)
    discovered = got["first"]["ansible_facts"]["discovered_interpreter_python"]
    assert discovered.startswith("/usr/bin/python3")
    assert "ansible_facts" not in got["second"], "the second task reuses the discovered interpreter"
    assert proc.stdout.count("echo FOUND;") == 1
    lines = wait_for_lines(marker, count=2)
    assert len(lines) == 2
    assert 'exe="%s"' % os.path.realpath(discovered) in msg_text(lines[0])


# --- over SSH -----------------------------------------------------------------------------------------------------

# scripts/test.sh sets CHANGEAUDIT_REQUIRE_SSH_HOSTS: there a missing inventory fails these tests instead.
needs_ssh_hosts = pytest.mark.skipif(
    not os.path.isfile(SSH_INVENTORY) and not os.environ.get("CHANGEAUDIT_REQUIRE_SSH_HOSTS"),
    reason="no ssh test hosts: run scripts/ssh-hosts.sh up",
)


@needs_ssh_hosts
@pytest.mark.parametrize("pipelining", ["true", "false"])
def test_ssh_become_methods(tmp_path, marker, pipelining, argv_watch):
    # ssh1 sudo without a password, ssh2 sudo with one, ssh3 requiretty (never pipelined: sudo needs the tty that
    # pipelining gives up, for modules as well), ssh6 su.
    hosts = ["ssh1", "ssh2", "ssh3", "ssh6"]
    play = """
    - hosts: %(hosts)s
      gather_facts: false
      become: true
      tasks:
        - changeaudit.linux.usys_config: {op: it-writer-ssh, fields: {run: "%(m)s", host: "{{ inventory_hostname }}"}}
          register: written
        - name: Save the results
          ansible.builtin.copy:
            content: "{{ written | to_json }}"
            dest: "%(tmp)s/{{ inventory_hostname }}.json"
            mode: "0600"
          delegate_to: localhost
          become: false
          vars:
            ansible_connection: local
            ansible_python_interpreter: "{{ ansible_playbook_python }}"
    """ % {"hosts": ",".join(hosts), "m": marker, "tmp": tmp_path}
    proc = run_playbook(tmp_path, play, inventory=SSH_INVENTORY, env={"ANSIBLE_PIPELINING": pipelining}, verbosity=3)
    assert marker not in "\n".join(line for line in proc.stdout.splitlines() if "EXEC" in line)
    for host in hosts:
        with open(tmp_path / ("%s.json" % host)) as handle:
            written = json.load(handle)
        assert written["recorded"] is True, (host, written)
    lines = wait_for_lines(marker, count=len(hosts))
    assert sorted('host="%s"' % h for h in hosts) == sorted(
        field for line in lines for field in msg_text(line).split() if field.startswith("host=")
    )
    assert_nowhere_in_argv(marker, argv_watch(), want_sudo=True)
