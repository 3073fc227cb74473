"""What the docs say is what the code takes: each plugin's documented options are its argument spec, and every
list of backend names is the registry's.

validate-modules checks options for usys_config, whose module builds an AnsibleModule, but not for audited, whose
module file is documentation only: its action plugin validates against AUDITED_ARGUMENT_SPEC. These run on the
controller (YAML, the action and callback plugins), so they live outside tests/unit/plugins/module_utils.
"""

from __future__ import annotations

import os
import re
import typing as t

import pytest
import yaml

from ansible_collections.changeaudit.linux.plugins.action import audited as audited_action
from ansible_collections.changeaudit.linux.plugins.callback import record_changes
from ansible_collections.changeaudit.linux.plugins.doc_fragments import _attributes, _backend
from ansible_collections.changeaudit.linux.plugins.doc_fragments import _hashing as hashing_doc
from ansible_collections.changeaudit.linux.plugins.module_utils import _specs
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backends import AUTO, BACKEND_NAMES, BACKENDS
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import (
    AUDIT_MESSAGE_TEXT_MAX,
    AUDIT_USYS_CONFIG,
    RESERVED_FIELD_NAMES,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.fieldnames import ausearch_tokens
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record import fields
from ansible_collections.changeaudit.linux.plugins.modules import audit_status_info, audited, evidence_report, usys_config
from ansible_collections.changeaudit.linux.plugins.modules import usys_config_info
from ansible_collections.changeaudit.linux.plugins.modules import verify_evidence
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _plugins
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record import _audited, _context, _hashing

COLLECTION = "changeaudit.linux."
# Imported with the test module, not when a test runs: once ansible-core's collection loader is installed (the
# action plugin tests do that under plain pytest), a late import of a collection module fails.
FRAGMENTS = {"_attributes": _attributes, "_backend": _backend, "_hashing": hashing_doc}


def fragment_options(slug: str) -> t.Dict[str, t.Any]:
    """The options of ``changeaudit.linux.<fragment>[.<VARIABLE>]``, as ansible-doc resolves it."""
    assert slug.startswith(COLLECTION), slug
    name, _dot, variable = slug[len(COLLECTION):].partition(".")
    assert name in FRAGMENTS, "import the %s doc fragment above" % name
    fragment = FRAGMENTS[name].ModuleDocFragment
    return yaml.safe_load(getattr(fragment, variable.upper() or "DOCUMENTATION")).get("options") or {}


def documented_options(documentation: str) -> t.Dict[str, t.Any]:
    doc = yaml.safe_load(documentation)
    options = dict(doc.get("options") or {})
    for slug in doc.get("extends_documentation_fragment") or []:
        extra = fragment_options(slug)
        # ansible-doc would let one silently replace the other.
        assert not set(options) & set(extra), slug
        options.update(extra)
    return options


def normalized(option: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """What both the docs and the spec may say about an option, with the defaults AnsibleModule applies."""
    return {
        "type": option.get("type", "str"),
        "elements": option.get("elements"),
        "choices": option.get("choices"),
        "default": option.get("default"),
        "aliases": sorted(option.get("aliases") or []),
        "required": bool(option.get("required", False)),
    }


@pytest.mark.parametrize(
    "documentation, spec",
    [
        (audited.DOCUMENTATION, _specs.AUDITED_ARGUMENT_SPEC),
        (usys_config.DOCUMENTATION, _specs.WRITER_ARGUMENT_SPEC),
        (evidence_report.DOCUMENTATION, _specs.EVIDENCE_ARGUMENT_SPEC),
        (verify_evidence.DOCUMENTATION, _specs.VERIFY_EVIDENCE_ARGUMENT_SPEC),
    ],
    ids=["audited", "usys_config", "evidence_report", "verify_evidence"],
)
def test_documented_options_are_the_spec(documentation, spec):
    documented = documented_options(documentation)
    assert sorted(documented) == sorted(spec)
    for name, option in spec.items():
        assert normalized(documented[name]) == normalized(option), name


def test_backend_options_are_the_doc_fragment():
    assert {name: normalized(option) for name, option in fragment_options("changeaudit.linux._backend").items()} == {
        name: normalized(option) for name, option in _specs.BACKEND_ARGUMENT_SPEC.items()
    }


def test_audited_action_takes_exactly_its_spec():
    assert audited_action.ActionModule._VALID_ARGS == frozenset(_specs.AUDITED_ARGUMENT_SPEC)


@pytest.mark.parametrize(
    "documentation",
    [_backend.ModuleDocFragment.DOCUMENTATION, record_changes.DOCUMENTATION],
    ids=["backend_doc_fragment", "record_changes_callback"],
)
def test_documented_backend_choices_are_the_registry(documentation):
    documented = yaml.safe_load(documentation)["options"]["backend"]
    assert documented["choices"] == list(BACKEND_NAMES) == [AUTO] + list(BACKENDS)
    assert documented["default"] == AUTO


def test_audit_status_info_sample_names_every_backend():
    sample = yaml.safe_load(audit_status_info.RETURN)["backends"]["sample"]
    assert list(sample) == list(BACKENDS)


# --- the record limits guide and the hash key notes --------------------------------------------------------------

GUIDE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "docs", "docsite", "rst", "guide_record_limits.rst")


def guide_text() -> str:
    with open(GUIDE, encoding="utf-8") as handle:
        return " ".join(handle.read().split())


def test_the_guide_states_the_margin_the_code_keeps():
    text = guide_text()
    for label, value in (
        ("fields, encoded, at most", _audited.RECORD_FIELDS_MAX),
        ("written as hex) - ", _audited.TRAILER_ROOM),
        ("(``subj=``) - ", _audited.KERNEL_PREFIX_ROOM),
        ("what the kernel keeps - ", AUDIT_MESSAGE_TEXT_MAX),
    ):
        assert "%s - %d bytes" % (label.rstrip(" -"), value) in text, label


def test_the_guide_states_each_bound_the_code_cuts_at():
    text = guide_text()
    for parts, bound in (
        ("``play``, ``cmd``", _context.CONTEXT_TEXT_MAX["cmd"]),
        ("``delegated_to``, ``run_id``", _context.CONTEXT_TEXT_DEFAULT_MAX),
        ("``seq``", _context.CONTEXT_TEXT_MAX["seq"]),
        ("``object``", _audited.OBJECT_TEXT_MAX),
        ("``arg_names`` (under ``no_log``)", _audited.ARG_NAMES_MAX),
        ("``module``", _audited.MODULE_NAME_MAX),
    ):
        assert re.search(re.escape(parts) + r"[^*]* - %d bytes" % bound, text), parts
    assert set(_context.CONTEXT_TEXT_MAX) == {"play", "cmd", "task_path", "seq"}
    assert "``[cut:sha256:<hex>]``" in text and _context.CUT_MARK == "[cut:sha256:%s]"


@pytest.mark.parametrize("plugin", [audited, usys_config, record_changes], ids=lambda plugin: plugin.__name__.rsplit(".")[-1])
def test_every_plugin_that_hashes_documents_the_hash_key(plugin):
    assert "changeaudit.linux._hashing" in yaml.safe_load(plugin.DOCUMENTATION)["extends_documentation_fragment"]


def test_the_hash_key_notes_name_the_variables_the_code_reads():
    notes = " ".join(yaml.safe_load(hashing_doc.ModuleDocFragment.DOCUMENTATION)["notes"])
    guide = guide_text()
    for name in (_hashing.KEY_VAR, _hashing.KEY_FILE_VAR, _hashing.UNKEYED_VAR, _hashing.KEY_ENV, _hashing.KEY_FILE_ENV,
                 _hashing.UNKEYED_ENV, _hashing.KEY_ID_TEXT.decode(), "at least %d bytes" % _hashing.MIN_KEY_BYTES,
                 _audited.WITHHELD_FIELD):
        assert name in notes, name
        assert name in guide, name


# --- lists the docs copy from the code --------------------------------------------------------------------------


def documented_values(text: str) -> t.List[str]:
    return re.findall(r"V\(([a-z0-9_-]+)\)", text)


def test_usys_config_documents_every_context_field_it_writes():
    description = " ".join(documented_options(usys_config.DOCUMENTATION)["context"]["description"])
    first = description.split(" after O(fields)", maxsplit=1)[0]
    assert documented_values(first) == list(fields.names(fields.CONTEXT)) == list(_context.CONTEXT_FIELDS)
    retired = description.split("Records written by version 1.0.0")[1].split(".", maxsplit=1)[0]
    # ctl_auid was the login uid's name before any release.
    assert set(documented_values(retired)) == fields.retired(fields.CONTEXT) - {"ctl_auid"}


def test_usys_config_info_selects_by_each_field_the_table_says_it_filters_by():
    documented = documented_options(usys_config_info.DOCUMENTATION)
    for row in fields.FIELDS:
        if row.reader_filter:
            assert normalized(documented[row.name])["type"] == "str", row.name
            assert usys_config_info.ARGUMENT_SPEC[row.name]["type"] == "str", row.name
            # A field's retired name finds the records written under it.
            assert normalized(documented[row.name])["aliases"] == sorted(row.retired), row.name
    shortcuts = [name for name in documented if "short for a V(%s) key in O(fields)" % name in " ".join(
        documented[name]["description"])]
    # The context's fields it filters by are shortcuts for O(fields); op= and comm= are not fields a play gives.
    assert shortcuts == [name for name in fields.READER_FILTERS if name in fields.names(fields.CONTEXT)]


def test_record_changes_documents_its_built_in_skip_list():
    description = " ".join(yaml.safe_load(record_changes.DOCUMENTATION)["description"])
    sentence = description.split("Not recorded, as they change nothing on a host or record themselves, are ")[1]
    listed = re.findall(r"C\(([a-z_*]+)\)", sentence.split("this collection's own modules", maxsplit=1)[0])
    expanded = set()
    for name in listed:
        if name.endswith("*"):
            matches = {action for action in _plugins.CONTROLLER_ONLY_ACTIONS if action.startswith(name[:-1])}
            assert matches, name
            expanded |= matches
        else:
            expanded.add(name)
    assert expanded == set(_plugins.CONTROLLER_ONLY_ACTIONS)


def test_usys_config_documents_the_reserved_names_and_the_ausearch_tokens_the_binding_refuses():
    lines = documented_options(usys_config.DOCUMENTATION)["fields"]["description"]
    reserved = next(line for line in lines if "use themselves" in line)
    documented = set(documented_values(reserved.split("use themselves")[1]))
    assert "V(a0) to V(a3)" in reserved
    assert documented | {"a1", "a2"} == set(RESERVED_FIELD_NAMES)
    tokens = next(line for line in lines if "ausearch finds by substring search" in line)
    listed = documented_values(tokens.split("for example", maxsplit=1)[0])
    suffixes, _exact = ausearch_tokens(AUDIT_USYS_CONFIG)
    assert listed == list(suffixes)
