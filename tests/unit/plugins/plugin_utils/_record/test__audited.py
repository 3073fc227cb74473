from __future__ import annotations

import types

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import validate_op
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._audited import (
    ATTEMPT_KEY,
    change_record_params,
    final_outcome,
    module_arguments,
    record_op,
    record_result,
    register_names,
)


def make_task(**fields):
    defaults = dict(changed_when=[], failed_when=[], until=[], retries=None, register=None)
    defaults.update(fields)
    for name in ("changed_when", "failed_when", "until"):
        # Conditionals from a playbook are trusted templates.
        defaults[name] = [trust_as_template(item) if isinstance(item, str) else item for item in defaults[name]]
    return types.SimpleNamespace(**defaults)


@pytest.fixture
def templar():
    return Templar(loader=DataLoader())


@pytest.mark.parametrize(
    "changed, failed, record_failures, expected",
    [
        (True, False, False, "success"),
        (True, True, False, "failed"),
        (False, True, False, None),
        (False, True, True, "failed"),
        (False, False, True, None),
    ],
)
def test_record_result(changed, failed, record_failures, expected):
    assert record_result(changed, failed, record_failures) == expected


def test_module_arguments_drop_what_action_plugins_add():
    assert module_arguments({"path": "/x", "_ansible_check_mode": False, "_ansible_no_log": True}) == {"path": "/x"}


@pytest.mark.parametrize(
    "register, names",
    [(None, []), ("out", ["out"]), ({"out": "_task.polymorphic_result", "rc": "_task.result.rc"}, ["out"])],
)
def test_register_names(register, names):
    assert register_names(register) == names


def test_params_name_the_inventory_host_and_the_delegated_host():
    params = change_record_params(
        module_fqcn="ansible.builtin.copy",
        module_args={"dest": "/etc/motd", "content": "hi", "_ansible_diff": True},
        result={"diff": [{"before": "a", "after": "b"}]},
        res="success",
        no_log=False,
        extra_fields={"ticket": "CHG-1"},
        extra_source="by test",
        hash_extra=False,
        context={"task": "t", "run_id": "r"},
        inventory_host="web1",
        delegated_to="backup1",
        backend="auto",
        on_unavailable="fail",
    )
    fields = params["fields"]
    assert list(fields)[:4] == ["module", "object_arg", "object", "diff_sha256"]
    assert fields["inventory_host"] == "web1" and fields["delegated_to"] == "backup1"
    assert fields["ticket"] == "CHG-1" and fields["run_id"] == "r"
    assert params["hash_fields"] == [] and params["result"] == "success" and params["context"] is False
    assert "verify" not in params


def test_params_under_no_log_hash_the_object_and_list_argument_names_only():
    params = change_record_params(
        module_fqcn="ansible.builtin.copy",
        module_args={"dest": "/etc/token", "content": "s3cret", "_ansible_no_log": True},
        result={"diff": {"after": "s3cret"}},
        res="success",
        no_log=True,
        extra_fields={"ticket": "CHG-1"},
        extra_source="by test",
        hash_extra=False,
        context=None,
        inventory_host=None,
        delegated_to=None,
        backend="auto",
        on_unavailable="warn",
        verify=True,
    )
    assert "s3cret" not in repr(params)
    assert params["fields"]["arg_names"] == "content,dest"
    assert "object" not in params["fields"] and params["fields"]["withheld"] == "object,diff"
    assert params["fields"]["ticket"] == "CHG-1", "hash_extra=False: the play's fields are no secret of the task"
    assert params["hash_fields"] == []
    assert params["verify"] is True


def test_static_fields_may_not_replace_change_fields():
    with pytest.raises(Exception, match="module"):
        change_record_params(
            module_fqcn="m", module_args={}, result={}, res="success", no_log=False, extra_fields={"module": "x"},
            extra_source="by test", hash_extra=False, context=None, inventory_host=None, delegated_to=None, backend="auto",
            on_unavailable="fail",
        )


@pytest.mark.parametrize(
    "task, result, expected",
    [
        (make_task(), {"changed": True}, (True, False, True)),
        (make_task(changed_when=[False]), {"changed": True}, (False, False, True)),
        (make_task(changed_when=["out.rc == 2"], register="out"), {"changed": False, "rc": 2, "failed": False}, (True, False, True)),
        (make_task(failed_when=["'boom' in out.stdout"], register="out"), {"changed": True, "stdout": "boom"}, (True, True, True)),
        (make_task(failed_when=[False]), {"changed": True, "failed": True}, (True, False, True)),
        # rc without failed fails, as in TaskExecutor.
        (make_task(), {"changed": True, "rc": 3}, (True, True, True)),
        (make_task(), {"skipped": True, "changed": False}, (False, False, True)),
        # An expression that cannot be evaluated fails the task.
        (make_task(changed_when=["undefined_thing.x"]), {"changed": True}, (True, True, True)),
    ],
)
def test_final_outcome_applies_changed_when_and_failed_when(templar, task, result, expected):
    assert final_outcome(task, templar, {}, result) == expected


def test_final_outcome_with_until_counts_attempts_in_the_task_vars(templar):
    task = make_task(until=["out.stdout == 'ready'"], retries=2, register="out")
    task_vars = {}
    assert final_outcome(task, templar, task_vars, {"changed": True, "stdout": "wait"}) == (True, False, False)
    assert task_vars[ATTEMPT_KEY] == 1
    assert final_outcome(task, templar, task_vars, {"changed": True, "stdout": "ready"}) == (True, False, True)
    fresh = {}
    final_outcome(task, templar, fresh, {"changed": True, "stdout": "wait"})
    final_outcome(task, templar, fresh, {"changed": True, "stdout": "wait"})
    # The last attempt is final and failed, as TaskExecutor marks it.
    assert final_outcome(task, templar, fresh, {"changed": True, "stdout": "wait"}) == (True, True, True)


# --- op= as ausearch --format text|csv shows it ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "object_value, expected",
    [
        ("/etc/app/app.conf", "ansible-change:ansible.builtin.copy:/etc/app/app.conf"),
        ("/etc/my app,v2 'x'=\"y\"%.conf", "ansible-change:ansible.builtin.copy:/etc/my%20app%2Cv2%20%27x%27%3D%22y%22%25.conf"),
        ("/srv/ünï", "ansible-change:ansible.builtin.copy:/srv/%C3%BCn%C3%AF"),
        ("/srv/\udcff\ud800", "ansible-change:ansible.builtin.copy:/srv/%FF%ED%A0%80"),
        (["nginx", "curl"], "ansible-change:ansible.builtin.copy:nginx%2Ccurl"),
        (8080, "ansible-change:ansible.builtin.copy:8080"),
        (None, "ansible-change:ansible.builtin.copy"),
        ({"a": 1}, "ansible-change:ansible.builtin.copy"),
        (True, "ansible-change:ansible.builtin.copy"),
        ("/" + "x" * 300, "ansible-change:ansible.builtin.copy"),
    ],
)
def test_op_names_the_module_and_object_as_one_bare_field(object_value, expected):
    op = record_op("ansible-change", "ansible.builtin.copy", object_value)
    assert op == expected
    assert validate_op(op) == op


def test_op_leaves_the_object_out_under_no_log():
    params = change_record_params(
        module_fqcn="ansible.builtin.copy", module_args={"dest": "/etc/secret-name"}, result={"changed": True},
        res="success", no_log=True, extra_fields={}, extra_source="x", hash_extra=True, context=None,
        inventory_host="h", delegated_to=None, backend="auto", on_unavailable="fail", op="site-deploy",
    )
    assert params["op"] == "site-deploy:ansible.builtin.copy"
    assert "secret-name" not in params["op"]
