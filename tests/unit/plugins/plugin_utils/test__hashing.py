"""Keyed hashes: what a log reader cannot reverse, and what an auditor with the key can verify."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.plugin_utils import _hashing
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hashing import Hasher, hasher_for, key_id, verify

KEY = b"0123456789abcdef0123456789abcdef"


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
    monkeypatch.setenv(_hashing.KEY_ENV, "environment-key-of-enough-length")
    assert hasher_for(None, {"changeaudit_hash_key": KEY.decode()}).key_id == key_id(KEY)
    assert hasher_for(None, {}).key_id == key_id(b"environment-key-of-enough-length")


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


def test_a_short_key_is_refused():
    with pytest.raises(AnsibleError, match="is 4 bytes; it needs at least 16"):
        hasher_for(None, {"changeaudit_hash_key": "1234"})


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
