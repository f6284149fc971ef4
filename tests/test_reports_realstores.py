"""Report packs on real and degenerate stores (issue #12, #20): every page renders with no error output,
nothing from the data can execute, no raw column name / NaN / repr, money in the store's currency, and
the index's headline figures match the store.

Slow (each case renders whole packs); built on tests/realstores.py. Times: see docs/reports.md.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests import realstores
from tests.pagescan import (
    chart_specs,
    data_in_markup,
    executable_injections,
    raw_text_problems,
    spec_injections,
    visible_tokens,
)
from tests.test_reports_index import ledger_only_rebate_headline
from workbench.reports import render_pack

pytestmark = pytest.mark.slow

# the scope each degenerate store is about: its special region, else the company
MATRIX = {name: "all" for name in realstores.DEGENERATE} | {
    "one_partner_region": realstores.ONE_PARTNER_REGION,
    "returns_only_region": realstores.RETURNS_ONLY_REGION,
}
# A whole pack costs about a minute per store on 2 cores (docs/reports.md); `make test` renders these, whose
# shapes no job's own thin-store test covers as a pack (regions of one partner / only returns, no ledger,
# thousands of lines); every store of the matrix renders in `make test`.


def _pages(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.html"))}


def _assert_clean_pack(res, *, currency: str | None = None) -> None:
    """Every page produced and complete, no error output, no injection, no raw names / NaN / repr."""
    assert res.runs, "no notebook ran"
    assert res.ok, res.summary()
    for run in res.runs:
        page = run.html.read_text(encoding="utf-8")
        assert 'class="wb-alert"' not in page and "Traceback" not in page, run.html
        assert executable_injections(page) == [], run.html
        assert raw_text_problems(page) == [], (run.html, raw_text_problems(page)[:10])
        if currency is not None and currency != "CNY":
            for bad in ("(CNY)", "¥", "（元）"):
                assert bad not in page, (run.html, bad)


@pytest.mark.parametrize("name", list(MATRIX))
def test_degenerate_store_renders_every_page(realstore, tmp_path: Path, name: str):
    res = render_pack(realstore(name), quarter=realstores.quarter_of(name), region=MATRIX[name], lang="en",
                      out=tmp_path / "r", progress=False, each_region=False)
    _assert_clean_pack(res)


@pytest.fixture(scope="module")
def markup_packs(realstore, tmp_path_factory: pytest.TempPathFactory):
    """The markup store's company pack (en, with --xlsx and --zip) and its markup region's pack (zh)."""
    db = realstore("markup")
    out = tmp_path_factory.mktemp("markup_reports")
    company = render_pack(db, region="all", lang="en", out=out, progress=False, each_region=False,
                          xlsx=True, zip=True)
    region = render_pack(db, region=realstores.MARKUP_REGION, lang="zh", out=out, progress=False)
    return db, out, company, region


def test_no_markup_from_the_data_executes_anywhere(markup_packs):
    _, out, company, region = markup_packs
    pages = {p: p.read_text(encoding="utf-8") for p in sorted(out.rglob("*.html"))}
    assert len(pages) >= 2 * len(company.runs) + 1  # every page (01-07) of both packs, the indexes
    seen: set[str] = set()
    for path, page in pages.items():
        assert executable_injections(page) == [], path
        assert data_in_markup(page, realstores.TOKEN) == [], path
        for spec in chart_specs(page):  # data and titles are drawn as SVG text; nothing may link or run
            assert spec_injections(spec) == [], path
        assert not [m for m in realstores.PERSONAL_MARKERS if m in page], path
        seen |= visible_tokens(page, realstores.TOKEN)
    # the planted strings do reach the pages, as text: names, ids, types, programs, lines, comments, courses
    text = "\n".join(pages.values())
    assert html_escaped(realstores.MARKUP_REGION) in text
    assert {"name", "partner_id", "product_line", "program", "channel_type", "action_type", "conflict_type",
            "comment"} <= seen, seen
    for (table, column), marker in {**realstores.MARKUP, **realstores.MARKUP_ENUM}.items():
        assert marker not in text, f"{table}.{column} written unescaped"
    for title in re.findall(r"<title>(.*?)</title>", text, flags=re.S):  # page titles: escaped text only
        assert "<" not in title, title


def html_escaped(s: str) -> str:
    import html

    return html.escape(s, quote=False)


def test_markup_packs_are_clean(markup_packs):
    _, _, company, region = markup_packs
    _assert_clean_pack(company)
    _assert_clean_pack(region)


def _store_headline(db: Path, as_of: str) -> dict[str, float]:
    """The index figures recomputed here from the raw tables with pandas (an independent reading)."""
    con = duckdb.connect(str(db), read_only=True)
    orders = con.execute("SELECT partner_id, order_date, net_amount, is_return FROM orders").df()
    ledger = con.execute("SELECT partner_id, program, period_end, amount_due, amount_paid, paid_date FROM incentives").df()
    con.close()
    # rows of the synthetic current program are recomputed by the audit, the others judged on their ledger due;
    # synth plants the current program's dues exactly as its file computes them (tests/test_rebates_audit.py), so
    # the ledger due is every row's true due
    a = pd.Timestamp(as_of)
    d = pd.to_datetime(orders["order_date"])
    month = (d.dt.year == a.year) & (d.dt.month == a.month)
    prev_m = a - pd.offsets.MonthBegin(1) - pd.offsets.MonthBegin(1)
    prev = (d.dt.year == prev_m.year) & (d.dt.month == prev_m.month)
    sales, before = orders.loc[month, "net_amount"].sum(), orders.loc[prev, "net_amount"].sum()
    recent = orders[(d > a - pd.Timedelta(days=90)) & (d <= a) & ~orders["is_return"].fillna(False)
                    & (orders["net_amount"] > 0)]
    return {"monthly_sales": float(sales), "sales_change": float(sales / before - 1),
            "active_partners": recent["partner_id"].nunique()} | ledger_only_rebate_headline(ledger, a.date())


def test_index_headline_figures_match_the_store(markup_packs):
    db, out, company, _ = markup_packs
    q = company.params.quarter
    manifest = json.loads((out / q / "all" / "pack.json").read_text(encoding="utf-8"))
    expected = _store_headline(db, company.params.as_of.isoformat())
    for key, value in expected.items():
        assert manifest["headline"][key] == pytest.approx(value, rel=1e-9, abs=1e-6), key
    top = (out / "index.html").read_text(encoding="utf-8")
    assert f"¥{expected['monthly_sales']:,.0f}" in top
    assert f"{100 * expected['sales_change']:+.1f}%" in top
    for run in company.runs:  # the top index links every page of the pack
        assert f'href="{q}/all/{run.html.name}"' in top
    pack_index = (out / q / "all" / "index.html").read_text(encoding="utf-8")
    assert "Headline figures" in pack_index and f"{expected['active_partners']:,}" in pack_index
    zh_index = (out / q / company.params.scopes[0].slug / "index.html")
    assert zh_index.exists()


def test_zip_and_xlsx(markup_packs):
    from openpyxl import load_workbook

    _, out, company, _ = markup_packs
    folder = out / company.params.quarter / "all"
    (archive,) = company.archives
    names = set(zipfile.ZipFile(archive).namelist())
    assert {f"all/{r.html.name}" for r in company.runs} | {"all/index.html", "all/tables.xlsx"} <= names
    wb = load_workbook(folder / "tables.xlsx")
    assert len(wb.sheetnames) >= len(company.runs)  # every page has at least one table
    for ws in wb.worksheets:
        header = [c.value for c in ws[1]]
        assert not [h for h in header if h and re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)+", str(h))], (ws.title, header)
        for row in ws.iter_rows(min_row=2, values_only=True):
            assert not any(isinstance(v, str) and v.lower() in ("nan", "none") for v in row), ws.title
    assert "tables.xlsx" in (folder / "index.html").read_text(encoding="utf-8")
