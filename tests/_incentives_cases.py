"""Shared cases for the incentive tests: the tier table, a program builder, partner frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from workbench import incentives as inc

CONFIG = Path(__file__).resolve().parents[1] / "config" / "incentives"

# Three volume tiers used by most hand cases: 0 % below 100k, 2 % from 100k, 3 % from 200k, 5 % from 500k.
TIERS = [{"threshold_cny": 100_000, "rate_pct": 2.0},
         {"threshold_cny": 200_000, "rate_pct": 3.0},
         {"threshold_cny": 500_000, "rate_pct": 5.0}]


def program(**overrides) -> inc.Program:
    data = {"name": "test", "volume_rebate": {"tiers": TIERS, "mode": "retroactive"}}
    data.update(overrides)
    return inc.program_from_dict(data, where="test.yaml")


def partners(sales, **cols) -> pd.DataFrame:
    frame = pd.DataFrame({"partner_id": [f"P{i}" for i in range(len(sales))], "net_sales_cny": sales})
    for k, v in cols.items():
        frame[k] = v
    return frame


def sim_partners(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = np.exp(rng.normal(np.log(250_000), 0.9, n))
    return pd.DataFrame({
        "partner_id": [f"P{i:05d}" for i in range(n)],
        "baseline_sales_cny": base,
        "last_year_sales_cny": base * np.exp(rng.normal(-0.05, 0.2, n)),
        "tier": rng.choice(["core", "growth", "pilot"], n),
        "region": rng.choice(["East", "South", "North"], n),
        "channel_type": rng.choice(["dealer", "retailer"], n),
        "tenure_months": rng.integers(0, 60, n).astype(float),
        "trainings_passed": rng.poisson(1.0, n).astype(float),
        "satisfaction": rng.uniform(50, 100, n),
        "customer_feedback": rng.uniform(0, 10, n),
        "new_product_sales_cny__smart_home_push": base * rng.uniform(0, 0.4, n),
    })


def threshold_pull_case() -> tuple[inc.SimulationBase, inc.SimulationResult]:
    """One 2 % tier at 100k, beta 0, no noise, pull window 5 % × share 0.5 (2.5 % below the threshold):
    partner A at 98k is lifted to 100k and paid 2,000; B at 90k is outside the window and earns nothing."""
    frame = pd.DataFrame({"partner_id": ["A", "B"], "baseline_sales_cny": [98_000.0, 90_000.0]})
    p = program(volume_rebate={"tiers": [{"threshold_cny": 100_000, "rate_pct": 2.0}]},
                assumptions={"pull_window_pct": 5, "pull_share": 0.5})
    base = inc.prepare_simulation(frame, beta=0.0, beta_se=0.0, sigma=0.0, draws=2, seed=0)
    return base, inc.simulate(base, p, keep_partner_draws=True)
