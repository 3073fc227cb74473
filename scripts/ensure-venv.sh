#!/usr/bin/env bash
# Usage: scripts/ensure-venv.sh DIR PYTHON REQUIREMENTS
# Creates (or re-creates, when REQUIREMENTS changed) the venv DIR from PYTHON with the pinned REQUIREMENTS.
# Idempotent: a stamp holding the requirements' sha256 skips the work when nothing changed.
# Exit 3 when PYTHON does not exist (the caller reports that as skipped); other failures exit 1.
set -euo pipefail
dir=$1
python=$2
requirements=$3
if [ ! -x "$python" ]; then
  echo "ensure-venv: $python not installed" >&2
  exit 3
fi
stamp="$dir/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1) $("$python" -c 'import sys; print(sys.version.split()[0])')"
if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "ensure-venv: creating $dir from $python with $requirements"
rm -rf "$dir"
"$python" -m venv "$dir"
# The image points pip at local mirrors that may be absent; their warnings are noise.
"$dir/bin/pip" install -q --disable-pip-version-check -r "$requirements" 2>&1 | { grep -v "WARNING: Location" || true; }
if [ "${PIPESTATUS[0]}" -ne 0 ]; then
  echo "ensure-venv: pip install -r $requirements failed" >&2
  exit 1
fi
echo "$want" > "$stamp"
