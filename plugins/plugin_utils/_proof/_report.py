# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The formats of the reports, one registry (``REPORT_FORMATS``: report -> format -> its file and renderer) that
writing a report (``write_formats``), the evidence's manifests (``_manifest``) and the check of a report later
(``_report_check``) all follow; a format both reports have the same (JSON) is one renderer. And how a report's files
are written: each made fresh, never through a symlink, in a directory of the controller's user.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import typing as t

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_csv import iter_evidence_csv, render_drift_csv
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_html import iter_evidence_html, render_drift_html
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_json import iter_json
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_junit import iter_evidence_junit, render_drift_junit

EVIDENCE = "evidence"
DRIFT = "drift"
REPORT_FILE_MODE = 0o640


class ReportFormat(t.NamedTuple):
    """A file of a report: its name, and what renders the report's text (in pieces, or whole)."""

    file: str
    render: t.Callable[[t.Mapping[str, t.Any]], t.Union[str, t.Iterable[str]]]


# In the order the files are written and a manifest lists them.
REPORT_FORMATS: t.Dict[str, t.Dict[str, ReportFormat]] = {
    EVIDENCE: {
        "json": ReportFormat("evidence.json", iter_json),
        "csv": ReportFormat("evidence.csv", iter_evidence_csv),
        "junit": ReportFormat("junit.xml", iter_evidence_junit),
        "html": ReportFormat("evidence.html", iter_evidence_html),
    },
    DRIFT: {
        "json": ReportFormat("drift.json", iter_json),
        "csv": ReportFormat("drift.csv", render_drift_csv),
        "junit": ReportFormat("junit.xml", render_drift_junit),
        "html": ReportFormat("drift.html", render_drift_html),
    },
}


def report_files(report: str) -> t.Tuple[str, ...]:
    """The file names of a report (EVIDENCE, DRIFT), in their order."""
    return tuple(about.file for about in REPORT_FORMATS[report].values())


def open_report_directory(directory: str, what: str = "report") -> int:
    """A descriptor of ``directory`` (absolute), made 0750 if it is not there; never through a symlink."""
    try:
        os.makedirs(directory, mode=0o750, exist_ok=True)
        return os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        is_link = os.path.islink(directory)
        raise AnsibleError("cannot write the %s into %s: %s. Name a directory of the controller's user as "
                           "report_dir" % (what, directory, "it is a symlink, which is never followed" if is_link
                                           else exc.strerror or exc)) from None


def write_formats(report: str, document: t.Mapping[str, t.Any], dir_fd: int, directory: str) -> t.Dict[str, str]:
    """Every file of ``report`` rendered from ``document`` into the directory ``dir_fd``; returns file name -> sha256."""
    sums = {}
    for about in REPORT_FORMATS[report].values():
        # Streamed: a report of 200,000 changes is a few hundred MB of text, never held whole.
        text = about.render(document)
        sums[about.file] = write_fresh(dir_fd, directory, about.file, [text] if isinstance(text, str) else text)
    return sums


_WRITE_CHUNK = 1 << 20


def write_fresh(dir_fd: int, directory: str, name: str, data: t.Union[bytes, t.Iterable[str]]) -> str:
    """``data`` (bytes, or text in pieces, written as UTF-8 as they come) as ``name`` in the directory ``dir_fd``: a
    new temp file renamed over it; returns its sha256."""
    temp = ".%s.%s.tmp" % (name, secrets.token_hex(8))
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                 REPORT_FILE_MODE, dir_fd=dir_fd)
    digest = hashlib.sha256()

    def write(chunk: bytes) -> None:
        digest.update(chunk)
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]

    try:
        try:
            os.fchmod(fd, REPORT_FILE_MODE)
            if isinstance(data, (bytes, bytearray)):
                write(bytes(data))
            else:
                pending: t.List[bytes] = []
                size = 0
                for piece in data:
                    encoded = piece.encode("utf-8")
                    pending.append(encoded)
                    size += len(encoded)
                    if size >= _WRITE_CHUNK:
                        write(b"".join(pending))
                        pending, size = [], 0
                write(b"".join(pending))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            if stat.S_ISDIR(os.lstat(name, dir_fd=dir_fd).st_mode):
                raise AnsibleError("cannot write the report file %s: a directory of that name is in the way; remove it"
                                   % os.path.join(directory, name))
        except FileNotFoundError:
            pass
        os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(temp, dir_fd=dir_fd)
        except OSError:
            pass
        raise
    return digest.hexdigest()


__all__ = [
    "EVIDENCE",
    "DRIFT",
    "REPORT_FILE_MODE",
    "ReportFormat",
    "REPORT_FORMATS",
    "report_files",
    "open_report_directory",
    "write_formats",
    "write_fresh",
]
