"""Tests for the pull-forward check and its netting out of the what-if's incremental sales."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _incentives_cases import program, sim_partners, threshold_pull_case

from workbench import incentives as inc
from workbench.errors import NotEnoughData
from workbench.incentives.pull_forward import pull_forward
from workbench.synth.incentives import pull_forward_orders


def test_planted_pull_forward_is_recovered_within_20_percent():
    world = pull_forward_orders(partners=400, seed=5)
    est = pull_forward(world.orders, thresholds=[world.params["threshold"]])
    assert world.pulled_total > 0 and est.mode_ == "threshold"
    assert 0.8 <= est.pulled_cny_ / world.pulled_total <= 1.2, (est, world.pulled_total)
    assert est.pulled_cny_ - 2.5 * est.se_cny_ <= world.pulled_total <= est.pulled_cny_ + 2.5 * est.se_cny_


def test_no_pull_forward_is_found_where_none_was_planted():
    world = pull_forward_orders(partners=400, seed=6, window_pct=0.0)
    est = pull_forward(world.orders, thresholds=[world.params["threshold"]])
    assert world.pulled_total == 0
    assert abs(est.pulled_cny_) <= 2.5 * est.se_cny_ + 1.0


def test_too_short_a_history_is_one_sentence():
    orders = pd.DataFrame({"partner_id": ["A"] * 3, "order_date": pd.to_datetime(["2026-01-05", "2026-02-01", "2026-03-01"]),
                           "net_amount": [1.0, 2.0, 3.0]})
    with pytest.raises(NotEnoughData):
        pull_forward(orders, thresholds=[10.0])


def test_the_whatif_nets_the_threshold_lift_out_of_incremental_sales():
    # beta 0, no noise: A at 98k is lifted to the 100k threshold (2 % tier), B at 90k is not. Sales go up by
    # 2,000, all of it pulled forward from the next quarter: incremental sales 0, cost 2,000, pulled 2,000.
    base, res = threshold_pull_case()
    s = res.summary("all").iloc[0]
    assert s["pulled_forward_cny"] == pytest.approx(2_000.0)
    assert s["incremental_sales_cny"] == pytest.approx(0.0, abs=1e-6)
    assert s["cost_cny"] == pytest.approx(2_000.0)
    out = inc.partner_outcomes(base, res).set_index("partner_id")
    assert out.loc["A", "incremental_sales_cny"] == pytest.approx(0.0, abs=0.01)


def test_netting_never_adds_sales_and_groups_add_up():
    base = inc.prepare_simulation(sim_partners(300), beta=0.04, beta_se=0.005, sigma=0.3, draws=200, seed=2)
    tiered = program()
    on = inc.simulate(base, tiered)
    off = inc.simulate(base, tiered, pull_share=0.0)
    assert np.all(on.pulled_forward_cny >= 0) and off.pulled_forward_cny.sum() == 0
    total = on.summary("all")["pulled_forward_cny"].iloc[0]
    assert total > 0 and on.summary("tier")["pulled_forward_cny"].sum() == pytest.approx(total, rel=1e-6)
