# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: result_log
type: aggregate
short_description: Test oracle - one JSON line per task result, as the run reported it
description:
  - Appends to C($MOLECULE_EPHEMERAL_DIRECTORY/results.jsonl) one line per task result (per item for loops) with
    the playbook, the task UUID, the action, whether it changed, ran in check mode, failed or was skipped, and the
    ansible-playbook process. Only public callback API; it knows nothing of audit records, so verify.yml can
    compare what the run reported with what audit.log holds.
author: changeaudit.linux developers (!UNKNOWN)
options: {}
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "result_log"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._playbook = None

    def v2_playbook_on_start(self, playbook):
        self._playbook = os.path.basename(playbook._file_name)

    def _log(self, result, item, failed):
        directory = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY")
        if not directory:
            return
        data = result._result
        task = result._task
        if "results" in data and not item:
            # A loop: its items were logged one by one.
            return
        entry = {
            "host": result._host.get_name(),
            "task_uuid": task._uuid,
            "task": task.get_name(),
            "action": task.action,
            "changed": bool(data.get("changed")),
            "failed": failed,
            "check_mode": bool(task.check_mode),
            "delegate_to": task.delegate_to,
            "playbook": self._playbook,
            "controller_pid": os.getpid(),
        }
        with open(os.path.join(directory, "results.jsonl"), "a") as handle:
            handle.write(json.dumps(entry) + "\n")

    def v2_runner_on_ok(self, result):
        self._log(result, False, False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._log(result, False, True)

    def v2_runner_item_on_ok(self, result):
        self._log(result, True, False)

    def v2_runner_item_on_failed(self, result):
        self._log(result, True, True)
