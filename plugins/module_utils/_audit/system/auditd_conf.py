# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""What /etc/audit/auditd.conf tells auditd to do with a record: write it, and where.

auditd takes a record from the kernel and writes nothing when ``write_logs = no``
or the deprecated ``log_format = NOLOG`` (which also sets write_logs to no); the
kernel and libaudit report success all the same. The file is read the way
auditd reads it (src/auditd-config.c): tokens split at spaces, ``name = value``
with the ``=`` a token of its own, a first token starting with ``#`` is a
comment, names and the values compared here case-insensitive, later lines win.
A line auditd could not read stops its parser (it then refuses to start), so
such a line and everything after it is ignored here too, and an unreadable
file is reported as unknown: a guess never refuses a write.
"""

from __future__ import annotations

import collections
import os

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditdNotWritingError

# typing only for annotations: importing it costs each record ~3 ms on the target (plugin_utils/_writer/_writer.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

AUDITD_CONF = "/etc/audit/auditd.conf"
DEFAULT_LOG_FILE = "/var/log/audit/audit.log"
# Where auditd (3.x and later), and audispd before it (2.x), find their dispatcher plugins.
PLUGIN_DIRS = ("/etc/audit/plugins.d", "/etc/audisp/plugins.d")


class AuditdConf(collections.namedtuple("AuditdConf", ("path", "write_logs", "log_format", "log_file", "decided_by"))):
    """What auditd.conf says about keeping records; ``decided_by`` names the setting that decided write_logs,
    with its file and line, for the message (None: the default)."""

    __slots__ = ()

    def as_dict(self) -> t.Dict[str, t.Any]:
        return {"path": self.path, "write_logs": self.write_logs, "log_format": self.log_format, "log_file": self.log_file}


def parse_auditd_conf(text: str, path: str = AUDITD_CONF) -> AuditdConf:
    write_logs = True
    log_format = "ENRICHED"
    log_file = DEFAULT_LOG_FILE
    decided_by: t.Optional[str] = None
    for number, line in enumerate(text.split("\n"), 1):
        tokens = [token for token in line.split(" ") if token]
        if not tokens or tokens[0].startswith("#"):
            continue
        # auditd applies "name = value" even with surplus tokens, and stops at a line without a value.
        if len(tokens) < 3 or tokens[1] != "=":
            break
        name, value = tokens[0].lower(), tokens[2]
        where = "%s line %d" % (path, number)
        if name == "write_logs":
            if value.lower() not in ("yes", "no"):
                break
            write_logs = value.lower() == "yes"
            decided_by = "write_logs = %s in %s" % (value, where)
        elif name == "log_format":
            if value.lower() not in ("raw", "enriched", "nolog"):
                break
            log_format = value.upper()
            if log_format == "NOLOG":
                write_logs = False
                decided_by = "log_format = %s in %s" % (value, where)
        elif name == "log_file":
            log_file = value
    return AuditdConf(path, write_logs, log_format, log_file, decided_by)


def read_auditd_conf(path: str = AUDITD_CONF) -> t.Optional[AuditdConf]:
    """The settings, or None when the file cannot be read (then nothing is known)."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "surrogateescape")
    except OSError:
        return None
    return parse_auditd_conf(text, path)


def forwarding_plugins(dirs: t.Sequence[str] = PLUGIN_DIRS) -> t.List[str]:
    """The active dispatcher plugins that send records out (audisp-remote, syslog, af_unix, a SIEM's own), by the
    name of their program: ``active = yes`` and ``direction = out`` in their .conf, read as auditd reads them."""
    names = []
    for directory in dirs:
        try:
            entries = sorted(os.listdir(directory))
        except OSError:
            continue
        for entry in entries:
            if not entry.endswith(".conf"):
                continue
            settings = {}
            try:
                with open(os.path.join(directory, entry), "rb") as handle:
                    lines = handle.read().decode("utf-8", "replace").split("\n")
            except OSError:
                continue
            for line in lines:
                name, sep, value = line.partition("=")
                if sep and not name.strip().startswith("#"):
                    settings[name.strip().lower()] = value.strip()
            if settings.get("active", "").lower() == "yes" and settings.get("direction", "out").lower() == "out":
                program = os.path.basename(settings.get("path", "")) or entry[:-len(".conf")]
                if program not in names:
                    names.append(program)
    return names


def ensure_auditd_writes(conf: t.Optional[AuditdConf], forwarding: bool = False) -> t.List[str]:
    """Raise AuditdNotWritingError when auditd is configured to write no log, unless the host is declared to
    forward its records (``forwarding``) and a dispatcher plugin sends them out: then returns those plugins."""
    if conf is None or conf.write_logs:
        return []
    setting = conf.decided_by or conf.path
    if not forwarding:
        raise AuditdNotWritingError(
            "auditd is configured not to write a log (%s): the record would reach auditd and no log file" % setting
        )
    plugins = forwarding_plugins()
    if not plugins:
        raise AuditdNotWritingError(
            "auditd is configured not to write a log (%s) and no dispatcher plugin is active in %s: the host was "
            "declared to forward its records, but they would go nowhere" % (setting, " or ".join(PLUGIN_DIRS)),
            hint="Activate the plugin that forwards them (active = yes, for example audisp-remote or syslog) and "
            "restart auditd, or set write_logs = yes in /etc/audit/auditd.conf",
        )
    return plugins


__all__ = [
    "AUDITD_CONF",
    "DEFAULT_LOG_FILE",
    "AuditdConf",
    "parse_auditd_conf",
    "read_auditd_conf",
    "ensure_auditd_writes",
    "forwarding_plugins",
    "PLUGIN_DIRS",
]
