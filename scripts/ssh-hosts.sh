#!/usr/bin/env bash
# SSH test hosts on this machine: one sshd per inventory host, each on its own loopback address, all sharing
# the one kernel audit subsystem, so that the collection runs the way users run it: logged in over SSH as
# themselves (sshd's PAM session sets the login uid and session id), become root through sudo or su.
#
#   scripts/ssh-hosts.sh up       create users, keys, sudoers and start the sshds (idempotent; checks a login)
#   scripts/ssh-hosts.sh down     stop the sshds it started; remove its sudoers drop-in and su rule
#   scripts/ssh-hosts.sh status   print the hosts and whether each accepts a login
#   scripts/ssh-hosts.sh smoke    ansible ping over the inventory, with become: uid 0 and the login user's login uid
#
# Host classes (sudo rules are per user, since every host shares one /etc/sudoers):
#   ssh1 cadeploy   sudo without a password            ssh4 cadeploy   the same, libaudit hidden from Python
#   ssh2 capasswd   sudo with a password               ssh5 canosudo   may not become root
#   ssh3 catty      sudo with Defaults requiretty      ssh6 casu       become_method su (pam_wheel trust)
#   ssh7 calimited  sudo to nobody only                ssh8 cahelper   no sudo (the record helper's line is added by
#                                                                      the role changeaudit.linux.record_helper)
# Generated at run time, never committed: .build/ssh/ (client key, host keys, known_hosts, the sudo password,
# inventory.yml from tests/ssh/inventory.template.yml) and /run/changeaudit-ssh/ (sshd configs, pids, logs;
# under /run so the login users can read the Python wrapper whatever the checkout's permissions are).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/.build/ssh
run=/run/changeaudit-ssh
port=2222
marker="# changeaudit ssh test hosts"
sudoers=/etc/sudoers.d/changeaudit-ssh-hosts

# name address user
hosts=(
  "ssh1 127.0.0.11 cadeploy"
  "ssh2 127.0.0.12 capasswd"
  "ssh3 127.0.0.13 catty"
  "ssh4 127.0.0.14 cadeploy"
  "ssh5 127.0.0.15 canosudo"
  "ssh6 127.0.0.16 casu"
  "ssh7 127.0.0.17 calimited"
  "ssh8 127.0.0.18 cahelper"
)
users=(cadeploy capasswd catty canosudo casu calimited cahelper)

die() {
  echo "ssh-hosts.sh: $*" >&2
  exit 1
}

client_ssh() {
  local address=$1 user=$2
  shift 2
  ssh -i "$build/id_ed25519" -p "$port" -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=10 \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$build/known_hosts" -o ControlPath=none \
    "$user@$address" "$@"
}

running_pid() {
  local pidfile=$run/$1/sshd.pid pid
  [ -s "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  # Only a process that is our sshd with this host's config counts: pids are reused.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-f $run/$1/sshd_config" || return 1
  echo "$pid"
}

ensure_packages() {
  local missing=() pkg
  for pkg in openssh-server openssh-client sudo iproute2; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "ssh-hosts.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq "${missing[@]}" >/dev/null || die "could not install ${missing[*]}"
  fi
  # Without pam_loginuid the session would carry auid=unset and every test of auid/ses would be meaningless.
  grep -Eq '^[[:space:]]*session[[:space:]]+required[[:space:]]+pam_loginuid\.so' /etc/pam.d/sshd ||
    die "/etc/pam.d/sshd has no 'session required pam_loginuid.so': sshd would not set the login uid"
}

ensure_users() {
  local user
  for user in "${users[@]}"; do
    if ! id -u "$user" >/dev/null 2>&1; then
      useradd --create-home --shell /bin/bash --comment "changeaudit ssh test user" "$user" ||
        die "useradd $user failed"
    fi
    # '*': no password login, but not locked ('!'), which sshd would refuse even with a key.
    [ "$user" = capasswd ] || usermod -p '*' "$user"
    install -d -m 0700 -o "$user" -g "$user" "/home/$user/.ssh"
    install -m 0600 -o "$user" -g "$user" "$build/id_ed25519.pub" "/home/$user/.ssh/authorized_keys"
  done
  # The sudo password of capasswd: random per machine, read by the inventory with a file lookup.
  if [ ! -s "$build/capasswd.password" ]; then
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$build/capasswd.password")
  fi
  echo "capasswd:$(cat "$build/capasswd.password")" | chpasswd || die "chpasswd for capasswd failed"
  getent group casu >/dev/null || groupadd casu
  usermod -a -G casu casu
}

ensure_sudoers() {
  local tmp
  tmp=$(mktemp)
  cat >"$tmp" <<EOF
$marker: scripts/ssh-hosts.sh writes and removes this file.
cadeploy ALL=(ALL:ALL) NOPASSWD: ALL
capasswd ALL=(ALL:ALL) ALL
Defaults:catty requiretty
catty ALL=(ALL:ALL) NOPASSWD: ALL
calimited ALL=(nobody) NOPASSWD: ALL
EOF
  visudo -cqf "$tmp" || { rm -f "$tmp"; die "the generated sudoers drop-in does not parse"; }
  install -m 0440 "$tmp" "$sudoers"
  rm -f "$tmp"
  grep -Eq '^[#@]includedir /etc/sudoers.d' /etc/sudoers || die "/etc/sudoers does not include /etc/sudoers.d"
  # su to root without root's password for the members of group casu only (Debian's pam_wheel "trust"
  # pattern): no root password is set on the machine running the tests.
  if ! grep -qF "$marker" /etc/pam.d/su; then
    sed -i "/^auth[[:space:]]\+sufficient[[:space:]]\+pam_rootok.so/a auth       sufficient pam_wheel.so trust group=casu $marker" \
      /etc/pam.d/su
    grep -qF "$marker" /etc/pam.d/su || die "could not add the pam_wheel rule to /etc/pam.d/su"
  fi
}

ensure_keys() {
  install -d -m 0755 "$build" "$build/hosts"
  [ -s "$build/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C changeaudit-ssh-tests -f "$build/id_ed25519"
  local name address user
  : >"$build/known_hosts.new"
  for entry in "${hosts[@]}"; do
    read -r name address user <<<"$entry"
    install -d -m 0700 "$build/hosts/$name"
    [ -s "$build/hosts/$name/ssh_host_ed25519_key" ] ||
      ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$build/hosts/$name/ssh_host_ed25519_key"
    echo "[$address]:$port $(cut -d' ' -f1,2 "$build/hosts/$name/ssh_host_ed25519_key.pub")" >>"$build/known_hosts.new"
  done
  mv "$build/known_hosts.new" "$build/known_hosts"
}

# The Python of ssh4: libaudit.so.1 cannot be loaded, as on a host without libaudit1. An empty file of that
# name first on LD_LIBRARY_PATH makes dlopen fail ("file too short") for this interpreter and its children
# only; it works with and without become, unlike a bind mount, which needs root.
ensure_python_wrapper() {
  install -d -m 0755 "$run" "$run/nolibaudit"
  : >"$run/nolibaudit/libaudit.so.1"
  chmod 0644 "$run/nolibaudit/libaudit.so.1"
  cat >"$run/python3-without-libaudit" <<EOF
#!/bin/sh
# $marker: python3 that cannot load libaudit.so.1 (scripts/ssh-hosts.sh)
LD_LIBRARY_PATH=$run/nolibaudit\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
exec /usr/bin/python3 "\$@"
EOF
  chmod 0755 "$run/python3-without-libaudit"
  "$run/python3-without-libaudit" -c 'import ctypes; ctypes.CDLL("libaudit.so.1")' 2>/dev/null &&
    die "the wrapper $run/python3-without-libaudit still loads libaudit.so.1"
  # A Python whose root has no CAP_AUDIT_WRITE, as in a container: the kernel refuses its records whatever it becomes.
  cat >"$run/python3-without-audit-write" <<EOF
#!/bin/sh
# $marker: python3 without CAP_AUDIT_WRITE, as root in a container (scripts/ssh-hosts.sh)
exec setpriv --inh-caps=-audit_write --bounding-set=-audit_write /usr/bin/python3 "\$@"
EOF
  chmod 0755 "$run/python3-without-audit-write"
  return 0
}

write_sshd_config() {
  local name=$1 address=$2 user=$3 dir=$run/$1
  install -d -m 0755 "$dir"
  # Debian's privilege-separation directory, normally made by the service unit (sshd -t checks it too).
  install -d -m 0755 /run/sshd
  cat >"$dir/sshd_config.new" <<EOF
$marker: $name ($user)
ListenAddress $address:$port
HostKey $build/hosts/$name/ssh_host_ed25519_key
PidFile $dir/sshd.pid
# PAM runs pam_loginuid: the session gets the login uid (auid) and a session id (ses).
UsePAM yes
AllowUsers $user
PermitRootLogin no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
PrintMotd no
LogLevel VERBOSE
# forks: several workers may open their connection at the same moment.
MaxStartups 50:30:100
MaxSessions 50
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
  /usr/sbin/sshd -t -f "$dir/sshd_config.new" || die "sshd rejects the config of $name: $dir/sshd_config.new"
  if cmp -s "$dir/sshd_config.new" "$dir/sshd_config"; then
    rm -f "$dir/sshd_config.new"
    return 1
  fi
  mv "$dir/sshd_config.new" "$dir/sshd_config"
}

stop_host() {
  local name=$1 pid _try
  pid=$(running_pid "$name") || return 0
  kill "$pid"
  for _try in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  ! kill -0 "$pid" 2>/dev/null || die "sshd $pid of $name does not stop"
  rm -f "$run/$name/sshd.pid"
}

start_host() {
  local name=$1 address=$2 user=$3 changed=0 _try
  write_sshd_config "$name" "$address" "$user" && changed=1
  if running_pid "$name" >/dev/null; then
    [ "$changed" = 1 ] || return 0
    stop_host "$name"
  fi
  /usr/sbin/sshd -f "$run/$name/sshd_config" -E "$run/$name/sshd.log" ||
    die "sshd for $name did not start; see $run/$name/sshd.log"
  for _try in $(seq 1 50); do
    running_pid "$name" >/dev/null && ssh-keyscan -p "$port" -T 1 "$address" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "sshd for $name does not answer on $address:$port; see $run/$name/sshd.log"
}

write_inventory() {
  sed -e "s|@BUILD@|$build|g" -e "s|@RUN@|$run|g" -e "s|@PORT@|$port|g" \
    "$root/tests/ssh/inventory.template.yml" >"$build/inventory.yml.new"
  mv "$build/inventory.yml.new" "$build/inventory.yml"
}

# A real login per host: the key, the host key and PAM work, and the session has the user's login uid.
check_login() {
  local name=$1 address=$2 user=$3 out uid
  uid=$(id -u "$user")
  # shellcheck disable=SC2016 # expanded by the remote shell, in the login session
  out=$(client_ssh "$address" "$user" 'cat /proc/self/loginuid; echo " $(cat /proc/self/sessionid)"' 2>"$run/$name/login.err") ||
    { echo "ssh-hosts.sh: $name: login as $user@$address:$port failed: $(cat "$run/$name/login.err")" >&2; return 1; }
  read -r loginuid _ <<<"$out"
  [ "$loginuid" = "$uid" ] ||
    { echo "ssh-hosts.sh: $name: the session's loginuid is '$out', expected $uid (pam_loginuid)" >&2; return 1; }
  echo "$name $address:$port $user uid=$uid loginuid=$loginuid ses=${out#* }"
}

up() {
  [ "$(id -u)" = 0 ] || die "run as root (it creates users, sudoers rules and starts sshd)"
  command -v auditctl >/dev/null || die "auditctl missing: run scripts/setup.sh first"
  ensure_packages
  ensure_keys
  ensure_users
  ensure_sudoers
  ensure_python_wrapper
  local name address user failed=0
  for entry in "${hosts[@]}"; do
    read -r name address user <<<"$entry"
    start_host "$name" "$address" "$user"
  done
  write_inventory
  for entry in "${hosts[@]}"; do
    read -r name address user <<<"$entry"
    check_login "$name" "$address" "$user" || failed=1
  done
  [ "$failed" = 0 ] || die "some hosts do not accept a login; logs in $run/*/sshd.log"
  echo "ssh-hosts.sh: ${#hosts[@]} hosts up; inventory $build/inventory.yml"
}

down() {
  local name address user
  for entry in "${hosts[@]}"; do
    read -r name address user <<<"$entry"
    stop_host "$name"
  done
  rm -f "$sudoers"
  [ ! -f /etc/pam.d/su ] || sed -i "/$marker/d" /etc/pam.d/su
  echo "ssh-hosts.sh: hosts down"
}

status() {
  local name address user pid failed=0
  for entry in "${hosts[@]}"; do
    read -r name address user <<<"$entry"
    if pid=$(running_pid "$name"); then
      check_login "$name" "$address" "$user" | sed "s/\$/ sshd=$pid/" || failed=1
    else
      echo "$name $address:$port $user: not running"
      failed=1
    fi
  done
  [ "$failed" = 0 ]
}

# Ansible over the inventory: every host answers ping; become gives root on the hosts that may become it, still
# under the login user's login uid; the host whose user may not become root is refused.
smoke() {
  local ansible=$root/.venv/bin/ansible inv=$build/inventory.yml out name uid loginuid failed=0
  [ -x "$ansible" ] || die "$ansible missing: run scripts/setup.sh first"
  [ -s "$inv" ] || die "$inv missing: run $0 up first"
  export ANSIBLE_NOCOLOR=1 ANSIBLE_STDOUT_CALLBACK=ansible.builtin.minimal
  # Every sshd and login user; the other real_play_hosts are ssh1's sshd under names that cannot run modules.
  "$ansible" -i "$inv" 'ssh_hosts:ssh7:ssh8' -m ansible.builtin.ping >/dev/null ||
    die "ansible ping over ssh failed (run it without >/dev/null)"
  # shellcheck disable=SC2016 # expanded on the target
  out=$("$ansible" -i "$inv" ssh_become -b -m ansible.builtin.shell \
    -a 'echo "identity $(id -u) $(cat /proc/self/loginuid)"') || die "ansible with become failed: $out"
  while read -r name; do
    read -r uid loginuid < <(printf '%s\n' "$out" | awk -v h="$name" '$1 == h {found = 1; next} found && $1 == "identity" {print $2, $3; exit}')
    if [ "$uid" = 0 ] && [ "$loginuid" = "$(id -u "$(host_user "$name")")" ]; then
      echo "$name: become gives uid 0, login uid $loginuid ($(host_user "$name"))"
    else
      echo "ssh-hosts.sh: $name: become gave uid '$uid' and login uid '$loginuid'" >&2
      failed=1
    fi
  done < <(host_names ssh_become)
  if "$ansible" -i "$inv" ssh_no_root -b -m ansible.builtin.ping >/dev/null 2>&1; then
    echo "ssh-hosts.sh: the user of ssh_no_root became root" >&2
    failed=1
  fi
  [ "$failed" = 0 ] || die "smoke check failed"
  echo "ssh-hosts.sh: smoke check passed"
}

host_user() {
  local name address user
  for entry in "${hosts[@]}"; do
    read -r name address user <<<"$entry"
    [ "$name" != "$1" ] || { echo "$user"; return; }
  done
}

host_names() {
  case $1 in
    ssh_become) printf '%s\n' ssh1 ssh2 ssh3 ssh4 ssh6 ;;
    ssh_no_root) printf '%s\n' ssh5 ;;
  esac
}

case "${1:-}" in
  up) up ;;
  smoke) smoke ;;
  down) down ;;
  status) status ;;
  *) die "usage: $0 up|down|status|smoke" ;;
esac
