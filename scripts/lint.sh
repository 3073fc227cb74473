#!/usr/bin/env bash
# ansible-lint (production profile, .ansible-lint) on demo/, extensions/molecule/, every module's EXAMPLES and the
# target-matrix playbook, then antsibull-changelog lint. The tools come from requirements-lint.txt in .build/venv-lint,
# made from the Python .venv uses (kept apart so ansible-lint's dependencies never move the ansible-core the tests use).
# Ends with "lint: N passed, N failed"; exits non-zero when any step failed.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
if [ ! -x .venv/bin/python ]; then
  echo "lint.sh: .venv is missing; run scripts/setup.sh first" >&2
  exit 1
fi
base_python=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')
venv="$root/.build/venv-lint"
bash scripts/ensure-venv.sh "$venv" "$base_python" requirements-lint.txt || exit 1

export NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1
# As scripts/setup.sh and scripts/molecule.sh: the collection through its symlink, the setup role from the
# integration targets.
mkdir -p .build/collections/ansible_collections/changeaudit
ln -sfn "$root" .build/collections/ansible_collections/changeaudit/linux
export ANSIBLE_COLLECTIONS_PATH="$root/.build/collections"
export ANSIBLE_ROLES_PATH="$root/tests/integration/targets"

# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

# Each module's EXAMPLES (a list of tasks) becomes a playbook of its own, so ansible-lint checks it like any play.
examples_dir="$root/.build/lint/examples"
write_examples() {
  rm -rf "$examples_dir"
  mkdir -p "$examples_dir"
  "$venv/bin/python" - "$examples_dir" plugins/modules/*.py <<'EOF'
import ast
import os
import sys

import yaml

out = sys.argv[1]
for path in sys.argv[2:]:
    name = os.path.splitext(os.path.basename(path))[0]
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    examples = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(target, ast.Name) and target.id == "EXAMPLES" for target in node.targets)
        and isinstance(node.value, ast.Constant)
    ]
    if not examples:
        sys.exit("%s has no EXAMPLES" % path)
    tasks = yaml.safe_load(examples[0])
    if not isinstance(tasks, list) or not tasks:
        sys.exit("%s: EXAMPLES is not a list of tasks" % path)
    with open(os.path.join(out, name + ".yml"), "w", encoding="utf-8") as handle:
        handle.write("---\n# EXAMPLES of plugins/modules/%s.py, written by scripts/lint.sh\n" % os.path.basename(path))
        handle.write("- name: EXAMPLES of changeaudit.linux.%s\n  hosts: all\n  gather_facts: false\n  tasks:\n" % name)
        for line in examples[0].strip("\n").splitlines():
            handle.write(("    " + line).rstrip() + "\n")
    print("%s: %d tasks -> %s" % (path, len(tasks), os.path.join(os.path.relpath(out), name + ".yml")))
EOF
}

ansible_lint() {
  local targets=(demo tests/utils/target-matrix.yml)
  if [ -d extensions/molecule ]; then
    targets+=(extensions/molecule)
  fi
  targets+=("${examples_dir#"$root"/}")
  "$venv/bin/ansible-lint" --version
  "$venv/bin/ansible-lint" --profile production --offline "${targets[@]}"
}

changelog_lint() {
  "$venv/bin/antsibull-changelog" lint -v
}

step examples write_examples
step ansible-lint ansible_lint
step antsibull-changelog changelog_lint

summary lint
