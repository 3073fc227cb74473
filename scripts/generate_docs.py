"""Rewrites the parts of the docs that are generated from one source: the tested ansible-core releases, named in
README.md and in the record_changes callback's requirements, from requires_ansible of meta/runtime.yml.

Run it after changing requires_ansible: ``python3 scripts/generate_docs.py``. With ``--check`` it changes nothing and
exits 1 naming each file that differs from what it would write; tests/unit/test_generated_docs.py does the same.
"""

from __future__ import annotations

import os
import re
import sys
import typing as t

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIRES_ANSIBLE = re.compile(r"""^requires_ansible:\s*(['"]?)>=(\d+)\.(\d+)\.0,\s*<(\d+)\.(\d+)\1\s*$""", re.MULTILINE)
RELEASES = r"\d+\.\d+(?:(?:, | and | or )\d+\.\d+)*"


def tested_releases() -> t.List[str]:
    with open(os.path.join(ROOT, "meta", "runtime.yml"), encoding="utf-8") as handle:
        found = REQUIRES_ANSIBLE.search(handle.read())
    if found is None:
        raise SystemExit("meta/runtime.yml needs requires_ansible: '>=X.Y.0,<X.Z'")
    low_major, low, high_major, high = (int(part) for part in found.groups()[1:])
    if low_major != high_major:
        raise SystemExit("meta/runtime.yml: requires_ansible must stay within one major version")
    return ["%d.%d" % (low_major, minor) for minor in range(low, high)]


def spoken(names: t.Sequence[str], conjunction: str) -> str:
    return names[0] if len(names) == 1 else "%s %s %s" % (", ".join(names[:-1]), conjunction, names[-1])


def generated_parts(names: t.Sequence[str]) -> t.Dict[str, t.List[t.Tuple[str, str]]]:
    """File -> (pattern with one group for the releases, the releases as that sentence says them)."""
    return {
        "README.md": [
            (r"(?m)^\*\*ansible-core versions:\*\* (%s), the ones CI runs it with" % RELEASES, spoken(names, "and")),
            (r"(?m)^The controller needs ansible-core (%s) \(`meta/runtime.yml`" % RELEASES, spoken(names, "or")),
            (r"(?m)^- ansible-core (%s) on the controller" % RELEASES, spoken(names, "and")),
        ],
        "plugins/callback/record_changes.py": [
            (r"(?m)^  - ansible-core (%s) on the controller\." % RELEASES, spoken(names, "or")),
        ],
    }


def generate(relative: str, text: str, parts: t.Sequence[t.Tuple[str, str]]) -> str:
    for pattern, releases in parts:
        found = list(re.finditer(pattern, text))
        if len(found) != 1:
            raise SystemExit("%s: expected one place matching %r, found %d" % (relative, pattern, len(found)))
        start, end = found[0].span(1)
        text = text[:start] + releases + text[end:]
    return text


def main(argv: t.Sequence[str]) -> int:
    check = "--check" in argv
    differ = []
    for relative, parts in generated_parts(tested_releases()).items():
        path = os.path.join(ROOT, relative)
        with open(path, encoding="utf-8") as handle:
            current = handle.read()
        wanted = generate(relative, current, parts)
        if wanted != current:
            differ.append(relative)
            if not check:
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(wanted)
    if check and differ:
        print("out of date (run python3 scripts/generate_docs.py): %s" % " ".join(differ))
        return 1
    for relative in differ:
        print("rewrote %s" % relative)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
