"""One task being executed in a worker, and the attempts of its action handler."""

from __future__ import annotations

import types

from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _execution


def test_an_execution_shows_its_executors_task_and_keeps_attempts_and_notes_on_it():
    executor = types.SimpleNamespace(_task="task", _play_context="pc", _connection="conn", _loader="loader",
                                     _shared_loader_obj="shared")
    execution = _execution.Execution(executor)
    assert (execution.task, execution.play_context, execution.connection, execution.loader, execution.shared_loader_obj,
            execution.handler) == ("task", "pc", "conn", "loader", "shared", None)
    execution.attempts.append(_execution.Attempt())
    execution.notes["seen"] = True
    again = _execution.Execution(executor)
    assert len(again.attempts) == 1 and again.notes == {"seen": True}


def test_an_attempt_reports_a_change_of_the_action_or_of_a_module():
    attempt = _execution.Attempt()
    assert not attempt.reported_change
    attempt.module_changed = True
    assert attempt.reported_change
