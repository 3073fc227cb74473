"""The controller's key on disk: made on first use (race-free between forked workers), and every key file and
directory it refuses. Real files in tmp dirs."""

from __future__ import annotations

import multiprocessing
import os
import stat

import pytest

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _signing_key
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing import controller_key, load_public_key
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing_key import SigningKey
from ansible_collections.changeaudit.linux.tests.unit.plugins.plugin_utils._proof.signing_helpers import key_file, other_user


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
        controller_key(str(ledger), {_signing_key.KEY_FILE_VAR: str(tmp_path / "link.key")})


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
        controller_key(str(ledger), {_signing_key.KEY_FILE_VAR: str(tmp_path / "nope.key")})
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
