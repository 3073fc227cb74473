"""The writer's root never widens who can do what (issue 28), tried as an attacker on the host would, for real.

- A become_user cannot get root: a root login, an unprivileged become_user, pipelining off and no setfacl on the
  target, so that ansible-core chowns the task's remote tmp dir to the become_user; that user renames its own
  program over every file it can reach there, in a loop, while audited tasks run. Their records are written, and
  the planted program never runs as root.
- su from a login user whose dotfiles export BASH_ENV and PYTHONPATH: root's shell and root's Python started for the
  record run neither (the control: the same su without the writer does run them, as root).
- A task's ``environment:`` secret is on no command line of a root process (execve audit rule) nor in sudo's log,
  and the record is still written and read back with ausearch.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import textwrap
import time
import uuid

import pytest

from livelib import wait_for_lines
from test_writer_live import SSH_INVENTORY, exec_records, needs_ssh_hosts, run_playbook

BECOME_USER = "nobody"
# Both the writer's loaders start with this, and nothing else a root process runs here does.
WRITER_MARK = "sys.path[:] = [p for p in sys.path if p not in"


def farm_without_setfacl(directory) -> str:
    """A PATH of every command of this machine but setfacl and getfacl, as on a host without the acl package."""
    os.makedirs(str(directory))
    for bin_dir in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if not os.path.isdir(bin_dir):
            continue
        for name in os.listdir(bin_dir):
            link = os.path.join(str(directory), name)
            if name in ("setfacl", "getfacl") or os.path.lexists(link):
                continue
            os.symlink(os.path.join(bin_dir, name), link)
    return str(directory)


RENAMER = r'''
import os, sys, time
planted, log, stop = sys.argv[1:4]
seen = set()
replaced = 0
while not os.path.exists(stop):
    for base in ("/tmp", "/var/tmp", os.path.expanduser("~root/.ansible/tmp")):
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            path = os.path.join(base, name)
            try:
                if not name.startswith("ansible-") or os.lstat(path).st_uid != os.getuid():
                    continue
                seen.add(path)
                for entry in os.listdir(path):
                    if entry.startswith("AnsiballZ_") or entry.startswith(".ca-"):
                        continue
                    # Its own file, renamed over the one it finds: what a become_user owning the directory can do.
                    tmp = os.path.join(path, ".ca-" + entry)
                    with open(tmp, "w") as handle:
                        handle.write(open(planted).read())
                    os.rename(tmp, os.path.join(path, entry))
                    replaced += 1
            except OSError:
                pass
    time.sleep(0.001)
with open(log, "w") as handle:
    handle.write("%d %d\n" % (len(seen), replaced))
'''


@pytest.fixture
def open_dir():
    """A directory the become_user may enter (pytest's tmp dirs are root's alone), removed afterwards."""
    import pathlib
    import tempfile

    path = tempfile.mkdtemp(prefix="ca-rename-")
    os.chmod(path, 0o755)
    try:
        yield pathlib.Path(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_a_become_user_renaming_files_over_the_writers_never_runs_code_as_root(tmp_path, open_dir, marker):
    nobody = pwd.getpwnam(BECOME_USER)
    play_dir, tmp_path = tmp_path, open_dir
    work = tmp_path / "shared"
    work.mkdir()
    os.chown(str(work), nobody.pw_uid, nobody.pw_gid)
    os.chmod(str(tmp_path), 0o755)
    # What the planted program leaves when it runs: the uid it ran as.
    evidence = tmp_path / "planted-ran"
    evidence.write_text("")
    os.chmod(str(evidence), 0o666)
    planted = tmp_path / "planted.py"
    planted.write_text("import os\nopen(%r, 'a').write('%%d\\n' %% os.geteuid())\nprint('{}')\n" % str(evidence))
    os.chmod(str(planted), 0o644)
    stop, log = tmp_path / "stop", tmp_path / "renamer.log"
    renamer_py = tmp_path / "renamer.py"
    renamer_py.write_text(RENAMER)
    os.chmod(str(renamer_py), 0o644)
    os.chmod(str(tmp_path), 0o777)  # the renamer (nobody) writes its log and reads the stop file here
    path = farm_without_setfacl(tmp_path / "bin")
    tasks = "".join(textwrap.dedent("""
        - name: Change %(n)d
          changeaudit.linux.audited:
            module: ansible.builtin.lineinfile
            args: {path: "%(dir)s/conf-%(n)d", line: "value %(n)d", create: true}
            fields: {run: "%(m)s", n: "%(n)d"}
          register: change_%(n)d
    """) % {"n": n, "dir": work, "m": marker} for n in range(8))
    play = textwrap.dedent("""
    - hosts: localhost
      connection: local
      gather_facts: false
      become: true
      become_user: %s
      become_method: ansible.builtin.sudo
      vars:
        ansible_python_interpreter: /usr/bin/python3
      tasks:
    """) % BECOME_USER + textwrap.indent(tasks, "    ")
    renamer = subprocess.Popen(
        ["setpriv", "--reuid", str(nobody.pw_uid), "--regid", str(nobody.pw_gid), "--clear-groups",
         "/usr/bin/python3", "-I", str(renamer_py), str(planted), str(log), str(stop)],
        cwd="/",
    )
    try:
        run_playbook(play_dir, play, env={"ANSIBLE_PIPELINING": "false", "PATH": path, "ANSIBLE_REMOTE_TMP": "/tmp"})
    finally:
        stop.write_text("")
        renamer.wait(timeout=30)
    seen, replaced = (int(word) for word in log.read_text().split())
    # The control: ansible-core did hand the task's tmp dir to the become_user (no setfacl), whose loop renamed its
    # file over every file but ansible-core's own module it found there (``replaced``: the writer sends none).
    assert seen >= 1, "the become_user never owned a tmp dir: the attack was not set up"
    ran_as = evidence.read_text().split()
    assert "0" not in ran_as, "the planted program ran as root: %r" % ran_as
    lines = wait_for_lines(marker, count=8)
    assert len(lines) == 8, lines
    assert all(" uid=0 " in line for line in lines)


# --- su from a login whose dotfiles export BASH_ENV and PYTHONPATH --------------------------------------------------

SU_HOST, SU_LOGIN = "ssh6", "casu"


@pytest.fixture
def planted_dotfiles(tmp_path):
    """casu's .bashrc exports BASH_ENV and PYTHONPATH (before Debian's non-interactive return) pointing at code that
    logs its uid and its process's command line; restored afterwards."""
    home = pwd.getpwnam(SU_LOGIN).pw_dir
    bashrc = os.path.join(home, ".bashrc")
    planted = tmp_path / "planted"
    planted.mkdir()
    log = planted / "ran.log"
    log.write_text("")
    (planted / "bash_env.sh").write_text(
        'printf "bash_env uid=%%s %%s\\n" "$(id -u)" "$(tr "\\0" " " </proc/$$/cmdline)" >>%s\n' % log
    )
    (planted / "sitecustomize.py").write_text(
        "import os\nopen(%r, 'a').write('pythonpath uid=%%d %%s\\n' %% (os.geteuid(), "
        "open('/proc/self/cmdline').read().replace('\\0', ' ')))\n" % str(log)
    )
    for path in (tmp_path, planted):
        os.chmod(str(path), 0o755)
    for name in ("bash_env.sh", "sitecustomize.py", "ran.log"):
        os.chmod(str(planted / name), 0o666 if name == "ran.log" else 0o644)
    with open(bashrc, "rb") as handle:
        original = handle.read()
    mode = stat.S_IMODE(os.stat(bashrc).st_mode)
    try:
        with open(bashrc, "wb") as handle:
            handle.write(b"export BASH_ENV=%s PYTHONPATH=%s\n" % (os.fsencode(str(planted / "bash_env.sh")), os.fsencode(str(planted)))
                         + original)
        yield log
    finally:
        with open(bashrc, "wb") as handle:
            handle.write(original)
        os.chmod(bashrc, mode)


def root_runs(log, needle):
    return [line for line in log.read_text().splitlines() if " uid=0 " in line and needle in line]


@needs_ssh_hosts
@pytest.mark.parametrize("pipelining", ["true", "false"])
def test_su_for_the_record_runs_nothing_of_the_login_users_environment(tmp_path, marker, pipelining, planted_dotfiles):
    control = "ctl-" + uuid.uuid4().hex[:12]
    play = """
    - hosts: %(host)s
      gather_facts: false
      tasks:
        - name: The control, su as a login user's shell runs it, without the writer
          ansible.builtin.raw: su root -c "/usr/bin/python3 -c 'print(1)' %(control)s"
        - name: The record of a become false task, escalated with su
          changeaudit.linux.usys_config: {op: it-su-env, fields: {run: "%(m)s"}}
          register: written
        - name: Through audited
          changeaudit.linux.audited:
            module: ansible.builtin.command
            args: {cmd: /bin/true}
            fields: {run: "%(m)s"}
    """ % {"host": SU_HOST, "m": marker, "control": control}
    run_playbook(tmp_path, play, inventory=SSH_INVENTORY, env={"ANSIBLE_PIPELINING": pipelining})
    # The control: the planted code does run as root under su from that login, so finding none below means something.
    assert root_runs(planted_dotfiles, control), planted_dotfiles.read_text()
    assert any(line.startswith("pythonpath") for line in root_runs(planted_dotfiles, control))
    leaked = root_runs(planted_dotfiles, WRITER_MARK)
    assert not leaked, leaked
    lines = wait_for_lines(marker, count=2)
    assert len(lines) == 2 and all(" uid=0 " in line and 'remote_user="casu"' in line for line in lines), lines


# --- a task's environment: never on a command line ----------------------------------------------------------------


@pytest.fixture
def execve_watch():
    key = "ca-env-" + uuid.uuid4().hex[:8]
    rule = ["-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-k", key]
    start, day = time.strftime("%H:%M:%S"), time.strftime("%x")
    subprocess.run(["auditctl"] + rule, check=True, capture_output=True)
    try:
        yield lambda: (key, exec_records(key, day, start))
    finally:
        subprocess.run(["auditctl", "-d"] + rule[1:], check=False, capture_output=True)


def root_command_lines(key, login):
    """{serial: text} of every execve of a root (euid 0) process of the login user's sessions (auid, as sshd's PAM set
    it; the controller's own ssh commands, which carry ansible-core's module command, are not the target's) that
    the rule logged: SYSCALL, EXECVE, PROCTITLE."""
    auid = " auid=%d " % pwd.getpwnam(login).pw_uid
    raw = subprocess.run(["ausearch", "--input-logs", "-k", key, "--raw"], capture_output=True, text=True,
                         errors="replace", check=False).stdout.splitlines()
    events = {}
    for line in raw:
        serial = line.split("msg=audit(", 1)[-1].split(")", 1)[0]
        events.setdefault(serial, []).append(line)
    return {serial: "\n".join(lines) for serial, lines in events.items()
            if any("type=SYSCALL" in line and " euid=0 " in line and auid in line for line in lines)}


@needs_ssh_hosts
@pytest.mark.parametrize("pipelining", ["true", "false"])
def test_a_tasks_environment_secret_is_on_no_root_command_line(tmp_path, marker, pipelining, execve_watch):
    secret = "envsecret-" + uuid.uuid4().hex
    play = """
    - hosts: ssh1
      gather_facts: false
      tasks:
        - name: A change with a secret in its environment
          changeaudit.linux.audited:
            module: ansible.builtin.command
            args: {cmd: /bin/true}
            fields: {run: "%(m)s"}
          environment: {CA_TOKEN: "%(s)s"}
        - name: A record with one
          changeaudit.linux.usys_config: {op: it-env, fields: {run: "%(m)s"}}
          environment: {CA_TOKEN: "%(s)s"}
    """ % {"m": marker, "s": secret}
    run_playbook(tmp_path, play, inventory=SSH_INVENTORY, env={"ANSIBLE_PIPELINING": pipelining})
    key, (commands, sudo) = execve_watch()
    roots = root_command_lines(key, "cadeploy")
    # The control: the writer's root processes were logged (its loader is on their command line, as hex).
    assert any(WRITER_MARK.encode().hex().upper() in text or WRITER_MARK in text for text in roots.values())
    assert sudo, "sudo logged no USER_CMD record"
    needles = (secret, secret.encode().hex().upper())
    leaked = [text for text in list(roots.values()) + sudo for needle in needles if needle in text]
    assert not leaked, leaked
    lines = wait_for_lines(marker, count=2)
    assert len(lines) == 2 and all(" uid=0 " in line for line in lines), lines
    assert secret not in "\n".join(lines)
