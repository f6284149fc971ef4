"""Tests of workbench.retro.effects: the estimator's building blocks against statsmodels and the action
effects against the synthetic network's planted truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import retro
from workbench.retro import effects


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
    dm = effects._absorb(np.column_stack([y, x]), unit, time)
    beta = np.linalg.lstsq(dm[:, 1:], dm[:, 0], rcond=None)[0]
    np.testing.assert_allclose(beta, full.params[:2], rtol=1e-8)


def test_cluster_covariance_matches_statsmodels() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    g = rng.integers(0, 150, n)
    x = rng.normal(size=(n, 3))
    y = x @ [1.0, 2.0, 3.0] + rng.normal(size=150)[g] + rng.normal(size=n)
    b1, v1 = effects._cluster_ols(y, x, g)
    b2, v2 = effects._cluster_ols(y, x, g, engine="statsmodels")
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
        eff, es = retro.action_effects(panel, net.tables["actions"])
        naive = retro.naive_before_after(panel, net.tables["actions"])
        truth = net.truth["action_effects"].set_index("action_type")["effect_log"]
        e = eff.merge(naive, on="action_type")
        e["truth"] = e["action_type"].map(truth)
        e["seed"] = seed
        assert set(es["action_type"]) == set(eff["action_type"])
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
    eff, es = retro.action_effects(panel, actions)
    assert eff.empty and es.empty
