"""The shim that writes a change's record in the module's own process: what it writes, leaves to the writer, and
how a record it cannot write fails the module's result. The binding here is a fake ``request`` packed as the
controller packs the real one, so nothing reaches the audit subsystem."""

from __future__ import annotations

import base64
import json
import runpy
import sys
import types
import zlib

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit import in_module as shim

PACKAGE = sys.modules[shim.ENTRY.rsplit(".", 1)[0]]
REQUEST = {"op": "ansible-change:ansible.builtin.lineinfile:/etc/x", "fields": {"module": "ansible.builtin.lineinfile"}}


def packed(source: str) -> str:
    return base64.b64encode(zlib.compress(json.dumps({shim.ENTRY: source}).encode("utf-8"))).decode("ascii")


WRITES = packed(
    "import sys\n"
    "def execute(request):\n"
    "    sys.modules['_in_module_test_requests'].append(request)\n"
    "    return {'changed': False, 'recorded': True, 'record': 'op=x', 'sequence': 3, 'verified': None}\n"
)
FAILS = packed(
    "def execute(request):\n"
    "    return {'failed': True, 'recorded': False, 'msg': 'auditing is disabled', 'cause': 'AuditDisabledError'}\n"
)
RAISES = packed("def execute(request):\n    raise RuntimeError('boom')\n")


class FakeModule:
    """AnsibleModule as the shim sees it: _return_formatted prints the result (here: keeps it)."""

    check_mode = False
    no_log_values: set = set()
    printed: list = []

    def _return_formatted(self, kwargs):
        FakeModule.printed.append(dict(kwargs))


@pytest.fixture
def module_process(monkeypatch):
    """A fresh 'module process': ansible.module_utils.basic with FakeModule, the wrapper's runpy.run_module, and the
    real binding's request hidden so that the packed one is imported."""
    requests: list = []
    FakeModule.printed = []
    monkeypatch.setattr(FakeModule, "_return_formatted", FakeModule._return_formatted)
    monkeypatch.setitem(sys.modules, shim.BASIC, types.SimpleNamespace(AnsibleModule=FakeModule))
    monkeypatch.setitem(sys.modules, "_in_module_test_requests", requests)
    monkeypatch.delitem(sys.modules, shim.ENTRY, raising=False)
    monkeypatch.setattr(PACKAGE, "request", None, raising=False)
    ran = []
    monkeypatch.setattr(runpy, "run_module", lambda *args, **kwargs: ran.append(args))
    meta_path = list(sys.meta_path)
    yield types.SimpleNamespace(requests=requests, ran=ran)
    sys.meta_path[:] = meta_path


def run(result, packed_binding=WRITES, checksum=None, module=None, magic=None):
    shim.install({"request": REQUEST, "checksum": checksum}, packed_binding, magic)
    runpy.run_module("ansible.modules.lineinfile")
    (module or FakeModule())._return_formatted(result)
    return FakeModule.printed[-1]


def test_a_changed_result_gets_its_record_written_before_it_is_printed(module_process):
    printed = run({"changed": True, "msg": "line added"})
    assert module_process.requests == [REQUEST]
    assert printed[shim.RESULT_KEY] == {"path": "in_module", "recorded": True, "record": "op=x", "sequence": 3, "verified": None}
    assert printed["changed"] is True and "failed" not in printed
    # The wrapper's own functions are back: nothing of the shim runs twice.
    assert module_process.ran and FakeModule._return_formatted.__name__ == "_return_formatted"
    assert getattr(FakeModule._return_formatted, "__closure__", None) is None


@pytest.mark.parametrize("result", [{"changed": False}, {"changed": True, "failed": True, "msg": "half done"}, {}])
def test_no_record_here_for_an_unchanged_or_failed_result(module_process, result):
    printed = run(dict(result))
    assert shim.RESULT_KEY not in printed and module_process.requests == []


@pytest.mark.parametrize("result, checksum, module, why", [
    ({"changed": True, "checksum": "a" * 40}, None, None, "checksum"),
    ({"changed": True, "checksum": "a" * 40}, "sha1:" + "b" * 40, None, "checksum"),
    ({"changed": True, "diff": {"before": "a\n", "after": "b\n"}}, None, None, "diff"),
    ({"changed": True}, None, types.SimpleNamespace(check_mode=True, no_log_values=set(),
                                                    _return_formatted=FakeModule._return_formatted), "check mode"),
])
def test_a_result_unlike_the_one_the_record_was_built_with_is_left_to_the_writer(module_process, result, checksum, module, why):
    if module is not None:
        shim.install({"request": REQUEST, "checksum": checksum}, WRITES, None)
        runpy.run_module("ansible.modules.lineinfile")
        FakeModule._return_formatted(module, result)
        printed = FakeModule.printed[-1]
    else:
        printed = run(result, checksum=checksum)
    assert printed[shim.RESULT_KEY]["path"] == "writer" and why in printed[shim.RESULT_KEY]["why"]
    assert module_process.requests == [] and "failed" not in printed


def test_the_checksum_the_record_was_built_with_is_written_here(module_process):
    printed = run({"changed": True, "checksum": "c" * 40, "diff": {"before": "", "after": ""}}, checksum="sha1:" + "c" * 40)
    assert printed[shim.RESULT_KEY]["path"] == "in_module" and module_process.requests == [REQUEST]


def test_a_module_with_no_log_values_is_left_to_the_writer(module_process):
    module = FakeModule()
    module.no_log_values = {"hunter2"}
    printed = run({"changed": True}, module=module)
    assert printed[shim.RESULT_KEY] == {"path": "writer", "why": "the module has no_log values"}


@pytest.mark.parametrize("binding, cause", [(FAILS, "AuditDisabledError"), (RAISES, "RuntimeError")])
def test_a_record_that_cannot_be_written_fails_the_result_with_the_cause(module_process, binding, cause):
    printed = run({"changed": True, "msg": "line added"}, packed_binding=binding)
    assert printed["failed"] is True and printed["changed"] is True
    assert printed["msg"].startswith("The change was made but could not be recorded in the host's audit trail: ")
    assert printed[shim.RESULT_KEY]["path"] == "in_module" and printed[shim.RESULT_KEY]["cause"] == cause


def test_a_binding_compiled_for_another_python_is_left_to_the_writer(module_process):
    printed = run({"changed": True}, magic=base64.b64encode(b"\0\0\r\n").decode("ascii"))
    assert printed[shim.RESULT_KEY] == {"path": "writer", "why": "the binding came compiled for another Python"}


def test_a_binding_that_does_not_load_is_left_to_the_writer(module_process):
    printed = run({"changed": True}, packed_binding=packed("raise ImportError('no ctypes here')\n"))
    assert printed[shim.RESULT_KEY]["path"] == "writer" and "no ctypes here" in printed[shim.RESULT_KEY]["why"]


def test_without_ansible_module_nothing_is_wrapped(module_process, monkeypatch):
    monkeypatch.setitem(sys.modules, shim.BASIC, types.SimpleNamespace())
    shim.install({"request": REQUEST, "checksum": None}, WRITES, None)
    runpy.run_module("ansible.modules.raw_python")
    assert module_process.ran and FakeModule._return_formatted.__name__ == "_return_formatted"
