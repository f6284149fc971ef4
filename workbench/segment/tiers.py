"""The tier scorecard: core / growth / pilot (核心 / 成长 / 试点) from weighted components.

Components (sales, coverage, cooperation), their inputs, cut-offs, the promotion rule and the playbook
per tier are read from ``config/tiers.yaml``; every partner's score keeps its components so a manager
can see why a partner is only "growth". Tiers are always scored over the whole network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import ibis.selectors as s
import numpy as np
import pandas as pd

from workbench import config as wbconfig
from workbench.errors import ConfigError
from workbench.paths import config_file
from workbench.segment._common import _as_date, _is_all, _population, _window_orders
from workbench.store import cached_per_store

__all__ = [
    "TIERS",
    "ScoreInput",
    "Component",
    "Cutoffs",
    "Promotion",
    "TierConfig",
    "load_tier_config",
    "scorecard_inputs",
    "score_partners",
    "assign_tiers",
    "tier_thresholds",
    "tier_scorecard",
    "network_scorecard",
    "partner_tiers",
    "network_inputs",
    "scorecard_view",
    "tier_summary",
]

TIERS: tuple[str, str, str] = ("core", "growth", "pilot")

# --------------------------------------------------------------------------------------------------
# Tier configuration (config/tiers.yaml)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreInput:
    """One raw input of a score component, turned into 0–100 points.

    column: a column of the scorecard inputs (see `scorecard_inputs`); fallback: column used where
    `column` is missing (e.g. product breadth where active outlets are not reported); cap: None scores
    by percentile rank within the population, a number scores 100·min(value / cap, 1) (absolute).
    """

    column: str
    weight: float = 1.0
    cap: float | None = None
    fallback: str | None = None


@dataclass(frozen=True)
class Component:
    """A score dimension: its weight in the total score and its inputs (weighted mean of input points)."""

    weight: float
    inputs: list[ScoreInput]
    label: str = ""


@dataclass(frozen=True)
class Cutoffs:
    """Tier cut-offs on the total score: by score percentile (core ≥ 80 = top 20%) or absolute points."""

    method: Literal["percentile", "absolute"]
    core: float
    growth: float


@dataclass(frozen=True)
class Promotion:
    """A pilot is ready for promotion when its score is within `margin` points of the growth cut-off
    and rose by at least `min_gain` points since the earlier date."""

    margin: float = 10.0
    min_gain: float = 5.0


@dataclass(frozen=True)
class TierConfig:
    """The tier scorecard: components with weights, cut-offs, promotion rule and per-tier playbook."""

    components: dict[str, Component]
    cutoffs: Cutoffs
    playbook: dict[str, list[str]]
    promotion: Promotion = field(default_factory=Promotion)
    playbook_zh: dict[str, list[str]] | None = None
    contact_every_days: dict[str, int] | None = None  # contact cadence per tier (days; workbench.relations)

    def actions(self, tier: str) -> str:
        """The playbook of `tier` as one line ('; '-joined); `present.segment.playbook` gives it in a language."""
        return "; ".join(self.playbook[tier])


def _validate_tier_config(cfg: TierConfig, where: str) -> TierConfig:
    """Semantic checks the type loader cannot make; one ConfigError sentence naming the field."""
    if not cfg.components:
        raise ConfigError(f"{where}: components must list at least one score component.")
    for name, comp in cfg.components.items():
        if not math.isfinite(comp.weight) or comp.weight < 0:
            raise ConfigError(f"{where}: components: {name}: weight must be a number ≥ 0, not {comp.weight}.")
        if not comp.inputs:
            raise ConfigError(f"{where}: components: {name}: inputs must list at least one column.")
        for i, inp in enumerate(comp.inputs):
            if not math.isfinite(inp.weight) or inp.weight <= 0:
                raise ConfigError(
                    f"{where}: components: {name}: inputs[{i}]: weight must be a number > 0, not {inp.weight}."
                )
            if inp.cap is not None and not inp.cap > 0:
                raise ConfigError(
                    f"{where}: components: {name}: inputs[{i}]: cap must be a number > 0, not {inp.cap}."
                )
    if sum(c.weight for c in cfg.components.values()) <= 0:
        raise ConfigError(f"{where}: components: the weights must not all be zero.")
    cut = cfg.cutoffs
    for tier in ("core", "growth"):
        value = getattr(cut, tier)
        if not 0 <= value <= 100:
            raise ConfigError(f"{where}: cutoffs: {tier} must lie between 0 and 100, not {value}.")
    if not cut.core > cut.growth:
        raise ConfigError(
            f"{where}: cutoffs: core ({cut.core}) must be greater than growth ({cut.growth})."
        )
    for key, book in (("playbook", cfg.playbook), ("playbook_zh", cfg.playbook_zh)):
        if book is None:
            continue
        missing = [t for t in TIERS if t not in book]
        if missing:
            raise ConfigError(f"{where}: {key} is missing the tier '{missing[0]}' (needs core, growth, pilot).")
        extra = sorted(set(book) - set(TIERS))
        if extra:
            raise ConfigError(f"{where}: {key} has unknown tier '{extra[0]}' (allowed: core, growth, pilot).")
    if cfg.promotion.margin < 0 or cfg.promotion.min_gain < 0:
        raise ConfigError(f"{where}: promotion: margin and min_gain must be ≥ 0.")
    return cfg


def load_tier_config(source: str | Path | dict | TierConfig | None = None) -> TierConfig:
    """The tier scorecard from `source`: a YAML path, an already parsed mapping, or None for config/tiers.yaml."""
    if isinstance(source, TierConfig):
        return source
    if isinstance(source, dict):
        where = "tier config"
        return _validate_tier_config(wbconfig.from_dict(TierConfig, source, where=where), where)
    path = Path(source) if source is not None else config_file("tiers.yaml")
    return _validate_tier_config(wbconfig.load(TierConfig, path), str(path))



def scorecard_inputs(con: ibis.BaseBackend, *, as_of: Any, region: str | None = None) -> ir.Table:
    """One row per partner in the population at `as_of`: the raw inputs of the tier scorecard.

    Columns: partner_id, region, channel_type, net_sales_365d (currency), order_days_365d,
    active_months_365d (0–12), order_regularity (share of the last 12 months with an order),
    product_breadth_365d (distinct product lines bought), active_outlets (latest reported month in the
    last 365 days; null where not reported), tenure_days, trainings_passed_365d. Only rows dated
    ≤ as_of are used (point in time).
    """
    day = _as_date(as_of)
    pop = _population(con, day, region).select("partner_id", "region", "channel_type", "onboard_date")
    o = _window_orders(con, day, 365)
    live = ~o.is_return.fill_null(False)
    sales = o.group_by("partner_id").aggregate(
        net_sales_365d=o.net_amount.sum().cast("float64"),
        order_days_365d=o.order_date.nunique(where=live),
        active_months_365d=o.order_date.truncate("M").nunique(where=live),
        product_breadth_365d=o.product_line.nunique(where=live & o.net_amount.notnull()),
    )
    c = con.table("coverage")
    c = c.filter(c.month <= day, c.month > day - timedelta(days=365))
    cov = c.group_by("partner_id").aggregate(active_outlets=c.active_outlets.argmax(c.month).cast("float64"))
    t = con.table("trainings")
    t = t.filter(t.training_date <= day, t.training_date > day - timedelta(days=365))
    tr = t.group_by("partner_id").aggregate(
        trainings_passed_365d=t.passed.fill_null(False).cast("int64").sum()
    )
    j = (
        pop.left_join(sales, "partner_id")
        .select(~s.matches("_right$"))
        .left_join(cov, "partner_id")
        .select(~s.matches("_right$"))
        .left_join(tr, "partner_id")
        .select(~s.matches("_right$"))
    )
    return j.select(
        "partner_id",
        "region",
        "channel_type",
        net_sales_365d=j.net_sales_365d.fill_null(0.0),
        order_days_365d=j.order_days_365d.fill_null(0).cast("int64"),
        active_months_365d=j.active_months_365d.fill_null(0).cast("int64"),
        order_regularity=(j.active_months_365d.fill_null(0).cast("float64") / 12.0),
        product_breadth_365d=j.product_breadth_365d.fill_null(0).cast("int64"),
        active_outlets=j.active_outlets,
        tenure_days=ibis.date(day).delta(j.onboard_date.cast("date"), unit="day").cast("int64"),
        trainings_passed_365d=j.trainings_passed_365d.fill_null(0).cast("int64"),
    ).order_by("partner_id")


# --------------------------------------------------------------------------------------------------
# Scorecard (pandas, DataFrame in → DataFrame out)
# --------------------------------------------------------------------------------------------------


def _pct_points(values: pd.Series) -> pd.Series:
    """Percentile rank in points, 0 (lowest) … 100 (highest), ties averaged; one value scores 100."""
    v = values.astype("float64")
    n = int(v.notna().sum())
    if n <= 1:
        return v.where(v.isna(), 100.0)
    return (v.rank(method="average") - 1.0) / (n - 1) * 100.0


def _input_points(frame: pd.DataFrame, inp: ScoreInput, where: str) -> pd.Series:
    for col in (inp.column, inp.fallback):
        if col is not None and col not in frame.columns:
            known = ", ".join(c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]))
            raise ConfigError(f"{where} names the column '{col}', which the scorecard inputs lack (known: {known}).")

    def points(col: str) -> pd.Series:
        v = pd.to_numeric(frame[col], errors="coerce").astype("float64")
        if inp.cap is None:
            return _pct_points(v)
        return (v.clip(lower=0) / inp.cap).clip(upper=1.0) * 100.0

    pts = points(inp.column)
    if inp.fallback is not None:
        missing = frame[inp.column].isna()
        if missing.any():
            fb = points(inp.fallback).where(missing)
            if inp.cap is None:  # rank the fallback only among the partners that need it
                fb = _pct_points(pd.to_numeric(frame.loc[missing, inp.fallback], errors="coerce")).reindex(
                    frame.index
                )
            pts = pts.where(~missing, fb)
    return pts.fillna(0.0)


def score_partners(inputs: pd.DataFrame, cfg: TierConfig | str | Path | dict | None = None) -> pd.DataFrame:
    """Score each partner 0–100 per component and in total (weighted mean of components).

    inputs: one row per partner with `partner_id` and the columns the config names (see
    `scorecard_inputs`). Returns partner_id, one `<component>_score` column per component (0–100
    points), `score` (0–100) and `score_pct` (the total's percentile rank in the population, 0–100).
    """
    cfg = load_tier_config(cfg)
    out = pd.DataFrame({"partner_id": inputs["partner_id"].to_numpy()}, index=inputs.index)
    total_w = sum(c.weight for c in cfg.components.values())
    score = pd.Series(0.0, index=inputs.index)
    for name, comp in cfg.components.items():
        w_in = sum(i.weight for i in comp.inputs)
        pts = sum(
            _input_points(inputs, inp, f"components: {name}: inputs[{k}]") * inp.weight
            for k, inp in enumerate(comp.inputs)
        )
        out[f"{name}_score"] = (pts / w_in).round(2)
        score = score + (pts / w_in) * comp.weight / total_w
    out["score"] = score.round(2)
    out["score_pct"] = _pct_points(score).round(2)
    return out.reset_index(drop=True)


def assign_tiers(scores: pd.DataFrame, cfg: TierConfig | str | Path | dict | None = None) -> pd.Series:
    """Tier per row of `scores` (from score_partners): core / growth / pilot by the config's cut-offs.

    Percentile cut-offs compare the total score with its population quantiles (core ≥ the 80th
    percentile of scores is the top 20%); absolute cut-offs compare the score points directly.
    """
    cfg = load_tier_config(cfg)
    core_at, growth_at = tier_thresholds(scores["score"], cfg)
    tier = np.where(scores["score"] >= core_at, "core", np.where(scores["score"] >= growth_at, "growth", "pilot"))
    return pd.Series(tier, index=scores.index, name="tier", dtype="str")


def tier_thresholds(score: pd.Series, cfg: TierConfig) -> tuple[float, float]:
    """Score points at which core and growth start (quantiles of `score` for percentile cut-offs)."""
    cut = cfg.cutoffs
    if cut.method == "absolute" or score.empty:
        return float(cut.core), float(cut.growth)
    q = np.quantile(score.to_numpy(dtype="float64"), [cut.core / 100.0, cut.growth / 100.0])
    return float(q[0]), float(q[1])


def tier_scorecard(
    inputs: pd.DataFrame, cfg: TierConfig | str | Path | dict | None = None
) -> pd.DataFrame:
    """Scores, components and tier per partner, with the tier's playbook (actions joined by '; ').

    inputs: as for `score_partners`; extra columns (region, channel_type, raw inputs) are kept.
    """
    cfg = load_tier_config(cfg)
    scores = score_partners(inputs, cfg)
    scores["tier"] = assign_tiers(scores, cfg)
    scores["playbook"] = scores["tier"].map({t: cfg.actions(t) for t in TIERS})
    keep = [c for c in inputs.columns if c not in scores.columns]
    return scores.merge(inputs[["partner_id", *keep]], on="partner_id", how="left")


def partner_tiers(
    con: ibis.BaseBackend,
    *,
    as_of: Any,
    region: str | None = None,
    config: TierConfig | str | Path | dict | None = None,
) -> pd.DataFrame:
    """partner_id and tier (core / growth / pilot) of every partner in the population at `as_of`.

    Tiers are scored over the whole network (so a region's core partners are core network-wide) and
    then restricted to `region`.
    """
    card = network_scorecard(con, as_of=as_of, config=config)
    if not _is_all(region):
        card = card[card["region"] == region]
    return card[["partner_id", "tier"]].reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# Network-wide inputs and the notebook's views
# --------------------------------------------------------------------------------------------------


def network_inputs(con: ibis.BaseBackend, *, as_of: Any) -> pd.DataFrame:
    """`scorecard_inputs` of the whole network at `as_of` as pandas (tiers are always scored network-wide);
    computed once per store and date in a process, since every regional report asks for the same."""
    return _network_inputs(con, as_of=_as_date(as_of))


@cached_per_store()
def _network_inputs(con: ibis.BaseBackend, *, as_of: date) -> pd.DataFrame:
    return scorecard_inputs(con, as_of=as_of).to_pandas()


def network_scorecard(con: ibis.BaseBackend, *, as_of: Any,
                      config: TierConfig | str | Path | dict | None = None) -> pd.DataFrame:
    """`tier_scorecard` of the whole network at `as_of`; with the default config/tiers.yaml, scored once per
    store, date and version of that file in a process (every regional page and the churn, retro and
    relations jobs ask for the same tiers, the retrospective for eight quarter ends)."""
    if config is not None:
        return tier_scorecard(network_inputs(con, as_of=as_of), config)
    path = config_file("tiers.yaml")
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = None
    return _default_scorecard(con, as_of=_as_date(as_of), config_stamp=(str(path), stamp))


@cached_per_store(maxsize=32)
def _default_scorecard(con: ibis.BaseBackend, *, as_of: date, config_stamp: tuple) -> pd.DataFrame:
    return tier_scorecard(network_inputs(con, as_of=as_of), None)


def scorecard_view(
    con: ibis.BaseBackend,
    *,
    as_of: Any,
    region: str | None = None,
    config: TierConfig | str | Path | dict | None = None,
) -> pd.DataFrame:
    """`tier_scorecard` at `as_of` (scored network-wide, then restricted to `region`) with partner name.

    Contact fields are never read; the playbook is the config's (`present.segment.localize` translates it).
    """
    card = network_scorecard(con, as_of=as_of, config=config)
    if not _is_all(region):
        card = card[card["region"] == region]
    p = con.table("partners").select("partner_id", "name").to_pandas()
    return card.merge(p, on="partner_id", how="left").reset_index(drop=True)


def tier_summary(
    card: pd.DataFrame, config: TierConfig | str | Path | dict | None = None
) -> pd.DataFrame:
    """One row per tier: partners, partner_share (0–1), median score and 12-month net sales, and the playbook.

    card: `tier_scorecard` / `scorecard_view` output (tier, score, net_sales_365d).
    """
    cfg = load_tier_config(config)
    g = card.groupby("tier")
    out = pd.DataFrame({
        "partners": g.size(),
        "median_score": g["score"].median().round(1),
        "median_net_sales_365d": g["net_sales_365d"].median().round(0),
    }).reindex(list(TIERS)).fillna(0)
    out["partners"] = out["partners"].astype("int64")
    out.insert(1, "partner_share", (out["partners"] / max(int(out["partners"].sum()), 1)).round(3))
    out["playbook"] = [cfg.actions(t) for t in TIERS]
    return out.rename_axis("tier").reset_index()


