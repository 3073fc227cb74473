from __future__ import annotations

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch import watch_events
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.watch_events import read_watch_events
from ansible_collections.changeaudit.linux.tests.unit.plugins.module_utils._audit.watch.watch_lines import event


def test_the_modules_read_with_a_baseline_keeps_the_changes_that_can_explain_a_write(tmp_path, monkeypatch):
    from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch import watch

    def usys(serial, obj):
        return ("type=USYS_CONFIG msg=audit(1700000000.%03d:%d): pid=5 uid=0 auid=1000 ses=3 msg='op=ansible-change:x "
                'object="%s" task_id="t" seq="1" run_id="r" exe="/usr/bin/python3" hostname=c addr=? terminal=? '
                "res=success'" % (600 + serial, serial, obj))

    lines = event(1, stamp=1700000000.5, name="/etc/app/conf.d/x") + [
        usys(2, "/etc/app/conf.d/x"), usys(3, "/etc/app"), usys(4, "/srv/other"), usys(5, "/etc/application")]
    log = tmp_path / "audit.log"
    log.write_text("\n".join(lines) + "\n")
    state_file = str(tmp_path / "state.json")
    watch.write_state({"installed": 1600000000.0, "count": 1, "paths": ["/etc/app/conf.d"], "lost": 0, "boot_id": "b",
                       "rules_sha256": watch.rules_hash({"/etc/app/conf.d": 10}), "loads": []}, state_file)
    monkeypatch.setattr(watch_events, "_kernel_now", lambda key: ({"enabled": 1, "lost": 0}, {"/etc/app/conf.d": 10}, None))
    monkeypatch.setattr(watch_events, "boot_id", lambda: "b")
    result = read_watch_events({"path": str(log), "include_rotated": False, "since": "1700000000.5",
                                "until": "1700000001", "state_file": state_file})
    assert [record["object"] for record in result["records"]] == ["/etc/app/conf.d/x", "/etc/app"]
    assert result["unwatched"] == [] and result["watched"] is True and len(result["events"]) == 1
    assert result["watched_paths"][0]["path"] == "/etc/app/conf.d"
