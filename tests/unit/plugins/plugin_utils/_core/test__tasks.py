"""What the collection reads or sets on ansible-core's Task and Play beyond their documented fields."""

from __future__ import annotations

import types

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.block import Block
from ansible.playbook.play import Play
from ansible.playbook.task import Task
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _tasks


@pytest.fixture
def task():
    play = Play.load({"name": "Harden sshd", "hosts": "all", "gather_facts": False}, loader=DataLoader())
    made = Task(block=Block(play=play))
    made.action = "ansible.builtin.copy"
    made.args = {"dest": "/etc/motd"}
    return made


def test_a_task_and_its_play_have_uuids(task):
    assert _tasks.task_uuid(task) == str(task._uuid) != ""
    assert _tasks.play_uuid(task) == str(task.get_play()._uuid) != _tasks.task_uuid(task)


def test_what_has_no_uuid_or_play_has_an_empty_one():
    assert _tasks.task_uuid(types.SimpleNamespace()) == ""
    assert _tasks.play_uuid(types.SimpleNamespace(_parent=types.SimpleNamespace(_parent=None))) == ""


def test_a_copy_sharing_the_parent_inherits_from_the_same_block(task):
    copy = _tasks.copy_sharing_parent(task)
    assert copy is not task and copy._parent is task._parent and copy.args == task.args
    assert _tasks.play_uuid(copy) == _tasks.play_uuid(task)


def test_a_task_running_a_module_is_resolved_to_it(task):
    copy = _tasks.task_running(task, "ansible.builtin.lineinfile", {"path": "/etc/motd"})
    assert (copy.action, copy.resolved_action, copy.args) == ("ansible.builtin.lineinfile", "ansible.builtin.lineinfile",
                                                              {"path": "/etc/motd"})
    assert task.action == "ansible.builtin.copy" and task.args == {"dest": "/etc/motd"}
