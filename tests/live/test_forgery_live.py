"""Hostile inputs of every kind through both backends to the real kernel, each record checked by both oracles.

One batch (about 150 records) is generated with hypothesis, written in-process as root under the audit lock
through the libaudit and the netlink backend, then read back from the logs:

- auparse (python3-audit, /usr/bin/python3, one parse for the whole batch) must split every record into
  exactly the fields sent, in order, with the values sent;
- ausearch with -sv, -x, -c, -hn, -tm, -ui and -ua (whole-word matching) must find exactly the records
  that carry the value asked for, and none for the values that only appear forged inside a field value.

Whatever the validators refuse must be an AuditError and must leave no record behind.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import time
import typing as t
import uuid

import pytest
from livelib import (
    AUDIT_PREFIX,
    SYSTEM_PYTHON,
    audit_state,
    auparse_records,
    ausearch_command,
    ausearch_since,
    msg_text,
    run_probe,
    wait_for_lines,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send import backend_libaudit, backends, write
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import AUDIT_MESSAGE_TEXT_MAX
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import (
    COMM_PATTERN,
    HOSTNAME_PATTERN,
    TERMINAL_PATTERN,
    decode_value,
    encode_trailer_value,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.fieldnames import is_valid_field_name
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.values import value_bytes
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import (
    AuditError,
    AuditInvalidInputError,
    AuditRecordTooLongError,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.record import UserRecord, executable

RUN = "fz" + uuid.uuid4().hex[:12]
BACKENDS = ("libaudit", "netlink")

# What forged fields would say; no real record of the batch carries any of these.
FORGED = {
    "exe": "/frg/bin/sshd",
    "comm": "frgcomm",
    "hostname": "frg-host",
    "terminal": "frgtty",
    "uid": "4242",
    "auid": "4243",
}
FORGED_TEXT = [
    "x' res=failed uid=%(uid)s auid=%(auid)s exe=%(exe)s comm=%(comm)s hostname=%(hostname)s terminal=%(terminal)s"
    % FORGED,
    "\" res=failed exe=\"%(exe)s\" comm=\"%(comm)s\" hostname=%(hostname)s addr=10.9.9.9 terminal=%(terminal)s'"
    % FORGED,
    "\ntype=USYS_CONFIG msg=audit(1.0:1): pid=1 uid=%(uid)s auid=%(auid)s ses=1 msg='op=x res=failed'" % FORGED,
    "\x1dUID=\"root\" AUID=\"root\" res=failed",
    " uid=%(uid)s" % FORGED,
    "res=failed",
    "'",
    "=",
    "\x00\x7f\x01\x1d",
    "\udcff\udcfe not utf-8",
]
HOSTILE_CHARS = st.sampled_from(list(" '\"=\\,:;)(\x00\x01\x09\x0a\x0d\x1d\x1f\x7f\x80\xa0é✓") + ["\udcff", "\udc80"])
hostile_text = st.lists(
    st.one_of(HOSTILE_CHARS, st.sampled_from(FORGED_TEXT), st.text(max_size=4)), max_size=6
).map("".join)
values = st.one_of(
    hostile_text,
    st.text(max_size=20),
    st.binary(max_size=16),
    st.binary(max_size=16).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.one_of(st.integers(), hostile_text), max_size=3),
    st.dictionaries(st.text(max_size=4), hostile_text, max_size=3),
)
names = st.one_of(
    st.from_regex(r"\A[a-z][a-z0-9_]{0,12}\Z"),
    # Valid names close to what ausearch searches for.
    st.sampled_from(["uid_x", "exe_path", "comm_name", "hostname_y", "res_z", "result_code", "task_id", "ctl_login_id",
                     "path", "key", "xgid", "id", "vm_x"]),
).filter(lambda name: is_valid_field_name(name) and name != "fz")
# Valid trailer values; one slot per record may get hostile text instead (HOSTILE_SLOTS).
trailer_values = {
    "comm": st.one_of(st.none(), st.from_regex(COMM_PATTERN)),
    "hostname": st.one_of(st.none(), st.from_regex(HOSTNAME_PATTERN).map(lambda h: h[:40])),
    "terminal": st.one_of(st.none(), st.from_regex(TERMINAL_PATTERN), st.sampled_from(["pts/3", "tty2", "/dev/tty7"])),
    # A hostname without addr would be resolved through DNS: always give one.
    "addr": st.ip_addresses().map(str),
}
HOSTILE_SLOTS = (None, None, None, None, "op", "comm", "hostname", "terminal", "addr", "name")
bad_names = st.one_of(
    st.sampled_from(["xuid", "my_exe", "childres", "telecomm", "ipaddr", "src_hostname", "xsubj", "processes",
                     "pid", "uid", "res", "op", "type", "msg", "node", "Upper", "a b", "a=b", "x'", "é", ""]),
    st.from_regex(r"\A[a-z][a-z0-9_]{0,6}\Z").map(lambda n: n + st_suffix_token(n)),
)
_TOKENS = ("uid", "auid", "pid", "ses", "subj", "comm", "exe", "hostname", "addr", "cwd", "terminal", "res", "result",
           "acct", "vm", "uuid", "loginuid")


def st_suffix_token(name: str) -> str:
    return _TOKENS[sum(map(ord, name)) % len(_TOKENS)]


class Case(t.NamedTuple):
    index: int
    backend: str
    op: str
    fields: t.Dict[str, t.Any]
    comm: t.Optional[str]
    hostname: t.Optional[str]
    addr: t.Optional[str]
    terminal: t.Optional[str]
    success: bool


def generate(count: int) -> t.List[t.Dict[str, t.Any]]:
    drawn: t.List[t.Dict[str, t.Any]] = []

    @settings(
        max_examples=4, database=None, phases=[Phase.generate], deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def collect(data: t.Any) -> None:
        # The first example hypothesis generates is the simplest one: draw from every example.
        for _draw in range(count // 4):
            hostile = data.draw(st.sampled_from(HOSTILE_SLOTS))
            spec = dict(
                backend=data.draw(st.sampled_from(BACKENDS)),
                op=data.draw(st.from_regex(r"\Afz-[a-z0-9_.:\-]{0,20}[a-z0-9]\Z")),
                fields=data.draw(st.dictionaries(names, values, max_size=5)),
                bad_name=data.draw(bad_names) if hostile == "name" else None,
                success=data.draw(st.booleans()),
                **{key: data.draw(strategy) for key, strategy in trailer_values.items()},
            )
            if hostile in trailer_values or hostile == "op":
                spec[hostile] = data.draw(hostile_text)
            drawn.append(spec)

    collect()
    return drawn


def fixed_cases() -> t.List[t.Dict[str, t.Any]]:
    """The kinds every run must hold, whatever hypothesis draws."""
    cases = []
    for backend in BACKENDS:
        for text in FORGED_TEXT:
            cases.append(dict(backend=backend, op="fz-forged", fields={"note": text, "raw": text.encode("utf-8", "surrogateescape")},
                              comm="ansible", hostname=None, addr=None, terminal=None, success=True))
        cases.append(dict(backend=backend, op="fz-nohost", fields={"v": "tty"}, comm=None, hostname=None, addr=None,
                          terminal="pts/9", success=False))
        cases.append(dict(backend=backend, op="fz-resolve", fields={"v": "localhost"}, comm="c", hostname="localhost",
                          addr=None, terminal="tty3", success=True))
        cases.append(dict(backend=backend, op="fz-v6", fields={"v": "::"}, comm="c", hostname=None, addr="2001:db8::",
                          terminal=None, success=True))
        cases.append(dict(backend=backend, op="fz-context", fields={"task_id": "u-1", "ctl_login_id": 1000, "key": "k=v 'q'",
                                                                    "path": "/a b"},
                          comm="c", hostname="ctl", addr="10.0.0.1", terminal=None, success=True))
        cases.append(dict(backend=backend, op="fz-types", fields={
            "n": None, "b": True, "i": -(10 ** 20), "f": 0.1, "l": ["a b", 1, None], "d": {"z": "'", "a": "é"},
            "by": bytearray(b"\x00\xff"), "mv": memoryview(b"\x7f")}, comm="c", hostname=None, addr=None,
            terminal=None, success=True))
        cases.append(dict(backend=backend, op="fz-max", fields={"fill": ""}, comm="c", hostname="h", addr="10.0.0.2",
                          terminal="t", success=True, fill_to_max=True))
    valid = dict(backend="netlink", op="fz-refuse", fields={}, comm="c", hostname=None, addr=None, terminal=None,
                 success=True, must_refuse=True)
    for change in [
        dict(addr="fe80::1%x' res=failed"), dict(addr="fe80::1%eth0"), dict(hostname="h' res=failed"),
        dict(hostname="h res=failed"), dict(hostname="h:"), dict(terminal="pts/1 res=failed"), dict(terminal="pts/1:"),
        dict(comm='a" res=failed'), dict(comm="-bash"), dict(op="x res=failed"), dict(op="x:"), dict(op=None),
        dict(fields={"xuid": "0"}), dict(fields={"my_exe": "/frg"}), dict(fields={"childres": "failed"}),
        dict(fields={"src_hostname": "h"}), dict(fields={"v": "\ud800"}), dict(fields={"v": {1, 2}}),
        dict(fields={"v": float("nan")}), dict(fields={"v": object()}), dict(fields={"key": "a\x01b"}),
        dict(fields={3: "x"}), dict(fields=["v"]), dict(success="failed"), dict(fields={"v": "y" * 9000}),
    ]:
        cases.append(dict(valid, **change))
    return cases


def build(spec: t.Dict[str, t.Any], index: int) -> t.Tuple[t.Union[UserRecord, AuditError], t.Dict[str, t.Any]]:
    fields: t.Any = {"fz": "%s-%d" % (RUN, index)}
    if spec.get("bad_name") is not None:
        fields[spec["bad_name"]] = "bad-name"
    if isinstance(spec["fields"], dict):
        fields.update(spec["fields"])
    else:
        fields = spec["fields"]
    kwargs = dict(comm=spec["comm"], hostname=spec["hostname"], addr=spec["addr"], terminal=spec["terminal"],
                  success=spec["success"])
    try:
        record = UserRecord(spec["op"], fields, **kwargs)
        if spec.get("fill_to_max"):
            fields["fill"] = "y" * (AUDIT_MESSAGE_TEXT_MAX - len(record.text))
            record = UserRecord(spec["op"], fields, **kwargs)
            assert len(record.text.encode()) == AUDIT_MESSAGE_TEXT_MAX
    except AuditError as exc:
        assert isinstance(exc, (AuditInvalidInputError, AuditRecordTooLongError)), exc
        return exc, fields
    return record, fields


@pytest.fixture(scope="module")
def batch(tmp_path_factory: t.Any) -> t.Dict[str, t.Any]:
    write.preflight()
    started = time.time()
    specs = fixed_cases() + generate(160)
    written: t.Dict[str, t.Tuple[t.Dict[str, t.Any], UserRecord, t.Dict[str, t.Any]]] = {}
    refused: t.List[t.Tuple[str, AuditError]] = []
    chosen = {name: backends.select_backend(name)[0] for name in BACKENDS}
    cloexec = {}
    try:
        for index, spec in enumerate(specs):
            outcome, fields = build(spec, index)
            marker = "%s-%d" % (RUN, index)
            if isinstance(outcome, AuditError):
                refused.append((marker, outcome))
                continue
            chosen[spec["backend"]].send(outcome)
            written[marker] = (spec, outcome, fields)
        cloexec["libaudit"] = fcntl.fcntl(chosen["libaudit"]._fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        cloexec["netlink"] = fcntl.fcntl(chosen["netlink"]._connection._sock.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    finally:
        for backend in chosen.values():
            backend.close()
    lines = wait_for_lines(RUN, count=len(written), timeout=20)
    return dict(started=started, specs=specs, written=written, refused=refused, lines=lines, cloexec=cloexec)


def marker_of(text: str) -> str:
    match = re.search(r'fz="(%s-\d+)"' % RUN, text)
    assert match, text
    return match.group(1)


def test_batch_covers_every_kind(batch):
    written = batch["written"]
    assert len(written) >= 80 and len(batch["refused"]) >= 20, (len(written), len(batch["refused"]))
    assert {spec["backend"] for spec, _record, _fields in written.values()} == set(BACKENDS)
    texts = [record.text for _spec, record, _fields in written.values()]
    assert any("hostname=" + os.uname().nodename[:63] + " " in text for text in texts)
    assert any(len(text) == AUDIT_MESSAGE_TEXT_MAX for text in texts)


def test_hostile_inputs_are_refused(batch):
    refused = {marker for marker, _exc in batch["refused"]}
    must = {"%s-%d" % (RUN, index) for index, spec in enumerate(batch["specs"]) if spec.get("must_refuse")}
    assert len(must) == 25 and must <= refused, sorted(must - refused)


def test_refused_inputs_left_no_record(batch):
    refused_markers = {marker for marker, _exc in batch["refused"]}
    assert not refused_markers & {marker_of(msg_text(line)) for line in batch["lines"]}
    for _marker, exc in batch["refused"]:
        assert str(exc).endswith(".") and exc.hint


def test_every_record_lands_once_as_the_text_we_returned(batch):
    logged = {}
    for line in batch["lines"]:
        text = msg_text(line)
        marker = marker_of(text)
        assert marker not in logged, "record %s written twice" % marker
        logged[marker] = text
    assert set(logged) == set(batch["written"])
    for marker, (_spec, record, _fields) in batch["written"].items():
        assert logged[marker] == record.text, marker


def test_the_sockets_are_close_on_exec(batch):
    assert batch["cloexec"] == {"libaudit": fcntl.FD_CLOEXEC, "netlink": fcntl.FD_CLOEXEC}


def expected_fields(record: UserRecord, sent: t.Dict[str, t.Any]) -> t.List[t.Tuple[str, str]]:
    """The user part of the record as (name, value sent); trailer values as libaudit writes them."""
    fields = [("op", record.message.split(" ", 1)[0][3:])]
    for name, value in sent.items():
        fields.append((name, value_bytes(value).decode("utf-8", "surrogateescape")))
    if record.comm is not None:
        fields.append(("comm", encode_trailer_value(record.comm.encode())))
    fields += [
        ("exe", encode_trailer_value(record.exe)),
        ("hostname", record.hostname or "?"),
        ("addr", record.addr or "?"),
        ("terminal", record.terminal or "?"),
        ("res", "success" if record.success else "failed"),
    ]
    return fields


def test_auparse_splits_every_record_into_exactly_the_fields_sent(batch):
    parsed = {}
    for fields in auparse_records("fz", RUN):
        marker = dict(fields)["fz"].strip('"')
        if not re.fullmatch(RUN + r"-\d+", marker):
            continue
        assert marker not in parsed
        parsed[marker] = fields
    assert set(parsed) == set(batch["written"])
    for marker, (_spec, record, sent) in batch["written"].items():
        fields = parsed[marker]
        names = [name for name, _value in fields]
        # The kernel's part, then exactly ours: no field added, hidden or renamed.
        start = names.index("op")
        assert names[:start] in (["type", "pid", "uid", "auid", "ses"], ["type", "pid", "uid", "auid", "ses", "subj"])
        assert dict(fields[:start])["uid"] == "0"
        expected = expected_fields(record, sent)
        got = [(name, value if name in ("comm", "exe") else decode_value(name, value)) for name, value in fields[start:]]
        assert got == expected, marker


def ausearch(*criteria: str, since: float) -> t.Set[str]:
    found = set()
    for line in ausearch_since(since, *criteria):
        match = re.search(r'fz="(%s-\d+)"' % RUN, line)
        if match:
            found.add(match.group(1))
    return found


def _loginuid() -> str:
    with open("/proc/self/loginuid") as handle:
        return handle.read().strip()


def test_ausearch_finds_exactly_the_records_it_should(batch):
    written = batch["written"]
    since = batch["started"]
    everything = set(written)

    def where(predicate: t.Callable[[UserRecord], bool]) -> t.Set[str]:
        return {marker for marker, (_spec, record, _fields) in written.items() if predicate(record)}

    checks: t.List[t.Tuple[t.Sequence[str], t.Set[str]]] = [
        (("-sv", "yes"), where(lambda r: r.success)),
        (("-sv", "no"), where(lambda r: not r.success)),
        (("-x", os.fsdecode(executable())), everything),
        (("-x", FORGED["exe"]), set()),
        (("-c", FORGED["comm"]), set()),
        (("-hn", FORGED["hostname"]), set()),
        (("-tm", FORGED["terminal"]), set()),
        # No record vanishes from a uid search, and no forged uid= is believed.
        (("-ui", "0"), everything),
        (("-ui", FORGED["uid"]), set()),
        (("-ua", _loginuid()), everything),
        (("-ua", FORGED["auid"]), set()),
    ]
    comms = sorted({r.comm for _s, r, _f in written.values() if r.comm})[:8]
    checks += [(("-c", comm), where(lambda r, c=comm: r.comm == c)) for comm in comms]
    # ausearch reads addr= when hostname= is "?".
    hosts = sorted({r.hostname or r.addr for _s, r, _f in written.values() if r.hostname or r.addr})[:8]
    checks += [(("-hn", host), where(lambda r, h=host: (r.hostname or r.addr) == h)) for host in hosts]
    terminals = sorted({r.terminal for _s, r, _f in written.values() if r.terminal})[:8]
    checks += [(("-tm", term), where(lambda r, m=term: r.terminal == m)) for term in terminals]
    failures = []
    for criteria, expected in checks:
        got = ausearch(*criteria, since=since)
        if got != expected:
            failures.append((criteria, sorted(expected - got)[:5], sorted(got - expected)[:5]))
    assert not failures, failures


def test_libaudit_builds_the_same_text_when_it_fills_the_trailer_itself(batch):
    """libaudit resolves addr= and names this host on a terminal on its own: the same text as UserRecord."""
    library = backend_libaudit.load_libaudit()
    cases = [("pts/5", None), ("tty3", None), ("/dev/tty4", None), (None, "localhost")]
    fd = library.audit_open()
    expected = {}
    try:
        for number, (terminal, hostname) in enumerate(cases):
            marker = "%s-self%d" % (RUN, number)
            record = UserRecord("fz-self", {"fz": marker}, comm="ansible", hostname=hostname, terminal=terminal)
            # NULL addr and, without a terminal, NULL tty: libaudit resolves and looks the terminal up itself.
            library.audit_log_user_comm_message(fd, record.msg_type, record.message, record.comm, hostname, None,
                                                terminal, True)
            expected[marker] = record.text
    finally:
        library.audit_close(fd)
    lines = wait_for_lines(RUN + "-self", count=len(cases))
    logged = {re.search(r'fz="([^"]+)"', msg_text(line)).group(1): msg_text(line) for line in lines}
    assert logged == expected


def test_the_audit_userspace_under_test_is_the_one_running():
    """Under nox -s audit-userspace the registered auditd and the libaudit this process loaded are that version's;
    otherwise the system's."""
    daemon = os.path.realpath("/proc/%d/exe" % audit_state()["pid"])
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as handle:
        loaded = {line.split()[-1] for line in handle if "libaudit.so.1" in line}
    backend_libaudit.load_libaudit()
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as handle:
        loaded |= {line.split()[-1] for line in handle if "libaudit.so.1" in line}
    if AUDIT_PREFIX:
        assert daemon == os.path.realpath(os.path.join(AUDIT_PREFIX, "sbin", "auditd"))
        assert {os.path.dirname(os.path.realpath(path)) for path in loaded} == {os.path.realpath(os.path.join(AUDIT_PREFIX, "lib"))}
    else:
        assert not daemon.startswith("/var/cache/") and len(loaded) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_longest_comm_lands_as_sent_and_a_longer_one_is_refused(backend):
    """libaudit 4.2.0 refuses a comm of 16 bytes or more and 4.2.1 cuts it to 15: the encoder allows 15, on all."""
    marker = "%s-comm-%s" % (RUN, backend)
    record = UserRecord("fz-comm", {"fz": marker}, comm="c" * 15)
    with backends.select_backend(backend)[0] as chosen:
        chosen.send(record)
    assert [msg_text(line) for line in wait_for_lines(marker)] == [record.text]
    assert " comm=%s " % ("c" * 15) in record.text or ' comm="%s" ' % ("c" * 15) in record.text
    with pytest.raises(AuditInvalidInputError):
        UserRecord("fz-comm", {"fz": marker}, comm="c" * 16)


@pytest.mark.parametrize("directory_name", ["ex\x7fe", "ex\u00e9"], ids=["0x7f", "non-ascii"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_exe_with_0x7f_or_non_ascii_is_hex_and_ausearch_finds_it(backend, directory_name, tmp_path):
    """libaudit before 4.2 tests exe bytes with a plain char: hex on x86 (signed), raw where char is unsigned; 4.2
    always hex-encodes them, and so does the encoder."""
    directory = tmp_path / directory_name
    directory.mkdir()
    python = directory / "python3"
    shutil.copy(os.path.realpath(SYSTEM_PYTHON), python)
    marker = "%s-exe-%s-%s" % (RUN, backend, "x7f" if "\x7f" in directory_name else "nonascii")
    outcome = run_probe({"op": "fz-exe", "fields": {"fz": marker}, "backend": backend}, python=str(python))
    assert outcome["ok"], outcome
    assert " exe=%s " % os.fsencode(str(python)).hex().upper() in outcome["record"]
    lines = wait_for_lines(marker)
    assert [msg_text(line) for line in lines] == [outcome["record"]]
    proc = subprocess.run(
        ausearch_command("-m", "USYS_CONFIG", "--raw", "-w", "-x") + [os.fsencode(str(python))], capture_output=True,
        check=False,
    )
    assert marker.encode() in proc.stdout
