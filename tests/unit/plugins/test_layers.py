"""The house rules of plugins/ (CONTRIBUTING.md, "Layout"): folders by layer, imports running downward only, no
circle, and no file a newcomer cannot read in one sitting."""

from __future__ import annotations

import ast
import os

import pytest

PLUGINS = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, os.pardir, "plugins"))
PACKAGE = "ansible_collections.changeaudit.linux.plugins."
# From the bottom up; a file may import from its own layer or one below.
LAYERS = {
    "module_utils._audit.": ("record", "system", "read", "send", "watch"),
    "plugin_utils.": ("_core", "_proof", "_record", "_writer", "_hook"),
}
MAX_LINES = 450


def _modules():
    found = {}
    for top, _dirs, files in os.walk(PLUGINS):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(top, name)
                found[PACKAGE + os.path.relpath(path[:-3], PLUGINS).replace(os.sep, ".")] = path
    return found


MODULES = _modules()


def _imports(path):
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            yield node.module if node.module in MODULES else None
            for alias in node.names:
                if node.module + "." + alias.name in MODULES:
                    yield node.module + "." + alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    yield alias.name


GRAPH = {name: {found for found in _imports(path) if found} for name, path in MODULES.items()}


def _layer(name):
    relative = name[len(PACKAGE):]
    for prefix, layers in LAYERS.items():
        if relative.startswith(prefix):
            rest = relative[len(prefix):].split(".")
            if len(rest) > 1 and rest[0] in layers:
                return prefix, layers.index(rest[0])
    return None


def test_the_tree_is_found():
    assert len(MODULES) > 100 and PACKAGE + "plugin_utils._hook._before" in GRAPH


def test_no_import_runs_back_up_a_layer():
    upward = []
    for name, imported in GRAPH.items():
        mine = _layer(name)
        for other in imported:
            theirs = _layer(other)
            if mine and theirs and mine[0] == theirs[0] and theirs[1] > mine[1]:
                upward.append((name, other))
    assert upward == []


def test_the_binding_imports_nothing_of_the_controller_and_core_nothing_of_ours():
    binding = [(name, other) for name, imported in GRAPH.items() if ".module_utils._audit." in name
               for other in imported if ".module_utils._audit." not in other]
    assert binding == []
    core = [(name, other) for name, imported in GRAPH.items() if ".plugin_utils._core." in name
            for other in imported if ".plugin_utils._core." not in other]
    assert core == []


def test_no_import_circle():
    state, circles = {}, []

    def visit(name, stack):
        state[name] = "open"
        stack.append(name)
        for other in sorted(GRAPH[name]):
            if state.get(other) == "open":
                circles.append(stack[stack.index(other):] + [other])
            elif other not in state:
                visit(other, stack)
        stack.pop()
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [])
    assert circles == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_file_is_over_the_line_limit(name):
    with open(MODULES[name], encoding="utf-8") as handle:
        assert sum(1 for _line in handle) <= MAX_LINES
