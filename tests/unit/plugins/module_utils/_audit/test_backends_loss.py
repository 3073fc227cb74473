"""The lost counter read before and after the send: a rise is an error naming the limits and the fix."""

from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.backends import ensure_nothing_lost
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.errors import (
    AuditRecordsLostError,
    AuditUnavailableError,
)

BEFORE = {"enabled": 1, "pid": 10, "rate_limit": 0, "backlog_limit": 8192, "lost": 5, "backlog": 0}


@pytest.mark.parametrize("lost", [5, 0, 3])
def test_same_or_reset_counter_is_not_an_error(lost):
    ensure_nothing_lost(BEFORE, dict(BEFORE, lost=lost))


@pytest.mark.parametrize(
    "after, says",
    [
        (dict(BEFORE, lost=6, rate_limit=1), ["lost 5 -> 6", "1 audit record while", "rate_limit 1 messages/s"]),
        (dict(BEFORE, lost=9, backlog_limit=2, backlog=3), ["4 audit records", "backlog_limit 2 (backlog 3)"]),
        (dict(BEFORE, lost=6, backlog_limit=0), ["no rate or backlog limit set"]),
    ],
)
def test_rise_names_the_limits_and_the_fix(after, says):
    with pytest.raises(AuditRecordsLostError) as caught:
        ensure_nothing_lost(BEFORE, after)
    message = str(caught.value)
    assert isinstance(caught.value, AuditUnavailableError)
    for text in says + ["auditctl -r 0", "auditctl -b", "verify: true"]:
        assert text in message
