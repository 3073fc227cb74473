# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The JSON format of a report (evidence.json, drift.json): one renderer for both reports."""

from __future__ import annotations

import json
import typing as t

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_text import SURROGATES

# For the JSON of a report: a surrogate as its JSON escape.
_JSON_SURROGATES = {code: "\\u%04x" % code for code in SURROGATES}


def iter_json(report: t.Mapping[str, t.Any]) -> t.Iterator[str]:
    """A report's JSON text in pieces (render_json): the rows of ``changes`` and the entries of ``hosts`` one a line,
    each through json's C encoder, the rest indented; a report of 200,000 changes is written as it is made, never
    held whole, in a fraction of the pure-Python indenting encoder's time. The same JSON value as one json.dumps."""
    encode = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode

    def indented(value: t.Any) -> str:
        # json never writes a raw line break inside a string: every one here is layout.
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).replace("\n", "\n  ")

    names = sorted(report)
    yield "{"
    for number, name in enumerate(names):
        value = report[name]
        yield "%s\n  %s: " % ("," if number else "", encode(name))
        if name == "changes" and isinstance(value, list) and value:
            yield "["
            for start in range(0, len(value), 1000):
                yield ",".join("\n    " + encode(row) for row in value[start:start + 1000]).translate(_JSON_SURROGATES) + (
                    "," if start + 1000 < len(value) else "")
            yield "\n  ]"
        elif name == "hosts" and isinstance(value, dict) and value and all(isinstance(key, str) for key in value):
            items = sorted(value.items())
            yield "{"
            for start in range(0, len(items), 1000):
                yield ",".join("\n    %s: %s" % (encode(host), encode(about)) for host, about in items[start:start + 1000]
                               ).translate(_JSON_SURROGATES) + ("," if start + 1000 < len(items) else "")
            yield "\n  }"
        else:
            yield indented(value).translate(_JSON_SURROGATES)
    yield "\n}\n" if names else "}\n"


def render_json(report: t.Mapping[str, t.Any]) -> str:
    """A report's JSON text: every value as it is, a surrogate (an undecodable byte, a lone surrogate) as its
    ``\\udcNN`` JSON escape, which json.loads turns back into the same text; valid UTF-8 whatever the values.
    Outside its strings json.dumps writes ASCII only, so every surrogate it leaves is inside one."""
    return "".join(iter_json(report))


__all__ = [
    "iter_json",
    "render_json",
]
