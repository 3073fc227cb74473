#!/usr/bin/env bash
# Runs the collection's modules for real under every target Python 3.8-3.13 found on this machine, with each
# controller: ansible-core 2.19 on Python 3.11 (.venv), 2.20 and 2.21 on Python 3.12 (.build/venv-2.20 and
# .build/venv-2.21, made from requirements-controller-2.2X.txt when Python 3.12 exists). Each cell runs tests/utils/target-matrix.yml
# (audit_status_info, usys_config, usys_config_info) and then finds its record in audit.log with ausearch.
# Interpreters looked at: /root/.pyenv/versions/3.X.*/bin/python3.X and /usr/bin/python3*, never pyenv shims.
# Versions not found and combinations a controller does not support are reported as skipped, never left out.
# Holds /run/lock/changeaudit-audit.lock unless CHANGEAUDIT_AUDIT_LOCK_HELD=1 (scripts/test.sh holds it).
# Ends with "target-matrix: N passed, N failed, N skipped"; exits non-zero when any cell failed.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
cd "$root" || exit 1

if [ ! -x .venv/bin/ansible-playbook ]; then
  echo "target-matrix.sh: .venv is missing; run scripts/setup.sh first" >&2
  exit 1
fi
if [ "${CHANGEAUDIT_AUDIT_LOCK_HELD:-}" != 1 ]; then
  exec 9>/run/lock/changeaudit-audit.lock
  flock 9
  export CHANGEAUDIT_AUDIT_LOCK_HELD=1
fi

# As scripts/setup.sh does: ansible finds the collection through a symlink to the work tree.
mkdir -p .build/collections/ansible_collections/changeaudit
ln -sfn "$root" .build/collections/ansible_collections/changeaudit/linux
export ANSIBLE_COLLECTIONS_PATH="$root/.build/collections"
export ANSIBLE_NOCOLOR=1
export ANSIBLE_RETRY_FILES_ENABLED=0
export ANSIBLE_PYTHON_INTERPRETER=auto_silent

# Target interpreters: "X.Y path" per line, every real interpreter of each version.
targets=()
missing=()
for v in 3.8 3.9 3.10 3.11 3.12 3.13; do
  found=0
  for candidate in /root/.pyenv/versions/"$v".*/bin/python"$v" /usr/bin/python"$v" /usr/bin/python3; do
    [ -x "$candidate" ] || continue
    real=$(readlink -f "$candidate")
    actual=$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue
    [ "$actual" = "$v" ] || continue
    dup=0
    for t in "${targets[@]}"; do
      [ "$(readlink -f "${t#* }")" = "$real" ] && dup=1
    done
    [ "$dup" = 1 ] && continue
    targets+=("$v $candidate")
    found=1
  done
  [ "$found" = 1 ] || missing+=("$v")
done

# Controllers: "name venv".
controllers=("core-2.19/py3.11 $root/.venv")
skipped=()
python312=""
for candidate in /root/.pyenv/versions/3.12.*/bin/python3.12 /usr/bin/python3.12; do
  if [ -x "$candidate" ]; then
    python312=$candidate
    break
  fi
done
for core in 2.20 2.21; do
  if [ -z "$python312" ]; then
    skipped+=("controller core-$core/py3.12: skipped (Python 3.12 not installed)")
  elif bash scripts/ensure-venv.sh "$root/.build/venv-$core" "$python312" "requirements-controller-$core.txt"; then
    controllers+=("core-$core/py3.12 $root/.build/venv-$core")
  else
    echo "target-matrix.sh: could not create .build/venv-$core" >&2
    controllers+=("core-$core/py3.12 MISSING")
  fi
done

passed=0
failed=0
cells=0
results=()
run_id="matrix-$(date -u +%Y%m%dT%H%M%SZ)-$$"
export CHANGEAUDIT_RUN_ID=$run_id

cell() {
  local name=$1 venv=$2 v=$3 python=$4 marker log
  cells=$((cells + 1))
  # Unique per cell: two interpreters of one version (pyenv's and Debian's 3.11) must not share a marker.
  marker="$run_id-$cells-$(echo "$name" | tr -c 'a-z0-9.\n' '-')-py$v"
  log=$(mktemp)
  if ! "$venv/bin/ansible-playbook" -i localhost, tests/utils/target-matrix.yml \
    -e "ansible_python_interpreter=$python" -e "matrix_python=$v" -e "matrix_marker=$marker" >"$log" 2>&1; then
    cat "$log"
    rm -f "$log"
    echo "FAIL: the playbook failed"
    return 1
  fi
  rm -f "$log"
  local hit
  if ! hit=$(wait_for_record "marker=\"$marker\""); then
    echo "FAIL: no USYS_CONFIG record with marker=\"$marker\" in audit.log (ausearch --input-logs)"
    return 1
  fi
  echo "$hit"
}

for c in "${controllers[@]}"; do
  name=${c%% *}
  venv=${c#* }
  if [ "$venv" = MISSING ]; then
    failed=$((failed + 1))
    results+=("FAIL  $name: controller venv could not be created")
    continue
  fi
  py_min=$("$venv/bin/python" -c 'import ansible.module_utils.basic as b; print("%d.%d" % b._PY_MIN)')
  for t in "${targets[@]}"; do
    v=${t%% *}
    python=${t#* }
    label="$name -> $python ($v)"
    if [ "$(printf '%s\n%s\n' "$py_min" "$v" | sort -V | head -n1)" != "$py_min" ]; then
      skipped+=("$label: skipped (that ansible-core needs Python $py_min+ on targets)")
      continue
    fi
    echo
    echo "=== $label"
    if cell "$name" "$venv" "$v" "$python"; then
      passed=$((passed + 1))
      results+=("ok    $label")
    else
      failed=$((failed + 1))
      results+=("FAIL  $label")
    fi
  done
done
for v in "${missing[@]}"; do
  skipped+=("Python $v: skipped (not installed)")
done

echo
echo "target matrix (run_id $run_id):"
for r in "${results[@]}"; do
  echo "  $r"
done
for s in "${skipped[@]}"; do
  echo "  skip  $s"
done
echo "target-matrix: $passed passed, $failed failed, ${#skipped[@]} skipped"
[ "$failed" -eq 0 ]
