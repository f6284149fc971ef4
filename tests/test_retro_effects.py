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
    """Log-OLS baseline: one stack at a time gives the numbers of statsmodels on the whole stacked data."""
    from workbench import synth

    net = synth.generate(partners=300, months=36, seed=11)
    panel = _panel_from_tables(net.tables["orders"])
    fast, es_fast = retro.action_effects(panel, net.tables["actions"], model="log_ols", inference="cluster")
    ref, es_ref = retro.action_effects(panel, net.tables["actions"], model="log_ols", inference="cluster",
                                       engine="statsmodels")
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


def test_ppml_matches_statsmodels_glm_with_dummies() -> None:
    """The profiled PPML (partner effects swept out, month effects by Schur complement) gives the
    coefficients and cluster-robust errors of statsmodels' Poisson GLM with explicit dummies, on three
    unbalanced stacks with a negative month (a return) and partners spread over stacks."""
    import statsmodels.api as sm

    from workbench.retro import ppml

    rng = np.random.default_rng(0)
    stacks, rows = [], []
    for s_i in range(3):
        y = rng.poisson(np.exp(rng.normal(size=40)[:, None] + 0.3 * rng.normal(size=8)[None, :] + 1.0)).astype(float)
        tr = rng.random(40) < 0.4
        rel = np.arange(8) - 4
        y[tr] *= np.where(rel >= 0, 1.3, 1.0)[None, :]
        y[rng.random(y.shape) < 0.1] = np.nan
        y[0, 1] = -2.0
        st = ppml.clean_stack(y, tr, rng.integers(0, 60, 40), np.column_stack([rel >= 0, rel == -3]).astype(float))
        stacks.append(st)
        for u, m in zip(*np.nonzero(~np.isnan(st.y)), strict=True):
            rows.append({"y": st.y[u, m], "unit": f"u{s_i}_{u}", "time": f"t{s_i}_{m}", "cl": st.cluster[u],
                         "x1": st.treated[u] * st.design[m, 0], "x2": st.treated[u] * st.design[m, 1]})
    fit = ppml.fit(stacks, 2)
    df = pd.DataFrame(rows)
    x = pd.concat([df[["x1", "x2"]], pd.get_dummies(df["unit"], dtype=float),
                   pd.get_dummies(df["time"], dtype=float).drop(columns=["t0_0", "t1_0", "t2_0"])], axis=1)
    ref = sm.GLM(df["y"], x, family=sm.families.Poisson()).fit(
        tol=1e-12, cov_type="cluster", cov_kwds={"groups": pd.factorize(df["cl"])[0], "use_correction": False})
    np.testing.assert_allclose(fit.coef, ref.params[["x1", "x2"]], rtol=1e-6)
    g = len(fit.clusters)  # ours carries CRV1's G/(G−1)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov) * (g - 1) / g), ref.bse[["x1", "x2"]], rtol=1e-6)


SEEDS = range(4)
PARTNERS_PER_SEED = 800


@pytest.fixture(scope="module")
def seed_results() -> pd.DataFrame:
    """PPML effects and the naive before/after on the realistic world (store-like panel, zeros kept)."""
    from workbench import synth
    from workbench.synth.actions import monthly_panel

    rows = []
    for seed in SEEDS:
        net = synth.generate(partners=PARTNERS_PER_SEED, months=36, seed=seed, mode="realistic")
        panel = monthly_panel(net.tables)
        eff, es = retro.action_effects(panel, net.tables["actions"], boot_reps=399)
        naive = retro.naive_before_after(panel, net.tables["actions"])
        truth = net.truth["action_effects"].set_index("action_type")["effect_log"]
        e = eff.merge(naive, on="action_type")
        e["truth"] = e["action_type"].map(truth)
        e["seed"] = seed
        assert set(es["action_type"]) == set(eff["action_type"])
        rows.append(e)
    return pd.concat(rows, ignore_index=True)


def test_intervals_cover_planted_effects_on_the_realistic_world(seed_results: pd.DataFrame) -> None:
    """Pointwise 95% wild-bootstrap intervals cover at least 21 of the 24 planted effects (4 seeds × 6
    types; the 40-seed figure is in bench/validity.py), family-wise ones cover every effect in at least
    3 of 4 seeds, the intervals are no wider than the realistic world's noise requires, and the
    pre-trend test rejects at most 3 of 24 (no anticipation is planted)."""
    r = seed_results
    assert set(r["action_type"]) == {"training", "marketing_automation", "incentive", "visit", "tiering",
                                     "communication"}
    pointwise = (r["ci_low"] <= r["truth"]) & (r["truth"] <= r["ci_high"])
    assert int(pointwise.sum()) >= 21, r.loc[~pointwise, ["seed", "action_type", "truth", "effect_log", "ci_low"]]
    joint = (r["ci_low_joint"] <= r["truth"]) & (r["truth"] <= r["ci_high_joint"])
    assert int(joint.groupby(r["seed"]).all().sum()) >= 3
    # the cluster-t interval's width is 2·t·se; the bootstrap one must not be much wider than it (0.95
    # measured), nor than 1.0 (0.89 median over 8 seeds): a broken bootstrap or a doubled se fails
    width = r["ci_high"] - r["ci_low"]
    assert width.median() < 1.0
    assert (width / (2 * 2.0 * r["se"])).median() < 1.5
    assert int((r["pretrend_p"] < 0.05).sum()) <= 3


def test_action_effects_handle_no_actions() -> None:
    panel = pd.DataFrame({"partner_id": ["a"] * 3, "month": pd.date_range("2026-01-01", periods=3, freq="MS"),
                          "net_sales_cny": [1.0, 2.0, 3.0]})
    actions = pd.DataFrame(columns=["partner_id", "action_date", "action_type"])
    eff, es = retro.action_effects(panel, actions)
    assert eff.empty and es.empty
    assert retro.action_effects(panel, actions, model="log_ols")[0].empty


def test_effects_display_shows_a_missing_naive_estimate_as_nan():
    """A naive before/after that could not be computed (None, object dtype: the one-day store) is NaN, not a TypeError."""
    import numpy as np
    import pandas as pd

    from workbench.retro.effects import effects_display

    e = pd.DataFrame({"action_type": ["visit", "training"], "effect_log": [np.log(1.1), 0.0], "ci_low": [0.0, -0.1],
                      "ci_high": [0.2, 0.1], "naive_log": pd.Series([None, np.log(1.5)], dtype=object),
                      "pretrend_p": [0.5, 0.4], "n_treated": [3, 4]})
    d = effects_display(e)
    assert np.isnan(d["naive_pct"].iloc[0]) and d["naive_pct"].iloc[1] == pytest.approx(50.0)
    assert d["effect_pct"].iloc[0] == pytest.approx(10.0)


def test_effects_do_not_depend_on_the_panel_row_order() -> None:
    """The same panel in another row order (Spark returns rows in its own order) gives the same effects and
    the same wild-bootstrap intervals with the same seed: the draws go to partners, not to row positions."""
    from workbench import synth
    from workbench.synth.actions import monthly_panel

    net = synth.generate(partners=300, months=24, seed=5, mode="realistic")
    panel = monthly_panel(net.tables)
    shuffled = panel.sample(frac=1.0, random_state=1).reset_index(drop=True)
    want, _ = retro.action_effects(panel, net.tables["actions"], boot_reps=199, seed=3)
    got, _ = retro.action_effects(shuffled, net.tables["actions"], boot_reps=199, seed=3)
    assert len(want) >= 3 and want["ci_low"].notna().all()
    pd.testing.assert_frame_equal(want, got, check_exact=False, rtol=1e-9, atol=1e-12)


def test_wild_interval_with_two_treated_partners_ignores_rounding() -> None:
    """With 2 clusters half the Rademacher draws reproduce the observed t exactly in theory; a 1e-15 relative
    change of the per-cluster sums (another backend's summation order) must not move the interval or the p-value."""
    from workbench.retro.bootstrap import _wild_ci

    a, q = np.array([3.0, -1.2, 0.4]), np.array([2.0, 1.5, 0.7])
    for g in (2, 3):
        want = _wild_ci(a[:g], q[:g], factor=g / (g - 1), alpha=0.05, reps=999, seed=0)
        for eps in (1e-15, -1e-15, 3e-16):
            got = _wild_ci(a[:g] * (1 + eps), q[:g], factor=g / (g - 1), alpha=0.05, reps=999, seed=0)
            np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=f"{g} clusters, {eps}")
