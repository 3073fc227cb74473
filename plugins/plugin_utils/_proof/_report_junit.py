# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The JUnit XML format of each report (junit.xml), which a pipeline gates on: for the evidence a test case per change
of the ledger, for the drift report one per write and per span not watched."""

from __future__ import annotations

import typing as t
from xml.etree import ElementTree

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._drift_rows import DENIED, OUT_OF_BAND
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._evidence_rows import HOST_UNREACHABLE, NO_RECORDS_FROM_NODE, UNEXPECTED, rows_by_host
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import MISSING, SKIPPED_BY_POLICY, UNKNOWN_OUTCOME
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_text import shown


def render_evidence_junit(evidence: t.Mapping[str, t.Any]) -> str:
    """A test suite per host, a test case per change of the ledger: a failure for each without its record or with an
    unknown outcome, an error for a host whose trail was not read, skipped for the skip list."""
    # Every text through shown: ElementTree writes a control character or a surrogate as it is, which no XML parser
    # takes. A failure's text keeps its line breaks and tabs, which XML holds.
    return "".join(iter_evidence_junit(evidence))


def iter_evidence_junit(evidence: t.Mapping[str, t.Any]) -> t.Iterator[str]:
    """junit.xml's text a test suite at a time (render_evidence_junit): the tree of one host's cases, never the whole run's."""
    run_id = shown(evidence["run_id"])
    suites = ElementTree.Element("testsuites", name="changeaudit evidence %s" % run_id)
    by_host = rows_by_host(evidence)
    hosts = list(evidence["hosts"])
    if not hosts:
        yield '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"
        return
    # The root element's own text, open: each suite is serialized on its own between its start and end tags.
    suites.text = "\x00"
    head, tail = ElementTree.tostring(suites, encoding="unicode").split("\x00")
    yield '<?xml version="1.0" encoding="UTF-8"?>\n' + head
    for host in hosts:
        cases = [row for row in by_host.get(host, ()) if row["seq"] is not None]
        suite = ElementTree.Element("testsuite", name=shown(host), tests=str(len(cases)))
        counts = {"failures": 0, "errors": 0, "skipped": 0}
        for row in cases:
            case = ElementTree.SubElement(
                suite, "testcase", classname="%s.%s" % (run_id, shown(host)),
                name=shown("#%s %s: %s %s" % (row["seq"], row["task"] or "", row["module"] or "", row["object"] or "")),
            )
            status = shown(row["status"])
            if row["status"] in (MISSING, UNKNOWN_OUTCOME, NO_RECORDS_FROM_NODE, UNEXPECTED):
                ElementTree.SubElement(case, "failure", message=status, type=status).text = shown(row["reason"], "\n\t")
                counts["failures"] += 1
            elif row["status"] == HOST_UNREACHABLE:
                ElementTree.SubElement(case, "error", message=status, type=status).text = shown(row["reason"], "\n\t")
                counts["errors"] += 1
            elif row["status"] == SKIPPED_BY_POLICY:
                ElementTree.SubElement(case, "skipped", message=shown(row["reason"] or row["status"]))
                counts["skipped"] += 1
        for name, value in counts.items():
            suite.set(name, str(value))
        yield ElementTree.tostring(suite, encoding="unicode")
    yield tail + "\n"


def _who_how(row: t.Mapping[str, t.Any]) -> str:
    return ("who: auid %s (%s), uid %s (%s), ses %s, tty %s\nhow: exe %s, comm %s, proctitle %s\nwhen: %s\n"
            "what: %s %s on %s (watched object %s), pid %s" % (
                row.get("auid"), row.get("auid_name"), row.get("uid"), row.get("uid_name"), row.get("ses"), row.get("tty"),
                row.get("exe"), row.get("comm"), row.get("proctitle"), row.get("time"), row.get("action"),
                row.get("syscall"), row.get("path"), row.get("object"), row.get("pid")))


def render_drift_junit(drift: t.Mapping[str, t.Any]) -> str:
    """A suite per host: a case per write (a failure for each out-of-band one), an error case per span not watched."""
    suites = ElementTree.Element("testsuites", name="changeaudit drift")
    by_host: t.Dict[str, t.List[t.Mapping[str, t.Any]]] = {}
    for row in drift["events"]:
        by_host.setdefault(row["host"], []).append(row)
    for host, about in drift["hosts"].items():
        suite = ElementTree.SubElement(suites, "testsuite", name=shown(host))
        tests = failures = errors = skipped = 0
        for span in about.get("unwatched") or []:
            case = ElementTree.SubElement(suite, "testcase", classname="drift.%s" % shown(host),
                                          name=shown("not watched %s - %s" % (span.get("start_time"), span.get("end_time"))))
            ElementTree.SubElement(case, "error", message="not watched", type="not_watched").text = shown(span.get("reason"), "\n\t")
            tests += 1
            errors += 1
        for row in by_host.get(host, ()):
            case = ElementTree.SubElement(suite, "testcase", classname="drift.%s" % shown(host), name=shown(
                "%s %s %s by %s (%s) #%s" % (row["time"], row["action"], row["path"], row["uid_name"], row["exe"], row["serial"])))
            tests += 1
            if row["status"] == OUT_OF_BAND:
                ElementTree.SubElement(case, "failure", message="out of band", type=OUT_OF_BAND).text = shown(
                    _who_how(row) + "\nwhy: " + str(row["reason"]), "\n\t")
                failures += 1
            elif row["status"] == DENIED:
                ElementTree.SubElement(case, "skipped", message=shown("denied: " + str(row["reason"])))
                skipped += 1
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        suite.set("skipped", str(skipped))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"


__all__ = [
    "iter_evidence_junit",
    "render_evidence_junit",
    "render_drift_junit",
]
