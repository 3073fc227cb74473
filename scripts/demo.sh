#!/usr/bin/env bash
# Sets the machine up, runs demo/demo.yml and one ad-hoc command against localhost with the
# changeaudit.linux.record_changes callback enabled, and shows the records they wrote,
# read back from /var/log/audit/audit.log by ausearch.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup.sh"
cd "$root"
export ANSIBLE_COLLECTIONS_PATH="$root/.build/collections"
CHANGEAUDIT_RUN_ID="demo-$(date -u +%Y%m%dT%H%M%SZ)-$$"
export CHANGEAUDIT_RUN_ID
# Every change of the plain tasks is recorded by the callback, with this static field added to each record.
# ANSIBLE_LOAD_CALLBACK_PLUGINS (bin_ansible_callbacks) makes ad-hoc commands load it too: without it, the ad-hoc
# change below would be applied and not recorded.
export ANSIBLE_CALLBACKS_ENABLED=changeaudit.linux.record_changes ANSIBLE_LOAD_CALLBACK_PLUGINS=1
export CHANGEAUDIT_RECORD_CHANGES_FIELDS=ticket=DEMO-1
.venv/bin/ansible-playbook -i localhost, demo/demo.yml
# An operator's ad-hoc change, recorded the same way.
.venv/bin/ansible localhost -i localhost, -c local -e ansible_python_interpreter=.venv/bin/python \
  -m ansible.builtin.lineinfile -a "path=/tmp/changeaudit-demo/app.conf line='log_level = debug'"

echo
echo "Records of run $CHANGEAUDIT_RUN_ID in /var/log/audit/audit.log (ausearch -m USYS_CONFIG -i):"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
if ! wait_for_record "run_id=\"$CHANGEAUDIT_RUN_ID\""; then
  echo "demo.sh: no record of run $CHANGEAUDIT_RUN_ID reached audit.log" >&2
  exit 1
fi
echo
echo "Interpreted:"
ausearch --input-logs -m USYS_CONFIG -i 2>/dev/null | grep -F "$CHANGEAUDIT_RUN_ID"
if ! ausearch --input-logs -m USYS_CONFIG -i 2>/dev/null | grep -F "$CHANGEAUDIT_RUN_ID" | grep -q "lineinfile:/tmp/changeaudit-demo/app.conf.*cmd=ansible.builtin.lineinfile"; then
  echo "demo.sh: the ad-hoc change of run $CHANGEAUDIT_RUN_ID was not recorded" >&2
  exit 1
fi
