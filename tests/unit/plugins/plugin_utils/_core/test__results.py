"""A task's final result as the hook sees it, whatever ansible-core returns."""

from __future__ import annotations

import types

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _execution, _results


@pytest.fixture
def execution():
    yield _execution.Execution(types.SimpleNamespace(_task=types.SimpleNamespace(_uuid="uuid-1", ignore_errors=True)))
    _results.forget_not_ignorable()


def test_a_dict_result_is_read_and_failed_in_place(execution):
    result = {"changed": True, "msg": "ok"}
    view = _results.DictResult(execution, result)
    assert view.changed and not view.failed and view.get("msg") == "ok"
    view.fail("not recorded")
    view.not_ignorable()
    assert result == {"changed": True, "msg": "not recorded", "failed": True} and execution.task.ignore_errors is False


def test_an_object_result_is_failed_over_failed_when_and_not_ignorable_in_this_worker(execution):
    utr = types.SimpleNamespace(changed=True, failed=False, skipped=False, unreachable=False, diff=None, msg="",
                                failed_when_result=False, ignore_errors=True, result_data={"rc": 0})
    view = _results.ObjectResult(execution, utr)
    assert view.changed and view.get("rc") == 0 and view.get("msg") == ""
    view.fail("not recorded")
    view.not_ignorable()
    assert utr.failed and utr.failed_when_result is None and utr.msg == "not recorded" and utr.ignore_errors is False
    assert _results.refused_here(execution.task)


@pytest.mark.parametrize("register, names", [
    (None, []), ("out", ["out"]), ({"out": "_task.polymorphic_result", "rc": "_task.result.rc"}, ["out"]),
])
def test_register_binds_the_plain_result_names(register, names):
    assert _results.register_names(register) == names
