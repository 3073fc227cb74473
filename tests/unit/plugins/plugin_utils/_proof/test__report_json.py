"""The JSON format of a report: the whole reconciliation."""

from __future__ import annotations

import json


def test_the_json_is_the_whole_reconciliation(written):
    directory, result, _sums = written
    loaded = json.loads((directory / "evidence.json").read_text())
    assert loaded == json.loads(json.dumps(result)) and loaded["format"] == 2
