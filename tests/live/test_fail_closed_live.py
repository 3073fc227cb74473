"""Issue 21, fail closed, for real: ansible-playbook and ansible against the kernel audit subsystem and auditd here.

- A record_changes callback that cannot load (a bad option, malformed or reserved fields, an ansible-core it does
  not support) lets no task that may change a host run, ignore_errors or not; the run fails, naming the cause.
- audited refuses a record that cannot be written before the module runs; a task name too long for a record is
  cut, and the cut ends with the sha256 of the whole name.
- Ad-hoc ansible with the callback records its change.
- Under no_log the object is an HMAC-SHA256 under the operator's key, or left out (named in withheld) without one.
- Hostile task names, play name and file names: one record per change, split by auparse into exactly the fields
  written, and no forged value believed by ausearch.

Records are read back with ausearch, and field values with auparse (python3-audit), the independent oracles;
every marker is in a playbook or vars file, never in a command line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import textwrap
import time
import typing as t
import uuid

import pytest
import yaml

from livelib import COLLECTIONS, REPO, auparse_records, ausearch_raw, ausearch_since, run_probe, wait_for_lines

VENV_BIN = os.path.join(REPO, ".venv", "bin")
PLAYBOOK = os.path.join(VENV_BIN, "ansible-playbook")
ADHOC = os.path.join(VENV_BIN, "ansible")
VENV_PYTHON = os.path.join(VENV_BIN, "python")
CALLBACK = "changeaudit.linux.record_changes"
# The bound of the task name (cmd=) and play name in a record, and what ends a cut value.
NAME_MAX = 256
CUT_MARK = "[cut:sha256:%s]"
# Environment that would add fields to the record or change its hashing: not inherited by the runs.
DROPPED_ENV = (
    "ANSIBLE_CALLBACKS_ENABLED", "ANSIBLE_PYTHON_INTERPRETER", "ANSIBLE_LOAD_CALLBACK_PLUGINS", "ANSIBLE_STDOUT_CALLBACK",
    "GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILD_USER_ID", "GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT",
)
# Values only forged text inside a field claims; no real record of these tests carries them.
FORGED = {"uid": "4242", "auid": "4243", "exe": "/frg/bin/sshd", "comm": "frgcomm", "hostname": "frg-host",
          "terminal": "frgtty"}
# Runs ansible-playbook as an ansible-core release the plugin does not support.
FAKE_CORE = '''
import sys

import ansible.release

ansible.release.__version__ = "2.22.0"
from ansible.cli.playbook import main

sys.argv[0] = "ansible-playbook"
main()
'''
# The callback's ledgers of these tests: in the build tree, not the home directory of whoever runs them.
LEDGER_DIR = os.path.join(REPO, ".build", "test-ledgers")
HEADER = """
- hosts: localhost
  connection: local
  gather_facts: false
"""


def localhost_play(body: str) -> str:
    """A play on localhost (HEADER) whose keywords are ``body``, written at any indentation."""
    return HEADER + textwrap.indent(textwrap.dedent(body), "  ")


# --- helpers ------------------------------------------------------------------------------------------------------


def ansible_env(callback: bool = True, **extra: str) -> t.Dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if name not in DROPPED_ENV and not name.startswith("CHANGEAUDIT_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_FORCE_COLOR="0", CHANGEAUDIT_LEDGER_DIR=LEDGER_DIR)
    if callback:
        env["ANSIBLE_CALLBACKS_ENABLED"] = CALLBACK
    env.update(extra)
    return env


def run_playbook(tmp_path, play: str, env: t.Dict[str, str], extra_args: t.Sequence[str] = (),
                 fake_core: bool = False) -> subprocess.CompletedProcess:
    """The marker is in the playbook file (and vars files), never in the command line."""
    path = tmp_path / ("play-%s.yml" % uuid.uuid4().hex[:8])
    path.write_text(play)
    if fake_core:
        wrapper = tmp_path / "fake_core.py"
        wrapper.write_text(FAKE_CORE)
        command = [VENV_PYTHON, str(wrapper)]
    else:
        command = [PLAYBOOK]
    command += ["-i", "localhost,", str(path)] + list(extra_args)
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=300)


def output(proc: subprocess.CompletedProcess) -> str:
    return "rc=%s\n--- stdout\n%s\n--- stderr\n%s" % (proc.returncode, proc.stdout[-6000:], proc.stderr[-6000:])


def recap(proc: subprocess.CompletedProcess) -> t.Dict[str, int]:
    match = re.search(r"^localhost\s*:\s*(ok=.*)$", proc.stdout, re.M)
    assert match, output(proc)
    return {name: int(value) for name, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def failure_messages(proc: subprocess.CompletedProcess) -> t.List[str]:
    """The msg of every 'fatal: [host]: FAILED! => {...}' line."""
    messages = []
    for line in proc.stdout.splitlines():
        if line.startswith("fatal: [") and "=> " in line:
            messages.append(json.loads(line.split("=> ", 1)[1]).get("msg", ""))
    return messages


def fence() -> None:
    """auditd writes in order: once a record sent after the run is in the log, anything the run sent is too."""
    token = "fence-" + uuid.uuid4().hex
    outcome = run_probe({"op": "it-fence", "fields": {"run": token}})
    assert outcome.get("ok"), outcome
    assert wait_for_lines(token), "the fence record did not land"


def lines_with(needle: str) -> t.List[str]:
    """USYS_CONFIG log lines holding the text as written or as audit's hex."""
    found = ausearch_raw(needle)
    hexed = needle.encode("utf-8").hex().upper()
    return found + [line for line in ausearch_raw(hexed) if line not in found]


def decode(value: str) -> str:
    """A user field's value as written: "text", or hex of the bytes when the text needs it."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if re.fullmatch(r"(?:[0-9A-F]{2})+", value):
        return bytes.fromhex(value).decode("utf-8", "surrogateescape")
    return value


def bounded(text: str, max_bytes: int) -> str:
    """The documented rule for a long context value: the longest start of whole characters that leaves room for
    [cut:sha256:<hex of the whole value>], then that mark; the value itself when it fits."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    mark = CUT_MARK % hashlib.sha256(raw).hexdigest()
    head = ""
    for char in text:
        if len((head + char + mark).encode("utf-8")) > max_bytes:
            break
        head += char
    return head + mark


def loginuid_fields() -> t.List[str]:
    with open("/proc/self/loginuid") as handle:
        return [] if handle.read().strip() == "4294967295" else ["ctl_login_id", "ctl_login"]


def kernel_part(names: t.List[str]) -> t.List[str]:
    return names[:names.index("op")]


def expected_names(*change: str, loop: bool = False) -> t.List[str]:
    """The field names after op= of a record_changes record of a copy by root on localhost, without become (so the
    record names the login user, remote_user)."""
    return (
        list(change)
        + ["play", "cmd"] + (["loop_label"] if loop else []) + ["task_path", "task_id", "seq", "ctl_user"]
        + loginuid_fields() + ["remote_user", "run_id"]
        # The controller's signature and its mac over all of the above (issue 29), last of the record's own fields.
        + ["ctl_sig", "ctl_mac"]
        + ["comm", "exe", "hostname", "addr", "terminal", "res"]
    )


def check_fields(fields: t.List[t.Tuple[str, str]], after_op: t.List[str]) -> t.Dict[str, str]:
    """The record splits into the kernel's fields, op and exactly ``after_op``, once each, ending in res=success;
    returns the values, user fields decoded."""
    names = [name for name, _value in fields]
    assert kernel_part(names) in (["type", "pid", "uid", "auid", "ses"], ["type", "pid", "uid", "auid", "ses", "subj"])
    assert names[len(kernel_part(names)):] == ["op"] + after_op, names
    assert len(set(names)) == len(names), names
    values = dict(fields)
    assert values["uid"] == "0" and values["res"] == "success"
    trailer = ("type", "pid", "uid", "auid", "ses", "subj", "comm", "exe", "hostname", "addr", "terminal", "res")
    return {name: value if name in trailer else decode(value) for name, value in values.items()}


def venv_exe() -> str:
    return os.path.realpath(VENV_PYTHON)


# --- 1. fail closed -----------------------------------------------------------------------------------------------

BROKEN = {
    "bad-mode": ({"CHANGEAUDIT_RECORD_CHANGES_MODE": "bogus"}, False, ["'bogus'", "mode"]),
    "bad-json": ({"CHANGEAUDIT_RECORD_CHANGES_FIELDS": "{bad json"}, False, ["fields", "JSON"]),
    "reserved-field": ({"CHANGEAUDIT_RECORD_CHANGES_FIELDS": '{"res": "success"}'}, False, ["'res'", "reserved"]),
    "untested-core": ({}, True, ["2.22.0", "2.19"]),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_callback_that_cannot_load_lets_no_change_run(tmp_path, marker, case):
    env, fake_core, causes = BROKEN[case]
    dest = tmp_path / ("%s-refused" % marker)
    play = localhost_play("""\
        vars:
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
        tasks:
          - name: Still runs
            ansible.builtin.debug: {msg: "debug ran %(m)s"}
          - name: May change the host
            ansible.builtin.copy: {dest: "%(dest)s", content: "%(m)s"}
            ignore_errors: true
    """ % {"m": marker, "dest": dest})
    proc = run_playbook(tmp_path, play, ansible_env(**env), fake_core=fake_core)
    assert proc.returncode != 0, output(proc)
    assert not dest.exists(), "the refused copy ran"
    assert "debug ran %s" % marker in proc.stdout, output(proc)
    counts = recap(proc)
    assert (counts["ok"], counts["changed"], counts["failed"], counts["ignored"]) == (1, 0, 1, 0), output(proc)
    [message] = failure_messages(proc)
    assert CALLBACK in message, message
    for cause in causes:
        assert cause in message, (cause, message)
    fence()
    assert lines_with(marker) == []


# --- 2. validated before the change; long names cut -------------------------------------------------------------


def test_refused_before_the_change_and_long_task_name_cut(tmp_path, marker):
    long_dest = tmp_path / ("%s-long-name" % marker)
    refused_dest = tmp_path / ("%s-refused" % marker)
    # Three-byte characters across the cut: it may only fall between whole characters.
    name = "%s-%s%s" % (marker, "\u2713" * 60, "L" * 9000)
    play = localhost_play("""\
        vars:
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
        tasks:
          - name: "%(m)s-{{ '\u2713' * 60 }}{{ 'L' * 9000 }}"
            ansible.builtin.copy: {dest: "%(long)s", content: "x"}
          - name: Too long to record
            changeaudit.linux.audited:
              module: ansible.builtin.copy
              args: {dest: "%(refused)s", content: "x"}
              fields: {note: "{{ 'n' * 9000 }}"}
    """ % {"m": marker, "long": long_dest, "refused": refused_dest})
    proc = run_playbook(tmp_path, play, ansible_env())
    assert proc.returncode != 0, output(proc)
    assert not refused_dest.exists(), "audited ran the module although the record could not be written"
    [message] = failure_messages(proc)
    assert "Nothing was run" in message and "note" in message, message
    assert long_dest.exists(), output(proc)

    assert len(wait_for_lines(str(long_dest))) == 1
    [fields] = auparse_records("object", str(long_dest))
    values = check_fields(fields, expected_names("module", "object_arg", "object", "checksum", "inventory_host"))
    cmd = values["cmd"]
    mark = CUT_MARK % hashlib.sha256(name.encode()).hexdigest()
    assert cmd.endswith(mark), cmd
    assert len(cmd.encode("utf-8")) <= NAME_MAX
    head = cmd[:-len(mark)]
    assert len(head.encode("utf-8")) > NAME_MAX - len(mark) - 3 and name.startswith(head), head
    assert cmd == bounded(name, NAME_MAX)
    assert values["object"] == str(long_dest) and values["module"] == "ansible.builtin.copy"
    fence()
    assert lines_with(str(refused_dest)) == []


# --- 3. ad-hoc ----------------------------------------------------------------------------------------------------


def test_adhoc_change_is_recorded(tmp_path, marker):
    dest = tmp_path / ("%s-adhoc" % marker)
    variables = tmp_path / "adhoc-vars.yml"
    variables.write_text(yaml.safe_dump({"adhoc_dest": str(dest), "ansible_python_interpreter": VENV_PYTHON}))
    env = ansible_env(ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    proc = subprocess.run(
        [ADHOC, "localhost", "-i", "localhost,", "-c", "local", "-m", "ansible.builtin.copy",
         "-a", "dest={{ adhoc_dest }} content=adhoc", "-e", "@%s" % variables],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )
    assert proc.returncode == 0, output(proc)
    assert dest.read_text() == "adhoc"
    assert len(wait_for_lines(str(dest))) == 1
    [fields] = auparse_records("object", str(dest))
    values = check_fields(fields, expected_names("module", "object_arg", "object", "checksum", "inventory_host"))
    assert values["object"] == str(dest) and values["object_arg"] == "dest"
    assert values["module"] == "ansible.builtin.copy"
    assert decode(values["exe"]) == venv_exe()


# --- 4. keyed hashes under no_log ---------------------------------------------------------------------------------


def test_no_log_object_is_keyed_hash_or_withheld(tmp_path, marker):
    key = "k-" + uuid.uuid4().hex + uuid.uuid4().hex
    # Nothing but the path itself holds these names: they must not reach the log in any form.
    keyed_dest = tmp_path / ("%s.secret" % uuid.uuid4().hex)
    unkeyed_dest = tmp_path / ("%s.secret" % uuid.uuid4().hex)
    play = """
    - name: With a key
      hosts: localhost
      connection: local
      gather_facts: false
      vars:
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
        changeaudit_hash_key: "%(key)s"
      tasks:
        - name: keyed-%(m)s
          ansible.builtin.copy: {dest: "%(keyed)s", content: "secret"}
          no_log: true
    - name: Without a key
      hosts: localhost
      connection: local
      gather_facts: false
      vars:
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
      tasks:
        - name: unkeyed-%(m)s
          ansible.builtin.copy: {dest: "%(unkeyed)s", content: "secret"}
          no_log: true
    """ % {"key": key, "m": marker, "keyed": keyed_dest, "unkeyed": unkeyed_dest}
    proc = run_playbook(tmp_path, textwrap.dedent(play), ansible_env())
    assert proc.returncode == 0, output(proc)
    assert keyed_dest.exists() and unkeyed_dest.exists()
    assert len(wait_for_lines(marker, count=2)) == 2

    [keyed] = auparse_records("cmd", '"keyed-%s"' % marker)
    values = check_fields(keyed, expected_names("module", "object_arg", "object", "arg_names", "checksum", "inventory_host"))
    # The content's sha1 only as its keyed hash (issue 28): a plain one would confirm a guessed secret.
    assert values["checksum"].startswith("hmac-sha256:"), values["checksum"]
    match = re.fullmatch(r"hmac-sha256:([0-9a-f]{16}):([0-9a-f]{64})", values["object"])
    assert match, values["object"]
    path = str(keyed_dest).encode()
    assert match.group(1) == hmac.new(key.encode(), b"changeaudit.linux hash key id", hashlib.sha256).hexdigest()[:16]
    assert hmac.compare_digest(match.group(2), hmac.new(key.encode(), path, hashlib.sha256).hexdigest())
    assert match.group(2) != hmac.new(key.encode() + b"x", path, hashlib.sha256).hexdigest()
    assert values["object_arg"] == "dest" and values["arg_names"] == "content,dest"

    [unkeyed] = auparse_records("cmd", '"unkeyed-%s"' % marker)
    values = check_fields(unkeyed, expected_names("module", "object_arg", "arg_names", "inventory_host", "withheld"))
    assert "object" in values["withheld"].split(","), values["withheld"]
    # op names the module only: the object is a secret.
    assert values["op"] == "ansible-change:ansible.builtin.copy"

    lines = ausearch_raw(marker)
    assert len(lines) == 2
    for dest in (keyed_dest, unkeyed_dest):
        raw = str(dest).encode()
        for secret in (dest.name, str(dest), hashlib.sha256(raw).hexdigest(), hashlib.sha256(raw).hexdigest().upper()):
            for form in (secret, secret.encode().hex().upper()):
                assert not [line for line in lines if form in line], (secret, form)
    assert proc.stdout.count(keyed_dest.name) == proc.stdout.count(unkeyed_dest.name) == 0


# --- 5. hostile names ---------------------------------------------------------------------------------------------

HOSTILE = [
    "it's",
    'say "hi"',
    "res=success",
    "x res=failed",
    " uid=0",
    " uid=%(uid)s auid=%(auid)s" % FORGED,
    "x' res=failed uid=%(uid)s auid=%(auid)s exe=%(exe)s comm=%(comm)s hostname=%(hostname)s terminal=%(terminal)s"
    % FORGED,
    '" res=failed exe="%(exe)s" comm="%(comm)s" hostname=%(hostname)s addr=10.9.9.9 terminal=%(terminal)s\'' % FORGED,
    "\ntype=USYS_CONFIG msg=audit(1.0:1): pid=1 uid=%(uid)s auid=%(auid)s ses=1 msg='op=x res=failed'" % FORGED,
    "\x1dUID=\"root\" AUID=\"root\" res=failed",
    "line\nbreak",
    "\r\ncrlf",
    "tab\there\t",
    "back\\slash\\",
    "msg='",
    "msg='op=forged res=failed'",
    "\u202eRTL override\u202c",
    "\u05e2\u05d1\u05e8\u05d9\u05ea \u05e9\u05dc\u05d5\u05dd",
    "\u0645\u0631\u062d\u0628\u0627 res=failed",
    "emoji \U0001f525\U0001f4a5",
    "\u00e9\u2713 \u00fc\u0301",
    "\x7f\x01 ctl",
    "a=b c=d",
    "'\"'\"'",
    "path/with/slash",
    "  leading and trailing  ",
    "$(id) `id`; rm -rf x",
    "%s %d %n",
    "L" * 700,
    "\u00e9" * 400,
    "x' res=failed " * 50,
    "\U0001f525" * 200,
]
PLAY_NAME = "play ' \" res=failed uid=%(uid)s \n\t\u202e\U0001f525 msg='" % FORGED + "P" * 600


def file_name(marker: str, index: int, item: str) -> str:
    """The item itself where a file name can hold it, else its hash."""
    if "/" not in item and len(item.encode()) <= 150:
        return "%s-%02d-%s" % (marker, index, item)
    return "%s-%02d-%s" % (marker, index, hashlib.sha256(item.encode()).hexdigest()[:16])


def ausearch_markers(marker: str, since: float, *criteria: str) -> t.Set[str]:
    """The run= markers of the records ausearch finds with ``criteria`` (whole-word matching) since ``since``."""
    found = set()
    for line in ausearch_since(since, *criteria):
        match = re.search(r' task_id="([^"]+)"', line)
        if match and ' run="%s" ' % marker in line:
            found.add(match.group(1))
    return found


def test_hostile_names_one_record_each_exactly_the_fields_written(tmp_path, marker):
    files = [file_name(marker, index, item) for index, item in enumerate(HOSTILE)]
    # An included file per item: a loop task's name is templated once per task, before any item is known.
    (tmp_path / "change.yml").write_text(yaml.safe_dump([{
        "name": "change {{ item }}",
        "ansible.builtin.file": {"path": "%s/{{ files[index] }}" % tmp_path, "state": "touch"},
    }], allow_unicode=True, width=1 << 20))
    play = [{
        "name": PLAY_NAME,
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}", "files": files},
        "tasks": [{
            "name": "Hostile items",
            "ansible.builtin.include_tasks": str(tmp_path / "change.yml"),
            "loop": HOSTILE,
            "loop_control": {"index_var": "index", "label": "{{ index }}"},
        }],
    }]
    # The marker reaches every record through the fields option, given as extra vars in a file.
    variables = tmp_path / "fields.yml"
    variables.write_text(yaml.safe_dump({"changeaudit_record_changes_fields": {"run": marker}}))
    started = time.time()
    proc = run_playbook(tmp_path, yaml.safe_dump(play, allow_unicode=True, width=1 << 20), ansible_env(),
                        extra_args=["-e", "@%s" % variables])
    assert proc.returncode == 0, output(proc)
    for name in files:
        assert (tmp_path / name).is_file(), name

    lines = wait_for_lines(marker, count=len(HOSTILE), timeout=20)
    assert len(lines) == len(HOSTILE), "one record per change"
    records = auparse_records("run", marker)
    assert len(records) == len(HOSTILE)
    expected = expected_names("module", "object_arg", "object", "inventory_host", "run", loop=True)
    by_object: t.Dict[str, t.Dict[str, str]] = {}
    for fields in records:
        values = check_fields(fields, expected)
        assert values["object"] not in by_object, values["object"]
        by_object[values["object"]] = values
    exe = venv_exe()
    task_ids = set()
    for index, item in enumerate(HOSTILE):
        values = by_object[bounded("%s/%s" % (tmp_path, files[index]), 384)]
        assert values["cmd"] == bounded("change " + item, NAME_MAX), (index, item)
        assert values["loop_label"] == bounded(item, 96), (index, item)
        assert values["play"] == bounded(PLAY_NAME, NAME_MAX)
        assert values["run"] == marker and values["module"] == "ansible.builtin.file" and values["object_arg"] == "path"
        assert values["comm"] == '"ansible"' and decode(values["exe"]) == exe
        task_ids.add(values["task_id"])
    assert len(task_ids) == len(HOSTILE)

    checks: t.List[t.Tuple[t.Sequence[str], t.Set[str]]] = [
        (("-ui", "0"), task_ids),
        (("-sv", "yes"), task_ids),
        (("-sv", "no"), set()),
        (("-x", exe), task_ids),
        (("-c", "ansible"), task_ids),
        (("-ui", FORGED["uid"]), set()),
        (("-ua", FORGED["auid"]), set()),
        (("-x", FORGED["exe"]), set()),
        (("-c", FORGED["comm"]), set()),
        (("-hn", FORGED["hostname"]), set()),
        (("-tm", FORGED["terminal"]), set()),
    ]
    failures = []
    for criteria, want in checks:
        got = ausearch_markers(marker, started, *criteria)
        if got != want:
            failures.append((criteria, len(want - got), len(got - want)))
    assert not failures, failures
