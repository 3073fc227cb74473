"""What every backend offers: a backend that does not implement send refuses, and leaving its block closes it."""

from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backend import AuditBackend
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.record import UserRecord


class Counted(AuditBackend):
    name = "counted"

    def __init__(self):
        self.closed = 0

    def close(self):
        self.closed += 1


def test_send_is_what_a_backend_must_implement():
    with pytest.raises(NotImplementedError):
        AuditBackend().send(UserRecord("unit-backend", {}))


def test_leaving_the_block_closes_the_backend_even_on_an_error():
    backend = Counted()
    with pytest.raises(RuntimeError):
        with backend:
            raise RuntimeError("boom")
    assert backend.closed == 1
