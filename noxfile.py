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
import tarfile
import tempfile
import time
import traceback
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


def tested_cores() -> t.List[str]:
    """The ansible-core releases requires_ansible of meta/runtime.yml names (">=2.19.0,<2.22": 2.19 to 2.21), the
    one place they are set (plugin_utils/_core.py holds the same range, checked by a unit test)."""
    with open(os.path.join(ROOT, "meta", "runtime.yml"), encoding="utf-8") as handle:
        requires = re.search(r"requires_ansible:\s*'>=(\d+)\.(\d+)\.\d+,<(\d+)\.(\d+)'", handle.read())
    if requires is None:
        raise SystemExit("noxfile.py: meta/runtime.yml needs requires_ansible: '>=X.Y.0,<X.Z'")
    major, low, _major, high = (int(part) for part in requires.groups())
    return ["%d.%d" % (major, minor) for minor in range(low, high)]


# ansible-core release -> (controller venv, controller Python, requirements file making it). The oldest runs in .venv
# (requirements-dev.txt, made by scripts/setup.sh), the others in a venv of their own from
# requirements-controller-<release>.txt.
CORES = {
    core: (VENV, "3.11", None) if index == 0 else (
        os.path.join(BUILD, "venv-%s" % core), "3.12", "requirements-controller-%s.txt" % core
    )
    for index, core in enumerate(tested_cores())
}
TARGET_PYTHONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
PLAIN_OUTPUT = {"NO_COLOR": "1", "PY_COLORS": "0", "ANSIBLE_NOCOLOR": "1"}


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


@nox.session(python=False, default=False)
def demo(session: nox.Session) -> None:
    """scripts/demo.sh: demo/demo.yml on localhost with the record_changes callback; holds the audit lock."""
    with audit_lock(session) as env:
        session.run("bash", "scripts/demo.sh", env=env, external=True)


# ------------------------------------------------------------------------------------- target-matrix, galaxy


def say(*lines: str) -> None:
    """What the checks report goes to stdout unprefixed, in order with the output of the tools they run (nox's own
    log lines go to stderr)."""
    for line in lines:
        print(line, flush=True)


def capture(command: t.Sequence[str], env: t.Dict[str, str], cwd: t.Optional[str] = None) -> t.Tuple[bool, str]:
    """COMMAND's success and its output, stderr included: shown only when a check needs it."""
    result = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", check=False)
    return result.returncode == 0, result.stdout


def shown(command: t.Sequence[str], env: t.Dict[str, str], cwd: t.Optional[str] = None) -> bool:
    """COMMAND with its output going straight through; its success."""
    return subprocess.run(command, env=env, cwd=cwd, check=False).returncode == 0


def wait_for_record(needle: str) -> t.Optional[t.List[str]]:
    """The raw USYS_CONFIG lines holding NEEDLE once any reached audit.log (5 s at most; auditd flushes
    asynchronously), as wait_for_record of scripts/lib.sh; None when none did."""
    for _try in range(50):
        result = subprocess.run(
            ["ausearch", "--input-logs", "-m", "USYS_CONFIG", "--raw"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, errors="surrogateescape", check=False,
        )
        found = [line for line in result.stdout.splitlines() if needle in line]
        if found:
            return found
        time.sleep(0.1)
    return None


class Steps:
    """Counted checks with one closing line, as step/summary of scripts/lib.sh: a check that fails (returns False or
    raises) is counted and named, and never stops the ones after it."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed: t.List[str] = []

    def step(self, name: str, check: t.Callable[[], bool]) -> None:
        say("", "=== %s: %s" % (name, check.__name__))
        try:
            ok = check()
        except Exception:  # pylint: disable=broad-exception-caught
            say(traceback.format_exc().rstrip())
            ok = False
        if ok:
            self.passed += 1
        else:
            self.failed.append(name)

    def summary(self, session: nox.Session, label: str) -> None:
        """Prints "LABEL: N passed, N failed" (the line CI reads); the session fails on any failure."""
        say("")
        if self.failed:
            say("failed: %s" % " ".join(self.failed))
        say("%s: %d passed, %d failed" % (label, self.passed, len(self.failed)))
        if self.failed:
            session.error("%s: %s failed" % (label, " ".join(self.failed)))


MATRIX_PYTHONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")


def matrix_targets() -> t.Tuple[t.List[t.Tuple[str, str]], t.List[str]]:
    """(version, interpreter) of every real interpreter of each matrix version, and the versions not found. A
    candidate counts only when it runs and says it is that version; one reached by two paths (a pyenv Python and
    its link in /usr/bin) counts once."""
    targets: t.List[t.Tuple[str, str]] = []
    missing = []
    for version in MATRIX_PYTHONS:
        found = False
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
            if actual != version:
                continue
            if any(os.path.realpath(seen) == os.path.realpath(candidate) for _v, seen in targets):
                continue
            targets.append((version, candidate))
            found = True
        if not found:
            missing.append(version)
    return targets, missing


def matrix_controllers(session: nox.Session, skipped: t.List[str]) -> t.List[t.Tuple[str, t.Optional[str]]]:
    """(name, venv) of each controller: None as venv when scripts/ensure-venv.sh could not make it (a failure of the
    matrix); one whose Python is not installed is added to SKIPPED."""
    controllers: t.List[t.Tuple[str, t.Optional[str]]] = []
    for core, (venv, python, requirements) in CORES.items():
        name = "core-%s/py%s" % (core, python)
        if requirements is None:
            controllers.append((name, venv))
            continue
        interpreter = real_python(python)
        if interpreter is None:
            skipped.append("controller %s: skipped (Python %s not installed)" % (name, python))
            continue
        try:
            session.run("bash", "scripts/ensure-venv.sh", venv, interpreter, requirements, external=True)
        except nox.command.CommandFailed:
            session.warn("target-matrix: could not create %s" % os.path.relpath(venv, ROOT))
            controllers.append((name, None))
            continue
        controllers.append((name, venv))
    return controllers


def matrix_cell(venv: str, version: str, python: str, marker: str, env: t.Dict[str, str]) -> bool:
    """tests/utils/target-matrix.yml from VENV with PYTHON as the target, then its record found in audit.log."""
    playbook = [
        os.path.join(venv, "bin", "ansible-playbook"), "-i", "localhost,", "tests/utils/target-matrix.yml",
        "-e", "ansible_python_interpreter=%s" % python, "-e", "matrix_python=%s" % version, "-e", "matrix_marker=%s" % marker,
    ]
    ok, log = capture(playbook, env, cwd=ROOT)
    if not ok:
        say(log.rstrip("\n"), "FAIL: the playbook failed")
        return False
    hit = wait_for_record('marker="%s"' % marker)
    if hit is None:
        say('FAIL: no USYS_CONFIG record with marker="%s" in audit.log (ausearch --input-logs)' % marker)
        return False
    say(*hit)
    return True


@nox.session(name="target-matrix", python=False, default=False)
def target_matrix(session: nox.Session) -> None:
    """The modules under every target Python 3.8-3.13 found, controllers ansible-core 2.19-2.21; holds the audit lock.

    Each cell runs tests/utils/target-matrix.yml and finds its record in audit.log with ausearch; versions not found
    and combinations a controller does not support are listed as skipped, never left out. Ends with "target-matrix: N
    passed, N failed, N skipped"."""
    require_venv(session)
    with audit_lock(session) as lock_env:
        link_collection()
        run_id = "matrix-%s-%d" % (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), os.getpid())
        env = dict(os.environ)
        env.update(PLAIN_OUTPUT)
        env.update(lock_env)
        env.update({
            "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
            "CHANGEAUDIT_RUN_ID": run_id,
        })
        targets, missing = matrix_targets()
        skipped: t.List[str] = []
        controllers = matrix_controllers(session, skipped)
        passed = failed = cells = 0
        results = []
        for name, venv in controllers:
            if venv is None:
                failed += 1
                results.append("FAIL  %s: controller venv could not be created" % name)
                continue
            ok, py_min = capture(
                [os.path.join(venv, "bin", "python"), "-c", 'import ansible.module_utils.basic as b; print("%d.%d" % b._PY_MIN)'], env,
            )
            if not ok:
                say(py_min.rstrip("\n"))
                failed += 1
                results.append("FAIL  %s: could not read the oldest target Python it supports" % name)
                continue
            oldest = tuple(int(part) for part in py_min.split("."))
            for version, python in targets:
                label = "%s -> %s (%s)" % (name, python, version)
                if tuple(int(part) for part in version.split(".")) < oldest:
                    skipped.append("%s: skipped (that ansible-core needs Python %s+ on targets)" % (label, py_min.strip()))
                    continue
                say("", "=== " + label)
                cells += 1
                # Unique per cell: two interpreters of one version (pyenv's and Debian's 3.11) must not share a marker.
                marker = "%s-%d-%s-py%s" % (run_id, cells, re.sub(r"[^a-z0-9.]", "-", name), version)
                if matrix_cell(venv, version, python, marker, env):
                    passed += 1
                    results.append("ok    " + label)
                else:
                    failed += 1
                    results.append("FAIL  " + label)
        skipped.extend("Python %s: skipped (not installed)" % version for version in missing)
        say("", "target matrix (run_id %s):" % run_id)
        say(*("  " + result for result in results))
        say(*("  skip  " + skip for skip in skipped))
        say("target-matrix: %d passed, %d failed, %d skipped" % (passed, failed, len(skipped)))
        if failed:
            session.error("target-matrix: %d failed" % failed)


def galaxy_version() -> str:
    import yaml  # pylint: disable=import-outside-toplevel

    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["version"]


# Nothing of the work tree's machinery, caches or build output goes to Galaxy; the demo does.
TARBALL_UNWANTED = re.compile(
    r"(^|/)(\.venv|\.build|\.git|\.ci|\.hypothesis|\.pytest_cache|\.ansible|__pycache__|tests/output|benchmarks|scripts)(/|$)"
    r"|\.pyc$|\.tar\.gz$"
)
TARBALL_WANTED = (
    "MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml", "demo/demo.yml", "plugins/modules/usys_config.py",
    "plugins/action/usys_config.py", "plugins/action/audited.py",
)
DOC_PROBLEM = re.compile(r"^\[(WARNING|ERROR|DEPRECATION WARNING)\]", re.MULTILINE)


@nox.session(python=False, default=False)
def galaxy(session: nox.Session) -> None:
    """Build, offline install, ansible-doc and the demo from the installed tarball; holds the audit lock.

    The tarball as Galaxy would get it, installed into an empty collections path and used from there only: no build
    or dev files in it, ansible-doc renders every module (also the action-backed ones), every action plugin has its
    module docs, demo/demo.yml from the installed copy writes a record that reaches audit.log (the demo is why the
    lock is held). Ends with "galaxy-check: N passed, N failed"."""
    require_venv(session)
    bin_dir = os.path.join(VENV, "bin")
    dist = os.path.join(BUILD, "dist")
    tarball = os.path.join(dist, "changeaudit-linux-%s.tar.gz" % galaxy_version())
    with audit_lock(session) as lock_env:
        install_dir = tempfile.mkdtemp(prefix="changeaudit-galaxy.", dir="/tmp")
        installed = os.path.join(install_dir, "ansible_collections", "changeaudit", "linux")
        env = dict(os.environ)
        # Only the installed copy may be found: not the work tree through PYTHONPATH (scripts/test.sh sets it) or
        # sys.path, nor a copy in ~/.ansible/collections.
        env.pop("PYTHONPATH", None)
        env.update(PLAIN_OUTPUT)
        env.update(lock_env)
        env.update({
            "ANSIBLE_COLLECTIONS_PATH": install_dir,
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
        })

        def build() -> bool:
            os.makedirs(dist, exist_ok=True)
            command = [os.path.join(bin_dir, "ansible-galaxy"), "collection", "build", "--force", "--output-path", dist, ROOT]
            return shown(command, env) and os.path.isfile(tarball)

        def contents() -> bool:
            with tarfile.open(tarball) as archive:
                listing = archive.getnames()
            say("%d entries; top level: %s" % (len(listing), " ".join(sorted({name.split("/")[0] for name in listing}))))
            bad = [name for name in listing if TARBALL_UNWANTED.search(name)]
            if bad:
                say("unexpected in the tarball:", *bad)
                return False
            for want in TARBALL_WANTED:
                if want not in listing:
                    say("missing from the tarball: " + want)
                    return False
            return True

        def install() -> bool:
            command = [os.path.join(bin_dir, "ansible-galaxy"), "collection", "install", "--offline", "--force", "-p", install_dir, tarball]
            return shown(command, env) and os.path.isfile(os.path.join(installed, "MANIFEST.json")) and not os.path.islink(installed)

        # Every module of the installed copy, and every action plugin (they document through the module of their name).
        def docs() -> bool:
            ok = True
            modules = sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(installed, "plugins", "modules", "*.py")))
            for path in sorted(glob.glob(os.path.join(installed, "plugins", "action", "*.py"))):
                name = os.path.basename(path)[:-3]
                if name not in modules:
                    say("action plugin %s has no plugins/modules/%s.py with its documentation" % (name, name))
                    ok = False
            ansible_doc = os.path.join(bin_dir, "ansible-doc")
            listed_ok, listed = capture([ansible_doc, "-t", "module", "-l", "changeaudit.linux"], env)
            if not listed_ok:
                say(listed.rstrip("\n"))
                return False
            for name in modules:
                if not re.search(r"^changeaudit\.linux\.%s " % re.escape(name), listed, re.MULTILINE):
                    say("ansible-doc -l does not list changeaudit.linux.%s:" % name, listed.rstrip("\n"))
                    ok = False
                doc_ok, doc = capture([ansible_doc, "-t", "module", "changeaudit.linux." + name], env)
                if doc_ok and not DOC_PROBLEM.search(doc) and "EXAMPLES" in doc:
                    say("ansible-doc changeaudit.linux.%s: ok (%d lines)" % (name, doc.count("\n")))
                else:
                    say("ansible-doc changeaudit.linux.%s failed:" % name, doc.rstrip("\n"))
                    ok = False
            return ok

        # demo/demo.yml as shipped, with only the installed copy on the collections path.
        def demo() -> bool:
            run_id = "galaxy-%s-%d" % (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), os.getpid())
            demo_env = dict(env, CHANGEAUDIT_RUN_ID=run_id, ANSIBLE_CALLBACKS_ENABLED="changeaudit.linux.record_changes")
            playbook = [os.path.join(bin_dir, "ansible-playbook"), "-i", "localhost,", os.path.join(installed, "demo", "demo.yml")]
            if not shown(playbook, demo_env, cwd=install_dir):
                return False
            found = wait_for_record('run_id="%s"' % run_id)
            if found is None:
                say("no record of run %s reached audit.log" % run_id)
                return False
            if not any('task_path="%s/demo/demo.yml:' % installed in line for line in found):
                say("the record's task_path is not the installed demo/demo.yml")
                return False
            say(*found)
            return True

        steps = Steps()
        try:
            steps.step("build", build)
            steps.step("tarball-contents", contents)
            steps.step("install", install)
            steps.step("ansible-doc", docs)
            steps.step("demo", demo)
        finally:
            shutil.rmtree(install_dir, ignore_errors=True)
        steps.summary(session, "galaxy-check")


# ---------------------------------------------------------------------------------------------- ansible-lint


def lint_venv(session: nox.Session) -> str:
    """ansible-lint (and antsibull-changelog, for releases) from requirements-lint.txt in .build/venv-lint, apart from .venv so that
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


# Allow to run the noxfile with `python noxfile.py`, `pipx run noxfile.py`, or similar.
if __name__ == "__main__":
    nox.main()
