#!/usr/bin/env bash
# The whole test suite: sets the machine up, then runs every suite against the real kernel audit
# subsystem and auditd, one after the other, holding the audit lock so no other suite runs beside it.
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

suite unit python -m pytest -q tests/unit
# The sshd test hosts the live writer tests and the ssh scenarios log in to; a suite of its own, so that hosts
# that do not come up are named in the summary (molecule.sh brings them up too, and fails when it cannot). Left
# running: CI ends anyway. Here the live suite's ssh tests fail instead of skipping when the hosts are missing.
suite ssh-hosts bash scripts/ssh-hosts.sh up
suite ssh-smoke bash scripts/ssh-hosts.sh smoke
export CHANGEAUDIT_REQUIRE_SSH_HOSTS=1
suite live python -m pytest -q tests/integration
suite ansible-test-integration bash scripts/ansible-test.sh integration --python 3.11 --allow-destructive
if [ -d extensions/molecule ] && ls extensions/molecule/*/molecule.yml >/dev/null 2>&1; then
  suite molecule bash scripts/molecule.sh test --all
fi
suite target-matrix bash scripts/target-matrix.sh
suite galaxy bash scripts/galaxy-check.sh
suite demo bash scripts/demo.sh
# ansible-test sanity + units share .build/ansible-test with the integration suite: after it, never beside it.
suite sanity bash scripts/sanity.sh
suite lint bash scripts/lint.sh

summary suites
