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
    assert r["incremental_sales"] == pytest.approx(2400 * (1 - math.exp(-0.1)))
    assert r["roi"] == pytest.approx(2400 * (1 - math.exp(-0.1)) / 4000)
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
    assert r["incremental_sales"] == pytest.approx(1200 * -math.expm1(-0.12))
    assert r["roi_low"] == pytest.approx(1200 * -math.expm1(0.3) / 600)  # bounds: no correction
