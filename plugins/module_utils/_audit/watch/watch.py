# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Persistent audit watch rules on the objects Ansible manages, and the baseline the drift report compares with.

One rules file holds one ``-w PATH -p wa -k KEY`` line per object, all with the collection's key: a file watch
follows the file when it is replaced by rename (the kernel moves the watch to the new inode of that name: Ansible's
atomic move, ``sed -i``, editors), a directory watch covers everything under it. The file is loaded with
``augenrules --load`` where rules.d is used, else the difference with what the kernel holds with ``auditctl -R``.
What the kernel then holds is read back over netlink (rules.py) and must be the file's rules exactly.

The baseline (state file, root only) says when the current rule set was loaded, its hash, the kernel's lost counter
and the boot then, and the time windows in which this module itself changed the rules: the reader (unwatched.py)
treats a rule removed or added outside those windows as the watch broken.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import time

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError, AuditInvalidInputError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.rules import (
    F_DIR,
    F_FILTERKEY,
    F_PERM,
    F_WATCH,
    KEY_SEPARATOR,
    AuditRule,
)
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.status import AUDIT_LOCKED

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

WATCH_KEY = "changeaudit-watch"
RULES_DIR = "/etc/audit/rules.d"
# Before 99-finalize.rules, which holds -e 2 where rules are locked: augenrules concatenates in name order.
RULES_FILE = RULES_DIR + "/70-changeaudit-watch.rules"
STATE_DIR = "/var/lib/changeaudit"
STATE_FILE = STATE_DIR + "/watch-state.json"
STATE_FORMAT = 1
DEFAULT_MAX_RULES = 1000
# write and attribute change: every write-opening open, create, rename, unlink, link, chmod, chown, setxattr.
PERMISSIONS = "wa"
_PERM_BITS = 2 | 8
# The kernel's limits: a key is at most AUDIT_MAX_KEY_LEN bytes, a path at most PATH_MAX.
MAX_KEY_BYTES = 256
MAX_PATH_BYTES = 4095
# Windows of the module's own rule changes kept in the state file (the oldest are dropped).
MAX_LOADS = 200
LOADERS = ("auto", "augenrules", "auditctl")


def _invalid(message: str, hint: str) -> AuditInvalidInputError:
    return AuditInvalidInputError(message, hint=hint)


def check_key(key: t.Any) -> str:
    if not isinstance(key, str) or not key or len(key.encode("utf-8")) > MAX_KEY_BYTES or any(
            char.isspace() or char in "\"'\\" or ord(char) < 0x21 or ord(char) > 0x7E for char in key):
        raise _invalid("The watch key %r cannot be used" % (key,),
                       "Give 1 to %d printable ASCII characters without spaces or quotes" % MAX_KEY_BYTES)
    return key


def normalize_paths(paths: t.Iterable[t.Any], max_rules: int = DEFAULT_MAX_RULES) -> t.List[str]:
    """The watched paths, checked, normalized, without duplicates, sorted; raises AuditInvalidInputError."""
    found = set()
    for path in paths:
        if not isinstance(path, str) or not path.startswith("/"):
            raise _invalid("The watch path %r is not an absolute path" % (path,), "Give absolute paths, such as /etc/sudoers")
        # A rules file is split at white space and read as text: a path that holds any cannot be written there.
        if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in path):
            raise _invalid("The watch path %r holds white space or a control character, which an audit rules file cannot "
                           "hold" % (path,), "Watch its directory instead")
        if path.encode("utf-8", "surrogateescape").__len__() > MAX_PATH_BYTES:
            raise _invalid("The watch path %s... is longer than the kernel's PATH_MAX" % path[:80], "Watch a shorter path")
        parts = path.split("/")
        if ".." in parts:
            raise _invalid("The watch path %s holds a '..' component" % path, "Give the path without '..'")
        normal = os.path.normpath(path)
        if normal.startswith("//"):
            normal = "/" + normal.lstrip("/")
        if normal == "/":
            raise _invalid("The root directory cannot be watched", "Watch the directories Ansible manages")
        found.add(normal)
    if len(found) > max_rules:
        raise _invalid("%d paths to watch, more than the maximum of %d" % (len(found), max_rules),
                       "Each watch costs kernel memory and time on every file operation under it: watch fewer objects "
                       "(a directory instead of the files in it), or raise the maximum (max_rules)")
    return sorted(found)


def rule_line(path: str, key: str = WATCH_KEY) -> str:
    return "-w %s -p %s -k %s" % (path, PERMISSIONS, key)


def render_rules(paths: t.Sequence[str], key: str = WATCH_KEY) -> str:
    lines = ["## Managed by changeaudit.linux.watch: objects Ansible manages, watched for writes made outside it.",
             "## Changes here are overwritten; set changeaudit_watch_paths instead."]
    lines.extend(rule_line(path, key) for path in paths)
    return "\n".join(lines) + "\n"


def rule_keys(rule: AuditRule) -> t.List[str]:
    keys: t.List[str] = []
    for item in rule.fields:
        if item.field == F_FILTERKEY:
            keys.extend(part for part in (item.text or "").split(KEY_SEPARATOR) if part)
    return keys


def watched_by_key(rules: t.Iterable[AuditRule], key: str = WATCH_KEY) -> t.Dict[str, int]:
    """path -> permission bits of the loaded watch rules (-w, as F_WATCH or F_DIR) that carry ``key``."""
    found = {}
    for rule in rules:
        if key not in rule_keys(rule):
            continue
        path = None
        perm = 0
        for item in rule.fields:
            if item.field in (F_WATCH, F_DIR):
                path = item.text
            elif item.field == F_PERM:
                perm = item.value
        if path is not None:
            found[path] = perm
    return found


def other_watches(rules: t.Iterable[AuditRule], paths: t.Iterable[str], key: str = WATCH_KEY) -> t.List[str]:
    """Loaded watch rules of other keys on the same paths: the first rule that matches an event names its key, so
    an earlier one hides the collection's key from those events (and the drift report then does not see them)."""
    wanted = set(paths)
    found = []
    for rule in rules:
        if key in rule_keys(rule):
            continue
        for item in rule.fields:
            if item.field in (F_WATCH, F_DIR) and item.text in wanted:
                found.append(item.text)
    return sorted(set(found))


def rules_hash(watched: t.Mapping[str, int], key: str = WATCH_KEY) -> str:
    text = "".join("%s\0%d\0%s\n" % (path, watched[path], key) for path in sorted(watched))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def boot_id() -> t.Optional[str]:
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return handle.read().strip()
    except OSError:
        return None


def read_state(path: str = STATE_FILE) -> t.Optional[t.Dict[str, t.Any]]:
    """The baseline, or None when there is none; a state file others could have written is refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditError("Cannot read the watch's state file %s" % path, errno=exc.errno,
                         hint="Read it as root (become: true)") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if info.st_uid != 0 or info.st_mode & 0o077:
            raise AuditError("The watch's state file %s is not root's own with mode 0600 (uid %d, mode %o): it could "
                             "have been written by someone else" % (path, info.st_uid, info.st_mode & 0o777),
                             hint="Remove it and apply the changeaudit.linux.watch role again")
        try:
            state = json.loads(handle.read(4 * 1024 * 1024).decode("utf-8"))
        except ValueError:
            raise AuditError("The watch's state file %s is not JSON" % path,
                             hint="Remove it and apply the changeaudit.linux.watch role again") from None
    return state if isinstance(state, dict) else None


def write_state(state: t.Mapping[str, t.Any], path: str = STATE_FILE) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    _replace(path, ".watch-state.", json.dumps(state, indent=1, sort_keys=True) + "\n")


def _read_text(path: str) -> t.Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditError("Cannot read the rules file %s" % path, errno=exc.errno, hint="Run the task as root") from None


def _write_text(path: str, text: str) -> None:
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise AuditError("The directory %s of the rules file does not exist" % directory,
                         hint="Install auditd (its package makes /etc/audit/rules.d), or name another rules_file")
    # augenrules reads rules.d files of mode 0600 at most (a readable rule set shows what is not watched).
    _replace(path, ".changeaudit-watch.", text)


def _replace(path: str, prefix: str, text: str) -> None:
    """``path`` replaced by a file of ``text``, mode 0600, whole or not at all (a new file renamed over it)."""
    fd, temp = tempfile.mkstemp(prefix=prefix, dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def _run(run: t.Any, argv: t.Sequence[str], what: str) -> str:
    try:
        returncode, said = run(list(argv))
    except OSError as exc:
        raise AuditError("Cannot run %s to %s" % (argv[0], what), errno=exc.errno,
                         hint="Install the audit userspace (auditd, auditctl)") from None
    said = (said or "").strip()
    if returncode != 0:
        raise AuditError("%s failed (rc %d) to %s: %s" % (" ".join(argv), returncode, what, said[-2000:] or "no output"),
                         hint="Fix what it names (a rule of another file in %s, a path whose directory does not exist); "
                         "auditctl -l lists what the kernel holds" % RULES_DIR)
    return said


def choose_loader(loader: str, rules_file: str) -> str:
    if loader not in LOADERS:
        raise _invalid("Unknown loader %r" % (loader,), "Use one of %s" % ", ".join(LOADERS))
    if loader != "auto":
        return loader
    in_rules_d = os.path.dirname(rules_file) == RULES_DIR and os.path.isdir(RULES_DIR)
    return "augenrules" if in_rules_d and shutil.which("augenrules", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") \
        else "auditctl"


def _auditctl() -> str:
    return shutil.which("auditctl", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") or "auditctl"


def _load_delta(run: t.Any, add: t.Sequence[str], remove: t.Sequence[str], key: str) -> None:
    """Load the difference with auditctl -R (which stops at the first failing line: so only lines that must work)."""
    if not add and not remove:
        return
    lines = ["-W %s -p %s -k %s" % (path, PERMISSIONS, key) for path in remove] + [rule_line(path, key) for path in add]
    fd, temp = tempfile.mkstemp(prefix="changeaudit-watch-", suffix=".rules")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write("\n".join(lines) + "\n")
        _run(run, [_auditctl(), "-R", temp], "load the watch rules")
    finally:
        os.unlink(temp)


def _kernel() -> t.Tuple[t.Dict[str, int], t.List[AuditRule]]:
    # Imported here: unit tests of the file side need no netlink socket.
    from ansible_collections.changeaudit.linux.plugins.module_utils._audit.system.netlink import query_rules, query_status

    return query_status(), query_rules()


def _who() -> t.Dict[str, t.Any]:
    found: t.Dict[str, t.Any] = {}
    for name in ("loginuid", "sessionid"):
        try:
            with open("/proc/self/%s" % name) as handle:
                found[name] = int(handle.read().strip())
        except (OSError, ValueError):
            found[name] = None
    return {"auid": found["loginuid"], "ses": found["sessionid"]}


def _locked_error(status: t.Mapping[str, int]) -> AuditError:
    del status
    return AuditError(
        "The audit rules are locked until the next boot (auditctl -s shows enabled 2, set by -e 2): no watch rule can be "
        "added or removed now",
        hint="Write the rules file and reboot: put it before the file that holds -e 2 in %s (this role's file is named "
        "to sort before 99-finalize.rules), or take -e 2 out of the rules and reboot" % RULES_DIR)


def _paths_ok(paths: t.Sequence[str]) -> None:
    for path in paths:
        parent = os.path.dirname(path)
        if not os.path.isdir(path) and not os.path.isdir(parent):
            raise AuditError("Cannot watch %s: its directory %s does not exist, and the kernel watches a file through "
                             "its directory" % (path, parent), errno=errno.ENOENT,
                             hint="Create the directory first (or watch one that exists), then apply the watch")


def apply(params: t.Mapping[str, t.Any], run: t.Any, check_mode: bool = False, diff: bool = False) -> t.Dict[str, t.Any]:
    """The watch_rules module's work (see its DOCUMENTATION); raises AuditError. ``run(argv)`` runs auditctl and
    augenrules and returns (rc, output): the module passes AnsibleModule.run_command, the binding starts no process."""
    key = check_key(params.get("key") or WATCH_KEY)
    state_name = params.get("state") or "present"
    rules_file = params.get("rules_file") or RULES_FILE
    state_file = params.get("state_file") or STATE_FILE
    max_rules = params.get("max_rules")
    max_rules = DEFAULT_MAX_RULES if max_rules is None else int(max_rules)
    if state_name == "present":
        paths = normalize_paths(params.get("paths") or [], max_rules)
    else:
        paths = []
    status, rules = _kernel()
    loaded = watched_by_key(rules, key)
    want = {path: _PERM_BITS for path in paths}
    text = render_rules(paths, key) if state_name == "present" else None
    before_text = _read_text(rules_file)
    file_changes = before_text != text
    kernel_changes = loaded != want
    state = read_state(state_file)
    state_changes = state_name == "present" and (
        state is None or state.get("rules_sha256") != rules_hash(want, key) or state.get("key") != key
        or state.get("boot_id") != boot_id() and kernel_changes)
    if state_name == "absent":
        state_changes = state is not None
    changed = file_changes or kernel_changes or state_changes
    result: t.Dict[str, t.Any] = {
        "changed": changed, "key": key, "rules_file": rules_file, "state_file": state_file, "paths": paths,
        "count": len(paths), "rules": [rule_line(path, key) for path in paths], "warnings": [],
        "added": sorted(set(want) - set(loaded)), "removed": sorted(set(loaded) - set(want)),
    }
    if diff:
        result["diff"] = {"before": before_text or "", "after": text or "",
                          "before_header": rules_file, "after_header": rules_file}
    hidden = other_watches(rules, paths, key)
    if hidden:
        result["warnings"].append(
            "Loaded watch rules of another key cover %s; where such a rule comes first, events carry its key, not %s, "
            "and the drift report does not see them: give those rules the key %s too (-k %s as a second -k)"
            % (", ".join(hidden[:10]), key, key, key))
    if (kernel_changes or file_changes) and status.get("enabled") == AUDIT_LOCKED:
        raise _locked_error(status)
    if state_name == "present":
        _paths_ok(paths)
    if not changed or check_mode:
        result["loader"] = choose_loader(params.get("loader") or "auto", rules_file)
        return result
    loader = choose_loader(params.get("loader") or "auto", rules_file)
    result["loader"] = loader
    started = time.time()
    if state_name == "present":
        if file_changes:
            _write_text(rules_file, text or "")
        if kernel_changes:
            if loader == "augenrules":
                _run(run, ["augenrules", "--load"], "load the rules of %s" % RULES_DIR)
                # augenrules loads the whole of rules.d; what it left of ours is made right below.
                loaded = watched_by_key(_kernel()[1], key)
            _load_delta(run, sorted(set(want) - set(loaded)), sorted(set(loaded) - set(want)), key)
    else:
        if before_text is not None:
            os.unlink(rules_file)
        if loaded:
            _run(run, [_auditctl(), "-D", "-k", key], "delete the watch rules of key %s" % key)
    status_after, rules_after = _kernel()
    ended = time.time()
    now_loaded = watched_by_key(rules_after, key)
    if now_loaded != want:
        missing = sorted(set(want) - set(now_loaded))
        extra = sorted(set(now_loaded) - set(want))
        raise AuditError("The kernel does not hold the watch rules it was given: missing %s, not wanted %s"
                         % (", ".join(missing[:10]) or "none", ", ".join(extra[:10]) or "none"),
                         hint="auditctl -l lists what it holds; auditctl -D -k %s removes the collection's watch" % key)
    loads = list((state or {}).get("loads") or [])[-(MAX_LOADS - 1):]
    load = {"start": started, "end": ended, "count": len(want)}
    load.update(_who())
    loads.append(load)
    if state_name == "present":
        installed = (state or {}).get("installed") if not kernel_changes and state else started
        write_state({
            "format": STATE_FORMAT, "key": key, "rules_file": rules_file, "paths": paths, "count": len(paths),
            "rules_sha256": rules_hash(now_loaded, key), "installed": installed or started, "lost": status_after.get("lost"),
            "boot_id": boot_id(), "loads": loads,
        }, state_file)
    else:
        try:
            os.unlink(state_file)
        except FileNotFoundError:
            pass
    result["baseline"] = {"installed": started, "lost": status_after.get("lost")} if state_name == "present" else None
    return result


__all__ = [
    "WATCH_KEY",
    "RULES_DIR",
    "RULES_FILE",
    "STATE_DIR",
    "STATE_FILE",
    "STATE_FORMAT",
    "DEFAULT_MAX_RULES",
    "PERMISSIONS",
    "LOADERS",
    "check_key",
    "normalize_paths",
    "rule_line",
    "render_rules",
    "rule_keys",
    "watched_by_key",
    "other_watches",
    "rules_hash",
    "boot_id",
    "read_state",
    "write_state",
    "choose_loader",
    "apply",
]
