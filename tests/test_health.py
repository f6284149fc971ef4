"""workbench.health on a hand-built store (expected values written out), and 01_data_health under papermill."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from workbench import health
from workbench.charts import (
    chart_ordering_gaps,
    chart_quarantine_reasons,
    chart_rebate_reconciliation,
    chart_rebate_shortfall_top,
    chart_rows_by_period,
    chart_survey_coverage,
)
from workbench.paths import NOTEBOOKS_DIR
from workbench.present import health as ph
from workbench.store import connect, raw_connection

PARTNERS = pd.DataFrame({
    "partner_id": ["A1", "A2", "B1"],
    "name": ["<img src=x onerror=alert(1)>", "甲公司", "乙公司"],
    "region": ["East", "East", "South"],
    "channel_type": ["dealer", "retailer", "dealer"],
    "onboard_date": pd.to_datetime(["2024-01-01"] * 3),
    "contact_name": ["张三", "李四", "王五"],
    "contact_phone": ["130-0000-0001", "130-0000-0002", "130-0000-0003"],
})
# A1 orders every month Oct 2025 – Sep 2026 except Jan–Mar 2026 (a 3-month gap);
# A2 orders in Oct 2025 and Sep 2026 only (gap of 10 months); B1 orders every month.
_A1 = [m for m in pd.period_range("2025-10", "2026-09", freq="M") if str(m) not in ("2026-01", "2026-02", "2026-03")]
_ROWS = ([("A1", m.start_time + pd.Timedelta(days=4)) for m in _A1]
         + [("A2", pd.Timestamp("2025-10-10")), ("A2", pd.Timestamp("2026-09-10"))]
         + [("B1", m.start_time + pd.Timedelta(days=9)) for m in pd.period_range("2025-10", "2026-09", freq="M")])
ORDERS = pd.DataFrame({
    "order_id": [f"O{i}" for i in range(len(_ROWS))],
    "partner_id": [p for p, _ in _ROWS],
    "order_date": [d for _, d in _ROWS],
    "product_line": "phones",
    "net_amount": 100.0,
    "is_return": False,
})
# a double entry for B1 in September: same partner, day, product line and amount, new order id
ORDERS = pd.concat([ORDERS, pd.DataFrame({"order_id": ["DUP"], "partner_id": ["B1"],
                                          "order_date": [pd.Timestamp("2026-09-10")], "product_line": ["phones"],
                                          "net_amount": [100.0], "is_return": [False]})], ignore_index=True)
INCENTIVES = pd.DataFrame({
    "incentive_id": ["I1", "I2", "I3", "I4"],
    "partner_id": ["A1", "A1", "A2", "B1"],
    "program": ["volume_rebate", "volume_rebate", "volume_rebate", "volume_rebate"],
    "period_start": pd.to_datetime(["2026-01-01", "2026-04-01", "2026-04-01", "2026-04-01"]),
    "period_end": pd.to_datetime(["2026-03-31", "2026-06-30", "2026-06-30", "2026-06-30"]),
    "amount_due": [1000.0, 500.0, 300.0, 200.0],
    # I2 is paid after as_of (2026-09-30), so at as_of it is still owed
    "amount_paid": [800.0, 500.0, 300.0, 200.0],
    "paid_date": pd.to_datetime(["2026-05-01", "2026-10-15", "2026-08-01", "2026-08-01"]),
})
SURVEYS = pd.DataFrame({"survey_id": ["S1"], "partner_id": ["A1"], "survey_date": pd.to_datetime(["2026-08-01"]),
                        "satisfaction": [80.0]})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("health") / "tiny.duckdb"
    con = connect(path)
    raw = raw_connection(con)
    for name, frame in [("partners", PARTNERS), ("orders", ORDERS), ("incentives", INCENTIVES), ("surveys", SURVEYS)]:
        raw.register("_f", frame)
        raw.execute(f"INSERT INTO {name} ({', '.join(frame.columns)}) SELECT * FROM _f")
        raw.unregister("_f")
    q = [("orders", "o.csv", 2, "order_id", "O1", "duplicate line: identical to an earlier line in the file",
          {"order_id": "O1", "partner_id": "A1"}),
         ("orders", "o.csv", 3, "net_amount", "x", "net_amount is not a number", {"经销商编号": "B1"}),
         ("orders", "o.csv", 4, "partner_id", "ZZ", "partner_id is not a known partner", {"partner_id": "ZZ"}),
         ("orders", "o.csv", 5, "order_id", "O2",
          "order_id appears earlier in the file with different values (the first one was kept)", {"partner_id": "A2"})]
    for t, f, n, c, v, r, d in q:
        raw.execute("INSERT INTO quarantine (table_name, file, row_number, \"column\", value, reason, quarantined_at, "
                    "row_data) VALUES (?, ?, ?, ?, ?, ?, now(), ?)",
                    [t, f, n, c, v, r, json.dumps(d, ensure_ascii=False)])
    con.disconnect()
    return connect(path, read_only=True)


def test_rows_by_period_counts_every_month_and_zero_fills(tiny):
    rows = health.rows_by_period(tiny, end="2026-09-30", months=12, region="East")
    orders = rows[rows["table"] == "orders"].set_index("month")["rows"]
    assert len(orders) == 12
    assert orders[pd.Timestamp("2026-02-01")] == 0  # A1's gap, A2 silent
    assert orders[pd.Timestamp("2025-10-01")] == 2  # A1 and A2
    assert orders[pd.Timestamp("2026-09-01")] == 2
    assert orders.sum() == len(_A1) + 2
    surveys = rows[rows["table"] == "surveys"]
    assert surveys["rows"].sum() == 1


def test_quarantine_by_reason_is_scoped_by_partner_in_row_data(tiny):
    everything = health.quarantine_by_reason(tiny)
    assert everything["rows"].sum() == 4
    east = health.quarantine_by_reason(tiny, region="East")
    assert east["rows"].sum() == 2  # A1's duplicate and A2's key conflict; B1 (Chinese header) is South
    south = health.quarantine_by_reason(tiny, region="South")
    assert south["reason"].tolist() == ["net_amount is not a number"]
    dupes = health.duplicates_caught(east).set_index("table_name")
    assert dupes.loc["orders", "exact_duplicates"] == 1 and dupes.loc["orders", "key_conflicts"] == 1
    assert health.duplicates_caught(south).empty


def test_quarantine_partner_key_read_in_python_as_in_sql(tiny):
    """Backends other than DuckDB attribute a quarantined line to a partner in Python: the same key as the SQL."""
    lines = tiny.table("quarantine").select("row_data").to_pandas()["row_data"]
    assert [health._row_partner_key(r) for r in lines] == ["A1", "B1", "ZZ", "A2"]
    assert health._row_partner_key('{"Partner ID": " C9 ", "x": 1}') == "C9"
    assert health._row_partner_key('{"partner_id": 12}') == "12"
    assert health._row_partner_key("not json") is None and health._row_partner_key(None) is None


def test_a_backend_without_quarantine_or_ingest_log_says_so(tiny):
    """A backend holding only canonical tables: no quarantine and no ingest log (not an empty one), and the
    findings say so in one sentence instead of counting zero rows in quarantine."""
    import ibis

    bare = ibis.duckdb.connect()
    bare.create_table("partners", PARTNERS)
    bare.create_table("orders", ORDERS)
    assert health.has_quarantine(tiny) and health.has_ingest_log(tiny)
    assert not health.has_quarantine(bare) and not health.has_ingest_log(bare)
    assert health.quarantine_by_reason(bare).empty and health.ingest_summary(bare).empty
    kw = dict(rows=pd.DataFrame(), quarantine=health.quarantine_by_reason(bare), gaps=pd.DataFrame(),
              surveys=pd.DataFrame(), shortfall=pd.DataFrame(), duplicates=pd.DataFrame())
    en = ph.finding_sentences(**kw, lang="en", quarantine_kept=False)
    zh = ph.finding_sentences(**kw, lang="zh", quarantine_kept=False)
    assert "This store's backend keeps no quarantine, so rejected lines cannot be shown here." in en
    assert not [s for s in en if "rows sit in quarantine" in s or "duplicate lines" in s]
    assert "该数据源未保存隔离区，因此此处无法显示被拦截的数据行。" in zh
    assert "0 rows sit in quarantine." in ph.finding_sentences(**kw, lang="en")


def test_suspected_duplicate_orders(tiny):
    s = health.suspected_duplicate_orders(tiny, start="2026-07-01", end="2026-09-30")
    assert s[["partner_id", "lines"]].values.tolist() == [["B1", 2]]
    assert health.suspected_duplicate_orders(tiny, start="2026-07-01", end="2026-09-30", region="East").empty


def test_ordering_gaps(tiny):
    g = health.ordering_gaps(tiny, as_of="2026-09-30", months=12, min_gap_months=3)
    assert g[["partner_id", "empty_months", "longest_gap_months"]].values.tolist() == [["A2", 10, 10], ["A1", 3, 3]]
    assert "contact_name" not in g.columns and "contact_phone" not in g.columns
    assert health.ordering_gaps(tiny, as_of="2026-09-30", region="South").empty


def test_survey_coverage(tiny):
    s = health.survey_coverage(tiny, quarter="2026Q3", by="region").set_index("region")
    assert s.loc["East", "active_partners"] == 2 and s.loc["East", "surveyed"] == 1
    assert s.loc["East", "missing"] == 1 and s.loc["East", "missing_share"] == pytest.approx(0.5)
    assert s.loc["South", "missing"] == 1


def test_rebate_reconciliation_and_shortfall_list(tiny):
    by = health.rebate_by_program(tiny, as_of="2026-09-30").set_index("quarter")
    # no file for 'volume_rebate': each row is judged on its ledger due
    assert by.loc["2026Q1", "rebate_underpaid"] == pytest.approx(200.0)
    # 2026Q2: due 1000, paid 500 (I2's payment lands after as_of: unpaid, and overdue since 2026-08-14)
    assert by.loc["2026Q2", "rebate_due"] == pytest.approx(1000.0)
    assert by.loc["2026Q2", "rebate_paid"] == pytest.approx(500.0)
    assert by.loc["2026Q2", "rebate_underpaid"] == pytest.approx(500.0)
    assert by["rebate_overpaid"].tolist() == [0.0, 0.0] and not by["program_found"].any()
    assert str(ph.missing_programs(by.reset_index(), "en")).endswith("volume rebate")
    sl = health.rebate_shortfall_list(tiny, as_of="2026-09-30")
    assert sl[["partner_id", "rebate_shortfall", "unpaid_rows"]].values.tolist() == [["A1", 700.0, 2]]
    assert sl.loc[0, "oldest_unpaid_period_end"] == pd.Timestamp("2026-03-31")
    assert health.rebate_shortfall_list(tiny, as_of="2026-09-30", region="South").empty
    # after the late payment is made, only I1's 200 remains
    later = health.rebate_shortfall_list(tiny, as_of=date(2026, 10, 31))
    assert later["rebate_shortfall"].tolist() == [200.0]


MIXED_PROGRAM = "name: flat\nvolume_rebate:\n  mode: retroactive\n  tiers:\n    - {threshold: 0, rate_pct: 3.0}\n"
# partner, program, Q2 net sales, ledger due, paid: 'flat' pays 3 %, 'legacy' has no file
MIXED = [("M1", "flat", 10_000, 300, 500),  # overpaid 200
         ("M2", "flat", 10_000, 300, 100),  # underpaid 200: with M1 it nets to 0 for the program-quarter
         ("M3", "flat", 20_000, 500, 500),  # the due is 600: misstated, underpaid 100
         ("M1", "legacy", 10_000, 50, 0)]  # no program file: judged on the ledger's 50, unpaid overdue


def test_page_01_keeps_over_and_underpayments_apart_per_program(tmp_path):
    """#17 on page 01: a program-quarter whose over- and underpayments net to zero shows both, from the audit."""
    programs = tmp_path / "programs"
    programs.mkdir()
    (programs / "flat.yaml").write_text(MIXED_PROGRAM, encoding="utf-8")
    con = connect(tmp_path / "mixed.duckdb")
    raw = raw_connection(con)
    for pid in ("M1", "M2", "M3"):
        raw.execute("INSERT INTO partners (partner_id, name, region, channel_type, onboard_date) "
                    "VALUES (?, ?, 'East', 'dealer', DATE '2024-01-01')", [pid, pid])
    for i, (pid, program, sales, due, paid) in enumerate(MIXED):
        if program == "flat":
            raw.execute("INSERT INTO orders (order_id, partner_id, order_date, net_amount) "
                        "VALUES (?, ?, DATE '2026-05-10', ?)", [f"O{i}", pid, sales])
        raw.execute("INSERT INTO incentives (incentive_id, partner_id, program, period_start, period_end, amount_due, "
                    "amount_paid, paid_date) VALUES (?, ?, ?, DATE '2026-04-01', DATE '2026-06-30', ?, ?, "
                    "DATE '2026-08-01')", [f"I{i}", pid, program, due, paid])
    by = health.rebate_by_program(con, as_of="2026-09-30", programs_dir=programs).set_index("program")
    flat, legacy = by.loc["flat"], by.loc["legacy"]
    assert (flat["quarter"], flat["rows"], flat["rows_misstated"], bool(flat["program_found"])) == ("2026Q2", 3, 1, True)
    assert flat["rebate_due"] == pytest.approx(1_200) and flat["rebate_paid"] == pytest.approx(1_100)
    assert flat["rebate_underpaid"] == pytest.approx(300) and flat["rebate_overpaid"] == pytest.approx(200)
    assert legacy["rebate_underpaid"] == pytest.approx(50) and not legacy["program_found"]
    page = str(ph.rebate_table(by.reset_index(), "zh"))
    assert "少付（已到期未付）" in page and "多付" in page and "¥300" in page and "¥200" in page
    assert "program_found" not in page and "有方案文件" not in page
    note = str(ph.missing_programs(by.reset_index(), "en"))
    assert note.endswith("legacy") and "flat" not in note
    chart = json.dumps(chart_rebate_reconciliation(by.reset_index(), lang="zh").to_dict(), ensure_ascii=False)
    assert "少付（已到期未付）" in chart and "多付" in chart
    assert health.rebate_by_program(con, as_of="2026-06-29", programs_dir=programs).empty  # no period ended yet
    # M2 was overpaid 200 in Q1: netted per partner and program that would cancel its Q2 shortfall of 200
    raw.execute("INSERT INTO orders (order_id, partner_id, order_date, net_amount) VALUES ('OQ1', 'M2', "
                "DATE '2026-02-10', 10000)")
    raw.execute("INSERT INTO incentives (incentive_id, partner_id, program, period_start, period_end, amount_due, "
                "amount_paid, paid_date) VALUES ('IQ1', 'M2', 'flat', DATE '2026-01-01', DATE '2026-03-31', 300, 500, "
                "DATE '2026-04-20')")
    sl = health.rebate_shortfall_list(con, as_of="2026-09-30", programs_dir=programs)
    got = sl[["partner_id", "program", "rebate_shortfall", "rebate_overpaid", "unpaid_rows"]].values.tolist()
    assert got == [["M2", "flat", 200.0, 200.0, 1], ["M3", "flat", 100.0, 0.0, 1], ["M1", "legacy", 50.0, 0.0, 1]]
    assert sl.loc[0, "oldest_unpaid_period_end"] == pd.Timestamp("2026-06-30")  # the Q1 row is overpaid, not open


def test_findings_localized_and_tables_escaped(tiny):
    kw = dict(
        rows=health.rows_by_period(tiny, end="2026-09-30", months=12),
        quarantine=health.quarantine_by_reason(tiny),
        gaps=health.ordering_gaps(tiny, as_of="2026-09-30"),
        surveys=health.survey_coverage(tiny, quarter="2026Q3"),
        shortfall=health.rebate_shortfall_list(tiny, as_of="2026-09-30"),
    )
    kw["duplicates"] = health.duplicates_caught(kw["quarantine"])
    en = ph.finding_sentences(**kw, lang="en")
    zh = ph.finding_sentences(**kw, lang="zh")
    assert "2 partners went 3 or more months without ordering." in en
    assert any("返利欠付合计 ¥700" in s for s in zh)
    gbp = ph.finding_sentences(**kw, currency="GBP", lang="en")
    assert "Rebate shortfall of £700 across 1 partners." in gbp
    page = ph.table(kw["gaps"], "zh")
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img" not in page
    assert "最长断单（月）" in page and "华东" in page
    money = ph.table(kw["shortfall"], "en", currency="GBP")
    assert "Rebate shortfall (GBP)" in money and "£700" in money and "CNY" not in money and "¥" not in money
    assert "rebate_" not in money and "NaN" not in money


def test_chart_builders_return_charts_with_data(tiny):
    rows = health.rows_by_period(tiny, end="2026-09-30", months=12)
    charts = [
        chart_rows_by_period(rows, lang="zh"),
        chart_quarantine_reasons(health.quarantine_by_reason(tiny)),
        chart_ordering_gaps(health.ordering_gaps(tiny, as_of="2026-09-30")),
        chart_survey_coverage(health.survey_coverage(tiny, quarter="2026Q3")),
        chart_rebate_reconciliation(health.rebate_by_program(tiny, as_of="2026-09-30")),
        chart_rebate_shortfall_top(health.rebate_shortfall_list(tiny, as_of="2026-09-30"), currency="GBP"),
        chart_quarantine_reasons(health.quarantine_by_reason(tiny).iloc[0:0]),  # empty → a message chart
    ]
    for c in charts:
        spec = c.to_dict()
        assert spec.get("datasets"), "every chart embeds its (aggregated) data"
    assert "每月行数" in json.dumps(charts[0].to_dict(), ensure_ascii=False)
    gbp = json.dumps(charts[5].to_dict(), ensure_ascii=False)
    assert "Rebate shortfall (GBP)" in gbp and "CNY" not in gbp
    rebate = charts[4].to_dict()
    assert rebate["params"][0]["bind"]["input"] == "select"  # the program dropdown works without a kernel


@pytest.mark.slow
def test_data_health_notebook_runs_under_papermill(demo_db: Path, tmp_path: Path):
    import nbformat
    import papermill as pm

    from workbench.reports import register_engine

    out = tmp_path / "01.ipynb"
    pm.execute_notebook(
        str(NOTEBOOKS_DIR / "01_data_health.ipynb"), str(out),
        parameters={"db": str(demo_db), "quarter": "2026Q3", "region": "all", "lang": "en", "as_of": ""},
        kernel_name="python3", progress_bar=False, cwd=str(NOTEBOOKS_DIR),
        engine_name=register_engine(), execution_timeout=600,
    )
    nb = nbformat.read(out, as_version=4)
    outs = [o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])]
    html = "".join(d.get("text/html", "") + d.get("text/markdown", "") for d in outs)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert html.count('class="wb-chart"') >= 6
    assert html.count('id="wb-vega-bundle"') == 1
    assert "Rebate shortfall (CNY)" in html and "Partners with gaps in ordering" in html
    src = nbformat.read(NOTEBOOKS_DIR / "01_data_health.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in src.cells if c.cell_type == "code"), "commit notebooks without outputs"
    assert any("parameters" in c.metadata.get("tags", []) for c in src.cells)
