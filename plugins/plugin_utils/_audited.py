# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""What the audited action records about a change, decided on the controller."""

from __future__ import annotations

import hashlib
import json
import typing as t

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
    diff = inner_result.get("diff")
    if diff:
        fields["diff_sha256"] = sha256_hex(diff)
    return fields


# The change fields that carry an argument value: under no_log usys_config hashes them (hash_fields).
SECRET_FIELDS = ("object",)


__all__ = ["OBJECT_ARGUMENTS", "SECRET_FIELDS", "sha256_hex", "object_of", "change_fields"]
