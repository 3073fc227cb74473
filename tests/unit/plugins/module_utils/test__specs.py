"""The writers' argument specs: one set of backend options, its choices the backend registry's."""

from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils import _specs
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.backends import AUTO, BACKEND_NAMES, BACKENDS

SPECS = [_specs.WRITER_ARGUMENT_SPEC, _specs.AUDITED_ARGUMENT_SPEC]


def test_backend_choices_are_auto_and_the_registry():
    backend = _specs.BACKEND_ARGUMENT_SPEC["backend"]
    assert backend["choices"] == list(BACKEND_NAMES) == [AUTO] + list(BACKENDS)
    assert backend["default"] == AUTO


@pytest.mark.parametrize("spec", SPECS, ids=["usys_config", "audited"])
def test_every_writer_takes_the_backend_options(spec):
    for name, option in _specs.BACKEND_ARGUMENT_SPEC.items():
        assert spec[name] is option


@pytest.mark.parametrize("spec", SPECS, ids=["usys_config", "audited"])
def test_every_default_is_a_valid_value(spec):
    for name, option in spec.items():
        if option.get("required"):
            assert "default" not in option, name
        if "choices" in option and "default" in option:
            assert option["default"] in option["choices"], name


def test_the_writer_invocation_keeps_its_order():
    """AnsibleModule reports the options in spec order (invocation.module_args); so does the bundle writer."""
    assert list(_specs.WRITER_ARGUMENT_SPEC) == [
        "op", "fields", "hash_fields", "result", "comm", "hostname", "addr", "terminal", "context", "verify",
        "backend", "on_unavailable",
    ]
