"""The task context gathered on the controller: who ran which task of which run, from where."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import types

import pytest

from ansible.errors import AnsibleActionFail
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record import _context
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._context import (
    CI_ACTOR_ENV,
    CI_COMMIT_ENV,
    CONTEXT_SOURCE,
    FIXED_RUN_ID_ENV,
    derived_run_id,
    fix_run_id,
    controller_login,
    controller_origin,
    merge_fields,
    run_id,
    task_context,
)
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._privilege import Acting


@pytest.fixture
def clean_env(monkeypatch):
    """No run id, AWX or CI variable from the environment the tests run in."""
    for name in ("CHANGEAUDIT_RUN_ID", FIXED_RUN_ID_ENV) + CI_ACTOR_ENV + CI_COMMIT_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOGNAME", "alice")
    return monkeypatch


@pytest.fixture
def fresh_origin(monkeypatch):
    """controller_origin() asks again (it keeps its answer for the process)."""
    monkeypatch.setattr(_context, "_ORIGIN", {})
    return monkeypatch


def make_task(**fields):
    values = dict(name="Deploy motd", path="/srv/play/site.yml:7", _uuid="02fc0000-0001")
    values.update(fields)
    return types.SimpleNamespace(get_name=lambda: values["name"], get_path=lambda: values["path"], _uuid=values["_uuid"])


def become(user="root", enabled=True):
    """Who the task acted as: ``user`` by become, or the login user deploy without."""
    return Acting(user or "root", "deploy", enabled)


# --- run_id -------------------------------------------------------------------------------------------------------


def test_run_id_from_the_environment_wins(clean_env):
    clean_env.setenv("CHANGEAUDIT_RUN_ID", "pipeline-42")
    assert run_id({"awx_job_id": 7}) == "pipeline-42"


@pytest.mark.parametrize("extra, expected", [({"awx_job_id": 7}, "awx-7"), ({"tower_job_id": "9"}, "awx-9")])
def test_run_id_under_awx_is_the_job_of_the_extra_vars(clean_env, core_run, extra, expected):
    run = core_run({"all": {"hosts": {"web1": {}}}}, extra_vars=extra)
    assert run_id(run.task_vars("web1")) == expected


def test_a_job_id_from_a_host_never_moves_its_changes_out_of_the_run(clean_env, core_run):
    """AWX passes the job as extra vars: one from the inventory, the play or a host's facts is not the job's."""
    run = core_run({"all": {"hosts": {"web1": {"awx_job_id": 5}}}}, play_vars={"tower_job_id": 6})
    run.facts("web1", awx_job_id=666, awx_user_name="mallory")
    task_vars = run.task_vars("web1")
    assert task_vars["awx_job_id"] == 666, "core ranks the fact above the inventory"
    assert run_id(task_vars) == run_id({}) == derived_run_id(os.getppid())
    context = task_context(make_task(), become(), task_vars)
    assert "awx_job_id" not in context and "awx_user_name" not in context
    run = core_run({"all": {"hosts": {"web1": {}}}}, extra_vars={"awx_job_id": 812, "awx_user_name": "bob"})
    run.facts("web1", awx_job_id=666, awx_user_name="mallory")
    context = task_context(make_task(), become(), run.task_vars("web1"))
    assert (context["run_id"], context["awx_job_id"], context["awx_user_name"]) == ("awx-812", "812", "bob")


CHILD = (
    "import json; from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._context import run_id; "
    "print(json.dumps(run_id({})))"
)


def test_run_id_is_the_same_in_every_worker_of_one_run_and_new_in_the_next(clean_env):
    # Two workers forked from one ansible-playbook process (here: this process) agree; this process,
    # a worker of another parent, does not.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    workers = [
        json.loads(subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, check=True,
                                  timeout=60).stdout)
        for _worker in range(2)
    ]
    assert workers[0] == workers[1]
    assert len(workers[0]) == 16 and int(workers[0], 16) >= 0
    assert run_id({}) != workers[0]
    assert run_id({}) == run_id({})


def test_a_worker_whose_parent_died_keeps_the_runs_id_and_a_nested_run_derives_its_own(clean_env):
    # fix_run_id in this process (the ansible-playbook process of a run), then a worker of it; the test's
    # environment comes back as it was.
    clean_env.setenv(FIXED_RUN_ID_ENV, "")
    fix_run_id()
    expected = derived_run_id(os.getpid())
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    worker = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, check=True, timeout=60)
    assert json.loads(worker.stdout) == expected
    # An orphan: the process that fixed the ID is gone (a PID no process has), its worker still records it.
    clean_env.setenv(FIXED_RUN_ID_ENV, "%d %s" % (2 ** 22 + 7, "run-of-a-dead-parent"))
    assert run_id({}) == "run-of-a-dead-parent"
    # A run started by a task of another (a live parent that is not the one that fixed it) derives its own.
    clean_env.setenv(FIXED_RUN_ID_ENV, "1 run-of-init")
    assert run_id({}) == derived_run_id(os.getppid())


# --- controller_login ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [None, "", "not-a-uid", "4294967295"])
def test_no_login_uid_means_no_login_fields(tmp_path, content):
    path = tmp_path / "loginuid"
    if content is not None:
        path.write_text(content)
    assert controller_login(str(path)) == {}


def test_login_uid_and_its_name(tmp_path):
    path = tmp_path / "loginuid"
    path.write_text("0")
    assert controller_login(str(path)) == {"ctl_login_id": 0, "ctl_login": "root"}


def test_login_uid_without_a_passwd_entry_is_named_by_number(tmp_path):
    path = tmp_path / "loginuid"
    path.write_text("3999999")
    assert controller_login(str(path)) == {"ctl_login_id": 3999999, "ctl_login": "3999999"}


# --- controller_origin --------------------------------------------------------------------------------------------


def answer(*addresses):
    def getaddrinfo(host, port, family=0, kind=0, proto=0, flags=0):
        assert kind == socket.SOCK_STREAM and flags == socket.AI_ADDRCONFIG
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, 0)) for address in addresses]

    return getaddrinfo


def test_origin_is_this_controller_and_its_first_address(fresh_origin):
    fresh_origin.setattr(_context.socket, "gethostname", lambda: "ctl01.example")
    fresh_origin.setattr(_context.socket, "getaddrinfo", answer("fe80::1%eth0", "192.0.2.10"))
    origin = controller_origin()
    assert origin == {"hostname": "ctl01.example", "addr": "fe80::1"}
    # A copy: whoever changes it does not change the next record's origin.
    origin["addr"] = "x"
    assert controller_origin()["addr"] == "fe80::1"


def test_origin_is_asked_once_per_process(fresh_origin):
    calls = []
    fresh_origin.setattr(_context.socket, "gethostname", lambda: calls.append(1) or "ctl01")
    fresh_origin.setattr(_context.socket, "getaddrinfo", answer("192.0.2.10"))
    controller_origin()
    controller_origin()
    assert len(calls) == 1


@pytest.mark.parametrize("name", ["evil host", "ctl' res=failed", "ctl=x"])
def test_a_controller_name_that_could_forge_a_field_is_left_out(fresh_origin, name):
    fresh_origin.setattr(_context.socket, "gethostname", lambda: name)
    fresh_origin.setattr(_context.socket, "getaddrinfo", lambda *args: pytest.fail("resolved a name that is left out"))
    assert controller_origin() == {"hostname": None, "addr": None}


def test_unresolvable_controller_has_no_address(fresh_origin):
    def fails(*args):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    fresh_origin.setattr(_context.socket, "gethostname", lambda: "ctl01")
    fresh_origin.setattr(_context.socket, "getaddrinfo", fails)
    assert controller_origin() == {"hostname": "ctl01", "addr": None}


def test_a_slow_resolver_is_not_waited_for(fresh_origin):
    def slow(*args):
        time.sleep(2)
        return answer("192.0.2.10")(*args)

    fresh_origin.setattr(_context.socket, "gethostname", lambda: "ctl01")
    fresh_origin.setattr(_context.socket, "getaddrinfo", slow)
    started = time.monotonic()
    assert controller_origin(timeout=0.05) == {"hostname": "ctl01", "addr": None}
    assert time.monotonic() - started < 1


# --- task_context -------------------------------------------------------------------------------------------------


def test_context_names_the_task_the_play_and_the_users(clean_env):
    context = task_context(make_task(), become("admin"), {"ansible_play_name": "Harden sshd"})
    assert context["play"] == "Harden sshd"
    assert context["cmd"] == "Deploy motd"
    assert context["task_path"] == "/srv/play/site.yml:7"
    assert context["task_id"] == "02fc0000-0001"
    assert context["ctl_user"] == "alice"
    assert context["become_user"] == "admin"
    assert context["run_id"] == run_id({})
    login = controller_login()
    assert {key: context[key] for key in login} == login
    assert not set(context) & {"awx_job_id", "ci_actor", "ci_commit"}


def test_context_without_become_names_the_login_user_and_no_become_user(clean_env):
    context = task_context(make_task(path=None), become(enabled=False), {})
    assert "become_user" not in context
    assert context["remote_user"] == "deploy"
    assert context["play"] == "" and context["task_path"] == ""


def test_become_without_a_user_is_root(clean_env):
    assert task_context(make_task(), become(None), {})["become_user"] == "root"


def test_context_under_awx_names_the_job_and_who_launched_it(clean_env, core_run):
    extra = {"awx_job_id": 812, "awx_user_name": "bob", "awx_job_template_name": "Patch web",
             "awx_workflow_job_id": "", "awx_project_revision": None}
    context = task_context(make_task(), become(), core_run({"all": {"hosts": {"web1": {}}}}, extra_vars=extra).task_vars("web1"))
    assert context["awx_job_id"] == "812"
    assert context["awx_user_name"] == "bob" and context["awx_job_template_name"] == "Patch web"
    assert "awx_workflow_job_id" not in context and "awx_project_revision" not in context
    assert context["run_id"] == "awx-812"


def test_context_from_a_ci_pipeline_takes_the_first_variable_set(clean_env):
    clean_env.setenv("GITLAB_USER_LOGIN", "carol")
    clean_env.setenv("GITHUB_ACTOR", "")
    clean_env.setenv("GITHUB_SHA", "abc123")
    clean_env.setenv("GIT_COMMIT", "def456")
    context = task_context(make_task(), become(), {})
    assert context["ci_actor"] == "carol"
    assert context["ci_commit"] == "abc123"


# --- merge_fields -------------------------------------------------------------------------------------------------


def test_merge_keeps_the_order_of_both():
    merged = merge_fields({"module": "m", "object": "/x"}, {"ticket": "CHG-1", "run_id": "r"}, CONTEXT_SOURCE)
    assert list(merged) == ["module", "object", "ticket", "run_id"]


def test_a_field_set_twice_is_refused_naming_the_fix():
    with pytest.raises(AnsibleActionFail) as caught:
        merge_fields({"task": "mine", "play": "p", "x": 1}, {"task": "t", "play": "q"}, CONTEXT_SOURCE)
    assert str(caught.value) == (
        "these fields are set from the task context (or set context: false), rename them: play, task"
    )


@pytest.mark.parametrize("name", sorted(_context.RETIRED_CONTEXT_FIELDS))
def test_a_play_field_named_as_the_context_of_earlier_versions_is_refused_beside_the_context(name):
    with pytest.raises(AnsibleActionFail, match="rename them: %s" % name):
        _context.with_context({name: "forged"}, {"cmd": "t"})
    assert _context.merge_fields({name: "kept"}, {"other": 1}, "by the fields option") == {name: "kept", "other": 1}


# --- bounded values -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["x" * 256, "é" * 128, "" , "short"])
def test_a_value_within_its_bound_is_kept_whole(value):
    assert _context.bounded_text(value, 256) == value


@pytest.mark.parametrize(
    "value",
    ["x" * 257, "é" * 129, "a" + "€" * 300, "🙂" * 100, "x" * 9000, "a\udc80b" * 200, "name with spaces " * 40],
)
def test_a_long_value_is_cut_at_a_character_boundary_and_ends_with_the_hash_of_the_whole(value):
    cut = _context.bounded_text(value, 256)
    raw = value.encode("utf-8", "surrogateescape")
    mark = _context.CUT_MARK % hashlib.sha256(raw).hexdigest()
    assert cut.endswith(mark)
    head = cut[: -len(mark)]
    assert value.startswith(head), "only whole characters are kept"
    assert len(cut.encode("utf-8", "surrogateescape")) <= 256
    assert len(head.encode("utf-8", "surrogateescape")) > 256 - len(mark) - 4, "no more is cut than a character"


def test_values_that_are_not_text_are_left_alone():
    assert _context.bounded_text(12, 1) == 12 and _context.bounded_text(None, 1) is None


def test_every_context_value_is_bounded(clean_env, monkeypatch):
    monkeypatch.setenv("CHANGEAUDIT_ACTOR", "a" * 1000)
    task = make_task(name="n" * 5000, path="/p" * 3000)
    context = task_context(task, become("u" * 500), {"ansible_play_name": "p" * 5000, "awx_user_name": "w" * 999})
    for name, value in context.items():
        bound = _context.CONTEXT_TEXT_MAX.get(name, _context.CONTEXT_TEXT_DEFAULT_MAX)
        assert len(str(value).encode()) <= bound, name
    assert set(context) <= set(_context.CONTEXT_FIELDS)


@pytest.mark.parametrize(
    "name, written",
    [("a\x00b", "a\\x00b"), ("\x00", "\\x00"), ("x\x00\x00y\x01\x7f", "x\\x00\\x00y\x01\x7f"), ("no nul", "no nul")],
)
def test_a_nul_in_a_task_or_play_name_is_written_visibly(clean_env, name, written):
    # ausearch -i and auparse stop a value at a NUL; tests/live/test_nul_name_live.py shows it against both.
    task = make_task(name=name)
    context = task_context(task, become(), {"ansible_play_name": name})
    assert context["cmd"] == context["play"] == written


def test_a_cut_name_with_a_nul_ends_with_the_hash_of_the_name_as_written(clean_env):
    context = task_context(make_task(name="\x00" * 300), become(), {"ansible_play_name": "p"})
    whole = ("\\x00" * 300).encode()
    assert context["cmd"].endswith(_context.CUT_MARK % hashlib.sha256(whole).hexdigest())
    assert context["cmd"].startswith("\\x00\\x00") and "\x00" not in context["cmd"]


# --- loop labels ----------------------------------------------------------------------------------------------------


def looping(item, label=None, no_log=False):
    task = make_task()
    task.no_log = no_log
    task.loop_control = types.SimpleNamespace(label=label)
    return task, {"ansible_loop_var": "pkg", "pkg": item, "ansible_play_name": "p"}


@pytest.mark.parametrize(
    "item, expected", [("nginx", "nginx"), ({"name": "nginx", "v": 2}, '{"name":"nginx","v":2}'), (["é", 1], '["é",1]'), (3, "3")]
)
def test_the_loop_item_is_the_label_of_its_record(clean_env, item, expected):
    task, task_vars = looping(item)
    assert task_context(task, become(), task_vars)["loop_label"] == expected


def test_loop_control_label_is_rendered_for_the_item(clean_env):
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    task, task_vars = looping({"name": "nginx", "password": "s3cret"}, label=trust_as_template("{{ pkg.name }}"))
    context = task_context(task, become(), task_vars, Templar(loader=DataLoader()))
    assert context["loop_label"] == "nginx"
    assert list(context).index("loop_label") == list(context).index("cmd") + 1


def test_no_loop_label_outside_a_loop_or_under_no_log(clean_env):
    assert "loop_label" not in task_context(make_task(), become(), {})
    task, task_vars = looping("s3cret", no_log=True)
    assert "loop_label" not in task_context(task, become(), task_vars)


def test_a_long_loop_item_is_cut_with_the_hash_of_the_whole(clean_env):
    task, task_vars = looping("x" * 1000)
    label = task_context(task, become(), task_vars)["loop_label"]
    assert label.endswith(_context.CUT_MARK % hashlib.sha256(b"x" * 1000).hexdigest())
