"""Issue 31, changes made outside Ansible, for real: the watch role's rules on the real kernel, Ansible's copy,
template, lineinfile and file with the record_changes callback, then writes outside Ansible - `echo >>`, `sed -i`,
an editor's backup-and-rename, `cp` over, chmod, chown, rm then create, a write through a hard link and through a
symlink - by root in sessions of their own (a fresh login uid gives a fresh audit session, as pam_loginuid does) and
by nobody; then `ansible-playbook changeaudit.linux.drift`.

Every out-of-band write is flagged with its session's who and how, none of Ansible's is; a file replaced by `sed -i`
stays watched; a watch rule removed by hand makes the host "not watched". The oracles: `ausearch -k KEY` (-i for the
syscall names) and auparse (python3-audit). The rules are removed in a finally, whatever happened.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import tempfile
import time
import typing as t
from xml.etree import ElementTree

import pytest

from livelib import AUDIT_PREFIX, SYSTEM_PYTHON
from test_fail_closed_live import PLAYBOOK, ansible_env, fence, localhost_play, output, run_playbook

KEY = "changeaudit-watch"
RULES_FILE = "/etc/audit/rules.d/70-changeaudit-watch.rules"
STATE_FILE = "/var/lib/changeaudit/watch-state.json"
NOBODY = 65534

pytestmark = pytest.mark.skipif(bool(AUDIT_PREFIX), reason="the drift playbook reads the system auditd's log")

# Sets the login uid (which opens a new audit session, as pam_loginuid does at a login), says the session, then runs
# the command: each out-of-band step is one session, so its rows are found by their ses.
SESSION = r"""
import os, sys
with open("/proc/self/loginuid", "w") as handle:
    handle.write(sys.argv[1])
with open("/proc/self/sessionid") as handle:
    sys.stdout.write(handle.read().strip() + "\n")
sys.stdout.flush()
os.execvp(sys.argv[2], sys.argv[2:])
"""


def in_session(command: t.Sequence[str], loginuid: int = 0) -> int:
    proc = subprocess.run([SYSTEM_PYTHON, "-c", SESSION, str(loginuid)] + list(command), capture_output=True, text=True,
                          check=False, start_new_session=True, timeout=60)
    assert proc.stdout.strip().splitlines(), proc.stderr
    return int(proc.stdout.splitlines()[0])


def watch_play(paths: t.Sequence[str], state: str = "present") -> str:
    return localhost_play("""\
        vars:
          ansible_python_interpreter: %s
        roles:
          - role: changeaudit.linux.watch
            vars:
              changeaudit_watch_paths: %s
              changeaudit_watch_state: %s
    """ % (SYSTEM_PYTHON, json.dumps(list(paths)), state))


def remove_watch(tmp_path) -> None:
    """The role's absent, then whatever it could not do by hand: the audit subsystem is machine-wide."""
    try:
        run_playbook(tmp_path, watch_play([], "absent"), ansible_env(callback=False))
    finally:
        subprocess.run(["auditctl", "-D", "-k", KEY], capture_output=True, check=False)
        for path in (RULES_FILE, STATE_FILE):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        left = subprocess.run(["auditctl", "-l"], capture_output=True, text=True, check=False).stdout
        assert KEY not in left, left


@pytest.fixture
def base(marker):
    # Not under tmp_path: nobody must reach its file, and the hard link must be on the same file system.
    directory = tempfile.mkdtemp(prefix="changeaudit-drift-%s-" % marker[:10], dir="/var/tmp")
    os.chmod(directory, 0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def drift(tmp_path, report_dir: str, since: float, *extra: str) -> subprocess.CompletedProcess:
    """ansible-playbook changeaudit.linux.drift on localhost, as the guide says to run it."""
    return subprocess.run(
        [PLAYBOOK, "changeaudit.linux.drift", "-i", "localhost,", "-c", "local", "-e", "report_dir=%s" % report_dir,
         "-e", "since=%.3f" % since, "-e", "ansible_python_interpreter=%s" % SYSTEM_PYTHON, *extra],
        env=ansible_env(callback=False), capture_output=True, text=True, check=False, timeout=300, cwd=str(tmp_path),
    )


def ansible_changes(tmp_path, base: str, run_id: str, round_: int) -> None:
    template = tmp_path / "motd.j2"
    template.write_text("managed {{ round_ }}\n")
    play = localhost_play("""\
        vars:
          ansible_python_interpreter: %(python)s
          round_: %(round)d
        tasks:
          - name: Copy a file
            ansible.builtin.copy: {dest: "%(base)s/w/f_copy", content: "copied {{ round_ }}\\n", mode: "0644"}
          - name: Template a file
            ansible.builtin.template: {src: "%(template)s", dest: "%(base)s/w/f_template", mode: "0644"}
          - name: A line in a file
            ansible.builtin.lineinfile: {path: "%(base)s/w/f_line", line: "line {{ round_ }}", create: true, mode: "0644"}
          - name: A file's mode
            ansible.builtin.file: {path: "%(base)s/w/f_file", mode: "{{ '0640' if round_ == 1 else '0644' }}"}
          - name: A file in a watched directory
            ansible.builtin.copy: {dest: "%(base)s/d/a", content: "in dir {{ round_ }}\\n", mode: "0644"}
    """ % {"python": SYSTEM_PYTHON, "round": round_, "base": base, "template": template})
    proc = run_playbook(tmp_path, play, ansible_env(CHANGEAUDIT_RUN_ID=run_id))
    assert proc.returncode == 0, output(proc)


AUPARSE_EVENTS = r"""
import json, sys, auparse
key = sys.argv[1]
au = auparse.AuParser(auparse.AUSOURCE_LOGS)
found = {}
while au.parse_next_event():
    au.first_record()
    while True:
        if au.get_type_name() == "SYSCALL" and au.find_field("key") and au.interpret_field() == key:
            au.first_field()
            au.find_field("syscall")
            found[au.get_timestamp().serial] = au.interpret_field()
        if not au.next_record():
            break
print(json.dumps(found))
"""


def oracle_ausearch(since: float) -> t.Dict[int, str]:
    """serial -> syscall name of every event with the key from ``since``, as ausearch -i reads them."""
    start = time.localtime(since - 1)
    proc = subprocess.run(["ausearch", "--input-logs", "-k", KEY, "-i", "-ts", time.strftime("%m/%d/%y", start),
                           time.strftime("%H:%M:%S", start)], capture_output=True, text=True, errors="replace",
                          env=dict(os.environ, LC_ALL="C"), check=False)  # 1: nothing found
    found = {}
    for line in proc.stdout.splitlines():
        if line.startswith("type=SYSCALL") and " key=%s" % KEY in line:
            serial = int(line.split("msg=audit(", 1)[1].split(")", 1)[0].rsplit(":", 1)[1])
            found[serial] = line.split(" syscall=", 1)[1].split(" ", 1)[0]
    return found


def test_writes_outside_ansible_are_flagged_and_ansibles_are_not(tmp_path, base, marker):
    run_id = "drift-" + marker
    watched_dir, outside = os.path.join(base, "w"), os.path.join(base, "outside")
    for sub in ("w", "d", "outside"):
        os.mkdir(os.path.join(base, sub))
        os.chmod(os.path.join(base, sub), 0o755)
    for name in ("f_copy", "f_template", "f_line", "f_file", "f_nobody"):
        with open(os.path.join(watched_dir, name), "w") as handle:
            handle.write("before\n")
    os.chown(os.path.join(watched_dir, "f_nobody"), NOBODY, NOBODY)
    path = {name: os.path.join(watched_dir, name) for name in ("f_copy", "f_template", "f_line", "f_file", "f_nobody")}
    wdir = os.path.join(base, "d")
    try:
        proc = run_playbook(tmp_path, watch_play(sorted(path.values()) + [wdir]), ansible_env(callback=False),
                            extra_args=["--check", "--diff"])
        assert proc.returncode == 0 and "-w %s -p wa -k %s" % (path["f_copy"], KEY) in proc.stdout, output(proc)
        listed = subprocess.run(["auditctl", "-l"], capture_output=True, text=True, check=True).stdout
        assert KEY not in listed, "check mode loaded rules: %s" % listed
        proc = run_playbook(tmp_path, watch_play(sorted(path.values()) + [wdir]), ansible_env(callback=False))
        assert proc.returncode == 0, output(proc)
        again = run_playbook(tmp_path, watch_play(sorted(path.values()) + [wdir]), ansible_env(callback=False))
        assert "changed=0" in again.stdout, output(again)
        listed = subprocess.run(["auditctl", "-l"], capture_output=True, text=True, check=True).stdout
        for watched in list(path.values()) + [wdir]:
            assert "-w %s -p wa -k %s" % (watched, KEY) in listed, listed
        assert os.stat(STATE_FILE).st_mode & 0o777 == 0o600
        with open(STATE_FILE) as handle:
            since = json.load(handle)["installed"] + 0.5
        time.sleep(0.6)

        ansible_changes(tmp_path, base, run_id, 1)
        steps = {}
        steps["echo"] = in_session(["bash", "-c", "echo oob >> %s" % path["f_copy"]])
        steps["sed"] = in_session(["sed", "-i", "s/line/LINE/", path["f_line"]])
        # After sed -i replaced it by rename: still watched.
        steps["after_rename"] = in_session(["bash", "-c", "echo again >> %s" % path["f_line"]])
        steps["editor"] = in_session(["bash", "-c", "cp {f} {f}~ && printf 'edited\\n' > {o}/.swp && mv {o}/.swp {f}".format(
            f=path["f_template"], o=outside)])
        steps["cp"] = in_session(["cp", "/etc/hostname", path["f_file"]])
        steps["chmod"] = in_session(["chmod", "600", path["f_copy"]])
        steps["chown"] = in_session(["chown", "root:nogroup", path["f_file"]])
        steps["rm_create"] = in_session(["bash", "-c", "rm {a} && echo new > {a}".format(a=os.path.join(wdir, "a"))])
        steps["hardlink"] = in_session(["bash", "-c", "ln {f} {o}/hl && echo via-link >> {o}/hl".format(f=path["f_copy"], o=outside)])
        steps["symlink"] = in_session(["bash", "-c", "ln -s {f} {o}/sl && echo via-symlink >> {o}/sl".format(f=path["f_copy"], o=outside)])
        steps["nobody"] = in_session(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups", "bash", "-c",
                                      "echo nobody >> %s; echo denied >> %s 2>/dev/null; true" % (path["f_nobody"], path["f_copy"])],
                                     loginuid=NOBODY)
        assert len(set(steps.values())) == len(steps), steps
        ansible_changes(tmp_path, base, run_id, 2)
        fence()

        report_dir = str(tmp_path / "report")
        proc = drift(tmp_path, report_dir, since)
        assert proc.returncode != 0 and "write" in proc.stdout and "made outside Ansible" in proc.stdout, output(proc)
        proc = drift(tmp_path, report_dir, since, "-e", "drift_fail=false")
        assert proc.returncode == 0, output(proc)
        with open(os.path.join(report_dir, "drift.json"), encoding="utf-8") as handle:
            report = json.load(handle)
        rows = [row for row in report["events"] if (row["object"] or "").startswith(base) or (row["path"] or "").startswith(base)]
        assert report["hosts"]["localhost"]["watched"] is True, report["hosts"]
        by_ses: t.Dict[t.Any, t.List[t.Dict[str, t.Any]]] = {}
        for row in rows:
            by_ses.setdefault(row["ses"], []).append(row)

        # Ansible's writes: its module processes (AnsiballZ_<module>), every one explained, on every object.
        ansibles = [row for row in rows if "AnsiballZ_" in (row["proctitle"] or "")]
        assert ansibles and all(row["status"] == "explained" for row in ansibles), [
            row for row in ansibles if row["status"] != "explained"]
        explained_objects = {row["explained_by"]["object"] for row in ansibles}
        assert explained_objects >= {path["f_copy"], path["f_template"], path["f_line"], path["f_file"], os.path.join(wdir, "a")}
        assert {row["explained_by"]["run_id"] for row in ansibles} == {run_id}
        assert {row["explained_by"]["start_from"] for row in ansibles} == {"ledger"}
        assert all("AnsiballZ_" in (row["proctitle"] or "") for row in rows if row["status"] == "explained")

        expected = {
            "echo": ({"bash"}, {"write"}, {path["f_copy"]}),
            "sed": ({"sed"}, {"rename"}, {path["f_line"]}),
            "after_rename": ({"bash"}, {"write"}, {path["f_line"]}),
            "editor": ({"mv"}, {"rename"}, {path["f_template"]}),
            "cp": ({"cp"}, {"write"}, {path["f_file"]}),
            "chmod": ({"chmod"}, {"chmod"}, {path["f_copy"]}),
            "chown": ({"chown"}, {"chown"}, {path["f_file"]}),
            "rm_create": ({"rm", "bash"}, {"unlink", "write"}, {wdir}),
            "hardlink": ({"ln", "bash"}, {"link", "write"}, {path["f_copy"]}),
            "symlink": ({"bash"}, {"write"}, {path["f_copy"]}),
            "nobody": ({"bash"}, {"write"}, {path["f_nobody"], path["f_copy"]}),
        }
        for step, ses in steps.items():
            comms, actions, objects = expected[step]
            found = by_ses.get(ses, [])
            assert found, "no event of step %s (ses %s) in the report: %s" % (step, ses, sorted(by_ses))
            assert all(row["status"] in ("out_of_band", "denied") for row in found), (step, found)
            written = [row for row in found if row["status"] == "out_of_band"]
            assert {row["comm"] for row in found} <= comms and actions <= {row["action"] for row in written}, (step, found)
            assert {row["object"] for row in written} == objects - ({path["f_copy"]} if step == "nobody" else set()), (step, found)
            who = ("nobody", "nobody") if step == "nobody" else ("root", "root")
            assert {(row["auid_name"], row["uid_name"]) for row in found} == {who}, (step, found)
            assert all(row["tty"] is None and row["exe"] and row["proctitle"] for row in found), (step, found)
        # Through the links: the path written is the link's, the object the watched file of that inode.
        assert {row["path"] for row in by_ses[steps["hardlink"]] if row["action"] == "write"} == {os.path.join(outside, "hl")}
        denied = [row for row in by_ses[steps["nobody"]] if row["status"] == "denied"]
        assert [row["path"] for row in denied] == [path["f_copy"]], by_ses[steps["nobody"]]
        assert report["summary"]["out_of_band"] == sum(1 for row in report["events"] if row["status"] == "out_of_band") > 0
        assert report["summary"]["explained"] == sum(1 for row in report["events"] if row["status"] == "explained") > 0

        # The oracles: every event with the key in the span, the same serials and syscall names as ausearch -i and
        # auparse read them.
        reported = {row["serial"]: row["syscall"] for row in report["events"]}
        seen = oracle_ausearch(since)
        seen = {serial: name for serial, name in seen.items() if serial >= min(reported)}
        assert seen == reported, (sorted(set(seen.items()) ^ set(reported.items())))
        parsed = subprocess.run([SYSTEM_PYTHON, "-c", AUPARSE_EVENTS, KEY], capture_output=True, text=True, check=True)
        by_auparse = {int(serial): name for serial, name in json.loads(parsed.stdout).items() if int(serial) in reported}
        assert by_auparse == reported

        with open(os.path.join(report_dir, "drift.csv"), encoding="utf-8") as handle:
            assert len(list(csv.DictReader(handle))) == len(report["events"])
        suite = ElementTree.parse(os.path.join(report_dir, "junit.xml")).getroot()[0]
        assert int(suite.get("failures")) == report["summary"]["out_of_band"]
        with open(os.path.join(report_dir, "drift.html"), encoding="utf-8") as handle:
            page = handle.read()
        assert "made outside Ansible" in page and "<script" not in page and "<link" not in page and "src=" not in page
    finally:
        remove_watch(tmp_path)


def test_a_watch_rule_removed_by_hand_makes_the_host_not_watched(tmp_path, base, marker):
    target = os.path.join(base, "watched")
    with open(target, "w") as handle:
        handle.write("x\n")
    try:
        proc = run_playbook(tmp_path, watch_play([target]), ansible_env(callback=False))
        assert proc.returncode == 0, output(proc)
        with open(STATE_FILE) as handle:
            since = json.load(handle)["installed"] + 0.5
        time.sleep(0.6)
        ses = in_session(["auditctl", "-W", target, "-p", "wa", "-k", KEY])
        # Unseen: no rule.
        with open(target, "a") as handle:
            handle.write("unseen %s\n" % marker)
        fence()
        report_dir = str(tmp_path / "report")
        proc = drift(tmp_path, report_dir, since, "-e", "drift_fail=false")
        assert proc.returncode == 0, output(proc)
        with open(os.path.join(report_dir, "drift.json"), encoding="utf-8") as handle:
            report = json.load(handle)
        about = report["hosts"]["localhost"]
        assert about["watched"] is False and report["summary"]["not_watched_hosts"] == 1, about
        reasons = [span["reason"] for span in about["unwatched"]]
        assert any("was removed" in reason and "ses %d" % ses in reason and "auditctl" in reason for reason in reasons), reasons
        assert report["verdict"].startswith("Not clean"), report["verdict"]
        proc = drift(tmp_path, report_dir, since)
        assert proc.returncode != 0, output(proc)
    finally:
        remove_watch(tmp_path)


SSH_INVENTORY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build", "ssh", "inventory.yml")
needs_ssh_hosts = pytest.mark.skipif(
    not os.path.isfile(SSH_INVENTORY) and not os.environ.get("CHANGEAUDIT_REQUIRE_SSH_HOSTS"),
    reason="the sshd test hosts are not up (scripts/ssh-hosts.sh up writes .build/ssh/inventory.yml)",
)


@needs_ssh_hosts
def test_over_ssh_another_session_of_the_same_login_within_the_change_is_out_of_band(tmp_path, base, marker):
    """The change's own session (the Ansible login's sshd session, ses and auid) explains its writes; the same login
    in another SSH session, writing the same object while the change runs, does not."""
    import yaml

    run_id = "drift-ssh-" + marker
    target = os.path.join(base, "app.conf")
    with open(target, "w") as handle:
        handle.write("before\n")
    with open(SSH_INVENTORY) as handle:
        ssh1 = yaml.safe_load(handle)["all"]["children"]["ssh_hosts"]["hosts"]["ssh1"]
    try:
        proc = run_playbook(tmp_path, watch_play([target]), ansible_env(callback=False))
        assert proc.returncode == 0, output(proc)
        with open(STATE_FILE) as handle:
            since = json.load(handle)["installed"] + 0.5
        time.sleep(0.6)
        play = tmp_path / "slow.yml"
        # validate runs before the module's rename: the change is under way for a few seconds.
        play.write_text("""\
- hosts: ssh1
  gather_facts: false
  become: true
  tasks:
    - name: A line, slowly
      ansible.builtin.lineinfile:
        path: "%s"
        line: managed
        validate: /bin/sh -c 'sleep 4; test -s "$0"' %%s
""" % target)
        env = ansible_env(CHANGEAUDIT_RUN_ID=run_id)
        runner = subprocess.Popen([PLAYBOOK, "-i", SSH_INVENTORY, str(play)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        try:
            ledger = os.path.join(env["CHANGEAUDIT_LEDGER_DIR"], run_id, "ledger.jsonl")
            deadline = time.monotonic() + 60
            while not (os.path.exists(ledger) and '"kind":"intent"' in open(ledger).read()):
                assert time.monotonic() < deadline and runner.poll() is None, runner.stdout.read() if runner.poll() is not None else "no intent"
                time.sleep(0.1)
            time.sleep(1.0)
            other = subprocess.run(
                ["ssh", "-p", "2222", "-i", os.path.join(os.path.dirname(SSH_INVENTORY), "id_ed25519"), "-o", "ControlPath=none",
                 "-o", "UserKnownHostsFile=%s" % os.path.join(os.path.dirname(SSH_INVENTORY), "known_hosts"),
                 "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                 "%s@%s" % (ssh1["ansible_user"], ssh1["ansible_host"]),
                 "sudo -n sh -c 'echo other-session >> %s; cat /proc/self/sessionid'" % target],
                capture_output=True, text=True, timeout=60, check=False)
            assert other.returncode == 0, other.stderr
            other_ses = int(other.stdout.split()[-1])
            said = runner.communicate(timeout=120)[0]
        finally:
            if runner.poll() is None:
                runner.kill()
        assert runner.returncode == 0, said
        fence()
        report_dir = str(tmp_path / "report")
        proc = drift(tmp_path, report_dir, since, "-e", "drift_fail=false")
        assert proc.returncode == 0, output(proc)
        with open(os.path.join(report_dir, "drift.json"), encoding="utf-8") as handle:
            report = json.load(handle)
        rows = [row for row in report["events"] if row["object"] == target]
        ansibles = [row for row in rows if row["status"] == "explained"]
        outside = [row for row in rows if row["status"] == "out_of_band"]
        assert ansibles and {row["auid_name"] for row in ansibles} == {ssh1["ansible_user"]}, rows
        assert all(row["ses"] != other_ses for row in ansibles)
        assert [(row["ses"], row["auid_name"], row["uid_name"], row["comm"]) for row in outside] == [
            (other_ses, ssh1["ansible_user"], "root", "sh")], rows
        assert "another session" in outside[0]["reason"], outside
    finally:
        remove_watch(tmp_path)
