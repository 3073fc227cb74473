from __future__ import annotations

import csv
import io
import json
import os
from xml.etree import ElementTree

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _drift
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._drift_rows import failed
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report import DRIFT, report_files


def event(serial, stamp, name, pid=100, ses=None, auid=4294967295, action="write", syscall="openat", nametype="NORMAL",
          inode=42, success=True, extra_paths=(), cwd="/root", comm="python3", proctitle="python3 AnsiballZ_copy.py"):
    paths = [{"name": item_name, "nametype": item_type, "inode": item_inode} for item_name, item_type, item_inode in extra_paths]
    paths.append({"name": name, "nametype": nametype, "inode": inode})
    return {"serial": serial, "timestamp": stamp, "time": _drift.utc(stamp), "event_id": "%s:%d" % (stamp, serial),
            "pid": pid, "ses": ses, "auid": auid, "auid_name": "unset", "uid": 0, "uid_name": "root", "tty": None,
            "exe": "/usr/bin/" + comm, "comm": comm, "proctitle": proctitle, "cwd": cwd, "paths": paths,
            "action": action, "syscall": syscall, "success": success, "exit": 0 if success else -13}


def record(stamp, obj, ses=None, auid=4294967295, seq="1", run_id="r1", task_id="t1"):
    return {"timestamp": stamp, "time": _drift.utc(stamp), "serial": 900, "object": obj, "ses": ses, "auid": auid,
            "run_id": run_id, "task_id": task_id, "seq": seq, "module": "ansible.builtin.copy", "result": "success"}


def read(events, records, watched=("/etc/motd",), unwatched=()):
    return {"events": events, "records": records, "unwatched": list(unwatched),
            "watched_paths": [{"path": path, "inode": 42 if path == "/etc/motd" else None} for path in watched]}


def statuses(rows):
    return [(row["serial"], row["status"]) for row in rows]


def test_a_write_of_the_change_in_its_session_and_time_is_explained():
    rows = _drift.classify_host("h", read([event(1, 1000.0, "/etc/motd")], [record(1000.5, "/etc/motd")]), {})
    assert statuses(rows) == [(1, "explained")]
    assert rows[0]["explained_by"]["start_from"] == "window" and rows[0]["object"] == "/etc/motd"


def test_after_the_record_before_the_intent_or_in_another_session_is_out_of_band():
    events = [event(1, 1001.0, "/etc/motd"), event(2, 990.0, "/etc/motd"), event(3, 1000.2, "/etc/motd", ses=12, auid=0)]
    intents = {("r1", "t1", "1"): 995.0}
    rows = _drift.classify_host("h", read(events, [record(1000.5, "/etc/motd")]), intents, clock_skew=2.0)
    assert statuses(rows) == [(2, "out_of_band"), (3, "out_of_band"), (1, "out_of_band")]
    reasons = {row["serial"]: row["reason"] for row in rows}
    assert "at that time" in reasons[1] and "at that time" in reasons[2] and "another session" in reasons[3]


def test_the_ledgers_intent_bounds_the_start():
    events = [event(1, 996.0, "/etc/motd")]
    assert statuses(_drift.classify_host("h", read(events, [record(1000.5, "/etc/motd")]), {("r1", "t1", "1"): 997.0},
                                         clock_skew=0.5)) == [(1, "out_of_band")]
    assert statuses(_drift.classify_host("h", read(events, [record(1000.5, "/etc/motd")]), {("r1", "t1", "1"): 997.0},
                                         clock_skew=2.0)) == [(1, "explained")]


def test_a_temp_file_renamed_over_the_object_by_the_same_process_is_explained():
    events = [
        event(1, 1000.0, "/etc/.ansible_tmpab12motd", nametype="CREATE", inode=50),
        event(2, 1000.1, "/etc/motd", action="rename", syscall="rename", nametype="CREATE", inode=50,
              extra_paths=[("/etc/", "PARENT", 2), ("/etc/.ansible_tmpab12motd", "DELETE", 50)]),
        # Another process, same directory, same time: not the change's.
        event(3, 1000.2, "/etc/.other", pid=101, nametype="CREATE", inode=51),
    ]
    rows = _drift.classify_host("h", read(events, [record(1000.5, "/etc/motd")], watched=("/etc",)), {})
    assert statuses(rows) == [(1, "explained"), (2, "explained"), (3, "out_of_band")]
    assert "temp file" in rows[0]["reason"] and rows[1]["path"] == "/etc/motd"


def test_a_write_through_a_hard_link_is_on_the_watched_object_and_out_of_band():
    rows = _drift.classify_host("h", read([event(1, 1000.0, "/tmp/hl", inode=42)], [record(1000.5, "/etc/motd")]), {})
    assert statuses(rows) == [(1, "out_of_band")] and rows[0]["path"] == "/tmp/hl" and rows[0]["object"] == "/etc/motd"


def test_a_refused_call_is_denied_and_relative_names_take_the_cwd():
    rows = _drift.classify_host("h", read([event(1, 1000.0, "motd", cwd="/etc", success=False)], []), {})
    assert statuses(rows) == [(1, "denied")] and rows[0]["path"] == "/etc/motd"


def test_a_directory_object_explains_writes_under_it():
    rows = _drift.classify_host("h", read([event(1, 1000.0, "/etc/app/conf.d/x")], [record(1000.5, "/etc/app")],
                                          watched=("/etc/app",)), {})
    assert statuses(rows) == [(1, "explained")]


HOSTILE = "x\x1b[31m\u202e\udcff=cmd|' /C calc'!A0\n<script>"


def report(tmp_path=None):
    web1 = read([event(1, 1000.0, "/etc/motd"), event(2, 2000.0, "/etc/motd", proctitle=HOSTILE)], [record(1000.5, "/etc/motd")])
    span = {"start": 1.0, "end": 2.0, "start_time": "s", "end_time": "e", "reason": "removed"}
    reads = {
        "web1": {"reachable": True, "result": dict(web1, since_time="a", until_time="b")},
        "web2": {"reachable": True, "result": read([], [], unwatched=[span])},
        "web3": {"reachable": False, "error": "unreachable: ssh"},
    }
    return _drift.classify(reads, {})


def test_the_summary_verdict_and_hosts():
    drift = report()
    assert {key: drift["summary"][key] for key in ("explained", "out_of_band", "denied", "hosts", "not_watched_hosts")} == {
        "explained": 1, "out_of_band": 1, "denied": 0, "hosts": 3, "not_watched_hosts": 2}
    assert drift["verdict"].startswith("Not clean: 1 write made outside Ansible; not watched") and failed(drift["summary"])
    assert drift["hosts"]["web3"]["watched"] is False and "ssh" in drift["hosts"]["web3"]["unwatched"][0]["reason"]
    clean = _drift.classify({"h": {"reachable": True, "result": read([], [])}}, {})
    assert not failed(clean["summary"]) and clean["verdict"].startswith("Every write")


def test_the_report_files(tmp_path):
    drift = report()
    sums = _drift.write_report(drift, str(tmp_path / "r"))
    assert sorted(sums) == sorted(report_files(DRIFT))
    assert all(os.stat(str(tmp_path / "r" / name)).st_mode & 0o777 == 0o640 for name in sums)
    with open(str(tmp_path / "r" / "drift.json"), encoding="utf-8") as handle:
        assert json.load(handle)["summary"]["out_of_band"] == 1
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r" / "drift.csv").read_text(encoding="utf-8"))))
    assert len(rows) == 2 and "\n" not in rows[1]["proctitle"] and "\x1b" not in rows[1]["proctitle"]
    suites = ElementTree.parse(str(tmp_path / "r" / "junit.xml")).getroot()
    by_name = {suite.get("name"): suite for suite in suites}
    assert (by_name["web1"].get("tests"), by_name["web1"].get("failures")) == ("2", "1")
    assert by_name["web2"].get("errors") == "1" and by_name["web3"].get("errors") == "1"
    page = (tmp_path / "r" / "drift.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page and "\\x1b" in page and "\\udcff" not in page
    assert "src=" not in page and "<link" not in page


def test_a_report_directory_that_is_a_symlink_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(str(tmp_path / "real"), str(tmp_path / "link"))
    with pytest.raises(_drift.AnsibleError) as caught:
        _drift.write_report(report(), str(tmp_path / "link"))
    assert "symlink" in str(caught.value)
