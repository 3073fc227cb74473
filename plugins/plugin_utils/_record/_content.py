# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""What a module's result says of the content it left: its checksum and whether its diff holds content, the evidence
a change record carries of what changed (as module_utils/_audit/in_module.py reads it on the target)."""

from __future__ import annotations

import hashlib
import json
import re
import typing as t


def diff_bytes(diff: t.Any) -> bytes:
    if not isinstance(diff, (bytes, str)):
        diff = json.dumps(diff, sort_keys=True, default=str, separators=(",", ":"))
    if isinstance(diff, str):
        diff = diff.encode("utf-8", "surrogateescape")
    return diff


def sha256_hex(data: t.Any) -> str:
    return "sha256:" + hashlib.sha256(diff_bytes(data)).hexdigest()


# Result keys in which modules return the SHA-1 of the content they left behind (copy, template, fetch, get_url).
CHECKSUM_KEYS = ("checksum", "checksum_dest")
_SHA1_HEX = re.compile(r"\A[0-9a-f]{40}\Z")


def content_checksum(result: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """``sha1:<hex>`` of the content after the change, when the module returned it: evidence of what the object
    holds that anyone can recompute with sha1sum. Under no_log, where the content may be the secret, change_fields
    records it keyed or not at all."""
    for key in CHECKSUM_KEYS:
        value = result.get(key)
        if isinstance(value, str) and _SHA1_HEX.match(value):
            return "sha1:" + value
    return None


def has_content_diff(diff: t.Any) -> bool:
    """Whether a module's diff holds content, not only headers.

    lineinfile and others return before/after headers without the text unless run with --diff; a hash of
    those would be the same for any change to the same file, so it is written only for a real diff.
    """
    entries = diff if isinstance(diff, list) else [diff]
    for entry in entries:
        if isinstance(entry, dict):
            if any(entry.get(key) not in (None, "", {}, []) for key in ("before", "after", "prepared")):
                return True
        elif entry not in (None, "", {}, []):
            return True
    return False


__all__ = ["diff_bytes", "sha256_hex", "CHECKSUM_KEYS", "content_checksum", "has_content_diff"]
