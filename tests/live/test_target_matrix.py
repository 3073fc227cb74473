"""The modules under every target Python 3.8-3.13 found here, with each tested ansible-core release as controller.

A cell runs tests/utils/target-matrix.yml from that release's controller venv with one interpreter as the target,
then finds its record in audit.log with ausearch. A Python that is not installed, and a target Python the
controller's ansible-core does not support, are skipped with the reason (``pytest -rs`` lists them), never left
out. Run by ``nox -s target-matrix`` (the live session deselects it: ``-m "not target_matrix"``).
"""

from __future__ import annotations

import functools
import os
import subprocess
import typing as t

import pytest
import toolchain
from livelib import REPO, wait_for_lines

pytestmark = pytest.mark.target_matrix

MATRIX_PYTHONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")


def cells() -> t.List[t.Any]:
    params = []
    for core in toolchain.CONTROLLERS:
        controller = "core-%s/py%s" % (core, toolchain.CONTROLLERS[core].python)
        for version in MATRIX_PYTHONS:
            interpreters = toolchain.every_python(version)
            if not interpreters:
                params.append(pytest.param(core, version, None, id="%s->py%s" % (controller, version)))
            # Two interpreters of one version (pyenv's and Debian's 3.11) are two cells.
            params.extend(
                pytest.param(core, version, python, id="%s->%s" % (controller, python)) for python in interpreters
            )
    return params


@functools.lru_cache(maxsize=None)
def controller_venv(core: str) -> toolchain.ControllerVenv:
    return toolchain.ensure_controller(core)


@functools.lru_cache(maxsize=None)
def oldest_target_python(venv: str) -> t.Tuple[int, ...]:
    """The oldest target Python the controller's ansible-core supports (its modules refuse older ones)."""
    out = subprocess.run(
        [os.path.join(venv, "bin", "python"), "-c", 'import ansible.module_utils.basic as b; print("%d.%d" % b._PY_MIN)'],
        check=True, capture_output=True, text=True,
    ).stdout
    return tuple(int(part) for part in out.split("."))


@pytest.mark.parametrize("core,version,python", cells())
def test_target_python(core: str, version: str, python: t.Optional[str], marker: str) -> None:
    if python is None:
        pytest.skip("Python %s is not installed" % version)
    made = controller_venv(core)
    if made.skip:
        pytest.skip(made.skip)
    if made.fail:
        pytest.fail(made.fail)
    venv = made.venv
    oldest = oldest_target_python(venv)
    if tuple(int(part) for part in version.split(".")) < oldest:
        pytest.skip("ansible-core %s needs Python %s+ on targets" % (core, ".".join(map(str, oldest))))
    toolchain.link_collection()
    env = dict(os.environ, **toolchain.PLAIN_OUTPUT)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": toolchain.COLLECTIONS,
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
    })
    played = subprocess.run(
        [os.path.join(venv, "bin", "ansible-playbook"), "-i", "localhost,", "tests/utils/target-matrix.yml",
         "-e", "ansible_python_interpreter=%s" % python, "-e", "matrix_python=%s" % version, "-e", "matrix_marker=%s" % marker],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", check=False,
    )
    assert played.returncode == 0, played.stdout
    found = wait_for_lines('marker="%s"' % marker)
    assert len(found) == 1, "ausearch --input-logs finds no USYS_CONFIG record with marker=%s" % marker
    assert 'py="%s"' % version in found[0]
