"""What the sessions of noxfile.py do, apart from their names and descriptions (which stay there, for ``nox -l``).

Every session that touches the audit subsystem holds /run/lock/changeaudit-audit.lock (unless
CHANGEAUDIT_AUDIT_LOCK_HELD=1 says the caller holds it) and leaves auditd running with auditing on.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
import typing as t

import nox

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "live"))
# pylint: disable=wrong-import-position
from livelib import LOCK_PATH  # noqa: E402
from toolchain import BUILD, CONTROLLERS, VENV, ensure_controller, link_collection, real_python, tools_env  # noqa: E402

TARGET_PYTHONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
# rsync leaves these out of ansible-test's copy of the collection: build output, venvs and caches.
COPY_EXCLUDES = (".venv", ".nox", ".build", ".git", "tests/output", ".pytest_cache", ".hypothesis", "__pycache__",
                 "benchmarks/out")
# What scripts/audit-builds.sh built: one prefix per audit userspace version.
AUDIT_BUILDS = os.environ.get("CHANGEAUDIT_AUDIT_BUILDS") or "/var/cache/changeaudit/audit-builds"
# The suites whose oracles are the audit userspace: hostile input against ausearch and auparse, what an auditor
# reads in each tool, and the reader against ausearch on generated logs (not those reading the system's log).
AUDIT_USERSPACE_SUITES = (
    "tests/live/test_forgery_live.py",
    "tests/live/test_writer_live.py::test_each_audit_tool_shows_the_task_the_object_and_the_user_readably",
    "tests/live/test_reader_oracle.py",
    # The controller's signature of a record reads as one field, the value signed, in that version's tools.
    "tests/live/test_record_signature_live.py::test_a_signed_record_reads_as_one_field_in_ausearch_and_auparse",
)


def require_venv(session: nox.Session, venv: str = VENV) -> None:
    if not os.access(os.path.join(venv, "bin", "python"), os.X_OK):
        session.error("%s is missing; run scripts/setup.sh first" % os.path.relpath(venv, ROOT))


def controller_venv(session: nox.Session, core: str) -> str:
    """The controller venv of an ansible-core release (toolchain.ensure_controller); the session is skipped when its
    Python is not installed, and says so."""
    made = ensure_controller(core)
    if made.skip:
        session.skip(made.skip)
    if made.fail:
        session.error(made.fail)
    return made.venv


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
    command = ["rsync", "-a", "--delete"]
    for exclude in COPY_EXCLUDES:
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
    for core in CONTROLLERS:
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
    controller = CONTROLLERS[core].python
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
    if not run_ansible_test(session, venv, "units", "--venv", "--python", CONTROLLERS[core].python, *session.posargs):
        session.error("ansible-test units with ansible-core %s failed" % core)


def ansible_test_integration(session: nox.Session) -> None:
    require_venv(session)
    with audit_lock(session) as env:
        install_get_pip(session, VENV)
        args = session.posargs or ["--python", "3.11", "--allow-destructive"]
        if not run_ansible_test(session, VENV, "integration", *args, env=env):
            session.error("ansible-test integration failed")


# --------------------------------------------------------------------------------- suites against the live system


def live_pytest(session: nox.Session, *args: str, extra_env: t.Optional[t.Dict[str, str]] = None) -> None:
    """pytest ARGS from .venv, holding the audit lock."""
    require_venv(session)
    link_collection()
    with audit_lock(session) as env:
        session.run("python", "-m", "pytest", "-q", *args, env=tools_env(**env, **(extra_env or {})), external=True)


def molecule(session: nox.Session) -> None:
    require_venv(session)
    link_collection()
    args = session.posargs or ["--all"]
    env = tools_env(ANSIBLE_ROLES_PATH=os.path.join(ROOT, "tests", "integration", "targets"))
    base = ["molecule", "--base-config", "extensions/molecule/config.yml"]
    with audit_lock(session) as lock_env:
        env.update(lock_env)
        # The ssh scenarios log in to the sshd test hosts; start them (idempotent) whenever one of those may run.
        if "--all" in args or any("ssh" in arg or "real_plays" in arg for arg in args):
            session.run("bash", "scripts/ssh-hosts.sh", "up", env=env, external=True, silent=True)
            # ansible.posix and community.general for the real_plays scenario's site play.
            session.run("bash", "scripts/test-collections.sh", env=env, external=True, silent=True)
        # Molecule keeps "prepared" in its state between runs and would skip prepare, which writes the fresh marker
        # each run's records are found by; start every test from a clean state.
        session.run(*base, "reset", "--all", env=env, external=True, silent=True)
        session.run(*base, "test", *args, env=env, external=True)


def audit_userspace(session: nox.Session) -> None:
    if not session.posargs:
        session.error("name the version: nox -s audit-userspace -- VERSION (one of %s)" % " ".join(sorted(os.listdir(AUDIT_BUILDS))))
    version, *rest = session.posargs
    prefix = os.path.join(AUDIT_BUILDS, version)
    if not os.path.isfile(os.path.join(prefix, "BUILT")):
        session.error("audit %s is not built in %s: run scripts/audit-sources.sh --trees-only and scripts/audit-builds.sh" % (version, prefix))
    with open(os.path.join(prefix, "BUILT"), encoding="utf-8") as handle:
        # The exact Debian version and where its sources came from, for the CI log.
        session.log("audit %s: %s" % (version, handle.read().split("; configure ", 1)[0]))
    live_pytest(session, "-k", "not test_live_", *AUDIT_USERSPACE_SUITES, *rest, extra_env={"CHANGEAUDIT_AUDIT_PREFIX": prefix})
