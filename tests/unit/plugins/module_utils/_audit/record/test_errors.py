"""Every error the binding raises names its cause and its fix, as text and as the result keys a task shows."""

from __future__ import annotations

import errno

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record import errors

ALL = [getattr(errors, name) for name in errors.__all__ if isinstance(getattr(errors, name), type)]


def test_every_error_is_an_audit_error_and_exported():
    assert ALL and all(issubclass(cls, errors.AuditError) for cls in ALL)
    defined = {name for name, value in vars(errors).items() if isinstance(value, type) and issubclass(value, Exception)}
    assert defined == {cls.__name__ for cls in ALL}


# The base classes name no cause; a dropping rule's fix names the rule, so it is given where it is raised.
GENERIC = (errors.AuditUnavailableError, errors.AuditVerifyError, errors.AuditRuleDropsRecordError)


@pytest.mark.parametrize("cls", [cls for cls in ALL if issubclass(cls, errors.AuditUnavailableError) and cls not in GENERIC])
def test_every_unavailable_cause_has_a_fix(cls):
    assert cls.default_hint, "%s tells the user nothing to do" % cls.__name__
    assert str(cls("It failed")).endswith(cls.default_hint.rstrip(".") + ".")


def test_message_errno_and_hint_compose_into_one_sentence_each():
    exc = errors.AuditError("Cannot send.", errno=errno.EPERM, hint="Run as root.")
    assert str(exc) == "Cannot send (EPERM: %s). Run as root." % __import__("os").strerror(errno.EPERM)
    assert exc.reason == "Cannot send."
    assert exc.as_dict() == {"cause": "AuditError", "errno": errno.EPERM, "errno_name": "EPERM", "hint": "Run as root."}


def test_an_explicit_empty_hint_replaces_the_default():
    assert errors.AuditPermissionError("No", hint="").hint == ""
    assert str(errors.AuditPermissionError("No", hint="")) == "No."


def test_the_rules_that_drop_a_record_are_part_of_its_result():
    rule = {"list": "exclude", "action": "always", "text": "-a always,exclude -F msgtype=USYS_CONFIG"}
    exc = errors.AuditRuleDropsRecordError("Dropped", rules=[rule])
    assert exc.as_dict()["rules"] == [rule] and exc.as_dict()["cause"] == "AuditRuleDropsRecordError"


@pytest.mark.parametrize(
    "err, cls",
    [
        (errno.EPERM, errors.AuditPermissionError),
        (errno.EACCES, errors.AuditPermissionError),
        (errno.ECONNREFUSED, errors.AuditNamespaceError),
        (errno.EPROTONOSUPPORT, errors.AuditNotInKernelError),
        (errno.EAFNOSUPPORT, errors.AuditNotInKernelError),
        (errno.EIO, errors.AuditError),
    ],
)
def test_socket_errnos_map_to_the_error_a_user_can_act_on(err, cls, monkeypatch):
    monkeypatch.setattr(errors.os, "geteuid", lambda: 1000)
    exc = errors.error_from_errno(err, "send the record")
    assert exc.__class__.__name__ == cls.__name__ and isinstance(exc, cls) and exc.errno == err
    assert str(exc).startswith("Cannot send the record")


@pytest.mark.parametrize("err", [errno.EPERM, errno.EACCES])
def test_permission_denied_to_root_is_a_missing_capability(err, monkeypatch):
    monkeypatch.setattr(errors.os, "geteuid", lambda: 0)
    exc = errors.error_from_errno(err, "send the record")
    assert exc.__class__ is errors.AuditCapabilityError and isinstance(exc, errors.AuditPermissionError)
