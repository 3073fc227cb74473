#!/usr/bin/env bash
# ansible-test sanity and units through scripts/ansible-test.sh, offline except for PyPI, with empty ignore files:
#   sanity-2.19  ansible-core 2.19 (.venv, controller Python 3.11): every sanity test; compile and import on every
#                target Python 3.8+ found in the real interpreter folders
#   units-2.19   tests/unit on Python 3.11
#   sanity-2.20  ansible-core 2.20 (.build/venv-2.20, controller Python 3.12), the same
#   units-2.20   tests/unit on Python 3.12
#   sanity-2.21  ansible-core 2.21 (.build/venv-2.21, controller Python 3.12), the same
#   units-2.21   tests/unit on Python 3.12
# ansible-test builds its own venvs (--venv) and bootstraps pip in them with get-pip.py from a host out of reach
# here; tests/utils/get-pip.py stands in for it (see there). Needs scripts/setup.sh to have run (.venv).
# Ends with "sanity: N passed, N failed"; exits non-zero when any step failed.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

if [ ! -x .venv/bin/ansible-test ]; then
  echo "sanity.sh: .venv is missing; run scripts/setup.sh first" >&2
  exit 1
fi

# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
skipped=()

# ansible-test reads tests/sanity/ignore-<core version>.txt; they exist and stay empty (STYLE 4.6).
ignores_empty() {
  local rc=0 f
  for f in tests/sanity/ignore-2.19.txt tests/sanity/ignore-2.20.txt tests/sanity/ignore-2.21.txt; do
    if [ ! -f "$f" ]; then
      echo "missing $f (it must exist and be empty)"
      rc=1
    elif [ -s "$f" ]; then
      echo "$f is not empty; fix the findings instead of ignoring them:"
      cat "$f"
      rc=1
    fi
  done
  [ "$rc" -eq 0 ] && echo "tests/sanity/ignore-2.19.txt, ignore-2.20.txt and ignore-2.21.txt are empty"
  return "$rc"
}

# Put the get-pip stand-in where the given ansible-test looks for its cached get-pip.py. A real cached script is
# left alone; an older copy of the stand-in is replaced.
install_get_pip() {
  local venv=$1 pip_version cache
  pip_version=$("$venv/bin/python" - <<'EOF'
import re, ansible_test, os
source = open(os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")).read()
print(re.search(r"pip='([0-9.]+)'", source).group(1))
EOF
  ) || return 1
  cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
  mkdir -p "$(dirname "$cache")"
  if [ ! -f "$cache" ] || grep -q "changeaudit get-pip stand-in" "$cache"; then
    cmp -s tests/utils/get-pip.py "$cache" || cp tests/utils/get-pip.py "$cache"
    echo "get-pip stand-in for pip $pip_version: $cache"
  else
    echo "using the cached get-pip for pip $pip_version: $cache"
  fi
}

# ansible-test finds target Pythons as python3.X on PATH; the real interpreter folders, not pyenv shims, which
# answer for versions that are not installed.
pythons_dir="$root/.build/pythons"
mkdir -p "$pythons_dir"
found_pythons=()
missing_pythons=()
for v in 3.8 3.9 3.10 3.11 3.12 3.13 3.14; do
  real=""
  for candidate in /root/.pyenv/versions/"$v".*/bin/python"$v" /usr/bin/python"$v"; do
    if [ -x "$candidate" ]; then
      real=$candidate
      break
    fi
  done
  if [ -n "$real" ]; then
    ln -sfn "$real" "$pythons_dir/python$v"
    found_pythons+=("$v")
  else
    rm -f "$pythons_dir/python$v"
    missing_pythons+=("$v")
  fi
done
echo "target Pythons for compile/import: ${found_pythons[*]}"
if [ ${#missing_pythons[@]} -gt 0 ]; then
  skipped+=("compile/import on Python ${missing_pythons[*]}: skipped (not installed)")
fi
export PATH="$pythons_dir:$PATH"

# A sanity pass with one ansible-core: all tests on the controller Python, then compile and import on every
# target Python found (ansible-test itself skips the versions that core release does not support).
sanity_pass() {
  local venv=$1 controller=$2 versions=() v supported
  supported=$("$venv/bin/python" -c 'from ansible_test._internal.constants import SUPPORTED_PYTHON_VERSIONS as s; print(" ".join(s))')
  for v in "${found_pythons[@]}"; do
    if [[ " $supported " != *" $v "* ]]; then
      skipped+=("compile/import on Python $v with $(basename "$venv"): skipped (that ansible-core does not support it)")
    elif [ "$v" != "$controller" ]; then
      versions+=("$v")
    fi
  done
  local rc=0
  install_get_pip "$venv" || return 1
  ANSIBLE_TEST_VENV=$venv bash scripts/ansible-test.sh sanity --venv --python "$controller" --color no || rc=1
  for v in "${versions[@]}"; do
    echo "--- compile and import on Python $v"
    ANSIBLE_TEST_VENV=$venv bash scripts/ansible-test.sh sanity --venv --python "$v" --test compile --test import --color no ||
      rc=1
  done
  return "$rc"
}

units_pass() {
  local venv=$1 python=$2
  install_get_pip "$venv" || return 1
  ANSIBLE_TEST_VENV=$venv bash scripts/ansible-test.sh units --venv --python "$python" --color no
}

step ignore-files ignores_empty
step sanity-2.19 sanity_pass "$root/.venv" 3.11
step units-2.19 units_pass "$root/.venv" 3.11

python312=""
for candidate in /root/.pyenv/versions/3.12.*/bin/python3.12 /usr/bin/python3.12; do
  [ -x "$candidate" ] && python312=$candidate && break
done
# ansible-core 2.20 and 2.21 need Python 3.12+ on the controller; each gets its venv from its requirements file.
for core in 2.20 2.21; do
  venv="$root/.build/venv-$core"
  if [ -z "$python312" ]; then
    skipped+=("sanity-$core, units-$core: skipped (Python 3.12 not installed; ansible-core $core needs it)")
  elif bash scripts/ensure-venv.sh "$venv" "$python312" "requirements-controller-$core.txt"; then
    step "sanity-$core" sanity_pass "$venv" 3.12
    step "units-$core" units_pass "$venv" 3.12
  else
    step "venv-$core" false
  fi
done

echo
for s in "${skipped[@]}"; do
  echo "skipped: $s"
done
summary sanity
