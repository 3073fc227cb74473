"""Reconciling a run's ledger with the records each host holds, and the report's files."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import os
from xml.etree import ElementTree

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _evidence as evidence

RUN = "run-9"


def intent(host, seq, **extra):
    return dict({"kind": "intent", "host": host, "seq": seq, "time": "2026-12-03T10:00:%02d.000+00:00" % seq,
                 "task_id": "t-%d" % seq, "module": "ansible.builtin.copy", "object": "/etc/f%d" % seq, "cmd": "Task %d" % seq},
                **extra)


def outcome(host, seq, said, **extra):
    return dict({"kind": "outcome", "host": host, "seq": seq, "outcome": said}, **extra)


def record(seq, run=RUN, serial=100, **fields):
    values = {"run_id": run, "module": "ansible.builtin.copy", "object": "/etc/f%s" % seq, "cmd": "Task %s" % seq,
              "task_id": "t-%s" % seq}
    if seq is not None:
        values["seq"] = str(seq)
    values.update(fields)
    return {"timestamp": 1796292000.5 + (seq or 0), "serial": serial + (seq or 0), "event_id": "x:%s" % serial,
            "hostname": "ctl", "node": None, "auid_name": "alice", "fields": values}


# What the check of a whole, sealed ledger reports (_ledger.open_ledger).
SEALED = {"problems": [], "sealed": True, "final": True, "head": "f" * 64, "lines": 9, "keyed": True}


def statuses(result):
    return [(row["host"], row["seq"], row["status"]) for row in result["changes"]]


def test_each_change_gets_its_status():
    ledger = [
        intent("web1", 1), outcome("web1", 1, "recorded"),
        intent("web1", 2), outcome("web1", 2, "unchanged"),
        intent("web1", 3), outcome("web1", 3, "recorded"),
        intent("web1", 4),
        intent("web1", 5, policy="skip list"), outcome("web1", 5, "skipped_by_policy"),
        intent("web1", 6), outcome("web1", 6, "not_recorded", reason="auditd is not running"),
        intent("db1", 1), outcome("db1", 1, "recorded"),
    ]
    reads = {
        "web1": {"reachable": True, "records": [
            record(1), record(7), record(None, module="changeaudit.linux.usys_config"), record(1, serial=500),
            record(2, run="other-run"),
        ]},
        "db1": {"reachable": False, "records": [], "error": "ssh: connection refused"},
    }
    result = evidence.reconcile(RUN, ledger, reads, SEALED)
    assert statuses(result) == [
        ("db1", 1, "host_unreachable"),
        ("web1", 1, "recorded"),
        ("web1", 1, "unexpected"),
        ("web1", 3, "missing"),
        ("web1", 4, "unknown_outcome"),
        ("web1", 5, "skipped_by_policy"),
        ("web1", 6, "missing"),
        ("web1", 7, "unexpected"),
        ("web1", None, "own_record"),
    ]
    rows = {(row["host"], row["seq"], row["status"]): row for row in result["changes"]}
    assert rows[("web1", 6, "missing")]["reason"] == "auditd is not running"
    assert rows[("web1", 1, "unexpected")]["reason"] == "a second record of this change"
    assert rows[("web1", 1, "recorded")]["audit_serial"] == 101 and rows[("web1", 1, "recorded")]["login"] == "alice"
    assert rows[("db1", 1, "host_unreachable")]["reason"] == "ssh: connection refused"
    assert result["summary"]["gaps"] == 6 and result["summary"]["recorded"] == 1
    assert result["hosts"]["web1"]["nodes"] == [] and result["hosts"]["db1"]["reachable"] is False
    forwarded = evidence.reconcile(RUN, None, {"web1": {"reachable": True, "records": [dict(record(None), node="web1.example")]}})
    assert forwarded["hosts"]["web1"]["nodes"] == ["web1.example"]
    assert result["window"] == {"since": "2026-12-03T09:55:01+00:00", "until": "2026-12-03T10:05:06+00:00"}


def test_a_record_whose_outcome_was_lost_still_proves_the_change():
    result = evidence.reconcile(RUN, [intent("web1", 1)], {"web1": {"reachable": True, "records": [record(1)]}}, SEALED)
    [row] = result["changes"]
    assert row["status"] == "recorded" and "no outcome" in row["reason"]
    assert result["summary"]["gaps"] == 0


def test_a_record_naming_another_host_is_that_hosts_even_in_a_shared_log():
    shared = [record(1, inventory_host="web1"), record(1, inventory_host="web2", serial=200),
              record(2, inventory_host="web2", delegated_to="web1", serial=300)]
    ledger = [intent("web1", 1), outcome("web1", 1, "recorded"), intent("web2", 1), outcome("web2", 1, "recorded"),
              intent("web1", 2), outcome("web1", 2, "recorded")]
    result = evidence.reconcile(RUN, ledger, {"web1": {"reachable": True, "records": shared},
                                              "web2": {"reachable": True, "records": shared}}, SEALED)
    assert statuses(result) == [("web1", 1, "recorded"), ("web1", 2, "recorded"), ("web2", 1, "recorded")]
    assert result["hosts"]["web1"]["records_of_other_hosts"] == 1 and result["hosts"]["web2"]["records_of_other_hosts"] == 2


def test_a_record_kept_on_the_controller_proves_the_change_of_the_host_it_names():
    # changeaudit_host_policy=controller: the switch keeps no record; the controller's log holds it, naming the switch.
    kept = record(1, inventory_host="switch1", changed_host="switch1", kept_on="controller")
    ledger = [intent("switch1", 1), outcome("switch1", 1, "recorded")]
    result = evidence.reconcile(RUN, ledger, {"switch1": {"reachable": True, "records": []}}, SEALED,
                                controller={"reachable": True, "records": [kept]})
    assert statuses(result) == [("switch1", 1, "recorded")]
    assert result["summary"]["gaps"] == 0


def test_a_record_of_another_run_with_the_same_run_id_proves_nothing():
    # A pipeline rerun with the same run_id and a fresh ledger: the first run's record has the run, host and seq of
    # the second run's change, but not the task the second run's ledger says made it.
    ledger = [intent("web1", 1, task_id="second-run-task"), outcome("web1", 1, "not_recorded", reason="dropped")]
    result = evidence.reconcile(RUN, ledger, {"web1": {"reachable": True, "records": [record(1, task_id="first-run-task")]}},
                                SEALED)
    assert statuses(result) == [("web1", 1, "missing"), ("web1", 1, "unexpected")]
    assert "another run with the same run_id" in result["changes"][1]["reason"]


@pytest.mark.parametrize("found, statuses_found", [
    ([record(1)], [("web1", 1, "recorded")]),
    ([], [("web1", 1, "unknown_outcome")]),
])
def test_an_unknown_outcome_is_a_gap_unless_its_record_is_there(found, statuses_found):
    ledger = [intent("web1", 1), outcome("web1", 1, "unknown", reason="the host became unreachable during the task")]
    result = evidence.reconcile(RUN, ledger, {"web1": {"reachable": True, "records": found}}, SEALED)
    assert statuses(result) == statuses_found
    assert "unreachable" in result["changes"][0]["reason"]


def test_a_ledger_no_seal_covers_or_with_problems_is_not_proven():
    ledger = [intent("web1", 1), outcome("web1", 1, "recorded")]
    reads = {"web1": {"reachable": True, "records": [record(1)]}}
    unsealed = evidence.reconcile(RUN, ledger, reads, dict(SEALED, sealed=False, final=False))
    assert unsealed["summary"]["gaps"] == 1 and unsealed["summary"]["change_gaps"] == 0
    assert unsealed["verdict"].startswith("Not proven: the run did not end")
    problem = {"line": 3, "problem": "edited", "detail": "line 3 does not match its mac"}
    tampered = evidence.reconcile(RUN, ledger, reads, dict(SEALED, problems=[problem]))
    assert tampered["summary"]["ledger_problems"] == 1 and tampered["summary"]["gaps"] == 1
    assert "line 3 does not match its mac" in tampered["verdict"]
    checkpoint = evidence.reconcile(RUN, ledger, reads, dict(SEALED, final=False))
    assert checkpoint["summary"]["gaps"] == 0 and "so far" in checkpoint["verdict"]
    assert evidence.reconcile(RUN, ledger, reads, SEALED)["verdict"] == "Every change of the run has its record."


def test_the_cost_grows_with_rows_not_hosts_times_rows():
    hosts = ["h%05d" % number for number in range(3000)]
    ledger = [line for host in hosts for line in (intent(host, 1), outcome(host, 1, "recorded"))]
    reads = {host: {"reachable": True, "records": [record(1, inventory_host=host)]} for host in hosts}
    result = evidence.reconcile(RUN, ledger, reads, SEALED)
    assert result["summary"]["recorded"] == 3000 and all(about["changes"] == 1 for about in result["hosts"].values())


def test_a_host_of_the_ledger_that_was_not_read_is_a_gap():
    result = evidence.reconcile(RUN, [intent("web9", 1), outcome("web9", 1, "recorded")], {}, SEALED)
    assert statuses(result) == [("web9", 1, "host_unreachable")]


def test_without_a_ledger_the_report_is_an_inventory():
    result = evidence.reconcile(RUN, None, {"web1": {"reachable": True, "records": [record(None), record(None, serial=7)]}})
    assert [row["status"] for row in result["changes"]] == ["recorded", "recorded"]
    assert result["ledger"] is False and result["summary"]["gaps"] == 0


HOSTILE = '<script>alert(1)</script>=cmd|" ,\n&amp;'


@pytest.fixture
def written(tmp_path):
    ledger = [intent("web1", 1, cmd=HOSTILE), outcome("web1", 1, "recorded"), intent("web1", 2), intent("web2", 1),
              outcome("web2", 1, "skipped_by_policy")]
    result = evidence.reconcile(RUN, ledger, {"web1": {"reachable": True, "records": [record(1, cmd=HOSTILE)]},
                                              "web2": {"reachable": True, "records": []}}, SEALED)
    sums = evidence.write_report(result, str(tmp_path / "report"))
    return tmp_path / "report", result, sums


def test_the_json_is_the_whole_reconciliation(written):
    directory, result, _sums = written
    loaded = json.loads((directory / "evidence.json").read_text())
    assert loaded == json.loads(json.dumps(result)) and loaded["format"] == 2


def test_the_csv_has_a_row_per_change_and_no_formula(written):
    directory, result, _sums = written
    rows = list(csv.DictReader(io.StringIO((directory / "evidence.csv").read_text())))
    assert len(rows) == len(result["changes"]) == 3
    # The line break shown as an escape: one line per change (test_renderers_take_any_text).
    assert rows[0]["task"] == HOSTILE.replace("\n", "\\x0a")
    assert all(not value.startswith(("=", "+", "-", "@")) for row in rows for value in row.values())


def test_junit_fails_the_change_without_its_record(written):
    directory, _result, _sums = written
    root = ElementTree.parse(str(directory / "junit.xml")).getroot()
    suites = {suite.get("name"): suite for suite in root}
    assert suites["web1"].get("tests") == "2" and suites["web1"].get("failures") == "1"
    assert suites["web2"].get("skipped") == "1"
    failed = [case for case in suites["web1"] if case.find("failure") is not None]
    assert len(failed) == 1 and failed[0].find("failure").get("type") == "unknown_outcome"


def test_the_html_page_escapes_every_value_and_needs_nothing_else(written):
    directory, _result, _sums = written
    page = (directory / "evidence.html").read_text()
    # One script, the page's own filter and pages, inline; the record's is text.
    assert page.count("<script>") == 1 and "alert(1)" not in page.split("<script>")[1]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "src=" not in page and "href=" not in page and "@import" not in page
    assert "1 change without proof" in page


def test_the_manifest_holds_the_sha256_of_each_file(written):
    directory, _result, sums = written
    lines = (directory / "MANIFEST.sha256").read_text().splitlines()
    assert [line.split("  ")[1] for line in lines] == list(evidence.REPORT_FILES)
    for line in lines:
        digest, name = line.split("  ")
        assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == digest == sums[name]
    assert sorted(os.listdir(str(directory))) == sorted(list(evidence.REPORT_FILES) + [evidence.MANIFEST, evidence.MANIFEST_JSON])


# --- the signed report (write_report with the controller's key) --------------------------------------------------


@pytest.fixture
def signed(tmp_path):
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import SigningKey

    key = SigningKey.generate()
    result = evidence.reconcile(RUN, [intent("web1", 1), outcome("web1", 1, "recorded")],
                                {"web1": {"reachable": True, "records": [record(1)]}}, SEALED)
    sums = evidence.write_report(result, str(tmp_path / "report"), key, ledger_head="ab" * 32)
    return tmp_path / "report", key, sums


def test_the_signed_manifest_lists_every_file_and_the_ledger_head(signed):
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import verify

    directory, key, sums = signed
    data = (directory / evidence.MANIFEST_JSON).read_bytes()
    manifest = json.loads(data)
    assert manifest["ledger_head"] == "ab" * 32 and manifest["key_id"] == key.key_id and manifest["run_id"] == RUN
    assert sorted(manifest["files"]) == sorted(list(evidence.REPORT_FILES) + [evidence.MANIFEST, evidence.REPORT_PUBLIC_KEY])
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == digest
    assert {name: manifest["files"][name] for name in evidence.REPORT_FILES} == sums
    assert verify(key.public_key, data, (directory / evidence.MANIFEST_SIG).read_text().strip())
    assert (directory / evidence.REPORT_PUBLIC_KEY).read_text() == key.public_pem()
    assert sorted(os.listdir(str(directory))) == sorted(list(manifest["files"]) + [evidence.MANIFEST_JSON, evidence.MANIFEST_SIG])


def test_report_files_are_0640_and_made_fresh_never_written_in_place(signed):
    directory, key, _sums = signed
    for name in os.listdir(str(directory)):
        assert os.stat(str(directory / name)).st_mode & 0o777 == 0o640, name
    # A hard link to the old evidence.json (what another process may still hold open) keeps the old bytes.
    os.link(str(directory / "evidence.json"), str(directory.parent / "old.json"))
    before = (directory.parent / "old.json").read_bytes()
    result = evidence.reconcile(RUN, [intent("web1", 1), outcome("web1", 1, "recorded")], {"web1": {"reachable": True, "records": []}}, SEALED)
    evidence.write_report(result, str(directory), key)
    assert (directory.parent / "old.json").read_bytes() == before != (directory / "evidence.json").read_bytes()


def test_a_planted_symlink_is_replaced_not_written_through(signed, tmp_path):
    directory, key, _sums = signed
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    os.unlink(str(directory / "evidence.csv"))
    os.symlink(str(victim), str(directory / "evidence.csv"))
    result = evidence.reconcile(RUN, None, {}, None)
    evidence.write_report(result, str(directory), key)
    assert victim.read_text() == "untouched\n"
    assert not os.path.islink(str(directory / "evidence.csv"))


def test_a_report_dir_that_is_a_symlink_or_another_users_is_refused(tmp_path):
    import pwd

    from ansible.errors import AnsibleError

    result = evidence.reconcile(RUN, None, {}, None)
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(str(real), str(tmp_path / "link"))
    with pytest.raises(AnsibleError, match="link: it is a symlink, which is never followed"):
        evidence.write_report(result, str(tmp_path / "link"))
    assert os.listdir(str(real)) == []
    other = pwd.getpwnam("nobody")
    os.chown(str(real), other.pw_uid, -1)
    with pytest.raises(AnsibleError, match=r"real: it is owned by uid %d, not by the controller's user" % other.pw_uid):
        evidence.write_report(result, str(real))
    assert os.listdir(str(real)) == []


def test_an_unsigned_report_leaves_no_earlier_signature_behind(signed):
    directory, _key, _sums = signed
    evidence.write_report(evidence.reconcile(RUN, None, {}, None), str(directory))
    names = os.listdir(str(directory))
    assert evidence.MANIFEST_SIG not in names and evidence.REPORT_PUBLIC_KEY not in names
    assert json.loads((directory / evidence.MANIFEST_JSON).read_text())["key_id"] is None


# --- any bytes, any control character (issue 28) -----------------------------------------------------------------

# Text a record can hold: the reader gives an undecodable byte as its surrogateescape stand-in (U+DC80..U+DCFF).
HOSTILE_TEXTS = [
    ("nul", "a\x00b", "a\\x00b"),
    ("c0", "".join(chr(code) for code in range(0x20)), "".join("\\x%02x" % code for code in range(0x20))),
    ("del and c1", "\x7f\x80\x85\x9f", "\\x7f\\x80\\x85\\x9f"),
    ("undecodable bytes", b"\xff\xfe\x80 caf\xc3".decode("utf-8", "surrogateescape"), "\\xff\\xfe\\x80 caf\\xc3"),
    ("lone surrogates", "\ud800x\udfff", "\\ud800x\\udfff"),
    ("noncharacters", "\ufffe\uffff\ufdd0\U0010ffff", "\\ufffe\\uffff\\ufdd0\\U0010ffff"),
    ("line breaks", "one\r\ntwo\u2028three\u2029", "one\\x0d\\x0atwo\\u2028three\\u2029"),
    ("markup", "]]><x a='&amp;'/>\"", "]]><x a='&amp;'/>\""),
    ("plain unicode", "\u00e9\U0001f525\u202e", "\u00e9\U0001f525\u202e"),
]


def hostile_evidence(text):
    host = "web\x00" + text
    ledger = [intent(host, 1, cmd=text, object=text), outcome(host, 1, "recorded"),
              intent(host, 2, cmd="=" + text), intent("web2", 1, cmd=text)]
    reads = {host: {"reachable": True, "records": [record(1, cmd=text, object=text, become_user=text)]},
             "web2": {"reachable": False, "records": [], "error": text}}
    result = evidence.reconcile(RUN + text, ledger, reads, SEALED)
    # A reason with any text: a gap's failure text in junit.xml.
    for row in result["changes"]:
        if row["status"] != "recorded":
            row["reason"] = "why\n\t" + text
    return result


def check_renderers(result):
    """Each renderer's text is valid UTF-8; the junit parses with a strict XML parser, the CSV has one line per
    change, the HTML holds no character it cannot show, evidence.json gives back every value."""
    rendered = {name: render(result).encode("utf-8") for name, render in (
        ("json", evidence.render_json), ("csv", evidence.render_csv), ("junit", evidence.render_junit),
        ("html", evidence.render_html))}
    assert json.loads(rendered["json"].decode("utf-8")) == json.loads(json.dumps(result))
    root = ElementTree.fromstring(rendered["junit"])
    assert sum(int(suite.get("tests")) for suite in root) == len(result["changes"])
    csv_text = rendered["csv"].decode("utf-8")
    rows = list(csv.reader(io.StringIO(csv_text)))
    assert len(rows) == len(csv_text.splitlines()) == len(result["changes"]) + 1
    assert all(len(row) == len(evidence.CSV_COLUMNS) for row in rows)
    page = rendered["html"].decode("utf-8")
    assert not [char for char in page if char != "\n" and (ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0)]
    for name in ("csv", "junit", "html"):
        assert not [char for char in rendered[name].decode("utf-8") if char in "\ufffe\uffff\u2028\u2029\x85"]
    return rendered, root, rows, page


@pytest.mark.parametrize("text, seen", [case[1:] for case in HOSTILE_TEXTS], ids=[case[0] for case in HOSTILE_TEXTS])
def test_renderers_take_any_text(text, seen):
    result = hostile_evidence(text)
    _rendered, root, rows, page = check_renderers(result)
    tasks = [case.get("name") for suite in root for case in suite]
    assert "#1 %s: ansible.builtin.copy %s" % (seen, seen) in tasks, tasks
    assert [suite.get("name") for suite in root][0] == "web\\x00" + seen
    failure = [case.find("error") for suite in root for case in suite if case.find("error") is not None]
    # A failure's text keeps its line breaks and tabs, which XML holds.
    assert failure and failure[0].text == "why\n\t" + evidence.shown(text, "\n\t")
    assert rows[1][evidence.CSV_COLUMNS.index("task")] == seen or rows[1][evidence.CSV_COLUMNS.index("task")] == "'" + seen
    assert rows[2][evidence.CSV_COLUMNS.index("task")] == "'=" + seen
    assert "<td>%s</td>" % html.escape(seen) in page


hypothesis = pytest.importorskip("hypothesis")


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(
    # Any code point, surrogates, control characters and unassigned ones often; or bytes as the reader gives them.
    hypothesis.strategies.text(alphabet=hypothesis.strategies.one_of(
        hypothesis.strategies.characters(codec=None, exclude_categories=()),
        hypothesis.strategies.characters(categories=["Cs", "Cc", "Cn"])), max_size=40)
    | hypothesis.strategies.binary(max_size=40).map(lambda raw: raw.decode("utf-8", "surrogateescape")))
def test_renderers_take_any_generated_text(text):
    result = hostile_evidence(text)
    check_renderers(result)
    seen = evidence.shown(text)
    assert seen.encode("utf-8") is not None and not [char for char in seen if ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0]


def test_shown_escapes_exactly_what_cannot_be_seen():
    assert evidence.shown(None) == "" and evidence.shown(7) == "7"
    assert evidence.shown("a\\x00b") == "a\\x00b", "a backslash is left as it is"
    assert evidence.shown("\x00\t\n", keep="\n\t") == "\\x00\t\n"
    assert evidence.shown("\udc80\udcff\udc7f") == "\\x80\\xff\\udc7f"


# --- signed records (issue 29) --------------------------------------------------------------------------------------

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import SigningKey, sign_record  # noqa: E402

KEY = SigningKey.generate()
OP = "ansible-change:ansible.builtin.copy"
# What a run of 1.2 on says in its ledger: it signs its records.
SIGNED_LEDGER = dict(SEALED, entries=[{"kind": "start", "key_id": KEY.key_id, "record_signature": "ctl_sig"}])


def signed_record(seq, key=KEY, res="success", **fields):
    made = record(seq, inventory_host=fields.pop("inventory_host", "web1"), **fields)
    params = sign_record(key, {"op": OP, "result": res, "fields": made["fields"]})
    return dict(made, op=OP, result=res, fields=params["fields"])


def two_changes():
    return [intent("web1", 1), outcome("web1", 1, "recorded"), intent("web1", 2), outcome("web1", 2, "recorded")]


def reasons(result):
    return [(row["seq"], row["status"], row["reason"]) for row in result["changes"] if row["status"] == "unexpected"]


def test_signed_records_prove_their_changes_and_the_report_says_signatures_were_required():
    result = evidence.reconcile(RUN, two_changes(), {"web1": {"reachable": True, "records": [signed_record(1), signed_record(2)]}},
                                SIGNED_LEDGER, public_key=KEY)
    assert statuses(result) == [("web1", 1, "recorded"), ("web1", 2, "recorded")]
    assert result["signatures"] == {"required": True, "key_id": KEY.key_id} and result["summary"]["gaps"] == 0


def forged_copies():
    genuine = signed_record(1)
    unsigned = record(1, inventory_host="web1")
    lifted = dict(record(1, inventory_host="web1"), op=OP, result="success")
    lifted["fields"]["ctl_sig"] = signed_record(2)["fields"]["ctl_sig"]
    flipped = dict(genuine, result="failed", serial=900)
    other_key = signed_record(1, key=SigningKey.generate())
    return genuine, [unsigned, lifted, flipped, other_key]


@pytest.mark.parametrize("forged_first", [True, False])
def test_forged_records_are_unexpected_and_never_displace_the_genuine_one_whatever_the_order(forged_first):
    genuine, forged = forged_copies()
    found = forged + [genuine] if forged_first else [genuine] + forged
    result = evidence.reconcile(RUN, two_changes()[:2], {"web1": {"reachable": True, "records": found}},
                                SIGNED_LEDGER, public_key=KEY)
    recorded = [row for row in result["changes"] if row["status"] == "recorded"]
    assert len(recorded) == 1 and recorded[0]["audit_serial"] == genuine["serial"]
    said = sorted(reason for _seq, _status, reason in reasons(result))
    assert len(said) == 4
    assert said[0].startswith("signature does not verify: forged or altered (a signed field")
    assert "res was changed from success to failed" in said[1]
    assert said[2].startswith("signed by the key") and said[3].startswith("unsigned")


def test_a_record_forged_on_another_host_for_this_hosts_change_counts_nowhere():
    # Root on web2 writes web1's change, signature and all, naming web1: it is web1's only in web1's own trail.
    genuine = signed_record(1)
    reads = {"web1": {"reachable": True, "records": []}, "web2": {"reachable": True, "records": [genuine]}}
    result = evidence.reconcile(RUN, two_changes()[:2], reads, SIGNED_LEDGER, public_key=KEY)
    assert statuses(result) == [("web1", 1, "missing")]
    assert result["hosts"]["web2"]["records_of_other_hosts"] == 1


def test_a_record_signed_for_another_run_or_altered_to_this_run_is_unexpected():
    other_run = signed_record(1, run="run-other")
    moved = dict(other_run, fields=dict(other_run["fields"], run_id=RUN))
    result = evidence.reconcile(RUN, two_changes()[:2], {"web1": {"reachable": True, "records": [other_run, moved]}},
                                SIGNED_LEDGER, public_key=KEY)
    assert statuses(result) == [("web1", 1, "missing"), ("web1", 1, "unexpected")]
    assert reasons(result)[0][2].startswith("signature does not verify")


def test_a_replayed_record_of_a_run_that_reused_the_run_id_is_named_by_its_task():
    replayed = signed_record(1, task_id="first-run-task")
    ledger = [intent("web1", 1, task_id="second-run-task"), outcome("web1", 1, "recorded")]
    result = evidence.reconcile(RUN, ledger, {"web1": {"reachable": True, "records": [replayed]}}, SIGNED_LEDGER,
                                public_key=KEY)
    assert statuses(result) == [("web1", 1, "missing"), ("web1", 1, "unexpected")]
    assert "another run with the same run_id" in reasons(result)[0][2]


def test_kept_on_controller_counts_only_from_the_controllers_own_trail():
    kept = signed_record(1, inventory_host="switch1", changed_host="switch1", kept_on="controller")
    ledger = [intent("switch1", 1), outcome("switch1", 1, "recorded")]
    # Found in a managed host's trail (root there wrote or copied it): unexpected, and the change is not proven.
    result = evidence.reconcile(RUN, ledger, {"web1": {"reachable": True, "records": [kept]},
                                              "switch1": {"reachable": True, "records": []}},
                                SIGNED_LEDGER, public_key=KEY, controller={"reachable": True, "records": []})
    assert sorted(statuses(result)) == [("switch1", 1, "missing"), ("web1", 1, "unexpected")]
    assert "only the controller's own trail holds those" in reasons(result)[0][2]
    # From the controller's trail it proves the change; the same event seen again in a log shared with the
    # controller's (test hosts on one machine) is that log, not a second record.
    result = evidence.reconcile(RUN, ledger, {"web1": {"reachable": True, "records": [kept]},
                                              "switch1": {"reachable": True, "records": []}},
                                SIGNED_LEDGER, public_key=KEY, controller={"reachable": True, "records": [kept]})
    assert statuses(result) == [("switch1", 1, "recorded")]
    assert result["hosts"]["web1"]["records_of_other_hosts"] == 1
    # A controller's trail that could not be read is named in the reason of what is missing.
    result = evidence.reconcile(RUN, ledger, {"switch1": {"reachable": True, "records": []}}, SIGNED_LEDGER,
                                public_key=KEY, controller={"reachable": False, "records": [], "error": "sudo: a password is required"})
    assert "sudo: a password is required" in result["changes"][0]["reason"]


def test_a_run_that_signs_nothing_is_matched_as_before_and_a_bad_signature_still_counts():
    # A ledger of before 1.2 says nothing of signatures: unsigned records prove their changes.
    flipped = dict(signed_record(2), result="failed")
    result = evidence.reconcile(RUN, two_changes(), {"web1": {"reachable": True, "records": [record(1, inventory_host="web1"),
                                                                                             flipped]}},
                                SEALED, public_key=KEY)
    assert statuses(result) == [("web1", 1, "recorded"), ("web1", 2, "missing"), ("web1", 2, "unexpected")]


def test_an_own_record_with_a_bad_signature_is_unexpected_and_an_unsigned_one_is_listed():
    audited = signed_record(None, module="changeaudit.linux.audited")
    bad = dict(audited, result="failed")
    plain = record(None, inventory_host="web1", module="changeaudit.linux.usys_config")
    result = evidence.reconcile(RUN, two_changes()[:2], {"web1": {"reachable": True, "records": [signed_record(1), audited, bad, plain]}},
                                SIGNED_LEDGER, public_key=KEY)
    assert sorted(statuses(result), key=str) == sorted([("web1", 1, "recorded"), ("web1", None, "own_record"),
                                                        ("web1", None, "own_record"), ("web1", None, "unexpected")], key=str)


def test_reconcile_of_many_forged_records_diagnoses_only_the_first_ones(monkeypatch):
    monkeypatch.setattr(evidence, "DIAGNOSED_MAX", 3)
    forged = [dict(signed_record(1), serial=1000 + n, result="failed") for n in range(6)]
    result = evidence.reconcile(RUN, two_changes()[:2], {"web1": {"reachable": True, "records": forged}}, SIGNED_LEDGER,
                                public_key=KEY)
    said = [reason for _seq, _status, reason in reasons(result)]
    assert sum("res was changed" in reason for reason in said) == 3 and len(said) == 6


def test_the_report_files_are_streamed_as_the_renderers_write_them(tmp_path):
    """write_report streams each file in pieces (a report of 200,000 changes is never held whole): the bytes are
    the renderers' text, across the pieces' boundaries (a thousand rows, a thousand hosts), and evidence.json the
    same JSON value as one json.dumps of the whole reconciliation."""
    hosts = ["h%04d" % number for number in range(1203)]
    ledger = [intent(host, 1) for host in hosts] + [outcome(host, 1, "recorded") for host in hosts[::2]]
    reads = {host: {"reachable": True, "records": [record(1, inventory_host=host)] if number % 3 else []}
             for number, host in enumerate(hosts)}
    result = evidence.reconcile(RUN, ledger, reads, SEALED)
    result["changes"][5]["task"] = HOSTILE + "\udc80\u2028"
    sums = evidence.write_report(result, str(tmp_path / "report"))
    renderers = {"evidence.json": evidence.render_json, "evidence.csv": evidence.render_csv,
                 "junit.xml": evidence.render_junit, "evidence.html": evidence.render_html}
    for name, render in renderers.items():
        data = (tmp_path / "report" / name).read_bytes()
        assert data == render(result).encode("utf-8") and sums[name] == hashlib.sha256(data).hexdigest()
    loaded = json.loads((tmp_path / "report" / "evidence.json").read_text(encoding="utf-8"))
    assert loaded == json.loads(json.dumps(result, ensure_ascii=False).translate(evidence._JSON_SURROGATES))
    assert loaded["changes"][5]["task"] == HOSTILE + "\udc80\u2028"
    suites = ElementTree.fromstring((tmp_path / "report" / "junit.xml").read_bytes())
    assert [suite.get("name") for suite in suites] == list(result["hosts"])
    assert sum(int(suite.get("tests")) for suite in suites) == len(hosts)
