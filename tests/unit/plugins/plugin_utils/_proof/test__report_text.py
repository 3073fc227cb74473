"""What a value of a report shows as."""

from __future__ import annotations

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_text import shown


def test_shown_escapes_exactly_what_cannot_be_seen():
    assert shown(None) == "" and shown(7) == "7"
    assert shown("a\\x00b") == "a\\x00b", "a backslash is left as it is"
    assert shown("\x00\t\n", keep="\n\t") == "\\x00\t\n"
    assert shown("\udc80\udcff\udc7f") == "\\x80\\xff\\udc7f"
