# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Hashes of values that must not reach the audit log (no_log values, diffs, hash_fields), made on the controller.

A plain sha256 of a low-entropy secret (a PIN, a short password, a ticket-shaped token) is reversed by anyone who
reads audit.log and tries candidates. So a value is written as ``hmac-sha256:<key id>:<hex>``, an HMAC-SHA256 with
a key the operator provides; the key id (the first 16 hex digits of an HMAC of a fixed text under the key) tells an
auditor holding several keys which one verifies the value, and reveals nothing of the key.

The key, first found wins: the variable ``changeaudit_hash_key`` (vault it), the environment variable
``CHANGEAUDIT_HASH_KEY``, or the file named by the variable ``changeaudit_hash_key_file`` or the environment
variable ``CHANGEAUDIT_HASH_KEY_FILE``. Without a key, values are left out of the record (it names what it left
out), and hash_fields is refused unless the operator accepts plain sha256 with ``changeaudit_unkeyed_hashes: true``
or ``CHANGEAUDIT_UNKEYED_HASHES=true``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import typing as t

from ansible.errors import AnsibleError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.encoding import value_bytes
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.errors import AuditError

KEY_VAR = "changeaudit_hash_key"
KEY_FILE_VAR = "changeaudit_hash_key_file"
UNKEYED_VAR = "changeaudit_unkeyed_hashes"
KEY_ENV = "CHANGEAUDIT_HASH_KEY"
KEY_FILE_ENV = "CHANGEAUDIT_HASH_KEY_FILE"
UNKEYED_ENV = "CHANGEAUDIT_UNKEYED_HASHES"
# An HMAC key shorter than this is as guessable as the secrets it is meant to protect.
MIN_KEY_BYTES = 16
KEY_ID_TEXT = b"changeaudit.linux hash key id"
KEYED_PREFIX = "hmac-sha256:"
UNKEYED_PREFIX = "sha256:"
# Longest value a hash takes in a record: "hmac-sha256:" + 16 + ":" + 64.
HASH_TEXT_MAX = len(KEYED_PREFIX) + 16 + 1 + 64

HOW_TO_SET_A_KEY = (
    "set the variable %s (vault it), the environment variable %s, or a key file named by %s / %s (at least %d "
    "bytes, not readable by group or others)" % (KEY_VAR, KEY_ENV, KEY_FILE_VAR, KEY_FILE_ENV, MIN_KEY_BYTES)
)


def key_id(key: bytes) -> str:
    return hmac.new(key, KEY_ID_TEXT, hashlib.sha256).hexdigest()[:16]


def data_bytes(value: t.Any) -> bytes:
    """The bytes a value is hashed as: the bytes the record would have held for it (the binding's rules)."""
    try:
        return value_bytes(value)
    except AuditError as exc:
        raise AnsibleError("A value to hash cannot be recorded: %s" % exc) from None


class Hasher:
    """Hashes values for a record; ``keyed`` with the operator's key, or plain sha256 only where accepted."""

    def __init__(self, key: t.Optional[bytes] = None, unkeyed_accepted: bool = False) -> None:
        self._key = key
        self.keyed = key is not None
        self.key_id = key_id(key) if key is not None else None
        self.unkeyed_accepted = unkeyed_accepted

    @property
    def can_hash(self) -> bool:
        return self.keyed or self.unkeyed_accepted

    def hash_bytes(self, data: bytes) -> str:
        if self._key is not None:
            return "%s%s:%s" % (KEYED_PREFIX, self.key_id, hmac.new(self._key, data, hashlib.sha256).hexdigest())
        if self.unkeyed_accepted:
            return UNKEYED_PREFIX + hashlib.sha256(data).hexdigest()
        raise AnsibleError("No hash key: " + HOW_TO_SET_A_KEY)

    def hash_value(self, value: t.Any) -> str:
        return self.hash_bytes(data_bytes(value))

    def require(self, what: str) -> None:
        """Refuse ``what`` (something that needs hashes) when there is no key and plain sha256 was not accepted."""
        if not self.can_hash:
            raise AnsibleError(
                "%s needs a hash key, so that nobody who reads audit.log can recover a value by trying candidates: "
                "%s; or accept plain sha256 hashes with %s: true (or %s=true)" % (what, HOW_TO_SET_A_KEY, UNKEYED_VAR, UNKEYED_ENV)
            )


def verify(value: t.Any, recorded: str, key: bytes) -> bool:
    """Whether ``recorded`` (an hmac-sha256:<id>:<hex> text) is the keyed hash of ``value`` under ``key``."""
    expected = Hasher(key).hash_value(value)
    return hmac.compare_digest(expected, str(recorded))


def _read_key_file(path: str) -> bytes:
    try:
        info = os.stat(path)
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise AnsibleError(
                "The hash key file %s may be read by group or others (mode %04o): chmod 600 it" % (path, stat.S_IMODE(info.st_mode))
            )
        with open(path, "rb") as handle:
            return handle.read().strip()
    except OSError as exc:
        raise AnsibleError("Cannot read the hash key file %s: %s" % (path, exc.strerror or exc)) from None


def _as_key(value: t.Any, source: str) -> bytes:
    if not isinstance(value, (str, bytes)):
        raise AnsibleError("The hash key from %s must be text, not %s" % (source, type(value).__name__))
    key = value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
    if len(key) < MIN_KEY_BYTES:
        raise AnsibleError(
            "The hash key from %s is %d bytes; it needs at least %d (for example: openssl rand -hex 32)"
            % (source, len(key), MIN_KEY_BYTES)
        )
    return key


def hasher_for(templar: t.Any, task_vars: t.Mapping[str, t.Any]) -> Hasher:
    """The Hasher this task's record uses, from its variables and the controller's environment."""

    def variable(name: str) -> t.Any:
        value = task_vars.get(name)
        if value is None or templar is None:
            return value
        return templar.template(value)

    unkeyed = variable(UNKEYED_VAR)
    if unkeyed is None:
        unkeyed = os.environ.get(UNKEYED_ENV)
    try:
        unkeyed_accepted = boolean(unkeyed, strict=True) if unkeyed not in (None, "") else False
    except TypeError:
        raise AnsibleError("%s / %s must be true or false, not %r" % (UNKEYED_VAR, UNKEYED_ENV, unkeyed)) from None
    key_value = variable(KEY_VAR)
    if key_value not in (None, ""):
        return Hasher(_as_key(key_value, "the variable %s" % KEY_VAR), unkeyed_accepted)
    env_key = os.environ.get(KEY_ENV)
    if env_key:
        return Hasher(_as_key(env_key, "the environment variable %s" % KEY_ENV), unkeyed_accepted)
    key_file = variable(KEY_FILE_VAR) or os.environ.get(KEY_FILE_ENV)
    if key_file:
        return Hasher(_as_key(_read_key_file(str(key_file)), "the file %s" % key_file), unkeyed_accepted)
    return Hasher(None, unkeyed_accepted)


__all__ = [
    "KEY_VAR",
    "KEY_FILE_VAR",
    "UNKEYED_VAR",
    "KEY_ENV",
    "KEY_FILE_ENV",
    "UNKEYED_ENV",
    "MIN_KEY_BYTES",
    "HASH_TEXT_MAX",
    "Hasher",
    "key_id",
    "data_bytes",
    "verify",
    "hasher_for",
]
