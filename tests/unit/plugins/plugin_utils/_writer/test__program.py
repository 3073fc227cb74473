"""The program the writer runs on a target: the binding it carries, the request inside it."""

from __future__ import annotations

import base64
import datetime
import json
import os
import uuid

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._writer import _program

AUDIT = _program.AUDIT_PACKAGE + "."


# --- the binding the program carries ---------------------------------------------------------------------------------------------------


def test_bundle_holds_what_request_needs_and_no_more():
    sources = _program.bundle_sources()
    names = {name[len(AUDIT):] for name in sources}
    assert {"request", "send.backends", "record.record", "record.encoding", "record.errors", "system.netlink",
            "system.libaudit", "record.constants", "system.status"} <= names
    # The read side's search and the watch side stay home: the writer reads one record back by its line alone.
    assert "read.reader" not in names and not any(name.startswith("watch.") for name in names)
    for name, source in sources.items():
        with open(os.path.join(_program.AUDIT_DIR, *name[len(AUDIT):].split(".")) + ".py", encoding="utf-8") as handle:
            assert handle.read() == source


def test_bundle_refuses_a_binding_that_imports_beyond_the_stdlib(tmp_path):
    (tmp_path / "request.py").write_text("import json\nfrom %sother import x\n" % AUDIT)
    (tmp_path / "other.py").write_text("from __future__ import annotations\nif True:\n    import yaml  # needs PyYAML\n")
    with pytest.raises(ValueError, match="other.py imports yaml"):
        _program.bundle_sources(str(tmp_path))


def test_the_request_travels_encoded_inside_the_program():
    marker = "m-" + uuid.uuid4().hex
    hostile = marker + "''' \"\"\" \n)\nimport os; os.system('false')#"
    program = _program.program_for({"op": "x", "fields": {"v": hostile}})
    assert marker not in program
    assert program.startswith(_program.entry_program())
    payload = program.rsplit("_main(_PACKED, _MAGIC, ", 1)[1].rstrip(")\n")
    assert json.loads(base64.b64decode(eval(payload)))["fields"]["v"] == hostile  # noqa: S307 (a str literal)


def test_values_yaml_can_hold_are_sent_as_the_module_gets_them():
    program = _program.program_for({"fields": {"when": datetime.date(2026, 1, 2), "set": ("a",)}})
    payload = program.rsplit("_main(_PACKED, _MAGIC, ", 1)[1].rstrip(")\n")
    assert json.loads(base64.b64decode(eval(payload)))["fields"] == {"when": "2026-01-02", "set": ["a"]}  # noqa: S307


# --- the loader of a program sent as a file -------------------------------------------------------------------------


PROGRAM = "import os, sys\nsys.stdout.write('ran as %d\\n' % os.geteuid())\n"


def load(directory, name="changeaudit_writer.py", login="root", program=PROGRAM, timeout=20):
    """FILE_LOADER for real, as the writer's root command runs it: (its JSON error or None, stdout)."""
    import hashlib
    import subprocess
    import sys

    digest = hashlib.sha256(program.encode("ascii")).hexdigest()
    proc = subprocess.run(
        [sys.executable] + list(_program.PYTHON_FLAGS) + ["-c", _program.FILE_LOADER, str(directory), name, login, digest],
        capture_output=True, text=True, check=False, timeout=timeout,
    )
    try:
        return json.loads(proc.stdout).get(_program.WRITER_ERROR_KEY), proc.stdout
    except ValueError:
        return None, proc.stdout + proc.stderr


def private_dir(tmp_path, program=PROGRAM):
    directory = tmp_path / ("w-" + uuid.uuid4().hex[:8])
    directory.mkdir(mode=0o700)
    (directory / "changeaudit_writer.py").write_text(program)
    os.chmod(directory / "changeaudit_writer.py", 0o600)
    return directory


def test_the_loader_runs_the_program_sent_and_removes_it(tmp_path):
    directory = private_dir(tmp_path)
    error, out = load(directory)
    assert error is None and out == "ran as %d\n" % os.geteuid()
    assert not directory.exists()


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the loader's checks are root's")


def other_user():
    import pwd

    return pwd.getpwnam("nobody")


@needs_root
@pytest.mark.parametrize("attack", ["replaced", "other_owner_dir", "writable_dir", "symlink", "fifo", "hardlink", "dir_symlink"])
def test_the_loader_never_runs_what_another_user_could_have_put_there(tmp_path, attack):
    """What a become_user that could reach the program's file would try: root refuses each, and runs nothing."""
    os.chmod(tmp_path, 0o755)
    directory = private_dir(tmp_path)
    program = directory / "changeaudit_writer.py"
    planted = tmp_path / "planted.py"
    planted.write_text("import sys\nsys.stdout.write('PLANTED\\n')\n")
    nobody = other_user()
    if attack == "replaced":
        program.write_text(planted.read_text())
    elif attack == "other_owner_dir":
        os.chown(directory, nobody.pw_uid, nobody.pw_gid)
    elif attack == "writable_dir":
        os.chmod(directory, 0o777)
    elif attack == "symlink":
        program.unlink()
        program.symlink_to(planted)
    elif attack == "fifo":
        program.unlink()
        os.mkfifo(program)
    elif attack == "hardlink":
        extra = tmp_path / "extra-link"
        os.link(program, extra)
    elif attack == "dir_symlink":
        real = directory.rename(tmp_path / "real")
        directory.symlink_to(real)
    error, out = load(directory)
    assert error == "program_replaced", out
    assert "PLANTED" not in out and "ran as" not in out


@needs_root
def test_the_login_users_own_directory_is_accepted(tmp_path):
    """Without escalation the login user made it: theirs, and root accepts it for that login only."""
    os.chmod(tmp_path, 0o755)
    directory = private_dir(tmp_path)
    nobody = other_user()
    for path in (directory, directory / "changeaudit_writer.py"):
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    assert load(directory, login="root")[0] == "program_replaced"
    error, out = load(directory, login="nobody")
    assert error is None and out.startswith("ran as 0")
