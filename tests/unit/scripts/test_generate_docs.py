"""scripts/generate_docs.py: the committed docs are what it generates, and it rewrites every place that names the
tested releases when requires_ansible changes."""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SPEC = importlib.util.spec_from_file_location("generate_docs", os.path.join(ROOT, "scripts", "generate_docs.py"))
generate_docs = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(generate_docs)


def test_the_committed_docs_are_what_the_generator_makes(capsys):
    assert generate_docs.main(["--check"]) == 0, capsys.readouterr().out


def test_the_releases_come_from_requires_ansible():
    assert generate_docs.tested_releases() == ["2.19", "2.20", "2.21"]


def test_a_new_release_reaches_every_place(tmp_path, monkeypatch):
    for relative in list(generate_docs.generated_parts(["2.19"])) + ["meta/runtime.yml"]:
        os.makedirs(os.path.dirname(str(tmp_path / relative)), exist_ok=True)
        shutil.copyfile(os.path.join(ROOT, relative), str(tmp_path / relative))
    runtime = tmp_path / "meta" / "runtime.yml"
    runtime.write_text(runtime.read_text().replace("<2.22", "<2.23"))
    monkeypatch.setattr(generate_docs, "ROOT", str(tmp_path))
    assert generate_docs.main(["--check"]) == 1
    assert generate_docs.main([]) == 0
    readme = (tmp_path / "README.md").read_text()
    assert "**ansible-core versions:** 2.19, 2.20, 2.21 and 2.22, the ones CI runs it with" in readme
    assert "The controller needs ansible-core 2.19, 2.20, 2.21 or 2.22 (`meta/runtime.yml`" in readme
    assert "- ansible-core 2.19, 2.20, 2.21 and 2.22 on the controller" in readme
    assert "  - ansible-core 2.19, 2.20, 2.21 or 2.22 on the controller." in (tmp_path / "plugins/callback/record_changes.py").read_text()
    assert generate_docs.main(["--check"]) == 0


def test_a_sentence_the_generator_cannot_find_stops_it():
    with pytest.raises(SystemExit, match="expected one place"):
        generate_docs.generate("README.md", "no such sentence", generate_docs.generated_parts(["2.19"])["README.md"])
