# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Which Python the writer runs on a target, resolved as ansible-core resolves a module's, and whether that Python
runs this controller's bytecode (so that the binding can go there compiled)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import sys
import typing as t

from ansible import constants as C
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._target import discover_python, remote_is_local

if t.TYPE_CHECKING:
    from ansible.plugins.action import ActionBase

DISCOVERY_MODES = ("auto", "auto_legacy", "auto_silent", "auto_legacy_silent")


def _python_note(host: str, interpreter: str) -> str:
    """Where this run keeps the bytecode magic an interpreter on a host reported: ansible-playbook's local tmp dir,
    made (0700) before the workers fork, shared by them, and removed when the run ends."""
    key = hashlib.sha256(("%s\0%s" % (host, interpreter)).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return os.path.join(C.DEFAULT_LOCAL_TMP, "changeaudit-python-" + key)


def remember_python(host: str, interpreter: str, magic: t.Any) -> None:
    if not isinstance(magic, str):
        return
    path = _python_note(host, interpreter)
    try:
        with open(path + ".%d" % os.getpid(), "w", encoding="ascii") as handle:
            handle.write(magic)
        os.replace(path + ".%d" % os.getpid(), path)
    except (OSError, UnicodeError):
        pass  # only an optimisation: the next record goes as source again


def same_python(action: ActionBase, task_vars: t.Dict[str, t.Any], interpreter: str, host: str) -> bool:
    """Whether the target's interpreter is known to run this controller's bytecode, so that the binding can go
    there compiled: the controller's own interpreter on a local connection, an interpreter whose version the
    host's gathered facts name, or one that reported the same magic to an earlier record of this run."""
    if action._connection.transport == "local" or remote_is_local(action._connection):
        if os.path.realpath(interpreter) == os.path.realpath(sys.executable):
            return True
    python = (_host_vars(action, task_vars).get("ansible_facts") or {}).get("python") or {}
    version = python.get("version") or {}
    if python.get("executable") == interpreter and (
        version.get("major"), version.get("minor"), version.get("releaselevel")
    ) == tuple(sys.version_info[:2]) + (sys.version_info.releaselevel,):
        return True
    try:
        with open(_python_note(host, interpreter), encoding="ascii") as handle:
            return handle.read() == base64.b64encode(importlib.util.MAGIC_NUMBER).decode("ascii")
    except (OSError, UnicodeError):
        return False


def _host_vars(action: ActionBase, task_vars: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    """The variables of the host the command runs on (the delegated one, if any), as ActionBase uses them."""
    if action._task.delegate_to:
        return task_vars.get("ansible_delegated_vars", {}).get(action._task.delegate_to, task_vars)
    return task_vars


def python_interpreter(action: ActionBase, task_vars: t.Dict[str, t.Any]) -> t.Tuple[str, t.Optional[str]]:
    """(interpreter, newly discovered or None), resolved the way ActionBase._configure_module resolves a module's.

    ansible_python_interpreter (templated) when set; else the one discovered earlier for this host; else
    discover it now and remember it in task_vars, as _configure_module does for the rest of this worker.
    """
    host_vars = _host_vars(action, task_vars)
    if remote_is_local(action._connection):
        return task_vars["ansible_playbook_python"], None
    configured = C.config.get_config_value("INTERPRETER_PYTHON", variables=host_vars)
    # Templated before stripping: on ansible-core 2.19+ a stripped copy would lose the trust a template needs.
    interpreter = action._templar.template(configured) if configured else configured
    interpreter = interpreter.strip() if isinstance(interpreter, str) else interpreter
    if interpreter and interpreter not in DISCOVERY_MODES:
        return interpreter, None
    facts = host_vars.setdefault("ansible_facts", {})
    if facts.get("discovered_interpreter_python"):
        return facts["discovered_interpreter_python"], None
    discovered = discover_python(action, interpreter or "auto", host_vars)
    facts["discovered_interpreter_python"] = discovered
    if action._task.delegate_to and not action._task.delegate_facts:
        # As _configure_module: facts of a delegated host stay in this worker, they do not go back as facts.
        return discovered, None
    return discovered, discovered


__all__ = ["DISCOVERY_MODES", "remember_python", "same_python", "python_interpreter"]
