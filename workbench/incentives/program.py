"""Program specs: the YAML schema (dataclasses), validation, load/save, rate variants.

Units: money in the store's currency (fields end in ``_cny`` for history), rates in percent (``_pct``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from workbench import config
from workbench.errors import ConfigError, WorkbenchError

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
    baseline_quarters: complete quarters averaged into each partner's baseline sales;
    prior_response_per_pp / prior_response_se: the program's stated response (d ln quarter sales per
    rebate point) and its uncertainty, used only when the store's history cannot estimate it (no
    incentive ledger, a rate that never varied, too little history): the page then says the response
    is assumed, not estimated; prior_sigma: sd of quarterly log sales used when the history is too
    short to measure it.
    """

    margin_pct: float = 30.0
    draws: int = 1000
    seed: int = 0
    pull_window_pct: float = 5.0
    pull_share: float = 0.5
    cost_of_capital_pct: float = 0.0
    baseline_quarters: int = 4
    prior_response_per_pp: float = 0.03
    prior_response_se: float = 0.015
    prior_sigma: float = 0.35


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
    _check(-1 < a.prior_response_per_pp < 1, f"{aw}: prior_response_per_pp",
           f"must be a log-sales change per rebate point between -1 and 1, not {a.prior_response_per_pp:g}")
    _check(a.prior_response_se >= 0, f"{aw}: prior_response_se", f"must be zero or more, not {a.prior_response_se:g}")
    _check(a.prior_sigma >= 0, f"{aw}: prior_sigma", f"must be zero or more, not {a.prior_sigma:g}")
    _check(a.cost_of_capital_pct >= 0, f"{aw}: cost_of_capital_pct", f"must be zero or more, not {a.cost_of_capital_pct:g}")
    return program


# Currency-neutral field names (the store's currency applies) → the historical ``_cny`` names.
ALIASES: dict[str, str] = {
    "threshold": "threshold_cny", "amount": "amount_cny", "per_partner": "per_partner_cny", "total": "total_cny",
}
METRIC_ALIASES: dict[str, str] = {"new_product_sales": "new_product_sales_cny"}


def _dealias(data: Any, where: str) -> Any:
    """A copy of parsed YAML with currency-neutral keys renamed to their ``_cny`` names (both → ConfigError)."""
    if isinstance(data, list):
        return [_dealias(v, f"{where}[{i}]") for i, v in enumerate(data)]
    if not isinstance(data, dict):
        return data
    out: dict[Any, Any] = {}
    for key, value in data.items():
        name = ALIASES.get(key, key) if isinstance(key, str) else key
        if name != key and name in data:
            raise ConfigError(f"{where}: '{key}' and '{name}' name the same field; give only one.")
        if name == "metric" and isinstance(value, str):
            value = METRIC_ALIASES.get(value, value)
        out[name] = _dealias(value, f"{where}: {key}")
    return out


def program_from_dict(data: Any, *, where: str = "program") -> Program:
    """Build and validate a Program from a parsed YAML mapping (ConfigError on any problem).

    Money fields may use currency-neutral names (``threshold``, ``amount``, ``per_partner``,
    ``total``; metric ``new_product_sales``) or the older ``_cny`` ones.
    """
    return validate_program(config.from_dict(Program, _dealias(data, where), where=where), where=where)


def load_program(path: str | Path) -> Program:
    """Load and validate a program YAML file; a malformed file raises one ConfigError sentence."""
    return program_from_dict(config.load_yaml(path), where=str(path))


def program_to_dict(program: Program) -> dict[str, Any]:
    """The program as plain data (tuples → lists, currency-neutral names), ready for yaml.safe_dump."""

    def plain(value: Any) -> Any:
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, np.generic):
            return value.item()
        return value

    def neutral(value: Any) -> Any:  # currency-neutral field names (load_program reads both)
        if isinstance(value, list):
            return [neutral(v) for v in value]
        if not isinstance(value, dict):
            return value
        back = {v: k for k, v in ALIASES.items()}
        metrics = {v: k for k, v in METRIC_ALIASES.items()}
        return {back.get(k, k): (metrics.get(v, v) if k == "metric" else neutral(v)) for k, v in value.items()}

    return neutral(plain(dataclasses.asdict(program)))


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

