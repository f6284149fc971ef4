"""Segmentation and tiering: the core / growth / pilot scorecard (核心 / 成长 / 试点), clustering, migration.

Three parts, each usable on its own:

- **Tier scorecard** (`load_tier_config`, `score_partners`, `partner_tiers`): weighted components
  (sales, coverage, cooperation) read from ``config/tiers.yaml``; every partner's score keeps its
  components so a manager can see why a partner is only "growth"; the playbook per tier comes from
  the same file.
- **Clustering** (`Segmenter`, `make_segmenter`): a scikit-learn estimator over any numeric partner
  table: log/robust scaling, KMeans or Gaussian mixture, k chosen over 2–8 by silhouette (or BIC)
  together with bootstrap stability (mean adjusted Rand index over resamples), clusters named in plain
  words from their profiles.
- **Tier migration** (`tier_migration`, `fell_out_of_core`, `ready_for_promotion`).

`segment_table(con, as_of=...)` joins them for `workbench segment`.
"""

from __future__ import annotations

import html
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
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClusterMixin, clone
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from workbench import config as wbconfig
from workbench.errors import ConfigError, WorkbenchError
from workbench.paths import config_file
from workbench.store import cached_per_store

__all__ = [
    "TIERS",
    "TierConfig",
    "Segmenter",
    "make_segmenter",
    "load_tier_config",
    "scorecard_inputs",
    "score_partners",
    "assign_tiers",
    "partner_tiers",
    "tier_scorecard",
    "product_mix",
    "product_mix_wide",
    "cluster_features",
    "snapshot_features",
    "SNAPSHOT_EXTRA_FEATURES",
    "name_clusters",
    "tier_migration",
    "migration_matrix",
    "tier_thresholds",
    "migration_between",
    "fell_out_of_core",
    "ready_for_promotion",
    "segment_table",
    "scorecard_view",
    "tier_summary",
    "html_table",
    "project_2d",
    "cluster_names",
    "profile_long",
    "cluster_profiles",
    "network_segments",
    "selection_table",
    "DEFAULT_CLUSTER_FEATURES",
]

TIERS: tuple[str, str, str] = ("core", "growth", "pilot")
NO_ORDERS = "no recent orders"

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

    def actions(self, tier: str, lang: str = "en") -> str:
        """The playbook of `tier` as one line ('; '-joined), in Chinese when `lang` is zh and given."""
        book = self.playbook_zh if lang == "zh" and self.playbook_zh else self.playbook
        return ("；" if book is self.playbook_zh else "; ").join(book.get(tier, self.playbook[tier]))


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


# --------------------------------------------------------------------------------------------------
# Store-side inputs (Ibis expressions; only the partner-level result comes back to pandas)
# --------------------------------------------------------------------------------------------------


def _as_date(value: Any) -> date:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise WorkbenchError("as_of must be a date such as 2026-09-30.")
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(f"as_of '{value}' is not a date (use YYYY-MM-DD).") from exc


def _population(con: ibis.BaseBackend, as_of: date, region: str | None) -> ir.Table:
    """Partners onboarded by `as_of` and not exited by it, optionally in one region."""
    p = con.table("partners")
    pop = p.filter(p.onboard_date <= as_of, p.exit_date.isnull() | (p.exit_date > as_of))
    if region not in (None, "", "all"):
        pop = pop.filter(pop.region == region)
    return pop


def _window_orders(con: ibis.BaseBackend, as_of: date, days: int) -> ir.Table:
    """Order lines dated in (as_of − days, as_of]."""
    o = con.table("orders")
    start = as_of - timedelta(days=days)
    return o.filter(o.order_date > start, o.order_date <= as_of)


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
    inputs: pd.DataFrame, cfg: TierConfig | str | Path | dict | None = None, *, lang: str = "en"
) -> pd.DataFrame:
    """Scores, components and tier per partner, with the tier's playbook (actions joined by '; ').

    inputs: as for `score_partners`; extra columns (region, channel_type, raw inputs) are kept.
    lang: "zh" shows `playbook_zh` where the config has it.
    """
    cfg = load_tier_config(cfg)
    scores = score_partners(inputs, cfg)
    scores["tier"] = assign_tiers(scores, cfg)
    scores["playbook"] = scores["tier"].map({t: cfg.actions(t, lang) for t in TIERS})
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
    inputs = network_inputs(con, as_of=as_of)
    card = tier_scorecard(inputs, config)
    if region not in (None, "", "all"):
        card = card[card["region"] == region]
    return card[["partner_id", "tier"]].reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# Product mix and clustering features
# --------------------------------------------------------------------------------------------------


def network_inputs(con: ibis.BaseBackend, *, as_of: Any) -> pd.DataFrame:
    """`scorecard_inputs` of the whole network at `as_of` as pandas (tiers are always scored network-wide);
    computed once per store and date in a process, since every regional report asks for the same."""
    return _network_inputs(con, as_of=_as_date(as_of))


@cached_per_store()
def _network_inputs(con: ibis.BaseBackend, *, as_of: date) -> pd.DataFrame:
    return scorecard_inputs(con, as_of=as_of).to_pandas()


def product_mix(con: ibis.BaseBackend, *, as_of: Any, days: int = 365, region: str | None = None) -> ir.Table:
    """Long table partner_id, product_line, net_sales, share: each partner's share of net sales per line.

    Over order lines in (as_of − days, as_of]; returns net against their line; lines whose net is
    negative count as 0; shares of a partner sum to 1 (partners with no positive net are absent).
    """
    day = _as_date(as_of)
    o = _window_orders(con, day, days)
    o = o.filter(o.product_line.notnull())
    if region not in (None, "", "all"):
        pop = _population(con, day, region).select("partner_id")
        o = o.semi_join(pop, "partner_id")
    g = o.group_by(["partner_id", "product_line"]).aggregate(net=o.net_amount.sum().cast("float64"))
    g = g.mutate(net_sales=ibis.greatest(g.net, 0.0)).drop("net")
    w = ibis.window(group_by=g.partner_id)
    g = g.mutate(total=g.net_sales.sum().over(w))
    g = g.filter(g.total > 0)
    share = ibis.least(g.net_sales / g.total, 1.0)
    return g.select("partner_id", "product_line", "net_sales", share=share).order_by(
        ["partner_id", "product_line"]
    )


def product_mix_wide(mix: pd.DataFrame | ir.Table) -> pd.DataFrame:
    """Pivot `product_mix` to one row per partner: partner_id, mix_<line> shares (0–1, missing = 0)."""
    frame = mix.to_pandas() if isinstance(mix, ir.Table) else mix
    wide = frame.pivot_table(index="partner_id", columns="product_line", values="share", aggfunc="sum", fill_value=0.0)
    wide.columns = [f"mix_{c}" for c in wide.columns]
    return wide.reset_index()


DEFAULT_CLUSTER_FEATURES: tuple[str, ...] = ("net_sales_365d", "order_days_365d", "avg_order_value")


def cluster_features(
    con: ibis.BaseBackend, *, as_of: Any, region: str | None = None, mix: bool = True
) -> pd.DataFrame:
    """Volume, behaviour and product-mix features, one row per partner with positive net sales in the
    365 days up to `as_of`.

    Columns: partner_id, net_sales_365d (currency), order_days_365d (days with an order),
    avg_order_value (net sales per order day, currency), and with `mix` line_breadth (effective number
    of product lines, exp of the mix entropy: 1 = one line) and the mix_<line> shares (0–1).
    """
    inputs = scorecard_inputs(con, as_of=as_of, region=region).to_pandas()
    feats = inputs.loc[inputs["net_sales_365d"] > 0, ["partner_id", "net_sales_365d", "order_days_365d"]].copy()
    feats["avg_order_value"] = feats["net_sales_365d"] / feats["order_days_365d"].clip(lower=1)
    if mix:
        wide = product_mix_wide(product_mix(con, as_of=as_of, region=region))
        shares = wide.drop(columns="partner_id").to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            entropy = -np.nansum(np.where(shares > 0, shares * np.log(shares), 0.0), axis=1)
        wide.insert(1, "line_breadth", np.exp(entropy))
        feats = feats.merge(wide, on="partner_id", how="inner")
    return feats.sort_values("partner_id").reset_index(drop=True)


SNAPSHOT_EXTRA_FEATURES: tuple[str, ...] = (
    "sales_trend_90d_ratio",
    "recency_days",
    "overdue_ratio",
    "order_cycle_median_days",
    "return_rate_365d",
    "discount_depth_365d",
    "satisfaction_last",
    "conflicts_365d",
    "rebate_shortfall_cny",
    "tenure_days",
    "active_outlets",
)


def snapshot_features(
    con: ibis.BaseBackend,
    *,
    as_of: Any,
    region: str | None = None,
    columns: tuple[str, ...] | list[str] = SNAPSHOT_EXTRA_FEATURES,
) -> pd.DataFrame:
    """`cluster_features` plus behaviour columns of `features.partner_snapshot` (trend, recency, rhythm,
    returns, discounts, satisfaction, conflicts, rebate shortfall, tenure, outlets) for the explorer.

    Same rows as `cluster_features`; a missing value (e.g. no survey yet) is filled with the column's
    median so every row can be clustered. Columns the snapshot lacks are skipped.
    """
    from workbench.features import partner_snapshot

    base = cluster_features(con, as_of=as_of, region=region)
    snap = partner_snapshot(con, as_of=_as_date(as_of), region=region)
    keep = [c for c in columns if c in snap.columns and c not in base.columns]
    extra = snap.select("partner_id", *keep).to_pandas()
    out = base.merge(extra, on="partner_id", how="left")
    for c in keep:
        col = pd.to_numeric(out[c], errors="coerce").astype("float64")
        out[c] = col.fillna(col.median() if col.notna().any() else 0.0)
    return out


# --------------------------------------------------------------------------------------------------
# Cluster names from profiles
# --------------------------------------------------------------------------------------------------

# substring of a column name → (noun phrase when high, when low), in en and zh
_VOCAB: list[tuple[tuple[str, ...], tuple[str, str], tuple[str, str]]] = [
    (("trend", "slope", "change", "growth_rate"), ("growing orders", "declining orders"), ("订单增长", "订单下滑")),
    (("recency", "days_since", "overdue"), ("long since last order", "ordered recently"), ("久未下单", "近期下单")),
    (("cycle", "gap_days"), ("long order cycle", "short order cycle"), ("下单周期长", "下单周期短")),
    (("avg_order", "order_value", "aov"), ("large orders", "small orders"), ("大单", "小单")),
    (("order_days", "order_count", "orders_", "frequency", "n_orders"), ("frequent orders", "infrequent orders"), ("高频下单", "低频下单")),
    (("net_sales", "sales", "revenue", "volume", "monetary"), ("high volume", "low volume"), ("高销量", "低销量")),
    (("breadth", "n_lines", "lines_"), ("broad range", "narrow range"), ("品类广", "品类窄")),
    (("outlets", "coverage"), ("wide coverage", "narrow coverage"), ("覆盖广", "覆盖窄")),
    (("tenure",), ("long-standing", "recently joined"), ("合作久", "新合作")),
    (("satisfaction", "nps"), ("satisfied", "dissatisfied"), ("满意度高", "满意度低")),
    (("conflict",), ("conflict-prone", "few conflicts"), ("冲突多", "冲突少")),
    (("return",), ("many returns", "few returns"), ("退货多", "退货少")),
    (("discount",), ("deep discounts", "shallow discounts"), ("折扣深", "折扣浅")),
    (("training",), ("well trained", "little training"), ("培训多", "培训少")),
    (("shortfall",), ("rebates owed", "rebates settled"), ("返利欠付", "返利结清")),
]


def _line_name(line: str, lang: str) -> str:
    """A product line's display name: the i18n label `line_<name>` where there is one, else the name."""
    from workbench.i18n import LABELS, label

    key = f"line_{line}"
    return label(key, lang) if key in LABELS else line.replace("_", " ")


def _phrase(column: str, high: bool, lang: str) -> str:
    col = column.lower()
    for prefix in ("mix_", "share_"):
        if col.startswith(prefix):
            line = _line_name(column[len(prefix):], lang)
            if lang == "zh":
                return f"以{line}为主" if high else f"少{line}"
            return f"mostly {line}" if high else f"little {line}"
    for keys, en, zh in _VOCAB:
        if any(k in col for k in keys):
            pair = zh if lang == "zh" else en
            return pair[0] if high else pair[1]
    words = column.replace("_", " ")
    if lang == "zh":
        return f"{words}高" if high else f"{words}低"
    return f"high {words}" if high else f"low {words}"


def name_clusters(profile_z: pd.DataFrame, *, lang: str = "en", top: int = 2, threshold: float = 0.5) -> pd.Series:
    """Plain-word name per cluster from its standardized profile (rows clusters, columns features).

    Each name joins the phrases of the `top` features that set the cluster apart the most (|z| ≥
    `threshold`, in scaled units), e.g. "high volume, declining orders"; a cluster with none is
    "typical" (一般); duplicate names get the next distinguishing feature, then a number.
    """
    names: dict[Any, str] = {}
    used: set[str] = set()
    sep = "，" if lang == "zh" else ", "
    for cluster, row in profile_z.iterrows():
        order = row.abs().sort_values(ascending=False, kind="stable")
        strong = [c for c in order.index if abs(row[c]) >= threshold]
        phrases: list[str] = []
        seen: set[str] = set()
        for c in strong:
            ph = _phrase(str(c), bool(row[c] > 0), lang)
            if ph not in seen:
                seen.add(ph)
                phrases.append(ph)
        k = min(top, len(phrases))
        name = sep.join(phrases[:k]) if k else ("一般" if lang == "zh" else "typical")
        while name in used and k < len(phrases):
            k += 1
            name = sep.join(phrases[:k])
        base, i = name, 2
        while name in used:
            name = f"{base} ({i})"
            i += 1
        used.add(name)
        names[cluster] = name
    return pd.Series(names, name="cluster_name")


# --------------------------------------------------------------------------------------------------
# The segmenter
# --------------------------------------------------------------------------------------------------


def _signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


class Segmenter(ClusterMixin, BaseEstimator):
    """Cluster partners on any numeric table; choose k by silhouette (or BIC) and bootstrap stability.

    Parameters
    ----------
    algorithm : "kmeans" or "gmm" (Gaussian mixture).
    n_clusters : "auto" searches `k_range`; an int fixes k (stability is still measured).
    k_range : (k_min, k_max), inclusive; clipped to the number of rows − 1.
    criterion : "silhouette" (higher is better) or "bic" (lower is better; for KMeans the BIC of the
        spherical Gaussian model with a shared variance).
    min_stability : k must reach this mean adjusted Rand index over resamples to be chosen; if no k
        does, the most stable k is chosen.
    log : "auto" applies log1p to non-negative columns with values above 1 (amounts, counts; shares
        in 0–1 are left as they are); True to every column (signed log), False to none.
    scaler : "robust" ((x − median) / IQR), "standard" ((x − mean) / sd) or "none". Share columns
        (all values in 0–1, e.g. product mix) are scaled together by their pooled sd, as one composition.
    n_bootstrap : resamples per k for the stability check.
    resample_size : rows per resample (bootstrap, with replacement); at most the number of rows.
    silhouette_size : rows sampled to compute the silhouette (its cost is quadratic).
    n_init : KMeans restarts; a Gaussian mixture gets n_init // 10 (at least 1) k-means initialisations.
    covariance_type : GMM covariance ("full", "diag", "tied", "spherical").
    share_weight : how many ordinary features the share columns weigh together (their total variance
        after scaling); None weighs each share column like one feature.
    clip : scaled values are clipped to ±clip (outliers cannot form clusters of their own); None: no clip.
    n_jobs : processes for the k search (joblib); each runs single-threaded. Results do not depend on it.
    random_state : seed of every random step.

    Attributes
    ----------
    labels_ : cluster of each fitted row, 0 = the largest cluster.
    n_clusters_ : chosen k.
    selection_ : DataFrame k, silhouette, bic, stability (mean ARI), stability_sd, chosen.
    profiles_ : per cluster n_partners, share and the median of each feature (original units).
    profile_z_ : per cluster the mean of each scaled feature (how far from the typical partner).
    cluster_names_ : plain-word name per cluster (English; `name_clusters(profile_z_, lang="zh")`).
    log_columns_, share_columns_ : bool masks of logged and share columns; center_, scale_ : the scaling.
    """

    def __init__(
        self,
        algorithm: str = "kmeans",
        n_clusters: int | str = "auto",
        k_range: tuple[int, int] = (2, 8),
        criterion: str = "silhouette",
        min_stability: float = 0.75,
        log: bool | str = "auto",
        scaler: str = "robust",
        n_bootstrap: int = 10,
        resample_size: int = 4000,
        silhouette_size: int = 2000,
        n_init: int = 10,
        covariance_type: str = "full",
        share_weight: float | None = 2.0,
        clip: float | None = 5.0,
        n_jobs: int | None = None,
        random_state: int | None = 0,
    ) -> None:
        self.algorithm = algorithm
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.criterion = criterion
        self.min_stability = min_stability
        self.log = log
        self.scaler = scaler
        self.n_bootstrap = n_bootstrap
        self.resample_size = resample_size
        self.silhouette_size = silhouette_size
        self.n_init = n_init
        self.covariance_type = covariance_type
        self.share_weight = share_weight
        self.clip = clip
        self.n_jobs = n_jobs
        self.random_state = random_state

    # --- scaling ---------------------------------------------------------------------------------

    def _fit_scaling(self, X: np.ndarray) -> None:
        if self.log == "auto":  # amounts and counts (ratio scale, ≥ 0, beyond 0–1); not shares
            self.log_columns_ = (X >= 0).all(axis=0) & (X > 1 + 1e-9).any(axis=0)
        elif self.log is True:
            self.log_columns_ = np.ones(X.shape[1], dtype=bool)
        elif self.log is False:
            self.log_columns_ = np.zeros(X.shape[1], dtype=bool)
        else:
            raise ValueError(f"log must be 'auto', True or False, not {self.log!r}.")
        Z = self._log(X)
        # shares (every value in 0–1, e.g. product mix) form one composition: they share one scale,
        # so a 10-point shift counts the same in every line and a rare line is not blown up
        self.share_columns_ = ~self.log_columns_ & (X >= 0).all(axis=0) & (X <= 1 + 1e-9).all(axis=0)
        if self.scaler == "robust":
            center = np.median(Z, axis=0)
            q75, q25 = np.percentile(Z, [75, 25], axis=0)
            scale = q75 - q25
            sd = Z.std(axis=0)
            scale = np.where(scale > 1e-12, scale, np.where(sd > 1e-12, sd, 1.0))
        elif self.scaler == "standard":
            center = Z.mean(axis=0)
            sd = Z.std(axis=0)
            scale = np.where(sd > 1e-12, sd, 1.0)
        elif self.scaler == "none":
            center, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        else:
            raise ValueError(f"scaler must be 'robust', 'standard' or 'none', not {self.scaler!r}.")
        shares = self.share_columns_
        if self.scaler != "none" and shares.sum() >= 2:
            pooled = float(np.sqrt(Z[:, shares].var(axis=0).mean()))
            scale = scale.copy()
            scale[shares] = (pooled if pooled > 1e-12 else 1.0) * math.sqrt(
                shares.sum() / self.share_weight if self.share_weight else 1.0
            )
        self.center_, self.scale_ = center, scale

    def _log(self, X: np.ndarray) -> np.ndarray:
        Z = np.array(X, dtype=np.float64, copy=True)
        if self.log_columns_.any():
            Z[:, self.log_columns_] = _signed_log(Z[:, self.log_columns_])
        return Z

    def transform_features(self, X: Any) -> np.ndarray:
        """The scaled feature matrix the clusters live in (log where chosen, then centred and scaled)."""
        check_is_fitted(self, "center_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self._clip((self._log(X) - self.center_) / self.scale_)

    def _clip(self, Z: np.ndarray) -> np.ndarray:
        return np.clip(Z, -self.clip, self.clip) if self.clip else Z

    # --- models ----------------------------------------------------------------------------------

    def _model(self, k: int, seed: int):
        if self.algorithm == "kmeans":
            return KMeans(n_clusters=k, n_init=self.n_init, random_state=seed)
        if self.algorithm == "gmm":
            return GaussianMixture(
                n_components=k, covariance_type=self.covariance_type, n_init=max(1, self.n_init // 10),
                random_state=seed, reg_covar=1e-4,
            )
        raise ValueError(f"algorithm must be 'kmeans' or 'gmm', not {self.algorithm!r}.")

    @staticmethod
    def _bic(model, Z: np.ndarray) -> float:
        if isinstance(model, GaussianMixture):
            return float(model.bic(Z))
        n, d = Z.shape
        k = model.n_clusters
        labels = model.predict(Z)
        sse = float(((Z - model.cluster_centers_[labels]) ** 2).sum())
        var = max(sse / (n * d), 1e-12)
        counts = np.bincount(labels, minlength=k)
        counts = counts[counts > 0]
        ll = float((counts * np.log(counts / n)).sum()) - n * d / 2.0 * (math.log(2 * math.pi * var) + 1.0)
        params = k * d + 1 + (k - 1)
        return -2.0 * ll + params * math.log(n)

    def _evaluate(self, Z: np.ndarray, k: int) -> dict[str, Any]:
        with threadpool_limits(limits=1):  # OpenMP/BLAS threads oversubscribe badly on a busy 2-core box
            return self._evaluate_k(Z, k)

    def _evaluate_k(self, Z: np.ndarray, k: int) -> dict[str, Any]:
        n = Z.shape[0]
        entropy = None if self.random_state is None else [int(self.random_state), k]
        rng = np.random.default_rng(np.random.SeedSequence(entropy))
        seed = int(rng.integers(2**31 - 1))
        model = self._model(k, seed).fit(Z)
        ref = model.predict(Z)
        sil = np.nan
        if 2 <= len(np.unique(ref)) <= n - 1:
            m = min(n, self.silhouette_size)
            idx = rng.choice(n, size=m, replace=False) if m < n else np.arange(n)
            if 2 <= len(np.unique(ref[idx])) <= m - 1:
                sil = float(silhouette_score(Z[idx], ref[idx]))
        aris = []
        size = min(n, self.resample_size)
        for _ in range(self.n_bootstrap):
            idx = rng.choice(n, size=size, replace=True)
            boot = self._model(k, int(rng.integers(2**31 - 1)))
            if len(np.unique(Z[idx], axis=0)) < k:
                continue
            boot.fit(Z[idx])
            aris.append(adjusted_rand_score(ref, boot.predict(Z)))
        return {
            "k": k,
            "silhouette": sil,
            "bic": self._bic(model, Z),
            "stability": float(np.mean(aris)) if aris else np.nan,
            "stability_sd": float(np.std(aris)) if aris else np.nan,
            "_model": model,
        }

    # --- sklearn API -----------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> Segmenter:
        """Scale `X` (rows partners, numeric columns), search k, fit the chosen model; returns self."""
        X = validate_data(self, X, dtype=np.float64)
        n = X.shape[0]
        if n < 2:
            raise ValueError(f"Segmenter needs at least 2 rows, got n_samples={n}.")
        if self.criterion not in ("silhouette", "bic"):
            raise ValueError(f"criterion must be 'silhouette' or 'bic', not {self.criterion!r}.")
        self._fit_scaling(X)
        Z = self._clip((self._log(X) - self.center_) / self.scale_)
        n_distinct = len(np.unique(Z, axis=0))
        if self.n_clusters == "auto":
            lo, hi = (int(v) for v in self.k_range)
            if lo < 1 or hi < lo:
                raise ValueError(f"k_range must be (k_min, k_max) with 1 ≤ k_min ≤ k_max, not {self.k_range!r}.")
            hi = min(hi, n - 1, n_distinct)
            lo = min(lo, hi)
            ks = list(range(max(lo, 1), max(hi, 1) + 1))
        elif isinstance(self.n_clusters, int | np.integer) and self.n_clusters >= 1:
            if self.n_clusters > n:
                raise ValueError(f"n_clusters={self.n_clusters} exceeds n_samples={n}.")
            ks = [int(self.n_clusters)]
        else:
            raise ValueError(f"n_clusters must be 'auto' or a whole number ≥ 1, not {self.n_clusters!r}.")
        if self.n_jobs in (None, 1) or len(ks) == 1:
            rows = [self._evaluate(Z, k) for k in ks]
        else:
            rows = Parallel(n_jobs=self.n_jobs)(delayed(self._evaluate)(Z, k) for k in ks)
        table = pd.DataFrame([{k: v for k, v in r.items() if k != "_model"} for r in rows])
        best = self._choose(table)
        table["chosen"] = table["k"] == best
        self.selection_ = table.reset_index(drop=True)
        model = next(r["_model"] for r in rows if r["k"] == best)
        raw = model.predict(Z)
        counts = np.bincount(raw, minlength=best)
        # relabel: 0 = largest cluster (ties by first appearance); empty components go last
        first = np.array([np.argmax(raw == c) if counts[c] else n for c in range(best)])
        order = np.lexsort((first, -counts))
        present = [c for c in order if counts[c] > 0]
        mapping = np.empty(best, dtype=np.int64)
        mapping[present] = np.arange(len(present))
        absent = [c for c in order if counts[c] == 0]
        if absent:  # predict never returns them on the fit data; map to their nearest present label
            mapping[absent] = len(present) - 1
        self.model_ = model
        self._mapping = mapping
        self.n_clusters_ = len(present)
        self.labels_ = mapping[raw]
        self._profile(X, Z)
        return self

    def _choose(self, table: pd.DataFrame) -> int:
        if len(table) == 1:
            return int(table["k"].iloc[0])
        stable = table[table["stability"] >= self.min_stability]
        if stable.empty:
            return int(table.sort_values(["stability", "k"], ascending=[False, True])["k"].iloc[0])
        if self.criterion == "bic":
            return int(stable.sort_values(["bic", "k"])["k"].iloc[0])
        ranked = stable.assign(_s=stable["silhouette"].fillna(-np.inf))
        return int(ranked.sort_values(["_s", "k"], ascending=[False, True])["k"].iloc[0])

    def _profile(self, X: np.ndarray, Z: np.ndarray) -> None:
        names = (
            [str(c) for c in self.feature_names_in_]
            if hasattr(self, "feature_names_in_")
            else [f"x{j}" for j in range(X.shape[1])]
        )
        labels = self.labels_
        raw = pd.DataFrame(X, columns=names).groupby(labels).median()
        z = pd.DataFrame(Z, columns=names).groupby(labels).mean()
        counts = pd.Series(labels).value_counts().sort_index()
        prof = raw.copy()
        prof.insert(0, "share", (counts / len(labels)).to_numpy())
        prof.insert(0, "n_partners", counts.to_numpy())
        prof.index.name = "cluster"
        z.index.name = "cluster"
        self.profiles_ = prof
        self.profile_z_ = z
        self.cluster_names_ = name_clusters(z)

    def predict(self, X: Any) -> np.ndarray:
        """Cluster of each row of `X` (same columns as in fit), in the fitted numbering."""
        check_is_fitted(self, "model_")
        Z = self.transform_features(X)
        return self._mapping[self.model_.predict(Z)]

    def fit_predict(self, X: Any, y: Any = None, **kwargs: Any) -> np.ndarray:
        """Fit and return `labels_`."""
        return self.fit(X).labels_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def cluster_names(seg: Segmenter, *, lang: str = "en") -> pd.Series:
    """The fitted segmenter's cluster names in `lang` (en / zh), indexed by cluster."""
    check_is_fitted(seg, "profile_z_")
    return seg.cluster_names_ if lang == "en" else name_clusters(seg.profile_z_, lang=lang)


def project_2d(
    seg: Segmenter, X: pd.DataFrame, *, max_points: int = 3000, seed: int = 0, lang: str = "en"
) -> pd.DataFrame:
    """PCA of the scaled features to two axes, for plotting: pc1, pc2, cluster, cluster_name (+ partner_id).

    X: the rows to show (same columns as in fit; a `partner_id` column is carried along). At most
    `max_points` rows are kept, sampled within clusters in proportion to their size (seeded).
    Also returns the share of variance each axis explains in `attrs["explained"]`.
    """
    from sklearn.decomposition import PCA

    ids = X["partner_id"] if "partner_id" in X.columns else None
    feats = X.drop(columns="partner_id") if ids is not None else X
    Z = seg.transform_features(feats)
    labels = seg.predict(feats)
    pca = PCA(n_components=2, random_state=seed).fit(Z)
    xy = pca.transform(Z)
    out = pd.DataFrame({"pc1": xy[:, 0], "pc2": xy[:, 1], "cluster": labels})
    out["cluster_name"] = out["cluster"].map(cluster_names(seg, lang=lang))
    if ids is not None:
        out.insert(0, "partner_id", ids.to_numpy())
    if len(out) > max_points:
        out = out.sample(n=max_points, random_state=seed).sort_index()
    out.attrs["explained"] = [float(v) for v in pca.explained_variance_ratio_]
    return out.reset_index(drop=True)


def cluster_profiles(seg: Segmenter, X: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(profiles, profile_z) of the rows `X` under the fitted segmenter (default: the fitted rows).

    profiles: per cluster n_partners, share and the median of every feature (original units);
    profile_z: per cluster the mean scaled value of every feature. Use it to describe one region's
    partners with segments fitted on the whole network.
    """
    check_is_fitted(seg, "profile_z_")
    if X is None:
        return seg.profiles_, seg.profile_z_
    feats = X.drop(columns="partner_id") if "partner_id" in X.columns else X
    labels = seg.predict(feats)
    Z = pd.DataFrame(seg.transform_features(feats), columns=feats.columns, index=feats.index)
    prof = feats.groupby(labels).median()
    counts = pd.Series(labels).value_counts().sort_index()
    prof.insert(0, "share", (counts / max(len(labels), 1)).to_numpy())
    prof.insert(0, "n_partners", counts.to_numpy())
    z = Z.groupby(labels).mean()
    prof.index.name = z.index.name = "cluster"
    return prof, z


def profile_long(seg: Segmenter, X: pd.DataFrame | None = None, *, lang: str = "en") -> pd.DataFrame:
    """The cluster profiles of `X` (default: the fitted rows) as a long table: cluster, cluster_name,
    feature, z (mean scaled value), median (original units)."""
    profiles, profile_z = cluster_profiles(seg, X)
    z = profile_z.stack().rename("z").reset_index()
    z.columns = ["cluster", "feature", "z"]
    med = profiles.drop(columns=["n_partners", "share"]).stack().rename("median").reset_index()
    med.columns = ["cluster", "feature", "median"]
    out = z.merge(med, on=["cluster", "feature"])
    out.insert(1, "cluster_name", out["cluster"].map(cluster_names(seg, lang=lang)))
    return out


@cached_per_store(maxsize=4, unkeyed=("segmenter",))
def _network_fit(con: ibis.BaseBackend, *, as_of: date, params: str, segmenter: Segmenter) -> tuple[Segmenter, pd.DataFrame]:
    """`segmenter` (unfitted; `params` is its repr) fitted on the whole network's cluster_features at as_of,
    and those features."""
    feats = cluster_features(con, as_of=as_of)
    if len(feats) >= 3:
        segmenter.fit(feats.drop(columns="partner_id"))
    return segmenter, feats


def network_segments(
    con: ibis.BaseBackend,
    *,
    as_of: Any,
    region: str | None = None,
    segmenter: Segmenter | None = None,
) -> tuple[Segmenter, pd.DataFrame]:
    """Segments fitted on the whole network at `as_of`, and the `cluster_features` rows of `region`.

    Fitting network-wide keeps segments and names the same in every regional report (a small region
    alone cannot support a k search); only the region's rows come back for display.
    """
    seg = clone(segmenter) if segmenter is not None else make_segmenter()
    seg, feats = _network_fit(con, as_of=_as_date(as_of), params=f"{type(seg).__name__}{seg.get_params()!r}", segmenter=seg)
    if region not in (None, "", "all"):
        ids = _population(con, _as_date(as_of), region).select("partner_id").to_pandas()["partner_id"]
        feats = feats[feats["partner_id"].isin(ids)]
    return seg, feats.reset_index(drop=True)


def selection_table(seg: Segmenter) -> pd.DataFrame:
    """The k search: k, silhouette, bic, stability (mean ARI over resamples), stability_sd, chosen."""
    check_is_fitted(seg, "selection_")
    return seg.selection_.copy()


def make_segmenter(
    *,
    algorithm: str = "kmeans",
    k: int | str = "auto",
    criterion: str = "silhouette",
    n_bootstrap: int = 10,
    seed: int = 0,
    **kwargs: Any,
) -> Segmenter:
    """A Segmenter with the workbench defaults (log/robust scaling, k over 2–8 unless `k` is given)."""
    return Segmenter(
        algorithm=algorithm, n_clusters=k, criterion=criterion, n_bootstrap=n_bootstrap, random_state=seed, **kwargs
    )


# --------------------------------------------------------------------------------------------------
# Tier migration
# --------------------------------------------------------------------------------------------------

_FROM_STATES = (*TIERS, "new")
_TO_STATES = (*TIERS, "gone")


def tier_migration(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Transition matrix between two tierings (each partner_id, tier): counts and row shares.

    Rows are the earlier tier (plus "new": absent before), columns the later tier (plus "gone":
    absent after). Returns a long table tier_from, tier_to, partners, share (of the row, 0–1).
    """
    m = before[["partner_id", "tier"]].merge(
        after[["partner_id", "tier"]], on="partner_id", how="outer", suffixes=("_from", "_to")
    )
    m["tier_from"] = m["tier_from"].fillna("new")
    m["tier_to"] = m["tier_to"].fillna("gone")
    counts = (
        pd.crosstab(m["tier_from"], m["tier_to"])
        .reindex(index=list(_FROM_STATES), columns=list(_TO_STATES), fill_value=0)
    )
    counts.loc["new", "gone"] = 0
    long = counts.stack().rename("partners").reset_index()
    long.columns = ["tier_from", "tier_to", "partners"]
    totals = long.groupby("tier_from")["partners"].transform("sum")
    long["share"] = (long["partners"] / totals.where(totals > 0)).fillna(0.0)
    long["partners"] = long["partners"].astype("int64")
    return long


def migration_matrix(migration: pd.DataFrame, *, value: str = "partners") -> pd.DataFrame:
    """Wide form of `tier_migration`: rows tier_from, columns tier_to, cells `value` (partners or share)."""
    wide = migration.pivot(index="tier_from", columns="tier_to", values=value)
    return wide.reindex(index=list(_FROM_STATES), columns=list(_TO_STATES))


def fell_out_of_core(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Partners core before and not core after: partner_id, tier_to (growth, pilot or gone)."""
    m = before[["partner_id", "tier"]].merge(after[["partner_id", "tier"]], on="partner_id", how="left",
                                             suffixes=("_from", "_to"))
    m["tier_to"] = m["tier_to"].fillna("gone")
    out = m[(m["tier_from"] == "core") & (m["tier_to"] != "core")]
    return out[["partner_id", "tier_to"]].sort_values("partner_id").reset_index(drop=True)


def ready_for_promotion(
    before: pd.DataFrame, after: pd.DataFrame, cfg: TierConfig | str | Path | dict | None = None
) -> pd.DataFrame:
    """Pilots (at the later date) close to growth and improving: partner_id, score, score_gain, gap.

    before/after: scorecards with partner_id, tier, score (from `tier_scorecard`). A pilot qualifies
    when its score is within `promotion.margin` points of the growth threshold at the later date and
    rose by at least `promotion.min_gain` points; gap = threshold − score (points to go).
    """
    cfg = load_tier_config(cfg)
    _, growth_at = tier_thresholds(after["score"], cfg)
    m = after[["partner_id", "tier", "score"]].merge(
        before[["partner_id", "score"]].rename(columns={"score": "score_before"}), on="partner_id", how="left"
    )
    m["score_gain"] = m["score"] - m["score_before"]
    m["gap"] = growth_at - m["score"]
    ok = (m["tier"] == "pilot") & (m["gap"] <= cfg.promotion.margin) & (m["score_gain"] >= cfg.promotion.min_gain)
    cols = ["partner_id", "score", "score_gain", "gap"]
    return m.loc[ok, cols].sort_values("gap").reset_index(drop=True)


def migration_between(
    con: ibis.BaseBackend,
    *,
    as_of_from: Any,
    as_of_to: Any,
    region: str | None = None,
    config: TierConfig | str | Path | dict | None = None,
) -> dict[str, pd.DataFrame]:
    """Tier migration between two dates in the store: {'migration', 'fell_out_of_core', 'ready_for_promotion'}."""
    cfg = load_tier_config(config)
    before, after = (tier_scorecard(network_inputs(con, as_of=day), cfg) for day in (as_of_from, as_of_to))
    ready = ready_for_promotion(before, after, cfg)  # thresholds are network-wide
    if region not in (None, "", "all"):
        before, after = before[before["region"] == region], after[after["region"] == region]
        ready = ready[ready["partner_id"].isin(after["partner_id"])].reset_index(drop=True)
    return {
        "migration": tier_migration(before, after),
        "fell_out_of_core": fell_out_of_core(before, after),
        "ready_for_promotion": ready,
    }


# --------------------------------------------------------------------------------------------------
# Views for the notebook
# --------------------------------------------------------------------------------------------------


def scorecard_view(
    con: ibis.BaseBackend,
    *,
    as_of: Any,
    region: str | None = None,
    config: TierConfig | str | Path | dict | None = None,
    lang: str = "en",
) -> pd.DataFrame:
    """`tier_scorecard` at `as_of` (scored network-wide, then restricted to `region`) with partner name.

    Contact fields are never read; the playbook is in `lang` where the config has it.
    """
    card = tier_scorecard(network_inputs(con, as_of=as_of), config, lang=lang)
    if region not in (None, "", "all"):
        card = card[card["region"] == region]
    p = con.table("partners").select("partner_id", "name").to_pandas()
    return card.merge(p, on="partner_id", how="left").reset_index(drop=True)


def tier_summary(
    card: pd.DataFrame, config: TierConfig | str | Path | dict | None = None, *, lang: str = "en"
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
    out["playbook"] = [cfg.actions(t, lang) for t in TIERS]
    return out.rename_axis("tier").reset_index()


def html_table(frame: pd.DataFrame, *, lang: str = "en", max_rows: int | None = 20) -> str:
    """`frame` as an HTML table with translated headers and tier names; every cell is HTML-escaped
    (an empty frame gives a short "none" note)."""
    from workbench.i18n import label, relabel

    if frame.empty:
        return f"<p><i>{html.escape(label('seg_none', lang))}</i></p>"
    df = frame.head(max_rows) if max_rows is not None else frame
    df = df.copy()
    for col in df.columns:
        if pd.api.types.is_bool_dtype(df[col]):
            df[col] = df[col].map({True: "✓", False: ""})
    for col in ("tier", "tier_to", "tier_from"):
        if col in df.columns:
            df[col] = df[col].map(lambda t: label(t, lang) if t in TIERS else label(f"seg_{t}", lang))
    return df.rename(columns=relabel(list(df.columns), lang)).to_html(
        index=False, escape=True, float_format=lambda v: f"{v:,.2f}", na_rep=""
    )


# --------------------------------------------------------------------------------------------------
# The command's table
# --------------------------------------------------------------------------------------------------


def segment_table(
    con: ibis.BaseBackend,
    *,
    as_of: Any,
    region: str | None = None,
    config: TierConfig | str | Path | dict | None = None,
    segmenter: Segmenter | None = None,
) -> pd.DataFrame:
    """One row per partner at `as_of`: partner_id, region, tier, score components, score, cluster, cluster_name.

    Tiers and segments are fitted on the whole network, then restricted to `region`. Partners with no
    positive net sales in the last 365 days are not clustered (cluster −1, cluster_name "no recent orders").
    """
    cfg = load_tier_config(config)
    inputs = network_inputs(con, as_of=as_of)
    card = tier_scorecard(inputs, cfg)
    if region not in (None, "", "all"):
        card = card[card["region"] == region]
    seg, feats = network_segments(con, as_of=as_of, region=region, segmenter=segmenter)
    out = card.copy()
    out["cluster"] = -1
    out["cluster_name"] = NO_ORDERS
    if hasattr(seg, "model_") and len(feats):
        lab = pd.Series(seg.predict(feats.drop(columns="partner_id")), index=feats["partner_id"].to_numpy())
        out["cluster"] = out["partner_id"].map(lab).fillna(-1).astype("int64")
        out["cluster_name"] = out["cluster"].map(seg.cluster_names_).fillna(NO_ORDERS)
    comp = [f"{c}_score" for c in cfg.components]
    cols = ["partner_id", "region", "tier", *comp, "score", "score_pct", "cluster", "cluster_name"]
    return out[cols].sort_values("partner_id").reset_index(drop=True)
