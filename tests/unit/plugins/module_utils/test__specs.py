"""The writers' argument specs: one set of backend options, its choices the backend registry's."""

from __future__ import annotations

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.changeaudit.linux.plugins.module_utils import _specs
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backends import AUTO, BACKEND_NAMES, BACKENDS

SPECS = [_specs.WRITER_ARGUMENT_SPEC, _specs.AUDITED_ARGUMENT_SPEC]


def test_backend_choices_are_auto_and_the_registry():
    backend = _specs.BACKEND_ARGUMENT_SPEC["backend"]
    assert backend["choices"] == list(BACKEND_NAMES) == [AUTO] + list(BACKENDS)
    assert backend["default"] == AUTO


@pytest.mark.parametrize("spec, required", [(_specs.WRITER_ARGUMENT_SPEC, {"op": "x"}),
                                            (_specs.AUDITED_ARGUMENT_SPEC, {"module": "ansible.builtin.copy"})],
                         ids=["usys_config", "audited"])
def test_every_writer_validates_the_backend_options_alike(spec, required):
    result = ArgumentSpecValidator(spec).validate(dict(required, backend="bogus", verify="yes"))
    assert "value of backend must be one of: %s, got: bogus" % ", ".join(BACKEND_NAMES) in result.errors.msg
    assert result.validated_parameters["verify"] is True
    defaults = ArgumentSpecValidator(spec).validate(dict(required)).validated_parameters
    assert (defaults["backend"], defaults["on_unavailable"], defaults["verify"]) == (AUTO, "fail", False)


@pytest.mark.parametrize("spec", SPECS, ids=["usys_config", "audited"])
def test_every_default_is_a_valid_value(spec):
    for name, option in spec.items():
        if option.get("required"):
            assert "default" not in option, name
        if "choices" in option and "default" in option:
            assert option["default"] in option["choices"], name
