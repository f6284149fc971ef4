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
import os
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
    "baseline_sales",
    "budget_frontier",
    "compare_scenarios",
    "compute_payouts",
    "default_as_of",
    "fit_response",
    "growth_bonus_cny",
    "load_program",
    "new_product_lines",
    "optimize_budget",
    "partner_attributes",
    "partner_outcomes",
    "partner_quarter_panel",
    "prepare_simulation",
    "program_from_dict",
    "program_to_dict",
    "quarterly_rate_panel",
    "save_program",
    "simulate",
    "simulation_base",
    "summary_line",
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
    pull_window_pct / pull_share: threshold pull — of the partners whose simulated sales land
    within `pull_window_pct` below a volume-tier threshold, the closest `pull_share` of that window
    push their sales up to the threshold (and earn its rate): sales in
    [t × (1 − window × share), t) become t. pull_share 0 switches the effect off;
    cost_of_capital_pct: annual rate used to discount payouts paid `payment_delay_days` later;
    baseline_quarters: complete quarters averaged into each partner's baseline sales.
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
        if isinstance(value, np.generic):
            return value.item()
        return value

    return plain(dataclasses.asdict(program))


def save_program(program: Program, path: str | Path) -> Path:
    """Write a program as YAML (UTF-8) that load_program reads back unchanged; returns the path."""
    import yaml

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(program_to_dict(program), allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def with_rates(program: Program, rates_pct: Any, *, thresholds_cny: Any = None, name: str | None = None) -> Program:
    """A copy of `program` whose volume tiers get `rates_pct` (and optionally new thresholds)."""
    rates = [float(r) for r in np.atleast_1d(rates_pct)]
    thresholds = (
        [float(t) for t in np.atleast_1d(thresholds_cny)] if thresholds_cny is not None
        else [float(t) for t in program.thresholds_cny] or [0.0]
    )
    if len(thresholds) != len(rates):
        raise WorkbenchError(f"Got {len(rates)} rates for {len(thresholds)} volume tiers.")
    mode = program.volume_rebate.mode if program.volume_rebate else "retroactive"
    vr = VolumeRebate(tiers=tuple(VolumeTier(t, r) for t, r in zip(thresholds, rates, strict=True)), mode=mode)
    described = f"Volume tiers {' / '.join(f'{r:g}% from {t:,.0f}' for t, r in zip(thresholds, rates, strict=True))}, {mode}; based on '{program.name}'."
    new = dataclasses.replace(program, volume_rebate=vr, name=name or program.name, description=described)
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


# --------------------------------------------------------------------------------------------------
# Data from the store: partner-quarter panel with realised rebate rate, partner attributes
# --------------------------------------------------------------------------------------------------

def _quarter_start(q: pd.Period) -> pd.Timestamp:
    return q.start_time.normalize()


def _quarter_end(q: pd.Period) -> pd.Timestamp:
    return q.end_time.normalize()


def _region_partner_ids(con: Any, region: str | None) -> Any:
    partners = con.table("partners")
    if region not in (None, "all"):
        partners = partners.filter(partners.region == region)
    return partners.select("partner_id")


def quarterly_rate_panel(monthly: pd.DataFrame) -> pd.DataFrame:
    """Partner-quarter panel: quarter net sales (CNY), incentive due (CNY) and realised rate (%).

    monthly: partner_id, month, net_sales_cny, incentive_due_cny (due by period_end month, as in
    features.partner_month_panel). Rows: every partner-quarter present; rate_pct = 100 × due / net
    sales (NaN when net sales ≤ 0); `in_life` is True when the partner has sales in or before the
    quarter's first month and in or after its last month (no onboarding or churn inside it).
    """
    m = monthly.assign(quarter=pd.PeriodIndex(pd.to_datetime(monthly["month"]), freq="Q"))
    q = m.groupby(["partner_id", "quarter"], as_index=False, observed=True)[["net_sales_cny", "incentive_due_cny"]].sum()
    active = m[m["net_sales_cny"] > 0]
    life = active.groupby("partner_id")["month"].agg(first_month="min", last_month="max")
    out = q.merge(life, on="partner_id", how="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate_pct"] = np.where(out["net_sales_cny"] > 0, 100 * out["incentive_due_cny"] / out["net_sales_cny"], np.nan)
    first = out["quarter"].dt.start_time
    last = out["quarter"].dt.end_time.dt.to_period("M").dt.start_time
    out["in_life"] = (out["first_month"] <= first) & (out["last_month"] >= last)
    return out.drop(columns=["first_month", "last_month"]).sort_values(["partner_id", "quarter"], ignore_index=True)


def partner_quarter_panel(con: Any, *, start: date, end: date, region: str | None = None) -> pd.DataFrame:
    """Partner-quarter panel from the store's partner-month panel (see quarterly_rate_panel)."""
    from workbench.features import partner_month_panel

    panel = partner_month_panel(con, start=start, end=end, region=region)
    monthly = panel.select("partner_id", "month", "net_sales_cny", "incentive_due_cny").to_pandas()
    monthly["month"] = pd.to_datetime(monthly["month"])
    for col in ("net_sales_cny", "incentive_due_cny"):
        monthly[col] = monthly[col].astype(float).fillna(0.0)
    return quarterly_rate_panel(monthly)


def _tiers(con: Any, *, as_of: date, region: str | None = None) -> pd.DataFrame:
    try:
        from workbench.segment import partner_tiers
    except ImportError:  # pragma: no cover - segment not there yet
        return pd.DataFrame({"partner_id": pd.Series(dtype=str), "tier": pd.Series(dtype=str)})
    tiers = partner_tiers(con, as_of=as_of, region=region)
    if not isinstance(tiers, pd.DataFrame):
        tiers = tiers.to_pandas()
    if "partner_id" not in tiers.columns:
        tiers = tiers.reset_index()
    return tiers[["partner_id", "tier"]]


def partner_attributes(
    con: Any, *, as_of: date, region: str | None = None, new_product_lines: dict[str, tuple[str, ...]] | None = None
) -> pd.DataFrame:
    """One row per partner not exited at as_of: name, region, channel_type, tier, tenure and award metrics.

    Metrics (AWARD_METRICS): trainings_passed, satisfaction, customer_feedback, tenure_months and,
    per award name in `new_product_lines`, new_product_sales_cny__<award>.
    """
    as_of = pd.Timestamp(as_of).date()
    ids = _region_partner_ids(con, region)
    p = con.table("partners")
    p = p.filter(p.onboard_date <= as_of, p.exit_date.isnull() | (p.exit_date > as_of)).semi_join(ids, "partner_id")
    frame = p.select("partner_id", "name", "region", "channel_type", "onboard_date").to_pandas()
    onboard = pd.to_datetime(frame.pop("onboard_date"))
    ts = pd.Timestamp(as_of)
    frame["tenure_months"] = ((ts.year - onboard.dt.year) * 12 + (ts.month - onboard.dt.month)
                              - (ts.day < onboard.dt.day).astype(int)).astype(float)
    t = con.table("trainings")
    t = t.filter(t.training_date.between(as_of - pd.Timedelta(days=364), as_of), t.passed).semi_join(ids, "partner_id")
    trained = t.group_by("partner_id").aggregate(trainings_passed=t.count()).to_pandas()
    s = con.table("surveys")
    s = s.filter(s.survey_date.between(as_of - pd.Timedelta(days=179), as_of)).semi_join(ids, "partner_id")
    surveyed = s.group_by("partner_id").aggregate(
        satisfaction=s.satisfaction.mean(), customer_feedback=s.nps.mean()
    ).to_pandas()
    frame = frame.merge(trained, on="partner_id", how="left").merge(surveyed, on="partner_id", how="left")
    frame["trainings_passed"] = frame["trainings_passed"].fillna(0).astype(float)
    last_q = _last_complete_quarter(as_of)
    q_start, q_end = _quarter_start(last_q).date(), _quarter_end(last_q).date()
    for award, lines in (new_product_lines or {}).items():
        o = con.table("orders")
        o = o.filter(o.order_date.between(q_start, q_end), o.product_line.isin(list(lines))).semi_join(ids, "partner_id")
        sales = o.group_by("partner_id").aggregate(v=o.net_amount.sum().cast("float64")).to_pandas()
        col = f"new_product_sales_cny__{award}"
        frame = frame.merge(sales.rename(columns={"v": col}), on="partner_id", how="left")
        frame[col] = frame[col].fillna(0.0)
    frame = frame.merge(_tiers(con, as_of=as_of, region=region), on="partner_id", how="left")
    frame["tier"] = frame["tier"].fillna("unassigned").astype(str)
    return frame.sort_values("partner_id", ignore_index=True)


# --------------------------------------------------------------------------------------------------
# Response model: two-way fixed-effects panel regression, partner-clustered standard errors
# --------------------------------------------------------------------------------------------------


class RebateResponseModel:
    """ln(quarter net sales) = beta × rebate rate (pp) + partner FE + quarter FE + error.

    Estimated by the within transformation (partner demeaning of y, the rate and quarter dummies:
    exact two-way FE by Frisch-Waugh-Lovell, also on unbalanced panels) and OLS with
    partner-clustered standard errors (statsmodels). Learned: beta_ (d ln sales / d pp), se_,
    ci_ (1 - alpha), sigma_ (residual sd of quarterly log sales), n_obs_, n_partners_, summary_.
    """

    def __init__(self, *, min_quarters: int = 3, in_life_only: bool = True, alpha: float = 0.05) -> None:
        self.min_quarters = min_quarters
        self.in_life_only = in_life_only
        self.alpha = alpha

    def __repr__(self) -> str:
        if not hasattr(self, "beta_"):
            return f"RebateResponseModel(min_quarters={self.min_quarters}, in_life_only={self.in_life_only})"
        lo, hi = self.ci_
        return (f"RebateResponseModel(beta={self.beta_:.4f} per pp, {100 * (1 - self.alpha):.0f}% CI "
                f"[{lo:.4f}, {hi:.4f}], n={self.n_obs_:,} partner-quarters, {self.n_partners_:,} partners)")

    def fit(self, panel: pd.DataFrame) -> RebateResponseModel:
        """Fit on a partner-quarter panel: partner_id, quarter, net_sales_cny, rate_pct (, in_life)."""
        import statsmodels.api as sm

        d = panel[(panel["net_sales_cny"] > 0) & panel["rate_pct"].notna()]
        if self.in_life_only and "in_life" in d:
            d = d[d["in_life"]]
        d = d[d.groupby("partner_id")["quarter"].transform("size") >= self.min_quarters]
        if d["partner_id"].nunique() < 10 or d["quarter"].nunique() < 2:
            raise WorkbenchError("Too little history to estimate the incentive response (need 10+ partners over 2+ quarters).")
        if d["rate_pct"].std() == 0:
            raise WorkbenchError("The rebate rate never varies in the history, so its effect on sales cannot be estimated.")
        y = np.log(d["net_sales_cny"].to_numpy(dtype=float))
        quarters = d["quarter"].astype(str)
        dummies = pd.get_dummies(quarters, drop_first=True, dtype=float)
        X = pd.concat([d[["rate_pct"]].astype(float).reset_index(drop=True), dummies.reset_index(drop=True)], axis=1)
        groups = pd.factorize(d["partner_id"])[0]
        Xd = X - X.groupby(groups).transform("mean")
        yd = y - pd.Series(y).groupby(groups).transform("mean").to_numpy()
        rate_d = Xd["rate_pct"].to_numpy()
        other = Xd.drop(columns="rate_pct").to_numpy()
        if other.shape[1]:
            rate_d = rate_d - other @ np.linalg.lstsq(other, rate_d, rcond=None)[0]
        if np.std(rate_d) < 1e-9:
            raise WorkbenchError("The rebate rate only ever changed for all partners at once, so its effect cannot "
                                 "be told apart from the quarter's; the response needs pilots or staggered changes.")
        res = sm.OLS(yd, Xd).fit(cov_type="cluster", cov_kwds={"groups": groups})
        n, k, g = len(yd), Xd.shape[1], groups.max() + 1
        self.beta_ = float(res.params["rate_pct"])
        self.se_ = float(res.bse["rate_pct"])
        lo, hi = res.conf_int(alpha=self.alpha).loc["rate_pct"]
        self.ci_ = (float(lo), float(hi))
        self.sigma_ = float(np.sqrt(np.sum(res.resid**2) / max(n - g - k, 1)))
        self.n_obs_, self.n_partners_, self.n_quarters_ = n, int(g), int(quarters.nunique())
        self.summary_ = pd.DataFrame({
            "term": ["rate_pct"], "estimate": [self.beta_], "std_error": [self.se_],
            "ci_low": [self.ci_[0]], "ci_high": [self.ci_[1]], "p_value": [float(res.pvalues["rate_pct"])],
            "n_obs": [n], "n_partners": [int(g)], "n_quarters": [self.n_quarters_], "sigma": [self.sigma_],
        })
        return self

    def draw_beta(self, n: int, *, seed: int) -> np.ndarray:
        """n draws of beta from its estimated sampling distribution N(beta_, se_²)."""
        return np.random.default_rng(seed).normal(self.beta_, self.se_, size=n)


def fit_response(con: Any, *, as_of: date, region: str | None = None, **kwargs: Any) -> RebateResponseModel:
    """Fit the response model on every quarter of store history that ended by as_of."""
    start, end = _history_window(con, as_of=as_of)
    panel = partner_quarter_panel(con, start=start, end=end, region=region)
    return RebateResponseModel(**kwargs).fit(panel)


def _history_window(con: Any, *, as_of: date) -> tuple[date, date]:
    o = con.table("orders")
    first = o.order_date.min().to_pandas()
    if first is None or pd.isna(first):
        raise WorkbenchError("The store has no orders, so there is no sales history to simulate from.")
    end = _quarter_end(_last_complete_quarter(as_of))
    return pd.Timestamp(first).date(), end.date()


def _last_complete_quarter(as_of: date) -> pd.Period:
    ts = pd.Timestamp(as_of)
    q = pd.Period(ts, "Q")
    return q if ts.normalize() >= _quarter_end(q) else q - 1


# --------------------------------------------------------------------------------------------------
# Monte Carlo: (draws × partners) float32 arrays; one scenario = a handful of vectorized passes
# --------------------------------------------------------------------------------------------------

_F = np.float32


@dataclass(frozen=True, eq=False)
class SimulationBase:
    """Everything a scenario needs, drawn once: partner rows and no-program sales draws.

    partners: one row per partner with partner_id, baseline_sales_cny (expected quarter net sales
    without any incentive), last_year_sales_cny, tier, region, channel_type and award metrics.
    s0: (draws, partners) float32 no-program quarter sales draws (CNY); beta: (draws,) response
    draws (d ln sales / d pp). Partners are sorted by (tier, region) cell so that group sums
    ('all', each tier, each region) are a reduceat over cells followed by a tiny matrix product.
    """

    partners: pd.DataFrame
    s0: np.ndarray
    beta: np.ndarray
    group_labels: tuple[tuple[str, str], ...]
    cell_starts: np.ndarray  # partners are sorted by (tier, region) cell; first column of each cell
    cell_groups: np.ndarray  # (cells, groups) 0/1: which groups each cell belongs to
    s0_groups: np.ndarray
    period_end: pd.Timestamp | None = None
    model: RebateResponseModel | None = None

    @property
    def draws(self) -> int:
        """Number of Monte Carlo draws."""
        return int(self.s0.shape[0])

    def head(self, draws: int) -> SimulationBase:
        """The same base restricted to its first `draws` draws (views, no copy)."""
        return dataclasses.replace(self, s0=self.s0[:draws], beta=self.beta[:draws], s0_groups=self.s0_groups[:draws])


def _cells(partners: pd.DataFrame) -> tuple[pd.DataFrame, tuple[tuple[str, str], ...], np.ndarray, np.ndarray]:
    """Sort partners by (tier, region); cell starts and the cell → group membership matrix."""
    frame = partners.copy()
    for dim in ("tier", "region"):
        frame[dim] = frame[dim].astype(str) if dim in frame else "all"
    frame = frame.sort_values(["tier", "region", "partner_id"], kind="stable", ignore_index=True)
    key = (frame["tier"] + "\x00" + frame["region"]).to_numpy()
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, dtype=int)
    cell_tier = frame["tier"].to_numpy()[starts]
    cell_region = frame["region"].to_numpy()[starts]
    labels: list[tuple[str, str]] = [("all", "all")]
    cols = [np.ones(len(starts))]
    for dim, values in (("tier", cell_tier), ("region", cell_region)):
        if dim in partners:
            for v in sorted(set(values)):
                labels.append((dim, v))
                cols.append((values == v).astype(float))
    return frame, tuple(labels), starts, np.column_stack(cols)


def prepare_simulation(
    partners: pd.DataFrame,
    *,
    beta: float,
    beta_se: float,
    sigma: float,
    draws: int = 1000,
    seed: int = 0,
    period_end: date | None = None,
    model: RebateResponseModel | None = None,
) -> SimulationBase:
    """Draw beta ~ N(beta, beta_se²) and no-program sales = baseline × lognormal(σ) (mean-preserving).

    partners: one row per partner with baseline_sales_cny (and the columns programs refer to).
    """
    rng = np.random.default_rng(seed)
    frame, labels, starts, cell_groups = _cells(partners)
    if "last_year_sales_cny" not in frame:
        frame["last_year_sales_cny"] = 0.0
    b = frame["baseline_sales_cny"].to_numpy(dtype=float)
    beta_d = rng.normal(beta, beta_se, size=draws).astype(_F)
    z = rng.standard_normal((draws, len(frame)), dtype=_F)
    z *= _F(sigma)
    z += _F(-0.5 * sigma**2)
    np.exp(z, out=z)
    z *= b.astype(_F)[None, :]
    s0_groups = _group_sums(z, starts, cell_groups)
    return SimulationBase(frame, z, beta_d, labels, starts, cell_groups, s0_groups,
                          None if period_end is None else pd.Timestamp(period_end), model)


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Per-draw totals of one scenario: cost and incremental sales by group ('all', tiers, regions).

    cost_cny, incremental_sales_cny: (draws, groups), incremental vs no incentive at all; cost is
    the whole payout (discounted for the payment delay when a cost of capital is set).
    """

    program: str
    margin_pct: float
    group_labels: tuple[tuple[str, str], ...]
    cost_cny: np.ndarray
    incremental_sales_cny: np.ndarray
    partner_payout_cny: np.ndarray | None = None
    partner_sales_cny: np.ndarray | None = None

    @property
    def incremental_margin_cny(self) -> np.ndarray:
        """Gross margin on incremental sales (before incentive cost), per draw and group."""
        return self.incremental_sales_cny * (self.margin_pct / 100.0)

    @property
    def net_margin_cny(self) -> np.ndarray:
        """Incremental gross margin minus the incentive cost."""
        return self.incremental_margin_cny - self.cost_cny

    @property
    def roi(self) -> np.ndarray:
        """(incremental margin − cost) / cost per draw and group; NaN where nothing is paid."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.cost_cny > 0, self.net_margin_cny / self.cost_cny, np.nan)

    def _idx(self, by: str) -> list[int]:
        return [i for i, (dim, _) in enumerate(self.group_labels) if dim == by]

    def summary(self, by: str = "all", *, level: float = 0.90) -> pd.DataFrame:
        """Means, `level` intervals, ROI and P(ROI > 0) per group of dimension `by` (all, tier, region)."""
        idx = self._idx(by)
        lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
        rows = []
        roi = self.roi
        for i in idx:
            row: dict[str, Any] = {"scenario": self.program, "dimension": by, "group": self.group_labels[i][1]}
            for name, arr in (("cost_cny", self.cost_cny), ("incremental_sales_cny", self.incremental_sales_cny),
                              ("incremental_margin_cny", self.incremental_margin_cny),
                              ("net_margin_cny", self.net_margin_cny)):
                col = arr[:, i]
                row[name] = float(col.mean())
                row[name.replace("_cny", "_low_cny")] = float(np.quantile(col, lo))
                row[name.replace("_cny", "_high_cny")] = float(np.quantile(col, hi))
            r = roi[:, i]
            ok = np.isfinite(r)
            row["roi"] = float(np.median(r[ok])) if ok.any() else np.nan
            row["roi_low"] = float(np.quantile(r[ok], lo)) if ok.any() else np.nan
            row["roi_high"] = float(np.quantile(r[ok], hi)) if ok.any() else np.nan
            row["p_roi_positive"] = float((r[ok] > 0).mean()) if ok.any() else np.nan
            rows.append(row)
        return pd.DataFrame(rows)

    def draws_frame(self, by: str = "all") -> pd.DataFrame:
        """Long frame of the draws: draw, group, cost_cny, incremental_sales_cny, net_margin_cny, roi."""
        frames = []
        for i in self._idx(by):
            frames.append(pd.DataFrame({
                "scenario": self.program, "draw": np.arange(self.cost_cny.shape[0]), "group": self.group_labels[i][1],
                "cost_cny": self.cost_cny[:, i], "incremental_sales_cny": self.incremental_sales_cny[:, i],
                "incremental_margin_cny": self.incremental_margin_cny[:, i],
                "net_margin_cny": self.net_margin_cny[:, i], "roi": self.roi[:, i],
            }))
        return pd.concat(frames, ignore_index=True)


def _effective_rate_pct(program: Program, partners: pd.DataFrame, eligible: np.ndarray,
                        beta: float | None = None) -> np.ndarray:
    """Payout a partner expects as % of its expected sales (the rate it responds to), 0 if ineligible.

    Variable payout (volume rebate + growth bonus) at expected sales, capped per partner; with a
    total cap, scaled by the expected proration, iterating expected sales = baseline × exp(beta × rate)
    to a fixed point (awards are fixed amounts and do not move sales).
    """
    b = partners["baseline_sales_cny"].to_numpy(dtype=float)
    ly = partners["last_year_sales_cny"].to_numpy(dtype=float)
    awards = (_award_amounts(program, partners).sum(axis=1).to_numpy(dtype=float)
              if program.awards else np.zeros_like(b))
    awards = np.where(eligible, awards, 0.0)
    caps = program.caps
    rate = np.zeros_like(b)
    factor = 1.0
    for _ in range(8 if caps.total_cny is not None and beta else 1):
        s = b * np.exp((beta or 0.0) * rate)
        v = np.zeros_like(b)
        if program.volume_rebate is not None:
            v += volume_rebate_cny(s, program.thresholds_cny, program.rates_pct, program.volume_rebate.mode)
        v += growth_bonus_cny(s, ly, program.growth_bonus)
        v = np.where(eligible, v, 0.0)
        total = v + awards
        if caps.per_partner_cny is not None:
            total = np.minimum(total, caps.per_partner_cny)
            v = np.maximum(total - awards, 0.0)
        if caps.total_cny is not None:
            factor = min(1.0, caps.total_cny / total.sum()) if total.sum() > 0 else 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(s > 0, 100.0 * factor * v / s, 0.0)
    return rate


@dataclass(frozen=True)
class _Prepared:
    """Per-partner vectors of one program on one base (computed once per scenario, O(partners))."""

    rate_pct: np.ndarray  # effective response rate (float32)
    eligible: np.ndarray  # bool
    all_eligible: bool
    thresholds: np.ndarray
    steps: np.ndarray  # rate increments (fraction) at each threshold
    retroactive: bool
    pull_lo: list[np.ndarray]  # per threshold: sales from which a partner reaches it (float32, per partner)
    growth_bar: np.ndarray | None  # sales needed for the growth bonus (inf: never)
    growth_ly: np.ndarray | None
    growth_rate: float
    growth_increment: bool
    awards: np.ndarray | None
    cap_partner: float | None
    cap_total: float | None


def _prepare(base: SimulationBase, program: Program, *, pull_window_pct: float, pull_share: float,
             eligible: np.ndarray | None = None, awards: np.ndarray | None = None) -> _Prepared:
    partners = base.partners
    if eligible is None:
        eligible = _eligible(program, partners)
    if awards is None and program.awards:
        awards = _award_amounts(program, partners).sum(axis=1).to_numpy(dtype=float)
    gb = program.growth_bonus
    bar = ly = None
    if gb is not None:
        ly_f = partners["last_year_sales_cny"].to_numpy(dtype=float)
        bar = np.where((ly_f > 0) & eligible, ly_f * (1 + gb.min_growth_pct / 100.0), np.inf).astype(_F)
        ly = ly_f.astype(_F)
    vr = program.volume_rebate
    return _Prepared(
        rate_pct=_effective_rate_pct(program, partners, eligible, float(base.beta.mean())).astype(_F),
        eligible=eligible,
        all_eligible=bool(eligible.all()),
        thresholds=program.thresholds_cny,
        steps=np.diff(program.rates_pct / 100.0, prepend=0.0),
        retroactive=vr is None or vr.mode == "retroactive",
        pull_lo=[
            np.where(eligible, t * (1 - pull_window_pct / 100.0 * pull_share), t).astype(_F)
            for t in program.thresholds_cny
        ],
        growth_bar=bar,
        growth_ly=ly,
        growth_rate=gb.rate_pct / 100.0 if gb else 0.0,
        growth_increment=gb is not None and gb.base == "increment",
        awards=None if awards is None else np.where(eligible, awards, 0.0).astype(_F),
        cap_partner=program.caps.per_partner_cny,
        cap_total=program.caps.total_cny,
    )


def _block(s0: np.ndarray, beta: np.ndarray, p: _Prepared) -> tuple[np.ndarray, np.ndarray]:
    """(sales, payout) for a block of draws (rows) × all partners; float32, in cache-sized pieces."""
    s1 = np.multiply(beta[:, None], p.rate_pct[None, :])
    np.exp(s1, out=s1)
    s1 *= s0
    # Rates are multiplied by eligibility (a 0/1 row), so ineligible partners earn nothing without
    # an extra pass; growth bars are infinite and awards zero for them already.
    e = p.eligible.astype(_F)[None, :]
    steps = [(t, d, lo) for t, d, lo in zip(p.thresholds, p.steps, p.pull_lo, strict=True)]
    base_rate = _F(sum(d for t, d, _ in steps if t <= 0))
    if p.retroactive:
        rate = np.empty_like(s1)
        rate[...] = base_rate * e if not p.all_eligible else base_rate
    # Threshold pull: sales landing in [pull_lo, t) are lifted to t: s = max(s, t × 1[s ≥ pull_lo]).
    # The same indicator then switches the tier's rate step on (retroactive).
    for t, d, lo in steps:
        if t <= 0:
            continue
        lifted = np.empty_like(s1)
        np.copyto(lifted, s1 >= lo[None, :], casting="unsafe")
        lifted *= _F(t)
        np.maximum(s1, lifted, out=s1)
        if p.retroactive and d != 0:
            lifted *= (_F(d / t) * e) if not p.all_eligible else _F(d / t)
            rate += lifted
    if p.retroactive:
        pay = rate
        pay *= s1
    else:
        # Σ d_k × max(s − t_k, 0) = Σ d_k × max(s, t_k) − Σ d_k × t_k (sales are positive)
        pay = s1 * ((base_rate * e) if not p.all_eligible else base_rate)
        offset = 0.0
        for t, d, _ in steps:
            if t <= 0 or d == 0:
                continue
            band = np.maximum(s1, _F(t))
            band *= (_F(d) * e) if not p.all_eligible else _F(d)
            pay += band
            offset += d * t
        if offset:
            pay -= (_F(offset) * e) if not p.all_eligible else _F(offset)
    if p.growth_bar is not None:
        base = s1 - p.growth_ly[None, :] if p.growth_increment else s1.copy()
        hit = np.empty_like(s1)
        np.copyto(hit, s1 >= p.growth_bar[None, :], casting="unsafe")
        base *= hit
        base *= _F(p.growth_rate)
        pay += base
    if p.awards is not None:
        pay += p.awards[None, :]
    if p.cap_partner is not None:
        np.minimum(pay, _F(p.cap_partner), out=pay)
    return s1, pay


_BLOCK_ELEMENTS = 1 << 16  # ~64k floats (256 KB) per array: the passes stay in cache
_THREADS = min(2, os.cpu_count() or 1)  # numpy releases the GIL inside ufuncs


def _group_sums(x: np.ndarray, starts: np.ndarray, cell_groups: np.ndarray) -> np.ndarray:
    """(rows, partners) → (rows, groups) sums, via per-cell reduceat (partners sorted by cell)."""
    if x.shape[1] == 0:
        return np.zeros((x.shape[0], cell_groups.shape[1]))
    return np.add.reduceat(x, starts, axis=1).astype(np.float64) @ cell_groups


def _run(base: SimulationBase, p: _Prepared, cell_groups: np.ndarray, *, keep: bool = False
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Group sums of sales and payout per draw ((draws, groups) each), optionally the full arrays."""
    d, n = base.s0.shape
    rows = max(1, _BLOCK_ELEMENTS // max(n, 1))
    sales_g = np.empty((d, cell_groups.shape[1]), dtype=np.float64)
    pay_g = np.empty_like(sales_g)
    full_s = np.empty((d, n), dtype=_F) if keep else None
    full_p = np.empty((d, n), dtype=_F) if keep else None

    def work(chunk: range) -> None:
        for i in chunk:
            j = min(d, i + rows)
            s1, pay = _block(base.s0[i:j], base.beta[i:j], p)
            sales_g[i:j] = _group_sums(s1, base.cell_starts, cell_groups)
            pay_g[i:j] = _group_sums(pay, base.cell_starts, cell_groups)
            if p.cap_total is not None:  # prorate per draw: total is the first ('all') group
                total = pay_g[i:j, 0] if cell_groups[:, 0].all() else pay.sum(axis=1, dtype=np.float64)
                factor = np.minimum(1.0, p.cap_total / np.maximum(total, 1e-9))
                pay_g[i:j] *= factor[:, None]
                if keep:
                    pay *= factor.astype(_F)[:, None]
            if keep:
                full_s[i:j], full_p[i:j] = s1, pay

    starts = list(range(0, d, rows))
    if _THREADS > 1 and d * n >= 1_000_000:
        from concurrent.futures import ThreadPoolExecutor

        chunks = [range(starts[k], d, rows * _THREADS) for k in range(min(_THREADS, len(starts)))]
        with ThreadPoolExecutor(_THREADS) as pool:
            list(pool.map(work, chunks))
    else:
        work(range(0, d, rows))
    return sales_g, pay_g, full_s, full_p


def simulate(
    base: SimulationBase,
    program: Program,
    *,
    margin_pct: float | None = None,
    pull_window_pct: float | None = None,
    pull_share: float | None = None,
    cost_of_capital_pct: float | None = None,
    keep_partner_draws: bool = False,
) -> SimulationResult:
    """Monte Carlo of one program on the base's draws (assumptions default to the program's own).

    Sales respond as s = s0 × exp(beta × rate the partner expects to earn, in pp, see
    _effective_rate_pct), then the threshold pull lifts sales just below a volume threshold to it
    (Assumptions); the payout is computed exactly (tiers, growth bonus, awards, eligibility, caps)
    on every draw. Incremental sales and cost are relative to no incentive at all.
    """
    a = program.assumptions
    margin = a.margin_pct if margin_pct is None else margin_pct
    window = a.pull_window_pct if pull_window_pct is None else pull_window_pct
    share = a.pull_share if pull_share is None else pull_share
    coc = a.cost_of_capital_pct if cost_of_capital_pct is None else cost_of_capital_pct
    prep = _prepare(base, program, pull_window_pct=window, pull_share=share)
    sales_g, cost, s1, pay = _run(base, prep, base.cell_groups, keep=keep_partner_draws)
    if coc > 0:
        cost /= (1 + coc / 100.0) ** (program.payment_delay_days / 365.0)
    return SimulationResult(program.name, float(margin), base.group_labels, cost, sales_g - base.s0_groups, pay, s1)


def compare_scenarios(
    base: SimulationBase, scenarios: dict[str, Program], *, current: str, margin_pct: float | None = None,
    by: str = "all",
) -> pd.DataFrame:
    """Scenarios side by side on the same draws, with the difference in net margin vs `current`.

    Rows: one per scenario (× group of `by`); adds delta_net_margin_cny (mean) and p_better (share
    of draws in which the scenario's net margin beats the current program's).
    """
    if current not in scenarios:
        raise WorkbenchError(f"The current program '{current}' is not among the scenarios ({', '.join(scenarios)}).")
    results = {name: simulate(base, p, margin_pct=margin_pct) for name, p in scenarios.items()}
    ref = results[current]
    frames = []
    for name, res in results.items():
        s = res.summary(by).assign(scenario=name)
        idx = res._idx(by)
        diff = res.net_margin_cny[:, idx] - ref.net_margin_cny[:, idx]
        s["delta_cost_cny"] = (res.cost_cny[:, idx] - ref.cost_cny[:, idx]).mean(axis=0)
        s["delta_net_margin_cny"] = diff.mean(axis=0)
        s["p_better"] = (diff > 0).mean(axis=0) if name != current else np.nan
        s["is_current"] = name == current
        frames.append(s)
    return pd.concat(frames, ignore_index=True)


def _rates_str(rates: np.ndarray) -> str:
    return " / ".join(f"{r:g}%" for r in rates)


def optimize_budget(
    base: SimulationBase,
    program: Program,
    *,
    budget_cny: float,
    margin_pct: float | None = None,
    step_pct: float = 0.25,
    max_rate_pct: float = 15.0,
    draws: int = 200,
    start_rates_pct: Any = None,
    objective: Literal["incremental_margin", "net_margin"] = "incremental_margin",
) -> tuple[Program, pd.Series]:
    """Volume-tier rates (non-decreasing across tiers, on a `step_pct` grid) maximizing the expected
    incremental gross margin (objective 'incremental_margin') or incremental margin minus cost
    ('net_margin') with expected cost ≤ budget_cny.

    Coordinate ascent over the tiers from the best feasible of {all zero, the program's rates,
    start_rates_pct}, on the first `draws` draws. Returns the optimized program and its figures.
    """
    if program.volume_rebate is None:
        raise WorkbenchError(f"Program '{program.name}' has no volume rebate tiers to optimize.")
    sub = base.head(min(draws, base.draws))
    a = program.assumptions
    margin = a.margin_pct if margin_pct is None else margin_pct
    eligible = _eligible(program, sub.partners)
    awards = _award_amounts(program, sub.partners).sum(axis=1).to_numpy(dtype=float) if program.awards else None
    k = len(program.rates_pct)
    grid = np.round(np.arange(0.0, max_rate_pct + 1e-9, step_pct), 6)
    cache: dict[tuple[float, ...], tuple[float, float, float]] = {}

    def evaluate(rates: np.ndarray) -> tuple[float, float, float]:
        key = tuple(np.round(rates, 6))
        if key not in cache:
            p = with_rates(program, rates)
            prep = _prepare(sub, p, pull_window_pct=a.pull_window_pct, pull_share=a.pull_share,
                            eligible=eligible, awards=awards)
            sales_g, pay_g, _, _ = _run(sub, prep, sub.cell_groups[:, :1])
            cost = float(pay_g.mean())
            incr = float(sales_g.mean() - sub.s0_groups[:, 0].mean())
            gross = margin / 100.0 * incr
            cache[key] = (gross - cost if objective == "net_margin" else gross, cost, incr)
        return cache[key]

    starts = [np.zeros(k), program.rates_pct.copy()]
    if start_rates_pct is not None:
        starts.append(np.asarray(start_rates_pct, dtype=float))
    feasible = [s for s in starts if evaluate(s)[1] <= budget_cny + 1e-6]
    best = max(feasible, key=lambda s: evaluate(s)[0]) if feasible else np.zeros(k)
    def better(cand: np.ndarray) -> bool:
        if np.any(np.diff(cand) < -1e-9) or cand.min() < -1e-9 or cand.max() > max_rate_pct + 1e-9:
            return False
        obj, cost, _ = evaluate(cand)
        return cost <= budget_cny + 1e-6 and obj > evaluate(best)[0] + 1e-6

    for _ in range(8):
        improved = False
        for i in range(k):  # one tier at a time
            for r in grid:
                cand = best.copy()
                cand[i] = r
                if better(cand):
                    best, improved = cand, True
        for i in range(k):  # move money between two tiers: lower i, raise j as far as the budget allows
            for j in range(k):
                if i == j:
                    continue
                for steps_down in (1, 2, 4):
                    cand = best.copy()
                    cand[i] -= steps_down * step_pct
                    if cand[i] < -1e-9:
                        continue
                    chosen = None
                    for r in grid[grid > best[j] + 1e-9]:
                        trial = cand.copy()
                        trial[j] = r
                        if evaluate(trial)[1] > budget_cny + 1e-6:
                            break
                        chosen = trial
                    if chosen is not None and better(chosen):
                        best, improved = chosen, True
        if not improved:
            break
    _, cost, incr = evaluate(best)
    optimized = with_rates(program, best, name=f"{program.name} (optimized for budget {budget_cny:,.0f})")
    figures = pd.Series({
        "budget_cny": float(budget_cny), "expected_cost_cny": cost, "incremental_sales_cny": incr,
        "incremental_margin_cny": margin / 100.0 * incr, "net_margin_cny": margin / 100.0 * incr - cost,
        "rates": _rates_str(best), **{f"rate_tier_{i + 1}_pct": float(r) for i, r in enumerate(best)},
    })
    return optimized, figures


def budget_frontier(
    base: SimulationBase, program: Program, *, budgets_cny: Any, margin_pct: float | None = None, **kwargs: Any
) -> pd.DataFrame:
    """Budget → best expected incremental margin (or net margin, per `objective` in kwargs): one
    optimize_budget row per budget (increasing, each warm-started from the previous solution)."""
    rows = []
    start = None
    for budget in sorted(float(b) for b in budgets_cny):
        _, fig = optimize_budget(base, program, budget_cny=budget, margin_pct=margin_pct,
                                 start_rates_pct=start, **kwargs)
        start = fig[[c for c in fig.index if c.startswith("rate_tier_")]].to_numpy(dtype=float)
        rows.append(fig)
    return pd.DataFrame(rows).reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# From the store: baseline, simulation base, the per-partner what-if table (CLI)
# --------------------------------------------------------------------------------------------------


def default_as_of(con: Any) -> pd.Timestamp:
    """Last day of the last complete quarter covered by the store's orders."""
    last = con.table("orders").order_date.max().to_pandas()
    if last is None or pd.isna(last):
        raise WorkbenchError("The store has no orders, so there is no sales history to simulate from.")
    return _quarter_end(_last_complete_quarter(pd.Timestamp(last)))


def new_product_lines(*programs: Program) -> dict[str, tuple[str, ...]]:
    """award name → product lines, for the new-product-sales awards of `programs`."""
    return {a.name: a.product_lines for p in programs for a in p.awards if a.metric == "new_product_sales_cny"}


def baseline_sales(panel: pd.DataFrame, *, beta: float, as_of: date, quarters: int = 4) -> pd.DataFrame:
    """Expected no-incentive net sales (CNY) of each partner in the quarter after as_of's last complete one.

    Mean of the last `quarters` complete quarters' net sales, each deflated by exp(−beta × its realised
    rate), times the network's seasonal factor (same quarter last year vs that mean, over partners with
    the full window). Rows: partners with net sales > 0 in the last complete quarter. Columns:
    partner_id, baseline_sales_cny, last_year_sales_cny, last_quarter_sales_cny, current_rate_pct.
    """
    q_a = _last_complete_quarter(as_of)
    target = q_a + 1
    hist = panel[(panel["quarter"] > q_a - quarters) & (panel["quarter"] <= q_a)].copy()
    hist["deflated"] = hist["net_sales_cny"].clip(lower=0) * np.exp(-beta * hist["rate_pct"].fillna(0.0))
    g = hist.groupby("partner_id")
    out = pd.DataFrame({"mean_deflated": g["deflated"].mean(), "n_quarters": g["quarter"].nunique()})
    last = hist[hist["quarter"] == q_a].set_index("partner_id")
    out["last_quarter_sales_cny"] = last["net_sales_cny"].reindex(out.index).fillna(0.0)
    out["current_rate_pct"] = last["rate_pct"].reindex(out.index).fillna(0.0)
    ly = panel[panel["quarter"] == target - 4].set_index("partner_id")
    out["last_year_sales_cny"] = ly["net_sales_cny"].reindex(out.index).fillna(0.0).clip(lower=0)
    ly_defl = (ly["net_sales_cny"].clip(lower=0) * np.exp(-beta * ly["rate_pct"].fillna(0.0))).reindex(out.index)
    full = (out["n_quarters"] == quarters) & ly_defl.notna()
    season = float(ly_defl[full].sum() / out.loc[full, "mean_deflated"].sum()) if full.any() else 1.0
    out["baseline_sales_cny"] = out["mean_deflated"] * (season if np.isfinite(season) and season > 0 else 1.0)
    out = out[(out["last_quarter_sales_cny"] > 0) & (out["baseline_sales_cny"] > 0)]
    cols = ["baseline_sales_cny", "last_year_sales_cny", "last_quarter_sales_cny", "current_rate_pct"]
    return out[cols].reset_index()


def simulation_base(
    con: Any,
    *,
    as_of: date | None = None,
    region: str | None = None,
    draws: int = 1000,
    seed: int = 0,
    baseline_quarters: int = 4,
    model: RebateResponseModel | None = None,
    programs: tuple[Program, ...] = (),
) -> SimulationBase:
    """Fit the response model on the store's history up to as_of and draw the simulation base for the
    next quarter (partners active in the last complete quarter; `programs` name the award metrics).

    With a region, the response is estimated on that region's partners; when the region has too little
    history for it, on the whole network (`base.model.scope_` says which).
    """
    as_of = default_as_of(con) if as_of is None else pd.Timestamp(as_of)
    start, end = _history_window(con, as_of=as_of)
    panel = partner_quarter_panel(con, start=start, end=end, region=region)
    if model is None:
        try:
            model = RebateResponseModel().fit(panel)
            model.scope_ = "all" if region in (None, "all") else region
        except WorkbenchError:
            if region in (None, "all"):
                raise
            # Too little history in one region: estimate the one coefficient on the whole network
            # (only the coefficient is used; no other region's partner appears anywhere).
            network = partner_quarter_panel(con, start=start, end=end, region=None)
            model = RebateResponseModel().fit(network)
            model.scope_ = "all"
    base = baseline_sales(panel, beta=model.beta_, as_of=as_of, quarters=baseline_quarters)
    attrs = partner_attributes(con, as_of=as_of, region=region, new_product_lines=new_product_lines(*programs))
    frame = attrs.merge(base, on="partner_id", how="inner")
    if frame.empty:
        raise WorkbenchError(f"No partner had sales in the quarter before {pd.Timestamp(as_of).date()}, so there is nothing to simulate.")
    target = _last_complete_quarter(as_of) + 1
    return prepare_simulation(frame, beta=model.beta_, beta_se=model.se_, sigma=model.sigma_, draws=draws,
                              seed=seed, period_end=_quarter_end(target), model=model)


def partner_outcomes(base: SimulationBase, result: SimulationResult, *, level: float = 0.90) -> pd.DataFrame:
    """Per partner: expected sales, incremental sales and payout with `level` intervals (needs a result
    simulated with keep_partner_draws=True)."""
    if result.partner_payout_cny is None or result.partner_sales_cny is None:
        raise WorkbenchError("Simulate with keep_partner_draws=True to get per-partner outcomes.")
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    pay, sales = result.partner_payout_cny, result.partner_sales_cny
    incr = sales - base.s0
    keep = [c for c in ("partner_id", "name", "region", "channel_type", "tier") if c in base.partners]
    out = base.partners[keep].copy()
    out["baseline_sales_cny"] = base.partners["baseline_sales_cny"].to_numpy()
    out["expected_sales_cny"] = sales.mean(axis=0, dtype=np.float64)
    out["incremental_sales_cny"] = incr.mean(axis=0, dtype=np.float64)
    out["incremental_sales_low_cny"], out["incremental_sales_high_cny"] = np.quantile(incr, [lo, hi], axis=0)
    out["expected_payout_cny"] = pay.mean(axis=0, dtype=np.float64)
    out["payout_low_cny"], out["payout_high_cny"] = np.quantile(pay, [lo, hi], axis=0)
    money = [c for c in out.columns if c.endswith("_cny")]
    out[money] = out[money].astype(float).round(2)
    return out.sort_values("partner_id", ignore_index=True)


def _money(x: float, lang: str = "en") -> str:
    if lang == "zh":
        for unit, div in (("亿", 1e8), ("万", 1e4)):
            if abs(x) >= div:
                return f"¥{x / div:,.2f}{unit}"
        return f"¥{x:,.0f}"
    for unit, div in (("bn", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"¥{x / div:,.2f}{unit}"
    return f"¥{x:,.0f}"


def summary_line(program: Program, result: SimulationResult, base: SimulationBase, *, lang: str = "en") -> str:
    """One sentence (en or zh): cost, incremental sales and margin with 90% intervals, ROI, P(ROI > 0)."""
    s = result.summary("all").iloc[0]
    m = base.model

    def money(x: float) -> str:
        return _money(x, lang)

    quarter = str(pd.Period(base.period_end, "Q")) if base.period_end is not None else ""
    if lang == "zh":
        beta = f"；销量响应 {m.beta_:.4f} ± {m.se_:.4f}（每个返利百分点的对数销售额变化）" if m is not None else ""
        return (
            f"{program.name}（{quarter}）：{len(base.partners):,} 家经销商，预期成本 {money(s.cost_cny)}"
            f"（90% 区间 {money(s.cost_low_cny)} 至 {money(s.cost_high_cny)}），增量销售额 "
            f"{money(s.incremental_sales_cny)}（90% 区间 {money(s.incremental_sales_low_cny)} 至 "
            f"{money(s.incremental_sales_high_cny)}），毛利率 {result.margin_pct:g}% 时增量毛利 "
            f"{money(s.incremental_margin_cny)}，投资回报率 {s.roi:+.0%}，回报为正的概率 {s.p_roi_positive:.0%}{beta}。"
        )
    beta = f"; response {m.beta_:.4f} ± {m.se_:.4f} ln-sales per pp" if m is not None else ""
    return (
        f"{program.name}{' in ' + quarter if quarter else ''}: {len(base.partners):,} partners, expected cost "
        f"{money(s.cost_cny)} (90% {money(s.cost_low_cny)} to {money(s.cost_high_cny)}), incremental sales "
        f"{money(s.incremental_sales_cny)} (90% {money(s.incremental_sales_low_cny)} to "
        f"{money(s.incremental_sales_high_cny)}), incremental gross margin {money(s.incremental_margin_cny)} "
        f"at {result.margin_pct:g}% margin, ROI {s.roi:+.0%} with P(ROI > 0) = {s.p_roi_positive:.0%}{beta}."
    )


def whatif_table(con: Any, program_path: str | Path, *, as_of: date | None = None) -> tuple[pd.DataFrame, str]:
    """Per-partner expected payout, incremental sales and 90% intervals of a program file, plus a
    summary line (the `workbench whatif` command). The program is validated before anything runs."""
    program = load_program(program_path)
    a = program.assumptions
    base = simulation_base(con, as_of=as_of, draws=a.draws, seed=a.seed, baseline_quarters=a.baseline_quarters,
                           programs=(program,))
    result = simulate(base, program, keep_partner_draws=True)
    table = partner_outcomes(base, result)
    eligible = _eligible(program, base.partners)
    table.insert(table.columns.get_loc("baseline_sales_cny"), "eligible",
                 pd.Series(eligible, index=base.partners["partner_id"]).reindex(table["partner_id"]).to_numpy())
    table["payment_date"] = (base.period_end + pd.Timedelta(days=program.payment_delay_days)).date()
    return table, summary_line(program, result, base)
