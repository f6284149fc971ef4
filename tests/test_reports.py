"""Report packs: parameter validation, failure handling, scoping, safety, bilingual pages, and a real
browser (Debian chromium, network blocked) opening every page of a small pack from disk."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import time
from datetime import date
from pathlib import Path

import duckdb
import nbformat
import pandas as pd
import pytest

from tests.test_reports_index import ledger_only_rebate_headline
from workbench import reports
from workbench.charts.render import BUNDLE_MARKER
from workbench.errors import WorkbenchError
from workbench.reports import (
    curated_notebooks,
    latest_complete_quarter,
    render_pack,
    sanitize_html,
    validate_params,
)
from workbench.vocab import Scope

# one worker runs this whole module (`make test` uses --dist loadfile), so the pack fixture is rendered once

ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "reports"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EVIL = "<img src=x onerror=alert(1)>"


# ---------------------------------------------------------------------------------------------- fast


def test_latest_complete_quarter():
    assert latest_complete_quarter(date(2026, 9, 30)) == "2026Q3"
    assert latest_complete_quarter(date(2026, 9, 25)) == "2026Q3"  # last week has data
    assert latest_complete_quarter(date(2026, 9, 10)) == "2026Q2"  # quarter not over in the data
    assert latest_complete_quarter(date(2026, 10, 2)) == "2026Q3"


def test_validate_defaults_and_region_aliases(demo_db: Path):
    p = validate_params(demo_db, quarter=None, region="all", lang="en")
    assert p.quarter == "2026Q3" and p.as_of == date(2026, 9, 30)
    assert p.packs[0] == "all" and set(p.packs[1:]) == set(p.regions) and len(p.regions) == 7
    assert validate_params(demo_db, quarter="2026Q2", region="华东", lang="zh").packs == ("East",)
    assert validate_params(demo_db, quarter="2026Q2", region="east", lang="en").packs == ("East",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quarter": "2026Q5"}, "Quarter '2026Q5' is malformed; write it like 2026Q3."),
        ({"quarter": "Q3-2026"}, "Quarter 'Q3-2026' is malformed; write it like 2026Q3."),
        ({"quarter": "2019Q1"}, "The store holds no orders in 2019Q1 (2019-01-01 to 2019-03-31); choose another quarter."),
        ({"region": "Atlantis"}, "Region 'Atlantis' is unknown"),
        ({"lang": "fr"}, "Language 'fr' is not supported; use en or zh."),
    ],
)
def test_bad_parameters_one_sentence_and_nothing_runs(demo_db: Path, tmp_path: Path, kwargs, message):
    args = {"quarter": "2026Q3", "region": "all", "lang": "en"} | kwargs
    out = tmp_path / "out"
    with pytest.raises(WorkbenchError) as err:
        render_pack(demo_db, out=out, **args)
    text = str(err.value)
    assert text.startswith(message)
    assert "\n" not in text and text.endswith(".")
    assert not out.exists(), "nothing is written when the parameters are wrong"


def test_scopes_company_only_region_scope_and_manager(demo_db: Path):
    from workbench.vocab import Scope

    assert validate_params(demo_db, quarter=None, region="all", lang="en", each_region=False).packs == ("all",)
    p = validate_params(demo_db, quarter=None, region=Scope.parse("east"), lang="en")
    assert p.packs == ("East",) and p.scopes[0].slug == "East"
    with pytest.raises(WorkbenchError, match="^Manager 'Nobody' is unknown"):
        validate_params(demo_db, quarter=None, region=None, manager="Nobody", lang="en")
    with pytest.raises(WorkbenchError, match="not both"):
        validate_params(demo_db, quarter=None, region="East", manager="M1", lang="en")
    con = duckdb.connect(str(demo_db), read_only=True)
    cols = {c for (c,) in con.execute("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_name = 'partners'").fetchall()}
    mid = con.execute("SELECT min(manager_id) FROM partners").fetchone()[0] if "manager_id" in cols else None
    con.close()
    if mid is not None:
        p = validate_params(demo_db, quarter=None, region=None, manager=str(mid).lower(), lang="en")
        assert p.scopes == (Scope("manager", str(mid)),) and p.scopes[0].slug == f"manager_{mid}"
        url = validate_params(f"duckdb://{demo_db}", quarter=None, region=None, manager=str(mid), lang="en")
        assert url.scopes == p.scopes  # a URL takes a manager's pack too (its copy is read through Ibis)


def test_manager_store_copy_from_a_url_is_the_copy_from_the_file(demo_db: Path, tmp_path: Path):
    """reports.scoped_store writes the same manager copy from the file and from a URL: only the manager's partners
    (who exist), no quarantine, no personal columns, meta scope_manager set."""
    from datetime import date

    from workbench.reports.scoped_store import manager_partner_ids, write_manager_store

    as_of = date(2026, 6, 30)
    own = manager_partner_ids(demo_db, "M1B", as_of)
    assert len(own) > 20 and manager_partner_ids(demo_db, "nobody", as_of) == []
    copies = [write_manager_store(db, "M1B", as_of, tmp_path / f"{i}.duckdb")
              for i, db in enumerate((demo_db, f"duckdb://{demo_db}"))]
    con = duckdb.connect(str(copies[1]), read_only=True)
    con.execute(f"ATTACH '{copies[0]}' AS f (READ_ONLY)")
    for (t,) in con.execute("SELECT table_name FROM information_schema.tables WHERE table_catalog = 'f' "
                            "AND table_schema = 'main' AND table_type = 'BASE TABLE'").fetchall():
        assert con.execute(f'SELECT count(*) FROM (SELECT * FROM f.main."{t}" EXCEPT ALL SELECT * FROM main."{t}")'
                           ).fetchone()[0] == 0, t
    assert sorted(r[0] for r in con.execute("SELECT partner_id FROM partners").fetchall()) == own
    assert {r[0] for r in con.execute("SELECT DISTINCT partner_id FROM orders").fetchall()} <= set(own)
    assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM partners WHERE contact_name IS NOT NULL OR contact_phone IS NOT NULL "
                       "OR manager_name IS NOT NULL").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM conflicts WHERE counterparty_id IS NOT NULL AND counterparty_id NOT IN "
                       "(SELECT partner_id FROM partners)").fetchone()[0] == 0
    assert con.execute("SELECT value FROM meta WHERE key = 'scope_manager'").fetchone() == ("M1B",)


def test_missing_store(tmp_path: Path):
    with pytest.raises(WorkbenchError, match="does not exist"):
        validate_params(tmp_path / "nope.duckdb", quarter=None, region="all", lang="en")


def test_cli_bad_region_exits_2_with_one_line(demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    from workbench.cli import main

    code = main(["report", "--db", str(demo_db), "--region", "Atlantis", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: Region 'Atlantis' is unknown") and "\n" not in err


def test_sanitize_html_removes_every_network_reference():
    page = (
        '<head><script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"></script>'
        '<script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js?config=TeX"> </script>'
        '<script src="https://unpkg.com/@jupyter-widgets/html-manager@*/dist/embed-amd.js" crossorigin="anonymous"></script>'
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">'
        "<style>@import url(https://fonts.googleapis.com/css2?family=Noto); .x{background:url('//cdn.x/y.png')}</style>"
        '</head><body><img src="http://example.com/a.png"><a href="https://example.com/doc">doc</a>'
        '<img src="data:image/png;base64,AAAA"><script>var ok=1;</script></body>'
    )
    clean = sanitize_html(page)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//(?!example\.com/doc)""", clean)
    assert "@import" not in clean and "url('//" not in clean
    assert '<a href="https://example.com/doc">doc</a>' in clean  # a link is not a load
    assert "data:image/png;base64,AAAA" in clean and "var ok=1;" in clean


def test_widget_views_are_dropped_and_pages_stay_offline():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("w")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
            "text/plain": "IntSlider(value=3)"}),
        nbformat.v4.new_output("stream", name="stderr", text="a warning\n"),
        nbformat.v4.new_output("display_data", data={"text/html": "<b>static table</b>", "text/plain": "t"}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), cell]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    page = reports.notebook_html(nb, title="t", lang="zh")
    assert "IntSlider" not in page and "widget-view" not in page and "widget-state" not in page
    assert "a warning" not in page and "<b>static table</b>" in page
    assert '<html lang="zh-CN">' in page
    assert not re.search(r"""<(script|link)[^>]+(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "mathjax" not in page.lower().replace("mathjax_url", "")


# ---------------------------------------------------------------------------------------------- slow: failures


def _tiny_notebook(path: Path, body: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('db: str = ""\nquarter: str = ""\nregion: str = "all"\nlang: str = "en"\nas_of: str = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *[nbformat.v4.new_code_cell(src) for src in body]]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_failing_notebook_does_not_stop_the_others(demo_db: Path, tmp_path: Path, monkeypatch, capsys):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    good = _tiny_notebook(nbs / "01_good.ipynb", ["print('region', region, 'as_of', as_of)"])
    bad = _tiny_notebook(nbs / "02_bad.ipynb", ["x = 1", "raise ValueError('planted failure')", "y = 2"])
    out = tmp_path / "reports"
    res = render_pack(demo_db, quarter="2026Q3", region="East", out=out, notebooks=[bad, good], progress=False)
    assert not res.ok
    assert [r.notebook for r in res.failed] == ["02_bad"]
    assert res.failed[0].error_cell == 3
    summary = res.summary()
    assert "FAILED East/02_bad at cell 3: ValueError: planted failure" in summary
    pack = out / "2026Q3" / "East"
    assert "region East as_of 2026-09-30" in (pack / "01_good.html").read_text(encoding="utf-8")
    failed_page = (pack / "02_bad.html").read_text(encoding="utf-8")
    # one sentence says what failed and what to do; no traceback, no error output, no ANSI colour codes
    assert "This page is incomplete because one step failed (ValueError: planted failure)" in failed_page
    assert "02_bad.failed.ipynb" in failed_page and "report.log" in failed_page
    for noise in ("Traceback", "Cell In[", "\x1b[", "jp-OutputArea-error", "papermill-error", "An Exception was"):
        assert noise not in failed_page, noise
    assert "Traceback" in (pack / "report.log").read_text(encoding="utf-8")  # the traceback goes to the log
    assert (pack / "02_bad.failed.ipynb").exists()
    assert res.failed[0].produced and not res.missing
    index = (pack / "index.html").read_text(encoding="utf-8")
    assert "02_bad.html" in index and "planted failure" in index
    # the command names the notebook and the cell, and exits 0: every page was produced
    from workbench.cli import main

    monkeypatch.setattr(reports.runner, "curated_notebooks", lambda *a, **k: [good, bad])
    code = main(["report", "--db", str(demo_db), "--quarter", "2026Q3", "--region", "East", "--out", str(out)])
    assert code == 0  # every page was produced: the failed one says what failed
    assert "FAILED East/02_bad at cell 3" in capsys.readouterr().out
    # a notebook that cannot even be read: its page says so in one sentence, and the command exits 1
    broken = nbs / "03_broken.ipynb"
    broken.write_text("not a notebook", encoding="utf-8")
    monkeypatch.setattr(reports.runner, "curated_notebooks", lambda *a, **k: [broken])
    code = main(["report", "--db", str(demo_db), "--quarter", "2026Q3", "--region", "East", "--out", str(out)])
    assert code == 1
    assert "NO PAGE" in capsys.readouterr().out
    page = (pack / "03_broken.html").read_text(encoding="utf-8")
    assert "This page could not be produced" in page and "Traceback" not in page


# ---------------------------------------------------------------------------------------------- slow: the real pack


@pytest.fixture(scope="module")
def pack_db(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo store where the partner named <img src=x onerror=alert(1)> owes a large rebate,
    so the name is certain to appear in the data-health tables and charts of its region."""
    path = tmp_path_factory.mktemp("packdb") / "demo.duckdb"
    shutil.copyfile(demo_db, path)
    con = duckdb.connect(str(path))
    (pid,) = con.execute("SELECT partner_id FROM partners WHERE name = ?", [EVIL]).fetchone()
    con.execute("INSERT INTO incentives (incentive_id, partner_id, program, period_start, period_end, amount_due, "
                "amount_paid, paid_date) VALUES ('I-EVIL', ?, 'volume_rebate', DATE '2026-04-01', DATE '2026-06-30', "
                "987654.00, 0, NULL)", [pid])
    con.close()
    return path


MANAGER = "M1B"  # the demo's manager of the <img>-named partner (East); M1A and M1C manage East's other partners
PACKS = ("all", "East", "Northwest", Scope("manager", MANAGER))  # Northwest: the smallest region


@pytest.fixture(scope="module")
def pack(pack_db: Path, tmp_path_factory: pytest.TempPathFactory):
    """In Chinese, in one run of the curated notebooks: the company pack, two region packs and the pack of the
    <img>-named partner's manager (whose region holds two other managers' partners)."""
    out = tmp_path_factory.mktemp("reports")
    return render_pack(pack_db, quarter=None, region=list(PACKS), lang="zh", out=out, progress=False)


@pytest.fixture(scope="module")
def partners(pack_db: Path):
    con = duckdb.connect(str(pack_db), read_only=True)
    df = con.execute("SELECT partner_id, name, region, manager_id, manager_name, contact_name, contact_phone "
                     "FROM partners").df()
    con.close()
    return df


def _folder(pack, scope: Scope) -> Path:
    return pack.out / pack.params.quarter / scope.slug


def _forms(text: str) -> set[str]:
    """The ways a string can appear in a page: raw, HTML-escaped, JSON-escaped (both styles)."""
    js = json.dumps(text, ensure_ascii=False)[1:-1]
    safe_js = js.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return {text, html.escape(text), html.escape(text, quote=False), js, safe_js,
            json.dumps(text)[1:-1]} - {""}


def _without_bundle(page: str) -> str:
    start = page.find(f'<script id="{BUNDLE_MARKER}">')
    if start < 0:
        return page
    end = page.find("</script>", start)
    return page[:start] + page[end:]


def _pages(folder: Path) -> dict[str, str]:
    return {p.name: _without_bundle(p.read_text(encoding="utf-8")) for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.slow
def test_pack_layout_and_indexes(pack):
    assert pack.ok, pack.summary()
    stems = [p.stem for p in curated_notebooks()]
    assert stems and stems[0] == "01_data_health"
    assert pack.params.scopes == tuple(Scope.parse(p) for p in PACKS)
    for scope in pack.params.scopes:
        folder = _folder(pack, scope)
        assert (folder / "index.html").exists()
        for stem in stems:
            assert (folder / f"{stem}.html").exists()
        index = (folder / "index.html").read_text(encoding="utf-8")
        for stem in stems:
            assert f'href="{stem}.html"' in index
        assert "运行参数" in index and "数据快照" in index and "2026-09-30" in index
    top = (pack.out / "index.html").read_text(encoding="utf-8")
    for scope in pack.params.scopes:  # the top index lists every pack, the manager's too
        assert f'href="{pack.params.quarter}/{scope.slug}/index.html"' in top
    assert f"渠道经理 {MANAGER}" in top


@pytest.mark.slow
def test_every_page_of_the_manager_pack_names_the_manager_in_its_title(pack):
    """A manager's pack reads a store copy holding only their partners; its page titles still name the manager,
    never 'All regions' (pages 01-04 and 06 once said 全部区域 there)."""
    pages = _pages(_folder(pack, Scope("manager", MANAGER)))
    titled = {name: re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S) for name, page in pages.items()
              if name != "index.html" and name.endswith(".html")}
    assert len(titled) == len(curated_notebooks()), sorted(titled)
    for name, m in titled.items():
        assert m, f"{name} has no title"
        assert f"渠道经理 {MANAGER}" in m.group(1) and "全部区域" not in m.group(1), (name, m.group(1)[:200])


@pytest.mark.slow
def test_every_region_pack_holds_only_its_own_partners(pack, partners):
    id_re = re.compile(r"P\d{6}")
    regions = [s for s in pack.params.scopes if s.kind == "region"]
    assert len(regions) == 2
    for scope in regions:
        region = scope.region
        own = set(partners.loc[partners.region == region, "partner_id"])
        others = partners[partners.region != region]
        other_names = [f for n in others["name"] for f in _forms(n)]
        for fname, page in _pages(_folder(pack, scope)).items():
            ids = set(id_re.findall(page))
            assert ids <= own, f"{region}/{fname} shows other regions' partners {sorted(ids - own)[:5]}"
            leaked = [n for n in other_names if n in page]
            assert not leaked, f"{region}/{fname} names other regions' partners: {leaked[:3]}"


@pytest.mark.slow
def test_no_contact_fields_in_any_report(pack, partners):
    names = sorted({f for n in partners["name"] for f in _forms(n)}, key=len, reverse=True)
    for folder in [pack.out, *sorted((pack.out / pack.params.quarter).iterdir())]:
        for fname, page in _pages(folder).items():
            for phone in partners["contact_phone"].dropna():
                assert phone not in page, f"{folder.name}/{fname} shows a contact phone"
            text = page
            for n in names:  # a contact name may be part of a company name; look outside partner names
                text = text.replace(n, "")
            for person in partners["contact_name"].dropna().unique():
                assert person not in text, f"{folder.name}/{fname} shows contact name {person}"
            for manager in partners["manager_name"].dropna().unique():  # a manager's name is never on a page
                assert not [f for f in _forms(manager) if f in page], f"{folder.name}/{fname} shows {manager}"


@pytest.mark.slow
def test_the_manager_pack_holds_only_that_managers_partners(pack, partners):
    """#18.1: no page, chart spec, index or manifest of the manager's pack names another manager's partner (not
    even the two other managers' partners of the same region), and the top index holds no partner at all."""
    id_re = re.compile(r"P\d{6}")
    own = set(partners.loc[partners.manager_id == MANAGER, "partner_id"])  # the demo's managers have no history
    others = partners[partners.manager_id != MANAGER]
    assert len(own) > 20 and set(others.loc[others.region == "East", "manager_id"]) == {"M1A", "M1C"}
    other_names = [f for n in others["name"] for f in _forms(n)]
    shown: set[str] = set()
    pages = _pages(_folder(pack, Scope("manager", MANAGER)))
    assert len(pages) == len(curated_notebooks()) + 2  # pages, index.html, pack.json
    for fname, page in pages.items():
        ids = set(id_re.findall(page))
        assert ids <= own, f"{fname} shows other managers' partners {sorted(ids - own)[:5]}"
        leaked = [n for n in other_names if n in page]
        assert not leaked, f"{fname} names other managers' partners: {leaked[:3]}"
        shown |= ids
    assert len(shown) > 5, "the manager's own partners should be listed"
    assert not id_re.findall((pack.out / "index.html").read_text(encoding="utf-8"))


def _store_headline(db: Path, ids: set[str] | None, as_of: date) -> dict[str, float]:
    """The index's store figures recomputed with pandas from the raw tables, for the partners `ids` (None: all)."""
    con = duckdb.connect(str(db), read_only=True)
    orders = con.execute("SELECT partner_id, order_date, net_amount, is_return FROM orders").df()
    ledger = con.execute("SELECT partner_id, program, period_end, amount_due, amount_paid, paid_date FROM incentives").df()
    con.close()
    # rows of the synthetic current program are recomputed by the audit, the others judged on their ledger due;
    # synth plants the current program's dues exactly as its file computes them (tests/test_rebates_audit.py), so
    # the ledger due is every row's true due
    if ids is not None:
        orders, ledger = orders[orders["partner_id"].isin(ids)], ledger[ledger["partner_id"].isin(ids)]
    d, a = pd.to_datetime(orders["order_date"]), pd.Timestamp(as_of)
    month = d.dt.to_period("M")
    sales = orders.loc[month == a.to_period("M"), "net_amount"].sum()
    before = orders.loc[month == a.to_period("M") - 1, "net_amount"].sum()
    recent = orders[(d > a - pd.Timedelta(days=90)) & (d <= a) & ~orders["is_return"].fillna(False).astype(bool)
                    & (orders["net_amount"] > 0)]
    return {"monthly_sales": float(sales), "sales_change": float(sales / before - 1),
            "active_partners": recent["partner_id"].nunique()} | ledger_only_rebate_headline(ledger, a.date())


def _churn_and_alerts(db: Path, quarter: str, as_of: date, region: str) -> dict[str, float]:
    """Churn risk count (risk >= 0.5), value at risk and retrospective alerts of a region, from the job APIs."""
    import workbench as wb

    con = wb.store.connect(db, read_only=True)
    design = wb.churn.backtest_design(con, as_of=as_of, horizon_days=90, region=region)
    frames = wb.churn.cutoff_frames(con, design.cutoffs, horizon_days=90, region=region,
                                    active_days=design.active_days)
    bt = wb.churn.run_backtest(frames, horizon_days=90, n_scored=6)
    scorer = wb.churn.fit_scorer(con, as_of=as_of, horizon_days=90, region=region, frames=frames, bt=bt)
    risk = wb.churn.risk_list(con, as_of=as_of, horizon_days=90, region=region, scorer=scorer)
    alerts = wb.retro.build_retrospective(con, quarter=quarter, region=region).alerts
    return {"churn_risk_count": int((risk["risk"] >= 0.5).sum()), "value_at_risk": float(risk["sales_at_risk"].sum()),
            "alerts": len(alerts)}


@pytest.mark.slow
def test_index_headline_figures_match_the_store(pack, pack_db, partners):
    """#20.3: every pack's headline figures (manifest, pack index, top index) against the store, recomputed
    here: sales, change, active partners and rebate discrepancies with pandas; East's churn risk count, value
    at risk and alerts with the churn and retrospective APIs, not read back from a page."""
    from workbench.vocab import format_money

    q, as_of = pack.params.quarter, pack.params.as_of
    top = (pack.out / "index.html").read_text(encoding="utf-8")
    own = {"all": None, "East": set(partners.loc[partners.region == "East", "partner_id"]),
           "Northwest": set(partners.loc[partners.region == "Northwest", "partner_id"]),
           f"manager_{MANAGER}": set(partners.loc[partners.manager_id == MANAGER, "partner_id"])}
    for scope in pack.params.scopes:
        folder = _folder(pack, scope)
        figures = json.loads((folder / "pack.json").read_text(encoding="utf-8"))["headline"]
        expected = _store_headline(pack_db, own[scope.slug], as_of)
        if scope.slug == "East":
            expected |= _churn_and_alerts(pack_db, q, as_of, "East")
        for key, value in expected.items():
            assert figures[key] == pytest.approx(value, rel=1e-9, abs=1e-6), (scope.slug, key)
        index = (folder / "index.html").read_text(encoding="utf-8")
        for text in (format_money(expected["monthly_sales"], "CNY", lang="zh"),
                     f"{100 * expected['sales_change']:+.1f}%", f"{expected['active_partners']:,}",
                     format_money(expected["rebate_underpaid"], "CNY", lang="zh"),
                     format_money(expected["rebate_overpaid"], "CNY", lang="zh")):
            assert text in index and text in top, (scope.slug, text)
        assert all(figures.get(k) is not None for k in ("churn_risk_count", "value_at_risk", "alerts")), scope.slug
        if scope.slug == "East":
            assert format_money(expected["value_at_risk"], "CNY", lang="zh") in index
            assert f'<td class="num">{expected["churn_risk_count"]:,}</td>' in index
            assert f'<td class="num">{expected["alerts"]:,}</td>' in index


@pytest.mark.slow
def test_partner_names_are_escaped(pack, partners):
    assert EVIL in set(partners["name"])
    shown = {}
    for folder in sorted((pack.out / pack.params.quarter).iterdir()):
        for fname, page in _pages(folder).items():
            assert EVIL not in page, f"{folder.name}/{fname} holds the raw <img> name"
            assert "<img src=x" not in page
            n = page.count(html.escape(EVIL, quote=False)) + page.count(html.escape(EVIL))
            shown[folder.name] = shown.get(folder.name, 0) + n
    # the partner with the <img> name appears (escaped) in its region's pack and its manager's pack
    assert shown["East"] > 0 and shown[f"manager_{MANAGER}"] > 0, shown


@pytest.mark.slow
def test_chinese_headings_and_labels(pack):
    health = (pack.out / pack.params.quarter / "all" / "01_data_health.html").read_text(encoding="utf-8")
    for text in ("数据健康检查", "主要发现", "返利对账", "返利欠付 (CNY)", "经销商名称", "全部区域"):
        assert text in health
    assert '<html lang="zh-CN">' in health
    seg = pack.out / pack.params.quarter / "all" / "02_segmentation.html"
    if seg.exists():  # tier names come from the segmentation notebook
        page = seg.read_text(encoding="utf-8")
        assert all(t in page for t in ("核心", "成长", "试点"))
    retro = pack.out / pack.params.quarter / "all" / "05_quarterly_retrospective.html"
    if retro.exists():
        page = retro.read_text(encoding="utf-8")
        assert all(k in page for k in ("月销售额", "满意度", "返单率"))


@pytest.mark.slow
def test_no_raw_names_nan_repr_or_injection_in_any_page(pack):
    """#20.4 and #12.5 on the demo pack: every page's tables, chart titles and text read as labels, and
    nothing from the data can execute (tests/pagescan.py)."""
    from tests.pagescan import executable_injections, raw_text_problems

    problems = {}
    paths = sorted(pack.out.rglob("*.html"))
    scanned = {(p.parent.name, p.stem) for p in paths}
    for scope in pack.params.scopes:  # every page of every pack, 06 and 07 and the manager's pack included
        assert {(scope.slug, nb.stem) for nb in curated_notebooks()} <= scanned, scope
    assert {"06_rebate_audit", "07_relationships"} <= {nb.stem for nb in curated_notebooks()}
    for path in paths:
        page = path.read_text(encoding="utf-8")
        found = executable_injections(page) + raw_text_problems(page)
        if found:
            problems[str(path.relative_to(pack.out))] = found[:5]
    assert not problems, problems


@pytest.mark.slow
def test_pages_are_self_contained(pack):
    for path in pack.out.rglob("*.html"):
        page = path.read_text(encoding="utf-8")
        assert not re.search(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""", page), path
        assert "cdn.jsdelivr" not in page and "cdnjs.cloudflare" not in page and "unpkg.com" not in page, path
        if 'class="wb-chart"' in page:
            assert page.count(f'id="{BUNDLE_MARKER}"') == 1, f"{path}: the vega bundle must be there exactly once"


# ---------------------------------------------------------------------------------------------- slow: browser


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run `make sysdeps` (apt-get install chromium fonts-wqy-microhei)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open_offline(browser, path: Path):
    """Open a page from disk with every non-file request aborted; return page and event records."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    seen = {"requests": [], "console": [], "dialogs": []}

    def route(r):
        if r.request.url.startswith(("file://", "data:", "about:")):
            r.continue_()
        else:
            seen["requests"].append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: seen["console"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["console"].append(str(e)))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.goto(path.as_uri(), wait_until="load")
    return page, seen


@pytest.mark.slow
@pytest.mark.parametrize("which", ["all", f"manager_{MANAGER}"])
def test_pages_render_offline_in_chromium(pack, browser, which):
    folder = pack.out / pack.params.quarter / which
    out = ARTIFACTS / which
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    pages = sorted(folder.glob("*.html")) + ([pack.out / "index.html"] if which == "all" else [])
    assert len(pages) >= 2
    for path in pages:
        page, seen = _open_offline(browser, path)
        n = page.evaluate("document.querySelectorAll('.wb-chart').length")
        if n:
            page.wait_for_function(
                "[...document.querySelectorAll('.wb-chart')].every(e => e.dataset.rendered === 'vega' || e.dataset.error)",
                timeout=20_000)
        charts = page.evaluate("""[...document.querySelectorAll('.wb-chart')].map(e => {
            const live = e.querySelector('.wb-chart-live');
            const g = live && live.querySelector('svg, canvas');
            const box = g ? g.getBoundingClientRect() : {width: 0, height: 0};
            return {state: e.dataset.rendered, error: e.dataset.error || '', marks: g ? g.querySelectorAll('*').length : 0,
                    w: box.width, h: box.height};
        })""")
        page.screenshot(path=str(out / f"{path.stem}.png"), full_page=True)
        injected = page.evaluate("document.querySelectorAll('img[src=\"x\"], img[onerror]').length")
        page.close()
        assert not seen["requests"], f"{path.name} tried the network: {seen['requests'][:3]}"
        assert not seen["console"], f"{path.name} console errors: {seen['console'][:3]}"
        assert not seen["dialogs"], f"{path.name} opened a dialog: {seen['dialogs']}"
        assert injected == 0, f"{path.name} holds an injected <img>"
        for c in charts:
            assert c["state"] == "vega" and not c["error"], f"{path.name}: chart did not draw: {c}"
            assert c["marks"] > 5 and c["w"] > 50 and c["h"] > 20, f"{path.name}: empty chart {c}"
        if path.name.startswith("01_"):
            assert len(charts) >= 6


@pytest.mark.slow
def test_chinese_glyphs_render_in_chromium(pack, browser):
    """Two different Chinese strings must not look the same: with no CJK font both become boxes."""
    fc = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False).stdout
    assert fc.strip(), "no CJK font installed: run `make fonts` (fonts-wqy-microhei)"
    path = pack.out / pack.params.quarter / "East" / "01_data_health.html"
    page, seen = _open_offline(browser, path)
    page.evaluate("""() => {
        for (const [id, t] of [['wb-a', '核心渠道'], ['wb-b', '成长试点']]) {
            const s = document.createElement('span'); s.id = id; s.textContent = t;
            s.style.cssText = 'font-size:40px;display:inline-block;padding:4px;background:#fff;color:#000';
            document.querySelector('main').prepend(s);
        }
    }""")
    a = page.locator("#wb-a").screenshot()
    b = page.locator("#wb-b").screenshot()
    text = page.evaluate("document.body.innerText")
    page.screenshot(path=str(ARTIFACTS / "zh_glyphs.png"))
    page.close()
    assert a != b, "Chinese renders as identical boxes: no CJK font reached the browser"
    assert "数据健康检查" in text and "华东" in text
    assert not seen["requests"]


def test_shell_replies_that_arrive_during_a_wait_are_not_missed():
    """A reply that lands while a poll waits (its wake-up consumed by a send on the same socket, as
    nbclient's Output-widget comms do: jupyter/nbclient#312) is picked up by the next short poll."""
    import asyncio
    from queue import Empty

    from workbench.papermill_engine import PollingShell as _PollingShell

    class LostWakeupChannel:
        """Sees only messages already queued when a wait starts, then sleeps out the whole timeout."""

        def __init__(self) -> None:
            self.queue: list[dict] = []

        async def get_msg(self, timeout: float | None = None) -> dict:
            if self.queue:
                return self.queue.pop(0)
            await asyncio.sleep(timeout if timeout is not None else 3600)
            raise Empty

    async def scenario(channel, timeout: float) -> float:
        async def reply_soon() -> None:
            await asyncio.sleep(0.2)
            channel.queue.append({"parent_header": {"msg_id": "x"}})

        task = asyncio.ensure_future(reply_soon())
        t0 = time.monotonic()
        try:
            await channel.get_msg(timeout=timeout)
        except Empty:
            pass
        await task
        return time.monotonic() - t0

    def run(coro):  # on a thread of its own: another test may have left an event loop running here
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coro).result()

    raw = LostWakeupChannel()
    assert run(scenario(raw, timeout=3.0)) >= 3.0  # the raw wait misses it until the timeout
    polled = _PollingShell(LostWakeupChannel())
    assert run(scenario(polled, timeout=30.0)) < 2.0  # seen at the next short poll
    polled = _PollingShell(LostWakeupChannel())
    assert run(scenario(polled, timeout=None)) < 2.0
    with pytest.raises(Empty):  # and a real timeout still raises
        run(_PollingShell(LostWakeupChannel()).get_msg(timeout=0.3))
