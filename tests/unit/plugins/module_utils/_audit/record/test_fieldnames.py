"""Which field names a record may carry: libaudit's form, no reserved name, none ausearch takes for its own field."""

from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import (
    AUDIT_ADD_GROUP,
    AUDIT_GRP_MGMT,
    AUDIT_USER_AVC,
    AUDIT_USYS_CONFIG,
    AUDIT_VIRT_MACHINE_ID,
    AUDIT_VIRT_RESOURCE,
    RESERVED_FIELD_NAMES,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import build_message
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditInvalidInputError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.fieldnames import ausearch_tokens, is_valid_field_name, validate_field_name


@pytest.mark.parametrize("name", ["Upper", "1abc", "a-b", "a b", "", "x" * 65, 3])
def test_bad_field_names(name):
    with pytest.raises(AuditInvalidInputError, match="not allowed"):
        validate_field_name(name)


@pytest.mark.parametrize("name", ["pid", "uid", "auid", "ses", "subj", "exe", "comm", "hostname", "addr", "terminal", "res", "op", "msg", "type", "node"])
def test_reserved_field_names(name):
    with pytest.raises(AuditInvalidInputError, match="reserved") as caught:
        validate_field_name(name)
    assert "rename it" in str(caught.value)


@pytest.mark.parametrize(
    "name, token",
    [
        ("xuid", "uid"), ("my_uid", "uid"), ("suid", "uid"), ("ctl_loginuid", "uid"), ("vm_uuid", "uid"),
        ("my_exe", "exe"), ("childres", "res"), ("my_result", "result"), ("telecomm", "comm"),
        ("ipaddr", "addr"), ("src_hostname", "hostname"), ("workcwd", "cwd"), ("myacct", "acct"),
        ("acct", "acct"), ("cwd", "cwd"), ("xsubj", "subj"), ("processes", "ses"), ("ppid", "pid"),
        ("kvm", "vm"), ("vm", "vm"), ("serial_terminal", "terminal"),
    ],
)
def test_names_that_ausearch_reads_as_its_own_fields_are_refused(name, token):
    with pytest.raises(AuditInvalidInputError) as caught:
        validate_field_name(name)
    message = str(caught.value)
    assert "%r" % token in message and "ausearch" in message and "parse_user" in message
    assert "Rename it, for example to %s_value" % name in message
    # The suggestion itself passes.
    assert validate_field_name(name + "_value") == name + "_value"


@pytest.mark.parametrize(
    "name",
    ["uid_value", "exe_path", "comm_name", "result_code", "resx", "hostname_x", "path", "id", "xid", "xgid",
     "tclass", "tcontext", "task_path", "run_id", "key", "object", "ticket"],
)
def test_names_ausearch_does_not_search_in_usys_config_records_pass(name):
    assert validate_field_name(name) == name


@pytest.mark.parametrize(
    "msg_type, name",
    [
        (AUDIT_VIRT_RESOURCE, "path"), (AUDIT_ADD_GROUP, "id"), (AUDIT_GRP_MGMT, "xgid"), (AUDIT_GRP_MGMT, "id"),
        (AUDIT_USER_AVC, "tclass"), (AUDIT_USER_AVC, "my_tcontext"),
    ],
)
def test_tokens_searched_only_in_some_record_types_are_refused_there(msg_type, name):
    with pytest.raises(AuditInvalidInputError, match="ausearch"):
        validate_field_name(name, msg_type)
    with pytest.raises(AuditInvalidInputError, match="ausearch"):
        build_message("x", {name: "v"}, msg_type)


def test_leading_space_tokens_only_refuse_the_exact_name():
    assert validate_field_name("task_path", AUDIT_VIRT_RESOURCE) == "task_path"
    assert validate_field_name("xid", AUDIT_ADD_GROUP) == "xid"
    assert validate_field_name("vm_ctx", AUDIT_VIRT_MACHINE_ID) == "vm_ctx"


def test_every_token_searched_in_every_record_is_refused_with_any_prefix():
    suffixes, exact = ausearch_tokens(AUDIT_USYS_CONFIG)
    assert not exact
    for token in suffixes:
        for name in (token, "x" + token, "x_" + token):
            assert not is_valid_field_name(name), name


def test_reserved_names_cover_what_the_kernel_and_libaudit_write():
    # Every field the kernel and libaudit put on a user record is refused, by name or by the ausearch rule.
    for name in ("type", "msg", "node", "pid", "uid", "auid", "ses", "subj", "op", "comm", "exe", "hostname", "addr",
                 "terminal", "res", "result", "success", "arch", "syscall", "a0", "a1"):
        assert not is_valid_field_name(name), name
    assert RESERVED_FIELD_NAMES >= {"type", "msg", "node", "op", "success"}
