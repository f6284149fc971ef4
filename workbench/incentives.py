"""Incentive what-if: program specs (YAML), exact payout engine, response model, Monte Carlo, optimizer.

Units: money in CNY (columns end in ``_cny``), rates in percent of net sales (``_pct``; 3.0 = 3 %),
the response semi-elasticity ``beta`` in d ln(quarter sales) per percentage point of rebate rate.

Flow: ``load_program`` → ``compute_payouts`` (exact, per partner) and, for what-if questions,
``partner_quarter_panel`` → ``RebateResponseModel.fit`` → ``prepare_simulation`` → ``simulate`` /
``compare_scenarios`` / ``optimize_budget`` / ``budget_frontier``; ``whatif_table`` is the CLI entry.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench import config
from workbench.errors import ConfigError, WorkbenchError

__all__ = [
    "AWARD_METRICS",
    "Assumptions",
    "Award",
    "Caps",
    "Eligibility",
    "GrowthBonus",
    "Program",
    "RebateResponseModel",
    "SimulationBase",
    "SimulationResult",
    "VolumeRebate",
    "VolumeTier",
    "budget_frontier",
    "compare_scenarios",
    "compute_payouts",
    "fit_response",
    "growth_bonus_cny",
    "load_program",
    "optimize_budget",
    "partner_attributes",
    "partner_quarter_panel",
    "prepare_simulation",
    "program_from_dict",
    "program_to_dict",
    "simulate",
    "validate_program",
    "volume_rebate_cny",
    "whatif_table",
    "with_rates",
]

# --------------------------------------------------------------------------------------------------
# Program specs
# --------------------------------------------------------------------------------------------------

AWARD_METRICS: dict[str, str] = {
    "trainings_passed": "trainings passed in the 365 days up to as_of (count)",
    "satisfaction": "mean survey satisfaction in the 180 days up to as_of (0-100)",
    "tenure_months": "whole months since onboard_date at as_of",
    "new_product_sales_cny": "net sales of the award's product_lines in the last quarter up to as_of (CNY)",
    "customer_feedback": "mean survey NPS in the 180 days up to as_of (0-10)",
}


@dataclass(frozen=True)
class VolumeTier:
    """One volume tier: from `threshold_cny` of quarter net sales on, the rebate rate is `rate_pct`."""

    threshold_cny: float
    rate_pct: float


@dataclass(frozen=True)
class VolumeRebate:
    """Tiered volume rebate on quarter net sales (returns deducted).

    retroactive: the rate of the highest tier reached applies to every unit (back to the first);
    marginal: each tier's rate applies only to the sales inside that tier's band.
    """

    tiers: tuple[VolumeTier, ...]
    mode: Literal["retroactive", "marginal"] = "retroactive"


@dataclass(frozen=True)
class GrowthBonus:
    """Bonus when quarter net sales grow at least `min_growth_pct` over the same quarter last year.

    base 'increment' pays `rate_pct` of the sales above last year's; 'total' pays it on all sales.
    Partners without sales in the same quarter last year get no growth bonus.
    """

    min_growth_pct: float
    rate_pct: float
    base: Literal["increment", "total"] = "increment"


@dataclass(frozen=True)
class Award:
    """A fixed award of `amount_cny` for partners whose `metric` is at least `min_value`."""

    name: str
    metric: Literal[
        "trainings_passed", "satisfaction", "tenure_months", "new_product_sales_cny", "customer_feedback"
    ]
    min_value: float
    amount_cny: float
    product_lines: tuple[str, ...] = ()  # for new_product_sales_cny: which lines count as new


@dataclass(frozen=True)
class Caps:
    """Payout caps: per partner per quarter, and for the whole program per quarter (prorated)."""

    per_partner_cny: float | None = None
    total_cny: float | None = None


@dataclass(frozen=True)
class Eligibility:
    """Who takes part: empty lists mean everyone. tiers are partner tiers (core / growth / pilot)."""

    tiers: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    channel_types: tuple[str, ...] = ()
    min_tenure_months: float = 0.0


@dataclass(frozen=True)
class Assumptions:
    """Simulation assumptions that travel with a program file.

    margin_pct: gross margin on incremental sales (before incentive cost);
    pull_window_pct / pull_share: threshold pull — a partner whose simulated sales land within
    `pull_window_pct` below a volume-tier threshold closes `pull_share` of the gap to it;
    cost_of_capital_pct: annual rate used to discount payouts paid `payment_delay_days` later.
    """

    margin_pct: float = 30.0
    draws: int = 1000
    seed: int = 0
    pull_window_pct: float = 5.0
    pull_share: float = 0.5
    cost_of_capital_pct: float = 0.0
    baseline_quarters: int = 4


@dataclass(frozen=True)
class Program:
    """A quarterly incentive program: volume rebate, growth bonus, fixed awards, caps, eligibility."""

    name: str
    description: str = ""
    volume_rebate: VolumeRebate | None = None
    growth_bonus: GrowthBonus | None = None
    awards: tuple[Award, ...] = ()
    caps: Caps = field(default_factory=Caps)
    eligibility: Eligibility = field(default_factory=Eligibility)
    payment_delay_days: int = 45
    assumptions: Assumptions = field(default_factory=Assumptions)

    @property
    def thresholds_cny(self) -> np.ndarray:
        """Volume-tier thresholds (CNY), increasing; empty without a volume rebate."""
        vr = self.volume_rebate
        return np.array([t.threshold_cny for t in vr.tiers] if vr else [], dtype=float)

    @property
    def rates_pct(self) -> np.ndarray:
        """Volume-tier rates (percent), one per threshold."""
        vr = self.volume_rebate
        return np.array([t.rate_pct for t in vr.tiers] if vr else [], dtype=float)


def _check(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise ConfigError(f"{where}: {message}.")


def validate_program(program: Program, *, where: str = "program") -> Program:
    """Check the rules a YAML type check cannot: increasing thresholds, rates in 0-100 %, caps ≥ 0.

    Raises ConfigError with one sentence naming the field; returns the program unchanged.
    """
    vr = program.volume_rebate
    if vr is not None:
        _check(len(vr.tiers) > 0, f"{where}: volume_rebate: tiers", "needs at least one tier")
        previous = None
        for i, tier in enumerate(vr.tiers):
            w = f"{where}: volume_rebate: tiers[{i}]"
            _check(math.isfinite(tier.threshold_cny) and tier.threshold_cny >= 0, f"{w}: threshold_cny",
                   f"must be zero or more, not {tier.threshold_cny:g}")
            _check(0 <= tier.rate_pct <= 100, f"{w}: rate_pct", f"must be between 0 and 100, not {tier.rate_pct:g}")
            if previous is not None:
                _check(tier.threshold_cny > previous, f"{w}: threshold_cny",
                       f"must be greater than the previous tier's threshold ({tier.threshold_cny:g} <= {previous:g})")
            previous = tier.threshold_cny
    gb = program.growth_bonus
    if gb is not None:
        _check(0 <= gb.rate_pct <= 100, f"{where}: growth_bonus: rate_pct", f"must be between 0 and 100, not {gb.rate_pct:g}")
        _check(gb.min_growth_pct >= -100, f"{where}: growth_bonus: min_growth_pct",
               f"must be -100 or more, not {gb.min_growth_pct:g}")
    names = set()
    for i, award in enumerate(program.awards):
        w = f"{where}: awards[{i}]"
        _check(award.amount_cny >= 0, f"{w}: amount_cny", f"must be zero or more, not {award.amount_cny:g}")
        _check(award.name not in names, f"{w}: name", f"'{award.name}' is used twice")
        names.add(award.name)
        if award.metric == "new_product_sales_cny":
            _check(len(award.product_lines) > 0, f"{w}: product_lines", "must list the new product lines")
    for name in ("per_partner_cny", "total_cny"):
        value = getattr(program.caps, name)
        _check(value is None or value >= 0, f"{where}: caps: {name}", f"must be zero or more, not {value}")
    _check(program.payment_delay_days >= 0, f"{where}: payment_delay_days",
           f"must be zero or more, not {program.payment_delay_days}")
    a = program.assumptions
    aw = f"{where}: assumptions"
    _check(0 <= a.margin_pct <= 100, f"{aw}: margin_pct", f"must be between 0 and 100, not {a.margin_pct:g}")
    _check(a.draws >= 1, f"{aw}: draws", f"must be at least 1, not {a.draws}")
    _check(0 <= a.pull_window_pct < 100, f"{aw}: pull_window_pct", f"must be in [0, 100), not {a.pull_window_pct:g}")
    _check(0 <= a.pull_share <= 1, f"{aw}: pull_share", f"must be between 0 and 1, not {a.pull_share:g}")
    _check(a.baseline_quarters >= 1, f"{aw}: baseline_quarters", f"must be at least 1, not {a.baseline_quarters}")
    _check(a.cost_of_capital_pct >= 0, f"{aw}: cost_of_capital_pct", f"must be zero or more, not {a.cost_of_capital_pct:g}")
    return program


def program_from_dict(data: Any, *, where: str = "program") -> Program:
    """Build and validate a Program from a parsed YAML mapping (ConfigError on any problem)."""
    return validate_program(config.from_dict(Program, data, where=where), where=where)


def load_program(path: str | Path) -> Program:
    """Load and validate a program YAML file; a malformed file raises one ConfigError sentence."""
    return program_from_dict(config.load_yaml(path), where=str(path))


def program_to_dict(program: Program) -> dict[str, Any]:
    """The program as plain data (tuples → lists), ready for yaml.safe_dump (scenario export)."""

    def plain(value: Any) -> Any:
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(program))


def with_rates(program: Program, rates_pct: Any, *, thresholds_cny: Any = None, name: str | None = None) -> Program:
    """A copy of `program` whose volume tiers get `rates_pct` (and optionally new thresholds)."""
    rates = [float(r) for r in np.atleast_1d(rates_pct)]
    thresholds = (
        [float(t) for t in np.atleast_1d(thresholds_cny)] if thresholds_cny is not None
        else list(program.thresholds_cny) or [0.0]
    )
    if len(thresholds) != len(rates):
        raise WorkbenchError(f"Got {len(rates)} rates for {len(thresholds)} volume tiers.")
    mode = program.volume_rebate.mode if program.volume_rebate else "retroactive"
    vr = VolumeRebate(tiers=tuple(VolumeTier(t, r) for t, r in zip(thresholds, rates, strict=True)), mode=mode)
    new = dataclasses.replace(program, volume_rebate=vr, name=name or program.name)
    return validate_program(new, where=new.name)


# --------------------------------------------------------------------------------------------------
# Exact payout engine (numpy, any array shape)
# --------------------------------------------------------------------------------------------------


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


def growth_bonus_cny(sales_cny: Any, last_year_cny: Any, bonus: GrowthBonus | None) -> np.ndarray:
    """Growth bonus (CNY): paid when sales ≥ last year × (1 + min_growth); 0 without last-year sales."""
    s = np.asarray(sales_cny, dtype=float)
    if bonus is None:
        return np.zeros_like(s)
    ly = np.asarray(last_year_cny, dtype=float)
    ok = (ly > 0) & (s >= ly * (1 + bonus.min_growth_pct / 100.0))
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
