"""Tests for workbench.incentives: the budget optimizer and frontier."""

from __future__ import annotations

import pytest
from _incentives_cases import TIERS, program, sim_partners

from workbench import incentives as inc


def test_optimizer_respects_the_budget_and_beats_the_current_program():
    frame = sim_partners(400)
    base = inc.prepare_simulation(frame, beta=0.04, beta_se=0.004, sigma=0.3, draws=150, seed=3)
    current = program(volume_rebate={"tiers": TIERS, "mode": "retroactive"}, assumptions={"margin_pct": 30})
    now = inc.simulate(base, current).summary("all").iloc[0]
    budget = now["cost_cny"]
    best, fig = inc.optimize_budget(base, current, budget_cny=budget, draws=150, step_pct=0.5)
    after = inc.simulate(base, best).summary("all").iloc[0]
    assert after["cost_cny"] <= budget * (1 + 1e-6)
    assert after["incremental_margin_cny"] > now["incremental_margin_cny"]
    assert fig["incremental_margin_cny"] == pytest.approx(after["incremental_margin_cny"], rel=1e-6)
    assert list(best.rates_pct) == sorted(best.rates_pct)  # rates never fall with volume
    _, net = inc.optimize_budget(base, current, budget_cny=budget, draws=150, step_pct=0.5, objective="net_margin")
    assert net["net_margin_cny"] >= now["net_margin_cny"] and net["expected_cost_cny"] <= budget * (1 + 1e-6)
    frontier = inc.budget_frontier(base, current, budgets_cny=[0.5 * budget, budget, 2 * budget], draws=150, step_pct=0.5)
    assert (frontier["expected_cost_cny"] <= frontier["budget_cny"] * (1 + 1e-6)).all()
    assert frontier["incremental_margin_cny"].is_monotonic_increasing
