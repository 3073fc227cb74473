from __future__ import annotations

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._record._content import (
    content_checksum,
    diff_bytes,
    has_content_diff,
    sha256_hex,
)

SHA1 = "a7a667f16c07d27e921e55f4e2a779e8e6e96ec9"


@pytest.mark.parametrize(
    "result, expected",
    [
        ({"checksum": SHA1}, "sha1:" + SHA1),
        ({"checksum_dest": SHA1}, "sha1:" + SHA1),
        ({"checksum": "not a sha1", "checksum_dest": SHA1}, "sha1:" + SHA1),
        ({"checksum": SHA1.upper()}, None),
        ({}, None),
    ],
)
def test_content_checksum_takes_a_sha1_only(result, expected):
    assert content_checksum(result) == expected


@pytest.mark.parametrize(
    "diff, expected",
    [
        ({"before_header": "/etc/motd", "after_header": "/etc/motd"}, False),
        ({"before": "", "after": "x"}, True),
        ([{"before": ""}, {"prepared": "text"}], True),
        ("some text", True),
        (None, False),
        ([], False),
    ],
)
def test_has_content_diff(diff, expected):
    assert has_content_diff(diff) is expected


def test_a_diff_is_hashed_as_its_bytes_or_its_sorted_json():
    assert diff_bytes("é") == "é".encode()
    assert diff_bytes({"b": 1, "a": 2}) == b'{"a":2,"b":1}'
    assert sha256_hex("x") == "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
