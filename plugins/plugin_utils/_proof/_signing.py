# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The controller's signing key (Ed25519, through ``cryptography``, which ansible-core requires on the controller).

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

import base64
import binascii
import errno
import hashlib
import hmac
import os
import re
import secrets
import stat
import typing as t

from ansible.errors import AnsibleError
from ansible.parsing.vault import EncryptedString
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import value_bytes

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
else:
    CRYPTOGRAPHY_ERROR = None

KEY_ENV = "CHANGEAUDIT_SIGNING_KEY"
KEY_FILE_ENV = "CHANGEAUDIT_SIGNING_KEY_FILE"
KEY_VAR = "changeaudit_signing_key"
KEY_FILE_VAR = "changeaudit_signing_key_file"
KEY_FILE = "signing.key"
PUBLIC_KEY_FILE = "signing.pub"
ALGORITHM = "ed25519"
KEY_ID_DIGITS = 16
MAC_KEY_BYTES = 32
# "ed25519:" + 16 hex digits + ":" + 86 base64url characters (64 bytes, no padding).
SIGNATURE_TEXT_MAX = len(ALGORITHM) + 1 + KEY_ID_DIGITS + 1 + 86
_SIGNATURE = re.compile(r"%s:([0-9a-f]{%d}):([A-Za-z0-9_-]{86})" % (ALGORITHM, KEY_ID_DIGITS))

HOW_TO_SET_A_KEY = (
    "set %s (the PEM text, e.g. an AWX/AAP credential), the extra var %s (vault it), or a key file named by %s / %s "
    "(a PKCS#8 PEM Ed25519 private key, e.g. made with: openssl genpkey -algorithm ed25519 -out signing.key; "
    "chmod 600 signing.key)" % (KEY_ENV, KEY_VAR, KEY_FILE_ENV, KEY_FILE_VAR)
)


def _require_cryptography() -> None:
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
        _require_cryptography()
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
    match = _SIGNATURE.fullmatch(signature) if isinstance(signature, str) else None
    return match.group(1) if match else None


def verify(public_key: t.Union[PublicKey, SigningKey], data: bytes, signature: t.Any) -> bool:
    """Whether ``signature`` is ``public_key``'s over ``data``. False, never an exception, for a malformed
    signature, one of another key, or one that does not verify."""
    if isinstance(public_key, SigningKey):
        public_key = public_key.public_key
    if not isinstance(public_key, PublicKey) or not isinstance(data, (bytes, bytearray)) or not isinstance(signature, str):
        return False
    match = _SIGNATURE.fullmatch(signature)
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
    _require_cryptography()
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


def load_public_key(path_or_pem: t.Any) -> PublicKey:
    """The public key of a PEM text (a public key, or a private key whose public half is wanted) or of the file it
    names. Raises AnsibleError naming the file or the text's problem."""
    _require_cryptography()
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
        raise AnsibleError("%s is not a PEM public key (the signing.pub the controller wrote beside its key, or the one "
                           "a report carries)" % (source[0].upper() + source[1:])) from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise AnsibleError("%s is not an Ed25519 public key (its type: %s)" % (
            source[0].upper() + source[1:], type(loaded).__name__.lstrip("_").replace("PublicKey", "")))
    return PublicKey(loaded)


# --- the key on disk -----------------------------------------------------------------------------------------------


def _owner(uid: int) -> str:
    try:
        import pwd

        return "%s (uid %d)" % (pwd.getpwuid(uid).pw_name, uid)
    except (ImportError, KeyError):
        return "uid %d" % uid


def read_key_file(path: str, what: str = "signing key file") -> SigningKey:
    """The key in ``path``, refused unless it is a regular file (not a symlink) of this user that group and others
    cannot read or write. Opened without following a symlink, then checked on what was opened (no race)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise AnsibleError("The %s %s is a symlink, which is refused (whoever can re-point it chooses the key): "
                               "name the file itself, or copy the key there with mode 0600" % (what, path)) from None
        raise AnsibleError("Cannot read the %s %s: %s. %s" % (what, path, exc.strerror or exc, HOW_TO_SET_A_KEY)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise AnsibleError("The %s %s is not a regular file: name the key file itself" % (what, path))
        if info.st_uid != os.geteuid():
            raise AnsibleError("The %s %s is owned by %s, not by the controller's user %s: whoever owns it can replace "
                               "the key. chown it to %s (and chmod 600), or use a key of your own" % (
                                   what, path, _owner(info.st_uid), _owner(os.geteuid()), _owner(os.geteuid())))
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise AnsibleError("The %s %s may be read or written by group or others (mode %04o): chmod 600 %s" % (
                what, path, stat.S_IMODE(info.st_mode), path))
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            if sum(len(part) for part in chunks) > 1 << 20:
                raise AnsibleError("The %s %s is too big to be a key: name the key file itself" % (what, path))
    finally:
        os.close(fd)
    return private_key_from_pem(b"".join(chunks), "the file %s" % path)


def check_key_directory(path: str) -> None:
    """Refuses a directory for the key that is a symlink, not a directory, not this user's, or that group or others
    may write: whoever can write it can swap the key, and with it the signature on every proof."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise AnsibleError("Cannot use %s for the signing key: %s" % (path, exc.strerror or exc)) from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise AnsibleError("The directory of the signing key %s is %s, which is refused: make it a directory of the "
                           "controller's user (mode 0700), or name a key with %s" % (
                               path, "a symlink" if stat.S_ISLNK(info.st_mode) else "not a directory", KEY_FILE_ENV))
    if info.st_uid != os.geteuid():
        raise AnsibleError("The directory of the signing key %s is owned by %s, not by the controller's user %s: chown "
                           "it to %s and chmod 700 it, or set ledger_dir to a directory of your own" % (
                               path, _owner(info.st_uid), _owner(os.geteuid()), _owner(os.geteuid())))
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise AnsibleError("The directory of the signing key %s may be written by group or others (mode %04o): chmod "
                           "700 %s" % (path, stat.S_IMODE(info.st_mode), path))


def _write_new(directory: str, name: str, data: bytes, mode: int) -> str:
    """``data`` in a fresh temp file of ``directory`` (O_EXCL, never through a symlink), fsynced; returns its path."""
    temp = os.path.join(directory, ".%s.%d.%s.tmp" % (name, os.getpid(), secrets.token_hex(6)))
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(temp)
        raise
    os.close(fd)
    return temp


def _export_public(directory: str, key: SigningKey) -> None:
    """signing.pub beside the key, rewritten (temp file, rename) only when it is not this key's."""
    path = os.path.join(directory, PUBLIC_KEY_FILE)
    pem = key.public_pem().encode("ascii")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            if os.read(fd, 4096) == pem:
                return
        finally:
            os.close(fd)
    except OSError:
        pass
    temp = _write_new(directory, PUBLIC_KEY_FILE, pem, 0o644)
    os.rename(temp, path)


def _create_or_read(directory: str) -> SigningKey:
    """The key of ``directory``, made if there is none. Two workers that both find none each write a key to a temp
    file and link it to signing.key; link never replaces, so the first wins and the other reads the winner's."""
    path = os.path.join(directory, KEY_FILE)
    if not os.path.lexists(path):
        new = SigningKey.generate()
        try:
            temp = _write_new(directory, KEY_FILE, new.private_pem(), 0o600)
        except OSError as exc:
            raise AnsibleError("Cannot create the signing key %s: %s. Make %s writable by the controller's user, or %s"
                               % (path, exc.strerror or exc, directory, HOW_TO_SET_A_KEY)) from None
        try:
            os.link(temp, path)
        except FileExistsError:
            pass
        except OSError as exc:
            raise AnsibleError("Cannot create the signing key %s: %s" % (path, exc.strerror or exc)) from None
        finally:
            os.unlink(temp)
    key = read_key_file(path)
    try:
        _export_public(directory, key)
    except OSError as exc:
        raise AnsibleError("Cannot write the public key %s: %s" % (os.path.join(directory, PUBLIC_KEY_FILE),
                                                                   exc.strerror or exc)) from None
    return key


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
    return _create_or_read(directory)


# --- the signature of a record --------------------------------------------------------------------------------

RECORD_SIG_FIELD = "ctl_sig"
RECORD_MAC_FIELD = "ctl_mac"
RECORD_TAG_FIELDS = (RECORD_SIG_FIELD, RECORD_MAC_FIELD)
RECORD_SIG_FORMAT = b"changeaudit-record-signature/1"
RECORD_MAC_PURPOSE = b"changeaudit record mac v1"
# 128 bits of HMAC-SHA256, in hex: a forger's chance is 2**-128 per try.
RECORD_MAC_DIGITS = 32
# Fields of a record its signature does not cover: the tags themselves, and where the host says it forwarded it
# (request.execute adds forwarded_to on the host, after the controller signed).
UNSIGNED_FIELDS = frozenset(RECORD_TAG_FIELDS + ("forwarded_to",))
# What the check before a change sizes the record with: a signature and a mac at their longest.
SIGNATURE_PLACEHOLDER = "%s:%s:%s" % (ALGORITHM, "0" * KEY_ID_DIGITS, "A" * 86)
MAC_PLACEHOLDER = "0" * RECORD_MAC_DIGITS
SIGNATURE_PATTERN = _SIGNATURE
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
    "SIGNATURE_PATTERN",
    "record_message",
    "sign_record",
    "record_signature_problem",
    "explicit_key",
    "existing_key",
    "CRYPTOGRAPHY_ERROR",
    "KEY_ENV",
    "KEY_FILE_ENV",
    "KEY_VAR",
    "KEY_FILE_VAR",
    "KEY_FILE",
    "PUBLIC_KEY_FILE",
    "ALGORITHM",
    "SIGNATURE_TEXT_MAX",
    "PublicKey",
    "SigningKey",
    "signature_key_id",
    "verify",
    "private_key_from_pem",
    "load_public_key",
    "read_key_file",
    "check_key_directory",
    "controller_key",
]
