"""Checks the records of the real_plays converge against what ausearch finds (the independent oracle) and against
each host's own sshd login records: usage check_records.py SCENARIO_DIR RUN_ID. Prints one line per check and exits
non-zero when one fails.

Every SSH test host is this machine, so every record is in one audit.log: a record belongs to a host by its
inventory_host (or changed_host) field, and to that host's login by auid and ses, which must be a session sshd
opened for that host's login user (USER_START from /usr/sbin/sshd, found with ausearch --session).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import subprocess
import sys

FIELD = re.compile(r'(\w+)=("[^"]*"|\S+)')
HEADER = re.compile(r"msg=audit\((\d+\.\d+):(\d+)\): (.*?) msg='(.*)'")
FAILURES = []


def check(ok, what):
    print("%s %s" % ("ok  " if ok else "FAIL", what))
    if not ok:
        FAILURES.append(what)


def ausearch(*args):
    proc = subprocess.run(["ausearch", "--input-logs", *args], capture_output=True, text=True, check=False)
    return proc.stdout.splitlines()


def value(text):
    if text.startswith('"'):
        return text[1:-1]
    if re.fullmatch(r"(?:[0-9A-F]{2})+", text):
        return bytes.fromhex(text).decode("utf-8", "replace")
    return text


def parse(line):
    found = HEADER.search(line)
    if not found:
        return None
    stamp, serial, header, message = found.groups()
    record = {name: value(raw) for name, raw in FIELD.findall(message.split("\x1d")[0].rstrip("'"))}
    for name, raw in FIELD.findall(header):
        record["_" + name] = raw
    record["_time"], record["_serial"] = float(stamp), int(serial)
    return record


def uid_of(user):
    return str(pwd.getpwnam(user).pw_uid)


def sshd_session_of(ses, user):
    """Whether ses is a session sshd opened for user (USER_START of /usr/sbin/sshd, acct=user)."""
    for line in ausearch("-m", "USER_START", "--session", ses, "--raw"):
        if 'exe="/usr/sbin/sshd"' in line and ('acct="%s"' % user) in line:
            return True
    return False


def main(scenario_dir, run_id):
    with open(os.path.join(scenario_dir, "run.json")) as handle:
        run = json.load(handle)
    # The summary is on stdout; ansible-core 2.19+ prints failed tasks on stderr.
    output = run["stdout"] + run["stderr"]
    records = [r for r in map(parse, ausearch("-m", "USYS_CONFIG", "-ts", "boot", "--raw")) if r and r.get("run_id") == run_id]
    print("%d records of run %s" % (len(records), run_id))

    def of(host, task):
        return [r for r in records if (r.get("changed_host") or r.get("inventory_host")) == host and r.get("cmd") == task]

    def on_ssh(host, task, login, **fields):
        """One record of task on host, written as root in a session sshd opened for the host's login user."""
        found = of(host, task)
        check(len(found) == 1, "%s: one record of %r (found %d)" % (host, task, len(found)))
        if not found:
            return None
        record = found[0]
        check(record["_uid"] == "0", "%s: %r written as root (uid=%s)" % (host, task, record["_uid"]))
        check(record["_auid"] == uid_of(login), "%s: %r has the login uid of %s (auid=%s)" % (host, task, login, record["_auid"]))
        check(sshd_session_of(record["_ses"], login), "%s: %r is in a session sshd opened for %s (ses=%s)" % (host, task, login, record["_ses"]))
        for name, expected in fields.items():
            check(record.get(name) == expected, "%s: %r says %s=%r (%r)" % (host, task, name, expected, record.get(name)))
        return record

    def none_of(host, task, why):
        check(not of(host, task), "%s: no record of %r: %s" % (host, task, why))

    def exists(name):
        return os.path.exists(os.path.join(scenario_dir, "hosts", name))

    check(run["rc"] == 2, "the run failed for the hosts that must fail (rc=%s)" % run["rc"])

    # A service account: the record is written as root, naming the service account; a sudo rule limited to nobody
    # stops the host before its first change, naming the settings that would mend it.
    service = "Write the service settings as the service account"
    on_ssh("ssh1", service, "cadeploy", become_user="nobody")
    on_ssh("ssh2", service, "capasswd", become_user="nobody")
    none_of("ssh7", service, "its login user may not become root")
    check(not exists("ssh7-service.conf"), "ssh7: the change did not run")
    check("ssh7 cannot keep audit records" in output and "changeaudit_record_privilege=helper" in output
          and "calimited" in output, "ssh7: the failure names the login user and the settings to fix")

    # The login user: sudo, su, and the record helper (ssh8 may run nothing else as root).
    login_note = "Write the login user's note"
    on_ssh("ssh1", login_note, "cadeploy", remote_user="cadeploy")
    on_ssh("ssh6", login_note, "casu", remote_user="casu")
    on_ssh("ssh8", login_note, "cahelper", remote_user="cahelper")
    none_of("wrongpass", login_note, "its become password is wrong")
    check(not exists("wrongpass-login.txt"), "wrongpass: the change did not run")
    check("wrongpass cannot keep audit records" in output and "ansible_become_password" in output,
          "wrongpass: the failure names the password setting")
    for record in of("ssh8", login_note):
        check(record.get("exe", "").endswith(("python3", "python3.11", "python3.12", "python3.13")) and "become_user" not in record,
              "ssh8: the helper wrote it, not a become")

    # Actions that move their work elsewhere.
    on_ssh("ssh1", "Push the release", "cadeploy", become_user="root")
    pushed = on_ssh("ssh1", "Push the release from the controller by delegation", "cadeploy", become_user="root",
                    delegated_to="localhost")
    check(pushed is None or pushed.get("inventory_host") == "ssh1", "ssh1: the delegated push is recorded on the host it changed")
    pulled = of("localhost", "Pull the host's file to the controller")
    check(len(pulled) == 1 and pulled[0].get("kept_on") == "controller" and pulled[0].get("inventory_host") == "ssh1",
          "the pull changed the controller and is recorded there, naming ssh1 as the inventory host")
    check(bool(pulled) and "become_user" not in pulled[0] and pulled[0].get("remote_user") == pwd.getpwuid(os.getuid()).pw_name,
          "the pull says it ran as the controller's user, not the play's become")
    on_ssh("ssh1", "Patch with a patch from the controller", "cadeploy", become_user="root")
    on_ssh("ssh1", "Patch with a patch on the host", "cadeploy", become_user="root")
    rebooted = on_ssh("ssh1", "Reboot", "cadeploy", become_user="root")
    boot_time = os.stat(os.path.join(scenario_dir, "hosts", "boot_id")).st_mtime
    check(rebooted is not None and rebooted["_time"] >= boot_time, "ssh1: the reboot's record was written once the host was back")
    shut = on_ssh("ssh1", "Shut down", "cadeploy", become_user="root", recorded="before_change")
    check(exists("shutdown-ran"), "ssh1: the shutdown ran")
    shutdown_time = os.stat(os.path.join(scenario_dir, "hosts", "shutdown-ran")).st_mtime
    check(shut is not None and shut["_time"] <= shutdown_time, "ssh1: the shutdown's record was written before it ran")

    # Hosts that cannot keep Linux audit records, under each policy.
    touch = "Touch the host's marker"
    for kind in ("nopython", "container"):
        none_of(kind + "_fail", touch, "policy fail")
        check(not exists(kind + "_fail-touched"), "%s_fail: the change did not run" % kind)
        check(("%s_fail cannot keep Linux audit records" % kind) in output and "changeaudit_host_policy" in output,
              "%s_fail: the failure names the host policy and its choices" % kind)
        none_of(kind + "_skip", touch, "policy skip")
        check(exists(kind + "_skip-touched"), "%s_skip: the change ran" % kind)
        check(re.search(r"%s_skip : 0 records written, 1 change not recorded \(host policy skip: " % kind, output) is not None,
              "%s_skip: the end-of-run summary lists the change as not recorded, and why" % kind)
        kept = of(kind + "_controller", touch)
        check(len(kept) == 1 and kept[0].get("kept_on") == "controller", "%s_controller: recorded in the controller's trail" % kind)
        check(exists(kind + "_controller-touched"), "%s_controller: the change ran" % kind)

    # The run's ledger says the same: a skipped host's changes by policy, a refused host's not at all.
    with open(os.path.join(scenario_dir, "ledger", run_id, "ledger.jsonl")) as handle:
        ledger = [entry for entry in map(json.loads, handle) if entry["kind"] in ("intent", "outcome")]
    for kind in ("nopython", "container"):
        lines = [line for line in ledger if line["host"] == kind + "_skip"]
        check([line["kind"] for line in lines] == ["intent", "outcome"] and lines[0].get("policy", "").startswith("host policy skip: ")
              and lines[1]["outcome"] == "skipped_by_policy", "%s_skip: the ledger has the change, skipped by the host policy" % kind)
        check(not [line for line in ledger if line["host"] == kind + "_fail"], "%s_fail: the ledger has no change" % kind)
    check(not [line for line in ledger if line["host"] == "ssh7"], "ssh7: the ledger has no change")
    recorded = [line for line in ledger if line["kind"] == "outcome" and line["outcome"] == "recorded"]
    check(len(recorded) == 15, "the ledger has an outcome 'recorded' for each record (%d)" % len(recorded))

    # Nothing else: every record of the run is one of the above.
    expected = 2 + 3 + 8 + 2
    check(len(records) == expected, "the run wrote %d records, as many as the changes it could record (%d)" % (len(records), expected))
    print("%d checks failed" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
