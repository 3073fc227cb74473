# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The record written in the module's own process: what the controller puts in front of a Python module.

The every-change hook (``_hook/_in_module_path.in_module_prelude``) decides per task whether a change's record can be
written by the module's process itself (a root Python module of the ``normal`` action, ...); this file builds what
then goes into that module's payload (``_task_hook.with_prelude``): the target-side shim
(``module_utils/_audit/in_module.py``, as source), the record's request, built, signed and checked on the controller
as the writer's would be, and the binding packed as the writer's program packs it (code objects where the target is
known to run this controller's Python). It travels inside the payload, never on a command line, and costs the module
nothing until its result says changed. The report the shim puts in the result tells the hook which path took the
record (``report``)."""

from __future__ import annotations

import base64
import functools
import json
import marshal
import os
import typing as t

from ansible_collections.changeaudit.linux.plugins.module_utils._audit import in_module as _shim
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import IN_MODULE_PATH, WRITER_PATH
from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer._program import AUDIT_DIR, json_default, pack_binding

# The result key the shim reports under (taken out of the result by _core before anyone sees it).
RESULT_KEY = _shim.RESULT_KEY
# Which path wrote a change's record, as the ledger's outcome line says it.
IN_MODULE = IN_MODULE_PATH
WRITER = WRITER_PATH

# The shim goes as source, or where the binding goes compiled as a code object of this Python too (no compile there).
PRELUDE = '''def _changeaudit_in_module():
    import base64, json
    shim = {"__name__": "_changeaudit_in_module"}
    exec(%(code)s, shim)
    shim["install"](json.loads(base64.b64decode(%(context)r).decode("utf-8")), %(packed)r, %(magic)r)


_changeaudit_in_module()
del _changeaudit_in_module
'''


@functools.lru_cache(maxsize=None)
def shim_source(audit_dir: str = AUDIT_DIR) -> str:
    """The shim as it runs on the target: its source without the docstring and comment lines (less to send)."""
    with open(os.path.join(audit_dir, "in_module.py"), encoding="utf-8") as handle:
        source = handle.read()
    lines = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=None)
def shim_code(compiled: bool) -> str:
    """The expression that gives the shim's code in the prelude."""
    if not compiled:
        return "compile(%r, \"<changeaudit in_module>\", \"exec\", dont_inherit=True)" % shim_source()
    code = compile(shim_source(), "<changeaudit in_module>", "exec", dont_inherit=True, optimize=2)
    return "__import__(\"marshal\").loads(base64.b64decode(%r))" % base64.b64encode(marshal.dumps(code)).decode("ascii")


def packed_binding(compiled: bool, audit_dir: str = AUDIT_DIR) -> t.Tuple[str, t.Optional[str]]:
    """(packed, magic) of the binding: the writer's own packing (_program.pack_binding), made once per controller
    process for both."""
    return pack_binding(audit_dir, compiled)


def prelude(request: t.Mapping[str, t.Any], checksum: t.Optional[str], compiled: bool) -> str:
    """The source that runs in the module's process before the module: the shim installed with the request (and the
    checksum the record was built with, which the module's result must name)."""
    context = json.dumps({"request": dict(request), "checksum": checksum}, default=json_default)
    packed, magic = packed_binding(compiled)
    return PRELUDE % {
        "code": shim_code(compiled),
        "context": base64.b64encode(context.encode("utf-8", "surrogateescape")).decode("ascii"),
        "packed": packed,
        "magic": magic,
    }


def prepare() -> None:
    """Builds what every prelude carries, once, in the controller process before its workers fork (a worker is a
    fresh fork for each task: built there, it would cost each task ~40 ms)."""
    shim_code(True)
    shim_code(False)
    packed_binding(True)
    packed_binding(False)


def report(attempts: t.Sequence[t.Any]) -> t.Optional[t.Dict[str, t.Any]]:
    """The shim's report of a record it wrote, or failed to write, in the last attempt; None when the writer records
    the change (no module ran the shim, or each that did left the record to the writer)."""
    if not attempts:
        return None
    for found in attempts[-1].module_reports:
        if found.get("path") == IN_MODULE:
            return found
    return None


__all__ = ["RESULT_KEY", "IN_MODULE", "WRITER", "PRELUDE", "shim_source", "shim_code", "packed_binding", "prelude", "prepare", "report"]
