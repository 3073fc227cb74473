#!/usr/bin/env bash
# Puts the third-party collections the tests run (ansible.posix: synchronize, patch; community.general: shutdown) in
# .build/test-collections/ansible_collections, at the versions one pinned `ansible` package ships, without installing
# that package or touching ansible-core: its wheel is downloaded with pip download --no-deps and only
# ansible_collections/ansible/posix/ and ansible_collections/community/general/ are unpacked from it.
#
# Usage: scripts/test-collections.sh
#   then: ANSIBLE_COLLECTIONS_PATH=<repo>/.build/test-collections:<repo>/.build/collections ansible-playbook ...
# Idempotent: a stamp holding the pinned version skips the work when it matches; a changed pin replaces the tree.
# Environment:
#   PYTHON  the interpreter whose pip downloads the wheel and which unpacks it (default <repo>/.venv/bin/python)
#
# Why this version: ansible 12.x is the package built for ansible-core 2.19 (the oldest core the collection supports),
# and the collections it ships declare requires_ansible ansible.posix ">=2.15.0" and community.general '>=2.16.0',
# which covers 2.19, 2.20 and 2.21 too. The package's own Requires-Dist (ansible-core~=2.19.5) is never installed.
set -euo pipefail

# The pin, and the sha256 of its wheel on PyPI (update both together).
ansible_version=12.3.0
ansible_wheel_sha256=cd156f82fa87f7a899212b0efa9f7ca3a24d609212de9f78428a572eb01e5414

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
python=${PYTHON:-$repo/.venv/bin/python}
dest=$repo/.build/test-collections
stamp=$dest/.ansible-version
collections=(ansible/posix community/general)

die() {
  echo "test-collections: $*" >&2
  exit 1
}

# report: where the collections are and their versions, from their MANIFEST.json.
report() {
  local c
  for c in "${collections[@]}"; do
    "$python" - "$dest/ansible_collections/$c" <<'EOF'
import json, sys
info = json.load(open(sys.argv[1] + "/MANIFEST.json"))["collection_info"]
print("  %s.%s %s in %s" % (info["namespace"], info["name"], info["version"], sys.argv[1]))
EOF
  done
}

[ -x "$python" ] || die "$python not found (scripts/setup.sh creates .venv, or set PYTHON)"

complete=true
for c in "${collections[@]}"; do
  [ -f "$dest/ansible_collections/$c/MANIFEST.json" ] || complete=false
done
if $complete && [ "$(cat "$stamp" 2>/dev/null)" = "$ansible_version" ]; then
  echo "test-collections: collections of ansible $ansible_version already in place"
  report
  exit 0
fi

mkdir -p "$repo/.build"
work=$(mktemp -d "$repo/.build/test-collections.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "test-collections: downloading ansible $ansible_version (the wheel only, no dependencies)"
# The image points pip at local mirrors that may be absent; their warnings are noise.
"$python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  "ansible==$ansible_version" -d "$work/download" 2>&1 | { grep -v "WARNING: Location" || true; }
[ "${PIPESTATUS[0]}" -eq 0 ] || die "pip download ansible==$ansible_version failed"
wheel=$work/download/ansible-$ansible_version-py3-none-any.whl
[ -f "$wheel" ] || die "pip download gave no $(basename "$wheel")"
echo "$ansible_wheel_sha256  $wheel" | sha256sum --quiet -c - ||
  die "$(basename "$wheel") does not match the pinned sha256 (update ansible_wheel_sha256 with ansible_version)"

# Unpacks only the two collections' members (no path may leave the target directory).
"$python" - "$wheel" "$work/tree" "${collections[@]}" <<'EOF'
import os, sys, zipfile
wheel, target, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
prefixes = tuple("ansible_collections/%s/" % c for c in wanted)
found = set()
with zipfile.ZipFile(wheel) as z:
    for member in z.namelist():
        if not member.startswith(prefixes) or member.endswith("/"):
            continue
        parts = member.split("/")
        if ".." in parts or member.startswith("/"):
            sys.exit("unsafe member %r in %s" % (member, wheel))
        z.extract(member, target)
        found.add("/".join(parts[1:3]))
missing = sorted(set(wanted) - found)
if missing:
    sys.exit("%s holds no %s" % (wheel, ", ".join(missing)))
EOF

rm -rf "$dest"
mkdir -p "$dest"
mv "$work/tree/ansible_collections" "$dest/ansible_collections"
echo "$ansible_version" >"$stamp"
echo "test-collections: collections of ansible $ansible_version unpacked"
report
