"""Tests for `workbench rebates` and the partner statements: file columns, scoping, escaping (Chromium)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from workbench.cli import main

CHROMIUM = "/usr/bin/chromium"
PROGRAM = "name: volume_rebate\nvolume_rebate:\n  tiers:\n    - {threshold: 0, rate_pct: 3.0}\npayment_delay_days: 45\n"


@pytest.fixture(scope="module")
def statements(realstore, tmp_path_factory):
    """The markup store (markup in partner names, regions, programs) audited for 2026Q2 with statements."""
    db = realstore("markup")
    tmp = tmp_path_factory.mktemp("rebates")
    (tmp / "programs").mkdir()
    (tmp / "programs" / "volume_rebate.yaml").write_text(PROGRAM, encoding="utf-8")
    code = main(["rebates", "--db", str(db), "--quarter", "2026Q2", "--programs", str(tmp / "programs"),
                 "--out", str(tmp / "audit.csv"), "--statements", str(tmp / "st")])
    return {"db": db, "code": code, "audit": pd.read_csv(tmp / "audit.csv"), "folder": tmp / "st"}


def test_cli_writes_one_row_per_ledger_row_and_exits_zero(statements, capsys):
    assert statements["code"] == 0
    audit = statements["audit"]
    for col in ("partner_id", "program", "period_start", "period_end", "recomputed_due", "ledger_due", "paid",
                "difference", "status"):
        assert col in audit.columns
    raw = duckdb.connect(str(statements["db"]), read_only=True)
    n = raw.execute("SELECT count(*) FROM incentives WHERE period_end BETWEEN DATE '2026-04-01' AND DATE '2026-06-30'"
                    ).fetchone()[0]
    assert len(audit) == n and audit["incentive_id"].is_unique
    assert not any(c.endswith("_cny") for c in audit.columns)
    assert "contact_phone" not in audit.columns and "manager_name" not in audit.columns
    # recomputed where the program has a file (3 % of net sales, to the cent); listed otherwise
    found = audit[audit["program"] == "volume_rebate"]
    assert len(found) and (found["recomputed_due"] - (0.03 * found["net_sales"]).clip(lower=0)).abs().max() < 0.006
    assert audit.loc[audit["program"] != "volume_rebate", "recomputed_due"].isna().all()


def test_each_statement_holds_its_own_partner_only_and_escapes_everything(statements):
    folder = statements["folder"]
    ids = sorted(statements["audit"]["partner_id"].unique())
    by_stem = _by_stem(ids)
    assert any("<" in i for i in ids), "the markup store plants markup in partner ids"
    pages = sorted(folder.glob("*.html"))
    assert sorted(p.stem for p in pages) == sorted(by_stem) and len(list(folder.glob("*.xlsx"))) == len(ids)
    raw = duckdb.connect(str(statements["db"]), read_only=True)
    names = dict(raw.execute("SELECT partner_id, name FROM partners").fetchall())
    for page in pages:
        pid = by_stem[page.stem]
        text = page.read_text(encoding="utf-8")
        others = [i for i in ids if i != pid and html.escape(i) in text]
        assert not others, f"{page.name} names other partners: {others[:3]}"
        assert "<script" not in text and "<img" not in text and "<svg" not in text and "<iframe" not in text
        assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?\s*(https?:|//)""", text, re.I), page.name  # no fetch
        assert html.escape(pid) in text and html.escape(names[pid]) in text
    book = pd.read_excel(pages[0].with_suffix(".xlsx"))
    assert set(book.iloc[:, 0].astype(str)) == {by_stem[pages[0].stem]}


def _by_stem(ids: list[str]) -> dict[str, str]:
    """Statement file stem -> partner id (file names are the id made path-safe)."""
    from workbench.present.rebates import _slug

    by_stem = {_slug(i): i for i in ids}
    assert len(by_stem) == len(ids), "two partner ids share a file name"
    return by_stem


@pytest.mark.slow
def test_statements_open_offline_in_chromium_without_injection(statements):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run `make sysdeps`")
    from playwright.sync_api import sync_playwright

    raw = duckdb.connect(str(statements["db"]), read_only=True)
    names = dict(raw.execute("SELECT partner_id, name FROM partners").fetchall())
    by_stem = _by_stem(sorted(statements["audit"]["partner_id"].unique()))
    marked = {i for i, name in names.items() if any(t in i + name for t in ("<script", "<img", "<svg"))}
    pages = sorted(p for p in statements["folder"].glob("*.html") if by_stem[p.stem] in marked)[:3]
    pages += sorted(statements["folder"].glob("*.html"))[:2]
    assert pages
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for path in pages:
            page = browser.new_page()
            seen: dict[str, list[str]] = {"requests": [], "dialogs": [], "errors": []}
            page.route("**/*", lambda r, seen=seen: r.continue_() if r.request.url.startswith(("file://", "data:", "about:"))
                       else (seen["requests"].append(r.request.url), r.abort()))
            page.on("dialog", lambda d, seen=seen: (seen["dialogs"].append(d.message), d.dismiss()))
            page.on("pageerror", lambda e, seen=seen: seen["errors"].append(str(e)))
            page.goto(path.as_uri(), wait_until="load")
            injected = page.evaluate("document.querySelectorAll('script, img, svg, iframe').length")
            body = page.inner_text("body")
            page.close()
            assert not seen["requests"] and not seen["dialogs"] and not seen["errors"], (path.name, seen)
            assert injected == 0, path.name
            pid = by_stem[path.stem]
            assert " ".join(pid.split()) in body and " ".join(names[pid].split()) in body  # shown as text
            if pid in marked:
                assert "<script>" in body or "<img" in body or "<svg" in body  # shown as text, never run
        browser.close()


@pytest.mark.slow
@pytest.mark.parametrize(("store", "lang"), [("markup", "zh"), ("orders_only", "en")])
def test_audit_notebook_renders_without_error_output(realstore, tmp_path, store, lang):
    import json

    import papermill as pm

    from workbench.reports import register_engine

    nb = Path(__file__).resolve().parents[1] / "notebooks" / "06_rebate_audit.ipynb"
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(nb), str(out), parameters={"db": str(realstore(store)), "quarter": "2026Q2",
                                                        "region": "all", "lang": lang},
                        kernel_name="python3", cwd=str(nb.parent), progress_bar=False,
                        engine_name=register_engine(), execution_timeout=600)
    outputs = [o for c in json.loads(out.read_text(encoding="utf-8"))["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error" or o.get("name") == "stderr"]
    shown = " ".join("".join(v) for o in outputs for k, v in o.get("data", {}).items() if k != "text/plain")
    assert "<script>" not in shown and "_cny" not in shown
    assert ("返利核对" if lang == "zh" else "no incentive ledger") in shown


def test_cli_region_filter_and_xlsx(statements, tmp_path):
    # One region's rows only, recomputed with every region's rows (a total cap spans regions); XLSX output.
    raw = duckdb.connect(str(statements["db"]), read_only=True)
    region = raw.execute("SELECT region FROM partners GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
    prog = tmp_path / "programs"
    prog.mkdir()
    (prog / "v.yaml").write_text(PROGRAM, encoding="utf-8")
    out = tmp_path / "audit.xlsx"
    assert main(["rebates", "--db", str(statements["db"]), "--quarter", "2026Q2", "--programs", str(prog),
                 "--region", region, "--out", str(out)]) == 0
    book = pd.read_excel(out)
    assert len(book) and set(book["region"]) == {region}
    every = statements["audit"]
    assert len(book) == int((every["region"] == region).sum())
