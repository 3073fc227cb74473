"""The one writer's controller side: the bundle it builds, the commands it runs, the results it returns.

The action is a stand-in that runs the commands on this machine with /bin/sh, the way the local connection
does. Nothing reaches the audit socket: the programs run without CAP_AUDIT_WRITE (root drops it with
setpriv), so the binding refuses before it sends, with the same error the usys_config module gives.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import types
import uuid

import pytest

from ansible.plugins.shell.sh import ShellModule
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _target
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer import _interpreter, _program, _writer

MODULE = os.path.join(os.path.dirname(_program.AUDIT_DIR), "..", "modules", "usys_config.py")


def without_cap_audit_write():
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("needs setpriv (util-linux) to drop CAP_AUDIT_WRITE as root")
    return [setpriv, "--inh-caps=-audit_write", "--bounding-set=-audit_write"]


class FakeAction:
    """The ActionBase members write_on_target uses; commands run here through /bin/sh like the local connection."""

    def __init__(self, tmp_path, pipelining=True, check_mode=False, connection_module=None, transport="local",
                 stdin=True, refuse_stdin=None):
        self.pipelining = pipelining
        # What a become that needs a terminal prints when the program comes on stdin (sudo's requiretty).
        self.refuse_stdin = refuse_stdin
        self.tmp_path = tmp_path
        self.commands = []
        self.stdin = []
        self.transferred = {}
        self.fixed_up = []
        self.executed_module = None
        shell = ShellModule()
        shell.tmpdir = None
        connection_cls = type("Connection", (), {"_shell": shell, "transport": transport, "has_pipelining": stdin})
        if connection_module:
            connection_cls.__module__ = connection_module
        self._connection = connection_cls()
        self._task = types.SimpleNamespace(check_mode=check_mode, delegate_to=None, delegate_facts=False, become_method="sudo")
        # A root login without become: the record is written with the task's own privileges.
        self._play_context = types.SimpleNamespace(remote_user="root", become=False)
        self._templar = types.SimpleNamespace(template=lambda value: value)
        self._templar.copy_with_new_env = lambda **_kwargs: self._templar
        self.prefix = without_cap_audit_write()

    def _compute_environment_string(self):
        return ""

    def _is_pipelining_enabled(self, module_style, wrap_async=False):
        return self.pipelining

    def _make_tmp_path(self):
        path = tempfile.mkdtemp(prefix="ansible-tmp-", dir=str(self.tmp_path))
        self._connection._shell.tmpdir = path
        return path

    def _transfer_data(self, remote_path, data):
        # As the local connection's put_file: a copy, created with the process umask.
        source = os.path.join(str(self.tmp_path), "local-copy")
        with open(source, "w") as handle:
            handle.write(data)
        shutil.copyfile(source, remote_path)
        os.unlink(source)
        self.transferred[remote_path] = stat.S_IMODE(os.stat(remote_path).st_mode)
        return remote_path

    def _fixup_perms2(self, remote_paths, remote_user=None, execute=True):
        self.fixed_up.append((list(remote_paths), execute))

    def _low_level_execute_command(self, cmd, sudoable=True, in_data=None, executable=None):
        self.commands.append(cmd)
        self.stdin.append(in_data)
        # As the local connection: stdin takes bytes only.
        assert in_data is None or isinstance(in_data, bytes)
        if in_data is not None and sudoable and self.refuse_stdin:
            return {"rc": 1, "stdout": "", "stderr": self.refuse_stdin}
        proc = subprocess.run(self.prefix + ["/bin/sh", "-c", cmd], input=in_data, capture_output=True, check=False, timeout=60)
        return {"rc": proc.returncode, "stdout": proc.stdout.decode(), "stderr": proc.stderr.decode()}

    def _execute_module(self, module_name=None, module_args=None, task_vars=None):
        self.executed_module = (module_name, module_args)
        return {"changed": False, "via": "module"}


def run_module(args):
    """The usys_config module's own result for the same arguments (run directly, without AnsiballZ).

    With the origin write_on_target adds on the controller (hostname= and addr=), so the input is the same.
    """
    args = _writer.with_origin(args)
    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_module_name=_writer.WRITER_MODULE)}, handle)
        handle.flush()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        proc = subprocess.run(
            without_cap_audit_write() + [sys.executable, MODULE, handle.name],
            capture_output=True, text=True, env=env, check=False, timeout=60,
        )
    result = json.loads(proc.stdout)
    # The module sends warnings in ansible-core's wire format; the controller turns both into the same warning.
    result["warnings"] = [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]
    if not result["warnings"]:
        del result["warnings"]
    return result


def task_vars(**extra):
    return dict({"inventory_hostname": "unit-host", "ansible_python_interpreter": sys.executable}, **extra)


# --- argument validation on the controller ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        {"op": "unit-x", "result": "bogus"},
        {"op": "unit-x", "bogus": 1},
        {"fields": {}},
        {"op": "unit-x", "fields": "not a dict"},
        {"op": "unit-x", "backend": "nope"},
    ],
)
def test_bad_arguments_fail_on_the_controller_like_the_module(tmp_path, args):
    action = FakeAction(tmp_path)
    result = _writer.write_on_target(action, task_vars(), args)
    assert action.commands == [], "nothing may run on the target"
    module = run_module(args)
    assert result["failed"] is True
    assert result["msg"] == module["msg"]


def test_bad_field_names_fail_on_the_controller_with_the_targets_result(tmp_path):
    args = {"op": "unit-x", "fields": {"bad name": 1}}
    action = FakeAction(tmp_path)
    result = _writer.write_on_target(action, task_vars(), args)
    assert action.commands == []
    assert result == run_module(args)


# --- running the bundle -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stdin", [True, False])
@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize("on_unavailable", ["fail", "warn"])
def test_bundle_result_is_the_modules(tmp_path, stdin, pipelining, on_unavailable):
    marker = "m-" + uuid.uuid4().hex
    args = {"op": "unit-writer", "fields": {"run": marker, "path": "/etc/it's here"}, "on_unavailable": on_unavailable}
    action = FakeAction(tmp_path, pipelining=pipelining, stdin=stdin)
    result = _writer.write_on_target(action, task_vars(), args)
    assert result.pop("_ansible_parsed") is True
    assert result == run_module(args)
    cause = result["cause"] if on_unavailable == "fail" else result["unavailable"]["cause"]
    assert cause == ("AuditCapabilityError" if os.geteuid() == 0 else "AuditPermissionError")
    assert len(action.commands) == 1
    assert marker not in action.commands[0]
    if stdin:
        # Pipelining or not: the program is never a file on the target.
        assert action.commands[0] == " ".join(shlex.quote(word) for word in (
            sys.executable, "-E", "-s", "-S", "-c", _program.STDIN_LOADER))
        assert action.stdin[0].decode("ascii").startswith(_program.entry_program(compiled=True))
        assert action.transferred == {}
    else:
        assert_sent_as_private_file(action)


def assert_sent_as_private_file(action, command=0):
    [(path, mode)] = list(action.transferred.items())
    assert mode == 0o600
    # Root runs the bytes it read only from a private directory and when they are the program sent (their sha256).
    words = shlex.split(action.commands[command])
    assert words[:6] == [sys.executable, "-E", "-s", "-S", "-c", _program.FILE_LOADER]
    assert words[6:9] == [os.path.dirname(path), os.path.basename(path), "root"] and len(words[9]) == 64
    assert action.stdin[command] is None
    assert not os.path.exists(os.path.dirname(path)), "root removes the program's directory as it reads it"
    assert action.fixed_up == [], "nothing widens who may read or replace the program"


def test_the_task_tmp_dir_never_holds_the_program(tmp_path):
    """Where ansible-core gave the task's remote tmp dir to an unprivileged become_user (no setfacl), the writer's
    file goes to a directory of its own, and the task's tmp dir stays the task's."""
    task_tmpdir = tmp_path / "task-tmp"
    task_tmpdir.mkdir()
    action = FakeAction(tmp_path, pipelining=False, stdin=False)
    action._connection._shell.tmpdir = str(task_tmpdir)
    result = _writer.write_on_target(action, task_vars(), {"op": "unit-x", "on_unavailable": "warn"})
    assert result["_ansible_parsed"] is True, result
    assert_sent_as_private_file(action)
    [path] = list(action.transferred)
    assert not path.startswith(str(task_tmpdir))
    assert action._connection._shell.tmpdir == str(task_tmpdir)


def test_a_become_that_needs_a_terminal_gets_the_program_from_a_file_from_then_on(tmp_path):
    refusal = "sudo: sorry, you must have a tty to run sudo"
    action = FakeAction(tmp_path, pipelining=False, refuse_stdin=refusal)
    result = _writer.write_on_target(action, task_vars(), {"op": "unit-x", "on_unavailable": "warn"})
    assert result["_ansible_parsed"] is True, result
    assert len(action.commands) == 2 and action.stdin[0] is not None
    assert_sent_as_private_file(action, command=1)
    # The run noted it: the next record of this host goes from a file at once; another host tries stdin first.
    again = FakeAction(tmp_path, pipelining=False, refuse_stdin=refusal)
    _writer.write_on_target(again, task_vars(), {"op": "unit-x", "on_unavailable": "warn"})
    assert again.stdin == [None]
    other = FakeAction(tmp_path, pipelining=False, refuse_stdin=refusal)
    _writer.write_on_target(other, task_vars(inventory_hostname="unit-host-2"), {"op": "unit-x", "on_unavailable": "warn"})
    assert other.stdin[0] is not None and len(other.commands) == 2


def test_an_escalated_writer_starts_with_a_cleared_environment(tmp_path):
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._privilege import ESCALATED, Privilege

    action = FakeAction(tmp_path)
    privilege = Privilege(ESCALATED, "deploy", method="sudo")
    shell = action._connection._shell
    command = _writer._command(shell, "/usr/bin/python3", privilege, "-c", _program.STDIN_LOADER)
    assert shlex.split(command)[:5] == ["/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "/usr/bin/python3", "-E"]
    # Run for real: nothing of this process's environment reaches the writer's Python.
    env = dict(os.environ, PYTHONPATH=str(tmp_path), CA_SECRET="s3cret")
    command = _writer._command(shell, sys.executable, privilege, "-c", "import os, sys; print(sorted(os.environ), sys.flags.ignore_environment)")
    proc = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True, check=True)
    assert proc.stdout.split("]")[0].strip("[") in ("'PATH'", "'LC_CTYPE', 'PATH'"), proc.stdout
    assert proc.stdout.strip().endswith("1")


@pytest.mark.parametrize("error, unreachable", [
    ("Failed to connect to the host via ssh: Connection reset by peer", True),
    ("Timeout (12s) waiting for privilege escalation prompt: ", False),
    ("Timed out waiting for become success", False),
])
def test_a_dropped_connection_under_escalation_is_unreachable_not_a_privilege_failure(tmp_path, monkeypatch, error, unreachable):
    import contextlib

    from ansible.errors import AnsibleConnectionFailure
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._privilege import ESCALATED, Privilege

    def dropped(*_args, **_kwargs):
        raise AnsibleConnectionFailure(error)

    monkeypatch.setattr(_writer, "escalated", lambda *_args: contextlib.nullcontext())
    monkeypatch.setattr(_writer, "_run_program", dropped)
    action = FakeAction(tmp_path)
    privilege = Privilege(ESCALATED, "deploy", method="sudo")
    if unreachable:
        with pytest.raises(AnsibleConnectionFailure):
            _writer.write_on_target(action, task_vars(), {"op": "unit-x"}, privilege)
        return
    result = _writer.write_on_target(action, task_vars(), {"op": "unit-x"}, privilege)
    assert result["failed"] and "sudo" in result["msg"] and error.split(":")[0] in result["msg"], result


@pytest.fixture(autouse=True)
def run_local_tmp(tmp_path, monkeypatch):
    """ansible-playbook's per-run local tmp dir, where the writer notes which bytecode a host's Python runs."""
    path = tmp_path / "ansible-local"
    path.mkdir()
    monkeypatch.setattr(_interpreter.C, "DEFAULT_LOCAL_TMP", str(path))
    return path


def program_sent(action, tv, host="unit-host"):
    result = _writer.write_on_target(action, dict(tv, inventory_hostname=host), {"op": "unit-x"})
    assert result["_ansible_parsed"] is True, result
    assert _program.WRITER_MAGIC_KEY not in result
    return action.stdin[-1].decode("ascii")


def test_the_binding_goes_compiled_only_to_a_python_known_to_be_the_controllers(tmp_path):
    compiled, sources = _program.entry_program(compiled=True), _program.entry_program()
    assert program_sent(FakeAction(tmp_path), task_vars()).startswith(compiled)
    version = dict(zip(("major", "minor", "micro", "releaselevel"), sys.version_info[:4]))
    facts = {"python": {"executable": sys.executable, "version": version}}
    assert program_sent(FakeAction(tmp_path, transport="ssh"), task_vars(ansible_facts=facts)).startswith(compiled)
    facts["python"]["version"] = dict(version, minor=version["minor"] - 1)
    assert program_sent(FakeAction(tmp_path, transport="ssh"), task_vars(ansible_facts=facts)).startswith(sources)


def test_a_python_that_reported_the_controllers_bytecode_gets_the_binding_compiled_next_time(tmp_path, run_local_tmp):
    compiled, sources = _program.entry_program(compiled=True), _program.entry_program()
    assert program_sent(FakeAction(tmp_path, transport="ssh"), task_vars(), "web1").startswith(sources)
    assert program_sent(FakeAction(tmp_path, transport="ssh"), task_vars(), "web1").startswith(compiled)
    assert program_sent(FakeAction(tmp_path, transport="ssh"), task_vars(), "web2").startswith(sources)
    notes = sorted(path.read_text() for path in run_local_tmp.iterdir())
    assert notes == [base64.b64encode(_program.importlib.util.MAGIC_NUMBER).decode("ascii")] * 2
    # A Python that reported another bytecode gets the source.
    for path in run_local_tmp.iterdir():
        path.write_text(base64.b64encode(b"\x00\x00\r\n").decode("ascii"))
    assert program_sent(FakeAction(tmp_path, transport="ssh"), task_vars(), "web1").startswith(sources)


def test_compiled_binding_for_another_bytecode_is_refused_and_sent_again_as_sources(tmp_path, monkeypatch):
    monkeypatch.setattr(_program.importlib.util, "MAGIC_NUMBER", b"\x00\x00\r\n")
    _program.entry_program.cache_clear()
    _program.pack_binding.cache_clear()
    try:
        action = FakeAction(tmp_path)
        args = {"op": "unit-writer", "fields": {"run": uuid.uuid4().hex}, "on_unavailable": "warn"}
        result = _writer.write_on_target(action, task_vars(), args)
        assert [stdin.decode("ascii").startswith(_program.entry_program(compiled=True)) for stdin in action.stdin] == [True, False]
    finally:
        monkeypatch.undo()
        _program.entry_program.cache_clear()
        _program.pack_binding.cache_clear()
    assert result.pop("_ansible_parsed") is True
    assert result == run_module(args)


def test_check_mode_is_the_tasks(tmp_path):
    action = FakeAction(tmp_path, check_mode=True)
    _writer.write_on_target(action, task_vars(), {"op": "unit-x"})
    payload = action.stdin[0].decode("ascii").rsplit("_main(_PACKED, _MAGIC, ", 1)[1].rstrip(")\n")
    assert json.loads(base64.b64decode(eval(payload)))["check_mode"] is True  # noqa: S307


def test_interpreter_found_earlier_is_reused(tmp_path, monkeypatch):
    monkeypatch.setattr(_target, "discover_interpreter", lambda **kw: pytest.fail("discovered again"))
    action = FakeAction(tmp_path)
    tv = {"inventory_hostname": "unit-host", "ansible_facts": {"discovered_interpreter_python": sys.executable}}
    result = _writer.write_on_target(action, tv, {"op": "unit-x"})
    assert action.commands[0].startswith(sys.executable + " ")
    assert "ansible_facts" not in result


def test_interpreter_is_discovered_and_returned_as_a_fact(tmp_path, monkeypatch):
    calls = []

    def discover(action, interpreter_name, discovery_mode, task_vars):
        calls.append((interpreter_name, discovery_mode))
        return sys.executable

    monkeypatch.setattr(_target, "discover_interpreter", discover)
    action = FakeAction(tmp_path)
    tv = {"inventory_hostname": "unit-host"}
    result = _writer.write_on_target(action, tv, {"op": "unit-x"})
    assert calls == [("python", "auto")]
    assert result["ansible_facts"] == {"discovered_interpreter_python": sys.executable}
    assert tv["ansible_facts"]["discovered_interpreter_python"] == sys.executable
    _writer.write_on_target(action, tv, {"op": "unit-x"})
    assert len(calls) == 1


@pytest.mark.parametrize("pipelining", [True, False])
def test_missing_interpreter_is_named_with_the_fix(tmp_path, pipelining):
    action = FakeAction(tmp_path, pipelining=pipelining)
    result = _writer.write_on_target(action, task_vars(ansible_python_interpreter="/nonexistent/python3"), {"op": "unit-x"})
    assert result["failed"] is True
    assert "'/nonexistent/python3' was not found on unit-host" in result["msg"]
    assert "Set ansible_python_interpreter for unit-host" in result["msg"]


def test_interpreter_without_a_result_is_named_with_the_fix(tmp_path):
    result = _writer.write_on_target(FakeAction(tmp_path), task_vars(ansible_python_interpreter="/bin/false"), {"op": "unit-x"})
    assert result["failed"] is True
    assert result["_ansible_parsed"] is False
    assert "'/bin/false' on unit-host returned no result (rc=1)" in result["msg"]
    assert "Set ansible_python_interpreter" in result["msg"]


PYENV_VERSIONS = os.path.join(os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv"), "versions")
OLD_PYTHONS = sorted(
    glob.glob(os.path.join(PYENV_VERSIONS, "2.7*", "bin", "python2.7"))
    + glob.glob(os.path.join(PYENV_VERSIONS, "3.[67].*", "bin", "python3.[67]"))
    + glob.glob("/usr/bin/python2.7")
)


@pytest.mark.skipif(not OLD_PYTHONS, reason="no Python older than 3.8 on this machine")
@pytest.mark.parametrize("python", OLD_PYTHONS)
def test_too_old_interpreter_gets_a_message_not_a_traceback(tmp_path, python):
    result = _writer.write_on_target(FakeAction(tmp_path), task_vars(ansible_python_interpreter=python), {"op": "unit-x"})
    assert result["failed"] is True
    assert "needs Python 3.8 or newer, and %r on unit-host is Python " % python in result["msg"]


def test_mitogen_uses_the_module(tmp_path):
    action = FakeAction(tmp_path, connection_module="ansible_mitogen.connection")
    result = _writer.write_on_target(action, task_vars(), {"op": "unit-x"})
    assert result == {"changed": False, "via": "module"}
    assert action.executed_module == (_writer.WRITER_MODULE, _writer.with_origin({"op": "unit-x"}))
    assert action.commands == []


# --- the record helper (least-privilege mode) ---------------------------------------------------------------------


def helper_script(tmp_path, body):
    path = tmp_path / "changeaudit-record"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def helper_vars(path):
    return task_vars(changeaudit_record_privilege="helper", changeaudit_record_helper=path)


def test_helper_mode_sends_the_request_on_stdin_to_the_installed_helper(tmp_path):
    collections = os.pathsep.join(p for p in sys.path if p)
    path = helper_script(tmp_path, 'PYTHONPATH="%s" exec "%s" -c "import sys; from ansible_collections.changeaudit.linux.plugins.'
                         'module_utils._audit.helper import main; sys.exit(main())"' % (collections, sys.executable))
    marker = "m-" + uuid.uuid4().hex
    action = FakeAction(tmp_path)
    result = _writer.write_on_target(action, helper_vars(path), {"op": "unit-helper", "fields": {"run": marker}})
    # A root login runs the helper itself; its binding is this controller's, so the fingerprints agree.
    assert action.commands == [path]
    assert marker not in action.commands[0] and marker.encode() in action.stdin[0]
    assert result["cause"] == ("AuditCapabilityError" if os.geteuid() == 0 else "AuditPermissionError"), result
    assert result["record"].startswith("op=unit-helper run=")


def test_a_helper_of_another_version_is_refused(tmp_path):
    path = helper_script(tmp_path, """cat >/dev/null; echo '{"recorded": true, "helper": {"fingerprint": "0000"}}'""")
    result = _writer.write_on_target(FakeAction(tmp_path), helper_vars(path), {"op": "unit-helper"})
    assert result["failed"] is True and result["cause"] == _writer.HELPER_ERROR
    assert "installed from another version of changeaudit.linux" in result["msg"]
    assert "changeaudit.linux.record_helper" in result["msg"]


def test_a_missing_helper_names_the_role_that_installs_it(tmp_path):
    result = _writer.write_on_target(FakeAction(tmp_path), helper_vars(str(tmp_path / "nowhere")), {"op": "unit-helper"})
    assert result["failed"] is True and result["cause"] == _writer.HELPER_ERROR
    assert "the record helper %s failed" % (tmp_path / "nowhere") in result["msg"]
    assert "Install the record helper on this host with the role changeaudit.linux.record_helper" in result["msg"]
