#!/usr/bin/env bash
# A central audit collector on this machine, for real: a second auditd that only receives (local_events = no,
# tcp_listen_port), and the system's auditd as the sender (its au-remote plugin, audisp-remote, and a node name).
#
#   scripts/collector.sh up            start the receiving auditd (its config and log under .build/collector/)
#   scripts/collector.sh send NODE     the system auditd sends its events to it, named node=NODE (name_format = user)
#   scripts/collector.sh unsend        put the system auditd's plugin and name_format back as they were
#   scripts/collector.sh down          unsend, then stop the receiving auditd
#   scripts/collector.sh status        the receiver's pid, port and log
#
# CHANGEAUDIT_COLLECTOR_PORT (default 60601) is the port; CHANGEAUDIT_COLLECTOR_DIR (default .build/collector) the
# directory. With local_events = no auditd never registers with the kernel (no audit_set_pid, no netlink watcher;
# audit-userspace src/auditd.c, opt_aggregate_only), so it runs beside the system's. auditd 3.x writes its pid to the
# fixed /var/run/auditd.pid and removes it at exit: the receiver runs in a mount namespace of its own with a private
# /run, so the system auditd's pid file stays its own.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${CHANGEAUDIT_COLLECTOR_DIR:-$root/.build/collector}
port=${CHANGEAUDIT_COLLECTOR_PORT:-60601}
conf_dir=$dir/etc
log=$dir/log/audit.log
pidfile=$dir/auditd.pid
saved=$dir/saved
system_conf=/etc/audit/auditd.conf
remote_plugin=/etc/audit/plugins.d/au-remote.conf
remote_conf=/etc/audit/audisp-remote.conf
auditd=${CHANGEAUDIT_COLLECTOR_AUDITD:-$(command -v auditd || echo /sbin/auditd)}

die() { echo "collector.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (it starts an auditd and reconfigures the system's)"

receiver_pid() {
  local pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "-c $conf_dir" && echo "$pid"
}

listening() {
  # /proc/net/tcp{,6}: local address ends with the port in hex, state 0A is LISTEN.
  local hex
  hex=$(printf '%04X' "$port")
  awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" {found=1} END {exit !found}' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

connected() {
  # An established connection to the port (st 01), from the sender's audisp-remote.
  local hex
  hex=$(printf '%04X' "$port")
  awk -v p=":$hex" '$3 ~ p"$" && $4 == "01" {found=1} END {exit !found}' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

system_auditd_pid() { auditctl -s 2>/dev/null | awk '$1 == "pid" {print $2}'; }

restart_system_auditd() {
  # The fallback when a reload did not (re)start or stop audisp-remote: auditd 3.0.9's dispatcher starts a plugin
  # made active again by a SIGHUP, and the plugin then never gets an event. A fresh start reads plugins.d anew.
  local pid
  pid=$(system_auditd_pid)
  if [ -n "$pid" ] && [ "$pid" != 0 ]; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do
      [ -r "/proc/$pid/stat" ] || break
      sleep 0.1
    done
  fi
  bash "$root/scripts/ensure-auditd.sh" >/dev/null
}

sender_children() {
  # The system auditd's audisp-remote, if it runs.
  local pid child
  pid=$(system_auditd_pid)
  [ -n "$pid" ] && [ "$pid" != 0 ] || return 0
  # shellcheck disable=SC2013 # the children file is one line of pids
  for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
    [ "$(cat /proc/"$child"/comm 2>/dev/null)" = audisp-remote ] && echo "$child"
  done
  return 0
}

hup_system_auditd() {
  local pid
  pid=$(system_auditd_pid)
  if [ -z "$pid" ] || [ "$pid" = 0 ]; then
    die "the system auditd is not running (scripts/ensure-auditd.sh starts it)"
  fi
  kill -HUP "$pid"
}

wait_for() {
  # wait_for CHECK TENTHS: CHECK succeeds within TENTHS tenths of a second.
  local check=$1 tenths=$2
  for _ in $(seq 1 "$tenths"); do
    "$check" && return 0
    sleep 0.1
  done
  "$check"
}

no_sender() { [ -z "$(sender_children)" ]; }

set_key() {
  # set_key FILE KEY VALUE: KEY = VALUE, replacing the line that sets KEY (commented or not), else appended.
  local file=$1 key=$2 value=$3
  if grep -Eq "^[#[:space:]]*${key}[[:space:]]*=" "$file"; then
    sed -i -E "0,/^[#[:space:]]*${key}[[:space:]]*=.*/s||$key = $value|" "$file"
  else
    printf '%s = %s\n' "$key" "$value" >>"$file"
  fi
}

up() {
  if pid=$(receiver_pid); then
    echo "collector.sh: the receiver already runs (pid $pid, port $port, log $log)"
    return 0
  fi
  [ -x "$auditd" ] || die "no auditd at $auditd (apt-get install auditd)"
  install -d -m 0750 "$dir" "$conf_dir" "$conf_dir/plugins.d" "$dir/log"
  # auditd refuses a config file that is not root's or that others may write.
  cat >"$conf_dir/auditd.conf" <<EOF
# The receiving collector of scripts/collector.sh: network events only, written as the senders formatted them.
local_events = no
write_logs = yes
log_file = $log
log_group = root
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 1
max_log_file = 64
num_logs = 5
max_log_file_action = ROTATE
priority_boost = 0
name_format = NONE
space_left = 2
space_left_action = SYSLOG
admin_space_left = 1
admin_space_left_action = SYSLOG
disk_full_action = SYSLOG
disk_error_action = SYSLOG
verify_email = no
action_mail_acct = root
use_libwrap = no
tcp_listen_port = $port
tcp_listen_queue = 16
tcp_max_per_addr = 16
tcp_client_max_idle = 0
transport = TCP
distribute_network = no
q_depth = 2000
overflow_action = SYSLOG
max_restarts = 10
plugin_dir = $conf_dir/plugins.d
end_of_event_timeout = 2
EOF
  chmod 0640 "$conf_dir/auditd.conf"
  rm -f "$pidfile"
  # -n: no fork, so that the pid is ours to keep (auditd -f would not write its log). Every descriptor but 0-2
  # closed first: a caller's lock (test.sh's fd 9) would stay held by the daemon.
  (
    for fd in "/proc/$BASHPID/fd"/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && [ "$fd" != 255 ] && eval "exec $fd>&-"
    done
    # shellcheck disable=SC2016 # expanded by the inner sh
    exec setsid unshare --mount --propagation private \
      sh -c 'mount -t tmpfs -o mode=0755 changeaudit-collector-run /run && exec "$0" -n -c "$1"' "$auditd" "$conf_dir" \
      </dev/null >"$dir/auditd.out" 2>&1
  ) &
  echo $! >"$pidfile"
  for _ in $(seq 1 100); do
    listening && break
    receiver_pid >/dev/null || break
    sleep 0.1
  done
  if ! listening; then
    cat "$dir/auditd.out" >&2 2>/dev/null || true
    die "the receiving auditd did not listen on port $port (see above, and syslog)"
  fi
  echo "collector.sh: receiving auditd pid $(cat "$pidfile") on port $port, log $log"
}

send() {
  local node=$1
  [[ $node =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]] || die "node name '$node': letters, digits, '.', '_' and '-' only"
  [ -f "$remote_plugin" ] && command -v audisp-remote >/dev/null || [ -x /sbin/audisp-remote ] ||
    die "audisp-remote is not installed (apt-get install audispd-plugins; scripts/setup.sh installs it)"
  listening || die "no receiver listens on port $port: run scripts/collector.sh up first"
  install -d -m 0700 "$saved"
  # The originals are kept once: a second send must not save the changed files over them.
  local file
  for file in "$system_conf" "$remote_plugin" "$remote_conf"; do
    [ -e "$saved/$(basename "$file")" ] || cp -p "$file" "$saved/$(basename "$file")"
  done
  set_key "$system_conf" name_format user
  set_key "$system_conf" name "$node"
  set_key "$remote_plugin" active yes
  set_key "$remote_conf" remote_server 127.0.0.1
  set_key "$remote_conf" port "$port"
  set_key "$remote_conf" mode immediate
  # A sender that cannot reach the collector keeps going (the default stops the plugin).
  set_key "$remote_conf" network_failure_action syslog
  set_key "$remote_conf" remote_ending_action reconnect
  hup_system_auditd
  # audisp-remote connects with the first event it forwards.
  sleep 0.5
  auditctl -m "changeaudit collector.sh: the sender connects" >/dev/null 2>&1 || true
  if ! wait_for connected 50; then
    echo "collector.sh: audisp-remote did not connect after the reload; restarting the system auditd"
    restart_system_auditd
    auditctl -m "changeaudit collector.sh: the sender connects" >/dev/null 2>&1 || true
    wait_for connected 100 || die "the system auditd's audisp-remote does not connect to 127.0.0.1:$port"
  fi
  echo "collector.sh: the system auditd sends to 127.0.0.1:$port as node=$node"
}

unsend() {
  local file restored=0
  for file in "$system_conf" "$remote_plugin" "$remote_conf"; do
    if [ -e "$saved/$(basename "$file")" ]; then
      local copy
      copy=$saved/$(basename "$file")
      cat "$copy" >"$file"
      rm -f "$copy"
      restored=1
    fi
  done
  if [ "$restored" = 1 ]; then
    hup_system_auditd || true
    if ! wait_for no_sender 50; then
      echo "collector.sh: audisp-remote still runs after the reload; restarting the system auditd"
      restart_system_auditd
    fi
    echo "collector.sh: the system auditd's name_format and au-remote plugin are as they were"
  fi
}

down() {
  unsend
  local pid
  if pid=$(receiver_pid); then
    kill -TERM "$pid"
    for _ in $(seq 1 50); do
      [ -r "/proc/$pid/cmdline" ] || break
      sleep 0.1
    done
    [ -r "/proc/$pid/cmdline" ] && kill -KILL "$pid"
    echo "collector.sh: receiving auditd (pid $pid) stopped"
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  up) up ;;
  send) [ $# -eq 2 ] || die "usage: collector.sh send NODE"; send "$2" ;;
  unsend) unsend ;;
  down) down ;;
  status)
    if pid=$(receiver_pid); then echo "pid $pid port $port log $log"; else echo "not running"; exit 3; fi ;;
  *) die "usage: collector.sh up|send NODE|unsend|down|status" ;;
esac
