"""The HTML format of a report: one page, every value escaped, nothing external."""

from __future__ import annotations


def test_the_html_page_escapes_every_value_and_needs_nothing_else(written):
    directory, _result, _sums = written
    page = (directory / "evidence.html").read_text()
    # One script, the page's own filter and pages, inline; the record's is text.
    assert page.count("<script>") == 1 and "alert(1)" not in page.split("<script>")[1]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "src=" not in page and "href=" not in page and "@import" not in page
    assert "1 change without proof" in page
