# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""Whether the watch held: the parts of a time span in which a write on a watched object may have gone unseen (rules
changed outside the watch role, auditing disabled, auditd stopped, records lost), each with its reason.
"""

from __future__ import annotations

import time

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.read.logline import UNSET_ID
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.event import iso_epoch
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.watch.watch import WATCH_KEY, rules_hash

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

# The module's windows are stamped by the same clock as the kernel's records: this covers rounding only.
_OWN_WINDOW_SLACK = 0.05


def span(start: float, end: float, reason: str) -> t.Dict[str, t.Any]:
    return {"start": start, "end": end, "start_time": iso_epoch(start), "end_time": iso_epoch(end), "reason": reason}


def _who(change: t.Mapping[str, t.Any]) -> str:
    parts = []
    if change.get("auid") is not None:
        parts.append("auid %s" % ("unset" if change["auid"] == UNSET_ID else change["auid"]))
    if change.get("ses") is not None:
        parts.append("ses %s" % ("unset" if change["ses"] == UNSET_ID else change["ses"]))
    if change.get("exe"):
        parts.append("exe %s" % change["exe"])
    return ", ".join(parts) or "someone"


def unwatched_spans(start: float, end: float, state: t.Optional[t.Mapping[str, t.Any]], changes: t.Sequence[t.Mapping[str, t.Any]],
                    log_start: t.Optional[float], now_rules: t.Optional[t.Mapping[str, int]], status: t.Optional[t.Mapping[str, int]],
                    key: str = WATCH_KEY, now: t.Optional[float] = None, current_boot: t.Optional[str] = None) -> t.List[t.Dict[str, t.Any]]:
    """The parts of [start, end] in which a write on a watched object may have gone unseen, each with its reason."""
    now = time.time() if now is None else now
    spans: t.List[t.Dict[str, t.Any]] = []
    if state is None:
        if now_rules:
            return [span(start, end, "watch rules of key %s are loaded but the watch's baseline (its state file) is "
                                     "missing: apply the changeaudit.linux.watch role" % key)]
        return [span(start, end, "no watch of key %s is installed on this host (no state file and no rule)" % key)]
    installed = float(state.get("installed") or 0)
    if installed > start:
        spans.append(span(start, min(installed, end), "the watch was installed at %s" % iso_epoch(installed)))
    if log_start is not None and log_start > start:
        spans.append(span(start, min(log_start, end), "the audit log (with its rotations) begins at %s" % iso_epoch(log_start)))
    loads = sorted((load for load in state.get("loads") or [] if isinstance(load, dict)), key=lambda load: load.get("start", 0))
    own = [(float(load.get("start", 0)) - _OWN_WINDOW_SLACK, float(load.get("end", 0)) + _OWN_WINDOW_SLACK, int(load.get("count") or 0),
            load.get("ses")) for load in loads]
    expected = int(state.get("count") or 0)
    for _window_start, window_end, count, _ses in own:
        if window_end <= installed + _OWN_WINDOW_SLACK:
            expected = count
    count = expected
    opened: t.Optional[t.Tuple[float, str]] = None
    disabled: t.Optional[t.Tuple[float, str]] = None
    daemon: t.Optional[t.Tuple[float, str]] = None
    next_own = 0
    for change in sorted(changes, key=lambda item: item["timestamp"]):
        when = change["timestamp"]
        while next_own < len(own) and own[next_own][1] < when:
            # A load of the module ended before this change: what it loaded is the expected set from then on.
            if own[next_own][1] >= installed:
                expected = count = own[next_own][2]
                if opened is not None:
                    spans.append(span(opened[0], own[next_own][1], opened[1]))
                    opened = None
            next_own += 1
        if when < installed - _OWN_WINDOW_SLACK:
            continue
        # The module's own change: in one of its windows, and from its session (the one it wrote in the baseline).
        ours = any(low <= when <= high and (ses is None or change.get("ses") is None or ses == change.get("ses"))
                   for low, high, _c, ses in own)
        if change.get("key") == key and not ours:
            if change["op"] == "remove_rule":
                count -= 1
                if opened is None:
                    opened = (when, "a watch rule of key %s was removed at %s by %s" % (key, iso_epoch(when), _who(change)))
            elif change["op"] == "add_rule":
                count += 1
                if opened is None and count > expected:
                    spans.append(span(when, when, "a watch rule of key %s was added at %s by %s, not by the watch role: "
                                                  "the rules were changed" % (key, iso_epoch(when), _who(change))))
            if opened is not None and count >= expected and change["op"] == "add_rule":
                spans.append(span(opened[0], when, opened[1] + " (until it was added again at %s)" % iso_epoch(when)))
                opened = None
        elif "audit_enabled" in change:
            if change["audit_enabled"] == 0 and disabled is None:
                disabled = (when, "auditing was disabled (auditctl -e 0) at %s by %s" % (iso_epoch(when), _who(change)))
            elif change["audit_enabled"] and disabled is not None:
                spans.append(span(disabled[0], when, disabled[1]))
                disabled = None
        elif change["type"] in ("DAEMON_END", "DAEMON_ABORT") and daemon is None:
            daemon = (when, "auditd stopped at %s (%s): events of that time went to the kernel log at best" % (
                iso_epoch(when), change["type"]))
        elif change["type"] == "DAEMON_START" and daemon is not None:
            spans.append(span(daemon[0], when, daemon[1]))
            daemon = None
    for pending in (opened, disabled, daemon):
        if pending is not None:
            spans.append(span(pending[0], max(end, pending[0]), pending[1]))
    if now_rules is not None and rules_hash(now_rules, key) != state.get("rules_sha256") and opened is None:
        last = max([change["timestamp"] for change in changes if change.get("key") == key] + [installed])
        why = "the watch rules of key %s loaded now (%d) are not those the watch role installed (%d)" % (
            key, len(now_rules), int(state.get("count") or 0))
        spans.append(span(max(start, last), end, why))
    if status is not None and status.get("lost") is not None and state.get("lost") is not None:
        lost_now, lost_then = int(status["lost"]), int(state["lost"])
        same_boot = state.get("boot_id") is not None and state.get("boot_id") == current_boot
        if same_boot and lost_now > lost_then:
            spans.append(span(max(start, installed), min(end, now), "the kernel lost %d audit records since the watch "
                                                                    "was installed (lost %d then, %d now; when, the "
                                                                    "counter does not say)" % (lost_now - lost_then, lost_then, lost_now)))
        elif not same_boot and lost_now > 0:
            spans.append(span(max(start, installed), min(end, now), "the kernel lost %d audit records since this boot "
                                                                    "(the watch was installed in an earlier one)" % lost_now))
    if status is not None and status.get("enabled") == 0 and disabled is None:
        spans.append(span(start, end, "auditing is disabled now (auditctl -s shows enabled 0)"))
    kept = []
    for found in spans:
        low, high = max(found["start"], start), min(found["end"], end)
        if low <= high:
            kept.append(span(low, high, found["reason"]))
    return sorted(kept, key=lambda found: (found["start"], found["end"]))


__all__ = [
    "span",
    "unwatched_spans",
]
