"""The tested ansible-core releases, the controller venv of each, and this machine's real Python interpreters: one
source for noxfile.py (the ansible-test sessions) and the suites that run a controller or a target Python
(test_target_matrix.py).
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import typing as t

from livelib import COLLECTIONS, REPO as ROOT

BUILD = os.path.join(ROOT, ".build")
VENV = os.path.join(ROOT, ".venv")
# Output a log reads: no colour codes from ansible, pytest or nox.
PLAIN_OUTPUT = {"NO_COLOR": "1", "PY_COLORS": "0", "ANSIBLE_NOCOLOR": "1"}


class Controller(t.NamedTuple):
    """Where the ansible-core release runs as the controller: its venv, the Python version that venv is made with,
    and the requirements file that makes it (None: .venv, which scripts/setup.sh makes from
    requirements-dev.txt)."""

    venv: str
    python: str
    requirements: t.Optional[str]


def tested_cores() -> t.List[str]:
    """The ansible-core releases requires_ansible of meta/runtime.yml names (">=2.19.0,<2.22": 2.19 to 2.21), the
    one place they are set (plugin_utils/_core/_versions.py holds the same range, checked by a unit test)."""
    with open(os.path.join(ROOT, "meta", "runtime.yml"), encoding="utf-8") as handle:
        requires = re.search(r"requires_ansible:\s*'>=(\d+)\.(\d+)\.\d+,<(\d+)\.(\d+)'", handle.read())
    if requires is None:
        raise SystemExit("meta/runtime.yml needs requires_ansible: '>=X.Y.0,<X.Z'")
    major, low, _major, high = (int(part) for part in requires.groups())
    return ["%d.%d" % (major, minor) for minor in range(low, high)]


# The oldest tested release runs in .venv; each newer one in a venv of its own, made by scripts/ensure-venv.sh from
# requirements-controller-<release>.txt.
CONTROLLERS = {
    core: Controller(VENV, "3.11", None) if index == 0 else Controller(
        os.path.join(BUILD, "venv-%s" % core), "3.12", "requirements-controller-%s.txt" % core
    )
    for index, core in enumerate(tested_cores())
}


def pyenv_pythons(version: str) -> t.List[str]:
    """The interpreters of a Python version that pyenv installed (PYENV_ROOT, else ~/.pyenv), newest patch last."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    return sorted(glob.glob(os.path.join(root, "versions", "%s.*" % version, "bin", "python%s" % version)))


def real_python(version: str) -> t.Optional[str]:
    """The interpreter of a Python version from the real interpreter folders, never a pyenv shim (those answer for
    versions that are not installed)."""
    for candidate in pyenv_pythons(version) + ["/usr/bin/python%s" % version]:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def every_python(version: str) -> t.List[str]:
    """Every real interpreter of a Python version here (pyenv's and Debian's can differ), each counted once: a
    candidate counts only when it runs and says it is that version."""
    found: t.List[str] = []
    for candidate in pyenv_pythons(version) + ["/usr/bin/python%s" % version, "/usr/bin/python3"]:
        if not os.access(candidate, os.X_OK):
            continue
        try:
            actual = subprocess.run(
                [candidate, "-c", 'import sys; print("%d.%d" % sys.version_info[:2])'],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            continue
        if actual == version and all(os.path.realpath(seen) != os.path.realpath(candidate) for seen in found):
            found.append(candidate)
    return found


def tools_env(venv: str = VENV, **extra: str) -> t.Dict[str, str]:
    """Environment for the tools of a project venv: the collection through the .build/collections symlink."""
    env = {
        "PATH": os.path.join(venv, "bin") + os.pathsep + os.environ.get("PATH", ""),
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "PYTHONPATH": COLLECTIONS,
    }
    env.update(PLAIN_OUTPUT)
    env.update(extra)
    return env


def link_collection() -> None:
    """As scripts/setup.sh: ansible finds the collection through a symlink to the work tree."""
    os.makedirs(os.path.join(COLLECTIONS, "ansible_collections", "changeaudit"), exist_ok=True)
    link = os.path.join(COLLECTIONS, "ansible_collections", "changeaudit", "linux")
    if os.path.realpath(link) != ROOT:
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(ROOT, link)


class ControllerVenv(t.NamedTuple):
    """The venv of a controller, or why there is none: ``skip`` (its Python is not installed here) or ``fail``."""

    venv: t.Optional[str] = None
    skip: str = ""
    fail: str = ""


def ensure_controller(core: str) -> ControllerVenv:
    """The controller venv of an ansible-core release, made or brought up to date by scripts/ensure-venv.sh."""
    controller = CONTROLLERS[core]
    if controller.requirements is None:
        if not os.access(os.path.join(controller.venv, "bin", "python"), os.X_OK):
            return ControllerVenv(fail="%s is missing; run scripts/setup.sh first" % os.path.relpath(controller.venv, ROOT))
        return ControllerVenv(controller.venv)
    interpreter = real_python(controller.python)
    if interpreter is None:
        return ControllerVenv(skip="ansible-core %s needs Python %s on the controller, which is not installed" % (core, controller.python))
    made = subprocess.run(
        ["bash", os.path.join(ROOT, "scripts", "ensure-venv.sh"), controller.venv, interpreter, controller.requirements],
        cwd=ROOT, check=False,
    )
    if made.returncode != 0:
        return ControllerVenv(fail="scripts/ensure-venv.sh could not make %s" % os.path.relpath(controller.venv, ROOT))
    return ControllerVenv(controller.venv)
