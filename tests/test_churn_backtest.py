"""workbench.churn.backtest: the rolling-origin plan, the backtest vs the planted truth, metrics by hand."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from workbench import churn
from workbench.churn import models
from workbench.present import churn as present_churn


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
    assert "wins the backtest" in present_churn.backtest_sentence(bt)
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


def test_tiny_region_with_few_churners_still_runs(demo_con) -> None:
    """Northwest holds ~12 partners; some cut-offs have no churner at all."""
    cuts = churn.default_cutoffs(demo_con, as_of=date(2026, 9, 30), region="Northwest")
    frames = churn.cutoff_frames(demo_con, cuts, region="Northwest")
    bt = churn.run_backtest(frames)
    assert bt.winner in {*churn.CANDIDATES, *churn.BASELINES} and len(bt.plan) == 6
    scorer = churn.fit_scorer(demo_con, as_of=date(2026, 9, 30), region="Northwest", frames=frames, bt=bt)
    risk = churn.risk_list(demo_con, as_of=date(2026, 9, 30), region="Northwest", scorer=scorer)
    assert set(risk["region"]) == {"Northwest"} and risk["risk"].between(0, 1).all()
    ones = models._fit_candidate("gbm", pd.DataFrame({"x": [1.0, 2.0, 3.0]}), np.zeros(3, int), seed=0)
    assert models._predict(ones, pd.DataFrame({"x": [5.0]})).tolist() == [0.0]


def test_truth_check_among_partners_alive_in_truth(demo_con, demo_frames, demo_bt: churn.Backtest) -> None:
    """Judged only on partners alive in truth at the cut-off (the already-dead are easy), against the
    generator's truth: the true probability of stopping within the horizon and whether the partner
    did stop. The label (no order in the horizon) sees only the stops early in the horizon, so the
    true stop rate exceeds the label rate; the truth is informative (its AUC on the true stops well
    above 0.5); the winner ranks the true hazard better than the recency rule does; every probability
    model is reported with Brier and reliability, and the winner is calibrated to the label rate."""
    tpm = demo_con.table("partner_month", database="truth").to_pandas()
    oracle = churn.truth_oracle(tpm, demo_frames, horizon_days=90)
    tt = churn.truth_table(demo_bt.predictions, oracle).set_index("model")
    assert set(tt.index) == {*churn.CANDIDATES, *churn.BASELINES}
    assert tt["n"].nunique() == 1 and 500 < tt["n"].iloc[0] < len(demo_bt.predictions) / len(tt)
    assert tt["auc_oracle"].iloc[0] > 0.6 and tt["auc_truth_oracle"].iloc[0] > 0.6
    assert tt["died_rate"].iloc[0] > 1.5 * tt["label_rate"].iloc[0]
    for m in churn.PROBABILISTIC:
        assert tt.loc[m, ["brier", "brier_truth", "ece"]].notna().all(), m
    w, rec = tt.loc[demo_bt.winner], tt.loc["recency_rule"]
    assert w["spearman_truth"] > rec["spearman_truth"] and w["auc_truth"] > rec["auc_truth"], tt
    assert abs(w["mean_score"] - w["label_rate"]) < 0.03 and w["ece"] < 0.05
    # by hand on two partners: a perfect score has zero distance to the truth
    pred = pd.DataFrame({"cutoff": pd.Timestamp("2025-03-31"), "partner_id": ["a", "b"], "churned": [True, False],
                         "model": "logit", "score": [0.8, 0.1]})
    o = pd.DataFrame({"cutoff": pd.Timestamp("2025-03-31"), "partner_id": ["a", "b"], "p_true": [0.8, 0.1]})
    one = churn.truth_table(pred, o, bins=2).iloc[0]
    assert one["brier_truth"] == 0.0 and one["auc_label"] == 1.0 and one["spearman_truth"] == pytest.approx(1.0)


def test_truth_oracle_by_hand() -> None:
    """Three partners, four months: the hazard product over the horizon's months, who stopped, who is out."""
    months = pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01"])
    tpm = pd.DataFrame({
        "partner_id": ["a"] * 4 + ["b"] * 4 + ["c"] * 4, "month": list(months) * 3,
        "alive": [True] * 4 + [True, True, False, False] + [False, True, True, True],
        "hazard": [0.1] * 4 + [0.2] * 4 + [0.3] * 4,
    })
    o = churn.truth_oracle(tpm, [pd.Timestamp("2025-01-31").date()], horizon_days=90).set_index("partner_id")
    assert list(o.index) == ["a", "b"]  # c was not alive in the cut-off's month
    assert o.loc["a", "p_true"] == pytest.approx(1 - 0.9**3) and o.loc["b", "p_true"] == pytest.approx(1 - 0.8**3)
    assert not o.loc["a", "died"] and o.loc["b", "died"]


def test_value_backtest_against_trailing_sales_and_bgnbd_gg(demo_frames, demo_bt: churn.Backtest) -> None:
    """Expected sales in the horizon, judged out of time against what each partner then bought."""
    vals = churn.value_predictions(demo_frames, demo_bt)
    assert set(vals["method"]) == set(churn.VALUE_METHODS)
    vm = churn.value_metrics(vals)
    mean = vm.groupby("method")[["spearman", "top20_capture", "total_ratio"]].mean()
    assert (mean["spearman"] > 0.5).all() and (mean["top20_capture"] > 0.5).all()
    # BG/NBD × Gamma-Gamma gets the total right within 15%; the churn model ranks at least as well
    assert mean.loc["bgnbd_gg", "total_ratio"] == pytest.approx(1.0, abs=0.15)
    assert mean.loc["churn_model", "spearman"] >= mean.loc["bgnbd_gg", "spearman"] - 0.02
    # by hand: predicted = actual gives Spearman 1, capture = the top fifth's share, ratio 1
    df = pd.DataFrame({"cutoff": pd.Timestamp("2025-03-31"), "partner_id": list("abcde"), "method": "x",
                       "predicted": [5.0, 4.0, 3.0, 2.0, 1.0], "actual": [5.0, 4.0, 3.0, 2.0, 1.0]})
    r = churn.value_metrics(df).iloc[0]
    assert r["spearman"] == pytest.approx(1.0) and r["top20_capture"] == pytest.approx(5 / 15)
    assert r["total_ratio"] == pytest.approx(1.0)


def test_gains_table_without_any_churner_is_empty_not_an_error():
    import pandas as pd

    from workbench.churn import gains_table

    preds = pd.DataFrame({"model": ["logit", "logit"], "cutoff": ["2011-06-30", "2011-06-30"],
                          "churned": [False, False], "score": [0.2, 0.7]})
    out = gains_table(preds)
    assert out.empty and list(out.columns) == ["model", "share_flagged", "share_captured", "lift"]
