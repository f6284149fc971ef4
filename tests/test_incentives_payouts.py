"""Tests for workbench.incentives: the exact payout engine on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
from _incentives_cases import TIERS, partners, program

from workbench import incentives as inc

# ---- payout engine: hand-computed cases -------------------------------------------------------

def test_retroactive_tier_jumps():
    # 99,999.99 is below the first threshold → 0; exactly 100,000 → 2 % of all = 2,000;
    # 199,999 → 2 % = 3,999.98; 200,000 → 3 % of everything = 6,000 (jump of 2,000.02);
    # 600,000 → 5 % of all = 30,000.
    out = inc.compute_payouts(program(), partners([99_999.99, 100_000, 199_999, 200_000, 600_000]))
    assert out["payout_cny"].tolist() == [0.0, 2_000.0, 3_999.98, 6_000.0, 30_000.0]


def test_marginal_bands():
    # 600,000 marginal: 2 % × 100k (100k-200k) + 3 % × 300k (200k-500k) + 5 % × 100k = 2,000 + 9,000 + 5,000.
    # 150,000 → 2 % × 50k = 1,000; 250,000 → 2,000 + 3 % × 50k = 3,500; 50,000 → 0.
    p = program(volume_rebate={"tiers": TIERS, "mode": "marginal"})
    out = inc.compute_payouts(p, partners([600_000, 150_000, 250_000, 50_000]))
    assert out["rebate_cny"].tolist() == [16_000.0, 1_000.0, 3_500.0, 0.0]


def test_returns_reduce_the_base_and_negative_net_earns_nothing():
    # 230k gross with 40k of returns → net 190k: tier 1 (2 %) → 3,800 instead of 3 % × 230k = 6,900.
    # Net negative (more returns than sales) → 0, never a negative payout.
    out = inc.compute_payouts(program(), partners([230_000 - 40_000, -5_000]))
    assert out["payout_cny"].tolist() == [3_800.0, 0.0]


def test_per_partner_cap_and_total_cap_proration():
    # Uncapped: 30,000 (600k × 5 %), 6,000 (200k × 3 %), 2,000 (100k × 2 %).
    # Per-partner cap 20,000 → 20,000, 6,000, 2,000 = 28,000; total cap 14,000 → × 0.5 each.
    p = program(caps={"per_partner_cny": 20_000, "total_cny": 14_000})
    out = inc.compute_payouts(p, partners([600_000, 200_000, 100_000]))
    assert out["payout_uncapped_cny"].tolist() == [30_000.0, 6_000.0, 2_000.0]
    assert out["payout_cny"].tolist() == [10_000.0, 3_000.0, 1_000.0]


def test_total_cap_rounds_to_the_exact_cent():
    # 3 partners of 3,000 each (100k... no: 150k × 2 % = 3,000), total cap 1,000 → 333.33 + 333.33 + 333.34.
    p = program(caps={"total_cny": 1_000})
    out = inc.compute_payouts(p, partners([150_000, 150_000, 150_000]))
    assert sorted(out["payout_cny"].tolist()) == [333.33, 333.33, 333.34]
    assert round(out["payout_cny"].sum(), 2) == 1_000.0


def test_ineligible_partners_get_nothing():
    p = program(eligibility={"tiers": ["core", "growth"], "regions": ["East"], "channel_types": []})
    frame = partners([300_000, 300_000, 300_000], tier=["core", "pilot", "growth"],
                     region=["East", "East", "South"])
    out = inc.compute_payouts(p, frame)
    assert out["eligible"].tolist() == [True, False, False]
    assert out["payout_cny"].tolist() == [9_000.0, 0.0, 0.0]


def test_growth_bonus_and_awards():
    # Growth bonus 5 % of the increment when growth ≥ 10 %: 330k vs 300k (+10 %) → 5 % × 30k = 1,500;
    # 320k vs 300k (+6.7 %) → 0; no last-year sales → 0.
    # Awards: 2,000 for ≥ 2 trainings passed, 1,000 for satisfaction ≥ 80.
    p = program(
        volume_rebate=None,
        growth_bonus={"min_growth_pct": 10, "rate_pct": 5},
        awards=[{"name": "trained", "metric": "trainings_passed", "min_value": 2, "amount_cny": 2_000},
                {"name": "happy", "metric": "satisfaction", "min_value": 80, "amount_cny": 1_000}],
    )
    frame = partners([330_000, 320_000, 100_000], last_year_sales_cny=[300_000, 300_000, 0],
                     trainings_passed=[2, 1, 5], satisfaction=[79.9, 80, np.nan])
    out = inc.compute_payouts(p, frame)
    assert out["growth_bonus_cny"].tolist() == [1_500.0, 0.0, 0.0]
    assert out["awards_cny"].tolist() == [2_000.0, 1_000.0, 2_000.0]
    assert out["payout_cny"].tolist() == [3_500.0, 1_000.0, 2_000.0]


def test_payment_date_follows_delay():
    out = inc.compute_payouts(program(payment_delay_days=45), partners([100_000]), period_end=pd.Timestamp("2026-09-30"))
    assert out["payment_date"].iloc[0] == pd.Timestamp("2026-11-14")


def test_vectorized_engine_matches_on_a_matrix():
    s = np.array([[50_000, 150_000], [250_000, 700_000]], dtype=float)
    got = inc.volume_rebate_cny(s, [100_000, 200_000, 500_000], [2, 3, 5], "marginal")
    assert np.allclose(got, [[0, 1_000], [3_500, 2_000 + 9_000 + 10_000]])
