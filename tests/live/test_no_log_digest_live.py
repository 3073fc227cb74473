"""Issue 28 (5), for real: under no_log no digest of a value that anyone can recompute reaches the audit log.

A 4-digit PIN written with ``copy content=`` under no_log, through the record_changes callback and through audited,
with a diff: the module returns the sha1 of the content (``checksum``) and a diff holding it. Every hex string of
each record, as ausearch reads it and as auparse decodes its fields, is tried against the md5, sha1 and sha256 of
all 10,000 PINs; none may match. With the operator's key the record holds keyed hashes of the checksum and diff
(the key's holder recomputes them); without one it names them in ``withheld``, also where the operator accepts
plain hashes for hash_fields (``changeaudit_unkeyed_hashes``). A task outside no_log is the control: its plain
``sha1:`` checksum is in its record, and the same brute force finds its PIN.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import textwrap
import typing as t
import uuid

from livelib import auparse_records, ausearch_raw, wait_for_lines
from test_fail_closed_live import ansible_env, decode, output, run_playbook

# Every hex run long enough to be an md5 (32), sha1 (40) or sha256 (64) digest, or a longer run holding one.
HEX_RUN = re.compile(r"[0-9A-Fa-f]{32,}")
KEYED = re.compile(r"\Ahmac-sha256:([0-9a-f]{16}):([0-9a-f]{64})\Z")


def pin_digests() -> t.Dict[str, str]:
    """hex digest -> the PIN it is the md5, sha1 or sha256 of, for every 4-digit PIN."""
    table = {}
    for number in range(10000):
        pin = b"%04d" % number
        for algorithm in (hashlib.md5, hashlib.sha1, hashlib.sha256):
            table[algorithm(pin).hexdigest()] = pin.decode()
    return table


def brute_force(texts: t.Iterable[str], table: t.Mapping[str, str]) -> t.Set[str]:
    """The PINs whose digest appears anywhere in ``texts``: in any hex run (a digest may sit inside a longer one),
    and in the text of any hex run read as hex (a field written as hex holds a digest as hex of its text)."""
    found = set()
    pending = list(texts)
    while pending:
        text = pending.pop()
        for run in HEX_RUN.findall(text):
            lowered = run.lower()
            for size in (32, 40, 64):
                for start in range(len(lowered) - size + 1):
                    if lowered[start:start + size] in table:
                        found.add(table[lowered[start:start + size]])
            if len(run) % 2 == 0:
                pending.append(bytes.fromhex(run).decode("utf-8", "surrogateescape"))
    return found


def keyed(key: bytes, data: bytes) -> str:
    key_id = hmac.new(key, b"changeaudit.linux hash key id", hashlib.sha256).hexdigest()[:16]
    return "hmac-sha256:%s:%s" % (key_id, hmac.new(key, data, hashlib.sha256).hexdigest())


def play_text(marker: str, tmp_path: t.Any, pins: t.Mapping[str, str], key: str) -> str:
    plays = []
    settings = {
        "keyed": 'changeaudit_hash_key: "%s"' % key,
        "unkeyed": "changeaudit_test_case: unkeyed",
        "accepted": "changeaudit_unkeyed_hashes: true",
    }
    for case, setting in settings.items():
        plays.append("""
        - name: %(case)s
          hosts: localhost
          connection: local
          gather_facts: false
          vars:
            ansible_python_interpreter: "{{ ansible_playbook_python }}"
            %(setting)s
          tasks:
            - name: callback-%(case)s-%(m)s
              ansible.builtin.copy: {dest: "%(dir)s/callback-%(case)s", content: "%(pin_cb)s"}
              no_log: true
              diff: true
            - name: audited-%(case)s-%(m)s
              changeaudit.linux.audited:
                module: ansible.builtin.copy
                args: {dest: "%(dir)s/audited-%(case)s", content: "%(pin_act)s"}
              no_log: true
              diff: true
        """ % {"case": case, "setting": setting, "m": marker, "dir": tmp_path, "pin_cb": pins["callback-" + case],
               "pin_act": pins["audited-" + case]})
    plays.append("""
        - name: control
          hosts: localhost
          connection: local
          gather_facts: false
          vars:
            ansible_python_interpreter: "{{ ansible_playbook_python }}"
          tasks:
            - name: control-%(m)s
              ansible.builtin.copy: {dest: "%(dir)s/control", content: "%(pin)s"}
        """ % {"m": marker, "dir": tmp_path, "pin": pins["control"]})
    return textwrap.dedent("".join(plays))


def test_no_log_pin_has_no_recomputable_digest_in_the_record(tmp_path, marker):
    names = ["%s-%s" % (path, case) for case in ("keyed", "unkeyed", "accepted") for path in ("callback", "audited")]
    names.append("control")
    pins = dict(zip(names, ("%04d" % number for number in random.sample(range(10000), len(names)))))
    key = "k-" + uuid.uuid4().hex + uuid.uuid4().hex
    proc = run_playbook(tmp_path, play_text(marker, tmp_path, pins, key), ansible_env())
    assert proc.returncode == 0, output(proc)
    lines = wait_for_lines(marker, count=len(names))
    assert len(lines) == len(names), lines

    table = pin_digests()
    records = {}
    for name in names:
        [fields] = auparse_records("cmd", "%s-%s" % (name, marker))
        records[name] = {field: decode(value) for field, value in fields}
        [line] = [line for line in ausearch_raw(marker) if ('"%s-%s"' % (name, marker)) in line
                  or ("%s-%s" % (name, marker)).encode().hex().upper() in line]
        found = brute_force([line] + [value for _field, value in fields] + list(records[name].values()), table)
        if name == "control":
            # Outside no_log the sha1 of the content is evidence anyone recomputes: the brute force finds it.
            assert found == {pins[name]}, (found, line)
            assert records[name]["checksum"] == "sha1:" + hashlib.sha1(pins[name].encode()).hexdigest()
        else:
            assert not found, (name, found, line)
            assert pins[name] not in line and pins[name].encode().hex().upper() not in line, line

    raw_key = key.encode()
    for path in ("callback", "audited"):
        values = records["%s-keyed" % path]
        pin = pins["%s-keyed" % path].encode()
        assert "withheld" not in values, values
        # The key's holder recomputes the checksum's keyed hash from the file's sha1sum.
        assert values["checksum"] == keyed(raw_key, b"sha1:" + hashlib.sha1(pin).hexdigest().encode()), values
        assert KEYED.match(values["diff_sha256"]) and KEYED.match(values["object"]), values
        for name in ("checksum", "diff_sha256", "object"):
            assert KEYED.match(values[name]).group(1) == keyed(raw_key, b"")[12:28]
        for case in ("unkeyed", "accepted"):
            values = records["%s-%s" % (path, case)]
            assert values["withheld"] == "object,checksum,diff", values
            assert not {"object", "checksum", "diff_sha256"} & set(values), values
            assert not [value for value in values.values() if value.startswith(("sha1:", "sha256:", "hmac-"))], values
