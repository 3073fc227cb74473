"""The controller's key pair: signatures that verify only for their key and data, and keys read from PEM. Real
cryptography."""

from __future__ import annotations


import pytest

from ansible.errors import AnsibleError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _signing_key
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import controller_key, load_public_key
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing_key import SigningKey, signature_key_id, verify


@pytest.mark.parametrize("value, says", [
    ("not a key", "is not a PEM private key"),
    (42, "must be PEM text, not int"),
    ("ec", "is not an Ed25519 key (its type: EC)"),
    ("encrypted", "is encrypted with a passphrase"),
])
def test_a_key_that_is_not_an_unencrypted_ed25519_pem_is_refused_without_quoting_it(ledger, value, says):
    if value == "ec":
        value = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    elif value == "encrypted":
        value = SigningKey.generate()._private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase")).decode()
    with pytest.raises(AnsibleError) as caught:
        controller_key(str(ledger), {_signing_key.KEY_VAR: value})
    assert says in str(caught.value) and "the extra var changeaudit_signing_key" in str(caught.value)
    assert "PRIVATE KEY-----" not in str(caught.value).replace("openssl genpkey", "")


def test_an_openssh_ed25519_private_key_is_taken(ledger):
    chosen = SigningKey.generate()
    openssh = chosen._private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                            serialization.NoEncryption())
    assert controller_key(str(ledger), {_signing_key.KEY_VAR: openssh.decode()}).key_id == chosen.key_id


# --- signatures -----------------------------------------------------------------------------------------------------


def test_a_signature_is_one_field_value_naming_its_key():
    key = SigningKey.generate()
    signature = key.sign(b"the manifest")
    algorithm, key_id, text = signature.split(":")
    assert algorithm == "ed25519" and key_id == key.key_id and len(key_id) == 16
    assert len(signature) == _signing_key.SIGNATURE_TEXT_MAX and set(text) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert signature_key_id(signature) == key.key_id
    assert verify(key.public_key, b"the manifest", signature)
    assert verify(load_public_key(key.public_pem()), b"the manifest", signature)


def test_the_key_id_is_the_sha256_of_the_raw_public_key():
    import hashlib

    key = SigningKey.generate()
    raw = key._private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key.key_id == hashlib.sha256(raw).hexdigest()[:16]


def _flipped(signature):
    head, text = signature.rsplit(":", 1)
    return head + ":" + ("B" if text[0] == "A" else "A") + text[1:]


@pytest.mark.parametrize("mangle", [
    lambda sig: sig[:-1],
    lambda sig: sig + "A",
    lambda sig: sig.replace("ed25519:", "ed448:"),
    lambda sig: sig.replace(":", ";"),
    _flipped,
    # The unused low bits of the last character: decodes to the same bytes, and is still refused.
    lambda sig: sig[:-1] + chr(ord(sig[-1]) ^ 1) if sig[-1] not in "Zz9_-" else sig[:-1] + "B",
    lambda sig: "",
    lambda sig: None,
    lambda sig: 17,
    lambda sig: b"ed25519:",
    lambda sig: sig + "\n",
    lambda sig: sig.replace("-", "+").replace("_", "/") + "==",
], ids=["cut", "longer", "algorithm", "separator", "flipped", "low-bits", "empty", "none", "int", "bytes", "newline",
        "padded-standard-base64"])
def test_a_malformed_or_altered_signature_is_false_never_an_exception(mangle):
    key = SigningKey.generate()
    signature = key.sign(b"data")
    mangled = mangle(signature)
    if mangled == signature:
        pytest.skip("this signature has no such variant")
    assert verify(key.public_key, b"data", mangled) is False


def test_a_signature_of_another_key_or_other_data_does_not_verify():
    key, other = SigningKey.generate(), SigningKey.generate()
    signature = key.sign(b"data")
    assert verify(other.public_key, b"data", signature) is False
    # Another key's signature relabelled with this key's id.
    assert verify(key.public_key, b"data", other.sign(b"data").replace(other.key_id, key.key_id)) is False
    assert verify(key.public_key, b"Data", signature) is False
    assert verify(key.public_key, "data", signature) is False
    assert verify(None, b"data", signature) is False


def test_mac_keys_differ_per_purpose_and_key():
    key = SigningKey.generate()
    assert len(key.mac_key(b"ledger")) == 32
    assert key.mac_key(b"ledger") != key.mac_key(b"other") != SigningKey.generate().mac_key(b"other")
    assert key.mac_key(b"ledger") not in key.private_pem()
