"""What the hook's tests share: a post-validated task, core's execution of it, and runs through the hook."""

from __future__ import annotations

import types


from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _after, _before, _run, _settings
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _execution, _results
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _ledger


class FakeTask:
    def __init__(self, action="ansible.builtin.copy", args=None, **fields):
        self.action = action
        self.resolved_action = action
        self.args = dict(args if args is not None else {"dest": "/etc/motd", "content": "hi"})
        self._uuid = "uuid-1"
        self._parent = types.SimpleNamespace(_play=types.SimpleNamespace(_uuid="play-1"), _parent=None)
        self.check_mode = False
        self.async_val = 0
        self.poll = 15
        self.no_log = False
        self.delegate_to = None
        self.ignore_errors = True
        self.become_method = "sudo"
        self.changed_when = []
        self.collections = None
        self.__dict__.update(fields)

    def get_name(self):
        return "Deploy motd"

    def get_path(self):
        return "/play.yml:3"


class FakeBecome:
    """A become plugin as TaskExecutor leaves it on the connection: its options resolved."""

    def __init__(self, user="root"):
        self.user = user

    def get_option(self, name):
        return {"become_user": self.user}[name]


def make_te(task, become_user="root"):
    return _execution.Execution(types.SimpleNamespace(
        _task=task,
        _handler=types.SimpleNamespace(_templar=None),
        _play_context=types.SimpleNamespace(become=True, become_user=become_user, remote_user="deploy"),
        _connection=types.SimpleNamespace(become=FakeBecome(become_user), default_user="deploy"),
    ))


TASK_VARS = {"inventory_hostname": "web1", "ansible_play_name": "Play"}


def run_task(te, settings, result, task_vars=None):
    _before.before_task(te, te.handler, dict(task_vars or TASK_VARS), settings)
    _after.after_task(te, _results.DictResult(te, result), dict(task_vars or TASK_VARS), settings)


def attempts(te, *said):
    """The attempts TaskExecutor made for ``te``, each as its action's result said (None: the action never returned)."""
    made = te.attempts
    del made[:]
    for result in said:
        attempt = _execution.Attempt()
        attempt.started = True
        if result is not None:
            attempt.ended = True
            attempt.verdict = "changed" in result
            attempt.changed = bool(result.get("changed"))
            attempt.failed = bool(result.get("failed"))
            attempt.module_changed = bool(result.get("module_changed"))
        made.append(attempt)


def ledger_of(settings):
    return [
        {key: entry[key] for key in ("kind", "host", "seq", "outcome", "policy", "object", "module") if key in entry}
        for entry in _ledger.read_ledger(settings.ledger_dir, "unit-run")
    ]


def in_module_te(task=None, action="normal", acting_user="root", how="task", settings=None, **found):
    """The TaskRun before_task leaves for a root task on a host that keeps records, and the task's handler;
    ``found``: other attributes of the run (written_before, verdict ...)."""
    from ansible.plugins.loader import action_loader
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._change_site import CONNECTION, ChangeSite
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._privilege import Acting, Privilege

    task = task or FakeTask(action="ansible.builtin.lineinfile", args={"path": "/etc/x", "line": "y"})
    for name, value in (("until", []), ("failed_when", []), ("diff", False)):
        task.__dict__.setdefault(name, value)
    plugin = action_loader.get(action, class_only=True)
    handler = plugin.__new__(plugin)
    handler._templar = None
    te = make_te(task, acting_user)
    te._executor._handler = handler
    run = _run.TaskRun.start(te, settings if settings is not None else _settings.Settings())
    run.site = ChangeSite(CONNECTION, "web1", Acting(acting_user, "deploy", True))
    run.privilege = Privilege(how, "deploy", method=None if how == "task" else "sudo")
    run.verdict = (_run.RECORDS, "")
    for name, value in found.items():
        assert hasattr(run, name), name
        setattr(run, name, value)
    return run, handler


def in_module_attempt(te, report):
    del te.attempts[:]
    attempt = _execution.Attempt()
    attempt.started = attempt.ended = attempt.verdict = attempt.changed = True
    attempt.module_reports.append(report)
    te.attempts.append(attempt)
