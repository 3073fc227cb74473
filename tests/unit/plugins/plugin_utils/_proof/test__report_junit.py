"""The JUnit format of a report: a failing case per change without its record."""

from __future__ import annotations

from xml.etree import ElementTree


def test_junit_fails_the_change_without_its_record(written):
    directory, _result, _sums = written
    root = ElementTree.parse(str(directory / "junit.xml")).getroot()
    suites = {suite.get("name"): suite for suite in root}
    assert suites["web1"].get("tests") == "2" and suites["web1"].get("failures") == "1"
    assert suites["web2"].get("skipped") == "1"
    failed = [case for case in suites["web1"] if case.find("failure") is not None]
    assert len(failed) == 1 and failed[0].find("failure").get("type") == "unknown_outcome"
