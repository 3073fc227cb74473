# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: record_changes
type: aggregate
short_description: Write an audit record on the changed host for every change a play applies, with no task edited
version_added: 1.1.0
author: changeaudit.linux developers (!UNKNOWN)
description:
  - Once enabled (C(callbacks_enabled = changeaudit.linux.record_changes) and C(bin_ansible_callbacks = True) in the
    C([defaults]) section of C(ansible.cfg), or E(ANSIBLE_CALLBACKS_ENABLED=changeaudit.linux.record_changes) and
    E(ANSIBLE_LOAD_CALLBACK_PLUGINS=1)), every task result that ends B(changed) writes one
    C(AUDIT_USYS_CONFIG) record on the host that was changed, before that host runs its next task; no playbook or
    role is edited. That covers C(ansible-playbook), and ad-hoc C(ansible) and C(ansible-console) commands too,
    which load no callback other than their output unless C(bin_ansible_callbacks) is set; B(without it an ad-hoc
    change is not recorded). Roles from Galaxy and other collections, handlers, C(include_tasks)/C(import_tasks), blocks,
    loops (one record per changed item), C(serial), C(run_once), forks and the C(linear) and C(free) strategies are
    covered.
  - The record is the one M(changeaudit.linux.audited) writes for the same change (C(op=ansible-change:<module>:<object>)), with the module
    FQCN, the object changed (its C(path), C(dest), C(name) or C(key) argument), the C(sha1) checksum of the content
    and a hash of the diff when the module returned them, the task context (play, task, loop label, task path, task
    UUID, the host's number of the change in the run's ledger C(seq), controller user, become user, AWX job ID
    and the C(run_id) that M(changeaudit.linux.audited) tasks of the same run record too), and the fields of
    O(fields).
  - The B(final) result counts, after C(changed_when), C(failed_when) and C(until); V(changed_when=false) writes
    nothing. A change whose task then failed is recorded with C(res=failed). Without C(changed_when), a change core
    hands back as unchanged is recorded all the same, where an attempt of C(until) before the last reported a change
    (one record, one ledger entry, whatever the attempts), or an action that ran several modules failed after some of
    them changed the host (C(copy) of a directory).
  - A task whose outcome is unknown, because it may have changed the host and nobody saw it end (the host became
    unreachable during it, its C(timeout) fired, its module died without JSON, or it failed without saying whether
    it changed anything), gets a record with C(res=failed) where the host still takes one, and its ledger outcome is
    V(unknown); where no record can be written the end-of-run summary names the change, and the evidence counts it
    as a gap.
  - With C(delegate_to) the record goes to the delegated host, the one that was changed, through its connection, and
    names the inventory host the task ran for in C(inventory_host).
  - Check mode (C(--check) or C(check_mode=true)) writes nothing. Under C(no_log) no argument value and no diff text
    reaches the record; it holds the argument names and keyed hashes (see the notes), or without a key names what
    it left out in C(withheld).
  - Values nobody typed into the record (task and play names, loop labels, the task path, the object, AWX
    and CI metadata) are cut past their bound at a character boundary and end with
    C([cut:sha256:<hex of the whole value>]), so a record always fits what the kernel keeps. The fields of O(fields)
    are never cut.
  - Not recorded, as they change nothing on a host or record themselves, are ansible-core's own C(add_host),
    C(assert), C(async_status), C(debug), C(fail), C(gather_facts), C(group_by), C(import_*), C(include), C(include_*),
    C(meta), C(pause), C(ping), C(set_fact), C(set_stats), C(setup), C(validate_argument_spec),
    C(wait_for_connection), this collection's own modules, tasks with C(async) and C(poll=0) (their change ends after
    the task), and the actions in O(skip). That is decided on the plugin a task resolves to and the file it comes
    from, so a C(ping) that resolves to another collection's module under C(collections), or a role's
    C(library/setup.py), is recorded like any other.
  - B(Fails closed when it cannot record.) From the moment ansible-core loads the plugin until its options are read
    and checked, every task that may change a host is refused. A bad option (O(mode=bogus), malformed or reserved
    O(fields), fields too long for a record), a hash key that is too short or unreadable, an ansible-core version
    the plugin is not tested with, or its own code failing to import, keeps it so. ansible-core only warns "Failed
    to load callback plugin", but each such task fails, not ignorably, with the cause and the setting to fix, and
    the run exits non-zero. Tasks that change no host (C(debug), C(set_fact), C(gather_facts), check mode) run.
  - Before each task that may change a host, its record is built with the longest result a module can return and
    checked (names, encodings, size). A record that could not be written fails the task before it runs.
  - B(Fails closed, early.) Before the first task that may change a host, once per play, host and way to root, a
    check mode write with exactly the privileges the records will use checks that the host can keep records (root,
    auditing enabled, auditd running). When it cannot, that task fails without running and the host runs nothing more. A record that cannot
    be written after a change fails the task with the cause and the fix; C(ignore_errors) does not hide either
    failure (a C(rescue) section still runs). O(mode=warn) turns both into warnings.
  - At the end of the run it prints one line per host with the number of records written there, and the changes
    not recorded and why (the record could not be written, a host policy, the skip list). The playbook
    C(changeaudit.linux.evidence) proves the run afterwards, matching the ledger (O(ledger_dir)) with each host's
    records.
requirements:
  - ansible-core 2.19, 2.20 or 2.21 on the controller. The plugin wraps private methods of ansible-core's task
    executor (C(TaskExecutor._execute), C(_get_action_handler_with_module_context) and, on 2.21, C(run)); with any
    other ansible-core version it refuses every change, and names the tested ones.
  - A way to root for the record on each host it changes (see the notes).
options:
  mode:
    description:
      - V(fail) fails a host that cannot keep records before its first change and fails a task whose change could not
        be recorded; V(warn) only warns in both cases.
    type: str
    default: fail
    choices: [fail, warn]
    ini:
      - section: changeaudit_record_changes
        key: mode
    env:
      - name: CHANGEAUDIT_RECORD_CHANGES_MODE
    vars:
      - name: changeaudit_record_changes_mode
  skip:
    description:
      - Further actions whose changes are not recorded, by FQCN or as written in the task, as names or C(fnmatch)
        patterns (V(cisco.ios.*), V(ansible.builtin.raw)). For hosts without Python or network devices, which cannot
        run the writer. They add to the built-in list above.
    type: list
    elements: str
    default: []
    ini:
      - section: changeaudit_record_changes
        key: skip
    env:
      - name: CHANGEAUDIT_RECORD_CHANGES_SKIP
    vars:
      - name: changeaudit_record_changes_skip
  fields:
    description:
      - Static fields added to every record, for example a change ticket. A dict, or in C(ansible.cfg) and the
        environment a JSON object or C(name=value) pairs separated by commas.
      - Field names are lower case letters, digits and C(_). A name the record already has, a name ausearch would
        take for a field of the record's own, a value that cannot be recorded, or fields too long to fit beside the
        longest task context, object and result keep the plugin from loading, and every change is refused.
    type: raw
    default: {}
    ini:
      - section: changeaudit_record_changes
        key: fields
    env:
      - name: CHANGEAUDIT_RECORD_CHANGES_FIELDS
    vars:
      - name: changeaudit_record_changes_fields
  backend:
    description: The writer backend, as O(changeaudit.linux.usys_config#module:backend).
    type: str
    default: auto
    choices: [auto, libaudit, netlink]
    ini:
      - section: changeaudit_record_changes
        key: backend
    env:
      - name: CHANGEAUDIT_RECORD_CHANGES_BACKEND
    vars:
      - name: changeaudit_record_changes_backend
  verify:
    description: Read each record back from the audit log before the host runs its next task.
    type: bool
    default: false
    ini:
      - section: changeaudit_record_changes
        key: verify
    env:
      - name: CHANGEAUDIT_RECORD_CHANGES_VERIFY
    vars:
      - name: changeaudit_record_changes_verify
  ledger_dir:
    description:
      - Where the run's ledger is kept on the controller, one directory per run (C(<ledger_dir>/<run_id>/), mode
        0700, which must be the controller user's and not writable by others, as must O(ledger_dir)) with
        C(ledger.jsonl) (mode 0600) in it. A C(start) line opens the run; before a task that may change a host runs
        on it, an C(intent) line names the host, the task, the module and the object as its record does; after the
        task, an C(outcome) line says what came of it (C(recorded), C(unchanged), C(not_recorded) with the reason,
        C(skipped_by_policy) for O(skip) and C(async) tasks with C(poll=0), or C(unknown) with the reason); at the end
        of the run a C(seal) line closes it. Intent and outcome carry the host's number of the change in the run,
        C(seq), which its audit record carries too, next to C(task_id).
      - Every line is chained to the one before under a key derived from the controller's signing key, and the
        seal is signed with it, so an edited, deleted, inserted, duplicated or moved line is named by the evidence.
        An intent without an outcome, or a ledger without its seal, is a run whose end nobody saw, such as a worker or
        the controller killed between the change and its record.
      - The playbook C(changeaudit.linux.evidence) finds the ledger however this option is set.
      - A ledger that cannot be written stops the change, as a record that cannot be written does (O(mode=warn)
        only warns). An empty value keeps no ledger.
    type: str
    default: ~/.ansible/changeaudit/ledger
    version_added: 1.2.0
    ini:
      - section: changeaudit_record_changes
        key: ledger_dir
    env:
      - name: CHANGEAUDIT_LEDGER_DIR
    vars:
      - name: changeaudit_ledger_dir
  in_module:
    description:
      - Whether the record of a change may be written inside the module's own process, after its result is final
        and before it is printed, where that process can write it (a Python module run by core's plain action or
        C(copy) with C(content), as root, without C(changed_when), C(failed_when), C(until), check mode, C(async),
        C(no_log) or Mitogen). Every other task, and every task with V(false), gets its record from the writer, a
        second process on the target. The ledger's outcome line says which (C(path=in_module) or C(path=writer)).
    type: bool
    default: true
    version_added: 1.2.0
    ini:
      - section: changeaudit_record_changes
        key: in_module
    env:
      - name: CHANGEAUDIT_IN_MODULE
notes:
  - The record is written as root whoever the task ran as, and says who that was (V(become_user), or V(remote_user)
    without become). For a task with another C(become_user) or without become, the writer becomes root with the
    play's C(become_method) for the record only; C(su), C(machinectl) and C(ksu) need root's password in the host
    variable C(changeaudit_become_password). Where the sudoers allow no arbitrary root command, C(changeaudit_record_privilege=helper)
    writes through the record helper the role C(changeaudit.linux.record_helper) installs (path in
    C(changeaudit_record_helper)).
  - Hosts that cannot keep a Linux audit record (network devices, Windows, no Python, a kernel or container that
    refuses records) fail before their first change unless the host variable C(changeaudit_host_policy) says
    V(skip) (their changes run unrecorded, with a warning, and the end-of-run summary lists them) or V(controller)
    (the record goes into the controller's audit trail, naming the host). C(changeaudit_audit_forwarding=true)
    accepts a host whose auditd writes no log and forwards its records through a dispatcher plugin.
  - C(ansible.posix.synchronize), C(ansible.posix.patch), C(ansible.builtin.reboot) and
    C(community.general.shutdown) are recorded on the host they changed (shutdown before it runs); see the guide
    R(Real plays,ansible_collections.changeaudit.linux.docsite.guide_real_plays).
  - The options under C(vars) are read from extra vars (C(-e)) only, once per run.
  - Each result the plugin wrote a record for gets a C(changeaudit_record) key (C(recorded), C(host), C(run_id),
    C(record), C(sequence), or C(error) and C(cause)); C(register) sees it.
  - Set C(CHANGEAUDIT_RUN_ID) to choose the C(run_id) of the run, as for M(changeaudit.linux.audited).
extends_documentation_fragment:
  - changeaudit.linux._hashing
seealso:
  - module: changeaudit.linux.audited
  - module: changeaudit.linux.usys_config_info
"""

import atexit
import json
import os
import re
import shutil
import tempfile
import typing as t

from ansible.errors import AnsibleError
from ansible.plugins.callback import CallbackBase
from ansible_collections.changeaudit.linux.plugins.plugin_utils._core import _refusal, _vars

PLUGIN = "changeaudit.linux.record_changes"
try:
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _install as _hook
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _ledger_lines, _notes, _writing
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook._settings import Settings
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _signing
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import LEDGER_KEY_PURPOSE, LedgerError, ledger_location
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._context import fix_run_id, run_id
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._hashing import hasher_for
except Exception as exc:  # pylint: disable=broad-except
    # Kept to refuse every change with it (set_options): a recorder that cannot load must not let changes through.
    _hook = None  # type: ignore[assignment]
    _IMPORT_ERROR = "%s: %s" % (type(exc).__name__, exc)
else:
    _IMPORT_ERROR = ""

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
DISABLE_HINT = (
    "To run without recording changes, remove %s from callbacks_enabled (ANSIBLE_CALLBACKS_ENABLED)." % PLUGIN
)
LOADING = (
    "%s is enabled but did not finish loading (see the warning 'Failed to load callback plugin' above), so no task "
    "that may change a host runs. %s" % (PLUGIN, DISABLE_HINT)
)


def ledger_directory(path: t.Optional[str]) -> t.Optional[str]:
    """The ledger directory (``_ledger.ledger_location``), made (0700) now and checked to be the controller user's own,
    so that a path that cannot be written, or that another user could rewrite, stops the changes before any runs;
    None when the option is empty."""
    if not path:
        return None
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise AnsibleError("%s: ledger_dir %s cannot be made: %s" % (PLUGIN, path, exc.strerror or exc)) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise AnsibleError("%s: ledger_dir %s cannot be written" % (PLUGIN, path))
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import LedgerError, check_private_directory

    try:
        check_private_directory(path)
    except LedgerError as exc:
        raise AnsibleError("%s: %s" % (PLUGIN, exc)) from None
    return path


def parse_fields(value: t.Any) -> t.Dict[str, t.Any]:
    """The fields option: a dict, a JSON object, or name=value pairs separated by commas."""
    if value in (None, "", {}):
        return {}
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise AnsibleError("%s: fields is not a valid JSON object: %s" % (PLUGIN, exc)) from None
        else:
            pairs = [item.strip() for item in text.split(",") if item.strip()]
            if any("=" not in pair for pair in pairs):
                raise AnsibleError(
                    "%s: fields must be a JSON object or name=value pairs separated by commas, not %r"
                    % (PLUGIN, value)
                )
            value = dict(pair.split("=", 1) for pair in pairs)
            value = {name.strip(): item.strip() for name, item in value.items()}
    if not isinstance(value, dict):
        raise AnsibleError("%s: fields must be a dict, not %s" % (PLUGIN, type(value).__name__))
    bad = sorted(str(name) for name in value if not FIELD_NAME.match(str(name)))
    if bad:
        raise AnsibleError(
            "%s: field names are lower case letters, digits and _, starting with a letter: %s"
            % (PLUGIN, ", ".join(bad))
        )
    return {str(name): item for name, item in value.items()}


class CallbackModule(CallbackBase):
    """Loads the every-change hook (plugin_utils/_hook/) and prints the records written per host.

    Fails closed: ansible-core turns whatever a callback raises while it loads into a warning and runs the play
    anyway. So every change is refused (_refusal.refuse_changes) from the moment this plugin is made until its
    options are in place and the hook is installed; if that fails, the refusal stays, with the cause.
    """

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = PLUGIN
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        _refusal.refuse_changes(LOADING)
        super().__init__(*args, **kwargs)
        self._state_dir: t.Optional[str] = None
        self._settings: t.Any = None
        # The run's ledger as this process writes it: its start now, its seal at the end of the run.
        self._ledger: t.Any = None

    def set_options(self, task_keys: t.Any = None, var_options: t.Any = None, direct: t.Any = None) -> None:
        try:
            self._set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        except BaseException as exc:
            _refusal.refuse_changes(
                "%s is enabled but cannot record changes, so no task that may change a host runs: %s. %s"
                % (PLUGIN, str(exc).rstrip(".") or type(exc).__name__, DISABLE_HINT)
            )
            raise
        _refusal.allow_changes()

    def _set_options(self, task_keys: t.Any = None, var_options: t.Any = None, direct: t.Any = None) -> None:
        if _hook is None:
            raise AnsibleError(
                "%s cannot import its own code (%s); reinstall the changeaudit.linux collection" % (PLUGIN, _IMPORT_ERROR)
            )
        _hook.check_version()
        if var_options is None:
            var_options = _vars.callback_var_options(self)
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        if self._state_dir is None:
            # Shared with the workers (forked later): they note checks and records here, one line each.
            self._state_dir = tempfile.mkdtemp(prefix="changeaudit-record-changes-")
            atexit.register(shutil.rmtree, self._state_dir, True)
        extra = _vars.extra_vars()
        ledger_dir = ledger_directory(ledger_location(extra, self.get_option("ledger_dir")))
        ledger_key = ledger_key_id = signer = None
        # Each record is signed with the controller's key (without a ledger, only with a key the run names).
        key = _signing.controller_key(ledger_dir, extra) if ledger_dir else _signing.explicit_key(extra)
        if ledger_dir:
            # The ledger's lines are chained under a key derived from the controller's signing key, and its seal
            # signed with it: who can write the ledger directory cannot rewrite the verdict unseen.
            ledger_key, ledger_key_id, signer = key.mac_key(LEDGER_KEY_PURPOSE), key.key_id, key.sign
        settings = Settings(
            mode=self.get_option("mode"),
            skip=self.get_option("skip") or (),
            fields=parse_fields(self.get_option("fields")),
            backend=self.get_option("backend"),
            verify=bool(self.get_option("verify")),
            state_dir=self._state_dir,
            ledger_dir=ledger_dir,
            # Asked now, when the run starts, for the hosts whose changeaudit_host_policy is controller.
            controller_problem=_writing.controller_problem(),
            ledger_key=ledger_key,
            ledger_key_id=ledger_key_id,
            record_key=key,
            in_module=bool(self.get_option("in_module")),
        )
        # Before any worker forks: every worker of the run records, and notes in the ledger, the same run ID.
        fix_run_id()
        # A hash key from the environment or a key file is checked now; one from a variable before each change.
        hasher_for(None, {})
        if ledger_dir and self._ledger is None:
            self._ledger = _ledger_lines.run_ledger(settings, run_id({}), signer)
            try:
                self._ledger.start(**_ledger_lines.start_details(settings))
            except LedgerError as exc:
                raise AnsibleError("%s: the run's ledger cannot be started: %s" % (PLUGIN, exc)) from None
        _hook.install(settings)
        self._settings = settings

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        if self._settings is None or _hook is None:
            return
        counts = _notes.record_counts(self._settings)
        if self._ledger is not None:
            try:
                self._ledger.seal(final=True)
            except LedgerError as exc:
                self._display.warning("%s: the run's ledger could not be sealed, so its proof will say the run did not "
                                      "end: %s" % (PLUGIN, exc))
        hosts = sorted(set(getattr(stats, "processed", {}) or {}) | set(counts))
        if not hosts:
            return
        run_ids = sorted({run for entry in counts.values() for run in entry["run_ids"]})
        self._display.banner("CHANGEAUDIT RECORDS" + (" (run_id %s)" % ", ".join(run_ids) if run_ids else ""))
        for host in hosts:
            entry = counts.get(host, {})
            written, failed = entry.get("written", 0), entry.get("failed", 0)
            line = "%s : %d record%s written" % (host, written, "" if written == 1 else "s")
            if failed:
                line += ", %d change%s NOT recorded (the record could not be written)" % (failed, "" if failed == 1 else "s")
            for why, number in sorted((entry.get("skipped") or {}).items()):
                line += ", %d change%s not recorded (%s)" % (number, "" if number == 1 else "s", why)
            unknown = entry.get("unknown") or []
            if unknown:
                line += ", %d change%s with an UNKNOWN outcome and no record: %s" % (
                    len(unknown), "" if len(unknown) == 1 else "s", "; ".join(unknown))
            self._display.display(
                line, color="bright red" if failed or unknown else "bright yellow" if entry.get("skipped") else None)
