"""Exact payout engine (numpy, any array shape): volume rebate, growth bonus, awards, eligibility, caps."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import WorkbenchError
from workbench.incentives.program import GrowthBonus, Program


def volume_rebate_cny(sales_cny: Any, thresholds_cny: Any, rates_pct: Any, mode: str = "retroactive") -> np.ndarray:
    """Volume rebate (CNY) on quarter net sales of any shape; negative net sales (returns) earn 0.

    retroactive: rate of the highest tier reached × all sales; marginal: Σ tier rate × sales in band.
    """
    s = np.maximum(np.asarray(sales_cny, dtype=float), 0.0)
    t = np.asarray(thresholds_cny, dtype=float)
    r = np.asarray(rates_pct, dtype=float) / 100.0
    steps = np.diff(r, prepend=0.0)  # rate increments at each threshold
    out = np.zeros_like(s)
    for tk, dk in zip(t, steps, strict=True):
        if mode == "retroactive":
            out += np.where(s >= tk, dk * s, 0.0)
        else:
            out += dk * np.maximum(s - tk, 0.0)
    return out


def growth_bar(last_year: Any, min_growth_pct: float) -> np.ndarray:
    """Sales needed for the growth bonus: last year × (1 + min growth), rounded to the cent (so that
    exactly +10 % qualifies despite binary floating point)."""
    return np.round(np.asarray(last_year, dtype=float) * (1 + min_growth_pct / 100.0), 2)


def growth_bonus_cny(sales_cny: Any, last_year_cny: Any, bonus: GrowthBonus | None) -> np.ndarray:
    """Growth bonus (CNY): paid when sales ≥ last year × (1 + min_growth); 0 without last-year sales."""
    s = np.asarray(sales_cny, dtype=float)
    if bonus is None:
        return np.zeros_like(s)
    ly = np.asarray(last_year_cny, dtype=float)
    ok = (ly > 0) & (s >= growth_bar(ly, bonus.min_growth_pct))
    base = np.maximum(s - ly, 0.0) if bonus.base == "increment" else np.maximum(s, 0.0)
    return np.where(ok, bonus.rate_pct / 100.0 * base, 0.0)


def _eligible(program: Program, partners: pd.DataFrame) -> np.ndarray:
    el = program.eligibility
    ok = np.ones(len(partners), dtype=bool)
    for col, allowed in (("tier", el.tiers), ("region", el.regions), ("channel_type", el.channel_types)):
        if allowed:
            if col not in partners:
                raise WorkbenchError(f"Eligibility by {col} needs a '{col}' column in the partner table.")
            ok &= partners[col].isin(allowed).to_numpy()
    if el.min_tenure_months > 0:
        ok &= partners["tenure_months"].fillna(0).to_numpy(dtype=float) >= el.min_tenure_months
    return ok


def _award_amounts(program: Program, partners: pd.DataFrame) -> pd.DataFrame:
    cols = {}
    for award in program.awards:
        metric = f"{award.metric}__{award.name}" if award.metric == "new_product_sales_cny" else award.metric
        if metric not in partners and award.metric not in partners:
            raise WorkbenchError(f"Award '{award.name}' needs a '{award.metric}' column in the partner table.")
        values = partners[metric] if metric in partners else partners[award.metric]
        hit = values.fillna(-np.inf).to_numpy(dtype=float) >= award.min_value
        cols[f"award_{award.name}_cny"] = np.where(hit, award.amount_cny, 0.0)
    return pd.DataFrame(cols, index=partners.index)


def _round_cents_total(amounts: np.ndarray, total: float) -> np.ndarray:
    """Round to cents so the rounded amounts sum exactly to round(total, 2) (largest remainder)."""
    cents = amounts * 100.0
    floor = np.floor(cents + 1e-9)
    short = int(round(round(total, 2) * 100 - floor.sum()))
    if short > 0:
        order = np.argsort(-(cents - floor), kind="stable")[:short]
        floor[order] += 1
    return floor / 100.0


def compute_payouts(program: Program, partners: pd.DataFrame, *, period_end: date | None = None) -> pd.DataFrame:
    """Exact payout per partner for one quarter, rounded to cents.

    partners: one row per partner with partner_id, net_sales_cny (quarter, returns deducted) and as
    needed last_year_sales_cny, tier, region, channel_type, tenure_months and award metrics.
    Returns partner_id, eligible, rebate_cny, growth_bonus_cny, awards_cny, payout_uncapped_cny,
    payout_cny (after per-partner and total caps; total cap prorated), payment_date (if period_end).
    """
    sales = partners["net_sales_cny"].to_numpy(dtype=float)
    eligible = _eligible(program, partners)
    rebate = (
        volume_rebate_cny(sales, program.thresholds_cny, program.rates_pct, program.volume_rebate.mode)
        if program.volume_rebate else np.zeros_like(sales)
    )
    ly = partners["last_year_sales_cny"].to_numpy(dtype=float) if "last_year_sales_cny" in partners else np.zeros_like(sales)
    growth = growth_bonus_cny(sales, ly, program.growth_bonus)
    awards = _award_amounts(program, partners)
    award_total = awards.sum(axis=1).to_numpy(dtype=float) if len(awards.columns) else np.zeros_like(sales)
    rebate, growth, award_total = (np.round(np.where(eligible, x, 0.0), 2) for x in (rebate, growth, award_total))
    uncapped = rebate + growth + award_total
    payout = uncapped.copy()
    if program.caps.per_partner_cny is not None:
        payout = np.minimum(payout, program.caps.per_partner_cny)
    if program.caps.total_cny is not None and payout.sum() > program.caps.total_cny:
        payout = _round_cents_total(payout * (program.caps.total_cny / payout.sum()), program.caps.total_cny)
    out = pd.DataFrame({
        "partner_id": partners["partner_id"].to_numpy(),
        "eligible": eligible,
        "rebate_cny": rebate,
        "growth_bonus_cny": growth,
        "awards_cny": award_total,
        "payout_uncapped_cny": np.round(uncapped, 2),
        "payout_cny": np.round(payout, 2),
    })
    for col in awards.columns:
        out[col] = np.where(eligible, awards[col].to_numpy(), 0.0)
    if period_end is not None:
        out["payment_date"] = pd.Timestamp(period_end) + pd.Timedelta(days=program.payment_delay_days)
    return out

