# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Hashes of values that must not reach the audit log (no_log values, diffs, hash_fields), made on the controller.

A plain sha256 of a low-entropy secret (a PIN, a short password, a ticket-shaped token) is reversed by anyone who
reads audit.log and tries candidates. So a value is written as ``hmac-sha256:<key id>:<hex>``, an HMAC-SHA256 with
a key the operator provides; the key id (the first 16 hex digits of an HMAC of a fixed text under the key) tells an
auditor holding several keys which one verifies the value, and reveals nothing of the key.

The key, first found wins: the variable ``changeaudit_hash_key`` (vault it), the environment variable
``CHANGEAUDIT_HASH_KEY``, or the file named by the variable ``changeaudit_hash_key_file`` or the environment
variable ``CHANGEAUDIT_HASH_KEY_FILE``. The variables are never taken from a host's facts (a host could pick the key,
name a file the controller reads as one, or turn hashing off), and a key must be strong (``key_weakness``).
Without a key, values are left out of the record (it names what it left out), and hash_fields is refused unless
the operator accepts plain sha256 with ``changeaudit_unkeyed_hashes: true`` or ``CHANGEAUDIT_UNKEYED_HASHES=true``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import typing as t

from ansible.errors import AnsibleError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.utils.display import Display
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import value_bytes
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _facts

display = Display()

KEY_VAR = "changeaudit_hash_key"
KEY_FILE_VAR = "changeaudit_hash_key_file"
UNKEYED_VAR = "changeaudit_unkeyed_hashes"
KEY_ENV = "CHANGEAUDIT_HASH_KEY"
KEY_FILE_ENV = "CHANGEAUDIT_HASH_KEY_FILE"
UNKEYED_ENV = "CHANGEAUDIT_UNKEYED_HASHES"
# The shortest key accepted (key_weakness): of printable characters, and of any bytes; and the fewest different bytes.
MIN_KEY_BYTES = 32
MIN_RAW_KEY_BYTES = 16
MIN_KEY_DISTINCT = 8
KEY_ID_TEXT = b"changeaudit.linux hash key id"
KEYED_PREFIX = "hmac-sha256:"
UNKEYED_PREFIX = "sha256:"
# Longest value a hash takes in a record: "hmac-sha256:" + 16 + ":" + 64.
HASH_TEXT_MAX = len(KEYED_PREFIX) + 16 + 1 + 64

HOW_TO_SET_A_KEY = (
    "set the variable %s (vault it), the environment variable %s, or a key file named by %s / %s (at least %d "
    "bytes, random, not readable by group or others)" % (KEY_VAR, KEY_ENV, KEY_FILE_VAR, KEY_FILE_ENV, MIN_KEY_BYTES)
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


def key_weakness(key: bytes) -> t.Optional[str]:
    """Why ``key`` is too weak to key the hashes of secrets, or None.

    An HMAC is as strong as its key's entropy, which cannot be measured, only bounded from what the key looks like:
    a key that is printable text (typed, or hex/base64 of random bytes) needs MIN_KEY_BYTES (32) bytes, which as hex
    is 128 random bits; any other key (raw random bytes from a file) needs MIN_RAW_KEY_BYTES (16), 128 bits.
    Whatever its length, a key of fewer than MIN_KEY_DISTINCT different bytes, or one piece repeated, is refused:
    random keys of those lengths are neither (32 hex digits miss 8 of the 16 with a chance below 1e-5), but
    keyboard patterns and padding are. A made-up 32-character passphrase passes and is still weaker: generate keys."""
    try:
        printable = key.decode("utf-8").isprintable()
    except UnicodeDecodeError:
        printable = False
    needed = MIN_KEY_BYTES if printable else MIN_RAW_KEY_BYTES
    if len(key) < needed:
        return "is %d bytes; it needs at least %d%s" % (
            len(key), needed, " (a key of printable characters; 16 random bytes in a file will do)" if printable else "")
    if len(set(key)) < MIN_KEY_DISTINCT:
        return "has only %d different bytes (at least %d needed): it is a pattern, not a random key" % (
            len(set(key)), MIN_KEY_DISTINCT)
    for period in range(1, len(key) // 2 + 1):
        if len(key) % period == 0 and key == key[:period] * (len(key) // period):
            return "is one %d-byte piece repeated: it is a pattern, not a random key" % period
    return None


def _as_key(value: t.Any, source: str) -> bytes:
    if not isinstance(value, (str, bytes)):
        raise AnsibleError("The hash key from %s must be text, not %s" % (source, type(value).__name__))
    key = value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
    weakness = key_weakness(key)
    if weakness is not None:
        raise AnsibleError(
            "The hash key from %s %s; set a random one, made for example with: openssl rand -hex 32" % (source, weakness)
        )
    return key


def _operator_setting(name: str) -> bool:
    return name in (KEY_VAR, KEY_FILE_VAR, UNKEYED_VAR)


def hasher_for(templar: t.Any, task_vars: t.Mapping[str, t.Any]) -> Hasher:
    """The Hasher this task's record uses, from its variables (never its host's facts) and the controller's
    environment."""

    # Never a host's facts: a host could otherwise pick the key (or a file the controller reads as one) and turn
    # hashing off; the values the other sources give are used, as if the facts did not exist.
    variables = _facts.without_host_facts(task_vars, _operator_setting, warn=display.warning)

    def variable(name: str) -> t.Any:
        value = variables.get(name)
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
    "MIN_RAW_KEY_BYTES",
    "MIN_KEY_DISTINCT",
    "key_weakness",
    "HASH_TEXT_MAX",
    "Hasher",
    "key_id",
    "data_bytes",
    "verify",
    "hasher_for",
]
