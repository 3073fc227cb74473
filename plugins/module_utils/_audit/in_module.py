# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The record of a change written inside the module's own process, after its result is final and before it is printed.

The controller (plugin_utils/_core/_task_hook.py, _hook/_in_module_path.py) puts this file's source, the record's request and the
binding (packed as plugin_utils/_writer/_program.py packs it for the writer) in front of the call that starts an AnsiballZ
module; ``install`` then runs in the module's process before the module does. What it relies on of Ansible, and
nothing more: the wrapper's loader has imported ``ansible.module_utils.basic`` when it calls ``runpy.run_module``
for the module, and every result of an ``AnsibleModule`` leaves through ``AnsibleModule._return_formatted``
(exit_json and fail_json alike, warnings already added, before it is printed).

On that result, and only when it says changed and not failed: the module's own evidence (the content's checksum,
whether it returned a diff with content) must be what the controller built the record with; then the binding is
imported, for the first time in this process, and the request written with ``request.execute``, as the writer would.
The result says under RESULT_KEY which path took the record: ``in_module`` (with the binding's outcome; a record that
could not be written makes the result a failure with the cause, so the task fails closed) or ``writer`` (with why:
the controller's writer records the change as it would have without this file). Standard library only, Python 3.8+.
"""

from __future__ import annotations

import sys

# The key of the result that says what became of the record here; the controller takes it out of the result.
RESULT_KEY = "_changeaudit_in_module"
BASIC = "ansible.module_utils.basic"
ENTRY = "ansible_collections.changeaudit.linux.plugins.module_utils._audit.request"
CHECKSUM_KEYS = ("checksum", "checksum_dest")
_HEX = frozenset("0123456789abcdef")


def content_checksum(result):
    """``sha1:<hex>`` of the content the module left, as plugin_utils/_record/_content.content_checksum reads it."""
    for key in CHECKSUM_KEYS:
        value = result.get(key)
        if isinstance(value, str) and len(value) == 40 and not set(value) - _HEX:
            return "sha1:" + value
    return None


def has_content_diff(diff):
    """Whether a diff holds content, not only headers, as plugin_utils/_record/_content.has_content_diff reads it."""
    for entry in diff if isinstance(diff, list) else [diff]:
        if isinstance(entry, dict):
            if any(entry.get(key) not in (None, "", {}, []) for key in ("before", "after", "prepared")):
                return True
        elif entry not in (None, "", {}, []):
            return True
    return False


def why_not_here(module, result, context):
    """Why this result's record is not written here (the writer takes it), or None."""
    if getattr(module, "check_mode", False):
        return "check mode"
    if getattr(module, "no_log_values", None):
        # Core scrubs these from the printed result, which the writer's evidence would come from.
        return "the module has no_log values"
    if content_checksum(result) != context.get("checksum"):
        return "the module's checksum is not the one the record was built with"
    if has_content_diff(result.get("diff")):
        return "the module returned a diff, whose hash only the controller makes"
    return None


class _Sources:
    """Imports the binding from what the controller packed: sources, or code objects of this very Python."""

    def __init__(self, modules):
        # Imported here, never in find_spec: an import there would ask this finder again.
        from importlib.machinery import ModuleSpec

        self.spec = ModuleSpec
        self.modules = modules
        self.packages = set()
        for name in modules:
            parts = name.split(".")
            self.packages.update(".".join(parts[:end]) for end in range(1, len(parts)))

    def find_spec(self, name, path=None, target=None):
        if name in self.modules:
            return self.spec(name, self, origin=name.replace(".", "/") + ".py")
        if name in self.packages:
            return self.spec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        code = self.modules.get(module.__name__)
        if isinstance(code, str):
            code = compile(code, module.__spec__.origin, "exec", dont_inherit=True)
        if code is not None:
            exec(code, module.__dict__)  # pylint: disable=exec-used


def binding(packed, magic):
    """The binding's ``execute``, or None when it came compiled for another Python (the writer then records)."""
    import base64
    import zlib
    from importlib.util import MAGIC_NUMBER

    data = zlib.decompress(base64.b64decode(packed))
    if magic is None:
        import json

        modules = json.loads(data.decode("utf-8"))
    elif base64.b64decode(magic) != MAGIC_NUMBER:
        return None
    else:
        import marshal

        modules = marshal.loads(data)
    # Left in place: the binding imports some of its modules only when it needs them (write.py's verify).
    sys.meta_path.insert(0, _Sources(modules))
    return __import__(ENTRY, fromlist=["execute"]).execute


def record(module, result, context, packed, magic):
    """What RESULT_KEY says of ``result`` (changed, not failed), the record written first when it can be here."""
    why = why_not_here(module, result, context)
    if why is None:
        try:
            execute = binding(packed, magic)
        except Exception as exc:  # pylint: disable=broad-except
            # Nothing was sent yet: the writer can still record the change.
            execute, why = None, "the binding did not load here: %s: %s" % (type(exc).__name__, exc)
        else:
            if execute is None:
                why = "the binding came compiled for another Python"
    if why is not None:
        return {"path": "writer", "why": why}
    try:
        outcome = execute(dict(context["request"]))
    except Exception as exc:  # pylint: disable=broad-except
        # The record may have gone out: never a second one from the writer, the task fails closed instead.
        outcome = {"failed": True, "recorded": False, "cause": type(exc).__name__,
                   "msg": "the binding failed while writing the record: %s" % exc}
    report = {key: value for key, value in outcome.items() if key != "changed"}
    report["path"] = "in_module"
    return report


def install(context, packed, magic):
    """Run by the wrapper before the module: the first result the module returns goes through ``record``."""
    import runpy

    run_module = runpy.run_module

    def wrap_return(cls):
        original = cls._return_formatted

        def _return_formatted(self, kwargs):
            # One result per process: restored first, so that nothing here can run twice.
            cls._return_formatted = original
            if isinstance(kwargs, dict) and kwargs.get("changed") and not kwargs.get("failed"):
                report = record(self, kwargs, context, packed, magic)
                if report.get("failed"):
                    kwargs["failed"] = True
                    kwargs["msg"] = "The change was made but could not be recorded in the host's audit trail: %s" % (
                        report.get("msg") or "no record")
                kwargs[RESULT_KEY] = report
            return original(self, kwargs)

        cls._return_formatted = _return_formatted

    def run_module_recorded(*args, **kwargs):
        runpy.run_module = run_module
        basic = sys.modules.get(BASIC)
        if basic is not None and hasattr(getattr(basic, "AnsibleModule", None), "_return_formatted"):
            wrap_return(basic.AnsibleModule)
        return run_module(*args, **kwargs)

    runpy.run_module = run_module_recorded
