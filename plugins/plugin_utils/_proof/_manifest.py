# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The evidence report's manifests: MANIFEST.sha256 (for ``sha256sum -c``) over the report's files, in the order of
the registry (``_report.REPORT_FORMATS``), and MANIFEST.json, signed: every file of the report and its sha256, the
ledger's head, the summary and verdict; MANIFEST.sig holds the controller key's signature of MANIFEST.json's bytes,
signing.pub its public key. ``_report_check`` checks a report against them.
"""

from __future__ import annotations

import json
import os
import typing as t

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report import EVIDENCE, report_files, write_fresh

if t.TYPE_CHECKING:
    from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing_key import SigningKey

MANIFEST = "MANIFEST.sha256"
MANIFEST_JSON = "MANIFEST.json"
MANIFEST_SIG = "MANIFEST.sig"
REPORT_PUBLIC_KEY = "signing.pub"
MANIFEST_FORMAT = 1


def write_manifests(dir_fd: int, directory: str, evidence: t.Mapping[str, t.Any], sums: t.Mapping[str, str],
                    key: t.Optional["SigningKey"] = None, ledger_head: t.Optional[str] = None) -> None:
    """The manifests of the report files ``sums`` (file name -> sha256) in the directory ``dir_fd``; with ``key``,
    MANIFEST.sig and signing.pub, without it none (an earlier report's would claim this one)."""
    listed = dict(sums)
    listed[MANIFEST] = write_fresh(dir_fd, directory, MANIFEST, "".join(
        "%s  %s\n" % (sums[name], name) for name in report_files(EVIDENCE)).encode("ascii"))
    if key is not None:
        listed[REPORT_PUBLIC_KEY] = write_fresh(dir_fd, directory, REPORT_PUBLIC_KEY, key.public_pem().encode("ascii"))
    manifest = {
        "format": MANIFEST_FORMAT,
        "run_id": evidence.get("run_id"),
        "generated": evidence.get("generated"),
        "verdict": evidence.get("verdict"),
        "summary": evidence.get("summary"),
        "ledger_head": ledger_head,
        "key_id": key.key_id if key is not None else None,
        "files": listed,
    }
    data = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")
    write_fresh(dir_fd, directory, MANIFEST_JSON, data)
    if key is not None:
        write_fresh(dir_fd, directory, MANIFEST_SIG, (key.sign(data) + "\n").encode("ascii"))
    else:
        # An earlier report's signature and key would claim this unsigned one.
        for stale in (MANIFEST_SIG, REPORT_PUBLIC_KEY):
            try:
                os.unlink(stale, dir_fd=dir_fd)
            except FileNotFoundError:
                pass


__all__ = [
    "MANIFEST",
    "MANIFEST_JSON",
    "MANIFEST_SIG",
    "REPORT_PUBLIC_KEY",
    "MANIFEST_FORMAT",
    "write_manifests",
]
