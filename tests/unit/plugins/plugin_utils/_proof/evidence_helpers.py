"""What the tests of the evidence and of its report's formats reconcile: ledger lines, records as usys_config_info
reads them, and a reconciliation holding any text."""

from __future__ import annotations

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _evidence as evidence

RUN = "run-9"


def intent(host, seq, **extra):
    return dict({"kind": "intent", "host": host, "seq": seq, "time": "2026-12-03T10:00:%02d.000+00:00" % seq,
                 "task_id": "t-%d" % seq, "module": "ansible.builtin.copy", "object": "/etc/f%d" % seq, "cmd": "Task %d" % seq},
                **extra)


def outcome(host, seq, said, **extra):
    return dict({"kind": "outcome", "host": host, "seq": seq, "outcome": said}, **extra)


def record(seq, run=RUN, serial=100, **fields):
    values = {"run_id": run, "module": "ansible.builtin.copy", "object": "/etc/f%s" % seq, "cmd": "Task %s" % seq,
              "task_id": "t-%s" % seq}
    if seq is not None:
        values["seq"] = str(seq)
    values.update(fields)
    return {"timestamp": 1796292000.5 + (seq or 0), "serial": serial + (seq or 0), "event_id": "x:%s" % serial,
            "hostname": "ctl", "node": None, "auid_name": "alice", "fields": values}


# What the check of a whole, sealed ledger reports (_ledger.open_ledger).
SEALED = {"problems": [], "sealed": True, "final": True, "head": "f" * 64, "lines": 9, "keyed": True}


def statuses(result):
    return [(row["host"], row["seq"], row["status"]) for row in result["changes"]]


HOSTILE = '<script>alert(1)</script>=cmd|" ,\n&amp;'


HOSTILE_TEXTS = [
    ("nul", "a\x00b", "a\\x00b"),
    ("c0", "".join(chr(code) for code in range(0x20)), "".join("\\x%02x" % code for code in range(0x20))),
    ("del and c1", "\x7f\x80\x85\x9f", "\\x7f\\x80\\x85\\x9f"),
    ("undecodable bytes", b"\xff\xfe\x80 caf\xc3".decode("utf-8", "surrogateescape"), "\\xff\\xfe\\x80 caf\\xc3"),
    ("lone surrogates", "\ud800x\udfff", "\\ud800x\\udfff"),
    ("noncharacters", "\ufffe\uffff\ufdd0\U0010ffff", "\\ufffe\\uffff\\ufdd0\\U0010ffff"),
    ("line breaks", "one\r\ntwo\u2028three\u2029", "one\\x0d\\x0atwo\\u2028three\\u2029"),
    ("markup", "]]><x a='&amp;'/>\"", "]]><x a='&amp;'/>\""),
    ("plain unicode", "\u00e9\U0001f525\u202e", "\u00e9\U0001f525\u202e"),
]


def hostile_evidence(text):
    host = "web\x00" + text
    ledger = [intent(host, 1, cmd=text, object=text), outcome(host, 1, "recorded"),
              intent(host, 2, cmd="=" + text), intent("web2", 1, cmd=text)]
    reads = {host: {"reachable": True, "records": [record(1, cmd=text, object=text, become_user=text)]},
             "web2": {"reachable": False, "records": [], "error": text}}
    result = evidence.reconcile(RUN + text, ledger, reads, SEALED)
    # A reason with any text: a gap's failure text in junit.xml.
    for row in result["changes"]:
        if row["status"] != "recorded":
            row["reason"] = "why\n\t" + text
    return result
