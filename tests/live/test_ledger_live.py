"""Issue 19, proving a run, for real: ansible-playbook with the record_changes callback on localhost, then the
changeaudit.linux.evidence playbook.

- Every record the run wrote carries the host's sequence number of its change (seq=, next to task_id); the ledger
  holds an intent and an outcome line for each change with the same number, one to one: loop items and a handler
  flushed twice each get their own; an unchanged item is "unchanged"; a task on the skip list that changed the host
  is "skipped_by_policy" and has no record. The evidence playbook proves every change recorded and passes.
- A record dropped by an exclude rule (the callback in warn mode): exactly that change is reported missing, and the
  evidence playbook fails.
- A worker killed between its change and the record leaves the intent of that change without an outcome, reported
  as an unknown outcome.
- The HTML report in a real headless browser (Debian's chromium): a screenshot, and the page's text.

Records are read back with ausearch (the independent oracle), by the run's ID.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import textwrap
import typing as t
from xml.etree import ElementTree

import pytest

from livelib import ausearch_raw, msg_text
from test_fail_closed_live import LEDGER_DIR, PLAYBOOK, ansible_env, fence, localhost_play, output, run_playbook

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
    """The intent and outcome lines of the run's ledger (its start and seal lines left out)."""
    with open(os.path.join(LEDGER_DIR, run_id, "ledger.jsonl"), encoding="ascii") as handle:
        return [entry for entry in map(json.loads, handle) if entry["kind"] in ("intent", "outcome")]


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
    play = localhost_play("""\
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
    """ % {"dir": tmp_path, "m": marker})
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

    proved = prove(run_id, str(tmp_path / "report"))
    assert proved.returncode == 0, output(proved)
    evidence = report(tmp_path / "report")
    assert evidence["run_id"] == run_id and evidence["ledger"] is True
    assert {key: evidence["summary"][key] for key in ("changes", "recorded", "skipped_by_policy", "gaps")} == {
        "changes": 6, "recorded": 5, "skipped_by_policy": 1, "gaps": 0,
    }
    by_seq = {row["seq"]: row for row in evidence["changes"]}
    for seq in by_outcome["recorded"]:
        assert by_seq[seq]["status"] == "recorded" and by_seq[seq]["audit_serial"], by_seq[seq]
    with open(str(tmp_path / "report" / "evidence.csv"), encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 6
    suite = ElementTree.parse(str(tmp_path / "report" / "junit.xml")).getroot()[0]
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("localhost", "6", "0", "1")
    subprocess.run(["sha256sum", "-c", "--quiet", "MANIFEST.sha256"], cwd=str(tmp_path / "report"), check=True)

    # The same proof from an exported log (a site that forwards to a SIEM), read on the controller.
    exported = tmp_path / "exported"
    exported.mkdir()
    shutil.copyfile("/var/log/audit/audit.log", str(exported / "localhost"))
    proved = prove(run_id, str(tmp_path / "report-exported"), "-e", "evidence_log_dir=%s" % exported)
    assert proved.returncode == 0, output(proved)
    assert report(tmp_path / "report-exported")["summary"]["recorded"] == 5


def prove(run_id: str, report_dir: str, *extra: str) -> subprocess.CompletedProcess:
    """ansible-playbook changeaudit.linux.evidence on localhost, as the README says to run it."""
    return subprocess.run(
        [PLAYBOOK, "changeaudit.linux.evidence", "-i", "localhost,", "-c", "local", "-e", "run_id=%s" % run_id,
         "-e", "report_dir=%s" % report_dir, "-e", "ansible_python_interpreter=/usr/bin/python3", *extra],
        env=ansible_env(callback=False), capture_output=True, text=True, check=False, timeout=300,
    )


def report(report_dir) -> t.Dict[str, t.Any]:
    with open(os.path.join(str(report_dir), "evidence.json"), encoding="utf-8") as handle:
        return json.load(handle)


def stat_mode(path: str) -> int:
    return os.stat(path).st_mode & 0o777


def test_a_worker_killed_between_its_change_and_the_record_leaves_an_intent_without_an_outcome(tmp_path, marker):
    run_id = "ledger-kill-" + marker
    library = tmp_path / "library"
    library.mkdir()
    (library / "kill_my_worker.py").write_text(KILL_MY_WORKER)
    changed = tmp_path / ("%s-killed" % marker)
    play = localhost_play("""\
        vars:
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
        tasks:
          - name: Change, then die before the record
            kill_my_worker: {path: "%(path)s"}
    """ % {"path": changed})
    # The writer's record, which comes after the module: the module's own process would write it before the worker
    # dies (the in-module path, test_in_module_live.py).
    env = ansible_env(CHANGEAUDIT_RUN_ID=run_id, ANSIBLE_LIBRARY=str(library), CHANGEAUDIT_IN_MODULE="false")
    proc = run_playbook(tmp_path, play, env)
    assert proc.returncode != 0, output(proc)
    assert changed.read_text() == "changed", output(proc)
    entries = ledger(run_id)
    assert [(entry["kind"], entry["seq"], entry["module"]) for entry in entries] == [("intent", 1, "kill_my_worker")], entries
    assert records(run_id) == []

    proved = prove(run_id, str(tmp_path / "report"))
    assert proved.returncode != 0 and "1 change of run %s lacks proof" % run_id in proved.stdout, output(proved)
    # The worker's death ends the run before its end: the ledger has no seal, which the verdict says too.
    assert "the run did not end" in proved.stdout, output(proved)
    [row] = report(tmp_path / "report")["changes"]
    assert (row["seq"], row["status"], row["module"]) == (1, "unknown_outcome", "kill_my_worker")


def test_a_record_an_exclude_rule_dropped_is_reported_missing(tmp_path, marker):
    """The callback in warn mode lets the change through when its record cannot be kept; the proof finds the gap."""
    run_id = "ledger-missing-" + marker
    rule = ["-a", "always,exclude", "-F", "msgtype=USYS_CONFIG"]
    play = localhost_play("""\
        vars:
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
        tasks:
          - name: Recorded before the rule
            ansible.builtin.copy: {dest: "%(dir)s/before", content: "x"}
          - name: Load a rule that drops every USYS_CONFIG record
            ansible.builtin.command: auditctl %(rule)s
            changed_when: true
          - name: Changed while the rule drops its record
            ansible.builtin.copy: {dest: "%(dir)s/dropped", content: "x"}
          - name: Delete the rule
            ansible.builtin.command: auditctl %(delete)s
            changed_when: true
          - name: Recorded after the rule
            ansible.builtin.copy: {dest: "%(dir)s/after", content: "x"}
    """ % {"dir": tmp_path, "rule": " ".join(rule), "delete": " ".join(["-d"] + rule[1:])})
    env = ansible_env(CHANGEAUDIT_RUN_ID=run_id, CHANGEAUDIT_RECORD_CHANGES_SKIP="ansible.builtin.command",
                      CHANGEAUDIT_RECORD_CHANGES_MODE="warn")
    try:
        proc = run_playbook(tmp_path, play, env)
    finally:
        subprocess.run(["auditctl", "-d"] + rule[1:], capture_output=True, check=False)
    assert proc.returncode == 0, output(proc)
    assert (tmp_path / "dropped").exists()
    proved = prove(run_id, str(tmp_path / "report"))
    assert proved.returncode != 0, output(proved)
    evidence = report(tmp_path / "report")
    gaps = [(row["status"], row["object"]) for row in evidence["changes"] if row["status"] not in ("recorded", "skipped_by_policy")]
    assert gaps == [("missing", str(tmp_path / "dropped"))], evidence["changes"]
    assert "exclude" in [row for row in evidence["changes"] if row["status"] == "missing"][0]["reason"]
    # A gap is a warning when asked.
    assert prove(run_id, str(tmp_path / "report2"), "-e", "evidence_fail_on_gaps=false").returncode == 0


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium (Debian's package) is not installed; scripts/setup.sh installs it")
def test_the_html_report_in_a_real_browser(tmp_path, marker):
    run_id = "ledger-html-" + marker
    play = localhost_play("""\
        vars:
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
        tasks:
          - name: 'Write <b>the</b> file & its "quotes"'
            ansible.builtin.copy: {dest: "%(dir)s/page", content: "x"}
    """ % {"dir": tmp_path})
    proc = run_playbook(tmp_path, play, ansible_env(CHANGEAUDIT_RUN_ID=run_id))
    assert proc.returncode == 0, output(proc)
    proved = prove(run_id, str(tmp_path / "report"))
    assert proved.returncode == 0, output(proved)
    page = "file://%s" % (tmp_path / "report" / "evidence.html")
    browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=%s" % (tmp_path / "profile")]
    shot = tmp_path / "evidence.png"
    subprocess.run(browser + ["--screenshot=%s" % shot, "--window-size=1280,900", page], capture_output=True, timeout=120,
                   check=False)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000
    dom = subprocess.run(browser + ["--dump-dom", page], capture_output=True, text=True, timeout=120, check=False).stdout
    text = re.sub(r"<[^>]+>", " ", dom)
    assert "Every change of the run has its record." in text
    assert "Audit evidence of run" in text and run_id in text
    # The task name is text on the page, not markup.
    assert "&lt;b&gt;the&lt;/b&gt; file" in dom and "<b>the</b>" not in dom
    assert "recorded" in text and "ansible.builtin.copy" in text


def test_imported_at_the_end_of_the_deploy_it_proves_the_run_it_is_part_of(tmp_path, marker):
    """No run ID given anywhere: the run derives one, and the imported proof finds it."""
    # The marker in the path: pytest's tmp_path repeats between sessions while the audit log keeps their records.
    deployed = tmp_path / ("%s-deployed" % marker)
    play = localhost_play("""\
        vars:
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
        tasks:
          - name: Deploy %(m)s
            ansible.builtin.copy: {dest: "%(dest)s", content: "x"}
    """ % {"dest": deployed, "m": marker}) + textwrap.dedent("""
        - name: Prove it
          ansible.builtin.import_playbook: changeaudit.linux.evidence
          vars:
            report_dir: %(dir)s/report
            ansible_python_interpreter: /usr/bin/python3
            ansible_connection: local
    """ % {"dir": tmp_path})
    proc = run_playbook(tmp_path, play, ansible_env())
    assert proc.returncode == 0, output(proc)
    evidence = report(tmp_path / "report")
    [row] = evidence["changes"]
    assert row["status"] == "recorded" and row["object"] == str(deployed)
    fence()
    [text] = [msg_text(line) for line in ausearch_raw(marker)]
    assert field(text, "run_id") == evidence["run_id"]
