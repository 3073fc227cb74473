"""A ledger chained under a test key, whose seals a stand-in signer signs."""

from __future__ import annotations

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import Ledger


KEY = b"k" * 32


def signed(data: bytes) -> str:
    return "test:" + data.hex()[:16]


def keyed(directory, run_id="run-1"):
    return Ledger(str(directory), run_id, KEY, "kid", signed)
