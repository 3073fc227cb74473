"""The program the writer runs on a target: the binding it carries, the request inside it."""

from __future__ import annotations

import base64
import datetime
import json
import os
import uuid

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils import _program

AUDIT = _program.AUDIT_PACKAGE + "."


# --- the binding the program carries ---------------------------------------------------------------------------------------------------


def test_bundle_holds_what_request_needs_and_no_more():
    sources = _program.bundle_sources()
    names = {name[len(AUDIT):] for name in sources}
    assert {"request", "backends", "record", "encoding", "errors", "netlink", "libaudit", "constants", "status"} <= names
    assert "reader" not in names
    for name, source in sources.items():
        with open(os.path.join(_program.AUDIT_DIR, name[len(AUDIT):] + ".py"), encoding="utf-8") as handle:
            assert handle.read() == source


def test_bundle_refuses_a_binding_that_imports_beyond_the_stdlib(tmp_path):
    (tmp_path / "request.py").write_text("import json\nfrom %sother import x\n" % AUDIT)
    (tmp_path / "other.py").write_text("from __future__ import annotations\nif True:\n    import yaml  # needs PyYAML\n")
    with pytest.raises(ValueError, match="other.py imports yaml"):
        _program.bundle_sources(str(tmp_path))


def test_the_request_travels_encoded_inside_the_program():
    marker = "m-" + uuid.uuid4().hex
    hostile = marker + "''' \"\"\" \n)\nimport os; os.system('false')#"
    program = _program.program_for({"op": "x", "fields": {"v": hostile}})
    assert marker not in program
    assert program.startswith(_program.entry_program())
    payload = program.rsplit("_main(_PACKED, _MAGIC, ", 1)[1].rstrip(")\n")
    assert json.loads(base64.b64decode(eval(payload)))["fields"]["v"] == hostile  # noqa: S307 (a str literal)


def test_values_yaml_can_hold_are_sent_as_the_module_gets_them():
    program = _program.program_for({"fields": {"when": datetime.date(2026, 1, 2), "set": ("a",)}})
    payload = program.rsplit("_main(_PACKED, _MAGIC, ", 1)[1].rstrip(")\n")
    assert json.loads(base64.b64decode(eval(payload)))["fields"] == {"when": "2026-01-02", "set": ["a"]}  # noqa: S307
