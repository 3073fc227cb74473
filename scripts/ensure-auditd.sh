#!/usr/bin/env bash
# Starts auditd unless a live audit daemon is registered with the kernel, and waits until one is.
set -euo pipefail

audit_pid() { auditctl -s 2>/dev/null | awk '$1 == "pid" {print $2}'; }
audit_enabled() { auditctl -s 2>/dev/null | awk '$1 == "enabled" {print $2}'; }
# The kernel keeps a killed auditd's pid until a delivery to it fails, so a
# registered pid proves nothing: the process has to exist and not be a zombie.
daemon_alive() {
  local pid=$1 state
  [ -n "$pid" ] && [ "$pid" != 0 ] && [ -r "/proc/$pid/stat" ] || return 1
  state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

pid=$(audit_pid)
if ! daemon_alive "$pid"; then
  if [ -n "$pid" ] && [ "$pid" != 0 ]; then
    echo "ensure-auditd: the audit daemon registered with the kernel (pid $pid) is gone; starting auditd"
  else
    echo "ensure-auditd: starting auditd"
  fi
  if [ -d /run/systemd/system ]; then
    systemctl start auditd
  else
    # Without systemd auditd is our child and keeps every descriptor it inherits: a caller's lock
    # (test.sh holds /run/lock/changeaudit-audit.lock on fd 9) would stay held by auditd for good.
    (
      for fd in "/proc/$BASHPID/fd"/*; do
        fd=${fd##*/}
        [ "$fd" -gt 2 ] && [ "$fd" != 255 ] && eval "exec $fd>&-"
      done
      service auditd start >/dev/null || /usr/sbin/auditd
    )
  fi
fi
for _ in $(seq 1 100); do
  daemon_alive "$(audit_pid)" && break
  sleep 0.1
done
if ! daemon_alive "$(audit_pid)"; then
  echo "ensure-auditd: auditd did not register with the kernel; see 'auditctl -s' and the journal" >&2
  exit 1
fi
if [ "$(audit_enabled)" = 0 ]; then
  echo "ensure-auditd: auditing was disabled; enabling it (auditctl -e 1)"
  auditctl -e 1 >/dev/null
fi
