"""The registry of the reports' formats, and how a report's files are written: any text, each file made fresh."""

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
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _report_json
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report import DRIFT, EVIDENCE, REPORT_FORMATS, report_files
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_csv import EVIDENCE_COLUMNS
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_text import shown
from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._proof.evidence_helpers import (
    HOSTILE,
    HOSTILE_TEXTS,
    RUN,
    SEALED,
    hostile_evidence,
    intent,
    outcome,
    record,
)


def test_every_report_has_its_files_and_the_json_format_is_one_renderer():
    assert report_files(EVIDENCE) == ("evidence.json", "evidence.csv", "junit.xml", "evidence.html")
    assert report_files(DRIFT) == ("drift.json", "drift.csv", "junit.xml", "drift.html")
    assert REPORT_FORMATS[EVIDENCE]["json"].render is REPORT_FORMATS[DRIFT]["json"].render


def test_report_files_are_0640_and_made_fresh_never_written_in_place(signed_report):
    directory, key, _sums = signed_report
    for name in os.listdir(str(directory)):
        assert os.stat(str(directory / name)).st_mode & 0o777 == 0o640, name
    # A hard link to the old evidence.json (what another process may still hold open) keeps the old bytes.
    os.link(str(directory / "evidence.json"), str(directory.parent / "old.json"))
    before = (directory.parent / "old.json").read_bytes()
    result = evidence.reconcile(RUN, [intent("web1", 1), outcome("web1", 1, "recorded")], {"web1": {"reachable": True, "records": []}}, SEALED)
    evidence.write_report(result, str(directory), key)
    assert (directory.parent / "old.json").read_bytes() == before != (directory / "evidence.json").read_bytes()


def test_a_planted_symlink_is_replaced_not_written_through(signed_report, tmp_path):
    directory, key, _sums = signed_report
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    os.unlink(str(directory / "evidence.csv"))
    os.symlink(str(victim), str(directory / "evidence.csv"))
    result = evidence.reconcile(RUN, None, {}, None)
    evidence.write_report(result, str(directory), key)
    assert victim.read_text() == "untouched\n"
    assert not os.path.islink(str(directory / "evidence.csv"))


def check_renderers(result):
    """Each renderer's text is valid UTF-8; the junit parses with a strict XML parser, the CSV has one line per
    change, the HTML holds no character it cannot show, evidence.json gives back every value."""
    rendered = {name: "".join(about.render(result)).encode("utf-8") for name, about in REPORT_FORMATS[EVIDENCE].items()}
    assert json.loads(rendered["json"].decode("utf-8")) == json.loads(json.dumps(result))
    root = ElementTree.fromstring(rendered["junit"])
    assert sum(int(suite.get("tests")) for suite in root) == len(result["changes"])
    csv_text = rendered["csv"].decode("utf-8")
    rows = list(csv.reader(io.StringIO(csv_text)))
    assert len(rows) == len(csv_text.splitlines()) == len(result["changes"]) + 1
    assert all(len(row) == len(EVIDENCE_COLUMNS) for row in rows)
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
    assert failure and failure[0].text == "why\n\t" + shown(text, "\n\t")
    assert rows[1][EVIDENCE_COLUMNS.index("task")] == seen or rows[1][EVIDENCE_COLUMNS.index("task")] == "'" + seen
    assert rows[2][EVIDENCE_COLUMNS.index("task")] == "'=" + seen
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
    seen = shown(text)
    assert seen.encode("utf-8") is not None and not [char for char in seen if ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0]


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
    renderers = {about.file: about.render for about in REPORT_FORMATS[EVIDENCE].values()}
    for name, render in renderers.items():
        data = (tmp_path / "report" / name).read_bytes()
        assert data == "".join(render(result)).encode("utf-8") and sums[name] == hashlib.sha256(data).hexdigest()
    loaded = json.loads((tmp_path / "report" / "evidence.json").read_text(encoding="utf-8"))
    assert loaded == json.loads(json.dumps(result, ensure_ascii=False).translate(_report_json._JSON_SURROGATES))
    assert loaded["changes"][5]["task"] == HOSTILE + "\udc80\u2028"
    suites = ElementTree.fromstring((tmp_path / "report" / "junit.xml").read_bytes())
    assert [suite.get("name") for suite in suites] == list(result["hosts"])
    assert sum(int(suite.get("tests")) for suite in suites) == len(hosts)
