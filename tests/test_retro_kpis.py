"""Tests of workbench.retro.kpis and .settings: attainment and concentration on hand-written examples,
config errors, conflicts, and the KPI table through the CLI on the demo store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import retro
from workbench.errors import ConfigError, WorkbenchError


def _kpis_by_hand() -> pd.DataFrame:
    """A small KPI table written out by hand: overall and East, 2026Q1–Q3."""
    rows = [
        # dimension, group, kpi, quarter, value, yoy_pct
        ("overall", "all", "monthly_sales_cny", "2026Q1", 900.0, 0.125),   # last year 800
        ("overall", "all", "monthly_sales_cny", "2026Q2", 1000.0, 0.0),    # last year 1000
        ("overall", "all", "monthly_sales_cny", "2026Q3", 1100.0, 0.10),   # last year 1000
        ("overall", "all", "satisfaction_mean", "2026Q1", 70.0, np.nan),
        ("overall", "all", "satisfaction_mean", "2026Q2", 72.0, np.nan),
        ("overall", "all", "satisfaction_mean", "2026Q3", 74.0, np.nan),
        ("overall", "all", "repeat_rate", "2026Q3", 0.45, np.nan),
        ("overall", "all", "new_partners", "2026Q1", 3.0, np.nan),
        ("overall", "all", "new_partners", "2026Q2", 4.0, np.nan),
        ("overall", "all", "new_partners", "2026Q3", 5.0, np.nan),
        ("region", "East", "monthly_sales_cny", "2026Q3", 500.0, 0.25),   # last year 400
        ("region", "East", "new_partners", "2026Q3", 1.0, np.nan),
    ]
    return pd.DataFrame(rows, columns=["dimension", "group", "kpi", "quarter", "value", "yoy_pct"])


def test_attainment_hand_example() -> None:
    targets = retro.TargetsConfig(targets=[
        retro.Target(period="2026Q3", region="all", growth=0.10, satisfaction=80, repeat_rate=0.5, new_partners=4),
        retro.Target(period="2026", region="all", growth=0.05, satisfaction=75, new_partners=20),
        retro.Target(period="2026Q3", region="East", growth=0.0, new_partners=2),
        retro.Target(period="2026Q2", region="all", satisfaction=70),  # another quarter: ignored
    ])
    att = retro.attainment(_kpis_by_hand(), targets, quarter="2026Q3")
    got = {(r.region, r.basis, r.kpi): (r.actual, r.attainment) for r in att.itertuples()}
    assert len(got) == 4 + 3 + 2
    # quarter, whole network: sales 1100 vs 1000 × 1.10 = 1100 → 100 %; growth actual +10 %
    assert got[("all", "quarter", "sales_growth")] == pytest.approx((0.10, 1.0))
    assert got[("all", "quarter", "satisfaction")] == pytest.approx((74.0, 74 / 80))
    assert got[("all", "quarter", "repeat_rate")] == pytest.approx((0.45, 0.9))
    assert got[("all", "quarter", "new_partners")] == pytest.approx((5.0, 1.25))
    # year to date: sales 3000 vs last year 2800 → growth 7.14 %; target 2800 × 1.05 = 2940 → 102.04 %
    assert got[("all", "year_to_date", "sales_growth")] == pytest.approx((3000 / 2800 - 1, 3000 / 2940))
    assert got[("all", "year_to_date", "satisfaction")] == pytest.approx((72.0, 72 / 75))
    assert got[("all", "year_to_date", "new_partners")] == pytest.approx((12.0, 0.6))
    # East: 500 vs 400 × 1.0 → 125 %; new partners 1 of 2 → 50 %
    assert got[("East", "quarter", "sales_growth")] == pytest.approx((0.25, 1.25))
    assert got[("East", "quarter", "new_partners")] == pytest.approx((1.0, 0.5))


def test_shipped_configs_load() -> None:
    cfg = retro.load_targets()
    assert cfg.targets and all(t.period for t in cfg.targets)
    s = retro.load_settings()
    assert 0 < s.top1_share_alert <= 1


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("targets:\n  - {period: '2026Q3', region: all, growht: 0.1}\n", "unknown field 'growht'"),
        ("targets:\n  - {period: '2026-3', region: all, growth: 0.1}\n", "is not a year like 2026"),
        ("targets:\n  - {period: '2026Q3', region: all, repeat_rate: 45}\n", "repeat_rate must be a share"),
        ("targets:\n  - {period: '2026Q3', region: all, satisfaction: high}\n", "must be a number"),
        ("targets:\n  - {period: '2026Q3', region: all}\n", "sets no target"),
        ("targets:\n  - {period: '2026Q3', growth: 0.1}\n  - {period: '2026Q3', growth: 0.2}\n", "repeats the target"),
        ("targets: [\n", "not valid YAML"),
        ("targets:\n  - {region: East, growth: 0.1}\n", "missing the required field 'period'"),
    ],
)
def test_bad_targets_file_is_one_sentence(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        retro.load_targets(path)
    msg = str(info.value)
    assert needle in msg
    assert "\n" not in msg and msg.endswith(".") and str(path) in msg


def test_missing_targets_file_and_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        retro.load_targets(tmp_path / "nope.yaml")
    bad = tmp_path / "retro.yaml"
    bad.write_text("top1_share_alert: 30\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="top1_share_alert must be a share between 0 and 1"):
        retro.load_settings(bad)


def test_bad_quarter_is_one_sentence() -> None:
    with pytest.raises(WorkbenchError, match="not a quarter like 2026Q3"):
        retro.attainment(_kpis_by_hand(), retro.TargetsConfig(), quarter="2026-Q7")



def test_concentration_hand_example() -> None:
    """Quarter 2026Q3 net sales: A 60, B 20, C 10, D 5, E 3, F 2 (total 100; G has a return only)."""
    sales = {"A": 60, "B": 20, "C": 10, "D": 5, "E": 3, "F": 2, "G": -4}
    panel = pd.DataFrame({
        "partner_id": list(sales), "month": pd.Timestamp("2026-08-01"),
        "net_sales_cny": [float(v) for v in sales.values()],
    })
    settings = retro.RetroSettings(top1_share_alert=0.5, top5_share_alert=0.99)
    conc = retro.concentration_by_period(panel, settings=settings)
    row = conc.iloc[0]
    assert row["period"] == "2026Q3" and row["partners_with_sales"] == 6
    assert row["top1_share"] == pytest.approx(0.60)
    assert row["top5_share"] == pytest.approx(0.98)
    assert row["hhi"] == pytest.approx(0.36 + 0.04 + 0.01 + 0.0025 + 0.0009 + 0.0004)
    assert bool(row["top1_alert"]) and not bool(row["top5_alert"])
    alerts = retro.concentration_alerts(conc, settings=settings)
    assert alerts[["measure", "partner_id"]].values.tolist() == [["top1_share", "A"]]


def test_conflict_summary_hand_example() -> None:
    c = pd.DataFrame({
        "conflict_id": ["c1", "c2", "c3", "c4"],
        "reported_date": pd.to_datetime(["2026-07-01", "2026-07-10", "2026-08-01", "2026-04-01"]),
        "partner_id": ["P1", "P2", "P1", "P3"],
        "counterparty_id": ["P2", "P1", None, None],
        "conflict_type": ["price", "price", "territory", "price"],
        "resolved_date": pd.to_datetime(["2026-07-11", None, "2026-08-31", "2026-07-05"]),
    })
    out = retro.conflict_summary(c, quarter="2026Q3")
    q3 = out["by_type"].set_index(["quarter", "conflict_type"]).loc["2026Q3"]
    assert q3.loc["price", "opened"] == 2 and q3.loc["price", "resolved"] == 2  # c1 and c4
    assert q3.loc["price", "open_at_end"] == 1  # c2
    assert q3.loc["price", "median_days_to_resolve"] == pytest.approx((10 + 95) / 2)
    assert q3.loc["territory", "median_days_to_resolve"] == pytest.approx(30)
    rep = out["repeat_parties"]
    assert rep[["party", "conflicts"]].values.tolist() == [["P1 / P2", 2]]


@pytest.mark.slow
def test_cli_retro_writes_kpi_table(demo_db: Path, tmp_path: Path) -> None:
    from workbench.cli import main

    out = tmp_path / "retro.csv"
    assert main(["retro", "--quarter", "2026Q3", "--out", str(out), "--db", str(demo_db)]) == 0
    k = pd.read_csv(out)
    assert {"dimension", "group", "kpi", "quarter", "value", "qoq_pct", "yoy_pct", "attainment"} <= set(k.columns)
    assert sorted(k["quarter"].unique()) == ["2025Q4", "2026Q1", "2026Q2", "2026Q3"]
    assert set(k["dimension"]) == {"overall", "region", "tier"}
    assert {"core", "growth", "pilot"} <= set(k.loc[k["dimension"] == "tier", "group"])
    ms = k[k["kpi"] == "monthly_sales_cny"].pivot_table(index="quarter", columns="dimension", values="value",
                                                         aggfunc="sum")
    np.testing.assert_allclose(ms["overall"], ms["region"], rtol=1e-9)  # regions add up to the network
    np.testing.assert_allclose(ms["overall"], ms["tier"], rtol=1e-9)  # so do tiers (incl. unassigned)
    o = k[(k["dimension"] == "overall") & (k["kpi"] == "monthly_sales_cny")].set_index("quarter")["value"]
    q3 = k[(k["dimension"] == "overall") & (k["kpi"] == "monthly_sales_cny") & (k["quarter"] == "2026Q3")]
    assert q3["qoq_pct"].iloc[0] == pytest.approx(o["2026Q3"] / o["2026Q2"] - 1)
    actions = k[k["kpi"].str.startswith("actions_") & (k["dimension"] == "overall")]
    assert actions["value"].sum() > 0
    # the overall rows (assembled from the regions) equal the feature layer's network-wide KPIs
    from workbench import features, store

    ref = features.quarter_kpis(store.connect(demo_db, read_only=True), quarter="2026Q3").iloc[0]
    overall = k[(k["dimension"] == "overall") & (k["quarter"] == "2026Q3")].set_index("kpi")["value"]
    shared = [c for c in overall.index if c in ref.index]
    assert len(shared) >= 14
    for c in shared:
        assert overall[c] == pytest.approx(float(ref[c]), rel=1e-9, nan_ok=True), c


def test_rebate_kpis_are_the_audit_totals_never_netted(realstore, tmp_path: Path) -> None:
    """A hand-built ledger (2 % flat program) with an overpayment, an underpayment, a misstated due and an unpaid
    overdue row: the KPI table's rebate rows for 2026Q2 equal the audit's separate totals, not the netted balance."""
    import shutil

    from workbench import rebates, store
    from workbench.ingest import ingest_frame

    db = tmp_path / "ledger.duckdb"
    shutil.copy(realstore("orders_only"), db)  # 60 partners, orders to 2026-09-30, no ledger
    programs = tmp_path / "programs"
    programs.mkdir()
    (programs / "flat.yaml").write_text("name: flat2\nvolume_rebate:\n  tiers:\n    - {threshold: 0, rate_pct: 2.0}\n",
                                        encoding="utf-8")
    con = store.connect(db)
    sales = con.raw_sql("SELECT partner_id, sum(net_amount)::DOUBLE AS s FROM orders WHERE order_date "
                        "BETWEEN DATE '2026-04-01' AND DATE '2026-06-30' GROUP BY 1 ORDER BY s DESC LIMIT 4").df()
    due = {p: round(0.02 * s, 2) for p, s in zip(sales["partner_id"], sales["s"], strict=True)}
    a, b, c, d = due
    # partner, ledger due, paid (NaN: nothing): A overpaid 500, B underpaid 400, C's due misstated 400 low and paid
    # as stated (so 400 short), D nothing paid 92 days after the payment date (2026-08-14)
    rows = [(a, due[a], due[a] + 500), (b, due[b], due[b] - 400), (c, due[c] - 400, due[c] - 400), (d, due[d], np.nan)]
    ledger = pd.DataFrame({"incentive_id": [f"I{i}" for i in range(4)], "partner_id": [r[0] for r in rows],
                           "program": "flat2", "period_start": pd.Timestamp("2026-04-01"),
                           "period_end": pd.Timestamp("2026-06-30"), "amount_due": [r[1] for r in rows],
                           "amount_paid": [r[2] for r in rows],
                           "paid_date": [pd.Timestamp("2026-07-20")] * 3 + [pd.NaT]})
    assert ingest_frame(con, "incentives", ledger, source="test:ledger").rows_quarantined == 0
    k = retro.kpi_table(con, quarter="2026Q3", programs_dir=programs, by_tier=False)
    got = k[(k["dimension"] == "overall") & (k["quarter"] == "2026Q2")].set_index("kpi")["value"]
    audit = rebates.audit_store(con, quarter="2026Q2", programs_dir=programs)
    assert audit.set_index("partner_id")["status"].to_dict() == {
        a: "overpaid", b: "underpaid", c: "due_misstated", d: "unpaid_overdue"}
    expected = {"rebate_underpaid_cny": 400 + 400 + due[d], "rebate_unpaid_overdue_cny": due[d],
                "rebate_overpaid_cny": 500.0, "rebate_misstated_cny": 400.0, "rebate_pending_cny": 0.0}
    for kpi, value in expected.items():
        assert got[kpi] == pytest.approx(value, abs=0.01), kpi
        assert got[kpi] == pytest.approx(rebates.shortfall_kpis(audit)[kpi], abs=0.01), kpi
    netted = ledger["amount_due"].sum() - ledger["amount_paid"].fillna(0).sum()  # the old KPI: due − paid
    assert netted == pytest.approx(due[d] - 500 + 400, abs=0.01)
    assert not [x for x, v in got.items() if x.startswith("rebate") and abs(v - netted) < 1]
    assert "rebate_shortfall_cny" not in set(k["kpi"])
    # regions add up to the whole company; the quarter with no ledger row shows 0, not "–"
    reg = k[(k["dimension"] == "region") & (k["quarter"] == "2026Q2") & (k["kpi"] == "rebate_overpaid_cny")]
    assert reg["value"].sum() == pytest.approx(500.0)
    assert got.name == "value" and k[(k["dimension"] == "overall") & (k["quarter"] == "2026Q1")
                                      & (k["kpi"] == "rebate_underpaid_cny")]["value"].iloc[0] == 0.0
    # the finding states the same figures apart, in English and Chinese
    from workbench.present import retro as words

    facts = [f for f in retro.finding_facts(k, quarter="2026Q3") if f.code == "rebates"]
    assert facts and facts[0].values["quarter"] == "2026Q2"
    assert facts[0].values["overpaid"] == pytest.approx(500.0) and facts[0].values["misstated"] == pytest.approx(400.0)
    en, zh = (words.sentences(facts, lang) for lang in ("en", "zh"))
    assert "overpaid" in en[0] and "never netted" in en[0] and "不相互抵消" in zh[0]
    con.disconnect()
