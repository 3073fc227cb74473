"""Issue 28 (7), for real: a NUL in a task or play name hides nothing under ``ausearch -i`` or auparse.

Both decode a hex value into a C string, so a NUL ended the name there; the record now holds the four characters
``\\x00`` in its place. A play with the record_changes callback on localhost names a task and its play with a NUL
(and with the other C0 controls and DEL, which stop neither); the whole name, with what followed the NUL, is read
back with ``ausearch -i`` and with auparse's ``interpret_field`` (play=, which neither interprets, from its hex).
"""

from __future__ import annotations

import json
import subprocess
import textwrap

from livelib import SYSTEM_PYTHON, ausearch_command, wait_for_lines
from test_fail_closed_live import ansible_env, localhost_play, output, run_playbook

# auparse's interpretation of the cmd and play fields of each USYS_CONFIG record whose raw cmd holds the marker as hex.
INTERPRET = r"""
import json, sys, auparse
marker = sys.argv[1].encode().hex().upper()
au = auparse.AuParser(auparse.AUSOURCE_LOGS)
found = []
while au.parse_next_event():
    au.first_record()
    while True:
        if au.get_type_name() == "USYS_CONFIG":
            fields = {}
            au.first_field()
            while True:
                try:
                    fields[au.get_field_name()] = (au.get_field_str(), au.interpret_field())
                except UnicodeDecodeError:
                    # Another record's field whose interpretation is not UTF-8 (the log holds every test's records).
                    fields[au.get_field_name()] = ("", None)
                if not au.next_field():
                    break
            if marker in fields.get("cmd", ("", ""))[0]:
                found.append({name: fields[name][1] for name in ("cmd", "play")})
        if not au.next_record():
            break
print(json.dumps(found))
"""


def test_a_nul_in_a_task_name_hides_nothing_under_ausearch_and_auparse(tmp_path, marker):
    task_name = "before\x00after NUL %s \x01\x1f\x7f end" % marker
    play_name = "play\x00after NUL %s" % marker
    dest = tmp_path / "nul-name"
    play = localhost_play("""
    name: %s
    vars:
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
    tasks:
      - name: %s
        ansible.builtin.copy: {dest: "%s", content: "x"}
    """ % (json.dumps(play_name), json.dumps(task_name), dest))
    proc = run_playbook(tmp_path, textwrap.dedent(play), ansible_env())
    assert proc.returncode == 0, output(proc)
    assert wait_for_lines(marker.encode().hex().upper())

    shown = "before\\x00after NUL %s" % marker
    lines = subprocess.run(ausearch_command("-m", "USYS_CONFIG", "-i"), capture_output=True, check=False).stdout
    interpreted = [line for line in lines.split(b"\n") if marker.encode() in line]
    assert len(interpreted) == 1, interpreted
    assert shown.encode() in interpreted[0], interpreted
    # play= is not in ausearch's table of fields it interprets: it shows the hex, which holds the whole name.
    assert ("play\\x00after NUL %s" % marker).encode().hex().upper().encode() in interpreted[0], interpreted
    assert b" end" in interpreted[0].split(b"cmd=", 1)[1], "the controls after the NUL hide nothing either"

    proc = subprocess.run([SYSTEM_PYTHON, "-c", INTERPRET, "after NUL %s" % marker], capture_output=True, text=True,
                          errors="surrogateescape", check=True)
    [fields] = json.loads(proc.stdout)
    assert fields["cmd"].startswith(shown) and fields["cmd"].endswith(" end"), fields
    # Nor does auparse interpret play=: its hex holds the whole name, the NUL as the characters \x00.
    assert bytes.fromhex(fields["play"]) == ("play\\x00after NUL %s" % marker).encode(), fields
