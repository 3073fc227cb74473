#!/usr/bin/env bash
# Runs molecule on the scenarios in extensions/molecule with their shared base config.
# Holds the audit lock unless the caller (scripts/test.sh) already does.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export PATH="$root/.venv/bin:$PATH"
# Plain output: CI logs are read as text.
export NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1
export ANSIBLE_COLLECTIONS_PATH="$root/.build/collections"
# The scenarios reuse the integration targets' setup role instead of copying its tasks.
export ANSIBLE_ROLES_PATH="$root/tests/integration/targets"
if [ -z "${CHANGEAUDIT_AUDIT_LOCK_HELD:-}" ]; then
  exec 9>/run/lock/changeaudit-audit.lock
  flock 9
  export CHANGEAUDIT_AUDIT_LOCK_HELD=1
fi
command=$1
shift
# The ssh scenarios log in to the sshd test hosts; start them (idempotent) whenever one of those may run.
case " $* " in
  *" --all "* | *" -s ssh"* | *" --scenario-name ssh"* | *" --scenario-name=ssh"*)
    bash scripts/ssh-hosts.sh up >/dev/null || { echo "molecule.sh: the ssh test hosts did not come up" >&2; exit 1; } ;;
esac
if [ "$command" = test ]; then
  # Molecule keeps "prepared" in its state between runs and would skip prepare, which writes the fresh
  # marker each run's records are found by; start every test from a clean state.
  molecule --base-config extensions/molecule/config.yml reset --all >/dev/null
fi
exec molecule --base-config extensions/molecule/config.yml "$command" "$@"
