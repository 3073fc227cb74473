# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""What the audited action records about a change, decided on the controller."""

from __future__ import annotations

import hashlib
import json
import re
import typing as t

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.encoding import OP_MAX
from ansible_collections.changeaudit.linux.plugins.plugin_utils._context import merge_fields, with_context

# The argument that names what a module changes, in the order modules use them.
OBJECT_ARGUMENTS = ("path", "dest", "name", "key")


def sha256_hex(data: t.Any) -> str:
    if not isinstance(data, (bytes, str)):
        data = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    return "sha256:" + hashlib.sha256(data).hexdigest()


def object_of(module_args: t.Mapping[str, t.Any]) -> t.Tuple[t.Optional[str], t.Any]:
    """(argument name, value) of the object the module changes, or (None, None)."""
    for name in OBJECT_ARGUMENTS:
        value = module_args.get(name)
        if value not in (None, ""):
            return name, value
    return None, None


def change_fields(
    module_fqcn: str,
    module_args: t.Mapping[str, t.Any],
    inner_result: t.Mapping[str, t.Any],
    no_log: bool,
) -> t.Dict[str, t.Any]:
    """Fields that say what changed. The diff only ever as a hash; under no_log the argument names are
    listed too, and the caller has the values hashed (see SECRET_FIELDS)."""
    fields: t.Dict[str, t.Any] = {"module": module_fqcn}
    object_arg, object_value = object_of(module_args)
    if object_arg is not None:
        fields["object_arg"] = object_arg
        fields["object"] = object_value
    if no_log:
        fields["arg_names"] = ",".join(sorted(module_args))
    else:
        checksum = content_checksum(inner_result)
        if checksum:
            fields["checksum"] = checksum
    diff = inner_result.get("diff")
    if has_content_diff(diff):
        fields["diff_sha256"] = sha256_hex(diff)
    return fields


# Result keys in which modules return the SHA-1 of the content they left behind (copy, template, fetch, get_url).
CHECKSUM_KEYS = ("checksum", "checksum_dest")
_SHA1_HEX = re.compile(r"\A[0-9a-f]{40}\Z")


def content_checksum(result: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """``sha1:<hex>`` of the content after the change, when the module returned it: evidence of what the object
    holds that anyone can recompute with sha1sum. Not under no_log, where the content may be the secret."""
    for key in CHECKSUM_KEYS:
        value = result.get(key)
        if isinstance(value, str) and _SHA1_HEX.match(value):
            return "sha1:" + value
    return None


def has_content_diff(diff: t.Any) -> bool:
    """Whether a module's diff holds content, not only headers.

    lineinfile and others return before/after headers without the text unless run with --diff; a hash of
    those would be the same for any change to the same file, so it is written only for a real diff.
    """
    entries = diff if isinstance(diff, list) else [diff]
    for entry in entries:
        if isinstance(entry, dict):
            if any(entry.get(key) not in (None, "", {}, []) for key in ("before", "after", "prepared")):
                return True
        elif entry not in (None, "", {}, []):
            return True
    return False


# The change fields that carry an argument value: under no_log usys_config hashes them (hash_fields).
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
    op: str = CHANGE_OP,
    hash_fields: t.Iterable[str] = (),
) -> t.Dict[str, t.Any]:
    """The usys_config parameters of the record of one change: the same for audited and the every-change hook.

    ``hash_fields`` names fields whose values the record holds as their sha256 (checked against the play's fields
    and the object by ``unknown_hash_fields`` before the module runs). ``inventory_host`` is the inventory host the
    task ran for, so that records from many hosts in one log
    (forwarded, or hosts sharing a kernel) are told apart; ``delegated_to`` is set when the task was
    delegated: the record is then written on that host. ``context`` is the task context (None: leave it out).
    """
    args = module_arguments(module_args)
    fields = change_fields(module_fqcn, args, result, no_log)
    if inventory_host:
        fields["inventory_host"] = inventory_host
    if delegated_to:
        fields["delegated_to"] = delegated_to
    # Under no_log the object and the play's own field values may be secrets: usys_config records their
    # hashes, the same hashing it applies to hash_fields everywhere.
    hashed = set(SECRET_FIELDS) & set(fields)
    if hash_extra:
        hashed |= set(extra_fields)
    fields = merge_fields(fields, extra_fields, extra_source)
    if context is not None:
        fields = with_context(fields, context)
    _object_arg, object_value = object_of(args)
    hash_fields = set(hash_fields)
    params: t.Dict[str, t.Any] = {
        # Under no_log, or when the play hashes it, the object is a secret: op then names the module only.
        "op": record_op(op, module_fqcn, None if no_log or "object" in hash_fields else object_value),
        "fields": fields,
        "hash_fields": sorted((hashed if no_log else set()) | (hash_fields & set(fields))),
        "result": res,
        "backend": backend,
        "on_unavailable": on_unavailable,
        "context": False,
    }
    if verify:
        # Only when asked: a writer without the option still takes every other request.
        params["verify"] = True
    return params


# Where audited counts the attempts of a task with until/retries: the task_vars dict TaskExecutor passes to
# every attempt of one task (or loop item) is the same object, and a fresh one for the next.
ATTEMPT_KEY = "_changeaudit_audited_attempt"
# What a plain ``register: name`` stands for in ansible-core 2.21's register projections.
POLYMORPHIC_RESULT = "_task.polymorphic_result"


def register_names(register: t.Any) -> t.List[str]:
    """The variables that hold the task's own result: ``register`` is a name (2.19, 2.20) or a dict of
    projections (2.21), of which only the plain result ones can be bound before TaskExecutor records it."""
    if not register:
        return []
    if isinstance(register, str):
        return [register]
    return [name for name, expression in register.items() if str(expression) == POLYMORPHIC_RESULT]


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
    "sha256_hex",
    "object_of",
    "change_fields",
    "CHECKSUM_KEYS",
    "content_checksum",
    "has_content_diff",
    "module_arguments",
    "record_result",
    "change_record_params",
]
