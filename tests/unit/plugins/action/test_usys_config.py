"""The usys_config action: the task context added on the controller, no_log hashing, and argument errors as results."""

from __future__ import annotations

import re

import pytest

from ansible.errors import AnsibleActionFail
from ansible_collections.changeaudit.linux.plugins.action import usys_config
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditDisabledError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.request import sha256_of
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._hashing import Hasher

NAME = "changeaudit.linux.usys_config"
CONTEXT = ["play", "cmd", "task_path", "task_id", "ctl_user"]


@pytest.fixture
def make(harness):
    def make_one(args, **kwargs):
        return harness(usys_config, NAME, args, **kwargs)

    return make_one


def test_the_task_context_follows_the_plays_fields(make):
    h = make({"op": "deploy", "fields": {"ticket": "CHG-1", "object": "/etc/app.conf"}})
    result = h.run()
    assert result["recorded"] is True and result["sequence"] == 7
    assert result["record"].startswith('op=deploy ticket="CHG-1" object="/etc/app.conf" play=')
    fields = h.target.params["fields"]
    assert list(fields)[:2] == ["ticket", "object"]
    for key in CONTEXT:
        assert key in fields, key
    assert fields["play"] == "Harden sshd" and fields["cmd"] == "Deploy motd" and fields["task_id"] == h.task._uuid
    assert fields["become_user"] == "root"
    assert fields["run_id"] == "unit-run"
    assert h.target.params["op"] == "deploy"
    assert h.target.calls[0][0] == NAME


def test_no_become_means_no_become_user_but_the_login_user(make):
    h = make({"op": "deploy"}, become=False)
    h.run()
    assert "become_user" not in h.target.params["fields"]
    assert h.target.params["fields"]["remote_user"] == "root"


@pytest.mark.parametrize("context", [False, "no", "false"])
def test_context_false_leaves_the_fields_alone(make, context):
    h = make({"op": "deploy", "fields": {"ticket": "CHG-1"}, "context": context})
    h.run()
    assert h.target.params["fields"] == {"ticket": "CHG-1"}


KEY = "unit-test-hash-key-0123456789abcdef"


def test_under_no_log_the_plays_values_are_hashed_with_the_key_and_the_context_is_not(make):
    fields = {"token": "s3cret", "ticket": "CHG-9", "extra": "x"}
    h = make({"op": "rotate", "fields": fields, "hash_fields": ["extra"]}, no_log=True,
             task_vars={"changeaudit_hash_key": KEY})
    result = h.run()
    assert h.target.params["hash_fields"] == [], "hashed on the controller"
    assert "s3cret" not in result["record"] and "CHG-9" not in result["record"]
    assert Hasher(KEY.encode()).hash_value("s3cret") in result["record"] and sha256_of("s3cret") not in result["record"]
    assert 'run_id="unit-run"' in result["record"], "the context is not a secret of the play"
    assert " cmd=" in result["record"] and sha256_of("Deploy motd") not in result["record"]


def test_under_no_log_without_a_key_the_values_are_left_out_and_named(make):
    h = make({"op": "rotate", "fields": {"token": "s3cret", "ticket": "CHG-9"}}, no_log=True)
    result = h.run()
    assert h.target.params["fields"]["withheld"] == "token,ticket"
    assert "s3cret" not in result["record"] and sha256_of("s3cret") not in result["record"]


def test_hash_fields_without_a_key_is_refused_before_anything_is_written(make):
    h = make({"op": "rotate", "fields": {"token": "s3cret"}, "hash_fields": ["token"]})
    with pytest.raises(AnsibleActionFail, match="hash_fields needs a hash key"):
        h.run()
    assert h.target.calls == []


def test_without_no_log_hash_fields_are_the_plays_own(make):
    h = make({"op": "rotate", "fields": {"token": "s3cret", "ticket": "CHG-9"}, "hash_fields": ["token"]},
             task_vars={"changeaudit_hash_key": KEY})
    result = h.run()
    assert "s3cret" not in result["record"] and 'ticket="CHG-9"' in result["record"]
    assert 'token="%s"' % Hasher(KEY.encode()).hash_value("s3cret") in result["record"]


def test_a_record_too_long_once_encoded_is_refused_before_anything_is_written(make):
    h = make({"op": "note", "fields": {"note": "a b" * 2000}})
    result = h.run()
    assert result["failed"] is True and result["cause"] == "AuditRecordTooLongError" and result["recorded"] is False
    assert re.search("too long: op= and the fields take 12[0-9]{3} bytes once encoded", result["msg"])
    assert "Shorten them or hash them (hash_fields)" in result["msg"]
    assert h.target.calls == []


def test_a_field_the_context_sets_is_refused_naming_the_fix(make):
    h = make({"op": "deploy", "fields": {"cmd": "mine", "run_id": "r"}})
    with pytest.raises(AnsibleActionFail) as caught:
        h.run()
    assert "these fields are set from the task context (or set context: false), rename them: cmd, run_id" in str(caught.value)
    assert h.target.calls == []


@pytest.mark.parametrize("fields, kind", [("ticket=CHG-1", "str"), (["ticket"], "list")])
def test_fields_that_are_not_a_dict_are_refused(make, fields, kind):
    h = make({"op": "deploy", "fields": fields})
    with pytest.raises(AnsibleActionFail, match="^fields must be a dict, not %s$" % kind):
        h.run()


@pytest.mark.parametrize(
    "args, msg",
    [
        ({"op": "deploy", "result": "bogus"}, "value of result must be one of: success, failed, got: bogus"),
        ({"fields": {}}, "missing required arguments: op"),
        ({"op": "deploy", "bogus": 1}, "Unsupported parameters for (changeaudit.linux.usys_config) module: bogus"),
    ],
)
def test_bad_arguments_are_a_failed_result_from_the_controller(make, args, msg):
    h = make(dict(args, context=False), mitogen=False)
    result = h.run()
    assert result["failed"] is True
    assert msg in result["msg"]
    assert result.get("recorded") in (None, False)


def test_a_record_the_binding_refuses_fails_on_the_controller_as_the_module_would(make):
    h = make({"op": "two words", "context": False}, mitogen=False)
    result = h.run()
    assert result["failed"] is True and result["cause"] == "AuditInvalidInputError"
    assert "op 'two words' is not allowed" in result["msg"]
    assert h.target.calls == []


def test_check_mode_shows_the_record_it_would_write(make):
    h = make({"op": "deploy"}, check_mode=True)
    result = h.run()
    assert h.target.calls[0][2] is True
    assert result["recorded"] is False and result["sequence"] is None
    assert result["record"].startswith("op=deploy ")
    assert result["changed"] is False


@pytest.mark.parametrize("on_unavailable", ["fail", "warn"])
def test_a_host_that_cannot_keep_the_record(make, on_unavailable):
    h = make({"op": "deploy", "on_unavailable": on_unavailable})
    h.target.error = AuditDisabledError("Auditing is disabled in the kernel (enabled=0)")
    result = h.run()
    assert result["recorded"] is False
    if on_unavailable == "fail":
        assert result["failed"] is True and result["cause"] == "AuditDisabledError"
        assert "auditctl -e 1" in result["msg"]
    else:
        assert "failed" not in result
        assert result["warnings"] == [str(h.target.error)]
