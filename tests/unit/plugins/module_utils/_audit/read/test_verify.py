"""verify: true reads the record back from what auditd appended after the mark, through rotations."""

from __future__ import annotations

import os

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditRecordNotFoundError,
    AuditUnavailableError,
    AuditVerifyError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.verify import LogMark

TEXT = 'op=deploy object="/etc/app.conf" comm="ansible" exe="/usr/bin/python3.11" hostname=? addr=? terminal=? res=success'


def line(serial, pid=4242, text=TEXT, enriched=True, type_name="USYS_CONFIG"):
    out = "type=%s msg=audit(1764075600.%03d:%d): pid=%d uid=0 auid=1000 ses=3 subj=unconfined msg='%s'" % (
        type_name, serial % 1000, serial, pid, text)
    if enriched:
        out += '\x1dUID="root" AUID="alice"'
    return (out + "\n").encode()


class Clock:
    """A clock that moves only when the verifier sleeps, so the wait is bounded without real waiting."""

    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_finds_the_record_appended_after_the_mark(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(line(1))  # the same record, written before the mark: not ours
    with LogMark(str(log)) as mark:
        with open(log, "ab") as handle:
            handle.write(line(2, pid=1))  # same text, other process
            handle.write(line(3, text=TEXT.replace("deploy", "deploy2")))
            handle.write(line(4, type_name="USER"))
            handle.write(line(5, enriched=False))
        found = mark.find(TEXT, 4242)
    assert found == {"event_id": "1764075600.005:5", "serial": 5, "timestamp": 1764075600.005, "log_file": str(log)}


def test_waits_for_auditd_and_reads_a_line_written_in_two_parts(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(b"")
    clock = Clock()
    whole = line(7)
    parts = [whole[:40], whole[40:]]

    def sleep(seconds):
        clock.sleep(seconds)
        if parts:
            with open(log, "ab") as handle:
                handle.write(parts.pop(0))

    with LogMark(str(log)) as mark:
        found = mark.find(TEXT, 4242, clock=clock, sleep=sleep)
    assert found["serial"] == 7 and len(clock.slept) == 2


def test_follows_a_rotation(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(line(1))
    with LogMark(str(log)) as mark:
        # auditd rotates: audit.log -> audit.log.1, a new audit.log; the record lands in either.
        os.rename(log, str(log) + ".1")
        log.write_bytes(line(9, pid=7) + line(10))
        found = mark.find(TEXT, 4242)
    assert found["serial"] == 10 and found["log_file"] == str(log)

    log.write_bytes(b"")
    with LogMark(str(log)) as mark:
        with open(log, "ab") as handle:
            handle.write(line(11))
        os.rename(log, str(log) + ".1")
        log.write_bytes(b"")
        found = mark.find(TEXT, 4242)
    assert found["serial"] == 11 and found["log_file"] == str(log) + ".1"


def test_record_that_does_not_arrive_fails_after_the_bounded_wait(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(line(1))
    clock = Clock()
    with LogMark(str(log)) as mark:
        with pytest.raises(AuditRecordNotFoundError) as caught:
            mark.find(TEXT, 4242, timeout=3.0, clock=clock, sleep=clock.sleep)
    assert 3.0 <= clock.now < 3.2
    assert max(clock.slept) <= 0.05
    assert isinstance(caught.value, AuditUnavailableError)
    assert "did not appear in %s within 3 seconds" % log in str(caught.value)
    assert "write_logs" in str(caught.value)


def test_unreadable_log_is_a_verify_error(tmp_path):
    with pytest.raises(AuditVerifyError) as caught:
        LogMark(str(tmp_path / "missing.log"))
    assert "cannot read the audit log" in str(caught.value)
