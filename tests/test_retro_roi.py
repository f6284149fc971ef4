"""Tests of the retrospective's intervals and action economics: the fast wild cluster bootstrap against a
brute-force one, return on cost on a hand example, costs in config, and tier / repeated-action effects
against the planted truths of workbench.synth.actions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import retro
from workbench.errors import ConfigError
from workbench.retro import effects as E
from workbench.retro import roi as R


def test_wild_bootstrap_p_equals_brute_force_refits() -> None:
    """The per-cluster-sum WCR p-value equals refitting OLS with CRV1 on every bootstrap sample."""
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(30), rng.integers(3, 12, 30))
    x = rng.normal(size=g.size) + (g < 6) * 1.5  # few high-leverage clusters
    y = 0.3 * x + rng.normal(size=30)[g] + rng.normal(size=g.size)
    a, q = np.bincount(g, weights=x * y), np.bincount(g, weights=x * x)
    v = E._wild_draws(30, 199, seed=3)
    factor = 30 / 29
    for beta0 in (0.0, 0.3, 0.6):
        fast = E._wild_p(beta0, a, q, v, factor=factor)
        b_hat = (x @ y) / (x @ x)
        u = y - x * b_hat
        se = math.sqrt(factor * (np.bincount(g, weights=x * u) ** 2).sum()) / (x @ x)
        t = (b_hat - beta0) / se
        ur = y - x * beta0
        hits = 0
        for row in v:
            ys = x * beta0 + row[g] * ur
            bs = (x @ ys) / (x @ x)
            us = ys - x * bs
            ses = math.sqrt(factor * (np.bincount(g, weights=x * us) ** 2).sum()) / (x @ x)
            hits += abs((bs - beta0) / ses) >= abs(t)
        assert fast == pytest.approx(hits / len(v), abs=1e-12)


def test_roi_hand_example() -> None:
    """Two trainings (recorded cost 1,000 and none → default 3,000); sales 100/month for 12 months after."""
    months = pd.date_range("2025-01-01", periods=24, freq="MS")
    panel = pd.DataFrame({"partner_id": np.repeat(["a", "b"], 24), "month": np.tile(months, 2),
                          "net_sales_cny": 100.0})
    actions = pd.DataFrame({"partner_id": ["a", "b", "a"], "action_type": "training",
                            "action_date": pd.to_datetime(["2025-06-10", "2025-09-01", "2026-02-01"]),
                            "cost": [1000.0, np.nan, 500.0]})
    eff = pd.DataFrame({"action_type": ["training"], "effect_log": [0.1], "ci_low": [0.0], "ci_high": [0.2],
                        "n_treated": [2]})
    r = R.action_roi(panel, actions, eff, default_costs={"training": 3000.0}, horizon=12).iloc[0]
    # a: June 2025 – Dec 2026 holds 19 panel months, 12 counted; b: Sep 2025 – Dec 2026, 12 counted
    assert r["n_actions"] == 2 and r["sales_after"] == pytest.approx(2400.0)
    assert r["cost_total"] == pytest.approx(4000.0) and r["cost_source"] == "mixed"
    share = -math.expm1(-0.1 - (0.2 / (2 * 1.959964)) ** 2 / 2)  # the se²/2 term, se from the interval's width
    assert r["incremental_sales"] == pytest.approx(2400 * share)
    assert r["roi"] == pytest.approx(2400 * share / 4000)
    assert r["roi_low"] == pytest.approx(0.0) and r["roi_high"] == pytest.approx(2400 * (1 - math.exp(-0.2)) / 4000)
    rep = R.action_roi(panel, actions, eff, default_costs={"training": 3000.0}, kind="repeat").iloc[0]
    assert rep["n_actions"] == 1 and rep["cost_total"] == 500.0 and rep["cost_source"] == "recorded"
    assert R.nth_actions(actions, 2)["partner_id"].tolist() == ["a"]


def test_action_costs_in_config(tmp_path: Path) -> None:
    assert retro.load_settings().action_costs["training"] > 0
    bad = tmp_path / "retro.yaml"
    bad.write_text("action_costs: {visit: -5}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="action_costs: visit must be a cost of at least 0"):
        retro.load_settings(bad)
    from workbench.synth.actions import DEFAULT_COSTS

    assert retro.load_settings().action_costs == DEFAULT_COSTS  # the shipped defaults are the planted ones


@pytest.mark.slow
def test_tier_and_repeat_effects_recover_planted_truth() -> None:
    from workbench.synth.actions import action_world

    w = action_world(seed=1, partners=800, mode="easy")
    o = w.tables["orders"]
    panel = (o.assign(month=pd.to_datetime(o["order_date"]).dt.to_period("M").dt.to_timestamp())
             .groupby(["partner_id", "month"], as_index=False)["net_amount"].sum()
             .rename(columns={"net_amount": "net_sales_cny"}))
    a = w.tables["actions"]
    assert a["cost"].notna().all() and (a.groupby("partner_id").size() > 1).any()
    tiers = R.effects_by_tier(panel, a, w.tiers).merge(w.tier_effects, on=["action_type", "tier"],
                                                       suffixes=("", "_true"))
    assert len(tiers) >= 15
    covered = (tiers["ci_low"] <= tiers["effect_log_true"]) & (tiers["effect_log_true"] <= tiers["ci_high"])
    assert covered.mean() >= 0.8
    core = tiers[tiers["tier"] == "core"]["effect_log"].mean()
    pilot = tiers[tiers["tier"] == "pilot"]["effect_log"].mean()
    assert core > pilot  # planted: core 1.5x, pilot 0.5x the type's effect
    rep = R.repeat_effects(panel, a).merge(w.repeat_effects, on="action_type", suffixes=("", "_true"))
    assert len(rep) >= 4
    assert ((rep["ci_low"] <= rep["effect_log_true"]) & (rep["effect_log_true"] <= rep["ci_high"])).mean() >= 0.6


def test_incremental_share_is_unbiased_with_the_se_term() -> None:
    """1 − e^−b̂ under-states 1 − e^−b on average (concave); with −se²/2 in the exponent it does not."""
    rng = np.random.default_rng(5)
    b, se = 0.1, 0.25
    draws = b + se * rng.standard_normal(400_000)
    truth = -math.expm1(-b)
    plug_in = np.mean([R._added_share(x) for x in draws[:20_000]])
    corrected = float(np.mean(-np.expm1(-draws - se * se / 2)))
    assert R._added_share(0.1, 0.25) == pytest.approx(-math.expm1(-0.1 - 0.25 ** 2 / 2))
    assert R._added_share(0.1, float("nan")) == pytest.approx(truth)
    assert plug_in < truth - 0.02  # the bias the correction removes (0.03 here)
    assert corrected == pytest.approx(truth, abs=0.002)


def test_roi_point_estimate_uses_the_effect_se() -> None:
    months = pd.date_range("2025-01-01", periods=24, freq="MS")
    panel = pd.DataFrame({"partner_id": "a", "month": months, "net_sales_cny": 100.0})
    actions = pd.DataFrame({"partner_id": ["a"], "action_type": "visit", "action_date": pd.to_datetime(["2025-03-01"]),
                            "cost": [600.0]})
    eff = pd.DataFrame({"action_type": ["visit"], "effect_log": [0.1], "se": [0.2], "ci_low": [-0.3],
                        "ci_high": [0.5], "n_treated": [1]})
    r = R.action_roi(panel, actions, eff, default_costs={}).iloc[0]
    se = 0.8 / (2 * 1.959964)  # the interval's se (the wild interval's spread is the estimate's), not the column
    assert r["incremental_sales"] == pytest.approx(1200 * -math.expm1(-0.1 - se * se / 2))
    assert r["roi_low"] == pytest.approx(1200 * -math.expm1(0.3) / 600)  # bounds: no correction
    r = R.action_roi(panel, actions, eff.drop(columns=["ci_low", "ci_high"]).assign(ci_low=np.nan, ci_high=np.nan),
                     default_costs={}).iloc[0]
    assert r["incremental_sales"] == pytest.approx(1200 * -math.expm1(-0.12))  # no interval: the se column


def test_active_span_counts_held_out_months() -> None:
    """Months from a second action on leave the fit but still count for the span: the quiet (zero) months
    just before the second action stay in, as they would without the second action (they are real zeros)."""
    from workbench.retro.stacking import _prepare_levels

    months = pd.date_range("2025-01-01", periods=8, freq="MS")
    panel = pd.DataFrame({"partner_id": "a", "month": months,
                          "net_sales_cny": [5.0, 5.0, 5.0, 0.0, 0.0, 5.0, 5.0, 0.0]})
    actions = pd.DataFrame({"partner_id": ["a", "a"], "action_type": "visit",
                            "action_date": pd.to_datetime(["2025-02-10", "2025-06-03"])})
    flagged = R._before_second(panel, actions)
    assert len(flagged) == 8 and flagged["_held_out"].tolist() == [False] * 5 + [True] * 3
    kept = _prepare_levels(flagged, sales_col="net_sales_cny")
    assert kept["sales"].tolist() == [5.0, 5.0, 5.0, 0.0, 0.0]  # the two quiet months before the second action
    plain = _prepare_levels(panel, sales_col="net_sales_cny")
    assert len(plain) == 7  # without a second action: the trailing zero after the last sale leaves


def _sparse_world(seed: int, n: int = 600, months: int = 36) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Partners ordering ~0.6 times a month (many zero months); half get a visit (effect 0.10 on the order
    rate) in months 12–24, 40% of those a second visit 4–9 months later (effect 0.05)."""
    rng = np.random.default_rng([seed, 16])
    lam = np.exp(rng.normal(np.log(0.6), 0.5, n))
    treated = rng.random(n) < 0.5
    g = rng.integers(12, 25, n)
    second = treated & (rng.random(n) < 0.4)
    g2 = g + rng.integers(4, 10, n)
    t = np.arange(months)[None, :]
    log_m = 0.10 * (treated[:, None] & (t >= g[:, None])) + 0.05 * (second[:, None] & (t >= g2[:, None]))
    sales = rng.poisson(lam[:, None] * np.exp(log_m)) * 100.0
    month = pd.period_range("2024-01", periods=months, freq="M").to_timestamp()
    ids = np.array([f"p{i}" for i in range(n)])
    panel = pd.DataFrame({"partner_id": np.repeat(ids, months), "month": np.tile(month, n),
                          "net_sales_cny": sales.ravel()})
    s = np.flatnonzero(second & (g2 < months))
    actions = pd.concat([
        pd.DataFrame({"partner_id": ids[treated], "action_type": "visit", "action_date": month[g[treated]]}),
        pd.DataFrame({"partner_id": ids[s], "action_type": "visit", "action_date": month[g2[s]]}),
    ], ignore_index=True)
    return panel, actions


@pytest.mark.slow
def test_first_action_effect_with_second_actions_recovers_planted_truth() -> None:
    """Planted 0.10 on sparse orders with second actions: the first action's effect is unbiased (mean 0.092 ±
    0.007 over these 12 worlds). With the span cut at the last sale before the second action (session 5) it was
    0.139 ± 0.009."""
    est = [R.first_action_effects(*_sparse_world(seed), inference="cluster")[0]["effect_log"].iloc[0]
           for seed in range(12)]
    assert abs(float(np.mean(est)) - 0.10) < 0.02


def test_pool_tier_effects_against_planted_tier_effects() -> None:
    """Tier cells drawn around planted tier effects (core 0.15, growth 0.10, pilot 0.05; interval-implied se
    0.25 / 0.35 / 0.6, the realistic world's) and a type effect of all partners (0.13 ± 0.2): pooling cuts the
    error and keeps ≥ 90% coverage; far-apart precise cells keep their own estimates."""
    rng = np.random.default_rng(11)
    truth = {"core": 0.15, "growth": 0.10, "pilot": 0.05}
    se = {"core": 0.25, "growth": 0.35, "pilot": 0.6}
    raw_err, pooled_err, covered = [], [], []
    for _ in range(200):
        mu = 0.13 + 0.2 * rng.standard_normal()
        cells = pd.DataFrame([{"action_type": "visit", "tier": t, "effect_log": truth[t] + se[t] * rng.standard_normal(),
                               "se": 0.8 * se[t]} for t in truth])
        cells = cells.assign(ci_low=cells["effect_log"] - 1.959964 * cells["tier"].map(se),
                             ci_high=cells["effect_log"] + 1.959964 * cells["tier"].map(se))
        overall = pd.DataFrame({"action_type": ["visit"], "effect_log": [mu], "se": [0.15],
                                "ci_low": [mu - 1.959964 * 0.2], "ci_high": [mu + 1.959964 * 0.2]})
        p = R.pool_tier_effects(cells, overall)
        t = p["tier"].map(truth)
        assert p["effect_log_raw"].tolist() == cells["effect_log"].tolist()
        assert ((p["pool_weight"] >= 0) & (p["pool_weight"] <= 1)).all()
        raw_err += (p["effect_log_raw"] - t).tolist()
        pooled_err += (p["effect_log"] - t).tolist()
        covered += ((p["ci_low"] <= t) & (t <= p["ci_high"])).tolist()
    assert np.sqrt(np.mean(np.square(pooled_err))) < 0.6 * np.sqrt(np.mean(np.square(raw_err)))
    assert np.mean(covered) >= 0.90
    far = pd.DataFrame({"action_type": "visit", "tier": ["core", "pilot"], "effect_log": [1.0, -1.0], "se": 0.05,
                        "ci_low": [0.9, -1.1], "ci_high": [1.1, -0.9]})
    kept = R.pool_tier_effects(far, overall)
    assert kept["pool_weight"].min() > 0.99 and kept["effect_log"].tolist() == pytest.approx([1.0, -1.0], abs=0.01)


def test_added_share_of_a_huge_negative_interval_end_is_minus_infinity_without_a_warning() -> None:
    """A one-day store's effect interval reaches −817 log points: its added share is −inf, quietly (page 05 shows –)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert R._added_share(-817.0) == -np.inf
        assert R._added_share(0.1, 0.2) == pytest.approx(1 - np.exp(-0.1 - 0.02))
