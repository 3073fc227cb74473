#!/usr/bin/env bash
# Every benchmark in one run, each printing ratios against anchors measured in the same run.
# Needs root and a running auditd (scripts/setup.sh). Holds the audit lock for the whole run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
bash scripts/setup.sh
# fleet_bench.py runs on the sshd test hosts.
bash scripts/ssh-hosts.sh up >/dev/null
exec 9>/run/lock/changeaudit-audit.lock
flock 9
export CHANGEAUDIT_AUDIT_LOCK_HELD=1
status=0
for bench in throughput.py verify_cost.py load_test.py reader_bench.py evidence_bench.py signature_cost.py ledger_bench.py fleet_evidence_bench.py playbook_overhead.py every_change_overhead.py fleet_bench.py; do
  echo
  echo "=== benchmarks/$bench"
  .venv/bin/python "benchmarks/$bench" || status=1
done
exit "$status"
