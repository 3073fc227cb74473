# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The controller's Ed25519 key pair (through ``cryptography``, which ansible-core requires on the controller): its
signatures, their text, and the key read from PEM. Where the key comes from is ``_signing``'s, its file beside the
ledgers ``_key_store``'s.

A signature is ``ed25519:<key id>:<base64url, no padding>``: one audit field value, safe in JSON and CSV. The key id
(the first 16 hex digits of the sha256 of the raw public key) names the key that verifies it, so a rotation never
invalidates what an old key signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import typing as t

from ansible.errors import AnsibleError
from ansible.parsing.vault import EncryptedString

try:
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
except ImportError as exc:
    # ansible-core requires cryptography on the controller; a Python without it (ansible-test's import sandbox, a
    # venv missing it) can still import the plugins, and fails where a key is needed, naming the fix.
    CRYPTOGRAPHY_ERROR: t.Optional[ImportError] = exc
    InvalidSignature = UnsupportedAlgorithm = ValueError
    # Never used before _require_cryptography() has refused: _signing imports them from here all the same.
    hashes = serialization = HKDF = Ed25519PrivateKey = Ed25519PublicKey = None  # type: ignore[assignment,misc]
else:
    CRYPTOGRAPHY_ERROR = None

KEY_ENV = "CHANGEAUDIT_SIGNING_KEY"
KEY_FILE_ENV = "CHANGEAUDIT_SIGNING_KEY_FILE"
KEY_VAR = "changeaudit_signing_key"
KEY_FILE_VAR = "changeaudit_signing_key_file"
ALGORITHM = "ed25519"
KEY_ID_DIGITS = 16
MAC_KEY_BYTES = 32
# "ed25519:" + 16 hex digits + ":" + 86 base64url characters (64 bytes, no padding).
SIGNATURE_TEXT_MAX = len(ALGORITHM) + 1 + KEY_ID_DIGITS + 1 + 86
SIGNATURE_PATTERN = re.compile(r"%s:([0-9a-f]{%d}):([A-Za-z0-9_-]{86})" % (ALGORITHM, KEY_ID_DIGITS))
# What the records' ctl_mac key is derived for (_signing's record signatures).
RECORD_MAC_PURPOSE = b"changeaudit record mac v1"

HOW_TO_SET_A_KEY = (
    "set %s (the PEM text, e.g. an AWX/AAP credential), the extra var %s (vault it), or a key file named by %s / %s "
    "(a PKCS#8 PEM Ed25519 private key, e.g. made with: openssl genpkey -algorithm ed25519 -out signing.key; "
    "chmod 600 signing.key)" % (KEY_ENV, KEY_VAR, KEY_FILE_ENV, KEY_FILE_VAR)
)


def require_cryptography() -> None:
    if CRYPTOGRAPHY_ERROR is not None:
        raise AnsibleError("Signing needs the Python library cryptography on the controller (ansible-core requires it), "
                           "which this Python cannot import (%s): install it with pip install cryptography" % CRYPTOGRAPHY_ERROR)


def _key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_DIGITS]


class PublicKey:
    """The public half: checks signatures (``verify``), is exported as PEM."""

    def __init__(self, public: Ed25519PublicKey) -> None:
        self._public = public
        self.key_id = _key_id(public)

    def public_pem(self) -> str:
        return self._public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")

    def verify(self, data: bytes, signature: str) -> bool:
        return verify(self, data, signature)


class SigningKey:
    """The controller's key. ``source`` says where it came from, for messages (never the key itself)."""

    def __init__(self, private: Ed25519PrivateKey, source: str = "a key in memory") -> None:
        self._private = private
        self.source = source
        self.public_key = PublicKey(private.public_key())
        self.key_id = self.public_key.key_id

    @classmethod
    def generate(cls) -> "SigningKey":
        require_cryptography()
        return cls(Ed25519PrivateKey.generate(), "a new key in memory")

    def public_pem(self) -> str:
        return self.public_key.public_pem()

    def private_pem(self) -> bytes:
        return self._private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())

    def sign(self, data: bytes) -> str:
        signature = base64.urlsafe_b64encode(self._private.sign(data)).rstrip(b"=").decode("ascii")
        return "%s:%s:%s" % (ALGORITHM, self.key_id, signature)

    def mac_key(self, purpose: bytes) -> bytes:
        """A 32-byte key for ``purpose`` (HKDF-SHA256 of the private key, ``purpose`` as its info): a key of its own
        per use, so that an HMAC under it never reveals or stands in for the signing key."""
        raw = self._private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                          serialization.NoEncryption())
        return HKDF(algorithm=hashes.SHA256(), length=MAC_KEY_BYTES, salt=None, info=bytes(purpose)).derive(raw)

    def record_mac_key(self) -> bytes:
        """The key of the records' ``ctl_mac`` (mac_key of RECORD_MAC_PURPOSE), derived once."""
        cached = getattr(self, "_record_mac_key", None)
        if cached is None:
            cached = self._record_mac_key = self.mac_key(RECORD_MAC_PURPOSE)
        return cached

    def __repr__(self) -> str:
        return "<SigningKey %s from %s>" % (self.key_id, self.source)


def signature_key_id(signature: t.Any) -> t.Optional[str]:
    """The key id a signature text names, or None when it is not one."""
    match = SIGNATURE_PATTERN.fullmatch(signature) if isinstance(signature, str) else None
    return match.group(1) if match else None


def verify(public_key: t.Union[PublicKey, SigningKey], data: bytes, signature: t.Any) -> bool:
    """Whether ``signature`` is ``public_key``'s over ``data``. False, never an exception, for a malformed
    signature, one of another key, or one that does not verify."""
    if isinstance(public_key, SigningKey):
        public_key = public_key.public_key
    if not isinstance(public_key, PublicKey) or not isinstance(data, (bytes, bytearray)) or not isinstance(signature, str):
        return False
    match = SIGNATURE_PATTERN.fullmatch(signature)
    if match is None or match.group(1) != public_key.key_id:
        return False
    try:
        raw = base64.urlsafe_b64decode(match.group(2) + "==")
        # One text per signature: a text that differs only in the unused bits of its last character is refused.
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != match.group(2):
            return False
        public_key._public.verify(raw, bytes(data))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def _pem_bytes(value: t.Any, source: str) -> bytes:
    if isinstance(value, bytes):
        return value.strip()
    if isinstance(value, (str, EncryptedString)):
        # str() of a vaulted value decrypts it (ansible-core 2.19's EncryptedString).
        return str(value).strip().encode("utf-8", "surrogateescape")
    raise AnsibleError("The signing key from %s must be PEM text, not %s: %s" % (source, type(value).__name__, HOW_TO_SET_A_KEY))


def private_key_from_pem(pem: t.Any, source: str) -> SigningKey:
    """The SigningKey of a PKCS#8 (or OpenSSH) PEM Ed25519 private key; a clear error naming ``source`` otherwise,
    which never quotes the key."""
    require_cryptography()
    data = _pem_bytes(pem, source)
    try:
        if data.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----"):
            private = serialization.load_ssh_private_key(data, password=None)
        else:
            private = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise AnsibleError("The signing key from %s is encrypted with a passphrase: give it unencrypted (vault the "
                           "variable, or protect the file by its mode) and %s" % (source, HOW_TO_SET_A_KEY)) from None
    except (ValueError, UnsupportedAlgorithm):
        raise AnsibleError("The signing key from %s is not a PEM private key: %s" % (source, HOW_TO_SET_A_KEY)) from None
    if not isinstance(private, Ed25519PrivateKey):
        raise AnsibleError("The signing key from %s is not an Ed25519 key (its type: %s): %s" % (
            source, type(private).__name__.replace("_", "").replace("PrivateKey", ""), HOW_TO_SET_A_KEY))
    return SigningKey(private, source)


__all__ = [
    "CRYPTOGRAPHY_ERROR",
    "KEY_ENV",
    "KEY_FILE_ENV",
    "KEY_VAR",
    "KEY_FILE_VAR",
    "ALGORITHM",
    "KEY_ID_DIGITS",
    "SIGNATURE_TEXT_MAX",
    "SIGNATURE_PATTERN",
    "RECORD_MAC_PURPOSE",
    "HOW_TO_SET_A_KEY",
    "require_cryptography",
    "PublicKey",
    "SigningKey",
    "signature_key_id",
    "verify",
    "private_key_from_pem",
]
