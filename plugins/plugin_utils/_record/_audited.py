# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""What the audited action records about a change, decided on the controller."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import AUDIT_MESSAGE_TEXT_MAX
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import (
    OP_MAX,
    build_message,
    validate_addr,
    validate_comm,
    validate_hostname,
    validate_terminal,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError, AuditRecordTooLongError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.fields import CHANGE, CONTROLLER, bound_of, names
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core._results import POLYMORPHIC_RESULT, register_names
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._context import (
    CONTEXT_TEXT_DEFAULT_MAX,
    bounded_text,
    merge_fields,
    with_context,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._content import content_checksum, diff_bytes, has_content_diff, sha256_hex
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._hashing import Hasher, data_bytes
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import (
    MAC_PLACEHOLDER,
    RECORD_MAC_FIELD,
    RECORD_SIG_FIELD,
    SIGNATURE_PLACEHOLDER,
    sign_record,
)

# The argument that names what a module changes, in the order modules use them.
OBJECT_ARGUMENTS = ("path", "dest", "name", "key")


def object_of(module_args: t.Mapping[str, t.Any]) -> t.Tuple[t.Optional[str], t.Any]:
    """(argument name, value) of the object the module changes, or (None, None)."""
    for name in OBJECT_ARGUMENTS:
        value = module_args.get(name)
        if value not in (None, ""):
            return name, value
    return None, None


# The most UTF-8 bytes the object and the argument names take in a record (fields.FIELDS); a longer value is cut,
# ending with the sha256 of the whole (see _context.bounded_text), so that an exact-object search still works by hash.
OBJECT_TEXT_MAX = bound_of("object")
ARG_NAMES_MAX = bound_of("arg_names")
MODULE_NAME_MAX = bound_of("module")
# The field that names the values a record leaves out (under no_log without a hash key), and the name it gives a
# field that is left out where that is not the field's own.
WITHHELD_FIELD = "withheld"
WITHHELD_NAMES = {"diff_sha256": "diff"}
# Fields only the controller writes, after the record is built: a play's own fields may not take these names, they
# would claim what only the controller vouches for (fields.CONTROLLER).
CONTROLLER_ONLY_FIELDS = names(CONTROLLER)
# Every field change_fields and change_record_params may write besides the play's own and the task context.
CHANGE_FIELDS = names(CHANGE, CONTROLLER)


def object_text(value: t.Any) -> str:
    """The object as the record holds it: text as it is, anything else as the bytes the binding would write."""
    if isinstance(value, str):
        return value
    return data_bytes(value).decode("utf-8", "surrogateescape")


def change_fields(
    module_fqcn: str,
    module_args: t.Mapping[str, t.Any],
    inner_result: t.Mapping[str, t.Any],
    no_log: bool,
    hasher: t.Optional[Hasher] = None,
    withheld: t.Optional[t.List[str]] = None,
) -> t.Dict[str, t.Any]:
    """Fields that say what changed. The diff only ever as a hash; under no_log the argument names instead of
    their values, and every digest of a value (the object, the content's checksum, the diff's hash) keyed with the
    operator's key, or without a key left out and named in ``withheld``: never a plain hash, which anyone who reads
    the log reverses for a PIN or a short token by hashing every candidate (``changeaudit_unkeyed_hashes`` does not
    change that; it is for hash_fields outside no_log)."""
    hasher = hasher or Hasher()
    withheld = [] if withheld is None else withheld
    fields: t.Dict[str, t.Any] = {"module": bounded_text(module_fqcn, MODULE_NAME_MAX)}

    def secret_digest(name: str, digest: t.Callable[[], str]) -> None:
        if hasher.keyed:
            fields[name] = digest()
        else:
            withheld.append(WITHHELD_NAMES.get(name, name))

    object_arg, object_value = object_of(module_args)
    if object_arg is not None:
        fields["object_arg"] = object_arg
        if not no_log:
            fields["object"] = bounded_text(object_text(object_value), OBJECT_TEXT_MAX)
        else:
            secret_digest("object", lambda: hasher.hash_value(object_value))
    if no_log:
        fields["arg_names"] = bounded_text(",".join(sorted(str(name) for name in module_args)), ARG_NAMES_MAX)
    checksum = content_checksum(inner_result)
    if checksum and not no_log:
        fields["checksum"] = checksum
    elif checksum:
        # The module's sha1 of content that may be the secret: keyed over the text the record would otherwise
        # hold, so the key's holder checks it from sha1sum of the file.
        secret_digest("checksum", lambda: hasher.hash_value(checksum))
    diff = inner_result.get("diff")
    if has_content_diff(diff):
        if no_log:
            secret_digest("diff_sha256", lambda: hasher.hash_bytes(diff_bytes(diff)))
        elif hasher.can_hash:
            fields["diff_sha256"] = hasher.hash_bytes(diff_bytes(diff))
        else:
            # Outside no_log the diff's text is in the task's output anyway; its plain hash reveals no more.
            fields["diff_sha256"] = sha256_hex(diff)
    return fields


# The change fields that carry an argument value: hash_fields may name them, and under no_log they are hashed.
SECRET_FIELDS = ("object",)

# op= of every change record, from audited and from the every-change hook alike.
CHANGE_OP = "ansible-change"

# Characters an object keeps in op=; the rest are percent-encoded (RFC 3986), so op stays one bare field and
# one CSV column, and reads as a path or a name.
_OP_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/@+:")


def _utf8(char: str) -> bytes:
    try:
        return char.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # A lone surrogate that stands for no byte: the object field itself is refused, with the binding's message.
        return char.encode("utf-8", "surrogatepass")


def _percent_encoded(text: str) -> str:
    return "".join(char if char in _OP_SAFE else "".join("%%%02X" % byte for byte in _utf8(char)) for char in text)


def record_op(op: str, module_fqcn: str, object_value: t.Any = None) -> str:
    """``<op>:<module>:<object>``, the action ``ausearch --format text|csv`` shows for the record.

    auparse's normalizer gives a USYS_CONFIG record no object and takes its action from op=, so op carries the
    module and the object (percent-encoded) for those views; the fields still hold both in full. The object is
    left out when it is not text or a list of texts, or would make op longer than audit takes.
    """
    op = "%s:%s" % (op, module_fqcn)
    if isinstance(object_value, (list, tuple)) and all(isinstance(item, (str, int)) for item in object_value):
        object_value = ",".join(str(item) for item in object_value)
    if isinstance(object_value, int) and not isinstance(object_value, bool):
        object_value = str(object_value)
    if isinstance(object_value, str) and object_value:
        with_object = "%s:%s" % (op, _percent_encoded(object_value))
        if len(with_object) <= OP_MAX:
            return with_object
    return op


def unknown_hash_fields(hash_fields: t.Iterable[str], extra_fields: t.Mapping[str, t.Any]) -> t.List[str]:
    """The names hash_fields may not hold: only the play's own fields and the object carry values it could hash."""
    return sorted(set(hash_fields) - set(extra_fields) - set(SECRET_FIELDS))


def module_arguments(args: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The arguments the play gave, without the ``_ansible_*`` keys action plugins add to task.args in place."""
    return {name: value for name, value in args.items() if not str(name).startswith("_ansible_")}


def record_result(changed: bool, failed: bool, record_failures: bool = False) -> t.Optional[str]:
    """The res= of the record a final task result calls for, or None when it calls for none.

    A change is recorded whatever happened after it (res=failed when the task failed: the host was changed
    all the same); a failure without a change only when asked to.
    """
    if changed:
        return "failed" if failed else "success"
    if failed and record_failures:
        return "failed"
    return None


def protect_values(
    values: t.Mapping[str, t.Any], hash_fields: t.AbstractSet[str], secret: bool, hasher: Hasher, withheld: t.List[str]
) -> t.Dict[str, t.Any]:
    """``values`` with those named in ``hash_fields`` hashed, and, when they are ``secret`` (no_log), all of them:
    hashed with a key, else left out and their names appended to ``withheld``. A secret never gets a plain hash,
    even where the operator accepts those for hash_fields: it could be reversed by trying candidates."""
    protected: t.Dict[str, t.Any] = {}
    for name, value in values.items():
        if secret and not hasher.keyed:
            withheld.append(str(name))
        elif secret or name in hash_fields:
            protected[name] = hasher.hash_value(value)
        else:
            protected[name] = value
    return protected


def change_record_params(
    *,
    module_fqcn: str,
    module_args: t.Mapping[str, t.Any],
    result: t.Mapping[str, t.Any],
    res: str,
    no_log: bool,
    extra_fields: t.Mapping[str, t.Any],
    extra_source: str,
    hash_extra: bool,
    context: t.Optional[t.Mapping[str, t.Any]],
    inventory_host: t.Optional[str],
    delegated_to: t.Optional[str],
    backend: str,
    on_unavailable: str,
    verify: bool = False,
    forwarding: bool = False,
    op: str = CHANGE_OP,
    hash_fields: t.Iterable[str] = (),
    hasher: t.Optional[Hasher] = None,
) -> t.Dict[str, t.Any]:
    """The usys_config parameters of the record of one change: the same for audited and the every-change hook.

    Every hash is made here, on the controller, by ``hasher`` (keyed when the operator gave a key): ``hash_fields``
    names fields whose values the record holds as their hash (checked against the play's fields and the object by
    ``unknown_hash_fields`` before the module runs; ``hasher.require`` refuses them without a key). Under no_log the
    object, the content's checksum, the diff's hash and, with ``hash_extra``, the play's own field values are
    keyed hashes, or without a key left out and named in ``withheld`` (change_fields, protect_values).
    ``inventory_host`` is the inventory host the task ran for, so that records from many hosts in one log
    (forwarded, or hosts sharing a kernel) are told apart; ``delegated_to`` is set when the task was delegated:
    the record is then written on that host. ``context`` is the task context (None: leave it out).
    """
    hasher = hasher or Hasher()
    hash_fields = set(hash_fields)
    if hash_fields:
        hasher.require("hash_fields")
    claimed = sorted(set(extra_fields) & set(CONTROLLER_ONLY_FIELDS))
    if claimed:
        raise AnsibleActionFail("these fields are set %s and are the controller's own (where a record is kept, its "
                                "signature), rename them: %s" % (extra_source, ", ".join(claimed)))
    args = module_arguments(module_args)
    withheld: t.List[str] = []
    fields = change_fields(module_fqcn, args, result, no_log, hasher, withheld)
    if "object" in hash_fields and "object" in fields and not no_log:
        fields["object"] = hasher.hash_value(object_of(args)[1])
    if inventory_host:
        fields["inventory_host"] = bounded_text(inventory_host, CONTEXT_TEXT_DEFAULT_MAX)
    if delegated_to:
        fields["delegated_to"] = bounded_text(delegated_to, CONTEXT_TEXT_DEFAULT_MAX)
    # Under no_log the play's own field values may be secrets.
    extra = protect_values(extra_fields, hash_fields, no_log and hash_extra, hasher, withheld)
    if withheld:
        fields[WITHHELD_FIELD] = ",".join(withheld)
    fields = merge_fields(fields, extra, extra_source)
    if context is not None:
        fields = with_context(fields, context)
    _object_arg, object_value = object_of(args)
    params: t.Dict[str, t.Any] = {
        # Under no_log, or when the play hashes it, the object is a secret: op then names the module only.
        "op": record_op(op, module_fqcn, None if no_log or "object" in hash_fields else object_value),
        "fields": fields,
        # Hashed here already, with the operator's key: nothing is left for the target to hash.
        "hash_fields": [],
        "result": res,
        "backend": backend,
        "on_unavailable": on_unavailable,
        "context": False,
    }
    if verify:
        # Only when asked: a writer without the option still takes every other request.
        params["verify"] = True
    if forwarding:
        params["forwarding"] = True
    return params


def with_signature_room(params: t.Mapping[str, t.Any], signing: bool) -> t.Dict[str, t.Any]:
    """``params`` as check_before_change should size them: with a signature at its longest when the record will be
    signed (``signing``), so that a record that fits before the change still fits once signed."""
    params = dict(params)
    if signing:
        params["fields"] = dict(params.get("fields") or {}, **{RECORD_SIG_FIELD: SIGNATURE_PLACEHOLDER,
                                                               RECORD_MAC_FIELD: MAC_PLACEHOLDER})
    return params


# A result with everything a module's result can add to a record, at its longest: what the check before the change
# builds the record with, so that nothing the result brings can make it too long afterwards.
LONGEST_RESULT = {"checksum": "0" * 40, "diff": {"before": "", "after": "x"}}
# Room kept after the record's own fields, beyond what the record before the change holds: the trailer libaudit
# and the target add (comm=, exe= the target's Python, up to 256 bytes written as hex, hostname=, addr=, terminal=,
# res=), and the kernel's prefix (pid= uid= auid= ses= subj=): auditd reads at most 8970 bytes of a message, and
# subj= holds the LSM's label, whose length depends on the LSM and the policy.
TRAILER_ROOM = len(' comm="%s" exe=%s hostname=%s addr=%s terminal=%s res=success' % (
    "x" * 15, "X" * 512, "x" * 255, "x" * 45, "x" * 32))
KERNEL_PREFIX_ROOM = 512
RECORD_FIELDS_MAX = AUDIT_MESSAGE_TEXT_MAX - TRAILER_ROOM - KERNEL_PREFIX_ROOM


class RecordRefusedError(AnsibleActionFail):
    """A record refused before the change; ``audit_error`` is the binding's error, for the result's ``cause``."""

    def __init__(self, audit_error: AuditError) -> None:
        super().__init__("The audit record of this change cannot be written: %s" % audit_error)
        self.audit_error = audit_error


def check_before_change(params: t.Mapping[str, t.Any]) -> None:
    """Refuse, before anything runs, a record that the target would refuse or that could not be kept whole.

    ``params`` are the usys_config options of the record as it will be written (built with LONGEST_RESULT where
    the result is not known yet): the names, the encodings and the size of ``op=`` and the fields after encoding
    (hex doubles a value with a space), with TRAILER_ROOM and KERNEL_PREFIX_ROOM kept free.
    """
    try:
        message = build_message(params.get("op"), params.get("fields") or {})
        validate_comm(params.get("comm", "ansible"))
        validate_hostname(params.get("hostname"))
        validate_addr(params.get("addr"))
        validate_terminal(params.get("terminal"))
    except AuditError as exc:
        raise RecordRefusedError(exc) from None
    size = len(message.encode("utf-8"))
    if size > RECORD_FIELDS_MAX:
        fields = params.get("fields") or {}
        sizes = sorted(
            ((len(build_message("x", {name: value})) - 5, name) for name, value in fields.items()), reverse=True
        )[:3]
        raise RecordRefusedError(AuditRecordTooLongError(
            "It would be too long: op= and the fields take %d bytes once encoded (a value with a space or non-ASCII "
            "text is written as hex, twice its length), and at most %d fit, keeping %d bytes for the trailer and the "
            "kernel's prefix of the %d bytes the kernel keeps. Largest fields: %s"
            % (size, RECORD_FIELDS_MAX, TRAILER_ROOM + KERNEL_PREFIX_ROOM, AUDIT_MESSAGE_TEXT_MAX,
               ", ".join("%s (%d bytes)" % (name, length) for length, name in sizes)),
            hint="Shorten them or hash them (hash_fields)",
        ))


# Where audited counts the attempts of a task with until/retries: the task_vars dict TaskExecutor passes to
# every attempt of one task (or loop item) is the same object, and a fresh one for the next.
ATTEMPT_KEY = "_changeaudit_audited_attempt"


def task_retries(task: t.Any) -> int:
    """How many times TaskExecutor runs the action at most (its own rule, 2.19 to 2.21)."""
    if task.retries is not None:
        return 1 + max(0, task.retries)
    if task.until:
        return 4
    return 1


def _judge(templar: t.Any, task: t.Any, task_vars: t.Mapping[str, t.Any], registered: t.Mapping[str, t.Any]) -> t.Any:
    variables = dict(task_vars)
    for name in register_names(task.register):
        variables[name] = dict(registered)
    return templar.copy_with_new_env(available_variables=variables)


def final_outcome(
    task: t.Any, templar: t.Any, task_vars: t.Dict[str, t.Any], result: t.Mapping[str, t.Any]
) -> t.Tuple[bool, bool, bool]:
    """(changed, failed, final): the task's result as TaskExecutor will judge it after this action returns.

    Applies changed_when, failed_when and until to ``result`` the way TaskExecutor does (the registered
    variable bound to the result, an expression that cannot be evaluated fails the task), with the public
    Templar API. ``final`` is false when TaskExecutor will run the action again (until not met, attempts
    left): that attempt's result is not the task's. Uses task.changed_when/failed_when/until/retries/register.
    """
    if result.get("skipped"):
        return False, False, True
    failed = result.get("failed")
    if failed is None:
        failed = "rc" in result and result["rc"] not in (0, "0")
    failed = bool(failed)
    changed = bool(result.get("changed", False))
    retries = task_retries(task)
    attempt = 1
    if retries > 1:
        attempt = task_vars[ATTEMPT_KEY] = int(task_vars.get(ATTEMPT_KEY, 0)) + 1
    registered = dict(result, changed=changed, failed=failed)
    if retries > 1:
        registered["attempts"] = attempt
    try:
        judge = _judge(templar, task, task_vars, registered)
        if task.changed_when:
            changed = all(judge.evaluate_conditional(item) for item in task.changed_when)
            registered["changed"] = changed
            judge = _judge(templar, task, task_vars, registered)
        if task.failed_when:
            failed = all(judge.evaluate_conditional(item) for item in task.failed_when)
    except AnsibleError:
        # TaskExecutor fails the task when its changed_when/failed_when cannot be evaluated.
        failed = True
    if retries == 1:
        return changed, failed, True
    registered.update(changed=changed, failed=failed)
    try:
        judge = _judge(templar, task, task_vars, registered)
        met = all(judge.evaluate_conditional(item) for item in (task.until or [not failed]))
    except AnsibleError:
        met, failed = True, True
    if met:
        return changed, failed, True
    if attempt >= retries:
        # Out of attempts: TaskExecutor marks the last result failed.
        return changed, True, True
    return changed, failed, False


__all__ = [
    "CONTROLLER_ONLY_FIELDS",
    "with_signature_room",
    "sign_record",
    "ATTEMPT_KEY",
    "POLYMORPHIC_RESULT",
    "register_names",
    "task_retries",
    "final_outcome",
    "CHANGE_OP",
    "record_op",
    "unknown_hash_fields",
    "OBJECT_ARGUMENTS",
    "SECRET_FIELDS",
    "object_of",
    "change_fields",
    "module_arguments",
    "record_result",
    "change_record_params",
    "OBJECT_TEXT_MAX",
    "ARG_NAMES_MAX",
    "MODULE_NAME_MAX",
    "WITHHELD_FIELD",
    "WITHHELD_NAMES",
    "CHANGE_FIELDS",
    "LONGEST_RESULT",
    "TRAILER_ROOM",
    "KERNEL_PREFIX_ROOM",
    "RECORD_FIELDS_MAX",
    "check_before_change",
    "protect_values",
    "RecordRefusedError",
]
