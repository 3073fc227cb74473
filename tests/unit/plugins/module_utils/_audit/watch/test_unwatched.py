"""Whether the watch held over a span: the rule changes, daemon stops and lost records that break it."""

from __future__ import annotations

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.unwatched import unwatched_spans
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.watch import rules_hash

KEY = "changeaudit-watch"


STATE = {"installed": 100.0, "count": 2, "rules_sha256": None, "lost": 0, "boot_id": "b1",
         "loads": [{"start": 100.0, "end": 100.2, "count": 2, "ses": 5}]}


def spans(changes=(), state=None, now_rules=None, status=None, log_start=None, start=50.0, end=1000.0):
    state = dict(state or STATE)
    rules = now_rules if now_rules is not None else {"/a": 10, "/b": 10}
    state["rules_sha256"] = rules_hash({"/a": 10, "/b": 10}, KEY)
    return [(span["start"], span["end"], span["reason"]) for span in unwatched_spans(
        start, end, state, list(changes), log_start, rules, status or {"enabled": 1, "lost": 0}, KEY, now=1000.0,
        current_boot="b1")]


def change(when, op, ses=9, **extra):
    return dict({"type": "CONFIG_CHANGE", "timestamp": when, "op": op, "key": KEY, "auid": 0, "ses": ses}, **extra)


def test_before_the_install_is_not_watched_and_a_clean_watch_has_no_other_span():
    assert spans() == [(50.0, 100.0, "the watch was installed at 1970-01-01T00:01:40.000+00:00")]
    assert spans(start=150.0) == []


def test_a_rule_removed_by_someone_else_is_unwatched_until_it_is_back():
    found = spans([change(300.0, "remove_rule", exe="/usr/sbin/auditctl"), change(400.0, "add_rule")], start=150.0)
    assert [(low, high) for low, high, _why in found] == [(300.0, 400.0)]
    assert "removed" in found[0][2] and "ses 9" in found[0][2] and "auditctl" in found[0][2]
    # Never back: to the end of the span.
    assert [(low, high) for low, high, _why in spans([change(300.0, "remove_rule")], start=150.0)] == [(300.0, 1000.0)]


def test_the_watch_roles_own_changes_are_not_a_break():
    assert spans([change(100.1, "remove_rule", ses=5), change(100.15, "add_rule", ses=5)], start=150.0) == []
    # In the window, but from another session: not the role's.
    assert spans([change(100.1, "remove_rule", ses=6)], start=150.0) != []


def test_a_rule_added_by_someone_else_is_a_change():
    [(low, high, why)] = spans([change(300.0, "add_rule")], start=150.0)
    assert low == high == 300.0 and "added" in why


def test_auditing_disabled_auditd_stopped_lost_records_and_other_rules_now():
    disabled = {"type": "CONFIG_CHANGE", "timestamp": 300.0, "op": "set", "audit_enabled": 0, "auid": 0, "ses": 9}
    enabled = dict(disabled, timestamp=310.0, audit_enabled=1)
    stopped = {"type": "DAEMON_END", "timestamp": 500.0, "op": "terminate"}
    started = {"type": "DAEMON_START", "timestamp": 520.0, "op": "start"}
    found = spans([disabled, enabled, stopped, started], start=150.0)
    assert [(low, high) for low, high, _why in found] == [(300.0, 310.0), (500.0, 520.0)]
    [(low, high, why)] = spans(status={"enabled": 1, "lost": 4}, start=150.0)
    assert (low, high) == (150.0, 1000.0) and "lost 4" in why
    [(low, high, why)] = spans(now_rules={"/a": 10}, start=150.0)
    assert "not those the watch role installed" in why


def test_no_watch_and_a_short_log():
    [span] = unwatched_spans(50.0, 100.0, None, [], None, {}, None, KEY)
    assert (span["start"], span["end"]) == (50.0, 100.0) and "no watch" in span["reason"]
    assert (150.0, 200.0, "the audit log (with its rotations) begins at 1970-01-01T00:03:20.000+00:00") in spans(
        start=150.0, log_start=200.0)
