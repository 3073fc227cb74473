"""The audited action: which handler runs the wrapped module, when a change is recorded, what the record holds
(under no_log only names and hashes), how the audit outcome joins the module's result, and argument errors."""

from __future__ import annotations

import hashlib

import pytest

from ansible.errors import AnsibleActionFail
from ansible_collections.changeaudit.linux.plugins.action import audited
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditDisabledError,
    AuditPermissionError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.request import sha256_of
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._hashing import Hasher, key_id, verify
from ansible_collections.changeaudit.linux.tests.unit.plugins.action.conftest import resolved

NAME = "changeaudit.linux.audited"
SHA1 = "a7a667f16c07d27e921e55f4e2a779e8e6e96ec9"


@pytest.fixture
def make(harness):
    def make_one(args, inner=None, **kwargs):
        h = harness(audited, NAME, args, **kwargs)
        if inner is not None:
            h.actions.result = inner
        return h

    return make_one


COPY = {"module": "ansible.builtin.copy", "args": {"dest": "/etc/motd", "content": "hello"}, "fields": {"ticket": "CHG-1"}}


# --- the record of a change ---------------------------------------------------------------------------------------


def test_a_change_is_recorded_and_the_modules_result_kept_whole(make):
    inner = {"changed": True, "dest": "/etc/motd", "checksum": SHA1, "msg": "copied", "warnings": ["module warning"]}
    h = make(COPY, inner)
    result = h.run()
    for key, value in inner.items():
        assert result[key] == value, key
    assert "failed" not in result
    record = result["audit"].pop("record")
    assert result["audit"] == {"recorded": True, "backend": "netlink", "backend_fallback": None, "sequence": 7, "verified": None}
    assert record.startswith('op=ansible-change:ansible.builtin.copy:/etc/motd module="ansible.builtin.copy" object_arg="dest" object="/etc/motd" ')
    params = h.target.params
    assert (params["op"], params["result"], params["hash_fields"], params["context"]) == ("ansible-change:ansible.builtin.copy:/etc/motd", "success", [], False)
    fields = params["fields"]
    assert list(fields)[:5] == ["module", "object_arg", "object", "checksum", "inventory_host"]
    assert (fields["module"], fields["object_arg"], fields["object"]) == ("ansible.builtin.copy", "dest", "/etc/motd")
    assert fields["checksum"] == "sha1:" + SHA1
    assert (fields["inventory_host"], fields["ticket"], fields["run_id"]) == ("web1", "CHG-1", "unit-run")
    assert fields["cmd"] == "Deploy motd" and fields["become_user"] == "root"
    assert "hello" not in record, "argument values other than the object never reach the record"


def test_op_verify_backend_and_delegation_reach_the_writer(make):
    args = dict(COPY, op="site-deploy", verify=True, backend="netlink", on_unavailable="warn")
    h = make(args, delegate_to="backup1")
    h.run()
    params = h.target.params
    assert params["op"] == "site-deploy:ansible.builtin.copy:/etc/motd"
    assert (params["verify"], params["backend"], params["on_unavailable"]) == (True, "netlink", "warn")
    assert params["fields"]["delegated_to"] == "backup1"


def test_context_false_records_only_what_changed(make):
    h = make(dict(COPY, context=False))
    h.run()
    assert set(h.target.params["fields"]) == {"module", "object_arg", "object", "inventory_host", "ticket"}


def test_a_content_diff_is_recorded_as_its_hash_only(make):
    h = make(COPY, {"changed": True, "diff": [{"before": "old secret text", "after": "new secret text"}]})
    result = h.run()
    assert h.target.params["fields"]["diff_sha256"].startswith("sha256:")
    assert "secret text" not in result["audit"]["record"]


# --- no_log -------------------------------------------------------------------------------------------------------


NO_LOG_COPY = {"module": "ansible.builtin.copy", "args": {"dest": "/etc/app/token", "content": "s3cret", "mode": "0600"},
               "fields": {"ticket": "CHG-77"}}
KEY = "unit-test-hash-key-0123456789abcdef"


def test_under_no_log_with_a_key_only_names_and_keyed_hashes_reach_the_log(make):
    h = make(NO_LOG_COPY, {"changed": True, "checksum": SHA1, "diff": {"after": "s3cret"}}, no_log=True,
             task_vars={"changeaudit_hash_key": KEY})
    result = h.run()
    params = h.target.params
    assert params["hash_fields"] == [], "hashed on the controller, with the key"
    fields = params["fields"]
    assert fields["arg_names"] == "content,dest,mode"
    hasher = Hasher(KEY.encode())
    # The content's plain sha1 would confirm a guessed secret: only its keyed hash, which the key's holder checks.
    assert fields["checksum"] == hasher.hash_value("sha1:" + SHA1)
    assert fields["diff_sha256"].startswith("hmac-sha256:%s:" % key_id(KEY.encode()))
    assert "withheld" not in fields
    assert fields["object"] == hasher.hash_value("/etc/app/token") and fields["ticket"] == hasher.hash_value("CHG-77")
    assert fields["object"].startswith("hmac-sha256:%s:" % key_id(KEY.encode()))
    assert verify("/etc/app/token", fields["object"], KEY.encode())
    assert not verify("/etc/app/token", fields["object"], b"another-key-of-enough-length")
    record = result["audit"]["record"]
    for secret in ("s3cret", "/etc/app/token", "CHG-77", SHA1, sha256_of("/etc/app/token"), sha256_of("CHG-77")):
        assert secret not in record, secret
    assert 'module="ansible.builtin.copy"' in record and 'object_arg="dest"' in record
    assert 'run_id="unit-run"' in record, "the context is not hashed"


def test_under_no_log_without_a_key_values_are_left_out_and_named(make):
    h = make(NO_LOG_COPY, {"changed": True, "checksum": SHA1, "diff": {"after": "s3cret"}}, no_log=True)
    result = h.run()
    fields = h.target.params["fields"]
    assert "object" not in fields and "ticket" not in fields and "diff_sha256" not in fields
    assert "checksum" not in fields, "the content's sha1 could confirm a guessed secret"
    assert fields["withheld"] == "object,checksum,diff,ticket"
    assert fields["arg_names"] == "content,dest,mode"
    record = result["audit"]["record"]
    for secret in ("s3cret", "/etc/app/token", "CHG-77", SHA1, sha256_of("/etc/app/token"), sha256_of("CHG-77")):
        assert secret not in record, secret


def test_under_no_log_no_plain_hash_even_when_the_operator_accepts_them_for_hash_fields(make):
    h = make(NO_LOG_COPY, {"changed": True, "checksum": SHA1, "diff": {"after": "s3cret"}}, no_log=True,
             task_vars={"changeaudit_unkeyed_hashes": True})
    result = h.run()
    fields = h.target.params["fields"]
    assert fields["withheld"] == "object,checksum,diff,ticket"
    assert not {"object", "checksum", "diff_sha256", "ticket"} & set(fields)
    record = result["audit"]["record"]
    for secret in (SHA1, sha256_of("/etc/app/token"), sha256_of("CHG-77"), "sha256:"):
        assert secret not in record, secret


# --- when nothing is recorded -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "inner, reason",
    [
        ({"changed": False}, "not changed"),
        ({"changed": False, "failed": True, "msg": "boom"}, "failed"),
        ({"changed": False, "rc": 2}, "failed"),
        ({"skipped": True, "changed": False}, "not changed"),
    ],
)
def test_no_change_writes_no_record(make, inner, reason):
    h = make(COPY, inner)
    result = h.run()
    assert result["audit"] == {"recorded": False, "reason": reason}
    assert h.target.calls == []
    assert {key: result[key] for key in inner} == inner


def test_changed_when_false_writes_no_record(make):
    h = make(COPY, {"changed": True}, changed_when=[False])
    assert h.run()["audit"] == {"recorded": False, "reason": "not changed"}
    assert h.target.calls == []


def test_an_attempt_until_will_retry_writes_no_record(make):
    h = make(COPY, {"changed": True, "failed": True}, retries=3, until=[False])
    assert h.run()["audit"] == {"recorded": False, "reason": "not final"}
    assert h.target.calls == []


def test_record_failures_records_a_failure_without_a_change(make):
    h = make(dict(COPY, record_failures=True), {"changed": False, "failed": True, "msg": "boom"})
    result = h.run()
    assert h.target.params["result"] == "failed"
    assert result["failed"] is True and result["msg"] == "boom"
    assert result["audit"]["recorded"] is True
    assert result["audit"]["record"].endswith(" res=failed")


def test_a_change_that_then_failed_is_recorded_as_failed(make):
    h = make(COPY, {"changed": True, "failed": True, "msg": "half done"})
    result = h.run()
    assert h.target.params["result"] == "failed"
    assert (result["failed"], result["msg"], result["audit"]["recorded"]) == (True, "half done", True)


# --- when the record cannot be written ----------------------------------------------------------------------------


def test_a_change_that_could_not_be_recorded_fails_the_task_and_says_both(make):
    h = make(COPY, {"changed": True, "msg": "copied"})
    h.target.error = AuditDisabledError("Auditing is disabled in the kernel (enabled=0)")
    result = h.run()
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"] == (
        "The change was applied but could not be recorded in the audit trail: %s Module message: copied" % h.target.error
    )
    audit = result["audit"]
    assert (audit["recorded"], audit["error"], audit["cause"]) == (False, str(h.target.error), "AuditDisabledError")
    assert audit["record"].startswith("op=ansible-change:ansible.builtin.copy:/etc/motd "), "the record that was not written is shown"


def test_a_failed_change_that_could_not_be_recorded_says_it_failed(make):
    h = make(COPY, {"changed": True, "failed": True})
    h.target.error = AuditPermissionError("Cannot write audit records: this process (uid 1000) lacks CAP_AUDIT_WRITE")
    result = h.run()
    assert result["msg"].startswith("The change failed but could not be recorded in the audit trail: Cannot write")
    assert "Module message" not in result["msg"]


def test_on_unavailable_warn_keeps_the_task_ok_and_adds_the_warning(make):
    h = make(dict(COPY, on_unavailable="warn"), {"changed": True, "warnings": ["module warning"]})
    h.target.error = AuditDisabledError("Auditing is disabled in the kernel (enabled=0)")
    result = h.run()
    assert "failed" not in result
    assert result["warnings"] == ["module warning", str(h.target.error)]
    assert result["audit"]["recorded"] is False


def test_a_record_the_writer_would_refuse_is_refused_before_the_module_runs(make):
    h = make(dict(COPY, op="two words"), mitogen=False)
    with pytest.raises(AnsibleActionFail, match="op 'two words:ansible.builtin.copy:/etc/motd' is not allowed.*Nothing was run"):
        h.run()
    assert h.actions.handlers == [] and h.target.calls == []


@pytest.mark.parametrize("value", ["n" * 9000, "n " * 3600, "é" * 3600])
def test_a_field_too_long_once_encoded_is_refused_before_the_module_runs(make, value):
    h = make(dict(COPY, fields={"note": value}), mitogen=False)
    with pytest.raises(AnsibleActionFail, match="too long|alone is") as caught:
        h.run()
    assert "Nothing was run" in str(caught.value)
    assert h.actions.handlers == [] and h.target.calls == []


def test_a_long_task_name_and_object_are_cut_with_the_hash_of_the_whole(make):
    name = "Deploy " + "x" * 9000
    path = "/srv/" + "é" * 4000
    h = make(dict(COPY, args={"dest": path, "content": "x"}), name=name)
    record = h.run()["audit"]["record"]
    fields = h.target.params["fields"]
    for field, whole, bound in (("cmd", name, 256), ("object", path, 384)):
        value = fields[field]
        assert value.endswith("[cut:sha256:%s]" % hashlib.sha256(whole.encode()).hexdigest())
        assert len(value.encode()) <= bound and whole.startswith(value[: value.index("[cut:")])
    assert len(record) < 8560


# --- which module, run by which handler ---------------------------------------------------------------------------


def test_a_short_name_is_resolved_and_run_through_its_action_plugin(make):
    h = make({"module": "copy", "args": {"dest": "/etc/motd", "content": "x"}})
    h.run()
    handler = h.handler
    assert handler.name == "ansible.builtin.copy"
    assert handler.task.action == "ansible.builtin.copy"
    assert handler.task.args == {"dest": "/etc/motd", "content": "x"}
    assert h.target.params["fields"]["module"] == "ansible.builtin.copy"


def test_a_module_without_an_action_plugin_runs_through_normal(make):
    h = make({"module": "ansible.builtin.file", "args": {"path": "/etc/app", "state": "directory"}})
    h.run()
    assert (h.handler.name, h.handler.collection_list) == ("ansible.legacy.normal", None)
    assert h.target.params["fields"]["object"] == "/etc/app"


def test_a_module_routed_to_another_action_plugin_runs_through_that(make):
    h = make({"module": "acme.net.config", "args": {"name": "x"}})
    h.modules.extra["acme.net.config"] = resolved("acme.net.config", action_plugin="acme.net.network")
    h.run()
    assert h.handler.name == "acme.net.network"
    assert h.handler.task.action == "acme.net.config"


def test_the_wrapped_module_inherits_check_mode_and_no_record_is_written(make):
    h = make(COPY, {"changed": True}, check_mode=True)
    result = h.run()
    assert h.handler.task.check_mode is True
    assert h.target.calls[0][2] is True
    assert result["audit"]["recorded"] is False and result["audit"]["sequence"] is None
    assert result["audit"]["record"].startswith("op=ansible-change:ansible.builtin.copy:/etc/motd module=")


def test_module_defaults_for_the_wrapped_module_apply(make):
    args = {"module": "ansible.builtin.file", "args": {"path": "/etc/app", "owner": "app"}}
    h = make(args, module_defaults=[{"ansible.builtin.file": {"mode": "0750", "owner": "root"}}])
    h.run()
    assert h.handler.task.args == {"path": "/etc/app", "owner": "app", "mode": "0750"}


def test_the_wrapped_handler_is_cleaned_up_with_audited(make):
    h = make(COPY)
    h.run()
    h.action.cleanup()
    assert h.handler.cleaned == [False]
    h.action.cleanup()
    assert h.handler.cleaned == [False], "only once"


@pytest.mark.parametrize(
    "module, extra, msg",
    [
        ("nope_no_such_module", None, "module 'nope_no_such_module' to audit was not found"),
        (NAME, resolved(NAME), "changeaudit.linux.audited cannot wrap itself"),
    ],
)
def test_a_module_that_cannot_be_wrapped_is_refused(make, module, extra, msg):
    h = make({"module": module})
    if extra is not None:
        h.modules.extra[module] = extra
    with pytest.raises(AnsibleActionFail) as caught:
        h.run()
    # The message, not result["failed"]: ansible-core 2.21 keeps an action failure's message on the exception.
    assert msg in str(caught.value)
    assert h.actions.handlers == [] and h.target.calls == []


# --- argument errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, msg",
    [
        ({"args": {}}, "missing required arguments: module"),
        (dict(COPY, backend="ctypes"), "value of backend must be one of: auto, libaudit, netlink, got: ctypes"),
        (dict(COPY, on_unavailable="ignore"), "value of on_unavailable must be one of: fail, warn, got: ignore"),
        (dict(COPY, fields=["ticket"]), "argument 'fields' is of type list"),
        (dict(COPY, bogus=1), "bogus"),
        (dict(COPY, fields={"module": "mine"}), "these fields are set by changeaudit.linux.audited itself, rename them: module"),
        (dict(COPY, fields={"cmd": "mine"}), "these fields are set from the task context (or set context: false), rename them: cmd"),
    ],
)
def test_bad_arguments_fail_the_task_with_a_clear_message(make, args, msg):
    h = make(args)
    with pytest.raises(AnsibleActionFail) as caught:
        h.run()
    # The message, not result["failed"]: ansible-core 2.21 keeps an action failure's message on the exception.
    assert msg in str(caught.value)
    assert h.target.calls == []


def test_async_is_refused_before_the_module_runs(make):
    h = make(COPY, async_val=30)
    with pytest.raises(AnsibleActionFail) as caught:
        h.run()
    assert "remove async/poll from this task" in str(caught.value)
    assert h.actions.handlers == [] and h.target.calls == []


# --- hash_fields ----------------------------------------------------------------------------------------------------


def test_hash_fields_records_the_keyed_hash_of_a_field_and_of_the_object(make):
    h = make(dict(COPY, fields={"ticket": "CHG-1", "token": "s3cret"}, hash_fields=["token", "object"]),
             task_vars={"changeaudit_hash_key": KEY})
    record = h.run()["audit"]["record"]
    assert record.startswith("op=ansible-change:ansible.builtin.copy "), "op leaves a hashed object out"
    assert "s3cret" not in record and "/etc/motd" not in record
    assert 'ticket="CHG-1"' in record
    hasher = Hasher(KEY.encode())
    assert 'token="%s"' % hasher.hash_value("s3cret") in record and 'object="%s"' % hasher.hash_value("/etc/motd") in record


def test_hash_fields_without_a_key_is_refused_before_the_module_runs(make):
    h = make(dict(COPY, fields={"token": "s3cret"}, hash_fields=["token"]))
    with pytest.raises(AnsibleActionFail, match="hash_fields needs a hash key.*changeaudit_hash_key"):
        h.run()
    assert h.actions.handlers == [] and h.target.calls == []


def test_hash_fields_unkeyed_when_the_operator_accepts_them(make):
    h = make(dict(COPY, fields={"token": "s3cret"}, hash_fields=["token"]), task_vars={"changeaudit_unkeyed_hashes": "yes"})
    assert 'token="%s"' % sha256_of("s3cret") in h.run()["audit"]["record"]


def test_hash_fields_naming_anything_else_is_refused_before_the_module_runs(make):
    h = make(dict(COPY, hash_fields=["ticket", "module", "nope"]))
    with pytest.raises(AnsibleActionFail) as caught:
        h.run()
    assert "hash_fields names fields that are neither in fields nor the object: module, nope" in str(caught.value)
    assert h.actions.handlers == [] and h.target.calls == []


# --- the controller's signature (issue 29) ---------------------------------------------------------------------------


def test_with_a_controller_key_the_record_is_signed_once_its_result_is_final(make, monkeypatch):
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _signing

    key = _signing.SigningKey.generate()
    monkeypatch.setenv(_signing.KEY_ENV, key.private_pem().decode("ascii"))
    h = make(COPY, {"changed": True, "failed": True, "msg": "half done"})
    h.run()
    params = h.target.params
    assert params["result"] == "failed"
    fields = {name: str(value) for name, value in params["fields"].items()}
    assert _signing.record_signature_problem(key.public_key, params["op"], "failed", fields) is None
    assert "res was changed from failed to success" in _signing.record_signature_problem(
        key.public_key, params["op"], "success", fields)


def test_a_play_may_not_set_the_fields_only_the_controller_writes(make):
    for name in ("kept_on", "changed_host", "ctl_sig", "ctl_mac"):
        with pytest.raises(AnsibleActionFail, match="the controller's own.*%s" % name):
            make(dict(COPY, fields={name: "x"}), {"changed": True}).run()
