"""Tests for workbench.incentives: the response model: planted elasticities on panels and on the synthetic network."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import incentives as inc
from workbench.errors import WorkbenchError

# ---- response model on the synthetic network ------------------------------------------------------

def test_elasticity_recovered_on_the_synthetic_network():
    # 6,000 partners x 36 months: ~39k partner-quarters, standard error ~0.003 (7 % of the truth).
    import ibis

    from workbench import synth

    net = synth.generate(partners=6000, months=36, seed=11)
    truth = float(net.params["beta_rebate"])
    con = ibis.duckdb.connect()
    for name, frame in net.tables.items():
        con.create_table(name, frame)
    panel = inc.partner_quarter_panel(con, start="2023-10-01", end="2026-09-30")
    model = inc.RebateResponseModel().fit(panel)
    assert abs(model.beta_ - truth) / truth < 0.15, model
    assert model.ci_[0] <= truth <= model.ci_[1], model
    assert model.n_partners_ > 3000


def test_response_model_refuses_a_rate_that_never_varies_within_quarters():
    # Every partner gets 2 % then 3 %: quarter effects absorb the change, so beta is not identified.
    rng = np.random.default_rng(0)
    rows = [{"partner_id": f"P{i}", "quarter": pd.Period(q, "Q"), "net_sales_cny": float(rng.uniform(1e5, 2e5)),
             "rate_pct": 2.0 if q < "2025Q1" else 3.0, "in_life": True}
            for i in range(30) for q in ("2024Q3", "2024Q4", "2025Q1", "2025Q2")]
    with pytest.raises(WorkbenchError, match="all partners at once"):
        inc.RebateResponseModel().fit(pd.DataFrame(rows))


def test_response_model_recovers_a_planted_beta_on_a_small_panel():
    # 400 partners x 8 quarters, rate 2 % + a random 0/1/2-point pilot bump, ln sales = 0.05 x rate + noise.
    rng = np.random.default_rng(1)
    n, q = 400, 8
    quarters = pd.period_range("2024Q1", periods=q, freq="Q")
    rate = 2.0 + rng.choice([0.0, 1.0, 2.0], size=(n, q), p=[0.7, 0.15, 0.15])
    ln = rng.normal(12, 1, (n, 1)) + np.linspace(0, 0.2, q) + 0.05 * rate + rng.normal(0, 0.1, (n, q))
    panel = pd.DataFrame({"partner_id": np.repeat([f"P{i}" for i in range(n)], q), "quarter": np.tile(quarters, n),
                          "net_sales_cny": np.exp(ln).ravel(), "rate_pct": rate.ravel(), "in_life": True})
    model = inc.RebateResponseModel().fit(panel)
    assert model.ci_[0] <= 0.05 <= model.ci_[1] and abs(model.beta_ - 0.05) < 0.01
    assert model.n_partners_ == n and model.summary_["n_obs"].iloc[0] == n * q
