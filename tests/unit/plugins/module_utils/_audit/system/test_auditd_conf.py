"""auditd.conf read the way auditd reads it (src/auditd-config.c), and the refusal when auditd writes no log."""

from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.auditd_conf import (
    ensure_auditd_writes,
    parse_auditd_conf,
    read_auditd_conf,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditdNotWritingError,
    AuditUnavailableError,
)

DEBIAN_DEFAULT = """#
# This file controls the configuration of the audit daemon
#

local_events = yes
write_logs = yes
log_file = /var/log/audit/audit.log
log_group = adm
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
"""


@pytest.mark.parametrize(
    "text, write_logs, log_format, log_file",
    [
        (DEBIAN_DEFAULT, True, "ENRICHED", "/var/log/audit/audit.log"),
        ("", True, "ENRICHED", "/var/log/audit/audit.log"),
        ("write_logs = no\n", False, "ENRICHED", "/var/log/audit/audit.log"),
        ("WRITE_LOGS = No\n", False, "ENRICHED", "/var/log/audit/audit.log"),
        ("log_format = nolog\n", False, "NOLOG", "/var/log/audit/audit.log"),
        ("log_format = RAW\nlog_file = /srv/audit/a.log\n", True, "RAW", "/srv/audit/a.log"),
        # Later lines win; NOLOG sets write_logs, a later write_logs undoes it.
        ("write_logs = no\nwrite_logs = yes\n", True, "ENRICHED", "/var/log/audit/audit.log"),
        ("log_format = NOLOG\nwrite_logs = yes\n", True, "NOLOG", "/var/log/audit/audit.log"),
        # Comments: a first token starting with '#'; commented settings do nothing.
        ("# write_logs = no\n#write_logs = no\n   # write_logs = no\n", True, "ENRICHED", "/var/log/audit/audit.log"),
        # auditd applies "name = value" even with surplus tokens.
        ("write_logs = no extra tokens\n", False, "ENRICHED", "/var/log/audit/audit.log"),
        # auditd stops at a line it cannot split ('=' must be a token of its own), and so do we.
        ("write_logs=no\n", True, "ENRICHED", "/var/log/audit/audit.log"),
        ("write_logs\t=\tno\n", True, "ENRICHED", "/var/log/audit/audit.log"),
        ("flush\nwrite_logs = no\n", True, "ENRICHED", "/var/log/audit/audit.log"),
        ("write_logs = maybe\nlog_format = NOLOG\n", True, "ENRICHED", "/var/log/audit/audit.log"),
    ],
)
def test_settings_are_read_like_auditd(text, write_logs, log_format, log_file):
    conf = parse_auditd_conf(text)
    assert (conf.write_logs, conf.log_format, conf.log_file) == (write_logs, log_format, log_file)


@pytest.mark.parametrize(
    "text, named",
    [
        ("write_logs = no\n", "write_logs = no in /etc/audit/auditd.conf line 1"),
        ("# x\nlog_format = NOLOG\n", "log_format = NOLOG in /etc/audit/auditd.conf line 2"),
    ],
)
def test_refusal_names_the_setting_its_line_and_the_fix(text, named):
    with pytest.raises(AuditdNotWritingError) as caught:
        ensure_auditd_writes(parse_auditd_conf(text))
    assert isinstance(caught.value, AuditUnavailableError)
    message = str(caught.value)
    assert named in message and "write_logs = yes" in message and "restart" in message


def test_unreadable_or_missing_file_is_not_a_refusal(tmp_path):
    assert read_auditd_conf(str(tmp_path / "missing.conf")) is None
    ensure_auditd_writes(None)
    directory = tmp_path / "a-directory"
    directory.mkdir()
    assert read_auditd_conf(str(directory)) is None


def test_read_from_a_file(tmp_path):
    path = tmp_path / "auditd.conf"
    path.write_bytes(DEBIAN_DEFAULT.encode().replace(b"write_logs = yes", b"write_logs = no"))
    conf = read_auditd_conf(str(path))
    assert conf is not None and conf.write_logs is False and conf.path == str(path)
    assert conf.as_dict() == {"path": str(path), "write_logs": False, "log_format": "ENRICHED",
                              "log_file": "/var/log/audit/audit.log"}
