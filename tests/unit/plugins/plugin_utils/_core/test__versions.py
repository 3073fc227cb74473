"""The ansible-core version gate: the tested releases come from meta/runtime.yml alone."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.changeaudit.linux.plugins.callback import record_changes
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _versions

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))


@pytest.mark.parametrize(
    "text, expected",
    [("2.19.0", (2, 19)), ("2.21.0rc1", (2, 21)), ("2.22.0.dev0", (2, 22)), ("3", (3, 0)), ("", (0, 0)), ("x.y", (0, 0))],
)
def test_versions_are_parsed_to_major_minor(text, expected):
    assert _versions.parse_version(text) == expected


def test_the_tested_range_is_requires_ansible_of_meta_runtime():
    with open(os.path.join(ROOT, "meta", "runtime.yml"), encoding="utf-8") as handle:
        requires = yaml.safe_load(handle)["requires_ansible"]
    low, high = _versions.TESTED_CORE
    assert requires == ">=%d.%d.0,<%d.%d" % (low + high)
    assert _versions.tested_series() == ["2.%d" % minor for minor in range(low[1], high[1])]


@pytest.mark.parametrize(
    "text", ["", "requires_ansible: '>=2.19.0'\n", "requires_ansible: '>=2.19.0,<2.22\"\n", "requires_ansible: '>=2.19.1,<2.22'\n"]
)
def test_a_runtime_yml_without_a_closed_range_tests_nothing(tmp_path, text):
    runtime = tmp_path / "runtime.yml"
    runtime.write_text(text)
    assert _versions.read_tested_core(str(runtime)) == ((0, 0), (0, 0))
    assert _versions.read_tested_core(str(tmp_path / "missing.yml")) == ((0, 0), (0, 0))


def test_without_a_readable_runtime_yml_nothing_is_tested_and_the_message_names_the_file(monkeypatch):
    monkeypatch.setattr(_versions, "TESTED_CORE", ((0, 0), (0, 0)))
    assert not _versions.is_tested((2, 19))
    assert _versions.RUNTIME_YML in _versions.untested_message("record_changes", "2.19.0")


@pytest.mark.parametrize("core, tested", [((2, 18), False), ((2, 19), True), ((2, 21), True), ((2, 22), False), ((3, 0), False)])
def test_tested_is_a_range(core, tested):
    assert _versions.is_tested(core) is tested


def test_the_running_core_is_tested():
    assert _versions.is_tested(), "CI runs only tested cores"


def test_the_result_object_starts_with_2_21():
    assert not _versions.returns_result_object((2, 20)) and _versions.returns_result_object((2, 21))
    assert _versions.returns_result_object((2, 22))


def test_runtime_yml_is_the_collections_own():
    assert os.path.samefile(_versions.RUNTIME_YML, os.path.join(ROOT, "meta", "runtime.yml"))


def read(*path):
    with open(os.path.join(ROOT, *path), encoding="utf-8") as handle:
        return " ".join(handle.read().split())


def test_every_list_of_the_tested_releases_is_the_range():
    names = _versions.tested_series()
    spoken_and, spoken_or = _versions.tested_text(), ", ".join(names[:-1]) + " or " + names[-1]
    readme = read("README.md")
    assert "**ansible-core versions:** %s, the ones CI runs it with" % spoken_and in readme
    assert "The controller needs ansible-core %s (`meta/runtime.yml`; CI tests each)" % spoken_or in readme
    assert "- ansible-core %s on the controller" % spoken_and in readme
    callback = yaml.safe_load(record_changes.DOCUMENTATION)["requirements"][0]
    assert callback.startswith("ansible-core %s on the controller." % spoken_or)
    for core in names[1:]:
        assert os.path.exists(os.path.join(ROOT, "requirements-controller-%s.txt" % core)), core
    for core in names:
        assert os.path.exists(os.path.join(ROOT, "tests", "sanity", "ignore-%s.txt" % core)), core
