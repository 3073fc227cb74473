# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The record helper: one write request on stdin, one JSON result line on stdout, for least-privilege mode.

The changeaudit.linux.record_helper role installs the binding and a fixed root-owned script that calls ``main``,
and a sudoers line that lets a login user run that script, without arguments, as root. That user can then write
records and do nothing else as root, so everything the request says is checked here, strictly, as an untrusted
caller's input: the controller's argument spec validation does not count, as the caller need not be the controller.

Protocol: stdin holds one JSON object of at most REQUEST_MAX_BYTES bytes, the usys_config options (REQUEST_SPEC)
plus ``check_mode``; a missing option takes the spec's default. stdout gets one JSON line: the usys_config result of
``request.execute``, plus ``helper``: ``{"fingerprint": sources_fingerprint of the installed binding, "path":
argv[0]}``. Every failure is a result with ``failed: true``, ``msg``, ``recorded: false`` and ``cause``, and the
exit status is 1.
"""

from __future__ import annotations

import json
import os
import re
import sys

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError, AuditInvalidInputError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.request import REQUEST_SPEC, execute

# typing only for annotations: importing it costs each record ~3 ms on the target (plugin_utils/_writer/_program.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

# A record is at most ~8 KiB once encoded; a request far beyond that can only be a mistake or an attempt to make
# root spend memory.
REQUEST_MAX_BYTES = 1024 * 1024

# What the module gets from Ansible rather than from its options.
CHECK_MODE_SPEC: t.Dict[str, t.Any] = {"type": "bool", "default": False}

# The cause of a failure that is a bug of the helper (or a broken install), not of the request or the host.
INTERNAL_ERROR_CAUSE = "RecordHelperInternalError"

_TYPES: t.Dict[str, t.Tuple[type, str]] = {
    "str": (str, "a string"),
    "bool": (bool, "true or false"),
    "dict": (dict, "an object"),
    "list": (list, "a list"),
}
_FIX = "Send one JSON object with only the usys_config options and check_mode, as the changeaudit.linux writer does"

# Fields only the controller's own audit trail holds (a record kept there for a host that cannot keep its own): a
# record on this host naming them would claim to be the controller's, for another host.
CONTROLLER_ONLY_FIELDS = ("changed_host", "kept_on")
# The shapes of the fields evidence matches a record to its change by, as the controller writes them: a run id (the
# derived one is 16 hex digits, CHANGEAUDIT_RUN_ID or awx-<job> are the operator's, at most 96 bytes, cut values end
# with [cut:sha256:<hex>]), the change's number in the run, ansible-core's task uuid, and the controller's
# signature (plugin_utils/_proof/_signing.py; this package cannot check it, the evidence does).
FIELD_SHAPES = {
    "run_id": (re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+/\[\]-]{0,95}\Z"), "a run id (letters, digits and ._:@+/[]-, "
               "at most 96)"),
    "seq": (re.compile(r"[1-9][0-9]{0,9}\Z"), "a positive decimal number of at most 10 digits"),
    "task_id": (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"),
                "a task uuid (8-4-4-4-12 lowercase hex digits)"),
    "ctl_sig": (re.compile(r"ed25519:[0-9a-f]{16}:[A-Za-z0-9_-]{86}\Z"), "ed25519:<16 hex digits>:<86 base64url characters>"),
    "ctl_mac": (re.compile(r"[0-9a-f]{32}\Z"), "32 lowercase hex digits"),
}


def sources_fingerprint(directory: str) -> str:
    """sha256 (hex) over the ``*.py`` files under ``directory`` (the binding's folders included), in the order of
    their sorted relative paths (``/`` between folders).

    Each file adds its relative path (UTF-8) and then its content, each preceded by its length in bytes as 8 bytes
    big-endian, so no two different sets of files hash alike. The controller computes it over its own ``_audit/`` to
    tell a helper installed from another version of the collection.
    """
    import hashlib

    names = []
    for top, dirs, files in os.walk(directory):
        dirs[:] = [name for name in dirs if name != "__pycache__"]
        relative = os.path.relpath(top, directory)
        for name in files:
            if name.endswith(".py") and os.path.isfile(os.path.join(top, name)):
                names.append(name if relative == "." else "/".join(relative.split(os.sep) + [name]))
    digest = hashlib.sha256()
    for name in sorted(names):
        with open(os.path.join(directory, *name.split("/")), "rb") as handle:
            content = handle.read()
        encoded = name.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big") + encoded + len(content).to_bytes(8, "big"))
        digest.update(content)
    return digest.hexdigest()


def _refuse(message: str) -> AuditInvalidInputError:
    return AuditInvalidInputError("The record helper refused the request: %s" % message, hint=_FIX)


def _unique_keys(pairs: t.List[t.Tuple[str, t.Any]]) -> t.Dict[str, t.Any]:
    # json.loads keeps the last of duplicate keys; the binding must not see something other than what a reader
    # of the request (or a log of it) would take it to say.
    result: t.Dict[str, t.Any] = {}
    for key, value in pairs:
        if key in result:
            raise _refuse("the key %r appears more than once" % key)
        result[key] = value
    return result


def _no_constant(name: str) -> t.Any:
    raise _refuse("%s is not JSON" % name)


def parse_request(data: bytes) -> t.Dict[str, t.Any]:
    """The request object in ``data``; AuditInvalidInputError unless it is one JSON object within the size limit."""
    if len(data) > REQUEST_MAX_BYTES:
        raise _refuse("it is larger than %d bytes" % REQUEST_MAX_BYTES)
    if not data.strip():
        raise _refuse("stdin was empty")
    try:
        request = json.loads(data.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise _refuse("it is not UTF-8 (%s)" % exc) from None
    except ValueError as exc:
        raise _refuse("it is not JSON (%s)" % exc) from None
    except RecursionError:
        raise _refuse("it is nested too deeply") from None
    if not isinstance(request, dict):
        raise _refuse("it is a JSON %s, not an object" % type(request).__name__)
    return request


def _check_value(name: str, spec: t.Mapping[str, t.Any], value: t.Any) -> None:
    if value is None and not spec.get("required") and "default" not in spec:
        return
    wanted, described = _TYPES[spec["type"]]
    if not isinstance(value, wanted):
        raise _refuse("%s must be %s, not %s" % (name, described, json.dumps(value)[:80]))
    if spec.get("elements") == "str" and not all(isinstance(item, str) for item in value):
        raise _refuse("%s must be a list of strings" % name)
    if "choices" in spec and value not in spec["choices"]:
        raise _refuse("%s must be one of %s, not %r" % (name, ", ".join(spec["choices"]), value))


def validate_helper_request(request: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The request with every option checked against REQUEST_SPEC (and check_mode) and the defaults filled in."""
    spec = dict(REQUEST_SPEC, check_mode=CHECK_MODE_SPEC)
    unknown = sorted(set(request) - set(spec))
    if unknown:
        raise _refuse("unknown key(s) %s; the known ones are %s" % (", ".join(map(repr, unknown)), ", ".join(sorted(spec))))
    validated: t.Dict[str, t.Any] = {}
    for name, option in spec.items():
        if name not in request:
            if option.get("required"):
                raise _refuse("%s is required" % name)
            # A copy: the defaults {} and [] are shared by every request this process could ever validate.
            validated[name] = json.loads(json.dumps(option.get("default")))
            continue
        _check_value(name, option, request[name])
        validated[name] = request[name]
    _check_fields(validated["fields"], validated["hash_fields"])
    return validated


def _check_fields(fields: t.Mapping[str, t.Any], hash_fields: t.Sequence[str]) -> None:
    """Refuse the fields only the controller writes, and the identifying ones in any other shape than its own."""
    claimed = sorted(set(fields) & set(CONTROLLER_ONLY_FIELDS))
    if claimed:
        raise _refuse("the field%s %s %s only the controller's own audit trail holds (a record kept there for another "
                      "host); a record written on this host may not claim that" % (
                          "s" if len(claimed) > 1 else "", ", ".join(claimed), "are" if len(claimed) > 1 else "is"))
    for name, (pattern, described) in FIELD_SHAPES.items():
        if name not in fields:
            continue
        if name in hash_fields:
            raise _refuse("the field %s may not be hashed: evidence matches a record by it" % name)
        value = fields[name]
        if not isinstance(value, str) or not pattern.match(value):
            raise _refuse("the field %s must be %s, not %s" % (name, described, json.dumps(value)[:80]))
    if "seq" in fields and not ("run_id" in fields and "task_id" in fields):
        raise _refuse("a record with seq names the change of a run: it needs run_id and task_id too")


def _failure(exc: AuditError) -> t.Dict[str, t.Any]:
    return dict(failed=True, msg=str(exc), recorded=False, **exc.as_dict())


def _internal_failure(exc: BaseException) -> t.Dict[str, t.Any]:
    return {
        "failed": True,
        "msg": "The record helper failed unexpectedly (%s: %s); no record was written. It is a bug of the helper or a "
               "broken install: apply the changeaudit.linux.record_helper role again, and report it if that does not "
               "help" % (type(exc).__name__, exc),
        "recorded": False,
        "cause": INTERNAL_ERROR_CAUSE,
        "exception": type(exc).__name__,
    }


def _run(stdin: t.BinaryIO, argv: t.Sequence[str]) -> t.Dict[str, t.Any]:
    if len(argv) > 1:
        # sudoers allows the helper only without arguments; this holds for any other way it gets run.
        raise AuditInvalidInputError(
            "The record helper takes no arguments, got %d" % (len(argv) - 1), hint="Send the request on stdin")
    request = validate_helper_request(parse_request(stdin.read(REQUEST_MAX_BYTES + 1)))
    return execute(request)


def main(stdin: t.Optional[t.BinaryIO] = None, stdout: t.Optional[t.TextIO] = None,
         argv: t.Optional[t.Sequence[str]] = None) -> int:
    """Run one request; print one JSON line; return the exit status (0 unless the result says failed)."""
    # Resolved here, not as default arguments: importing this module must not touch the process's streams.
    stdin = sys.stdin.buffer if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    argv = sys.argv if argv is None else argv
    # The helper is the outermost frame of a root process run by an untrusted user: whatever goes wrong must still
    # come out as the one JSON line the caller parses, never as a traceback.
    try:
        result = _run(stdin, argv)
    except AuditError as exc:
        result = _failure(exc)
    except Exception as exc:  # pylint: disable=broad-except
        result = _internal_failure(exc)
    try:
        fingerprint = sources_fingerprint(os.path.dirname(os.path.abspath(__file__)))
    except Exception:  # pylint: disable=broad-except
        fingerprint = None
    result["helper"] = {"fingerprint": fingerprint, "path": argv[0] if argv else None}
    try:
        line = json.dumps(result, sort_keys=True)
    except Exception as exc:  # pylint: disable=broad-except
        line = json.dumps(dict(_internal_failure(exc), helper=result["helper"]), sort_keys=True)
        result = {"failed": True}
    try:
        stdout.write(line + "\n")
        stdout.flush()
    except Exception:  # pylint: disable=broad-except
        return 1
    return 1 if result.get("failed") else 0


__all__ = [
    "REQUEST_MAX_BYTES",
    "REQUEST_SPEC",
    "CHECK_MODE_SPEC",
    "INTERNAL_ERROR_CAUSE",
    "CONTROLLER_ONLY_FIELDS",
    "FIELD_SHAPES",
    "sources_fingerprint",
    "parse_request",
    "validate_helper_request",
    "main",
]
