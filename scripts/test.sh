#!/usr/bin/env bash
# The whole test suite: sets the machine up (scripts/setup.sh), then runs every suite (a nox session each, see
# noxfile.py) against the real kernel audit subsystem and auditd, one after the other, holding the audit lock so no
# other suite runs beside it.
# Each suite has a time budget (seconds on a fresh machine; CI has 90 minutes in all): the summary prints each
# suite's time and names those over budget. Ends with one line "suites: N passed, N failed"; exits non-zero when any
# suite failed.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
bash scripts/setup.sh || { echo "test.sh: setup failed"; exit 1; }

exec 9>/run/lock/changeaudit-audit.lock
flock 9
export CHANGEAUDIT_AUDIT_LOCK_HELD=1
export ANSIBLE_COLLECTIONS_PATH="$root/.build/collections"
export PYTHONPATH="$root/.build/collections"
export PATH="$root/.venv/bin:$PATH"
# A CI log is read as text: no colour codes from ansible-lint, pytest or ansible.
export NO_COLOR=1 PY_COLORS=0

# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
suite() {
  local failed_before=$failed
  step "$@"
  if [ "$failed" -ne "$failed_before" ]; then
    # The audit state at the failure, before ensure-auditd changes it: a CI log is all there is to go on.
    echo "--- audit state after the failure of $1:"
    auditctl -s 2>&1 | sed 's/^/    /'
    echo "    audit daemon processes: $(pgrep -a -x auditd | tr '\n' ' ' || true)"
  fi
  # Whatever a suite did to the audit state, the next one starts with auditd up and auditing on.
  bash scripts/ensure-auditd.sh
}

# Every suite but the sshd hosts (machine set-up) is a nox session (noxfile.py, antsibull-nox.toml; nox -l lists
# them). One nox run per suite, so that each is counted and ensure-auditd runs between them.
suite unit 300 nox -s unit
# The sshd test hosts the live writer tests and the ssh scenarios log in to; a suite of its own, so that hosts
# that do not come up are named in the summary (the molecule session brings them up too, and fails when it cannot).
# Left running: CI ends anyway. Here the live suite's ssh tests fail instead of skipping when the hosts are missing.
suite ssh-hosts 300 bash scripts/ssh-hosts.sh up
suite ssh-smoke 120 bash scripts/ssh-hosts.sh smoke
export CHANGEAUDIT_REQUIRE_SSH_HOSTS=1
suite live 900 nox -s live
suite ansible-test-integration 600 nox -s ansible-test-integration
if [ -d extensions/molecule ] && ls extensions/molecule/*/molecule.yml >/dev/null 2>&1; then
  suite molecule 1500 nox -s molecule
fi
suite target-matrix 900 nox -s target-matrix
# The audit userspace fleets run (3.0 to 4.2): each version Debian serves, built into a prefix of its own outside the
# clone (reused once built), then the suites whose oracles are ausearch, aureport, auparse and libaudit, with that
# version's auditd writing the log in turn. A version the mirror serves no sources for is named as skipped, with why.
suite audit-builds 900 bash -c 'bash scripts/audit-sources.sh --trees-only && bash scripts/audit-builds.sh'
audit_builds=${CHANGEAUDIT_AUDIT_BUILDS:-/var/cache/changeaudit/audit-builds}
audit_versions=$( {
  for data in tests/data/audit-userspace/*.json; do basename "$data" .json; done
  for built in "$audit_builds"/*/BUILT; do [ -f "$built" ] && basename "$(dirname "$built")"; done
} | sort -uV)
for version in $audit_versions; do
  if [ -f "$audit_builds/$version/BUILT" ]; then
    suite "audit-$version" 600 nox -s audit-userspace -- "$version"
  else
    skip "audit-$version" "$(cat "$audit_builds/$version.why" 2>/dev/null || echo "not built")"
  fi
done
suite galaxy 900 nox -s galaxy
suite demo 300 nox -s demo
# ansible-test sanity + units share .build/ansible-test with the integration suite: after it, never beside it.
# The tested releases: requires_ansible of meta/runtime.yml, as plugin_utils/_core/_versions.py reads it (a unit test keeps
# the two equal).
cores=$(python -c 'from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._versions import tested_series
print(" ".join(tested_series()))') || { echo "test.sh: cannot read the tested ansible-core releases"; exit 1; }
for core in $cores; do
  suite "sanity-$core" 900 nox -s "ansible-test-sanity-$core"
  suite "units-$core" 600 nox -s "ansible-test-units-$core"
done
# antsibull-nox's sessions (flake8, yamllint, docs, build and Galaxy import, ansible-lint). The changelog fragments
# are linted by ansible-test sanity (its changelog test).
suite lint 600 nox -s lint
suite extra-checks 300 nox -s extra-checks
suite docs-check 600 nox -s docs-check
suite build-import-check 900 nox -s build-import-check
suite ansible-lint 600 nox -s ansible-lint

summary suites
