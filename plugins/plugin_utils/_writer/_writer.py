# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The one writer: how an action plugin on the controller gets a record written on the target.

An AnsiballZ module run spends ~87 ms importing ``ansible.module_utils.basic``
before our code starts. The record only needs the stdlib-only ``_audit``
binding, so this sends the program ``_program`` builds and runs it with the
host's Python (``_interpreter``) through the action's connection (``_core._target``, become
honoured): on the command's stdin whether the connection pipelines or not, so
that the program root runs is never a file another user (an unprivileged
become_user owns the task's remote tmp dir where setfacl is missing) could
replace. Only where stdin cannot carry it (a connection without stdin, a become
that needs a terminal: sudo's requiretty, su asking a password) is it a 0600
file in a fresh directory of the login user's, which root checks, reads once
and removes before it runs those bytes, checked against their sha256. Escalated,
the writer starts with a cleared environment and an isolated Python. The record
never appears in a process's arguments, nor does the task's ``environment:``. Under Mitogen the module path is cheaper and
is used instead. Whichever way, the target runs ``request.execute``, so the
record and the result are those of the usys_config module. This file: the
request checked on the controller, the transport, and the result parsed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import typing as t

from ansible import constants as C
from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.request import error_result, validate_request
from ansible_collections.changeaudit.linux.plugins.module_utils._specs import WRITER_ARGUMENT_SPEC
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._context import controller_origin
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _target
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer._interpreter import (
    python_interpreter,
    remember_python,
    same_python,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._privilege import (
    AS_TASK,
    ROOT,
    Privilege,
    RecordPrivilegeError,
    clean_environment,
    escalated,
    escalation_fix,
    record_privilege,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer._program import (
    AUDIT_DIR,
    MIN_PYTHON,
    FILE_LOADER,
    PYTHON_FLAGS,
    STDIN_LOADER,
    WRITER_ERROR_KEY,
    WRITER_MAGIC_KEY,
    entry_program,
    json_default,
    program_for,
)

if t.TYPE_CHECKING:
    from ansible.plugins.action import ActionBase

WRITER_MODULE = "changeaudit.linux.usys_config"
# The cause of a failure because the host has no Python where the writer looked: a host that cannot keep records.
PYTHON_NOT_FOUND = "PythonNotFound"
HELPER_ERROR = "RecordHelperError"


def validate(params: t.Mapping[str, t.Any]) -> t.Tuple[t.Dict[str, t.Any], t.Optional[str]]:
    """(params with defaults, error message): the usys_config argument spec, checked as AnsibleModule would."""
    validated = dict(params)
    result = ArgumentSpecValidator(WRITER_ARGUMENT_SPEC).validate(validated)
    validated.update(result.validated_parameters)
    if not result.error_messages:
        return validated, None
    msg = result.errors.msg
    if isinstance(result.errors.errors[0], UnsupportedError):
        msg = "Unsupported parameters for (%s) module: %s" % (WRITER_MODULE, msg)
    return validated, msg


def is_mitogen(connection: t.Any) -> bool:
    return any(cls.__module__.split(".")[0] == "ansible_mitogen" for cls in type(connection).__mro__)


@contextlib.contextmanager
def _private_files() -> t.Iterator[None]:
    """Files created meanwhile by this process (the local copy and the local connection's target) are 0600."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


# Absolute, as every program the writer names on the target: PATH there is the login user's.
SUDO = "/usr/bin/sudo"
# What sudo (requiretty) and su print when they need the terminal that a program on stdin leaves them without.
# ansible-core's wording when become never answered (ssh: "waiting for privilege escalation prompt", local:
# "waiting for become success").
_ESCALATION_TIMEOUT = re.compile(r"waiting for (privilege escalation prompt|become success)", re.I)
_NEEDS_TTY = re.compile(r"must have a tty|must be run from a terminal|no tty present|a terminal is required", re.I)


def _command(shell: t.Any, interpreter: str, privilege: t.Optional[Privilege], *args: str) -> str:
    """As ShellBase.build_module_command builds a module's: the interpreter is one word, as in a shebang.

    Escalated, the writer starts with no environment but a fixed PATH (``env -i``, inside the escalated command):
    the login user's PYTHON*, LD_* or locale variables never reach root's Python, whatever the become method
    passes on. Never the task's ``environment:``: the writer needs none of it, and its values would be on root's
    command line (ps, sudo's log).
    """
    start = clean_environment() if privilege is not None and privilege.way.escalates else ()
    return shell.join(start + (interpreter,) + PYTHON_FLAGS + args)


def _tty_note(host: str) -> str:
    """Where this run notes that a host's become needs a terminal, so that its next records go from a file at once."""
    key = hashlib.sha256(host.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return os.path.join(C.DEFAULT_LOCAL_TMP, "changeaudit-needs-tty-" + key)


def _run_program(
    action: ActionBase, interpreter: str, program: str, privilege: t.Optional[Privilege] = None, host: str = ""
) -> t.Dict[str, t.Any]:
    """Runs the program as root (or as the task): on the command's stdin, whether the connection pipelines or not,
    so that it is never a file another user could replace; from a private file only where stdin cannot carry it."""
    shell = _target.shell(action._connection)
    if getattr(action._connection, "has_pipelining", False) and not os.path.exists(_tty_note(host)):
        # Not "python -": Python parses a program from stdin ~25 ms slower per 60 KB than from a string.
        command = _command(shell, interpreter, privilege, "-c", STDIN_LOADER)
        res = _target.run_command(action, command, sudoable=True, in_data=program.encode("ascii"))
        if res.get("rc") == 0 or _result_object(res.get("stdout") or "") is not None:
            return res
        if not _NEEDS_TTY.search("%s\n%s" % (res.get("stderr") or "", res.get("stdout") or "")):
            return res
        # Refused before anything ran as root (sudo's requiretty, su asking a password): the terminal ssh -tt gives
        # comes only without stdin.
        try:
            with open(_tty_note(host), "w", encoding="ascii"):
                pass
        except OSError:
            pass
    return _run_program_file(action, interpreter, program, privilege)


def _run_program_file(action: ActionBase, interpreter: str, program: str, privilege: t.Optional[Privilege]) -> t.Dict[str, t.Any]:
    """The program as a file in a directory made for it alone by the login user (never the task's remote tmp dir,
    which an unprivileged become_user may own), that root checks and reads once (``_program.FILE_LOADER``)."""
    shell = _target.shell(action._connection)
    tmpdir = _target.private_tmp_path(action)
    name = "changeaudit_writer.py"
    with _private_files():
        _target.transfer_data(action, shell.join_path(tmpdir, name), program)
    login = privilege.login if privilege is not None else ROOT
    digest = hashlib.sha256(program.encode("ascii")).hexdigest()
    res = _target.run_command(
        action, _command(shell, interpreter, privilege, "-c", FILE_LOADER, tmpdir, name, login, digest), sudoable=True
    )
    if _result_object(res.get("stdout") or "") is None:
        # Root removes the directory as it reads the program; a Python that never started left it.
        _target.run_command(action, shell.remove(tmpdir, recurse=True), sudoable=False)
    return res


def _failure(msg: str, res: t.Mapping[str, t.Any], cause: str = "WriterNoResult") -> t.Dict[str, t.Any]:
    return {
        "failed": True,
        "msg": msg,
        "recorded": False,
        "cause": cause,
        "rc": res.get("rc"),
        "module_stdout": res.get("stdout", ""),
        "module_stderr": res.get("stderr", ""),
        "_ansible_parsed": False,
    }


def _result_object(stdout: str) -> t.Optional[t.Dict[str, t.Any]]:
    """The JSON object the writer (or the record helper) printed, or None."""
    try:
        data = json.loads(_target.json_object_lines(stdout))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


# What sudo, su, doas and PAM print when they refuse to switch user: the writer never ran.
_REFUSED_BECOME = re.compile(
    r"password is required|incorrect password|authentication failure|not allowed to execute|not in the sudoers|"
    r"may not run sudo|permission denied|must be run from a terminal|sorry|not permitted", re.I
)


def parse_output(
    res: t.Mapping[str, t.Any], interpreter: str, host: str, privilege: t.Optional[Privilege] = None
) -> t.Dict[str, t.Any]:
    """The result the program printed, or a failure that names the interpreter, or the privilege, and the fix."""
    fix = "Set ansible_python_interpreter for %s to a Python %d.%d or newer that exists there" % ((host,) + MIN_PYTHON)
    stdout, stderr = res.get("stdout") or "", res.get("stderr") or ""
    data = _result_object(stdout)
    if data is None:
        for text in (stderr, stdout):
            if any(
                "%s: %s" % (interpreter.split()[0], marker) in text
                for marker in ("No such file or directory", "not found", "command not found")
            ):
                return _failure(
                    "Cannot write the audit record: the Python interpreter %r was not found on %s. %s, or leave it "
                    "unset to have it discovered." % (interpreter, host, fix),
                    res,
                    PYTHON_NOT_FOUND,
                )
        last = (stderr.strip().splitlines() or stdout.strip().splitlines() or ["no output"])[-1]
        if privilege is not None and privilege.way.escalates and _REFUSED_BECOME.search(last):
            return _failure(
                "Cannot write the audit record: %s failed on %s (rc=%s): %s. %s."
                % (privilege.describe(), host, res.get("rc"), last, escalation_fix(privilege)),
                res,
                RecordPrivilegeError.__name__,
            )
        return _failure(
            "Cannot write the audit record: the writer run with the Python interpreter %r on %s returned no result "
            "(rc=%s): %s. %s; module_stderr has the full output." % (interpreter, host, res.get("rc"), last, fix),
            res,
        )
    if data.get(WRITER_ERROR_KEY) == "program_replaced":
        return _failure(
            "Cannot write the audit record on %s: the writer's program file was not the one sent, or not in a private "
            "directory of the login user (%s), so root did not run it. Only the login user or root can change that "
            "directory: find out who did, or let the program go on stdin (a become that needs no terminal: sudo "
            "without requiretty, or the record helper)" % (host, data.get("why") or "replaced"),
            res,
            "WriterProgramReplaced",
        )
    if data.get(WRITER_ERROR_KEY) == "python_too_old":
        return _failure(
            "Cannot write the audit record: the writer needs Python %d.%d or newer, and %r on %s is Python %s. %s."
            % (MIN_PYTHON + (interpreter, host, data.get("python_version"), fix)),
            res,
            "PythonTooOld",
        )
    data["_ansible_parsed"] = True
    return data


def injects_invocation(task_vars: t.Mapping[str, t.Any]) -> bool:
    """Whether a module run by this ansible-core returns ``invocation``: always up to 2.20, and from 2.21 only
    with INJECT_INVOCATION, so the writer's result keeps matching the module's."""
    try:
        return bool(C.config.get_config_value("INJECT_INVOCATION", variables=task_vars))
    except AnsibleError:
        return True


def with_origin(params: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The params with this controller as the record's hostname= and addr=, unless the caller named an origin.

    That is where the change came from, as sshd and sudo write their client there; ausearch -hn finds it.
    """
    params = dict(params)
    if not params.get("hostname") and not params.get("addr"):
        origin = controller_origin()
        params.update((key, value) for key, value in origin.items() if value)
    return params


def write_on_target(
    action: ActionBase, task_vars: t.Dict[str, t.Any], params: t.Mapping[str, t.Any], privilege: t.Optional[Privilege] = None,
    check_mode: t.Optional[bool] = None,
) -> t.Dict[str, t.Any]:
    """Write one record on the action's host, as root whoever the task runs as; returns what the usys_config
    module would return.

    ``params`` are the usys_config options; check mode is the task's unless ``check_mode`` says. ``privilege``: how
    the record gets root (``_privilege.record_privilege``), found from the action's connection when not given. Uses
    action._task, _connection, _play_context and _templar, and runs on the target through ``_core._target``.
    """
    params = with_origin(params)
    host = action._task.delegate_to or task_vars.get("inventory_hostname") or "the host"
    validated, error = validate(params)
    invocation = {"invocation": {"module_args": validated}} if injects_invocation(task_vars) else {}
    if error:
        return dict({"failed": True, "msg": error}, **invocation)
    if privilege is None:
        try:
            privilege = record_privilege(action._connection, action._play_context, action._task, task_vars, action._templar)
        except RecordPrivilegeError as exc:
            return dict({"failed": True, "msg": "Cannot write the audit record on %s: %s" % (host, exc), "recorded": False,
                         "cause": RecordPrivilegeError.__name__}, **invocation)
    check_mode = bool(action._task.check_mode) if check_mode is None else check_mode
    if is_mitogen(action._connection) and privilege.how == AS_TASK and check_mode == bool(action._task.check_mode):
        return _target.execute_module(action, WRITER_MODULE, dict(params), task_vars)
    request = dict(validated, check_mode=check_mode)
    try:
        validate_request(request)
    except AuditError as exc:
        # The target would refuse it with this same result; nothing needs to run there.
        return dict(error_result(exc, request.get("on_unavailable") or "fail", record=None), **invocation)
    if privilege.way.runs_helper:
        result = _run_helper(action, privilege, request, host)
        if result.get("_ansible_parsed"):
            result.update(invocation)
        return result
    interpreter, discovered = python_interpreter(action, task_vars)
    compiled = same_python(action, task_vars, interpreter, host)
    try:
        with escalated(action, privilege, task_vars):
            result = parse_output(
                _run_program(action, interpreter, program_for(request, compiled), privilege, host), interpreter, host, privilege
            )
            if compiled and result.get(WRITER_ERROR_KEY) == "bytecode_mismatch":
                # Not the bytecode expected: a patch release that changed it, or another Python now at that path.
                result = parse_output(
                    _run_program(action, interpreter, program_for(request), privilege, host), interpreter, host, privilege
                )
    except AnsibleError as exc:
        # A connection that dropped is the host unreachable, as core reports it for the task, never "cannot keep
        # records"; of the connection failures only a become prompt that never came is the escalation's own.
        dropped = isinstance(exc, AnsibleConnectionFailure) and not _ESCALATION_TIMEOUT.search(str(exc))
        if not privilege.way.escalates or dropped:
            raise
        # The connection's own become errors: a wrong password, a missing one, a prompt that never came.
        return dict(_failure(
            "Cannot write the audit record: %s failed on %s: %s. %s." % (privilege.describe(), host, exc, escalation_fix(privilege)),
            {}, RecordPrivilegeError.__name__,
        ), **invocation)
    remember_python(host, interpreter, result.pop(WRITER_MAGIC_KEY, None))
    if result.get("_ansible_parsed"):
        result.update(invocation)
    if discovered:
        result.setdefault("ansible_facts", {})["discovered_interpreter_python"] = discovered
    return result


@functools.lru_cache(maxsize=None)
def binding_fingerprint() -> str:
    """The fingerprint of this controller's binding, which a record helper installed from it reports too."""
    from ansible_collections.changeaudit.linux.plugins.module_utils._audit.helper import sources_fingerprint

    return sources_fingerprint(AUDIT_DIR)


def _run_helper(action: ActionBase, privilege: Privilege, request: t.Mapping[str, t.Any], host: str) -> t.Dict[str, t.Any]:
    """The record helper run with /usr/bin/sudo -n (directly for a root login), the request on stdin, never in
    arguments; both by absolute path, as the sudoers rule names the helper."""
    shell = _target.shell(action._connection)
    path = privilege.helper_path or ""
    command = shell.join((path,) if privilege.login == ROOT else (SUDO, "-n", path))
    payload = json.dumps(request, default=json_default).encode("utf-8", "surrogateescape")
    res = _target.run_command(action, command, sudoable=False, in_data=payload)
    stdout, stderr = res.get("stdout") or "", res.get("stderr") or ""
    data = _result_object(stdout)
    if data is None:
        last = (stderr.strip().splitlines() or stdout.strip().splitlines() or ["no output"])[-1]
        return _failure(
            "Cannot write the audit record: %s failed on %s (rc=%s): %s. %s."
            % (privilege.describe(), host, res.get("rc"), last, escalation_fix(privilege)),
            res,
            HELPER_ERROR,
        )
    helper = data.pop("helper", None) or {}
    if helper.get("fingerprint") != binding_fingerprint():
        return _failure(
            "Cannot write the audit record: the record helper %s on %s was installed from another version of "
            "changeaudit.linux than this controller runs; apply the role changeaudit.linux.record_helper to %s again"
            % (path, host, host),
            res,
            HELPER_ERROR,
        )
    data["_ansible_parsed"] = True
    return data


# Built on import: the strategy imports action plugins in the ansible-playbook process, so every task's forked
# worker starts with the program (~3 ms a task) and the controller's resolved address instead of finding them again.
entry_program()
entry_program(compiled=True)
controller_origin()


__all__ = [
    "WRITER_MODULE",
    "PYTHON_NOT_FOUND",
    "HELPER_ERROR",
    "binding_fingerprint",
    "with_origin",
    "injects_invocation",
    "validate",
    "is_mitogen",
    "parse_output",
    "write_on_target",
]
