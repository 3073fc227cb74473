#!/usr/bin/env bash
# Builds the collection tarball as Galaxy would get it, installs it offline into an empty collections path, and
# uses it from there only: the tarball holds no build or dev files, ansible-doc renders every module (also the
# action-backed ones), every action plugin has its module docs, and demo/demo.yml from the installed copy writes a
# record that reaches audit.log.
# Holds /run/lock/changeaudit-audit.lock unless CHANGEAUDIT_AUDIT_LOCK_HELD=1 (scripts/test.sh holds it).
# Ends with "galaxy-check: N passed, N failed"; exits non-zero when any check failed.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
bin="$root/.venv/bin"
if [ ! -x "$bin/ansible-galaxy" ]; then
  echo "galaxy-check.sh: .venv is missing; run scripts/setup.sh first" >&2
  exit 1
fi
export ANSIBLE_NOCOLOR=1
# Only the installed copy may be found: not the work tree through PYTHONPATH (scripts/test.sh sets it) or
# sys.path, nor a copy in ~/.ansible/collections.
unset PYTHONPATH
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=0
export ANSIBLE_RETRY_FILES_ENABLED=0

# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

version=$("$bin/python" -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')
dist="$root/.build/dist"
tarball="$dist/changeaudit-linux-$version.tar.gz"
install_dir=$(mktemp -d /tmp/changeaudit-galaxy.XXXXXX)
trap 'rm -rf "$install_dir"' EXIT
installed="$install_dir/ansible_collections/changeaudit/linux"

build() {
  mkdir -p "$dist"
  "$bin/ansible-galaxy" collection build --force --output-path "$dist" "$root" && [ -f "$tarball" ]
}

# Nothing of the work tree's machinery, caches or build output goes to Galaxy; the demo does.
contents() {
  local listing bad
  listing=$(tar -tzf "$tarball") || return 1
  echo "$(echo "$listing" | wc -l) entries; top level: $(echo "$listing" | cut -d/ -f1 | sort -u | tr '\n' ' ')"
  bad=$(echo "$listing" | grep -E '(^|/)(\.venv|\.build|\.git|\.ci|\.hypothesis|\.pytest_cache|\.ansible|__pycache__|tests/output|benchmarks|scripts)(/|$)|\.pyc$|\.tar\.gz$' || true)
  if [ -n "$bad" ]; then
    echo "unexpected in the tarball:"
    echo "$bad"
    return 1
  fi
  for want in MANIFEST.json FILES.json README.md meta/runtime.yml demo/demo.yml plugins/modules/usys_config.py \
    plugins/action/usys_config.py plugins/action/audited.py; do
    if ! echo "$listing" | grep -qx "$want"; then
      echo "missing from the tarball: $want"
      return 1
    fi
  done
}

install() {
  ANSIBLE_COLLECTIONS_PATH="$install_dir" "$bin/ansible-galaxy" collection install --offline --force -p "$install_dir" "$tarball" &&
    [ -f "$installed/MANIFEST.json" ] && [ ! -L "$installed" ]
}

# Every module of the installed copy, and every action plugin (they document through the module of their name).
docs() {
  local rc=0 name listed modules=()
  for f in "$installed"/plugins/modules/*.py; do
    modules+=("$(basename "$f" .py)")
  done
  for f in "$installed"/plugins/action/*.py; do
    name=$(basename "$f" .py)
    if [ ! -f "$installed/plugins/modules/$name.py" ]; then
      echo "action plugin $name has no plugins/modules/$name.py with its documentation"
      rc=1
    fi
  done
  listed=$(ANSIBLE_COLLECTIONS_PATH="$install_dir" "$bin/ansible-doc" -t module -l changeaudit.linux 2>&1) || {
    echo "$listed"
    return 1
  }
  for name in "${modules[@]}"; do
    if ! echo "$listed" | grep -q "^changeaudit\.linux\.$name "; then
      echo "ansible-doc -l does not list changeaudit.linux.$name:"
      echo "$listed"
      rc=1
    fi
    if ANSIBLE_COLLECTIONS_PATH="$install_dir" "$bin/ansible-doc" -t module "changeaudit.linux.$name" >"$install_dir/doc.txt" 2>&1 &&
      ! grep -qE "^\[(WARNING|ERROR|DEPRECATION WARNING)\]" "$install_dir/doc.txt" &&
      grep -q "EXAMPLES" "$install_dir/doc.txt"; then
      echo "ansible-doc changeaudit.linux.$name: ok ($(wc -l <"$install_dir/doc.txt") lines)"
    else
      echo "ansible-doc changeaudit.linux.$name failed:"
      cat "$install_dir/doc.txt"
      rc=1
    fi
  done
  return "$rc"
}

# demo/demo.yml as shipped, with only the installed copy on the collections path.
demo() {
  local run_id found
  run_id="galaxy-$(date -u +%Y%m%dT%H%M%SZ)-$$"
  (
    cd "$install_dir" || exit 1
    ANSIBLE_COLLECTIONS_PATH="$install_dir" CHANGEAUDIT_RUN_ID="$run_id" \
      ANSIBLE_CALLBACKS_ENABLED=changeaudit.linux.record_changes \
      "$bin/ansible-playbook" -i localhost, "$installed/demo/demo.yml"
  ) || return 1
  if ! found=$(wait_for_record "run_id=\"$run_id\""); then
    echo "no record of run $run_id reached audit.log"
    return 1
  fi
  if ! echo "$found" | grep -qF "task_path=\"$installed/demo/demo.yml:"; then
    echo "the record's task_path is not the installed demo/demo.yml"
    return 1
  fi
  printf '%s\n' "$found"
}

step build build
step tarball-contents contents
step install install
step ansible-doc docs
if [ "${CHANGEAUDIT_AUDIT_LOCK_HELD:-}" != 1 ]; then
  exec 9>/run/lock/changeaudit-audit.lock
  flock 9
  export CHANGEAUDIT_AUDIT_LOCK_HELD=1
fi
step demo demo

summary galaxy-check
