"""Least-privilege mode for real: the changeaudit.linux.record_helper role applied to this machine with
ansible-playbook, then a login user whose only sudo right is the role's rule writes a record through the helper,
read back with ausearch.

- The role: check mode changes nothing, a second run changes nothing, a stale module is removed, absent removes all.
- The user: ``sudo -n <helper>`` with a request on stdin writes the record as uid 0; the helper with an argument,
  and any other command, are refused by sudo; a bad request is a JSON failure and no record.
- The helper's Python runs isolated: PYTHONPATH cannot put a module before the standard library or the binding.

The user (carecord) is created here unless it exists, and removed afterwards only if it was created here; the role's
paths must not exist before, so that removing them removes nothing of anyone else.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import subprocess
import typing as t
import uuid

import pytest

from livelib import COLLECTIONS, REPO, SYSTEM_PYTHON, ausearch_raw, wait_for_lines

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.helper import sources_fingerprint

PLAYBOOK = os.path.join(REPO, ".venv", "bin", "ansible-playbook")
AUDIT_DIR = os.path.join(REPO, "plugins", "module_utils", "_audit")
USER = "carecord"
HELPER = "/usr/local/sbin/changeaudit-record"
LIB_DIR = "/usr/local/lib/changeaudit-record"
INSTALLED_AUDIT_DIR = os.path.join(LIB_DIR, "ansible_collections", "changeaudit", "linux", "plugins", "module_utils", "_audit")
SUDOERS = "/etc/sudoers.d/changeaudit-record"
ROLE_PATHS = (HELPER, LIB_DIR, SUDOERS)
DROPPED_ENV = ("ANSIBLE_CALLBACKS_ENABLED", "ANSIBLE_PYTHON_INTERPRETER", "ANSIBLE_LOAD_CALLBACK_PLUGINS",
               "ANSIBLE_STDOUT_CALLBACK", "ANSIBLE_CONFIG")
PLAY = """\
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  roles:
    - role: changeaudit.linux.record_helper
      record_helper_users: [%s]
      record_helper_python: %s
      record_helper_state: %s
"""


def apply_role(directory: str, state: str, *args: str) -> int:
    """Runs the role; returns the play's changed count."""
    path = os.path.join(directory, "record-helper-%s.yml" % state)
    with open(path, "w") as handle:
        handle.write(PLAY % (USER, SYSTEM_PYTHON, state))
    env = {name: value for name, value in os.environ.items()
           if name not in DROPPED_ENV and not name.startswith("CHANGEAUDIT_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_RETRY_FILES_ENABLED="0")
    proc = subprocess.run([PLAYBOOK, "-i", "localhost,", path] + list(args), env=env, cwd=directory,
                          capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, "the role failed (%s):\n%s\n%s" % (args, proc.stdout[-6000:], proc.stderr[-3000:])
    assert "[WARNING]" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    recap = re.search(r"^localhost\s+:.*\bchanged=(\d+)", proc.stdout, re.M)
    assert recap, proc.stdout
    return int(recap.group(1))


def as_user(*command: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    """Runs a command as the test user, without a terminal, from a directory it may read."""
    return subprocess.run(["runuser", "-u", USER, "--"] + list(command), input=stdin, capture_output=True,
                          cwd="/", check=False, timeout=60)


def request(marker: str, **extra: t.Any) -> bytes:
    return json.dumps(dict({"op": "record-helper-live", "fields": {"marker": marker}, "check_mode": False}, **extra)).encode()


def one_result(proc: subprocess.CompletedProcess) -> t.Dict[str, t.Any]:
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 1, (proc.stdout, proc.stderr)
    assert b"Traceback" not in proc.stderr, proc.stderr
    return json.loads(lines[0])


def role_paths_present() -> t.List[str]:
    return [path for path in ROLE_PATHS if os.path.lexists(path)]


@pytest.fixture(scope="module")
def role(tmp_path_factory) -> t.Iterator[t.Dict[str, int]]:
    """The role applied for USER: check mode first, then for real, again, and check mode again."""
    existing = role_paths_present()
    if existing:
        pytest.skip("%s exist(s) already, not made by this test: it would remove them" % ", ".join(existing))
    created_user = False
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", USER],
                       check=True, capture_output=True)
        created_user = True
    directory = str(tmp_path_factory.mktemp("record-helper"))
    os.chmod(directory, 0o755)
    try:
        listed = subprocess.run(["sudo", "-l", "-U", USER], capture_output=True, text=True, check=False).stdout
        assert "may run the following" not in listed, "%s has sudo rights of its own; the test needs a user without:\n%s" % (
            USER, listed)
        runs = {"check": apply_role(directory, "present", "--check", "--diff")}
        runs["check_left"] = role_paths_present()
        runs["first"] = apply_role(directory, "present", "--diff")
        runs["second"] = apply_role(directory, "present")
        runs["check_again"] = apply_role(directory, "present", "--check")
        runs["directory"] = directory
        yield runs
    finally:
        try:
            if role_paths_present():
                apply_role(directory, "absent")
        finally:
            if created_user:
                subprocess.run(["userdel", USER], check=False, capture_output=True)


def test_check_mode_changes_nothing_and_a_second_run_changes_nothing(role):
    assert role["check"] > 0
    assert role["check_left"] == []
    assert role["first"] > 0
    assert (role["second"], role["check_again"]) == (0, 0)


def test_the_files_are_root_owned_and_the_rule_allows_only_the_helper(role):
    for path, mode in [(HELPER, 0o755), (SUDOERS, 0o440), (LIB_DIR, 0o755), (INSTALLED_AUDIT_DIR, 0o755),
                       (os.path.join(INSTALLED_AUDIT_DIR, "helper.py"), 0o644)]:
        info = os.stat(path)
        assert (info.st_uid, info.st_gid, info.st_mode & 0o7777) == (0, 0, mode), path
    with open(HELPER) as handle:
        assert handle.readline() == "#!%s -IS\n" % SYSTEM_PYTHON
    with open(SUDOERS) as handle:
        rules = [line for line in handle.read().splitlines() if line and not line.startswith("#")]
    assert rules == ["Defaults!%s !requiretty" % HELPER, '%s ALL=(root) NOPASSWD: %s ""' % (USER, HELPER)]
    listed = subprocess.run(["sudo", "-l", "-U", USER], capture_output=True, text=True, check=True).stdout
    commands = listed.split("may run the following commands", 1)[1].splitlines()[1:]
    assert [line.strip() for line in commands if line.strip()] == ['(root) NOPASSWD: %s ""' % HELPER], listed


def test_the_user_writes_a_record_through_sudo(role):
    marker = "rh-" + uuid.uuid4().hex
    proc = as_user("sudo", "-n", HELPER, stdin=request(marker))
    result = one_result(proc)
    assert proc.returncode == 0, result
    assert (result["recorded"], result.get("failed")) == (True, None), result
    assert result["helper"] == {"fingerprint": sources_fingerprint(AUDIT_DIR), "path": HELPER}
    [line] = wait_for_lines(marker)
    assert 'op=record-helper-live marker="%s"' % marker in line
    assert re.search(r"\buid=0\b", line) and 'comm="ansible"' in line and "res=success" in line, line
    assert 'exe="%s"' % os.path.realpath(SYSTEM_PYTHON) in line, line


@pytest.mark.parametrize("command", [[HELPER, "extra"], [HELPER, ""], ["/bin/sh", "-c", "id"], ["/usr/bin/id"]],
                         ids=["helper-with-argument", "helper-with-empty-argument", "shell", "other-command"])
def test_sudo_allows_nothing_else(role, command):
    marker = "rh-" + uuid.uuid4().hex
    proc = as_user("sudo", "-n", *command, stdin=request(marker))
    assert proc.returncode == 1, proc
    assert proc.stdout == b"" and b"sudo:" in proc.stderr, proc
    # The next record of the helper shows the log has caught up: the refused one would be in it by then.
    check = "rh-" + uuid.uuid4().hex
    assert as_user("sudo", "-n", HELPER, stdin=request(check)).returncode == 0
    assert wait_for_lines(check) and ausearch_raw(marker) == []


@pytest.mark.parametrize("body, cause", [
    (lambda marker: request(marker, become=True), "AuditInvalidInputError"),
    (lambda marker: request(marker, verify="yes"), "AuditInvalidInputError"),
    (lambda marker: b"op=record-helper-live marker=" + marker.encode(), "AuditInvalidInputError"),
    (lambda marker: request(marker, hash_fields=["nope"]), "AuditError"),
], ids=["unknown-key", "wrong-type", "not-json", "refused-by-the-binding"])
def test_a_bad_request_is_a_json_failure_and_no_record(role, body, cause):
    marker = "rh-" + uuid.uuid4().hex
    proc = as_user("sudo", "-n", HELPER, stdin=body(marker))
    result = one_result(proc)
    assert proc.returncode == 1
    assert (result["failed"], result["recorded"], result["cause"]) == (True, False, cause), result
    assert result["msg"] and result["helper"]["path"] == HELPER
    check = "rh-" + uuid.uuid4().hex
    assert as_user("sudo", "-n", HELPER, stdin=request(check)).returncode == 0
    assert wait_for_lines(check) and ausearch_raw(marker) == []


def test_the_helper_refuses_arguments_itself(role):
    proc = subprocess.run([HELPER, "extra"], input=request("rh-unused", check_mode=True), capture_output=True, check=False)
    result = one_result(proc)
    assert proc.returncode == 1 and "takes no arguments" in result["msg"]


def test_the_callers_environment_cannot_change_what_the_helper_imports(role, tmp_path):
    """Run by root directly (sudo resets the environment anyway): PYTHONPATH and a module in the working directory
    named like a standard one are not imported."""
    os.chmod(tmp_path, 0o755)
    planted = tmp_path / "planted"
    for name in ("json.py", "hashlib.py", "ansible_collections.py"):
        (tmp_path / name).write_text("open(%r, 'w').write(%r)\n" % (str(planted), name))
    env = dict(os.environ, PYTHONPATH=str(tmp_path), PYTHONSTARTUP=str(tmp_path / "json.py"), PYTHONINSPECT="1")
    proc = subprocess.run([HELPER], input=request("rh-unused", check_mode=True), capture_output=True, env=env,
                          cwd=str(tmp_path), check=False, timeout=60)
    result = one_result(proc)
    assert proc.returncode == 0 and result["recorded"] is False and result["record"].startswith("op=record-helper-live ")
    assert not planted.exists()


def test_a_stale_module_is_removed(role):
    stale = os.path.join(INSTALLED_AUDIT_DIR, "stale_module.py")
    with open(stale, "w") as handle:
        handle.write("")
    assert apply_role(role["directory"], "present", "--check") == 1
    assert os.path.exists(stale)
    assert apply_role(role["directory"], "present") == 1
    assert not os.path.exists(stale)
    result = one_result(as_user("sudo", "-n", HELPER, stdin=request("rh-unused", check_mode=True)))
    assert result["helper"]["fingerprint"] == sources_fingerprint(AUDIT_DIR)


def test_absent_removes_everything(role):
    """Last: the module fixture applies absent again, which then changes nothing."""
    assert apply_role(role["directory"], "absent", "--check") > 0
    assert role_paths_present() == list(ROLE_PATHS)
    assert apply_role(role["directory"], "absent") == 3
    assert role_paths_present() == []
    assert apply_role(role["directory"], "absent") == 0
    proc = as_user("sudo", "-n", HELPER, stdin=request("rh-unused", check_mode=True))
    assert proc.returncode == 1 and proc.stdout == b""
