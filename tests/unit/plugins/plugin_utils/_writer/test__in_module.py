"""What the controller puts in front of a Python module for its record (_in_module, _task_hook.with_prelude)."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit import in_module as shim
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _execution, _task_hook
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record import _content
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer import _in_module

WRAPPER = (
    b"#!/usr/bin/python3\nfrom __future__ import annotations\nimport datetime\n_ANSIBALLZ_WRAPPER = True\n"
    b"def _ansiballz_main(**kwargs):\n    pass\n"
    b'\n\nif __name__ == "__main__":\n    _ansiballz_main(\nansible_module=\'lineinfile\',\n)\n'
)


def test_the_prelude_goes_just_before_the_wrapper_starts_the_module():
    data = _task_hook.with_prelude(WRAPPER, "PRELUDE = 1\n")
    head, tail = data.split(b"PRELUDE = 1\n")
    assert head.startswith(WRAPPER[:WRAPPER.index(b"\n\nif __name__")]) and tail == WRAPPER[WRAPPER.index(b"\n\nif __name__"):]


@pytest.mark.parametrize("data", [
    b"#!/usr/bin/python3\nprint('{}')\n",
    WRAPPER.replace(b"_ANSIBALLZ_WRAPPER = True", b""),
    WRAPPER.replace(b"_ansiballz_main(\n", b"main(\n"),
])
def test_a_payload_that_is_not_an_ansiballz_wrapper_gets_none(data):
    assert _task_hook.with_prelude(data, "PRELUDE = 1\n") is None


@pytest.mark.parametrize("compiled", [False, True])
def test_the_prelude_installs_the_shim_with_the_request(compiled, monkeypatch):
    import runpy

    installed = []
    monkeypatch.setattr(runpy, "run_module", runpy.run_module)
    prelude = _in_module.prelude({"op": "x", "fields": {"cmd": "a\"'\\\n"}}, "sha1:" + "a" * 40, compiled)
    namespace = {"__name__": "wrapper"}
    real_install = shim.install
    monkeypatch.setattr(shim, "install", lambda *args: installed.append(args))
    # The prelude carries its own copy of the shim: run it as the wrapper would, and look at what it installed.
    exec(compile(prelude, "<wrapper>", "exec"), namespace)
    assert not installed and runpy.run_module.__name__ == "run_module_recorded"
    assert "_changeaudit_in_module" not in namespace
    monkeypatch.setattr(shim, "install", real_install)


@pytest.mark.parametrize("compiled", [False, True])
def test_the_packed_binding_loads_on_its_own_in_a_python_without_the_collection(compiled):
    packed, magic = _in_module.packed_binding(compiled)
    program = (
        "import sys\n"
        "exec(compile(sys.stdin.read(), 'shim', 'exec'))\n"
        "execute = binding(%r, %r)\n"
        "print(execute.__module__, 'ansible' in sys.modules)\n" % (packed, magic)
    )
    proc = subprocess.run(
        [sys.executable, "-E", "-s", "-S", "-c", program], input=_in_module.shim_source(), capture_output=True, text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [shim.ENTRY, "False"]


def test_only_a_report_of_a_record_written_or_failed_here_counts():
    attempt = _execution.Attempt()
    assert _in_module.report([]) is None and _in_module.report([attempt]) is None
    attempt.module_reports.append({"path": "writer", "why": "checksum"})
    assert _in_module.report([attempt]) is None
    attempt.module_reports.append({"path": "in_module", "recorded": True})
    assert _in_module.report([types.SimpleNamespace(module_reports=[{"path": "in_module"}]), attempt]) == {
        "path": "in_module", "recorded": True}


def test_the_shim_sent_has_no_docstring_lines_of_comments():
    source = _in_module.shim_source()
    assert not [line for line in source.splitlines() if line.lstrip().startswith("#") or not line.strip()]
    compile(source, "shim", "exec", dont_inherit=True)


# The shim's copies of two of the controller's readers (module_utils' tests run without the controller's code).
@pytest.mark.parametrize("result", [
    {}, {"checksum": "a" * 40}, {"checksum_dest": "b" * 40}, {"checksum": "A" * 40}, {"checksum": "a" * 39},
    {"checksum": 5}, {"checksum": "x", "checksum_dest": "c" * 40},
])
def test_the_checksum_is_read_as_the_controller_reads_it(result):
    assert shim.content_checksum(result) == _content.content_checksum(result)


@pytest.mark.parametrize("diff", [
    None, "", {}, [], {"before": "", "after": ""}, {"before_header": "/x", "after_header": "/x"}, {"after": "x"},
    [{"before": ""}, {"prepared": "y"}], "text", [None, ""], {"before": {}, "after": []},
])
def test_a_content_diff_is_told_as_the_controller_tells_it(diff):
    assert shim.has_content_diff(diff) is _content.has_content_diff(diff)
