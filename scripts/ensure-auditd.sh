#!/usr/bin/env bash
# Starts auditd when no audit daemon is registered with the kernel, and waits until it is.
set -euo pipefail

audit_pid() { auditctl -s 2>/dev/null | awk '$1 == "pid" {print $2}'; }
audit_enabled() { auditctl -s 2>/dev/null | awk '$1 == "enabled" {print $2}'; }

if [ "$(audit_pid)" = "" ] || [ "$(audit_pid)" = 0 ]; then
  echo "ensure-auditd: starting auditd"
  if [ -d /run/systemd/system ]; then
    systemctl start auditd
  else
    service auditd start >/dev/null || /usr/sbin/auditd
  fi
fi
for _ in $(seq 1 100); do
  pid=$(audit_pid)
  if [ -n "$pid" ] && [ "$pid" != 0 ]; then
    break
  fi
  sleep 0.1
done
if [ "$(audit_pid)" = "" ] || [ "$(audit_pid)" = 0 ]; then
  echo "ensure-auditd: auditd did not register with the kernel; see 'auditctl -s' and the journal" >&2
  exit 1
fi
if [ "$(audit_enabled)" = 0 ]; then
  echo "ensure-auditd: auditing was disabled; enabling it (auditctl -e 1)"
  auditctl -e 1 >/dev/null
fi
