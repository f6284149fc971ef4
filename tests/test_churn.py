"""Tests for workbench.churn: BG/NBD on CDNOW, leakage, backtest vs the planted truth, risk list, CLI."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import churn

# Fader, Hardie & Lee (2005), table in section 4; full-precision MLE in tests/data/cdnow/README.md
PAPER = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PAPER_LL = -9582.4


def _check_cdnow(fit: churn.BetaGeoFitter) -> None:
    for k, v in PAPER.items():
        assert fit.params_[k] == pytest.approx(v, abs=1.5e-3), k
    assert fit.log_likelihood_ == pytest.approx(PAPER_LL, abs=0.1)


def test_bgnbd_reproduces_cdnow_from_summary(shared_data: Path) -> None:
    s = pd.read_csv(shared_data / "cdnow" / "cdnow_customers_summary.csv")
    assert len(s) == 2357
    fit = churn.BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    _check_cdnow(fit)
    assert list(fit.summary_.index) == ["r", "alpha", "a", "b"]
    assert (fit.summary_["se(coef)"] > 0).all()
    assert "2,357 customers" in repr(fit)


def test_bgnbd_reproduces_cdnow_from_transactions(shared_data: Path) -> None:
    tx = pd.read_csv(
        shared_data / "cdnow" / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "dollars"],
        dtype={"date": str},
    )
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    summ = churn.cdnow_summary(tx, calibration_end=date(1997, 9, 30))
    assert len(summ) == 2357
    ref = pd.read_csv(shared_data / "cdnow" / "cdnow_customers_summary.csv")
    assert summ["frequency"].sum() == ref["frequency"].sum() == 2457  # repeat purchase days
    np.testing.assert_allclose(summ["T"].to_numpy(), ref["T"].to_numpy(), atol=0.006)
    np.testing.assert_allclose(summ["recency"].to_numpy(), ref["recency"].to_numpy(), atol=0.006)
    fit = churn.BetaGeoFitter().fit(summ["frequency"], summ["recency"], summ["T"])
    _check_cdnow(fit)
    # P(alive): one-time buyers are alive; a frequent buyer long silent is probably not
    p = fit.conditional_probability_alive([0, 10, 10], [0.0, 38.0, 5.0], [38.0, 38.0, 38.0])
    assert p[0] == 1.0 and p[1] > 0.9 and p[2] < 0.05


# ------------------------------------------------------------------------------------------------
# Backtest on the synthetic network (demo_db: 400 partners, 36 months, seed 7)
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_con(demo_db: Path):
    from workbench import store

    return store.connect(demo_db, read_only=True)


@pytest.fixture(scope="module")
def demo_frames(demo_con) -> dict:
    cuts = churn.default_cutoffs(demo_con, horizon_days=90)
    return churn.cutoff_frames(demo_con, cuts, horizon_days=90)


@pytest.fixture(scope="module")
def demo_bt(demo_frames) -> churn.Backtest:
    return churn.run_backtest(demo_frames, horizon_days=90, n_scored=6, seed=0)


def test_plan_trains_only_on_cutoffs_observable_at_the_scored_cutoff() -> None:
    cuts = churn.quarterly_cutoffs(first=date(2024, 1, 1), last=date(2026, 6, 30))
    assert cuts[0] == date(2024, 3, 31) and cuts[-1] == date(2026, 6, 30) and len(cuts) == 10
    for h in (30, 90, 120, 200):
        plan = churn.backtest_plan(cuts, horizon_days=h, n_scored=6)
        assert len(plan) == 6 and plan["scored_cutoff"].is_monotonic_increasing
        for s, train in zip(plan["scored_cutoff"], plan["train_cutoffs"], strict=True):
            assert train and all(t + timedelta(days=h) <= s for t in train)
    # 90-day horizon: the quarter just before is already observable (Dec 31 + 90 d = Mar 31)
    plan = churn.backtest_plan(cuts, horizon_days=90)
    assert plan["train_cutoffs"].iloc[-1][-1] == date(2026, 3, 31)
    # 120 days: it is not
    plan = churn.backtest_plan(cuts, horizon_days=120)
    assert plan["train_cutoffs"].iloc[-1][-1] == date(2025, 12, 31)


def test_no_leakage_future_rows_do_not_change_scores(demo_db: Path, tmp_path: Path) -> None:
    """Scores at cutoff s are identical after every row dated after s is altered or deleted."""
    import shutil

    from workbench import store

    s = date(2025, 12, 31)
    copy = tmp_path / "altered.duckdb"
    shutil.copy(demo_db, copy)
    raw = store.raw_connection(store.connect(copy))
    raw.execute("DELETE FROM orders WHERE order_date > ?", [s])
    raw.execute("UPDATE surveys SET satisfaction = 0 WHERE survey_date > ?", [s])
    raw.execute("DELETE FROM conflicts WHERE reported_date > ?", [s])
    raw.execute("UPDATE conflicts SET resolved_date = NULL WHERE resolved_date > ?", [s])
    raw.execute("UPDATE incentives SET amount_paid = 0 WHERE paid_date > ?", [s])
    raw.execute("DELETE FROM trainings WHERE training_date > ?", [s])
    raw.close()

    def scores(db: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
        con = store.connect(db, read_only=True)
        cuts = churn.quarterly_cutoffs(first=date(2025, 6, 30), last=s)
        frames = churn.cutoff_frames(con, cuts, horizon_days=90)
        bt = churn.run_backtest(frames, horizon_days=90, n_scored=1, seed=0)
        feats = frames[s][["partner_id", *churn.DRIVER_FEATURES]]
        return bt.predictions.sort_values(["model", "partner_id"]).reset_index(drop=True), feats

    (before, f_before), (after, f_after) = scores(demo_db), scores(copy)
    assert set(before["cutoff"]) == {pd.Timestamp(s)}
    pd.testing.assert_frame_equal(f_before, f_after)
    pd.testing.assert_series_equal(before["score"], after["score"], check_exact=False, rtol=1e-9)
    # the alteration did reach the labels, so the test can bite
    assert after["churned"].all() and not before["churned"].all()


def test_all_cutoffs_at_once_equal_one_cutoff_at_a_time_and_a_pandas_recount(demo_con, demo_frames) -> None:
    """cutoff_frames builds every cutoff in one query per table (facts range-joined to the cutoffs):
    each frame equals the cutoff computed alone, and key drivers, snapshot columns and labels equal
    a plain pandas recount from the raw orders, so rows cannot leak between cutoffs."""
    cuts = list(demo_frames)
    assert len(cuts) >= 8
    east = churn.cutoff_frames(demo_con, cuts[::-1] + cuts[:1], region="East")  # any order, repeats collapse
    assert list(east) == cuts[::-1]
    for c in cuts:
        pd.testing.assert_frame_equal(demo_frames[c], churn.cutoff_frame(demo_con, as_of=c), check_exact=False, rtol=1e-9)
        pd.testing.assert_frame_equal(east[c], churn.cutoff_frame(demo_con, as_of=c, region="East"),
                                      check_exact=False, rtol=1e-9)
        assert set(east[c]["region"]) == {"East"}

    o = demo_con.table("orders").to_pandas()
    o["order_date"] = pd.to_datetime(o["order_date"])
    o["amount"] = o["net_amount"].astype(float)
    order_days = o.loc[~o["is_return"].fillna(False).astype(bool) & (o["amount"] >= 0), ["partner_id", "order_date"]]
    order_days = order_days.drop_duplicates().sort_values(["partner_id", "order_date"])
    p = demo_con.table("partners").to_pandas().set_index("partner_id")
    onboard, exit_ = pd.to_datetime(p["onboard_date"]), pd.to_datetime(p["exit_date"])
    day = pd.Timedelta(days=1)
    for c in cuts:
        ts = pd.Timestamp(c)
        past = order_days[order_days["order_date"] <= ts]
        g = past.groupby("partner_id")["order_date"]
        last = g.max()
        alive = onboard.le(ts) & (exit_.isna() | exit_.gt(ts))
        pop = sorted(set(last.index[last > ts - 180 * day]) & set(alive.index[alive]))
        f = demo_frames[c].set_index("partner_id")
        assert list(f.index) == pop, c
        gaps = past.assign(gap=g.diff().dt.days).groupby("partner_id")["gap"].median()

        def sales(days: int, ts: pd.Timestamp = ts) -> pd.Series:
            return o[(o["order_date"] > ts - days * day) & (o["order_date"] <= ts)].groupby("partner_id")["amount"].sum()

        after = order_days[(order_days["order_date"] > ts) & (order_days["order_date"] <= ts + 90 * day)]
        want = pd.DataFrame({
            "recency_days": (ts - last).dt.days.astype(float),
            "n_order_days": g.size().astype(float),
            "median_gap_days": gaps,
            "order_days_90d": past[past["order_date"] > ts - 90 * day].groupby("partner_id").size().astype(float),
            "sales_90d_cny": sales(90),
            "snap_net_sales_180d_cny": sales(180),
            "snap_orders_365d": past[past["order_date"] > ts - 365 * day].groupby("partner_id").size().astype(float),
        }).reindex(pop)
        want["churned"] = ~want.index.isin(after["partner_id"])
        for col in ("order_days_90d", "sales_90d_cny", "snap_net_sales_180d_cny", "snap_orders_365d"):
            want[col] = want[col].fillna(0.0)
        got = f[list(want.columns)]
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, check_names=False, obj=str(c))
    assert 0 < np.mean([demo_frames[c]["churned"].mean() for c in cuts]) < 0.5


def _oracle_auc(con, predictions: pd.DataFrame) -> pd.DataFrame:
    """Per cutoff: AUC of the winner and of the generator's true churn probability on the same partners.

    Partners already churned in truth (absent from true_churn_probability: not alive in the cutoff's
    month) cannot order again, so their true probability is 1.
    """
    from sklearn.metrics import roc_auc_score

    from workbench import synth

    tpm = con.table("partner_month", database="truth").to_pandas()
    rows = []
    for c, g in predictions.groupby("cutoff"):
        o = synth.true_churn_probability(tpm, as_of=c, horizon_days=90)
        m = g.merge(o, on="partner_id", how="left")
        m["p_churn"] = m["p_churn"].fillna(1.0)
        rows.append({"cutoff": c, "model": roc_auc_score(m["churned"], m["score"]),
                     "oracle": roc_auc_score(m["churned"], m["p_churn"])})
    return pd.DataFrame(rows)


def test_backtest_close_to_oracle_and_beats_every_baseline(demo_con, demo_bt: churn.Backtest) -> None:
    bt = demo_bt
    assert len(bt.plan) == 6
    assert set(bt.metrics["model"]) == {*churn.CANDIDATES, *churn.BASELINES}
    assert bt.winner in churn.CANDIDATES
    s = bt.summary.set_index("model")
    for b in churn.BASELINES:
        assert s.loc[bt.winner, "roc_auc"] > s.loc[b, "roc_auc"], b
    win = bt.predictions[bt.predictions["model"] == bt.winner]
    auc = _oracle_auc(demo_con, win)
    assert auc["model"].mean() == pytest.approx(s.loc[bt.winner, "roc_auc"])
    assert auc["model"].mean() >= 0.95 * auc["oracle"].mean(), auc
    # metrics are sane: probabilities calibrated to the base rate, top decile enriched
    assert s.loc[bt.winner, "brier"] < s.loc[bt.winner, "churn_rate"] * (1 - s.loc[bt.winner, "churn_rate"])
    assert s.loc[bt.winner, "top10_capture"] > 0.3
    assert "wins the backtest" in bt.describe()
    odds = bt.odds.set_index("feature")
    assert odds.loc["recency_days", "odds_ratio_per_sd"] > 1.5  # silence is the first churn signal


def test_metric_helpers_by_hand() -> None:
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    sc = np.array([0.9, 0.8, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.0])
    assert churn.top_capture(y, sc, 0.10) == 0.5  # top 1 of 10 holds 1 of 2 churners
    assert churn.top_capture(y, sc, 0.30) == 1.0
    preds = pd.DataFrame({"cutoff": pd.Timestamp("2025-03-31"), "partner_id": list("abcdefghij"),
                          "churned": y, "model": "logit", "score": sc})
    m = churn.metrics_table(preds).iloc[0]
    assert m["roc_auc"] == pytest.approx(1 - 1 / 16)  # one discordant pair (b above c) of 2 x 8
    assert m["brier"] == pytest.approx(np.mean((sc - y) ** 2))
    cal = churn.calibration_table(preds, model="logit", bins=2)
    assert cal["n"].tolist() == [5, 5] and cal["observed"].tolist() == [0.0, 0.4]


# ------------------------------------------------------------------------------------------------
# Reasons, actions, risk list, CLI, survival
# ------------------------------------------------------------------------------------------------


def test_reasons_in_plain_words_with_one_action_each() -> None:
    frame = pd.DataFrame({
        "partner_id": ["A", "B", "C"],
        "sales_90d_cny": [5500.0, 10000.0, 10000.0],
        "sales_prev_90d_cny": [10000.0, 10000.0, 10000.0],
        "sales_change_pct": [-45.0, 0.0, 0.0],
        "median_gap_days": [30.0, 30.0, 30.0],
        "recency_days": [64.0, 10.0, 10.0],
        "cycle_ratio": [64 / 30, 10 / 30, 10 / 30],
        "rebate_overdue_cny": [32000.0, 0.0, 0.0],
        "sat_last": [70.0, 55.0, 80.0],
        "sat_change": [-12.0, 0.0, 1.0],
        "open_conflicts": [0.0, 2.0, 0.0],
        "trainings_365d": [0.0, 1.0, 1.0],
    })
    r = churn.reasons_table(frame).set_index("partner_id")
    a = r.loc["A", "reasons"].split("; ")
    assert a == [
        "orders down 45% vs the previous 90 days",
        "no order for 64 days, 2.1× its usual 30-day cycle",
        "¥32,000 of rebates unpaid",
    ]
    assert r.loc["A", "action"].split("; ")[2] == "settle the rebate"
    assert r.loc["B", "reasons"] == "satisfaction low at 55/100; 2 open channel conflicts"
    assert r.loc["B", "action"] == "account review with the owner: agree a fix list; resolve the conflict"
    assert r.loc["C", "reasons"] == "" and r.loc["C", "action"] == "keep the regular contact rhythm"
    zh = churn.reasons_table(frame, lang="zh").set_index("partner_id")
    assert "尽快结清返利" in zh.loc["A", "action"]


def test_actions_config_errors_are_one_sentence(tmp_path: Path) -> None:
    from workbench.errors import ConfigError

    bad = tmp_path / "a.yaml"
    bad.write_text("reasons:\n  overdue:\n    feature: cycle_ratio\n    acton: call\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown field 'acton'"):
        churn.load_actions(bad)


def test_risk_list_ranks_true_churners_first(demo_con, demo_frames, demo_bt) -> None:
    as_of = date(2026, 6, 30)
    frames = {k: v for k, v in demo_frames.items() if k < as_of}
    scorer = churn.fit_scorer(demo_con, as_of=as_of, frames=frames, bt=demo_bt)
    assert scorer.model == demo_bt.winner and max(scorer.trained_on) == date(2026, 3, 31)
    risk = churn.risk_list(demo_con, as_of=as_of, horizon_days=90, scorer=scorer)
    assert list(risk.columns) == churn.RISK_COLUMNS
    assert risk["partner_id"].is_unique and risk["risk"].is_monotonic_decreasing
    assert risk["risk"].between(0, 1).all() and (risk["sales_at_risk"] >= 0).all()
    assert set(risk["tier"].dropna()) <= {"core", "growth", "pilot"} and risk["tier"].notna().all()
    top = risk.head(max(10, len(risk) // 10))
    assert (top["reasons"] != "").mean() > 0.8
    # against the glossary labels observed afterwards: the top decile is enriched in churners
    lab = churn.cutoff_frame(demo_con, as_of=as_of, horizon_days=90)[["partner_id", "churned"]]
    m = risk.merge(lab, on="partner_id")
    assert len(m) == len(risk)
    assert m.head(len(top))["churned"].mean() > 2 * m["churned"].mean()
    east = churn.risk_list(demo_con, as_of=as_of, region="East", scorer=scorer)
    assert set(east["region"]) == {"East"}


def test_survival_curves_by_tier_and_region(demo_con) -> None:
    d = churn.churn_durations(demo_con, as_of=date(2026, 9, 30))
    assert d["churned"].any() and (~d["churned"]).any() and (d["duration_days"] >= 0).all()
    km = churn.survival_curves(d, by="region")
    for _g, c in km.groupby("group"):
        assert c["survival"].iloc[0] == 1.0 and c["survival"].is_monotonic_decreasing
        assert c["survival"].between(0, 1).all()
    # statsmodels agrees with a hand-computed KM on a tiny sample: times 1,2,2,3 (event 1,1,0,1)
    tiny = pd.DataFrame({"g": "x", "duration_days": np.array([1, 2, 2, 3]) * 30.4375, "churned": [1, 1, 0, 1]})
    k = churn.survival_curves(tiny, by="g", min_n=1)
    assert k["survival"].tolist() == pytest.approx([1.0, 0.75, 0.5, 0.0])
    assert k["months"].tolist() == pytest.approx([0.0, 1.0, 2.0, 3.0])


def test_cli_churn_writes_csv_and_xlsx(demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.cli import main

    cols = ["partner_id", "name", "region", "tier", "risk", "sales_at_risk", "reasons", "action"]
    out = tmp_path / "risk.csv"
    assert main(["churn", "--as-of", "2026-09-30", "--horizon-days", "90", "--out", str(out), "--db", str(demo_db)]) == 0
    csv = pd.read_csv(out, encoding="utf-8")
    assert list(csv.columns) == cols and len(csv) > 100 and csv["risk"].is_monotonic_decreasing
    # the same table as Excel (scoring reused, so the test stays fast)
    monkeypatch.setattr(churn, "risk_list", lambda con, **kw: csv)
    xlsx = tmp_path / "risk.xlsx"
    assert main(["churn", "--as-of", "2026-09-30", "--out", str(xlsx), "--db", str(demo_db)]) == 0
    back = pd.read_excel(xlsx)
    assert list(back.columns) == cols and back["partner_id"].tolist() == csv["partner_id"].tolist()


def test_widgets_and_charts_render_from_backtest(demo_bt: churn.Backtest) -> None:
    from workbench import charts
    from workbench.widgets.churn import partner_drilldown, threshold_explorer, threshold_summary

    risk = pd.DataFrame({"partner_id": ["A", "B", "C", "D"], "name": ["<b>x</b>", "b", "c", "d"],
                         "region": "East", "tier": "core", "risk": [0.9, 0.6, 0.3, 0.1],
                         "sales_at_risk": [900.0, 600.0, 300.0, 100.0], "reasons": "", "action": ""})
    s = threshold_summary(risk, 0.5)
    assert s["partners_flagged"] == 2 and s["sales_at_risk_cny"] == 1500.0
    box = threshold_explorer(risk, predictions=demo_bt.predictions, model=demo_bt.winner, threshold=0.5)
    assert "&lt;b&gt;x&lt;/b&gt;" in box.children[2].value and "<b>x</b>" not in box.children[2].value
    box.children[0].value = 0.95
    assert ": 0 (0%)" in box.children[1].value
    detail = risk.assign(recency_days=10.0, sat_last=70.0)
    dd = partner_drilldown(detail)
    assert "90%" in dd.children[1].value
    specs = [
        charts.chart_roc(churn.roc_points(demo_bt.predictions)),
        charts.chart_calibration(churn.calibration_table(demo_bt.predictions, model=demo_bt.winner)),
        charts.chart_lift(churn.gains_table(demo_bt.predictions)),
        charts.chart_risk_threshold(churn.threshold_table(risk, demo_bt.predictions, model=demo_bt.winner)),
    ]
    for c in specs:
        d = c.to_dict()
        assert "datasets" in d and all(len(v) <= 5000 for v in d["datasets"].values())
    th = specs[-1].to_dict()
    assert "risk_threshold" in str(th["params"]) and "bind" in str(th["params"])


@pytest.mark.slow
def test_notebook_runs_under_papermill(demo_db: Path, tmp_path: Path) -> None:
    import papermill as pm

    from workbench.reports import register_engine

    nb = Path(__file__).resolve().parents[1] / "notebooks" / "03_churn_risk.ipynb"
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(nb), str(out), parameters={"db": str(demo_db), "quarter": "2026Q3", "region": "East",
                                                        "lang": "zh"}, kernel_name="python3", cwd=str(nb.parent),
                        progress_bar=False, engine_name=register_engine(), execution_timeout=600)
    text = out.read_text(encoding="utf-8")
    assert "流失风险" in text and "回测胜出" in text
    assert "contact_phone" not in text and "contact_name" not in text
    assert "<img src=x" not in text  # partner names are escaped


def test_a_baseline_winner_scores_calibrated_probabilities(demo_con, demo_frames, demo_bt) -> None:
    """If a rule wins (small regions can go that way), risk is still a probability, not a rank."""
    import dataclasses

    as_of = date(2026, 6, 30)
    frames = {k: v for k, v in demo_frames.items() if k < as_of}
    bt = dataclasses.replace(demo_bt, winner="recency_rule")
    scorer = churn.fit_scorer(demo_con, as_of=as_of, frames=frames, bt=bt)
    test = demo_frames[as_of]
    p = scorer.predict(test)
    assert np.all((p >= 0) & (p <= 1))
    order = np.argsort(test["recency_days"].to_numpy())
    assert np.all(np.diff(p[order]) >= -1e-12)  # monotone in days since the last order
    assert p.mean() == pytest.approx(test["churned"].mean(), abs=0.06)


def test_reasons_in_chinese_and_readable_odds(demo_bt: churn.Backtest) -> None:
    frame = pd.DataFrame({
        "partner_id": ["A"], "sales_90d_cny": [5500.0], "sales_prev_90d_cny": [10000.0],
        "sales_change_pct": [-45.0], "median_gap_days": [30.0], "recency_days": [64.0], "cycle_ratio": [64 / 30],
        "rebate_overdue_cny": [32000.0], "sat_last": [70.0], "sat_change": [-12.0], "open_conflicts": [0.0],
        "trainings_365d": [1.0],
    })
    zh = churn.reasons_table(frame, lang="zh").iloc[0]
    assert zh["reasons"] == "订货额比前90天下降 45%; 已 64 天未下单，是其通常 30 天订货周期的 2.1 倍; ¥32,000 返利未付"
    odds = churn.odds_table(demo_bt, lang="zh")
    assert "距上次下单天数" in set(odds["feature"]) and not odds["feature"].str.startswith("snap_").any()


def test_tiny_region_with_few_churners_still_runs(demo_con) -> None:
    """Northwest holds ~12 partners; some cut-offs have no churner at all."""
    cuts = churn.default_cutoffs(demo_con, as_of=date(2026, 9, 30), region="Northwest")
    frames = churn.cutoff_frames(demo_con, cuts, region="Northwest")
    bt = churn.run_backtest(frames)
    assert bt.winner in {*churn.CANDIDATES, *churn.BASELINES} and len(bt.plan) == 6
    scorer = churn.fit_scorer(demo_con, as_of=date(2026, 9, 30), region="Northwest", frames=frames, bt=bt)
    risk = churn.risk_list(demo_con, as_of=date(2026, 9, 30), region="Northwest", scorer=scorer)
    assert set(risk["region"]) == {"Northwest"} and risk["risk"].between(0, 1).all()
    ones = churn._fit_candidate("gbm", pd.DataFrame({"x": [1.0, 2.0, 3.0]}), np.zeros(3, int), seed=0)
    assert churn._predict(ones, pd.DataFrame({"x": [5.0]})).tolist() == [0.0]
