# /// script
# dependencies = ["nox==2026.10.20", "antsibull-nox==1.10.0"]
# ///
"""The collection's CI sessions: ``nox -l`` lists them, ``nox -s NAME`` runs one.

antsibull-nox.toml configures the sessions antsibull-nox adds (lint, docs-check, extra-checks, build-import-check,
ansible-lint); they make their own venvs with pip. The sessions below are what antsibull-nox cannot do: it runs
ansible-test only with --docker and these machines have no container engine, and the live suites need the
machine-wide audit subsystem. The suites themselves are pytest files (tests/unit, tests/live) and molecule scenarios.
They run the tools of .venv (and .build/venv-2.20, .build/venv-2.21), which scripts/setup.sh makes; scripts/test.sh
runs them all in order. Every session that touches the audit subsystem holds /run/lock/changeaudit-audit.lock
(unless CHANGEAUDIT_AUDIT_LOCK_HELD=1 says the caller holds it) and leaves auditd running with auditing on.
What each session does is in scripts/nox_support.py; here are their names and descriptions.
"""

from __future__ import annotations

import os
import sys

import nox

try:
    import antsibull_nox
except ImportError:
    print("You need to install antsibull-nox in the same Python environment as nox (scripts/setup.sh does).")
    sys.exit(1)

antsibull_nox.load_antsibull_nox_toml()

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts"))
# pylint: disable=wrong-import-position
import nox_support as support  # noqa: E402


def _add_ansible_test_sessions(core: str) -> None:
    def sanity(session: nox.Session) -> None:
        support.ansible_test_sanity(session, core)

    def units(session: nox.Session) -> None:
        support.ansible_test_units(session, core)

    sanity.__doc__ = "ansible-test sanity from ansible-core %s (--venv, empty ignore files, every target Python)" % core
    units.__doc__ = "ansible-test units from ansible-core %s (--venv)" % core
    nox.session(name="ansible-test-sanity-%s" % core, python=False, tags=["ansible-test-sanity"])(sanity)
    nox.session(name="ansible-test-units-%s" % core, python=False, tags=["ansible-test-units"])(units)


for _core in support.CONTROLLERS:
    _add_ansible_test_sessions(_core)


@nox.session(name="ansible-test-integration", python=False, default=False)
def ansible_test_integration(session: nox.Session) -> None:
    """ansible-test integration (tests/integration/targets) on this machine, ansible-core 2.19; holds the audit lock."""
    support.ansible_test_integration(session)


@nox.session(python=False)
def unit(session: nox.Session) -> None:
    """tests/unit with pytest in .venv (no audit subsystem needed)."""
    support.require_venv(session)
    support.link_collection()
    session.run("python", "-m", "pytest", "-q", "tests/unit", *session.posargs, env=support.tools_env(), external=True)


@nox.session(python=False, default=False)
def live(session: nox.Session) -> None:
    """tests/live: pytest against the real kernel audit subsystem and auditd (but the target-matrix and galaxy suites,
    sessions of their own); holds the audit lock."""
    support.live_pytest(session, "-m", "not target_matrix and not galaxy", "tests/live", *session.posargs)


@nox.session(python=False, default=False)
def molecule(session: nox.Session) -> None:
    """molecule test on extensions/molecule (all scenarios, or the posargs); holds the audit lock."""
    support.molecule(session)


@nox.session(python=False, default=False)
def demo(session: nox.Session) -> None:
    """scripts/demo.sh: demo/demo.yml on localhost with the record_changes callback; holds the audit lock."""
    with support.audit_lock(session) as env:
        session.run("bash", "scripts/demo.sh", env=env, external=True)


@nox.session(name="audit-userspace", python=False, default=False)
def audit_userspace(session: nox.Session) -> None:
    """One audit userspace version that scripts/audit-builds.sh built (nox -s audit-userspace -- 4.2.1): its auditd
    writes the log in place of the system's, and the forgery, readability and reader suites run with its ausearch,
    aureport, libauparse and libaudit; holds the audit lock."""
    support.audit_userspace(session)


@nox.session(name="target-matrix", python=False, default=False)
def target_matrix(session: nox.Session) -> None:
    """tests/live/test_target_matrix.py: the modules under every target Python 3.8-3.13 found, each tested ansible-core
    as controller, every record found again with ausearch; holds the audit lock. -rs lists what was skipped and why."""
    support.live_pytest(session, "-m", "target_matrix", "-rs", "tests/live/test_target_matrix.py", *session.posargs)


@nox.session(python=False, default=False)
def galaxy(session: nox.Session) -> None:
    """tests/live/test_galaxy.py: built, installed offline, ansible-doc and the demo from the installed copy only;
    holds the audit lock (the demo writes a record)."""
    support.live_pytest(session, "-m", "galaxy", "tests/live/test_galaxy.py", *session.posargs)


# Allow to run the noxfile with `python noxfile.py`, `pipx run noxfile.py`, or similar.
if __name__ == "__main__":
    nox.main()
