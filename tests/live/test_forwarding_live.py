"""Issue 18, hosts that forward their records instead of keeping a log: auditd with ``write_logs = no`` and an active
dispatcher plugin, as SIEM-fed sites run it. The plugin here is auditd's own af_unix one, whose socket this test
reads: the independent witness that the record was forwarded, since no log holds it.

- Not declared: refused before the change, naming write_logs, as any host whose auditd writes no log.
- Declared (changeaudit_audit_forwarding): the change runs and its record reaches the plugin, saying where it went
  (forwarded_to=); audit.log does not grow by it. verify says it cannot read it back.
- Declared, but no plugin active: refused before the change, naming the plugins directory.

auditd.conf and the plugin's .conf are put back and auditd restarted, whatever happens.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
import time
import typing as t

import pytest

from livelib import AUDIT_LOG, AUDIT_PREFIX, ensure_auditd, run_probe
from test_fail_closed_live import ansible_env, localhost_play, output, run_playbook

AUDITD_CONF = "/etc/audit/auditd.conf"
AF_UNIX_CONF = "/etc/audit/plugins.d/af_unix.conf"

pytestmark = pytest.mark.skipif(
    bool(AUDIT_PREFIX) or not os.path.exists(AF_UNIX_CONF),
    reason="needs the system's auditd with its af_unix plugin (%s)" % AF_UNIX_CONF,
)


def restart_auditd() -> None:
    subprocess.run(["service", "auditd", "restart"], check=False, capture_output=True)
    ensure_auditd()


def set_setting(text: str, name: str, value: str) -> str:
    pattern = re.compile(r"^\s*%s\s*=.*$" % re.escape(name), re.M)
    line = "%s = %s" % (name, value)
    return pattern.sub(line, text) if pattern.search(text) else text.rstrip("\n") + "\n" + line + "\n"


@pytest.fixture
def forwarding_host(tmp_path) -> t.Iterator[t.Callable[[bool], str]]:
    """configure(plugin_active) -> the plugin's socket: auditd writing no log, its af_unix plugin on or off."""
    saved = {}
    for path in (AUDITD_CONF, AF_UNIX_CONF):
        with open(path, "rb") as handle:
            saved[path] = (handle.read(), os.stat(path).st_mode & 0o7777)
    sock_path = "/run/changeaudit-forwarding-test.sock"

    def configure(plugin_active: bool) -> str:
        conf = saved[AUDITD_CONF][0].decode()
        with open(AUDITD_CONF, "w") as handle:
            handle.write(set_setting(conf, "write_logs", "no"))
        plugin = saved[AF_UNIX_CONF][0].decode()
        plugin = set_setting(plugin, "active", "yes" if plugin_active else "no")
        plugin = set_setting(plugin, "args", "0600 %s" % sock_path)
        plugin = set_setting(plugin, "format", "string")
        with open(AF_UNIX_CONF, "w") as handle:
            handle.write(plugin)
        restart_auditd()
        if plugin_active:
            deadline = time.monotonic() + 10
            while not os.path.exists(sock_path) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert os.path.exists(sock_path), "auditd's af_unix plugin did not make %s" % sock_path
        return sock_path

    try:
        yield configure
    finally:
        for path, (data, mode) in saved.items():
            with open(path, "wb") as handle:
                handle.write(data)
            os.chmod(path, mode)
        restart_auditd()


class Listener:
    """Reads what the af_unix plugin sends, in a thread."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.data = b""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            self.data += chunk

    def lines_with(self, needle: str, timeout: float = 10.0) -> t.List[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.data.decode("utf-8", "replace").splitlines() if needle in line]
            if found:
                return found
            time.sleep(0.1)
        return []

    def close(self) -> None:
        self.sock.close()


def play(tmp_path, marker: str, declared: bool) -> str:
    return localhost_play("""\
        vars:
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
          changeaudit_audit_forwarding: %(declared)s
        tasks:
          - name: Change a file on a forwarding host %(m)s
            ansible.builtin.copy: {dest: "%(dir)s/forwarded.conf", content: "%(m)s"}
        """ % {"m": marker, "dir": tmp_path, "declared": "true" if declared else "false"})


def log_holds(marker: str) -> bool:
    with open(AUDIT_LOG, "rb") as handle:
        return marker.encode() in handle.read() or marker.encode().hex().upper().encode() in handle.read()


def test_a_forwarding_host_is_refused_until_declared_then_its_records_go_to_the_plugin(tmp_path, marker, forwarding_host):
    listener = Listener(forwarding_host(True))
    try:
        refused = run_playbook(tmp_path, play(tmp_path, marker, declared=False), ansible_env())
        assert refused.returncode != 0, output(refused)
        assert "write_logs = no in /etc/audit/auditd.conf" in refused.stdout + refused.stderr, output(refused)
        assert not (tmp_path / "forwarded.conf").exists()

        declared = run_playbook(tmp_path, play(tmp_path, marker, declared=True), ansible_env())
        assert declared.returncode == 0, output(declared)
        assert (tmp_path / "forwarded.conf").read_text() == marker
        hexed = ("Change a file on a forwarding host %s" % marker).encode().hex().upper()
        forwarded = listener.lines_with(hexed)
        assert len(forwarded) == 1, listener.data[-3000:]
        assert "type=USYS_CONFIG" in forwarded[0] and 'forwarded_to="builtin_af_unix"' in forwarded[0]
        assert " uid=0 " in forwarded[0] and "res=success" in forwarded[0]
        # Kept in no log here: auditd wrote none.
        assert not log_holds(hexed)

        # verify cannot read a forwarded record back, and says so instead of failing.
        outcome = run_probe({"op": "it-forwarding-verify", "fields": {"run": marker}, "forwarding": True, "verify": True})
        assert outcome["ok"], outcome
        assert outcome["verified"]["read_back"] is False and "cannot be read back" in outcome["verified"]["reason"]
        assert listener.lines_with("it-forwarding-verify")
    finally:
        listener.close()


def test_declared_forwarding_without_an_active_plugin_is_refused(tmp_path, marker, forwarding_host):
    forwarding_host(False)
    refused = run_playbook(tmp_path, play(tmp_path, marker, declared=True), ansible_env())
    assert refused.returncode != 0, output(refused)
    text = refused.stdout + refused.stderr
    assert "no dispatcher plugin is active in /etc/audit/plugins.d" in text, output(refused)
    assert not (tmp_path / "forwarded.conf").exists()
