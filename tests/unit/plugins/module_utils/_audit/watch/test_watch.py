from __future__ import annotations

import json
import os

import pytest

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch import watch
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError, AuditInvalidInputError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.rules import (
    F_DIR,
    F_FILTERKEY,
    F_PERM,
    F_WATCH,
    OP_EQUAL,
    AuditRule,
    RuleField,
)


def watch_rule(path, key=watch.WATCH_KEY, directory=False):
    return AuditRule(4, 2, (RuleField(F_DIR if directory else F_WATCH, OP_EQUAL, len(path), path),
                            RuleField(F_PERM, OP_EQUAL, 10), RuleField(F_FILTERKEY, OP_EQUAL, len(key), key)))


def test_paths_are_normalized_sorted_and_unique():
    assert watch.normalize_paths(["/etc/ssh/sshd_config", "/etc//sudoers.d/", "/etc/ssh/sshd_config"]) == [
        "/etc/ssh/sshd_config", "/etc/sudoers.d"]


@pytest.mark.parametrize("path, words", [
    ("etc/motd", "not an absolute path"),
    ("/etc/my file", "white space"),
    ("/etc/x\ny", "white space"),
    ("/etc/../shadow", "'..'"),
    ("/", "root directory"),
    (3, "not an absolute path"),
])
def test_bad_paths_are_refused_with_the_reason(path, words):
    with pytest.raises(AuditInvalidInputError) as caught:
        watch.normalize_paths([path])
    assert words in str(caught.value)


def test_more_paths_than_the_maximum_is_a_clear_error():
    with pytest.raises(AuditInvalidInputError) as caught:
        watch.normalize_paths(["/srv/f%d" % n for n in range(11)], max_rules=10)
    assert "11 paths to watch, more than the maximum of 10" in str(caught.value) and "max_rules" in str(caught.value)


@pytest.mark.parametrize("key", ["", "a b", 'a"b', "x" * 257, "k\x01"])
def test_bad_keys_are_refused(key):
    with pytest.raises(AuditInvalidInputError):
        watch.check_key(key)


def test_the_rules_file_has_one_watch_per_path():
    text = watch.render_rules(["/etc/a", "/etc/b"])
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        "-w /etc/a -p wa -k changeaudit-watch", "-w /etc/b -p wa -k changeaudit-watch"]


def test_loaded_watches_of_the_key_are_found_files_and_directories():
    rules = [watch_rule("/etc/a"), watch_rule("/etc/d", directory=True), watch_rule("/etc/b", key="other"),
             AuditRule(4, 2, (RuleField(F_FILTERKEY, OP_EQUAL, 17, "changeaudit-watch"),))]
    assert watch.watched_by_key(rules) == {"/etc/a": 10, "/etc/d": 10}
    assert watch.other_watches(rules, ["/etc/b", "/etc/a"]) == ["/etc/b"]
    # A rule with several keys (-k a -k b) counts for each.
    both = AuditRule(4, 2, (RuleField(F_WATCH, OP_EQUAL, 6, "/etc/c"), RuleField(F_PERM, OP_EQUAL, 10),
                            RuleField(F_FILTERKEY, OP_EQUAL, 23, "scope\x01changeaudit-watch")))
    assert watch.watched_by_key([both]) == {"/etc/c": 10}


def test_the_rule_hash_depends_on_the_set_only():
    assert watch.rules_hash({"/a": 10, "/b": 10}) == watch.rules_hash({"/b": 10, "/a": 10}) != watch.rules_hash({"/a": 10})


def refuse_to_run(argv):
    raise AssertionError("nothing was to be run: %s" % argv)


def fake_kernel(monkeypatch, status, rules):
    monkeypatch.setattr(watch, "_kernel", lambda: (dict(status), list(rules)))


def params(tmp_path, **extra):
    values = {"paths": [str(tmp_path / "f")], "state": "present", "rules_file": str(tmp_path / "rules.d" / "70.rules"),
              "state_file": str(tmp_path / "state" / "watch.json"), "loader": "auditctl", "max_rules": 1000}
    values.update(extra)
    return values


def test_locked_rules_are_refused_naming_the_cause_and_the_fix(tmp_path, monkeypatch):
    (tmp_path / "rules.d").mkdir()
    fake_kernel(monkeypatch, {"enabled": 2, "lost": 0}, [])
    with pytest.raises(AuditError) as caught:
        watch.apply(params(tmp_path), refuse_to_run, check_mode=True)
    message = str(caught.value)
    assert "locked until the next boot" in message and "enabled 2" in message and "reboot" in message
    assert not (tmp_path / "rules.d" / "70.rules").exists()


def test_check_mode_writes_nothing_and_says_what_would_be_loaded(tmp_path, monkeypatch):
    (tmp_path / "rules.d").mkdir()
    fake_kernel(monkeypatch, {"enabled": 1, "lost": 0}, [watch_rule("/gone")])
    result = watch.apply(params(tmp_path), refuse_to_run, check_mode=True, diff=True)
    assert result["changed"] and result["added"] == [str(tmp_path / "f")] and result["removed"] == ["/gone"]
    assert "-w %s -p wa -k changeaudit-watch" % (tmp_path / "f") in result["diff"]["after"]
    assert not (tmp_path / "rules.d" / "70.rules").exists() and not (tmp_path / "state").exists()


def test_nothing_to_do_is_unchanged(tmp_path, monkeypatch):
    (tmp_path / "rules.d").mkdir()
    path = str(tmp_path / "f")
    (tmp_path / "rules.d" / "70.rules").write_text(watch.render_rules([path]))
    fake_kernel(monkeypatch, {"enabled": 1, "lost": 0}, [watch_rule(path)])
    watch.write_state({"key": watch.WATCH_KEY, "rules_sha256": watch.rules_hash({path: 10}), "boot_id": watch.boot_id()},
                      str(tmp_path / "state" / "watch.json"))
    assert watch.apply(params(tmp_path), refuse_to_run)["changed"] is False


def test_a_path_whose_directory_is_missing_is_refused(tmp_path, monkeypatch):
    (tmp_path / "rules.d").mkdir()
    fake_kernel(monkeypatch, {"enabled": 1, "lost": 0}, [])
    with pytest.raises(AuditError) as caught:
        watch.apply(params(tmp_path, paths=[str(tmp_path / "no" / "such" / "f")]), refuse_to_run)
    assert "does not exist" in str(caught.value) and "Create the directory" in str(caught.value)


def test_the_state_file_is_root_only_and_one_others_could_write_is_refused(tmp_path):
    state = str(tmp_path / "state" / "watch.json")
    watch.write_state({"installed": 1.5}, state)
    assert os.stat(state).st_mode & 0o777 == 0o600 and os.stat(os.path.dirname(state)).st_mode & 0o777 == 0o700
    assert watch.read_state(state) == {"installed": 1.5}
    if os.geteuid() == 0:
        os.chmod(state, 0o644)
        with pytest.raises(AuditError) as caught:
            watch.read_state(state)
        assert "could have been written by someone else" in str(caught.value)
    assert watch.read_state(str(tmp_path / "none.json")) is None
    (tmp_path / "bad.json").write_text(json.dumps([1]))
    os.chmod(str(tmp_path / "bad.json"), 0o600)


def test_the_loader_is_augenrules_only_in_rules_d(tmp_path):
    assert watch.choose_loader("auditctl", watch.RULES_FILE) == "auditctl"
    assert watch.choose_loader("auto", str(tmp_path / "x.rules")) == "auditctl"
    with pytest.raises(AuditInvalidInputError):
        watch.choose_loader("other", watch.RULES_FILE)


def test_a_failing_loader_is_an_error_naming_its_output(tmp_path, monkeypatch):
    (tmp_path / "rules.d").mkdir()
    fake_kernel(monkeypatch, {"enabled": 1, "lost": 0}, [])
    with pytest.raises(AuditError) as caught:
        watch.apply(params(tmp_path), lambda argv: (1, "Error sending add rule data request (Rule exists)"))
    assert "failed (rc 1)" in str(caught.value) and "Rule exists" in str(caught.value)
