"""Issue 30, the HTML report of a big run in a real headless browser (Debian's chromium): it opens on the verdict
and the gaps, lists hosts with gaps first, shows a page of hosts and filters them by status and name with its inline
script (no external asset), and without scripts still shows every host, folded, its first rows and the rest one
click further.

The report is written by write_report from a reconciliation of a made-up run (no audit record is needed to look at
a page): 120 hosts, 60 changes each, a few missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import typing as t

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _evidence as evidence
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof import _report_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTS = 120
CHANGES = 60
RUN = "pages-run"

pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="chromium (Debian's package) is not installed; scripts/setup.sh installs it")


def made_up_run() -> t.Dict[str, t.Any]:
    entries, reads = [], {}
    for number in range(HOSTS):
        host = "web-%03d" % number
        records = []
        for seq in range(1, CHANGES + 1):
            task = "task-%d-%d" % (number, seq)
            entries.append({"kind": "intent", "run_id": RUN, "host": host, "seq": seq, "task_id": task,
                            "time": "2026-01-01T00:00:00+00:00", "module": "copy", "cmd": "step %d" % seq})
            entries.append({"kind": "outcome", "run_id": RUN, "host": host, "seq": seq, "outcome": "recorded",
                            "time": "2026-01-01T00:00:01+00:00"})
            # web-007 and web-100 each lose their record of change 3.
            if not (seq == 3 and number in (7, 100)):
                records.append({"serial": seq, "event_id": "1.0:%d" % seq, "timestamp": 1.0,
                                "fields": {"run_id": RUN, "seq": str(seq), "task_id": task, "inventory_host": host}})
        reads[host] = {"reachable": True, "records": records}
    return evidence.reconcile(RUN, entries, reads, {"sealed": True, "final": True})


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    directory = tmp_path_factory.mktemp("pages")
    evidence.write_report(made_up_run(), str(directory))
    return str(directory / "evidence.html")


def dom(tmp_path, url: str) -> str:
    browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=%s" % (tmp_path / "profile")]
    proc = subprocess.run(browser + ["--dump-dom", url], capture_output=True, text=True, timeout=120, check=False)
    assert "<body" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


def hosts_of(text: str) -> t.List[t.Tuple[str, bool]]:
    """(host, hidden) of each host's <details>, in page order."""
    found = []
    for tag in re.findall(r"<details class=\"host[^>]*>", text):
        found.append((re.search(r'data-host="([^"]+)"', tag).group(1), " hidden" in tag))
    return found


def test_a_page_of_hosts_with_gaps_first_and_the_filters_shown(tmp_path, page):
    text = dom(tmp_path, "file://" + page)
    plain = re.sub(r"<[^>]+>", " ", text)
    # The verdict first, then the gaps, then the hosts.
    assert plain.index("Not proven") < plain.index("Gaps") < plain.index("Hosts")
    hosts = hosts_of(text)
    assert len(hosts) == HOSTS
    assert [name for name, _hidden in hosts[:2]] == ["web-007", "web-100"]
    assert [hidden for _name, hidden in hosts] == [False] * _report_html.HTML_HOSTS_PER_PAGE + [True] * (
        HOSTS - _report_html.HTML_HOSTS_PER_PAGE)
    assert '<div id="controls">' in text or '<div id="controls" ' in text and 'id="controls" hidden' not in text
    assert "%d of %d hosts; page 1 of 3" % (HOSTS, HOSTS) in plain
    assert 'src=' not in text and 'href=' not in text


def test_the_filters_by_status_and_name_and_a_later_page(tmp_path, page):
    missing = hosts_of(dom(tmp_path, "file://%s#status=missing" % page))
    assert [name for name, hidden in missing if not hidden] == ["web-007", "web-100"]
    named = hosts_of(dom(tmp_path, "file://%s#host=web-05" % page))
    assert [name for name, hidden in named if not hidden] == ["web-%03d" % n for n in range(50, 60)]
    later = hosts_of(dom(tmp_path, "file://%s#page=3" % page))
    assert len([name for name, hidden in later if not hidden]) == HOSTS - 2 * _report_html.HTML_HOSTS_PER_PAGE


def test_without_scripts_every_host_is_there_folded_with_its_first_rows(tmp_path, page):
    # Headless chromium cannot dump a page with scripts off (--dump-dom runs a script itself): the page without its
    # one script is what a browser that runs none shows.
    with open(page, encoding="utf-8") as handle:
        source = handle.read()
    assert source.count("<script>") == 1
    bare = tmp_path / "evidence-no-script.html"
    bare.write_text(re.sub(r"<script>.*?</script>", "", source, flags=re.S), encoding="utf-8")
    text = dom(tmp_path, "file://%s" % bare)
    hosts = hosts_of(text)
    assert len(hosts) == HOSTS and not any(hidden for _name, hidden in hosts)
    assert 'id="controls" hidden' in text
    # Each host: the first HTML_ROWS_SHOWN rows, the rest in a folded <details> of their own.
    assert text.count("the other %d changes of" % (CHANGES - _report_html.HTML_ROWS_SHOWN)) == HOSTS
    assert text.count('<tr class="row ') == HOSTS * CHANGES
