# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Which key the controller signs with, the public key a check takes, and the signature of a record. The key pair
itself is ``_signing_key``'s (Ed25519, through ``cryptography``), its file beside the ledgers ``_key_store``'s.

It signs what the controller vouches for (the evidence report's manifest, the ledger's seals) and, through
``SigningKey.mac_key``, keys the chain of the ledger's lines. Anyone holding its public key checks a signature
later, without the controller.

The key, first found wins: the environment variable ``CHANGEAUDIT_SIGNING_KEY`` (the PEM text, as an AWX/AAP
credential injects it), the extra var ``changeaudit_signing_key`` (PEM text, vault it), the file named by
``CHANGEAUDIT_SIGNING_KEY_FILE`` or the extra var ``changeaudit_signing_key_file``, else ``<ledger_dir>/signing.key``,
created on first use with its public key ``<ledger_dir>/signing.pub`` beside it. Never a host's variables or facts:
a host could then choose the key its own proof is signed with. A key file must be a regular file of the controller's
user that group and others cannot read (a symlink is refused: whoever can point it elsewhere picks the key).

A signature is ``ed25519:<key id>:<base64url, no padding>``: one audit field value, safe in JSON and CSV. The key id
(the first 16 hex digits of the sha256 of the raw public key) names the key that verifies it, so a rotation never
invalidates what an old key signed: a new key is a new file; keep the old signing.pub for the old reports.

The signature of a record (``sign_record``, ``check_record``) is in its field ``ctl_sig`` (the same text, written
quoted: base64url holds no space, quote or ``=``, so ausearch and auparse read it as one field). It is over
``record_message``: the line ``changeaudit-record-signature/1``, then ``op``, ``res`` (success or failed) and every
field of the record but ``ctl_sig``, ``ctl_mac`` and ``forwarded_to`` (which the host adds after signing) in the
order of their names, each as ``<name> <length>:<value>`` and a newline, the value as the bytes the record holds (what ausearch -i
shows once hex is decoded) and its length in bytes in decimal. The length makes the message unambiguous whatever
the values hold; every field is covered, so a field added, removed or altered after signing fails the check.
``ctl_mac`` is HMAC-SHA256 (128 bits, hex) under ``mac_key(RECORD_MAC_PURPOSE)`` over that message, ``ctl_sig `` and
the signature: the controller's own, fast check (the evidence of a large run); third parties check ``ctl_sig``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import typing as t

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import value_bytes
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._key_store import (
    KEY_FILE,
    PUBLIC_KEY_FILE,
    check_key_directory,
    create_or_read,
    read_key_file,
)
# cryptography's names as _signing_key imported them: with its stand-ins where this Python cannot import it.
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing_key import (
    ALGORITHM,
    HOW_TO_SET_A_KEY,
    KEY_ENV,
    KEY_FILE_ENV,
    KEY_FILE_VAR,
    KEY_ID_DIGITS,
    KEY_VAR,
    Ed25519PublicKey,
    PublicKey,
    SigningKey,
    UnsupportedAlgorithm,
    private_key_from_pem,
    require_cryptography,
    serialization,
    signature_key_id,
    verify,
)


def load_public_key(path_or_pem: t.Any) -> PublicKey:
    """The public key of a PEM text (a public key, or a private key whose public half is wanted) or of the file it
    names. Raises AnsibleError naming the file or the text's problem."""
    require_cryptography()
    if isinstance(path_or_pem, PublicKey):
        return path_or_pem
    if isinstance(path_or_pem, SigningKey):
        return path_or_pem.public_key
    if isinstance(path_or_pem, bytes):
        data, source = path_or_pem, "the PEM text given"
    elif isinstance(path_or_pem, str) and "-----BEGIN" in path_or_pem:
        data, source = path_or_pem.encode("utf-8", "surrogateescape"), "the PEM text given"
    elif isinstance(path_or_pem, (str, os.PathLike)):
        source = "the file %s" % os.fspath(path_or_pem)
        try:
            with open(path_or_pem, "rb") as handle:
                data = handle.read(64 * 1024)
        except OSError as exc:
            raise AnsibleError("Cannot read the public key %s: %s" % (source, exc.strerror or exc)) from None
    else:
        raise AnsibleError("A public key is a PEM text or a file name, not %s" % type(path_or_pem).__name__)
    data = data.strip()
    try:
        if b"PRIVATE KEY" in data:
            loaded: t.Any = private_key_from_pem(data, source).public_key._public
        elif data.startswith(b"ssh-ed25519 "):
            loaded = serialization.load_ssh_public_key(data)
        else:
            loaded = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise AnsibleError("%s is not a PEM public key (the %s the controller wrote beside its key, or the one a report "
                           "carries)" % (source[0].upper() + source[1:], PUBLIC_KEY_FILE)) from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise AnsibleError("%s is not an Ed25519 public key (its type: %s)" % (
            source[0].upper() + source[1:], type(loaded).__name__.lstrip("_").replace("PublicKey", "")))
    return PublicKey(loaded)


def explicit_key(variables: t.Optional[t.Mapping[str, t.Any]] = None) -> t.Optional[SigningKey]:
    """The key the environment or the extra vars name (see the module's docstring), or None when none does."""
    variables = variables or {}
    env_key = os.environ.get(KEY_ENV)
    if env_key:
        return private_key_from_pem(env_key, "the environment variable %s" % KEY_ENV)
    var_key = variables.get(KEY_VAR)
    if var_key not in (None, ""):
        return private_key_from_pem(var_key, "the extra var %s" % KEY_VAR)
    key_file = os.environ.get(KEY_FILE_ENV) or variables.get(KEY_FILE_VAR)
    if key_file not in (None, ""):
        return read_key_file(os.path.expanduser(str(key_file)))
    return None


def existing_key(ledger_dir: t.Optional[str], variables: t.Optional[t.Mapping[str, t.Any]] = None) -> t.Optional[SigningKey]:
    """The controller's key when one is set or already beside the ledgers; None rather than creating one (for a
    writer that signs when it can, such as the audited action outside a recorded run)."""
    key = explicit_key(variables)
    if key is not None or not ledger_dir:
        return key
    path = os.path.join(os.path.abspath(os.path.expanduser(str(ledger_dir))), KEY_FILE)
    if not os.path.lexists(path):
        return None
    check_key_directory(os.path.dirname(path))
    return read_key_file(path)


def controller_key(ledger_dir: str, variables: t.Optional[t.Mapping[str, t.Any]] = None) -> SigningKey:
    """The controller's signing key (see the module's docstring for the order). ``variables``: the run's extra vars
    only, never a host's variables."""
    key = explicit_key(variables)
    if key is not None:
        return key
    if not ledger_dir:
        raise AnsibleError("No signing key: the ledger directory is not set, so there is no default key file; %s"
                           % HOW_TO_SET_A_KEY)
    directory = os.path.abspath(os.path.expanduser(str(ledger_dir)))
    if not os.path.lexists(directory):
        try:
            os.makedirs(directory, mode=0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise AnsibleError("Cannot create %s for the signing key: %s" % (directory, exc.strerror or exc)) from None
    check_key_directory(directory)
    return create_or_read(directory)


# --- the signature of a record --------------------------------------------------------------------------------

RECORD_SIG_FIELD = "ctl_sig"
RECORD_MAC_FIELD = "ctl_mac"
RECORD_TAG_FIELDS = (RECORD_SIG_FIELD, RECORD_MAC_FIELD)
RECORD_SIG_FORMAT = b"changeaudit-record-signature/1"
# 128 bits of HMAC-SHA256, in hex: a forger's chance is 2**-128 per try.
RECORD_MAC_DIGITS = 32
# Fields of a record its signature does not cover: the tags themselves, and where the host says it forwarded it
# (request.execute adds forwarded_to on the host, after the controller signed).
UNSIGNED_FIELDS = frozenset(RECORD_TAG_FIELDS + ("forwarded_to",))
# What the check before a change sizes the record with: a signature and a mac at their longest.
SIGNATURE_PLACEHOLDER = "%s:%s:%s" % (ALGORITHM, "0" * KEY_ID_DIGITS, "A" * 86)
MAC_PLACEHOLDER = "0" * RECORD_MAC_DIGITS
RESULTS = ("success", "failed")


def _value_bytes(value: t.Any) -> bytes:
    if isinstance(value, str):
        try:
            return value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass")
    return value_bytes("" if value is None else value)


def record_message(op: t.Any, res: t.Any, fields: t.Mapping[str, t.Any]) -> bytes:
    """The bytes a record's signature is over (see the module's docstring): the same from the fields the controller
    sends (any value the binding takes, as the bytes it records) and from the fields a reader decodes (text)."""
    parts = [RECORD_SIG_FORMAT, b"\n"]
    append = parts.append
    # The evidence builds this once per record: plain text, almost every value, takes the short way.
    for name, value in [("op", op), ("res", res)] + [(name, fields[name]) for name in sorted(fields) if name not in UNSIGNED_FIELDS]:
        raw = _value_bytes(value)
        append(b"%s %d:%s\n" % (name.encode("ascii", "surrogateescape"), len(raw), raw))
    return b"".join(parts)


def _record_mac(mac_key: bytes, message: bytes, signature: str) -> str:
    return hmac.new(mac_key, message + b"ctl_sig " + signature.encode("ascii", "replace"), hashlib.sha256).hexdigest()[:RECORD_MAC_DIGITS]


def sign_record(key: t.Optional[SigningKey], params: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The usys_config params of a record with its signature added (``key`` None: unchanged). Called once the record
    is final: its result (res) and every field; nothing may change them afterwards. Adds ``ctl_mac`` too: an HMAC
    under a key derived from the signing key over the same message and the signature, which the controller checks
    in a thousandth of the time an Ed25519 verification takes (the evidence of a large run); anyone else checks
    ``ctl_sig``."""
    params = dict(params)
    if key is None:
        return params
    fields = {name: value for name, value in (params.get("fields") or {}).items() if name not in RECORD_TAG_FIELDS}
    message = record_message(params.get("op"), params.get("result") or "success", fields)
    signature = key.sign(message)
    fields[RECORD_SIG_FIELD] = signature
    fields[RECORD_MAC_FIELD] = _record_mac(key.record_mac_key(), message, signature)
    params["fields"] = fields
    return params


def record_signature_problem(public_key: t.Optional[t.Union[PublicKey, SigningKey]], op: t.Any, res: t.Any,
                             fields: t.Mapping[str, t.Any], diagnose: bool = True) -> t.Optional[str]:
    """None when the record (op, res as success/failed, its decoded fields) carries a valid signature of
    ``public_key`` (a SigningKey checks the record's ctl_mac first, then the signature); else why not, in words a
    report shows: unsigned, not a signature, another key's, or one that does not verify, naming what changed where
    that can be told (res flipped, a field added after signing) when ``diagnose`` (one more check per field: a caller
    facing many forged records limits it)."""
    signature = fields.get(RECORD_SIG_FIELD)
    if signature in (None, ""):
        return "unsigned: the record carries no signature of the controller (%s)" % RECORD_SIG_FIELD
    signed_by = signature_key_id(signature)
    if signed_by is None:
        return "the signature is not one of this collection (%s=ed25519:<key id>:<signature>): forged" % RECORD_SIG_FIELD
    if public_key is None:
        return "signed by the key %s, and no public key was given to check it" % signed_by
    if isinstance(public_key, SigningKey):
        mac = fields.get(RECORD_MAC_FIELD)
        if signed_by == public_key.key_id and isinstance(mac, str) and hmac.compare_digest(
                mac, _record_mac(public_key.record_mac_key(), record_message(op, res, fields), signature)):
            # The controller's own check (it holds the key): the mac covers what the signature does, and the
            # signature; without it, or when it fails, the signature decides, and says what was altered.
            return None
        public_key = public_key.public_key
    if signed_by != public_key.key_id:
        return ("signed by the key %s, not by the run's key %s: forged, copied from elsewhere, or signed before a key "
                "rotation (check it with that key's signing.pub)" % (signed_by, public_key.key_id))
    if verify(public_key, record_message(op, res, fields), signature):
        return None
    return "signature does not verify: forged or altered" + (
        _what_changed(public_key, op, res, fields, signature) if diagnose else "")


def _what_changed(public_key: PublicKey, op: t.Any, res: t.Any, fields: t.Mapping[str, t.Any], signature: str) -> str:
    """What an alteration was, where one guess shows it (a handful of checks, only for a record that failed)."""
    if res in RESULTS:
        other = RESULTS[1 - RESULTS.index(res)]
        if verify(public_key, record_message(op, other, fields), signature):
            return " (res was changed from %s to %s after signing)" % (other, res)
    for name in sorted(fields):
        if name in UNSIGNED_FIELDS:
            continue
        if verify(public_key, record_message(op, res, {key: value for key, value in fields.items() if key != name}), signature):
            return " (the field %s was added after signing)" % name
    return " (a signed field, op or res differs from what the controller signed, or a field was removed)"


__all__ = [
    "RECORD_SIG_FIELD",
    "RECORD_MAC_FIELD",
    "RECORD_TAG_FIELDS",
    "RECORD_SIG_FORMAT",
    "MAC_PLACEHOLDER",
    "UNSIGNED_FIELDS",
    "SIGNATURE_PLACEHOLDER",
    "record_message",
    "sign_record",
    "record_signature_problem",
    "load_public_key",
    "explicit_key",
    "existing_key",
    "controller_key",
]
