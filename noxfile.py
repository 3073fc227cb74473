# /// script
# dependencies = ["nox==2026.10.20", "antsibull-nox==1.10.0"]
# ///
"""The collection's CI sessions: ``nox -l`` lists them, ``nox -s NAME`` runs one.

antsibull-nox.toml configures the sessions antsibull-nox adds (lint, docs-check, extra-checks, build-import-check);
they make their own venvs with pip. The sessions below are our own: antsibull-nox runs ansible-test only with
--docker and these machines have no container engine, and the live suites need the machine-wide audit subsystem.
They run the tools of .venv (and .build/venv-2.20, .build/venv-2.21), which scripts/setup.sh makes; scripts/test.sh
runs them all in order. Every session that touches the audit subsystem holds /run/lock/changeaudit-audit.lock
(unless CHANGEAUDIT_AUDIT_LOCK_HELD=1 says the caller holds it) and leaves auditd running with auditing on.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys
import typing as t

import nox

try:
    import antsibull_nox
except ImportError:
    print("You need to install antsibull-nox in the same Python environment as nox (scripts/setup.sh does).")
    sys.exit(1)

antsibull_nox.load_antsibull_nox_toml()

ROOT = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(ROOT, ".build")
COLLECTIONS = os.path.join(BUILD, "collections")
VENV = os.path.join(ROOT, ".venv")
LOCK_PATH = "/run/lock/changeaudit-audit.lock"
# ansible-core release -> (controller venv, controller Python, requirements file making it; None: .venv itself).
CORES = {
    "2.19": (VENV, "3.11", None),
    "2.20": (os.path.join(BUILD, "venv-2.20"), "3.12", "requirements-controller-2.20.txt"),
    "2.21": (os.path.join(BUILD, "venv-2.21"), "3.12", "requirements-controller-2.21.txt"),
}
TARGET_PYTHONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
PLAIN_OUTPUT = {"NO_COLOR": "1", "PY_COLORS": "0", "ANSIBLE_NOCOLOR": "1"}


def real_python(version: str) -> t.Optional[str]:
    """The interpreter of a Python version from the real interpreter folders, never a pyenv shim (those answer for
    versions that are not installed)."""
    candidates = sorted(glob.glob("/root/.pyenv/versions/%s.*/bin/python%s" % (version, version)))
    for candidate in candidates + ["/usr/bin/python%s" % version]:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


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


def require_venv(session: nox.Session, venv: str = VENV) -> None:
    if not os.access(os.path.join(venv, "bin", "python"), os.X_OK):
        session.error("%s is missing; run scripts/setup.sh first" % os.path.relpath(venv, ROOT))


def controller_venv(session: nox.Session, core: str) -> str:
    """The controller venv of an ansible-core release, made (or brought up to date) by scripts/ensure-venv.sh; None
    when its controller Python is not installed (the session is then skipped, and says so)."""
    venv, python, requirements = CORES[core]
    if requirements is None:
        require_venv(session, venv)
        return venv
    interpreter = real_python(python)
    if interpreter is None:
        session.skip("ansible-core %s needs Python %s on the controller, which is not installed" % (core, python))
    session.run("bash", "scripts/ensure-venv.sh", venv, interpreter, requirements, external=True)
    return venv


@contextlib.contextmanager
def audit_lock(session: nox.Session) -> t.Iterator[t.Dict[str, str]]:
    """Holds the machine-wide audit lock (unless the caller does) and hands back the environment saying so; restores
    auditd and auditing afterwards, whatever the session did."""
    if os.environ.get("CHANGEAUDIT_AUDIT_LOCK_HELD") == "1":
        handle = None
    else:
        handle = open(LOCK_PATH, "w")  # pylint: disable=consider-using-with
        session.log("waiting for %s" % LOCK_PATH)
        fcntl.flock(handle, fcntl.LOCK_EX)
    try:
        yield {"CHANGEAUDIT_AUDIT_LOCK_HELD": "1"}
    finally:
        try:
            session.run("bash", "scripts/ensure-auditd.sh", external=True, silent=True)
        finally:
            if handle is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()


# ------------------------------------------------------------------------------------------------ ansible-test


def ansible_test_tree(session: nox.Session) -> str:
    """A copy of the collection where ansible-test insists it lives (…/ansible_collections/changeaudit/linux, a real
    directory, not a symlink), in a git repository of its own: ansible-test decides what it tests from git."""
    dest = os.path.join(BUILD, "ansible-test", "ansible_collections", "changeaudit", "linux")
    os.makedirs(dest, exist_ok=True)
    excludes = [".venv", ".nox", ".build", ".git", "tests/output", ".pytest_cache", ".hypothesis", "__pycache__", "benchmarks/out"]
    command = ["rsync", "-a", "--delete"]
    for exclude in excludes:
        command += ["--exclude", exclude]
    session.run(*command, ROOT + "/", dest + "/", external=True, silent=True)
    git = ["git", "-C", dest, "-c", "user.name=ci", "-c", "user.email=ci@localhost"]
    subprocess.run(["git", "-C", dest, "init", "-q"], check=True)
    subprocess.run(git + ["add", "-A"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(git + ["commit", "-qm", "copy", "--allow-empty"], check=True, stdout=subprocess.DEVNULL)
    return dest


def install_get_pip(session: nox.Session, venv: str) -> None:
    """ansible-test bootstraps pip in the venvs it makes (--venv) with get-pip.py from a host out of reach here;
    tests/utils/get-pip.py stands in for it (see there), put where that ansible-test looks for its cached copy. A
    real cached script is left alone; an older copy of the stand-in is replaced."""
    source = subprocess.run(
        [os.path.join(venv, "bin", "python"), "-c",
         "import ansible_test, os; print(open(os.path.join(os.path.dirname(ansible_test.__file__), '_internal',"
         " 'python_requirements.py')).read())"],
        check=True, capture_output=True, text=True,
    ).stdout
    pip_version = re.search(r"pip='([0-9.]+)'", source).group(1)  # type: ignore[union-attr]
    cache = os.path.expanduser("~/.ansible/test/cache/get_pip_%s.py" % pip_version.replace(".", "_"))
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    stand_in = os.path.join(ROOT, "tests", "utils", "get-pip.py")
    if os.path.exists(cache) and "changeaudit get-pip stand-in" not in open(cache, encoding="utf-8").read():
        session.log("using the cached get-pip for pip %s: %s" % (pip_version, cache))
        return
    shutil.copyfile(stand_in, cache)
    session.log("get-pip stand-in for pip %s: %s" % (pip_version, cache))


def target_pythons_dir() -> t.Tuple[str, t.List[str], t.List[str]]:
    """ansible-test finds target Pythons as python3.X on PATH: a folder of links to the real interpreters."""
    pythons_dir = os.path.join(BUILD, "pythons")
    os.makedirs(pythons_dir, exist_ok=True)
    found, missing = [], []
    for version in TARGET_PYTHONS:
        link = os.path.join(pythons_dir, "python" + version)
        real = real_python(version)
        if os.path.lexists(link):
            os.remove(link)
        if real:
            os.symlink(real, link)
            found.append(version)
        else:
            missing.append(version)
    return pythons_dir, found, missing


def run_ansible_test(session: nox.Session, venv: str, *args: str, env: t.Optional[t.Dict[str, str]] = None) -> bool:
    """ansible-test ARGS from VENV in the copy; False when it failed (the caller runs the rest, then fails)."""
    dest = ansible_test_tree(session)
    pythons_dir, _found, _missing = target_pythons_dir()
    full_env = tools_env(venv, **(env or {}))
    full_env["PATH"] = pythons_dir + os.pathsep + full_env["PATH"]
    with session.chdir(dest):
        try:
            session.run(os.path.join(venv, "bin", "ansible-test"), *args, "--color", "no", env=full_env, external=True)
        except nox.command.CommandFailed:
            return False
    return True


def ignores_empty(session: nox.Session) -> bool:
    """ansible-test reads tests/sanity/ignore-<core version>.txt; they exist and stay empty (STYLE 4.6)."""
    ok = True
    for core in CORES:
        path = os.path.join(ROOT, "tests", "sanity", "ignore-%s.txt" % core)
        if not os.path.isfile(path):
            session.warn("missing %s (it must exist and be empty)" % os.path.relpath(path, ROOT))
            ok = False
        elif os.path.getsize(path):
            session.warn("%s is not empty; fix the findings instead of ignoring them" % os.path.relpath(path, ROOT))
            ok = False
    return ok


def ansible_test_sanity(session: nox.Session, core: str) -> None:
    """All sanity tests on the controller Python, then compile and import on every other target Python found."""
    venv = controller_venv(session, core)
    install_get_pip(session, venv)
    ok = ignores_empty(session)
    _pythons_dir, found, missing = target_pythons_dir()
    supported = subprocess.run(
        [os.path.join(venv, "bin", "python"), "-c",
         "from ansible_test._internal.constants import SUPPORTED_PYTHON_VERSIONS as s; print(' '.join(s))"],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    controller = CORES[core][1]
    ok = run_ansible_test(session, venv, "sanity", "--venv", "--python", controller, *session.posargs) and ok
    for version in found:
        if version == controller:
            continue
        if version not in supported:
            session.log("skipped: compile/import on Python %s (ansible-core %s does not support it)" % (version, core))
            continue
        session.log("compile and import on Python %s" % version)
        ok = run_ansible_test(session, venv, "sanity", "--venv", "--python", version, "--test", "compile", "--test", "import") and ok
    for version in missing:
        session.log("skipped: compile/import on Python %s (not installed)" % version)
    if not ok:
        session.error("ansible-test sanity with ansible-core %s failed" % core)


def ansible_test_units(session: nox.Session, core: str) -> None:
    venv = controller_venv(session, core)
    install_get_pip(session, venv)
    if not run_ansible_test(session, venv, "units", "--venv", "--python", CORES[core][1], *session.posargs):
        session.error("ansible-test units with ansible-core %s failed" % core)


def _add_ansible_test_sessions(core: str) -> None:
    def sanity(session: nox.Session) -> None:
        ansible_test_sanity(session, core)

    def units(session: nox.Session) -> None:
        ansible_test_units(session, core)

    sanity.__doc__ = "ansible-test sanity from ansible-core %s (--venv, empty ignore files, every target Python)" % core
    units.__doc__ = "ansible-test units from ansible-core %s (--venv)" % core
    nox.session(name="ansible-test-sanity-%s" % core, python=False, tags=["ansible-test-sanity"])(sanity)
    nox.session(name="ansible-test-units-%s" % core, python=False, tags=["ansible-test-units"])(units)


for _core in CORES:
    _add_ansible_test_sessions(_core)


@nox.session(name="ansible-test-integration", python=False, default=False)
def ansible_test_integration(session: nox.Session) -> None:
    """ansible-test integration (tests/integration/targets) on this machine, ansible-core 2.19; holds the audit lock."""
    require_venv(session)
    with audit_lock(session) as env:
        install_get_pip(session, VENV)
        args = session.posargs or ["--python", "3.11", "--allow-destructive"]
        if not run_ansible_test(session, VENV, "integration", *args, env=env):
            session.error("ansible-test integration failed")


# --------------------------------------------------------------------------------- suites against the live system


@nox.session(python=False)
def unit(session: nox.Session) -> None:
    """tests/unit with pytest in .venv (no audit subsystem needed)."""
    require_venv(session)
    link_collection()
    session.run("python", "-m", "pytest", "-q", "tests/unit", *session.posargs, env=tools_env(), external=True)


@nox.session(python=False, default=False)
def live(session: nox.Session) -> None:
    """tests/live: pytest against the real kernel audit subsystem and auditd; holds the audit lock."""
    require_venv(session)
    link_collection()
    with audit_lock(session) as env:
        session.run("python", "-m", "pytest", "-q", "tests/live", *session.posargs, env=tools_env(**env), external=True)


@nox.session(python=False, default=False)
def molecule(session: nox.Session) -> None:
    """molecule test on extensions/molecule (all scenarios, or the posargs); holds the audit lock."""
    require_venv(session)
    link_collection()
    args = session.posargs or ["--all"]
    env = tools_env(ANSIBLE_ROLES_PATH=os.path.join(ROOT, "tests", "integration", "targets"))
    base = ["molecule", "--base-config", "extensions/molecule/config.yml"]
    with audit_lock(session) as lock_env:
        env.update(lock_env)
        # The ssh scenarios log in to the sshd test hosts; start them (idempotent) whenever one of those may run.
        if "--all" in args or any("ssh" in arg for arg in args):
            session.run("bash", "scripts/ssh-hosts.sh", "up", env=env, external=True, silent=True)
        # Molecule keeps "prepared" in its state between runs and would skip prepare, which writes the fresh marker
        # each run's records are found by; start every test from a clean state.
        session.run(*base, "reset", "--all", env=env, external=True, silent=True)
        session.run(*base, "test", *args, env=env, external=True)


@nox.session(name="target-matrix", python=False, default=False)
def target_matrix(session: nox.Session) -> None:
    """The modules under every target Python 3.8-3.13 found, with ansible-core 2.19, 2.20, 2.21 as controller
    (scripts/target-matrix.sh); holds the audit lock."""
    require_venv(session)
    with audit_lock(session) as env:
        session.run("bash", "scripts/target-matrix.sh", env=env, external=True)


@nox.session(python=False, default=False)
def galaxy(session: nox.Session) -> None:
    """Build, offline install, ansible-doc and the demo from the installed tarball (scripts/galaxy-check.sh); holds
    the audit lock."""
    require_venv(session)
    with audit_lock(session) as env:
        session.run("bash", "scripts/galaxy-check.sh", env=env, external=True)


@nox.session(python=False, default=False)
def demo(session: nox.Session) -> None:
    """scripts/demo.sh: demo/demo.yml on localhost with the record_changes callback; holds the audit lock."""
    with audit_lock(session) as env:
        session.run("bash", "scripts/demo.sh", env=env, external=True)


# ---------------------------------------------------------------------------------------------- lint, changelog


def lint_venv(session: nox.Session) -> str:
    """ansible-lint and antsibull-changelog from requirements-lint.txt in .build/venv-lint, apart from .venv so that
    ansible-lint's dependencies never move the ansible-core the tests run."""
    require_venv(session)
    base_python = subprocess.run(
        [os.path.join(VENV, "bin", "python"), "-c", "import sys; print(sys._base_executable)"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    venv = os.path.join(BUILD, "venv-lint")
    session.run("bash", "scripts/ensure-venv.sh", venv, base_python, "requirements-lint.txt", external=True)
    return venv


def write_examples(out: str) -> t.List[str]:
    """Each module's EXAMPLES (a list of tasks) as a playbook of its own, so that ansible-lint checks it like any
    play. Returns the playbooks written."""
    import yaml  # pylint: disable=import-outside-toplevel

    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    written = []
    for path in sorted(glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        examples = [
            node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(target, ast.Name) and target.id == "EXAMPLES" for target in node.targets)
            and isinstance(node.value, ast.Constant)
        ]
        if not examples:
            raise ValueError("%s has no EXAMPLES" % path)
        tasks = yaml.safe_load(examples[0])
        if not isinstance(tasks, list) or not tasks:
            raise ValueError("%s: EXAMPLES is not a list of tasks" % path)
        playbook = os.path.join(out, name + ".yml")
        with open(playbook, "w", encoding="utf-8") as handle:
            handle.write("---\n# EXAMPLES of plugins/modules/%s.py, written by noxfile.py (ansible-lint)\n" % os.path.basename(path))
            handle.write("- name: EXAMPLES of changeaudit.linux.%s\n  hosts: all\n  gather_facts: false\n  tasks:\n" % name)
            for line in examples[0].strip("\n").splitlines():
                handle.write(("    " + line).rstrip() + "\n")
        written.append(os.path.relpath(playbook, ROOT))
    return written


@nox.session(name="ansible-lint", python=False)
def ansible_lint(session: nox.Session) -> None:
    """ansible-lint (production profile, .ansible-lint) on demo/, extensions/molecule/, every module's EXAMPLES and the
    target-matrix playbook."""
    venv = lint_venv(session)
    link_collection()
    examples = write_examples(os.path.join(BUILD, "lint", "examples"))
    session.log("EXAMPLES as playbooks: %s" % " ".join(examples))
    targets = ["demo", "tests/utils/target-matrix.yml"]
    if os.path.isdir(os.path.join(ROOT, "extensions", "molecule")):
        targets.append("extensions/molecule")
    targets.append(os.path.join(".build", "lint", "examples"))
    env = tools_env(venv, ANSIBLE_ROLES_PATH=os.path.join(ROOT, "tests", "integration", "targets"))
    env.pop("PYTHONPATH")
    lint = os.path.join(venv, "bin", "ansible-lint")
    session.run(lint, "--version", env=env, external=True)
    session.run(lint, "--profile", "production", "--offline", *targets, env=env, external=True)


@nox.session(python=False)
def changelog(session: nox.Session) -> None:
    """antsibull-changelog lint on changelogs/ (the fragments)."""
    venv = lint_venv(session)
    session.run(os.path.join(venv, "bin", "antsibull-changelog"), "lint", "-v", external=True)


# Allow to run the noxfile with `python noxfile.py`, `pipx run noxfile.py`, or similar.
if __name__ == "__main__":
    nox.main()
