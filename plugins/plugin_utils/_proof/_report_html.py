# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The HTML format of each report: one page with no external asset (evidence.html, drift.html)."""

from __future__ import annotations

import html
import typing as t

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._drift_rows import DENIED, EXPLAINED, OUT_OF_BAND, cell, failed
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._evidence_rows import GAPS, OWN_RECORD, STATUSES, rows_by_host
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._ledger import RECORDED, SKIPPED_BY_POLICY
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._report_text import shown

_STYLE = """
body{font-family:sans-serif;margin:2em;color:#111}h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em}
table{border-collapse:collapse;margin-top:.5em}td,th{border:1px solid #bbb;padding:.25em .5em;text-align:left;
vertical-align:top;font-size:.9em}th{background:#eee}.recorded{background:#e3f4e1}.missing,.unknown_outcome,
.unexpected,.host_unreachable,.no_records_from_node{background:#fbe0e0;font-weight:bold}
.skipped_by_policy,.own_record{background:#f4f1dc}
.verdict{font-size:1.2em;font-weight:bold}.ok{color:#176b1e}.bad{color:#a31515}code{font-size:.95em}
details.host{margin:.3em 0}details.host>summary{cursor:pointer}details.host.has-gaps>summary{color:#a31515}
#controls{margin:.5em 0;padding:.5em;background:#f4f4f4}#controls label{margin-right:1em}
"""
# Rows a host shows at once; the rest of its rows are in a second <details> below them (and all of them in
# evidence.csv): a page of 10,000 hosts stays a page, with or without scripts.
HTML_ROWS_SHOWN = 50
# The gaps table at the top lists at most this many; the rest are in their hosts' listings and evidence.csv.
HTML_GAP_ROWS = 1000
# Hosts per page when scripts run; without them every host is on the page, each folded.
HTML_HOSTS_PER_PAGE = 50
# Reports of at most this many hosts open every host's listing.
HTML_OPEN_HOSTS = 20

# Filter and pages, inline (no external asset): hosts matching the name and status filters, a page at a time.
_SCRIPT = """
(function(){
var hosts=[].slice.call(document.querySelectorAll('details.host'));
var c=document.getElementById('controls');c.hidden=false;
var q=document.getElementById('f-host'),s=document.getElementById('f-status'),n=document.getElementById('f-size');
var info=document.getElementById('f-info'),page=0,shown=[];
function match(h){var st=s.value,name=q.value.toLowerCase();
 if(name&&h.getAttribute('data-host').toLowerCase().indexOf(name)<0)return false;
 if(st==='gaps')return h.classList.contains('has-gaps');
 return !st||(' '+h.getAttribute('data-statuses')+' ').indexOf(' '+st+' ')>=0;}
function draw(){var size=parseInt(n.value,10)||50;shown=hosts.filter(match);
 var pages=Math.max(1,Math.ceil(shown.length/size));if(page>=pages)page=pages-1;if(page<0)page=0;
 hosts.forEach(function(h){h.hidden=true;});
 shown.slice(page*size,(page+1)*size).forEach(function(h){h.hidden=false;});
 document.body.className=s.value?'only-'+s.value:'';
 info.textContent=shown.length+' of '+hosts.length+' hosts; page '+(page+1)+' of '+pages;}
document.getElementById('f-prev').onclick=function(){page--;draw();};
document.getElementById('f-next').onclick=function(){page++;draw();};
document.getElementById('f-open').onclick=function(){hosts.forEach(function(h){if(!h.hidden)h.open=true;});};
q.oninput=s.onchange=n.onchange=function(){page=0;draw();};
// A link can preset the filters: evidence.html#status=missing&host=web&page=2
location.hash.slice(1).split('&').forEach(function(kv){var p=kv.split('='),v=decodeURIComponent(p[1]||'');
 if(p[0]==='host')q.value=v;if(p[0]==='status')s.value=v;if(p[0]==='page')page=(parseInt(v,10)||1)-1;});
draw();})();
"""


def _status_css() -> str:
    # With a status chosen, the rows of the other statuses are hidden too (body.only-<status>).
    rules = ["body.only-%s tr.row:not(.%s){display:none}" % (status, status) for status in STATUSES]
    rules.append("body.only-gaps tr.row:not(.gap){display:none}")
    return "\n".join(rules)


def render_evidence_html(evidence: t.Mapping[str, t.Any]) -> str:
    """One page, no external asset: the verdict and summary, the gaps, then each host's changes folded (its first
    HTML_ROWS_SHOWN rows, the rest one click further), with an inline filter by host and status and pages of hosts
    when scripts run."""
    return "".join(iter_evidence_html(evidence))


def iter_evidence_html(evidence: t.Mapping[str, t.Any]) -> t.Iterator[str]:
    """evidence.html's text in pieces of a few hundred hosts (render_evidence_html)."""

    def esc(value: t.Any) -> str:
        # A control character or an undecodable byte as a visible escape (shown), then HTML's own escapes.
        return html.escape(shown(value))

    summary = evidence["summary"]
    said = evidence.get("verdict") or "Every change of the run has its record."
    verdict = (
        '<p class="verdict ok">%s</p>' % esc(said) if not summary["gaps"]
        else '<p class="verdict bad">%s See the gaps below, and the rows in red.</p>' % esc(said)
    )
    by_host = rows_by_host(evidence)
    hosts_with_gaps = sum(1 for about in evidence["hosts"].values() if about.get("gaps"))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Audit evidence of run %s</title>' % esc(evidence["run_id"]),
        "<style>%s\n%s</style></head><body>" % (_STYLE, _status_css()),
        "<h1>Audit evidence of run <code>%s</code></h1>" % esc(evidence["run_id"]),
        verdict,
        "<table><tr><th>hosts</th><th>hosts with gaps</th><th>changes</th><th>recorded</th><th>gaps</th>"
        "<th>skipped by policy</th><th>records of audited tasks</th><th>generated (UTC)</th></tr>",
        "<tr><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%s</td></tr></table>" % (
            len(evidence["hosts"]), hosts_with_gaps, summary["changes"], summary[RECORDED], summary["gaps"],
            summary[SKIPPED_BY_POLICY], summary[OWN_RECORD], esc(evidence["generated"])),
    ]
    if not evidence["ledger"]:
        parts.append("<p>The run kept no ledger: this is the inventory of its records per host.</p>")
    collector = evidence.get("collector")
    if collector:
        parts.append("<p>Read from the central collector <code>%s</code>%s: %s record%s of the run%s. Nodes are "
                     "mapped to hosts by this rule: %s.</p>" % (
                         esc(collector.get("source")),
                         " (%s)" % esc(", ".join(collector.get("files") or ())) if collector.get("files") else "",
                         esc(collector.get("records_of_run", 0)), "" if collector.get("records_of_run") == 1 else "s",
                         "; records of nodes no host maps to, ignored: %s" % esc(", ".join(
                             "%s (%s)" % item for item in sorted((collector.get("unmapped_nodes") or {}).items())))
                         if collector.get("unmapped_nodes") else "",
                         esc(collector.get("rule") or "")))
        if collector.get("error"):
            parts.append('<p class="bad">%s</p>' % esc(collector["error"]))
    columns = ("time", "task", "module", "object", "user", "login", "audit_serial", "status", "reason")
    heads = "".join("<th>%s</th>" % esc(c.replace("_", " ")) for c in columns)

    def cells(row: t.Mapping[str, t.Any]) -> str:
        return "".join("<td>%s</td>" % esc(row.get(c)) for c in columns)

    gap_rows = [row for row in evidence["changes"] if row["status"] in GAPS]
    problems = (evidence.get("ledger_check") or {}).get("problems") or []
    if gap_rows or problems:
        # What an auditor must look at comes first, before the host-by-host listing.
        parts.append("<h2>Gaps</h2>")
        if problems:
            parts.append("<p>The ledger: %s</p>" % "; ".join(esc(problem.get("detail")) for problem in problems))
        if gap_rows:
            parts.append('<table class="gaps"><tr><th>host</th><th>#</th>%s</tr>' % heads)
            for row in gap_rows[:HTML_GAP_ROWS]:
                parts.append('<tr class="%s"><td>%s</td><td>%s</td>%s</tr>' % (
                    esc(row["status"]), esc(row["host"]), "" if row["seq"] is None else row["seq"], cells(row)))
            parts.append("</table>")
            if len(gap_rows) > HTML_GAP_ROWS:
                parts.append("<p>%d more gaps: in their hosts' listings below (status: gaps) and in evidence.csv.</p>"
                             % (len(gap_rows) - HTML_GAP_ROWS))
    parts.append("<h2>Hosts</h2>")
    parts.append(
        '<div id="controls" hidden><label>host <input id="f-host" type="search"></label>'
        '<label>status <select id="f-status"><option value="">any</option><option value="gaps">gaps</option>%s'
        '</select></label><label>hosts a page <select id="f-size">%s</select></label>'
        '<button id="f-prev" type="button">previous</button> <button id="f-next" type="button">next</button> '
        '<button id="f-open" type="button">open this page</button> <span id="f-info"></span></div>' % (
            "".join('<option value="%s">%s</option>' % (status, status.replace("_", " ")) for status in STATUSES),
            "".join('<option%s>%d</option>' % (" selected" if size == HTML_HOSTS_PER_PAGE else "", size)
                    for size in (20, 50, 200, 1000))))
    # Hosts with gaps first, then by name.
    order = sorted(evidence["hosts"].items(), key=lambda item: (not item[1].get("gaps"), item[0]))
    open_all = len(order) <= HTML_OPEN_HOSTS
    for host, about in order:
        rows = by_host.get(host, ())
        statuses = sorted({row["status"] for row in rows})
        nodes = about.get("nodes") or ((about.get("collector") or {}).get("nodes")) or ()
        parts.append('<details class="host%s" data-host="%s" data-statuses="%s"%s><summary><b>%s</b>: %d change%s, '
                     "%d gap%s, %d record%s read%s%s</summary>" % (
                         " has-gaps" if about.get("gaps") else "", esc(host), " ".join(statuses),
                         " open" if open_all else "", esc(host),
                         about["changes"], "" if about["changes"] == 1 else "s", about["gaps"],
                         "" if about["gaps"] == 1 else "s", about["records_read"],
                         "" if about["records_read"] == 1 else "s",
                         "; its log names it node %s" % esc(", ".join(nodes)) if nodes else "",
                         "; %s" % esc(about["error"]) if about.get("error") else ""))
        table = "<table><tr><th>#</th>%s</tr>" % heads
        listed = []
        for row in rows:
            listed.append('<tr class="row %s%s"><td>%s</td>%s</tr>' % (
                esc(row["status"]), " gap" if row["status"] in GAPS else "",
                "" if row["seq"] is None else esc(row["seq"]), cells(row)))
        parts.append(table + "".join(listed[:HTML_ROWS_SHOWN]) + "</table>")
        if len(listed) > HTML_ROWS_SHOWN:
            parts.append("<details><summary>the other %d changes of %s</summary>%s%s</table></details>" % (
                len(listed) - HTML_ROWS_SHOWN, esc(host), table, "".join(listed[HTML_ROWS_SHOWN:])))
        parts.append("</details>")
        if len(parts) >= 1000:
            yield "\n".join(parts) + "\n"
            parts = []
    parts.append("<script>%s</script>" % _SCRIPT)
    parts.append("</body></html>")
    yield "\n".join(parts) + "\n"


_DRIFT_STYLE = """
body{font-family:sans-serif;margin:2em;color:#111}h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em}
table{border-collapse:collapse;margin-top:.5em}td,th{border:1px solid #bbb;padding:.25em .5em;text-align:left;
vertical-align:top;font-size:.9em}th{background:#eee}.explained{background:#e3f4e1}.out_of_band,.not_watched{background:#fbe0e0;
font-weight:bold}.denied{background:#f4f1dc}.verdict{font-size:1.2em;font-weight:bold}.ok{color:#176b1e}.bad{color:#a31515}
code{font-size:.95em}
"""
_DRIFT_COLUMNS = ("time", "status", "action", "syscall", "path", "object", "auid_name", "uid_name", "ses", "tty", "exe", "comm",
                  "proctitle", "explained_by", "reason")


def render_drift_html(drift: t.Mapping[str, t.Any]) -> str:
    """One page, no external asset: the verdict, the writes made outside Ansible and the spans not watched first,
    then each host's writes."""

    def esc(value: t.Any) -> str:
        return html.escape(cell(value) if isinstance(value, dict) else shown(value))

    summary = drift["summary"]
    bad = failed(summary)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Changes made outside Ansible</title>',
        "<style>%s</style></head><body>" % _DRIFT_STYLE,
        "<h1>Changes made outside Ansible</h1>",
        '<p class="verdict %s">%s</p>' % ("bad" if bad else "ok", esc(drift["verdict"])),
        "<table><tr><th>hosts</th><th>writes</th><th>explained</th><th>out of band</th><th>denied</th>"
        "<th>hosts not watched</th><th>generated (UTC)</th></tr>",
        "<tr><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%s</td></tr></table>" % (
            summary["hosts"], summary["events"], summary[EXPLAINED], summary[OUT_OF_BAND], summary[DENIED],
            summary["not_watched_hosts"], esc(drift["generated"])),
    ]
    heads = "".join("<th>%s</th>" % esc(column.replace("_", " ")) for column in _DRIFT_COLUMNS)
    outside = [row for row in drift["events"] if row["status"] == OUT_OF_BAND]
    spans = [(host, span) for host, about in drift["hosts"].items() for span in about.get("unwatched") or []]
    if spans:
        parts.append("<h2>Not watched</h2><table><tr><th>host</th><th>from</th><th>to</th><th>why</th></tr>")
        for host, span in spans:
            parts.append('<tr class="not_watched"><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>' % (
                esc(host), esc(span.get("start_time")), esc(span.get("end_time")), esc(span.get("reason"))))
        parts.append("</table>")
    if outside:
        parts.append("<h2>Writes made outside Ansible</h2><table><tr><th>host</th>%s</tr>" % heads)
        for row in outside:
            parts.append('<tr class="%s"><td>%s</td>%s</tr>' % (esc(row["status"]), esc(row["host"]), "".join(
                "<td>%s</td>" % esc(row.get(column)) for column in _DRIFT_COLUMNS)))
        parts.append("</table>")
    by_host: t.Dict[str, t.List[t.Mapping[str, t.Any]]] = {}
    for row in drift["events"]:
        by_host.setdefault(row["host"], []).append(row)
    for host, about in drift["hosts"].items():
        parts.append("<h2>%s</h2>" % esc(host))
        parts.append("<p>%s to %s: %d write%s, %d explained, %d out of band; %s. Watched: %s.</p>" % (
            esc(about.get("since")), esc(about.get("until")), about["events"], "" if about["events"] == 1 else "s",
            about.get(EXPLAINED, 0), about.get(OUT_OF_BAND, 0),
            "watched throughout" if about["watched"] else "not watched for part of the span",
            esc(", ".join(about.get("watched_paths") or []) or "nothing")))
        rows = by_host.get(host, ())
        if rows:
            parts.append("<table><tr>%s</tr>" % heads)
            for row in rows:
                parts.append('<tr class="%s">%s</tr>' % (esc(row["status"]), "".join(
                    "<td>%s</td>" % esc(row.get(column)) for column in _DRIFT_COLUMNS)))
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


__all__ = [
    "iter_evidence_html",
    "render_evidence_html",
    "render_drift_html",
]
