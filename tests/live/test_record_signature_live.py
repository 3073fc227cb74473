"""Issue 29, each record signed by the controller, for real: records written through the real writer, read back from
audit.log, checked by the evidence playbook and by verify_evidence from the log alone.

- The signature field reads as one field, the value signed, in ``ausearch -i`` and auparse of the audit userspace
  under test (``nox -s audit-userspace -- VERSION`` runs that test under each version built), and our reader's
  record verifies.
- An honest run of the record_changes callback: every record carries ``ctl_sig``, the evidence proves the run, and
  ``verify_evidence -e audit_log=... -e public_key=...`` says each record is intact, with no controller at hand.
- Records forged on the host with the run's run_id, seq and task_id (unsigned, with a signature lifted from another
  record, with res flipped): each is named unexpected with its reason, the genuine records stay recorded, and the
  check of the log alone names each.
- A record replayed from another run that reused the run_id: its signature is genuine, its task is not the one the
  ledger names; it is named, and proves nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import typing as t

from livelib import AUDIT_LOG, AUDIT_PREFIX, AUDIT_VERSION_LOG, auparse_records, ausearch_command, wait_for_lines
from test_fail_closed_live import LEDGER_DIR, PLAYBOOK, ansible_env, fence, localhost_play, output, run_playbook
from test_ledger_live import ledger, prove, report

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.reader import AuditLogReader, RecordFilter
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.request import execute
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _signing

TASK_ID = "02fc0000-0001-16ba-5381-00000000000%d"


def write(params: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """One record through the binding, in this process, as the writer sends it on a host (root can always do this)."""
    outcome = execute(dict(params, check_mode=False, backend="auto", on_unavailable="fail", verify=False,
                           forwarding=False, hash_fields=[], comm="ansible"))
    assert outcome.get("recorded"), outcome
    return outcome


def read_back(name: str, value: str) -> t.List[t.Any]:
    """Our reader's records of the log the audit userspace under test writes whose field ``name`` is ``value``."""
    log = AUDIT_VERSION_LOG if AUDIT_PREFIX else AUDIT_LOG
    return list(AuditLogReader(log, include_rotated=False, record_filter=RecordFilter(fields={name: value})))


def test_a_signed_record_reads_as_one_field_in_ausearch_and_auparse(marker):
    key = _signing.SigningKey.generate()
    run_id = "sig-" + marker
    # Text written as hex (the object) and as it is, both signed as the bytes the record holds.
    params = _signing.sign_record(key, {
        "op": "ansible-change:ansible.builtin.copy:/etc/motd", "result": "success",
        "fields": {"run_id": run_id, "seq": "1", "task_id": TASK_ID % 1, "inventory_host": "web1",
                   "module": "ansible.builtin.copy", "object": "/etc/a file é"},
    })
    signature = params["fields"][_signing.RECORD_SIG_FIELD]
    mac = params["fields"][_signing.RECORD_MAC_FIELD]
    write(params)
    assert wait_for_lines(run_id)
    [record] = read_back("run_id", run_id)
    assert record.fields[_signing.RECORD_SIG_FIELD] == signature
    assert _signing.record_signature_problem(key.public_key, record.op, record.result, record.fields) is None
    # ausearch -i: one ctl_sig= and one ctl_mac=, each holding its value whole, between the object and comm=.
    proc = subprocess.run(ausearch_command("-m", "USYS_CONFIG", "-i"), capture_output=True, text=True, errors="replace",
                          check=False)
    [line] = [line for line in proc.stdout.splitlines() if run_id in line]
    assert line.count(" %s=" % _signing.RECORD_SIG_FIELD) == line.count(" %s=" % _signing.RECORD_MAC_FIELD) == 1, line
    assert (' %s="%s" %s="%s" comm=' % (_signing.RECORD_SIG_FIELD, signature, _signing.RECORD_MAC_FIELD, mac)) in line, line
    # auparse: exactly one field of that name, the value signed, and every field sent still there after it.
    [fields] = auparse_records("run_id", run_id)
    names = [name for name, _value in fields]
    assert names.count(_signing.RECORD_SIG_FIELD) == names.count(_signing.RECORD_MAC_FIELD) == 1, fields
    at = names.index(_signing.RECORD_SIG_FIELD)
    assert fields[at][1].strip('"') == signature and fields[at + 1] == (_signing.RECORD_MAC_FIELD, '"%s"' % mac), fields
    assert names[at - 1] == "object" and names[at + 2] == "comm", fields


# --- a run of the callback, then forged and replayed records -------------------------------------------------------


CHANGES = """\
vars:
  ansible_python_interpreter: "{{ ansible_playbook_python }}"
tasks:
  - name: Write a file
    ansible.builtin.copy: {dest: "%(dir)s/a", content: "signed"}
  - name: Write another
    ansible.builtin.copy: {dest: "%(dir)s/b", content: "signed"}
"""


def run_changes(tmp_path, run_id: str, ledger_dir: str = LEDGER_DIR) -> None:
    (tmp_path / "files").mkdir(exist_ok=True)
    proc = run_playbook(tmp_path, localhost_play(CHANGES % {"dir": tmp_path / "files"}),
                        ansible_env(CHANGEAUDIT_RUN_ID=run_id, CHANGEAUDIT_LEDGER_DIR=ledger_dir))
    assert proc.returncode == 0, output(proc)


def verify_log(run_id: str, log: str, public_key: str) -> t.Tuple[subprocess.CompletedProcess, t.Dict[str, t.Any]]:
    """ansible-playbook changeaudit.linux.verify_evidence on single records, as an auditor runs it without the
    controller (its public key only); the action's result from the JSON callback."""
    proc = subprocess.run(
        [PLAYBOOK, "-v", "changeaudit.linux.verify_evidence", "-e", "audit_log=%s" % log, "-e",
         "public_key=%s" % public_key, "-e", "run_id=%s" % run_id],
        env=ansible_env(callback=False), capture_output=True, text=True, check=False, timeout=300,
    )
    # The first task's result, as the default callback shows it with -v: "ok: [localhost] => {...}" or "fatal: ...".
    [line] = [line for line in proc.stdout.splitlines() if line.startswith(("ok: [localhost] => {", "fatal: [localhost]: FAILED! => {"))][:1]
    return proc, json.loads(line.split("=> ", 1)[1])


def signed_records(run_id: str) -> t.List[t.Any]:
    fence()
    return read_back("run_id", run_id)


def test_an_honest_run_verifies_and_forged_records_are_named(tmp_path, marker):
    run_id = "sig-run-" + marker
    run_changes(tmp_path, run_id)
    public_key = os.path.join(LEDGER_DIR, _signing.PUBLIC_KEY_FILE)
    key = _signing.load_public_key(public_key)
    genuine = signed_records(run_id)
    assert len(genuine) == 2
    for record in genuine:
        assert _signing.signature_key_id(record.fields.get(_signing.RECORD_SIG_FIELD)) == key.key_id, record.text
        assert _signing.record_signature_problem(key, record.op, record.result, record.fields) is None, record.text
    proved = prove(run_id, str(tmp_path / "honest"))
    assert proved.returncode == 0, output(proved)
    honest = report(tmp_path / "honest")
    assert honest["summary"]["recorded"] == 2 and honest["summary"]["gaps"] == 0, honest["summary"]
    assert honest["signatures"] == {"required": True, "key_id": key.key_id}
    checked, result = verify_log(run_id, AUDIT_LOG, public_key)
    assert checked.returncode == 0, output(checked)
    assert result["records_checked"] == 2 and result["records_failed"] == 0 and result["intact"] is True, result

    # Root on the host writes records that claim the run's first change: the same run_id, seq, task_id and host.
    first = min(genuine, key=lambda record: int(record.fields["seq"]))
    second = max(genuine, key=lambda record: int(record.fields["seq"]))
    claim = {name: value for name, value in first.fields.items() if name != _signing.RECORD_SIG_FIELD}
    write({"op": first.op, "result": "success", "fields": claim})
    write({"op": first.op, "result": "success",
           "fields": dict(claim, **{_signing.RECORD_SIG_FIELD: second.fields[_signing.RECORD_SIG_FIELD]})})
    # The genuine record of the second change, its res flipped: every other byte the controller's.
    write({"op": second.op, "result": "failed", "fields": dict(second.fields)})
    proved = prove(run_id, str(tmp_path / "forged"), "-e", "evidence_fail_on_gaps=false")
    assert proved.returncode == 0, output(proved)
    forged = report(tmp_path / "forged")
    rows = [(row["seq"], row["status"], row["reason"]) for row in forged["changes"]]
    assert forged["summary"]["recorded"] == 2 and forged["summary"]["unexpected"] == 3, rows
    reasons = sorted(reason for _seq, status, reason in rows if status == "unexpected")
    assert reasons[0].startswith("signature does not verify: forged or altered"), reasons
    assert any("res was changed from success to failed" in reason for reason in reasons), reasons
    assert any(reason.startswith("unsigned") for reason in reasons), reasons
    checked, result = verify_log(run_id, AUDIT_LOG, public_key)
    assert checked.returncode != 0, output(checked)
    assert result["records_checked"] == 5 and result["records_failed"] == 3, result
    assert "3 of the 5 change records" in result["msg"] and "res was changed" in result["msg"], result["msg"]


def test_a_record_replayed_from_another_run_with_the_same_run_id_is_named(tmp_path, marker):
    # A pipeline reran with the same run_id and a fresh ledger: the first run's records are signed by the same key,
    # for the same run_id, host and seq, but by tasks the second run's ledger does not name.
    run_id = "sig-replay-" + marker
    first_ledgers = str(tmp_path / "first-ledgers")
    os.makedirs(first_ledgers, mode=0o700)
    # One key for both: the first run's ledgers live elsewhere, their key is the same file.
    env_key = {"CHANGEAUDIT_SIGNING_KEY_FILE": os.path.join(LEDGER_DIR, _signing.KEY_FILE)}
    for directory in (first_ledgers, LEDGER_DIR):
        (tmp_path / "files").mkdir(exist_ok=True)
        proc = run_playbook(tmp_path, localhost_play(CHANGES % {"dir": tmp_path / "files"}),
                            ansible_env(CHANGEAUDIT_RUN_ID=run_id, CHANGEAUDIT_LEDGER_DIR=directory, **env_key))
        assert proc.returncode == 0, output(proc)
        # The second run must change something too.
        for name in ("a", "b"):
            (tmp_path / "files" / name).write_text("before the rerun")
    assert len(ledger(run_id)) == 4
    proved = prove(run_id, str(tmp_path / "replayed"), "-e", "evidence_fail_on_gaps=false")
    assert proved.returncode == 0, output(proved)
    replayed = report(tmp_path / "replayed")
    rows = [(row["seq"], row["status"], row["reason"]) for row in replayed["changes"]]
    assert replayed["summary"]["recorded"] == 2 and replayed["summary"]["unexpected"] == 2, rows
    for _seq, status, reason in rows:
        if status == "unexpected":
            assert "another run with the same run_id" in reason, rows
