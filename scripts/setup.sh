#!/usr/bin/env bash
# Brings a fresh Debian/Ubuntu machine (run as root) to where the demo and the tests run:
# audit packages, a running auditd with auditing enabled, and .venv with the pinned tools.
# Idempotent: every step is skipped when already done.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: run as root (it installs auditd and starts it)" >&2
  exit 1
fi

# sudo and acl: the nonroot molecule scenario becomes 'nobody'; gcc and libaudit-dev: the C benchmark anchor.
# The shellcheck package: for the ansible-test sanity test of that name. openssh-server: the ssh test hosts
# (scripts/ssh-hosts.sh). dpkg-dev, debian-archive-keyring, make, patch and the autotools: the audit userspace versions
# (scripts/audit-sources.sh, scripts/audit-builds.sh). chromium: the evidence report in a real headless browser.
# audispd-plugins: audisp-remote, the sending side of the central collector (scripts/collector.sh).
apt_packages=(auditd libaudit1 python3-audit python3-venv gcc libaudit-dev util-linux rsync git sudo acl shellcheck
  openssh-server openssh-client dpkg-dev debian-archive-keyring make patch autoconf automake libtool pkg-config
  chromium audispd-plugins)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

bash "$root/scripts/ensure-auditd.sh"

python=${PYTHON:-python3}
python=$("$python" -c 'import sys; print(sys.executable)')
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup.sh: $python is older than 3.11; ansible-core 2.19 needs 3.11+ (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
bash "$root/scripts/ensure-venv.sh" .venv "$python" requirements-dev.txt
.venv/bin/python -c "import ansible, pytest, hypothesis, molecule, nox, antsibull_nox, antsibull_changelog"

# ansible finds the collection through this path; the symlink keeps the work tree the only copy.
mkdir -p .build/collections/ansible_collections/changeaudit
ln -sfn "$root" .build/collections/ansible_collections/changeaudit/linux
