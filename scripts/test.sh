#!/usr/bin/env bash
# The whole test suite: sets the machine up (scripts/setup.sh), then runs every suite (a nox session each, see
# noxfile.py) against the real kernel audit subsystem and auditd, one after the other, holding the audit lock so no
# other suite runs beside it.
# Ends with one line "suites: N passed, N failed"; exits non-zero when any suite failed.
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
suite unit nox -s unit
# The sshd test hosts the live writer tests and the ssh scenarios log in to; a suite of its own, so that hosts
# that do not come up are named in the summary (the molecule session brings them up too, and fails when it cannot).
# Left running: CI ends anyway. Here the live suite's ssh tests fail instead of skipping when the hosts are missing.
suite ssh-hosts bash scripts/ssh-hosts.sh up
suite ssh-smoke bash scripts/ssh-hosts.sh smoke
export CHANGEAUDIT_REQUIRE_SSH_HOSTS=1
suite live nox -s live
suite ansible-test-integration nox -s ansible-test-integration
if [ -d extensions/molecule ] && ls extensions/molecule/*/molecule.yml >/dev/null 2>&1; then
  suite molecule nox -s molecule
fi
suite target-matrix nox -s target-matrix
suite galaxy nox -s galaxy
suite demo nox -s demo
# ansible-test sanity + units share .build/ansible-test with the integration suite: after it, never beside it.
for core in 2.19 2.20 2.21; do
  suite "sanity-$core" nox -s "ansible-test-sanity-$core"
  suite "units-$core" nox -s "ansible-test-units-$core"
done
# antsibull-nox's sessions (flake8, yamllint, docs, build and Galaxy import) and ansible-lint, changelog lint.
suite lint nox -s lint
suite extra-checks nox -s extra-checks
suite docs-check nox -s docs-check
suite build-import-check nox -s build-import-check
suite ansible-lint nox -s ansible-lint
suite changelog nox -s changelog

summary suites
