"""The controller's signing key: where it comes from, how it is made on first use (race-free between forked workers),
every key file and directory it refuses, and signatures that verify only for their key and data. Real files in tmp
dirs, real cryptography."""

from __future__ import annotations

import multiprocessing
import os
import pwd
import stat

import pytest

from ansible.errors import AnsibleError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _signing
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import (
    SigningKey,
    controller_key,
    load_public_key,
    signature_key_id,
    verify,
)


@pytest.fixture(autouse=True)
def no_key_from_the_environment(monkeypatch):
    monkeypatch.delenv(_signing.KEY_ENV, raising=False)
    monkeypatch.delenv(_signing.KEY_FILE_ENV, raising=False)


@pytest.fixture
def ledger(tmp_path):
    path = tmp_path / "ledger"
    path.mkdir(mode=0o700)
    return path


def other_user() -> pwd.struct_passwd:
    for name in ("nobody", "daemon"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != os.geteuid():
            return entry
    pytest.skip("no second user to own a file")


def key_file(path, key=None, mode=0o600):
    path.write_bytes((key or SigningKey.generate()).private_pem())
    path.chmod(mode)
    return path


# --- made on first use --------------------------------------------------------------------------------------------


def test_the_first_use_makes_a_0600_key_and_a_0644_public_key_beside_it_and_reuses_them(ledger):
    key = controller_key(str(ledger))
    assert stat.S_IMODE(os.lstat(ledger / "signing.key").st_mode) == 0o600
    assert stat.S_IMODE(os.lstat(ledger / "signing.pub").st_mode) == 0o644
    assert (ledger / "signing.pub").read_text() == key.public_pem()
    assert sorted(os.listdir(str(ledger))) == ["signing.key", "signing.pub"]
    again = controller_key(str(ledger))
    assert again.key_id == key.key_id and again.mac_key(b"ledger") == key.mac_key(b"ledger")


def test_a_missing_ledger_directory_is_made_0700(tmp_path):
    key = controller_key(str(tmp_path / "deep" / "ledger"))
    assert stat.S_IMODE(os.lstat(str(tmp_path / "deep" / "ledger")).st_mode) == 0o700
    assert load_public_key(str(tmp_path / "deep" / "ledger" / "signing.pub")).key_id == key.key_id


def test_a_public_key_that_is_not_the_keys_is_rewritten(ledger):
    (ledger / "signing.pub").write_text(SigningKey.generate().public_pem())
    key = controller_key(str(ledger))
    assert load_public_key(str(ledger / "signing.pub")).key_id == key.key_id


def _race(ledger_dir, start, results):
    start.wait()
    try:
        results.put(controller_key(ledger_dir).key_id)
    except AnsibleError as exc:
        results.put("error: %s" % exc)


@pytest.mark.parametrize("attempt", range(5))
def test_workers_that_make_the_key_at_once_all_get_the_one_key(ledger, attempt):
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=_race, args=(str(ledger), start, results)) for _worker in range(4)]
    for worker in workers:
        worker.start()
    start.set()
    ids = [results.get(timeout=30) for _worker in workers]
    for worker in workers:
        worker.join(30)
    assert len(set(ids)) == 1 and not ids[0].startswith("error"), ids
    assert ids[0] == controller_key(str(ledger)).key_id
    # No temp file left behind by the workers that lost.
    assert sorted(os.listdir(str(ledger))) == ["signing.key", "signing.pub"]


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
        controller_key(str(ledger), {_signing.KEY_VAR: value})
    assert says in str(caught.value) and "the extra var changeaudit_signing_key" in str(caught.value)
    assert "PRIVATE KEY-----" not in str(caught.value).replace("openssl genpkey", "")


def test_an_openssh_ed25519_private_key_is_taken(ledger):
    chosen = SigningKey.generate()
    openssh = chosen._private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                            serialization.NoEncryption())
    assert controller_key(str(ledger), {_signing.KEY_VAR: openssh.decode()}).key_id == chosen.key_id


# --- refusals -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o644])
def test_a_key_file_group_or_others_may_read_or_write_is_refused(ledger, mode):
    key_file(ledger / "signing.key", mode=mode)
    with pytest.raises(AnsibleError, match=r"may be read or written by group or others \(mode 0%o\): chmod 600" % mode):
        controller_key(str(ledger))


def test_a_key_file_that_is_a_symlink_is_refused(ledger, tmp_path):
    os.symlink(str(key_file(tmp_path / "elsewhere.key")), str(ledger / "signing.key"))
    with pytest.raises(AnsibleError, match="signing.key is a symlink, which is refused"):
        controller_key(str(ledger))
    os.unlink(str(ledger / "signing.key"))
    os.symlink(str(tmp_path / "elsewhere.key"), str(tmp_path / "link.key"))
    with pytest.raises(AnsibleError, match="link.key is a symlink"):
        controller_key(str(ledger), {_signing.KEY_FILE_VAR: str(tmp_path / "link.key")})


def test_a_dangling_symlink_is_refused_not_replaced(ledger, tmp_path):
    os.symlink(str(tmp_path / "nowhere.key"), str(ledger / "signing.key"))
    with pytest.raises(AnsibleError, match="is a symlink"):
        controller_key(str(ledger))
    assert not os.path.lexists(str(tmp_path / "nowhere.key"))


def test_a_key_file_of_another_user_is_refused(ledger):
    other = other_user()
    path = key_file(ledger / "signing.key")
    os.chown(str(path), other.pw_uid, -1)
    with pytest.raises(AnsibleError, match=r"is owned by %s \(uid %d\), not by the controller's user" % (other.pw_name, other.pw_uid)):
        controller_key(str(ledger))


def test_a_key_file_that_is_missing_or_not_a_file_is_refused(ledger, tmp_path):
    with pytest.raises(AnsibleError, match="Cannot read the signing key file .*nope.key: No such file"):
        controller_key(str(ledger), {_signing.KEY_FILE_VAR: str(tmp_path / "nope.key")})
    (ledger / "signing.key").mkdir(mode=0o700)
    with pytest.raises(AnsibleError, match="is not a regular file"):
        controller_key(str(ledger))


@pytest.mark.parametrize("mode", [0o770, 0o702, 0o777])
def test_a_key_directory_group_or_others_may_write_is_refused(ledger, mode):
    ledger.chmod(mode)
    with pytest.raises(AnsibleError, match=r"may be written by group or others \(mode 0%o\): chmod 700" % mode):
        controller_key(str(ledger))
    assert os.listdir(str(ledger)) == []


def test_a_key_directory_of_another_user_or_a_symlink_is_refused(ledger, tmp_path):
    os.symlink(str(ledger), str(tmp_path / "link"))
    with pytest.raises(AnsibleError, match="link is a symlink, which is refused"):
        controller_key(str(tmp_path / "link"))
    other = other_user()
    os.chown(str(ledger), other.pw_uid, -1)
    with pytest.raises(AnsibleError) as caught:
        controller_key(str(ledger))
    assert "is owned by %s (uid %d)" % (other.pw_name, other.pw_uid) in str(caught.value)
    assert "chmod 700" in str(caught.value)
    assert os.listdir(str(ledger)) == []


def test_without_a_ledger_directory_there_is_no_default_key():
    with pytest.raises(AnsibleError, match="No signing key: the ledger directory is not set"):
        controller_key("")


# --- signatures -----------------------------------------------------------------------------------------------------


def test_a_signature_is_one_field_value_naming_its_key():
    key = SigningKey.generate()
    signature = key.sign(b"the manifest")
    algorithm, key_id, text = signature.split(":")
    assert algorithm == "ed25519" and key_id == key.key_id and len(key_id) == 16
    assert len(signature) == _signing.SIGNATURE_TEXT_MAX and set(text) <= set(
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
