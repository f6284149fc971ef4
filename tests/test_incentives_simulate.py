"""Tests for workbench.incentives: the Monte Carlo: closed forms, exact-engine agreement, threshold pull, scenarios."""

from __future__ import annotations

import numpy as np
import pytest
from _incentives_cases import CONFIG, TIERS, program, sim_partners, threshold_pull_case

from workbench import incentives as inc

# ---- simulation engine --------------------------------------------------------------------------


def test_simulation_matches_closed_form_without_noise():
    # Flat 3 %, beta 0.04 per pp, no noise: sales = b·e^{0.12}; cost = 3 % of that;
    # incremental sales = b·(e^{0.12} − 1); ROI = (0.3·(e^{0.12} − 1) − 0.03·e^{0.12}) / (0.03·e^{0.12}).
    frame = sim_partners(50)
    base = inc.prepare_simulation(frame, beta=0.04, beta_se=0.0, sigma=0.0, draws=5, seed=1)
    p = program(volume_rebate={"tiers": [{"threshold_cny": 0, "rate_pct": 3.0}]})
    res = inc.simulate(base, p, margin_pct=30)
    b = frame["baseline_sales_cny"].sum()
    lift = np.exp(0.04 * 3.0)
    s = res.summary("all").iloc[0]
    assert s["incremental_sales_cny"] == pytest.approx(b * (lift - 1), rel=1e-5)
    assert s["cost_cny"] == pytest.approx(0.03 * b * lift, rel=1e-5)
    assert s["roi"] == pytest.approx((0.3 * (lift - 1) - 0.03 * lift) / (0.03 * lift), rel=1e-4)


@pytest.mark.parametrize("mode", ["retroactive", "marginal"])
@pytest.mark.parametrize("tiers", [["core", "growth"], []])
def test_simulated_payout_equals_the_exact_engine_when_sales_do_not_move(mode, tiers):
    # beta = 0 and no noise: every draw's payout must equal compute_payouts on baseline sales,
    # through tiers, growth bonus, awards, eligibility and both caps.
    frame = sim_partners(200)
    p = program(
        volume_rebate={"tiers": [{"threshold_cny": 0, "rate_pct": 1.0}, *TIERS], "mode": mode},
        growth_bonus={"min_growth_pct": 5, "rate_pct": 4},
        awards=[{"name": "trained", "metric": "trainings_passed", "min_value": 2, "amount_cny": 2_000}],
        eligibility={"tiers": tiers},
        caps={"per_partner_cny": 20_000, "total_cny": 600_000},
        assumptions={"pull_share": 0.0},
    )
    base = inc.prepare_simulation(frame, beta=0.0, beta_se=0.0, sigma=0.0, draws=3, seed=0)
    res = inc.simulate(base, p, keep_partner_draws=True)
    exact = inc.compute_payouts(p, base.partners.rename(columns={"baseline_sales_cny": "net_sales_cny"}))
    assert np.allclose(res.partner_payout_cny[0], exact["payout_cny"], atol=0.05)
    assert res.summary("all")["cost_cny"].iloc[0] == pytest.approx(exact["payout_cny"].sum(), rel=1e-5)
    assert (res.partner_payout_cny[:, ~exact["eligible"].to_numpy()] == 0).all()


def test_threshold_pull_lifts_partners_just_below_a_threshold():
    # One tier at 100k. Baseline 98k is within 5 % × 0.5 = 2.5 % below → lifted to 100k and paid 2 %;
    # 90k is outside the window → stays and earns nothing.
    base, res = threshold_pull_case()
    assert res.partner_sales_cny[0].tolist() == [100_000.0, 90_000.0]
    assert res.partner_payout_cny[0].tolist() == [2_000.0, 0.0]


def test_monte_carlo_is_reproducible_for_a_seed_and_groups_add_up():
    frame = sim_partners(300)
    p = inc.load_program(CONFIG / "tiered_retroactive.yaml")
    a = inc.simulate(inc.prepare_simulation(frame, beta=0.04, beta_se=0.005, sigma=0.3, draws=400, seed=5), p)
    b = inc.simulate(inc.prepare_simulation(frame, beta=0.04, beta_se=0.005, sigma=0.3, draws=400, seed=5), p)
    c = inc.simulate(inc.prepare_simulation(frame, beta=0.04, beta_se=0.005, sigma=0.3, draws=400, seed=6), p)
    assert np.array_equal(a.cost_cny, b.cost_cny) and np.array_equal(a.incremental_sales_cny, b.incremental_sales_cny)
    assert not np.array_equal(a.cost_cny, c.cost_cny)
    total = a.summary("all")["cost_cny"].iloc[0]
    for by in ("tier", "region"):
        assert a.summary(by)["cost_cny"].sum() == pytest.approx(total, rel=1e-6)
    s = a.summary("all").iloc[0]
    assert s["cost_low_cny"] <= s["cost_cny"] <= s["cost_high_cny"] and 0 <= s["p_roi_positive"] <= 1


def test_scenarios_side_by_side_against_the_current_program():
    frame = sim_partners(300)
    base = inc.prepare_simulation(frame, beta=0.04, beta_se=0.005, sigma=0.3, draws=200, seed=2)
    current = inc.load_program(CONFIG / "synthetic_current.yaml")
    richer = inc.with_rates(current, [4.0], name="flat 4%")
    table = inc.compare_scenarios(base, {"current": current, "flat 4%": richer}, current="current")
    cur = table[table["scenario"] == "current"].iloc[0]
    alt = table[table["scenario"] == "flat 4%"].iloc[0]
    assert cur["delta_net_margin_cny"] == 0 and bool(cur["is_current"])
    assert alt["cost_cny"] > cur["cost_cny"] and alt["incremental_sales_cny"] > cur["incremental_sales_cny"]


def test_a_partner_specific_response_offset_moves_only_that_partner():
    # Flat 3 %, network beta 0.04, offsets +0.02 / 0 / −0.02, no noise: sales = b·e^{(0.04 + offset)·3}.
    frame = sim_partners(3).assign(beta_offset=[0.02, 0.0, -0.02])
    base = inc.prepare_simulation(frame, beta=0.04, beta_se=0.0, sigma=0.0, draws=3, seed=0)
    p = program(volume_rebate={"tiers": [{"threshold_cny": 0, "rate_pct": 3.0}]})
    res = inc.simulate(base, p, keep_partner_draws=True)
    b = base.partners["baseline_sales_cny"].to_numpy()
    off = base.partners["beta_offset"].to_numpy()
    assert np.allclose(res.partner_sales_cny[0], b * np.exp((0.04 + off) * 3.0), rtol=1e-5)
    plain = inc.prepare_simulation(frame.drop(columns="beta_offset"), beta=0.04, beta_se=0.0, sigma=0.0, draws=3, seed=0)
    assert plain.beta_offset is None
