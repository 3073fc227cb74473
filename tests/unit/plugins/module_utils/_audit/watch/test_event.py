"""One watched event's fields decoded and named as the report shows them."""

from __future__ import annotations

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.event import (
    Names,
    decode_field,
    iso_epoch,
    iso_time,
    kernel_fields,
    new_event,
    process_entry,
    proctitle_text,
    syscall_name,
)
from ansible_collections.changeaudit.linux.tests.unit.plugins.module_utils._audit.watch.watch_lines import hexed

SYSCALL = ('type=SYSCALL msg=audit(1700000000.500:5): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=55 '
           'a2=441 a3=1b6 items=1 ppid=10 pid=11 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 '
           'tty=pts0 ses=7 comm=%s exe="/usr/bin/bash" key="k"\x1dARCH=x86_64 SYSCALL=openat AUID="deploy" UID="root"'
           % hexed("my vim"))


def test_fields_are_read_as_the_kernel_writes_them():
    assert decode_field("name", "(null)") is None and decode_field("name", hexed("a b")) == "a b"
    # Hex is decoded only in the fields the kernel writes as untrusted strings.
    assert decode_field("tty", "7074") == "7074" and decode_field("name", '"7074"') == "7074"
    assert proctitle_text('"vi"') == "vi" and proctitle_text(hexed("vi\0/etc/motd\0")) == "vi /etc/motd"
    type_name, fields, enriched = kernel_fields(SYSCALL.encode())
    assert type_name == "SYSCALL" and fields["comm"] == hexed("my vim") and enriched["AUID"] == "deploy"
    assert syscall_name(fields, enriched) == "openat"
    assert syscall_name({"arch": "40000003", "syscall": "5"}, {}) == "syscall-5"


def test_times_are_iso_8601_in_utc():
    assert iso_time(1700000000, "500") == "2023-11-14T22:13:20.500+00:00"
    assert iso_epoch(100.0) == "1970-01-01T00:01:40.000+00:00" and iso_epoch(100.9999) == "1970-01-01T00:01:40.999+00:00"


def test_the_fast_entry_of_a_process_is_the_entry_built_from_its_fields():
    _type, fields, enriched = kernel_fields(SYSCALL.encode())
    built = new_event((1700000000, "500", 5), fields, enriched, Names(), None)
    process = SYSCALL.encode().split(b" ppid=10 pid=11 ", 1)[1].split(b' key="k"', 1)[0]
    entry = process_entry(b"c000003e", b"257", process, SYSCALL.encode().split(b"\x1d", 1)[1], Names())
    own = ("timestamp", "time", "serial", "event_id", "success", "exit", "pid", "paths", "complete")
    assert list(entry) == list(built)
    assert {name: value for name, value in entry.items() if name not in own} == {
        name: value for name, value in built.items() if name not in own}
    assert entry["comm"] == "my vim" and entry["auid_name"] == "deploy" and entry["syscall"] == "openat"
