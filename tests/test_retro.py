"""Tests of workbench.retro: action effects against the synthetic network's planted truth, KPI
attainment and concentration on hand-written examples, config errors, forecast backtest, findings,
the CLI and the notebook."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import retro
from workbench.errors import ConfigError, WorkbenchError

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "05_quarterly_retrospective.ipynb"


# --------------------------------------------------------------------------------------------------
# estimator building blocks
# --------------------------------------------------------------------------------------------------

def test_within_transform_matches_dummy_regression() -> None:
    """Two-way FE by the exact within transform = OLS with explicit unit and time dummies (unbalanced)."""
    import statsmodels.api as sm

    rng = np.random.default_rng(0)
    n = 1500
    unit, time = rng.integers(0, 40, n), rng.integers(0, 12, n)
    x = rng.normal(size=(n, 2))
    y = x @ [0.5, -1.0] + rng.normal(size=40)[unit] + rng.normal(size=12)[time] + rng.normal(size=n)
    dummies = np.column_stack([pd.get_dummies(unit).to_numpy(float), pd.get_dummies(time).to_numpy(float)[:, 1:]])
    full = sm.OLS(y, np.column_stack([x, dummies])).fit()
    dm = retro._absorb(np.column_stack([y, x]), unit, time)
    beta = np.linalg.lstsq(dm[:, 1:], dm[:, 0], rcond=None)[0]
    np.testing.assert_allclose(beta, full.params[:2], rtol=1e-8)


def test_cluster_covariance_matches_statsmodels() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    g = rng.integers(0, 150, n)
    x = rng.normal(size=(n, 3))
    y = x @ [1.0, 2.0, 3.0] + rng.normal(size=150)[g] + rng.normal(size=n)
    b1, v1 = retro._cluster_ols(y, x, g)
    b2, v2 = retro._cluster_ols(y, x, g, engine="statsmodels")
    np.testing.assert_allclose(b1, b2, rtol=1e-10)
    np.testing.assert_allclose(v1, v2, rtol=1e-8)


def test_streaming_fit_equals_statsmodels_on_stacked_data() -> None:
    """One stack at a time (default) gives the numbers of statsmodels on the whole stacked data."""
    from workbench import synth

    net = synth.generate(partners=300, months=36, seed=11)
    panel = _panel_from_tables(net.tables["orders"])
    fast, es_fast = retro.action_effects(panel, net.tables["actions"])
    ref, es_ref = retro.action_effects(panel, net.tables["actions"], engine="statsmodels")
    assert len(fast) >= 5
    for col in ["effect_log", "se", "ci_low", "ci_high", "pretrend_p"]:
        np.testing.assert_allclose(fast[col], ref[col], rtol=1e-8, atol=1e-12)
    assert (fast["n_obs"] == ref["n_obs"]).all()
    np.testing.assert_allclose(es_fast[["coef", "se"]], es_ref[["coef", "se"]], rtol=1e-8, atol=1e-12)


# --------------------------------------------------------------------------------------------------
# action effects against planted truth
# --------------------------------------------------------------------------------------------------

def _panel_from_tables(orders: pd.DataFrame) -> pd.DataFrame:
    """Partner-month net sales straight from the generated orders (fast path for many seeds)."""
    month = pd.to_datetime(orders["order_date"]).dt.to_period("M").dt.to_timestamp()
    p = orders.assign(month=month, net_sales_cny=orders["net_amount"].astype(float))
    return p.groupby(["partner_id", "month"], as_index=False)["net_sales_cny"].sum()


SEEDS = range(10)
PARTNERS_PER_SEED = 800


@pytest.fixture(scope="module")
def seed_results() -> pd.DataFrame:
    from workbench import synth

    rows = []
    for seed in SEEDS:
        net = synth.generate(partners=PARTNERS_PER_SEED, months=36, seed=seed)
        panel = _panel_from_tables(net.tables["orders"])
        effects, es = retro.action_effects(panel, net.tables["actions"])
        naive = retro.naive_before_after(panel, net.tables["actions"])
        truth = net.truth["action_effects"].set_index("action_type")["effect_log"]
        e = effects.merge(naive, on="action_type")
        e["truth"] = e["action_type"].map(truth)
        e["seed"] = seed
        assert set(es["action_type"]) == set(effects["action_type"])
        rows.append(e)
    return pd.concat(rows, ignore_index=True)


def test_intervals_cover_planted_effects_in_9_of_10_seeds(seed_results: pd.DataFrame) -> None:
    """Family-wise 95% intervals (Bonferroni over the action types) cover every planted effect in at
    least 9 of 10 seeds; pointwise 95% intervals cover at least 85% of all (seed, type) effects."""
    r = seed_results
    assert set(r["action_type"]) == {"training", "marketing_automation", "incentive", "visit", "tiering",
                                     "communication"}
    joint = (r["ci_low_joint"] <= r["truth"]) & (r["truth"] <= r["ci_high_joint"])
    seeds_all_covered = int(joint.groupby(r["seed"]).all().sum())
    assert seeds_all_covered >= 9, r.loc[~joint, ["seed", "action_type", "truth", "effect_log", "ci_low_joint"]]
    pointwise = (r["ci_low"] <= r["truth"]) & (r["truth"] <= r["ci_high"])
    assert pointwise.mean() >= 0.85
    # the design is informative, not just wide: intervals narrower than the largest planted effect
    assert (r["ci_high"] - r["ci_low"]).median() < 0.2
    # pre-trend tests do not reject wholesale (the generator has no anticipation)
    assert (r["pretrend_p"] < 0.05).mean() < 0.2


def test_naive_before_after_differs_from_design(seed_results: pd.DataFrame) -> None:
    """The naive before/after is further from the truth than the DiD (seasonal timing, rate change)."""
    r = seed_results
    did_err = (r["effect_log"] - r["truth"]).abs().mean()
    naive_err = (r["naive_log"] - r["truth"]).abs().mean()
    assert naive_err > did_err * 1.2
    assert abs((r["naive_log"] - r["truth"]).mean()) > abs((r["effect_log"] - r["truth"]).mean())


def test_action_effects_handle_no_actions() -> None:
    panel = pd.DataFrame({"partner_id": ["a"] * 3, "month": pd.date_range("2026-01-01", periods=3, freq="MS"),
                          "net_sales_cny": [1.0, 2.0, 3.0]})
    actions = pd.DataFrame(columns=["partner_id", "action_date", "action_type"])
    effects, es = retro.action_effects(panel, actions)
    assert effects.empty and es.empty


# --------------------------------------------------------------------------------------------------
# targets and attainment
# --------------------------------------------------------------------------------------------------

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
        retro.parse_quarter("2026-Q7")


# --------------------------------------------------------------------------------------------------
# concentration, conflicts
# --------------------------------------------------------------------------------------------------

def test_concentration_hand_example() -> None:
    """Quarter 2026Q3 net sales: A 60, B 20, C 10, D 5, E 3, F 2 (total 100; G has a return only)."""
    sales = {"A": 60, "B": 20, "C": 10, "D": 5, "E": 3, "F": 2, "G": -4}
    panel = pd.DataFrame({
        "partner_id": list(sales), "month": pd.Timestamp("2026-08-01"),
        "net_sales_cny": [float(v) for v in sales.values()],
    })
    settings = retro.RetroSettings(top1_share_alert=0.5, top5_share_alert=0.99)
    conc = retro.concentration(panel, settings=settings)
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


# --------------------------------------------------------------------------------------------------
# seasonality and forecast
# --------------------------------------------------------------------------------------------------

def _seasonal_series(seed: int = 3, months: int = 36) -> pd.Series:
    rng = np.random.default_rng(seed)
    idx = pd.period_range("2023-10", periods=months, freq="M")
    season = np.array([1.0, 0.7, 1.0, 1.0, 1.0, 1.3, 1.0, 1.0, 1.0, 1.0, 1.5, 1.1])[idx.month - 1]
    level = 1e6 * np.exp(0.01 * np.arange(months) + np.cumsum(rng.normal(0, 0.02, months)))
    return pd.Series(level * season * np.exp(rng.normal(0, 0.03, months)), index=idx)


def test_forecast_has_intervals_and_backtest_reports_both_errors() -> None:
    s = _seasonal_series()
    fc = retro.forecast_sales(s, horizon=3)
    assert list(fc.columns) == ["month", "forecast", "lower", "upper"] and len(fc) == 3
    assert (fc["lower"] < fc["forecast"]).all() and (fc["forecast"] < fc["upper"]).all()
    assert fc["month"].iloc[0] == pd.Timestamp("2026-10-01")
    bt = retro.backtest_forecast(s, horizon=3, origins=4)
    assert list(bt["method"]) == ["model", "seasonal_naive"]
    assert np.isfinite(bt["mape"]).all() and np.isfinite(bt["rmse"]).all()
    assert (bt["n_forecasts"] == 12).all()
    # trend + noise: the seasonal ARIMA beats last year's value
    m = bt.set_index("method")["mape"]
    assert m["model"] < m["seasonal_naive"]
    stl = retro.stl_decompose(s)
    np.testing.assert_allclose(stl["trend"] + stl["seasonal"] + stl["resid"], stl["observed"], rtol=1e-9)


# --------------------------------------------------------------------------------------------------
# findings
# --------------------------------------------------------------------------------------------------

def _kpis_for_findings() -> pd.DataFrame:
    rows = []
    for kpi, value, qoq_change, qoq_pct, yoy_pct in [
        ("monthly_sales_cny", 6.1e6, 1.1e6, 0.22, 0.15),
        ("repeat_rate", 0.44, 0.06, np.nan, np.nan),
        ("active_partners", 210.0, -9.0, -0.041, -0.12),
    ]:
        rows.append({"dimension": "overall", "group": "all", "kpi": kpi, "quarter": "2026Q2", "value": value,
                     "qoq_change": qoq_change, "qoq_pct": qoq_pct, "yoy_change": np.nan, "yoy_pct": yoy_pct,
                     "target": np.nan, "attainment": np.nan})
    return pd.DataFrame(rows)


def test_findings_in_english_and_chinese() -> None:
    effects = pd.DataFrame({"action_type": ["training", "visit"], "effect_log": [0.10, 0.01],
                            "ci_low": [0.05, -0.04], "ci_high": [0.15, 0.06], "naive_log": [0.02, 0.03]})
    conc = pd.DataFrame({"period": ["2026Q2"], "top1_share": [0.82], "top5_share": [0.9],
                         "top1_alert": [True], "top5_alert": [True]})
    fc = pd.DataFrame({"month": pd.date_range("2026-07-01", periods=3, freq="MS"),
                       "forecast": [6e6] * 3, "lower": [5e6] * 3, "upper": [7e6] * 3})
    bt = pd.DataFrame({"method": ["model", "seasonal_naive"], "mape": [0.05, 0.12]})
    settings = retro.RetroSettings(top1_share_alert=0.8)
    args = dict(quarter="2026Q2", effects=effects, concentration_table=conc, forecast=fc, backtest=bt,
                settings=settings)
    en = retro.findings(_kpis_for_findings(), lang="en", **args)
    zh = retro.findings(_kpis_for_findings(), lang="zh", **args)
    assert 3 <= len(en) <= 6 and len(zh) == len(en)
    text = " ".join(en)
    assert "+22.0%" in text and "repeat rate rose 6.0 points" in text
    assert "Training" in text and "+11%" in text  # exp(0.10) − 1
    assert "Visit" not in text  # not significant
    assert "82.0%" in text and "threshold" in text
    assert "5.0%" in text and "12.0%" in text
    zh_text = " ".join(zh)
    assert re.search(r"[\u4e00-\u9fff]", zh_text)
    assert "返单率" in zh_text and "培训" in zh_text and "集中度预警" in zh_text and "610.0万元" in zh_text


# --------------------------------------------------------------------------------------------------
# store, CLI, notebook (demo store)
# --------------------------------------------------------------------------------------------------

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


@pytest.mark.slow
def test_notebook_runs_under_papermill(demo_db: Path, tmp_path: Path) -> None:
    import nbformat
    import papermill as pm

    from workbench.reports import register_engine

    out = tmp_path / "05.ipynb"
    pm.execute_notebook(str(NOTEBOOK), str(out), parameters={"db": str(demo_db), "quarter": "2026Q3",
                                                             "region": "East", "lang": "zh"},
                        kernel_name="python3", cwd=str(NOTEBOOK.parent), progress_bar=False,
                        engine_name=register_engine(), execution_timeout=600)
    nb = nbformat.read(out, as_version=4)
    texts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            assert o.get("output_type") != "error"
            texts.append(str(o.get("data", {}).get("text/markdown", "")))
            texts.append(str(o.get("data", {}).get("text/html", "")))
    html = "\n".join(texts)
    assert "主要发现" in html and "月销售额" in html and "达成率" in html
    # the East report names no partner of another region
    from workbench import store

    con = store.connect(demo_db, read_only=True)
    partners = con.table("partners").to_pandas()
    others = partners.loc[partners["region"] != "East", "partner_id"]
    assert not [p for p in others if p in html]


# --------------------------------------------------------------------------------------------------
# charts and widgets (on small hand-made frames)
# --------------------------------------------------------------------------------------------------

def _small_kpis() -> pd.DataFrame:
    rows = []
    for dim, grp in [("overall", "all"), ("region", "East"), ("region", "South"), ("tier", "core")]:
        for i, q in enumerate(["2025Q4", "2026Q1", "2026Q2", "2026Q3"]):
            for kpi, v in [("monthly_sales_cny", 100.0 + i), ("repeat_rate", 0.4 + i / 100)]:
                rows.append({"dimension": dim, "group": grp, "kpi": kpi, "quarter": q, "value": v,
                             "qoq_change": 1.0, "qoq_pct": 0.01, "yoy_change": 2.0, "yoy_pct": 0.02,
                             "target": np.nan, "attainment": np.nan})
    return pd.DataFrame(rows)


def test_charts_build_specs_with_bound_controls() -> None:
    import json

    from workbench import charts

    k = _small_kpis()
    spec = charts.chart_kpi_trend(k, lang="zh").to_dict()
    text = json.dumps(spec, ensure_ascii=False)
    assert "月销售额（元）" in text and '"bind"' in text and "华东" in text
    es = pd.DataFrame({"action_type": "training", "rel_month": [-2, -1, 0, 1], "coef": [0.0, 0.0, 0.1, 0.1],
                       "se": 0.02, "ci_low": [-0.04, 0.0, 0.06, 0.06], "ci_high": [0.04, 0.0, 0.14, 0.14]})
    assert '"bind"' in json.dumps(charts.chart_event_study(es).to_dict())
    eff = pd.DataFrame({"action_type": ["training"], "effect_log": [0.1], "ci_low": [0.05], "ci_high": [0.15],
                        "naive_log": [0.02], "naive_ci_low": [-0.05], "naive_ci_high": [0.09]})
    truth = pd.DataFrame({"action_type": ["training"], "effect_log": [0.1]})
    assert "培训" in json.dumps(charts.chart_action_effects(eff, lang="zh", truth=truth).to_dict(), ensure_ascii=False)
    conc = pd.DataFrame({"period": ["2026Q2", "2026Q3"], "top1_share": [0.2, 0.35], "top5_share": [0.5, 0.6],
                         "hhi": [0.05, 0.15]})
    charts.chart_concentration(conc, top1_alert=0.3, top5_alert=0.6).to_dict()
    s = _seasonal_series()
    charts.chart_stl(retro.stl_decompose(s)).to_dict()
    charts.chart_forecast(s, retro.forecast_sales(s)).to_dict()
    mig = pd.DataFrame({"tier_from": ["core", "core"], "tier_to": ["core", "gone"], "partners": [9, 1],
                        "share": [0.9, 0.1]})
    charts.chart_tier_migration(mig).to_dict()
    assert "retro" not in [c for c in charts.__all__ if not c.startswith("chart_")]


def test_kpi_widget_switches_region_and_tier() -> None:
    from workbench.widgets.retro import kpi_explorer

    box = kpi_explorer(_small_kpis(), lang="en")
    region, tier = box.children[0].children
    assert region.value == "" and tier.value == ""
    region.value = "East"
    tier.value = "core"
    assert region.value == "" and tier.value == "core"  # one filter at a time
    wide = retro.kpi_wide(_small_kpis(), dimension="tier", group="core", lang="zh")
    assert list(wide.index) == ["月销售额（元）", "返单率"] and "环比" in wide.columns
