"""Which key the controller signs with (the environment, the extra vars, a key file, else the one beside the
ledgers), the public key a check takes, and the signature of a record."""

from __future__ import annotations

import os

import pytest

from ansible.errors import AnsibleError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _signing
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import controller_key, load_public_key
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing_key import SigningKey
from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._proof.signing_helpers import key_file


# --- where it comes from ------------------------------------------------------------------------------------------


def test_the_environment_variable_wins_over_everything(ledger, monkeypatch, tmp_path):
    chosen = SigningKey.generate()
    monkeypatch.setenv(_signing.KEY_ENV, chosen.private_pem().decode())
    monkeypatch.setenv(_signing.KEY_FILE_ENV, str(key_file(tmp_path / "other.key")))
    key = controller_key(str(ledger), {_signing.KEY_VAR: SigningKey.generate().private_pem().decode()})
    assert key.key_id == chosen.key_id and "environment variable" in key.source
    assert os.listdir(str(ledger)) == []


def test_the_extra_var_comes_next_then_the_key_file(ledger, monkeypatch, tmp_path):
    chosen, in_file = SigningKey.generate(), SigningKey.generate()
    path = key_file(tmp_path / "file.key", in_file)
    assert controller_key(str(ledger), {_signing.KEY_VAR: chosen.private_pem().decode(),
                                        _signing.KEY_FILE_VAR: str(path)}).key_id == chosen.key_id
    assert controller_key(str(ledger), {_signing.KEY_FILE_VAR: str(path)}).key_id == in_file.key_id
    env_file = key_file(tmp_path / "env.key")
    monkeypatch.setenv(_signing.KEY_FILE_ENV, str(env_file))
    assert controller_key(str(ledger), {_signing.KEY_FILE_VAR: str(path)}).key_id != in_file.key_id
    assert os.listdir(str(ledger)) == []


def test_a_vaulted_extra_var_is_decrypted(ledger, monkeypatch):
    from ansible.parsing.vault import EncryptedString, VaultLib, VaultSecret, VaultSecretsContext

    secrets = [("default", VaultSecret(b"unit-test-vault-password"))]
    monkeypatch.setattr(VaultSecretsContext, "_current", VaultSecretsContext(secrets))
    chosen = SigningKey.generate()
    vaulted = EncryptedString(ciphertext=VaultLib(secrets).encrypt(chosen.private_pem()).decode())
    assert controller_key(str(ledger), {_signing.KEY_VAR: vaulted}).key_id == chosen.key_id


def test_without_a_ledger_directory_there_is_no_default_key():
    with pytest.raises(AnsibleError, match="No signing key: the ledger directory is not set"):
        controller_key("")


@pytest.mark.parametrize("text, says", [
    ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "is not a PEM public key"),
    ("ec", "is not an Ed25519 public key (its type: EC)"),
])
def test_a_public_key_that_is_not_ed25519_is_refused_naming_the_file(tmp_path, text, says):
    if text == "ec":
        text = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    (tmp_path / "signing.pub").write_text(text)
    with pytest.raises(AnsibleError) as caught:
        load_public_key(str(tmp_path / "signing.pub"))
    assert says in str(caught.value) and str(tmp_path / "signing.pub") in str(caught.value)
    with pytest.raises(AnsibleError, match="Cannot read the public key the file .*missing.pub"):
        load_public_key(str(tmp_path / "missing.pub"))


# --- the signature of a record ------------------------------------------------------------------------------------

RECORD = {"op": "ansible-change:ansible.builtin.copy:/etc/motd", "result": "success",
          "fields": {"run_id": "r-1", "seq": "3", "task_id": "02fc0000-0001-16ba-5381-000000000003",
                     "inventory_host": "web1", "object": "/etc/a b", "n": 7}}


def signed(key, record=None):
    return _signing.sign_record(key, record or RECORD)


def problem(key, params, **changes):
    fields = dict(params["fields"], **changes.pop("fields", {}))
    return _signing.record_signature_problem(key.public_key, changes.get("op", params["op"]),
                                             changes.get("res", params["result"]), fields)


def test_the_record_message_is_length_prefixed_in_name_order_and_leaves_out_the_signature_and_forwarded_to():
    message = _signing.record_message("op-x", "success", {"b": "x y", "a": "\udcff", "ctl_sig": "s", "forwarded_to": "f",
                                                          "ctl_mac": "m", "n": 3, "flag": True})
    assert message == (b"changeaudit-record-signature/1\nop 4:op-x\nres 7:success\na 1:\xff\nb 3:x y\nflag 4:true\n"
                       b"n 1:3\n")
    # A value that holds what would look like the next item cannot stand for two fields: its length says where it ends.
    assert _signing.record_message("o", "success", {"a": "1:x\nb 1:y"}) != _signing.record_message("o", "success", {"a": "1:x", "b": "y"})


def test_a_signed_record_verifies_as_the_reader_decodes_it():
    key = _signing.SigningKey.generate()
    params = signed(key)
    assert _signing.signature_key_id(params["fields"]["ctl_sig"]) == key.key_id
    # The reader hands every value back as text: 7 as "7".
    assert problem(key, params, fields={"n": "7"}) is None
    assert len(' ctl_sig="%s"' % params["fields"]["ctl_sig"]) == len(' ctl_sig="%s"' % _signing.SIGNATURE_PLACEHOLDER) == 122
    assert len(params["fields"]["ctl_mac"]) == len(_signing.MAC_PLACEHOLDER) == 32


def test_the_controller_checks_the_mac_and_falls_back_to_the_signature():
    key = _signing.SigningKey.generate()
    params = signed(key)
    fields = dict(params["fields"], n="7")
    assert _signing.record_signature_problem(key, params["op"], "success", fields) is None
    # A mac that does not match (altered, or left out) leaves it to the signature, which still verifies the record.
    for mac in ("0" * 32, None):
        changed = dict(fields, ctl_mac=mac) if mac else {k: v for k, v in fields.items() if k != "ctl_mac"}
        assert _signing.record_signature_problem(key, params["op"], "success", changed) is None
    # A valid mac with the fields changed is no proof: the mac covers them.
    said = _signing.record_signature_problem(key, params["op"], "failed", fields)
    assert "res was changed from success to failed" in said
    # Nor is a mac over another signature text.
    other = signed(key, dict(RECORD, fields=dict(RECORD["fields"], seq="4")))
    assert _signing.record_signature_problem(key, params["op"], "success", dict(fields, ctl_sig=other["fields"]["ctl_sig"])) is not None


@pytest.mark.parametrize("changes, says", [
    ({"fields": {"seq": "4"}}, "signature does not verify: forged or altered (a signed field"),
    ({"fields": {"inventory_host": "web2"}}, "signature does not verify"),
    ({"fields": {"run_id": "r-2"}}, "signature does not verify"),
    ({"op": "ansible-change:ansible.builtin.copy:/etc/shadow"}, "signature does not verify"),
    ({"res": "failed"}, "res was changed from success to failed after signing"),
    ({"fields": {"kept_on": "controller"}}, "the field kept_on was added after signing"),
    ({"fields": {"ctl_sig": ""}}, "unsigned"),
    ({"fields": {"ctl_sig": "ed25519:zz:abc"}}, "not one of this collection"),
])
def test_a_record_altered_after_signing_is_named(changes, says):
    key = _signing.SigningKey.generate()
    assert says in problem(key, signed(key), **changes)


def test_a_record_signed_by_another_key_names_both_keys():
    key, other = _signing.SigningKey.generate(), _signing.SigningKey.generate()
    said = problem(key, signed(other))
    assert other.key_id in said and key.key_id in said and "rotation" in said


def test_forwarded_to_added_on_the_host_keeps_the_signature():
    key = _signing.SigningKey.generate()
    assert problem(key, signed(key), fields={"forwarded_to": "au-remote"}) is None


def test_without_a_key_nothing_is_signed():
    assert _signing.sign_record(None, RECORD) == RECORD


def test_existing_key_never_makes_one(tmp_path, monkeypatch):
    for name in (_signing.KEY_ENV, _signing.KEY_FILE_ENV):
        monkeypatch.delenv(name, raising=False)
    directory = tmp_path / "ledgers"
    directory.mkdir(mode=0o700)
    assert _signing.existing_key(str(directory)) is None and not os.listdir(str(directory))
    made = _signing.controller_key(str(directory))
    assert _signing.existing_key(str(directory)).key_id == made.key_id
    assert _signing.existing_key(None) is None
