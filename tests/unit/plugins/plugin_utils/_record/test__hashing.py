"""Keyed hashes: what a log reader cannot reverse, and what an auditor with the key can verify."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record import _hashing
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._hashing import Hasher, hasher_for, key_id, verify

KEY = b"9f1c4be07a3d58e2c6b1f0a947d3e85b"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in (_hashing.KEY_ENV, _hashing.KEY_FILE_ENV, _hashing.UNKEYED_ENV):
        monkeypatch.delenv(name, raising=False)


def test_a_keyed_hash_is_the_hmac_of_the_values_bytes_named_by_its_key_id():
    text = Hasher(KEY).hash_value("1234")
    prefix, kid, digest = text.split(":")
    assert prefix == "hmac-sha256" and kid == key_id(KEY) and len(kid) == 16
    assert digest == hmac.new(KEY, b"1234", hashlib.sha256).hexdigest()
    assert hashlib.sha256(b"1234").hexdigest() not in text
    assert len(text) <= _hashing.HASH_TEXT_MAX


@pytest.mark.parametrize("value, data", [(1234, b"1234"), (True, b"true"), (["a", 1], b'["a",1]'), ("é", "é".encode())])
def test_values_are_hashed_as_the_bytes_the_record_would_have_held(value, data):
    assert Hasher(KEY).hash_value(value).endswith(hmac.new(KEY, data, hashlib.sha256).hexdigest())


def test_verify_takes_the_right_key_only():
    recorded = Hasher(KEY).hash_value("s3cret")
    assert verify("s3cret", recorded, KEY)
    assert not verify("s3cret", recorded, KEY[::-1])
    assert not verify("other", recorded, KEY)


def test_the_key_id_changes_with_the_key_and_does_not_reveal_it():
    assert key_id(KEY) != key_id(KEY + b"x")
    assert KEY.hex()[:16] != key_id(KEY)


def test_without_a_key_nothing_is_hashed_unless_unkeyed_hashes_are_accepted():
    hasher = Hasher()
    assert not hasher.can_hash
    with pytest.raises(AnsibleError, match="hash_fields needs a hash key.*changeaudit_hash_key.*changeaudit_unkeyed_hashes"):
        hasher.require("hash_fields")
    with pytest.raises(AnsibleError):
        hasher.hash_value("x")
    accepted = Hasher(unkeyed_accepted=True)
    accepted.require("hash_fields")
    assert accepted.hash_value("x") == "sha256:" + hashlib.sha256(b"x").hexdigest()


def test_the_key_comes_from_the_variable_first(monkeypatch):
    monkeypatch.setenv(_hashing.KEY_ENV, "environment-key-of-enough-length-3f9a")
    assert hasher_for(None, {"changeaudit_hash_key": KEY.decode()}).key_id == key_id(KEY)
    assert hasher_for(None, {}).key_id == key_id(b"environment-key-of-enough-length-3f9a")


def test_the_key_file_must_be_private(tmp_path, monkeypatch):
    path = tmp_path / "key"
    path.write_bytes(KEY + b"\n")
    os.chmod(path, 0o600)
    monkeypatch.setenv(_hashing.KEY_FILE_ENV, str(path))
    assert hasher_for(None, {}).key_id == key_id(KEY), "a trailing newline is not part of the key"
    os.chmod(path, 0o644)
    with pytest.raises(AnsibleError, match="may be read by group or others.*chmod 600"):
        hasher_for(None, {})
    with pytest.raises(AnsibleError, match="Cannot read the hash key file"):
        hasher_for(None, {"changeaudit_hash_key_file": str(tmp_path / "missing")})


@pytest.mark.parametrize("key, why", [
    (b"1234", "is 4 bytes; it needs at least 32"),
    (b"0123456789abcdef0123456789abcde", "is 31 bytes; it needs at least 32"),
    ("pässwörter-sind-gut".encode(), "is 21 bytes; it needs at least 32"),
    (b"\x8f\x01\x92\x33\xa4\x55\xb6\x07\xc8\x19\xda\x2b\xec\x3d\xfe", "is 15 bytes; it needs at least 16"),
    (b"a" * 64, "has only 1 different bytes"),
    (b"passwordpasswordpasswordpassword", "has only 7 different bytes"),
    (b"0123456789abcdef0123456789abcdef", "is one 16-byte piece repeated"),
    (b"\x00\x01\x02\x03\x04\x05\x06\x07" * 4, "is one 8-byte piece repeated"),
])
def test_a_weak_key_is_refused_naming_the_setting_and_the_fix(key, why):
    with pytest.raises(AnsibleError) as caught:
        hasher_for(None, {"changeaudit_hash_key": key.decode("utf-8", "surrogateescape")})
    message = str(caught.value)
    assert message.startswith("The hash key from the variable changeaudit_hash_key " + why), message
    assert "openssl rand -hex 32" in message


@pytest.mark.parametrize("key", [
    b"9f1c4be07a3d58e2c6b1f0a947d3e85b",  # openssl rand -hex 16
    b"Zk3v9QmW1pT7xR2sLb8nYc4hJd6fGa0e5uXo+/A=",  # openssl rand -base64 30
    bytes.fromhex("8f019233a455b607c819da2bec3dfe40"),  # 16 random bytes in a file
])
def test_a_random_key_is_accepted(key, tmp_path, monkeypatch):
    path = tmp_path / "key"
    path.write_bytes(key)
    os.chmod(path, 0o600)
    monkeypatch.setenv(_hashing.KEY_FILE_ENV, str(path))
    assert hasher_for(None, {}).key_id == key_id(key)
    assert _hashing.key_weakness(key) is None


def test_a_weak_key_in_the_environment_or_a_file_is_named_by_its_source(tmp_path, monkeypatch):
    monkeypatch.setenv(_hashing.KEY_ENV, "short")
    with pytest.raises(AnsibleError, match="from the environment variable CHANGEAUDIT_HASH_KEY is 5 bytes"):
        hasher_for(None, {})
    monkeypatch.delenv(_hashing.KEY_ENV)
    path = tmp_path / "key"
    path.write_bytes(b"x" * 40)
    os.chmod(path, 0o600)
    with pytest.raises(AnsibleError, match="from the file %s has only 1 different bytes" % path):
        hasher_for(None, {"changeaudit_hash_key_file": str(path)})


# --- never from a host's facts (issue 28) -------------------------------------------------------------------------


@pytest.fixture
def warnings(monkeypatch):
    seen = []
    monkeypatch.setattr(_hashing.display, "warning", seen.append)
    return seen


def test_a_hosts_facts_cannot_pick_the_key_or_turn_hashing_off(core_run, warnings, tmp_path):
    stolen = tmp_path / "vault-password"
    stolen.write_bytes(b"a-0600-file-the-controller-can-read-b7e1")
    os.chmod(stolen, 0o600)
    run = core_run({"all": {"hosts": {"web1": {"changeaudit_hash_key": KEY.decode()}}}})
    run.facts("web1", changeaudit_hash_key="the-hosts-own-key-of-good-length-4d2c", changeaudit_hash_key_file=str(stolen),
              changeaudit_unkeyed_hashes=True)
    task_vars = run.task_vars("web1")
    assert task_vars["changeaudit_hash_key"] != KEY.decode(), "core ranks the fact above the inventory"
    hasher = hasher_for(None, task_vars)
    assert hasher.key_id == key_id(KEY) and not hasher.unkeyed_accepted
    assert sorted(w.split(" returned a fact named ")[1].split(",")[0] for w in warnings) == [
        "changeaudit_hash_key", "changeaudit_hash_key_file", "changeaudit_unkeyed_hashes"]


def test_without_an_operators_key_a_hosts_key_file_is_not_read(core_run, warnings, tmp_path, monkeypatch):
    stolen = tmp_path / "vault-password"
    stolen.write_bytes(b"a-0600-file-the-controller-can-read-b7e1")
    os.chmod(stolen, 0o600)
    run = core_run({"all": {"hosts": {"web1": {}}}})
    run.facts("web1", changeaudit_hash_key_file=str(stolen))
    assert not hasher_for(None, run.task_vars("web1")).keyed
    monkeypatch.setenv(_hashing.KEY_ENV, KEY.decode())
    assert hasher_for(None, run.task_vars("web1")).key_id == key_id(KEY), "the controller's environment still counts"


def test_play_and_extra_vars_still_set_the_key(core_run, warnings):
    run = core_run({"all": {"hosts": {"web1": {}}}}, extra_vars={"changeaudit_hash_key": KEY.decode()})
    run.facts("web1", changeaudit_hash_key="the-hosts-own-key-of-good-length-4d2c")
    assert hasher_for(None, run.task_vars("web1")).key_id == key_id(KEY)
    assert len(warnings) == 1, "the host tried, which is worth a warning, though the extra var ranks above its fact"


@pytest.mark.parametrize("value, accepted", [("true", True), ("yes", True), ("false", False), ("", False)])
def test_unkeyed_hashes_are_accepted_explicitly(monkeypatch, value, accepted):
    monkeypatch.setenv(_hashing.UNKEYED_ENV, value)
    assert hasher_for(None, {}).unkeyed_accepted is accepted


def test_a_malformed_acceptance_is_refused():
    with pytest.raises(AnsibleError, match="must be true or false"):
        hasher_for(None, {"changeaudit_unkeyed_hashes": "maybe"})


@pytest.mark.parametrize("value", [12345678901234567890, ["0123456789abcdef"], {"k": "0123456789abcdef"}])
def test_a_key_that_is_not_text_is_refused(value):
    with pytest.raises(AnsibleError, match="must be text, not"):
        hasher_for(None, {"changeaudit_hash_key": value})
