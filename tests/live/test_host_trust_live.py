"""What a managed host cannot do to the recorder (issue 28), shown with real runs of ansible-playbook and the
record_changes callback, the records read back from audit.log with ausearch and auparse:

- under delegate_to, the record on the delegated host never gets the inventory host's become password (two sshd
  test hosts, ssh1 and ssh2, whose login users have different sudo set-ups);
- facts a host returns (a module's ansible_facts) cannot set the hash key, the run_id, who launched the run or the
  host policy: the next change is recorded under the controller's run_id and key, and a warning names the facts.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import subprocess
import textwrap
import typing as t
import uuid

import pytest
import yaml

from livelib import REPO, auparse_records, ausearch_raw, wait_for_lines
from test_fail_closed_live import PLAYBOOK, ansible_env, decode, output

SSH_INVENTORY = os.path.join(REPO, ".build", "ssh", "inventory.yml")
KEY_ID_TEXT = b"changeaudit.linux hash key id"

needs_ssh_hosts = pytest.mark.skipif(
    not os.path.isfile(SSH_INVENTORY) and not os.environ.get("CHANGEAUDIT_REQUIRE_SSH_HOSTS"),
    reason="the sshd test hosts are not up (scripts/ssh-hosts.sh up writes .build/ssh/inventory.yml)",
)


def playbook(tmp_path, play: str, inventory: str, env: t.Dict[str, str]) -> subprocess.CompletedProcess:
    path = tmp_path / ("play-%s.yml" % uuid.uuid4().hex[:8])
    path.write_text(textwrap.dedent(play))
    return subprocess.run([PLAYBOOK, "-i", inventory, str(path)], env=env, capture_output=True, text=True, check=False,
                          timeout=300)


def fields_of(task_name: str) -> t.Dict[str, str]:
    [record] = auparse_records("cmd", '"%s"' % task_name)
    return {name: decode(value) for name, value in record}


def key_id(key: str) -> str:
    return hmac.new(key.encode(), KEY_ID_TEXT, hashlib.sha256).hexdigest()[:16]


def flat(proc: subprocess.CompletedProcess) -> str:
    """stdout and stderr with core's line wrapping undone."""
    return " ".join((proc.stdout + "\n" + proc.stderr).split())


# --- delegate_to: the delegated host's variables alone ------------------------------------------------------------


def ssh_inventory(tmp_path, change: t.Callable[[t.Dict[str, t.Any]], None]) -> str:
    """The sshd test hosts' inventory with ``change`` applied to its hosts, written 0600 (it holds a password)."""
    with open(SSH_INVENTORY) as handle:
        inventory = yaml.safe_load(handle)
    change(inventory["all"]["children"]["ssh_hosts"]["hosts"])
    path = tmp_path / "inventory.yml"
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(inventory, handle)
    return str(path)


DELEGATED_PLAY = """
- hosts: ssh1
  gather_facts: false
  tasks:
    - name: delegated-%(m)s
      ansible.builtin.file: {path: "%(path)s", state: touch, mode: "0644"}
      delegate_to: ssh2
      become: false
"""


@needs_ssh_hosts
def test_a_delegated_record_never_gets_the_inventory_hosts_become_password(tmp_path, marker):
    """ssh2's login (capasswd) needs its password for sudo. Here ssh1's entry holds that password and ssh2's holds
    none: with the inventory host's variables under the delegated host's (the bug), the record on ssh2 was escalated
    with ssh1's password and written. Now ssh2 has no password, so its record cannot get root, and the change is
    refused before it runs (fail closed), naming the password to set."""
    path = "/tmp/changeaudit-%s" % marker
    with open(SSH_INVENTORY) as handle:
        password = yaml.safe_load(handle)["all"]["children"]["ssh_hosts"]["hosts"]["ssh2"]["ansible_become_password"]

    def inventory_host_holds_it(hosts: t.Dict[str, t.Any]) -> None:
        hosts["ssh1"]["ansible_become_password"] = password
        hosts["ssh1"]["changeaudit_become_password"] = password
        del hosts["ssh2"]["ansible_become_password"]

    try:
        proc = playbook(tmp_path, DELEGATED_PLAY % {"m": marker, "path": path},
                        ssh_inventory(tmp_path, inventory_host_holds_it), ansible_env())
        assert proc.returncode != 0, output(proc)
        assert "ssh2 cannot keep audit records, so this task was not run" in flat(proc), output(proc)
        assert "ansible_become_password" in flat(proc), output(proc)
        assert not os.path.exists(path), "the change ran"
        assert password not in proc.stdout + proc.stderr
        assert ausearch_raw(marker) == []

        # ssh2's own password, and a wrong one for ssh1: the record on ssh2 is written with ssh2's.
        def each_its_own(hosts: t.Dict[str, t.Any]) -> None:
            hosts["ssh1"]["ansible_become_password"] = "not-" + uuid.uuid4().hex

        proc = playbook(tmp_path, DELEGATED_PLAY % {"m": marker, "path": path}, ssh_inventory(tmp_path, each_its_own),
                        ansible_env())
        assert proc.returncode == 0, output(proc)
        assert os.path.exists(path)
        assert len(wait_for_lines(marker)) == 1
        values = fields_of("delegated-%s" % marker)
        assert values["inventory_host"] == "ssh1" and values["delegated_to"] == "ssh2", values
        assert values["uid"] == "0" and values["remote_user"] == "capasswd", values
    finally:
        if os.path.exists(path):
            os.remove(path)


# --- host facts never steer the recorder --------------------------------------------------------------------------

HOSTILE_MODULE = '''#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={"facts": {"type": "dict", "required": True}})
    module.exit_json(changed=False, ansible_facts=module.params["facts"])


main()
'''

HOSTILE_PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: before-%(m)s
      ansible.builtin.copy: {dest: "%(before)s", content: "one"}
      no_log: true
    - name: facts-%(m)s
      hostile_facts:
        facts:
          changeaudit_host_policy: skip
          changeaudit_hash_key: "%(hostile_key)s"
          changeaudit_unkeyed_hashes: true
          awx_job_id: "%(job)s"
          awx_user_name: "mallory-%(m)s"
    - name: after-%(m)s
      ansible.builtin.copy: {dest: "%(after)s", content: "two"}
      no_log: true
"""


def test_facts_a_host_returns_cannot_set_the_key_the_run_or_who_launched_it(tmp_path, marker):
    """Facts rank above the inventory; a host that returns the hash key, an AWX job ID and user, and a host policy as
    facts would have its next change recorded under its own key and outside the run, as launched by mallory. Now the
    facts are ignored, with a warning that names each."""
    operator_key = "op-" + uuid.uuid4().hex + uuid.uuid4().hex
    hostile_key = "host-" + uuid.uuid4().hex + uuid.uuid4().hex
    job = "9" + str(uuid.uuid4().int)[:8]
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "hostile_facts.py").write_text(HOSTILE_MODULE)
    play = HOSTILE_PLAY % {"m": marker, "before": tmp_path / "before", "after": tmp_path / "after",
                           "hostile_key": hostile_key, "job": job}
    proc = playbook(tmp_path, play, "localhost,", ansible_env(CHANGEAUDIT_HASH_KEY=operator_key))
    assert proc.returncode == 0, output(proc)
    assert len(wait_for_lines(marker, count=2)) == 2
    before, after = fields_of("before-%s" % marker), fields_of("after-%s" % marker)
    assert after["run_id"] == before["run_id"] != "awx-%s" % job, (before, after)
    assert not after["run_id"].startswith("awx-")
    for values in (before, after):
        assert re.fullmatch(r"hmac-sha256:%s:[0-9a-f]{64}" % key_id(operator_key), values["object"]), values
        assert "awx_user_name" not in values and "awx_job_id" not in values
    lines = ausearch_raw(marker)
    assert len(lines) == 2 and not any(job in line or "mallory" in line or key_id(hostile_key) in line for line in lines)
    text = flat(proc)
    for name in ("changeaudit_host_policy", "changeaudit_hash_key", "changeaudit_unkeyed_hashes", "awx_job_id",
                 "awx_user_name"):
        warning = "the host localhost returned a fact named %s, a setting only" % name
        assert text.count(warning) == 1, (name, output(proc))
    assert hostile_key not in proc.stdout + proc.stderr
