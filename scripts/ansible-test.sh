#!/usr/bin/env bash
# Runs ansible-test on a copy of the collection placed where ansible-test insists it lives
# (…/ansible_collections/changeaudit/linux, as a real directory, not a symlink).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest="$root/.build/ansible-test/ansible_collections/changeaudit/linux"
mkdir -p "$dest"
rsync -a --delete --exclude .venv --exclude .build --exclude .git --exclude tests/output \
  --exclude .pytest_cache --exclude .hypothesis --exclude __pycache__ --exclude benchmarks/out "$root/" "$dest/"
# ansible-test decides what it tests from git; the copy gets a repository of its own.
(cd "$dest" && git init -q 2>/dev/null && git add -A >/dev/null && git -c user.name=ci -c user.email=ci@localhost commit -qm copy --allow-empty >/dev/null) || true
cd "$dest"
# ANSIBLE_TEST_VENV picks another controller venv (scripts/sanity.sh runs .build/venv-2.21 too); default .venv.
venv=${ANSIBLE_TEST_VENV:-$root/.venv}
PATH="$venv/bin:$PATH" exec "$venv/bin/ansible-test" "$@"
