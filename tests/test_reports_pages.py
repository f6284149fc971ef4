"""Report pages: what the page pipeline lets through (fast; no kernel)."""

from __future__ import annotations

import nbformat

from tests.pagescan import executable_injections
from workbench.reports import notebook_html
from workbench.reports.html import clean_fragment, tidy_tables

EVIL = "<img src=x onerror=alert('region')>"


def _nb(*outputs: dict) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output(**o) for o in outputs]
    nb.cells = [cell]
    return nb


def test_markup_in_markdown_and_tables_is_shown_as_text():
    nb = _nb(
        {"output_type": "display_data", "data": {"text/markdown": f"# Data health · 2026Q3 · {EVIL}\n\n"
                                                                  "[link](javascript:alert('link'))"}},
        {"output_type": "display_data", "data": {"text/html": f"<table><tr><th>region</th></tr><tr><td>{EVIL}"
                                                              "</td></tr><tr><td onclick=alert(1)>x</td></tr>"
                                                              "<script>alert('s')</script></table>"}},
    )
    page = notebook_html(nb, title=f"t · {EVIL}", lang="en")
    assert executable_injections(page) == []
    assert "&lt;img src=x onerror=alert('region')&gt;" in page  # shown, not dropped
    assert "javascript:" not in page


def test_errors_and_tracebacks_never_reach_a_page():
    nb = _nb(
        {"output_type": "stream", "name": "stdout", "text": "kept line\n"},
        {"output_type": "stream", "name": "stderr", "text": "warning noise\n"},
        {"output_type": "stream", "name": "stdout", "text": "Traceback (most recent call last):\n  boom\n"},
        {"output_type": "error", "ename": "KeyError", "evalue": "'bgnbd'", "traceback": ["\x1b[31mKeyError\x1b[0m"]},
    )
    page = notebook_html(nb, title="t", lang="en", alert="This page is incomplete because one step failed.")
    assert "kept line" in page and "This page is incomplete" in page
    for noise in ("warning noise", "Traceback", "KeyError", "\x1b["):
        assert noise not in page


def test_tables_show_labels_and_dashes_not_raw_names_or_nan():
    frag = tidy_tables(clean_fragment("<table><tr><th>net_sales_90d</th><th>Name</th></tr>"
                                      "<tr><td>NaN</td><td>None</td></tr></table>"), "en")
    assert "net_sales_90d" not in frag and "NaN" not in frag and "None" not in frag
    assert frag.count("<td>–</td>") == 2


def test_the_scanner_finds_every_kind_of_injection():
    for bad in ("<img src=x onerror=alert(1)>", "<svg onload=alert(1)>", "<script>alert(1)</script>",
                "<iframe src=javascript:alert(1)>", '<a href="javascript:alert(1)">x</a>',
                "<object data=x></object>", "<body onload=alert(1)>"):
        assert executable_injections(f"<html><body><p>ok</p>{bad}</body></html>"), bad
    assert executable_injections("<p>&lt;img src=x onerror=alert(1)&gt;</p>") == []


def test_workbook_cells_are_numbers_and_text_never_a_formula(tmp_path):
    import json

    from openpyxl import load_workbook

    from workbench.reports.tables import _value, page_tables, write_workbook

    assert _value("£1,234") == (1234.0, "#,##0")
    assert _value("-$12.50") == (-12.5, "#,##0.00")
    assert _value("12.3%") == (0.123, "0.0%")
    assert _value("–") == (None, None)
    assert _value("East") == ("East", None)
    nb = _nb({"output_type": "display_data", "data": {"text/markdown": "## Risk list"}},
             {"output_type": "display_data", "data": {"text/html": "<table><thead><tr><th>Partner</th>"
                                                                   "<th>Sales (GBP)</th></tr></thead><tbody>"
                                                                   "<tr><td>=HYPERLINK(\"http://x\")</td>"
                                                                   "<td>£1,234</td></tr></tbody></table>"}})
    notebook_html(nb, title="t", lang="en")  # the page pipeline cleans the outputs first, as in a pack
    tables = page_tables(nb)
    assert tables == [{"heading": "Risk list", "columns": ["Partner", "Sales (GBP)"],
                       "rows": [['=HYPERLINK("http://x")', "£1,234"]]}]
    src = tmp_path / "t.json"
    src.write_text(json.dumps(tables), encoding="utf-8")
    path = write_workbook(tmp_path / "t.xlsx", [("03_churn_risk", src)])
    ws = load_workbook(path)["03 Risk list"]
    assert [c.value for c in ws[1]] == ["Partner", "Sales (GBP)"]
    assert ws["B2"].value == 1234 and ws["A2"].data_type == "s"
