"""The collection as Galaxy gets it: built, installed offline into an empty collections path and used from there only.

No build or development files in the tarball; ansible-doc renders every module (also the action-backed ones) and
every action plugin has its module docs; demo/demo.yml from the installed copy writes a record that reaches
audit.log (why this is a live suite). Run by ``nox -s galaxy`` (the live session deselects it: ``-m "not galaxy"``).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import typing as t

import pytest
import toolchain
from livelib import REPO, wait_for_lines

pytestmark = pytest.mark.galaxy

BIN = os.path.join(toolchain.VENV, "bin")
# Nothing of the work tree's machinery, caches or build output goes to Galaxy; the demo does.
UNWANTED = re.compile(
    r"(^|/)(\.venv|\.build|\.git|\.ci|\.hypothesis|\.pytest_cache|\.ansible|__pycache__|tests/output|benchmarks|scripts)(/|$)"
    r"|\.pyc$|\.tar\.gz$"
)
WANTED = (
    "MANIFEST.json", "FILES.json", "README.md", "COPYING", "meta/runtime.yml", "demo/demo.yml",
    "plugins/modules/usys_config.py", "plugins/action/usys_config.py", "plugins/action/audited.py", "playbooks/evidence.yml",
)
DOC_PROBLEM = re.compile(r"^\[(WARNING|ERROR|DEPRECATION WARNING)\]", re.MULTILINE)


def run(command: t.Sequence[str], env: t.Dict[str, str], cwd: t.Optional[str] = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", check=False
    )


@pytest.fixture(scope="module")
def install_dir() -> t.Iterator[str]:
    path = tempfile.mkdtemp(prefix="changeaudit-galaxy.", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def env(install_dir: str) -> t.Dict[str, str]:
    """Only the installed copy may be found: not the work tree through PYTHONPATH (scripts/test.sh sets it) or
    sys.path, nor a copy in ~/.ansible/collections."""
    environ = dict(os.environ, **toolchain.PLAIN_OUTPUT)
    environ.pop("PYTHONPATH", None)
    environ.update({
        "ANSIBLE_COLLECTIONS_PATH": install_dir,
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    })
    return environ


@pytest.fixture(scope="module")
def tarball(env: t.Dict[str, str], install_dir: str) -> str:
    dist = os.path.join(install_dir, "dist")
    built = run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", dist, REPO], env)
    assert built.returncode == 0, built.stdout
    found = glob.glob(os.path.join(dist, "changeaudit-linux-*.tar.gz"))
    assert len(found) == 1, built.stdout
    return found[0]


@pytest.fixture(scope="module")
def installed(env: t.Dict[str, str], install_dir: str, tarball: str) -> str:
    done = run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "-p", install_dir, tarball], env)
    assert done.returncode == 0, done.stdout
    path = os.path.join(install_dir, "ansible_collections", "changeaudit", "linux")
    assert os.path.isfile(os.path.join(path, "MANIFEST.json")) and not os.path.islink(path)
    return path


def test_tarball_holds_the_collection_and_nothing_of_its_machinery(tarball: str) -> None:
    with tarfile.open(tarball) as archive:
        listing = archive.getnames()
    assert [name for name in listing if UNWANTED.search(name)] == []
    assert [want for want in WANTED if want not in listing] == []


def installed_modules(installed: str) -> t.List[str]:
    return sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(installed, "plugins", "modules", "*.py")))


def test_every_action_plugin_documents_through_its_module(installed: str) -> None:
    actions = sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(installed, "plugins", "action", "*.py")))
    assert [name for name in actions if name not in installed_modules(installed)] == []


def test_ansible_doc_renders_every_module(installed: str, env: t.Dict[str, str]) -> None:
    ansible_doc = os.path.join(BIN, "ansible-doc")
    listed = run([ansible_doc, "-t", "module", "-l", "changeaudit.linux"], env)
    assert listed.returncode == 0, listed.stdout
    for name in installed_modules(installed):
        assert re.search(r"^changeaudit\.linux\.%s " % re.escape(name), listed.stdout, re.MULTILINE), listed.stdout
        doc = run([ansible_doc, "-t", "module", "changeaudit.linux." + name], env)
        assert doc.returncode == 0 and not DOC_PROBLEM.search(doc.stdout) and "EXAMPLES" in doc.stdout, doc.stdout


def test_demo_from_the_installed_copy_writes_its_record(installed: str, env: t.Dict[str, str], install_dir: str, marker: str) -> None:
    demo_env = dict(env, CHANGEAUDIT_RUN_ID=marker, ANSIBLE_CALLBACKS_ENABLED="changeaudit.linux.record_changes")
    played = run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", os.path.join(installed, "demo", "demo.yml")], demo_env, cwd=install_dir)
    assert played.returncode == 0, played.stdout
    found = wait_for_lines('run_id="%s"' % marker)
    assert found, "no record of run %s reached audit.log" % marker
    assert any('task_path="%s/demo/demo.yml:' % installed in line for line in found), found
