"""Extract what the collection relies on from audit-userspace source trees into small JSON files (issue 20).

For each tree (an extracted ``audit`` source package, Debian's patches applied), writes
``<out>/<upstream version>.json`` with:

- ``parse_user_tokens``: the ``[token, leading_space]`` pairs src/ausearch-parse.c parse_user() searches the whole
  user message for with ``strstr(x, "token=")`` or ``strstr(x, " token=")``, in source order, without repeats;
- ``interpreted_fields``: per AUPARSE_TYPE_ESCAPED* type of auparse/typetab.h, the sorted field names auparse
  decodes from hex under ``ausearch -i``;
- ``usys_config_normalizer``: the source lines of auparse/normalize.c (and its maps) that handle AUDIT_USYS_CONFIG.

Trees of one upstream version (two suites serving it) make one file when what is extracted is the same; the suites
and Debian versions are then listed space-separated, in the order given. Python 3 standard library only.

Usage: python3 scripts/audit_extract.py --out DIR --source SUITE DEBIAN_VERSION TREE ORIGIN [--source ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import typing as t

# The old test's expression, unchanged: strstr(<name>, "token=") or strstr(<name>, " token=").
TOKEN_SEARCH = re.compile(r'strstr\(\w+, "( ?)([a-z-]+)="\)')
# Any strstr() for a literal ending in '=': a form TOKEN_SEARCH misses is reported, not silently dropped.
ANY_TOKEN_SEARCH = re.compile(r'strstr\s*\([^;]*?"[^"]*="\s*\)')
FUNCTION_START = re.compile(r"^(?:[A-Za-z_][\w \t*]*[\s*])?parse_user\s*\(", re.MULTILINE)
TYPETAB_ENTRY = re.compile(r'_S\(\s*(AUPARSE_TYPE_ESCAPED\w*)\s*,\s*"([^"]+)"\s*\)')
DEFINE = re.compile(r"^#\s*define\s+(AUDIT_\w+)\s+(0x[0-9a-fA-F]+|\d+)\b", re.MULTILINE)
CASE_LABEL = re.compile(r"^\s*case\s+(\w+)\s*(?:\.\.\.\s*(\w+)\s*)?:")
BRANCH_END = re.compile(r"(?:break|continue|return\b.*|goto\s+\w+);$")
C_FUNCTION = re.compile(r"^[A-Za-z_][\w \t*]*?\b(\w+)\s*\(")
AUDIT_USYS_CONFIG = 1111
KERNEL_HEADER = "/usr/include/linux/audit.h"


def dumps(value: t.Any, level: int = 0) -> str:
    """JSON with a list or object on one line when it fits, so that the files stay short and readable."""
    flat = json.dumps(value, ensure_ascii=False)
    if len(flat) + level <= 110 or not isinstance(value, (dict, list)):
        return flat
    inner = " " * (level + 1)
    if isinstance(value, dict):
        items = ["%s%s: %s" % (inner, json.dumps(key), dumps(item, level + 1)) for key, item in value.items()]
        return "{\n%s\n%s}" % (",\n".join(items), " " * level)
    return "[\n%s\n%s]" % (",\n".join(inner + dumps(item, level + 1) for item in value), " " * level)


def read(tree: str, path: str) -> str:
    with open(os.path.join(tree, path), encoding="utf-8", errors="surrogateescape") as handle:
        return handle.read()


def skip_c(text: str, i: int) -> int:
    """If text[i] starts a comment, string or character literal, the index after it; else i."""
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        return len(text) if end < 0 else end + 2
    if text.startswith("//", i):
        end = text.find("\n", i)
        return len(text) if end < 0 else end
    if text[i] in "\"'":
        quote, j = text[i], i + 1
        while j < len(text) and text[j] != quote:
            j += 2 if text[j] == "\\" else 1
        return j + 1
    return i


def matching(text: str, i: int, opening: str, closing: str) -> int:
    """The index of the bracket closing the one at text[i], comments and literals skipped."""
    depth = 0
    while i < len(text):
        after = skip_c(text, i)
        if after != i:
            i = after
            continue
        if text[i] == opening:
            depth += 1
        elif text[i] == closing:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError("no closing %r" % closing)


def function_body(source: str, name_pattern: re.Pattern[str]) -> tuple[str, int]:
    """The definition (signature to closing brace) the pattern finds, not a prototype; and its first line number."""
    for match in name_pattern.finditer(source):
        close = matching(source, match.end() - 1, "(", ")")
        i = close + 1
        while i < len(source):
            after = skip_c(source, i)
            if after != i:
                i = after
            elif source[i].isspace():
                i += 1
            else:
                break
        if i >= len(source) or source[i] != "{":
            continue  # a prototype (or a call at column 0)
        end = matching(source, i, "{", "}")
        if source[end - 1] != "\n":
            raise ValueError("the closing brace of %r is not at column 0" % match.group(0))
        return source[match.start():end + 1], source.count("\n", 0, match.start()) + 1
    raise ValueError("no definition matching %s" % name_pattern.pattern)


def parse_user_tokens(tree: str) -> tuple[list[list[t.Any]], int]:
    body, line = function_body(read(tree, "src/ausearch-parse.c"), FUNCTION_START)
    tokens: list[list[t.Any]] = []
    for space, token in TOKEN_SEARCH.findall(body):
        if [token, bool(space)] not in tokens:
            tokens.append([token, bool(space)])
    missed = [m for m in ANY_TOKEN_SEARCH.findall(body) if not TOKEN_SEARCH.fullmatch(m)]
    if missed:
        print("%s: parse_user() has searches the old expression does not read: %s" % (tree, missed), file=sys.stderr)
    return tokens, line


def interpreted_fields(tree: str) -> dict[str, list[str]]:
    fields: dict[str, set[str]] = {}
    text = re.sub(r"/\*.*?\*/", "", read(tree, "auparse/typetab.h"), flags=re.DOTALL)
    for kind, name in TYPETAB_ENTRY.findall(text):
        fields.setdefault(kind, set()).add(name)
    return {kind: sorted(names) for kind, names in sorted(fields.items())}


def record_numbers(tree: str) -> dict[str, int]:
    """AUDIT_* numbers the tree (lib/*.h) or the kernel's header defines, to tell whether a 'case A ... B:' range
    covers 1111."""
    numbers: dict[str, int] = {}
    lib = os.path.join(tree, "lib")
    for name in sorted(os.listdir(lib)):
        if name.endswith(".h"):
            for symbol, value in DEFINE.findall(read(tree, os.path.join("lib", name))):
                numbers.setdefault(symbol, int(value, 0))
    numbers.setdefault("AUDIT_USYS_CONFIG", AUDIT_USYS_CONFIG)
    # The kernel's own record types (AUDIT_SYSCALL, AUDIT_AVC, ...) are not in the tree; their numbers are ABI.
    if os.path.exists(KERNEL_HEADER):
        with open(KERNEL_HEADER, encoding="utf-8") as handle:
            for symbol, value in DEFINE.findall(handle.read()):
                numbers.setdefault(symbol, int(value, 0))
    return numbers


def dedent(lines: list[str]) -> list[str]:
    lines = [line.rstrip() for line in lines]
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents) if indents else 0
    return [line[cut:] for line in lines]


def indent_of(line: str) -> str:
    return line[:len(line) - len(line.lstrip())]


def enclosing_function(lines: list[str], index: int) -> t.Optional[str]:
    for line in reversed(lines[:index]):
        match = C_FUNCTION.match(line)
        if match and not line.rstrip().endswith(";"):
            return match.group(1)
    return None


def covers_usys_config(label: re.Match[str], numbers: dict[str, int], unknown: set[str]) -> bool:
    first, last = label.group(1), label.group(2)
    if last is None:
        return first == "AUDIT_USYS_CONFIG"
    if first not in numbers or last not in numbers:
        unknown.update(name for name in (first, last) if name not in numbers)
        return False
    return numbers[first] <= AUDIT_USYS_CONFIG <= numbers[last]


def case_branch(lines: list[str], index: int) -> tuple[int, int]:
    """The line range (start, end exclusive) of the switch branch whose labels include lines[index]: its labels,
    then its statements up to the first break/return/goto at their own level or the next label."""
    indent = len(indent_of(lines[index]))
    start = index
    while start > 0 and CASE_LABEL.match(lines[start - 1]) and len(indent_of(lines[start - 1])) == indent:
        start -= 1
    end = index + 1
    while end < len(lines) and CASE_LABEL.match(lines[end]) and len(indent_of(lines[end])) == indent:
        end += 1
    level = None
    while end < len(lines):
        stripped = lines[end].strip()
        if stripped:
            here = len(indent_of(lines[end]))
            if here <= indent:
                break  # the next label, default: or the end of the switch
            level = here if level is None else level
            if here == level and BRANCH_END.match(stripped):
                end += 1
                break
        end += 1
    while end > index + 1 and not lines[end - 1].strip():
        end -= 1
    return start, end


def usys_config_normalizer(tree: str) -> list[dict[str, t.Any]]:
    numbers = record_numbers(tree)
    unknown: set[str] = set()
    found = []
    source = read(tree, "auparse/normalize.c").splitlines()
    index = 0
    while index < len(source):
        line = source[index]
        label = CASE_LABEL.match(line)
        if label and covers_usys_config(label, numbers, unknown):
            start, end = case_branch(source, index)
        elif "AUDIT_USYS_CONFIG" in line and not label:
            start, end = max(index - 2, 0), min(index + 3, len(source))
        else:
            index += 1
            continue
        found.append({
            "file": "auparse/normalize.c",
            "function": enclosing_function(source, start),
            "line": start + 1,
            "text": dedent(source[start:end]),
        })
        index = end
    for name in sorted(os.listdir(os.path.join(tree, "auparse"))):
        if name.startswith("normalize") and name.endswith(".h"):
            for number, line in enumerate(read(tree, os.path.join("auparse", name)).splitlines(), 1):
                if "AUDIT_USYS_CONFIG" in line:
                    found.append({"file": "auparse/" + name, "function": None, "line": number, "text": [line.strip()]})
    if unknown:
        print("%s: normalize.c case ranges with numbers neither lib/ nor %s defines (not checked for %d): %s"
              % (tree, KERNEL_HEADER, AUDIT_USYS_CONFIG, sorted(unknown)), file=sys.stderr)
    if not any(item["file"] == "auparse/normalize.c" for item in found):
        raise ValueError("%s: auparse/normalize.c does not handle AUDIT_USYS_CONFIG by name" % tree)
    return found


def debian_patches(tree: str, paths: tuple[str, ...]) -> list[str]:
    """Debian's patches (debian/patches/series) that change one of paths."""
    series = os.path.join(tree, "debian", "patches", "series")
    if not os.path.exists(series):
        return []
    touching = []
    for entry in read(tree, "debian/patches/series").splitlines():
        entry = entry.split("#", 1)[0].strip()
        if not entry:
            continue
        name = entry.split()[0]
        text = read(tree, os.path.join("debian", "patches", name))
        changed = set(re.findall(r"^\+\+\+ (?:[^/\s]+/)?(\S+)", text, re.MULTILINE))
        if changed & set(paths):
            touching.append(name)
    return touching


def upstream_version(tree: str, debian_version: str) -> str:
    configure = os.path.join(tree, "configure.ac")
    if os.path.exists(configure):
        match = re.search(r"AC_INIT\(\s*\[?audit\]?\s*,\s*\[?([0-9][^\]\s,)]*)", read(tree, "configure.ac"))
        if match:
            return match.group(1)
    return debian_version.split(":", 1)[-1].rsplit("-", 1)[0]


def extract(tree: str) -> dict[str, t.Any]:
    tokens, line = parse_user_tokens(tree)
    return {
        "parse_user_line": line,
        "parse_user_tokens": tokens,
        "interpreted_fields": interpreted_fields(tree),
        "usys_config_normalizer": usys_config_normalizer(tree),
        "debian_patches_touching_these_files": debian_patches(
            tree, ("src/ausearch-parse.c", "auparse/typetab.h", "auparse/normalize.c", "auparse/normalize_record_map.h")
        ),
    }


def main(argv: t.Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--out", required=True, help="the directory for <upstream version>.json")
    parser.add_argument(
        "--source", nargs=4, action="append", required=True, metavar=("SUITE", "DEBIAN_VERSION", "TREE", "ORIGIN"),
        help="a suite, the Debian version it serves, the extracted tree and where the tree came from",
    )
    args = parser.parse_args(argv)
    groups: dict[str, list[tuple[str, str, str, dict[str, t.Any]]]] = {}
    for suite, debian_version, tree, origin in args.source:
        groups.setdefault(upstream_version(tree, debian_version), []).append(
            (suite, debian_version, origin, extract(tree))
        )
    os.makedirs(args.out, exist_ok=True)
    for version, entries in groups.items():
        if all(entry[3] == entries[0][3] for entry in entries):
            merged = [(version, entries)]
        else:
            print("audit %s: Debian versions differ in what is extracted; one file each" % version, file=sys.stderr)
            merged = [(entry[1].split(":", 1)[-1], [entry]) for entry in entries]
        for name, group in merged:
            debian_versions = list(dict.fromkeys(entry[1] for entry in group))
            data = {
                "version": version,
                "debian_version": " ".join(debian_versions),
                "suite": " ".join(entry[0] for entry in group),
                "origin": " | ".join(dict.fromkeys(entry[2] for entry in group)),
            }
            data.update(group[0][3])
            path = os.path.join(args.out, name + ".json")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(dumps(data) + "\n")
            print("%s: audit %s (%s, %s), %d parse_user tokens" % (
                path, version, data["debian_version"], data["suite"], len(data["parse_user_tokens"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
