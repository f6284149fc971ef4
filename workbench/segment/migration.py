"""Tier migration between two dates: transition matrix, partners that fell out of core, pilots ready
for promotion."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

from workbench.segment._common import _is_all
from workbench.segment.tiers import (
    TIERS,
    TierConfig,
    load_tier_config,
    network_scorecard,
    tier_thresholds,
)

__all__ = ["tier_migration", "migration_matrix", "fell_out_of_core", "ready_for_promotion", "migration_between"]

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
    partner_ids: Collection[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Tier migration between two dates in the store: {'migration', 'fell_out_of_core', 'ready_for_promotion'}.

    Tiers are scored network-wide, then restricted to `region` and, when given, to `partner_ids`
    (e.g. one channel manager's partners)."""
    cfg = load_tier_config(config)
    before, after = (network_scorecard(con, as_of=day, config=config) for day in (as_of_from, as_of_to))
    ready = ready_for_promotion(before, after, cfg)  # thresholds are network-wide
    if not _is_all(region):
        before, after = before[before["region"] == region], after[after["region"] == region]
    if partner_ids is not None:
        ids = {str(x) for x in partner_ids}
        before, after = before[before["partner_id"].astype(str).isin(ids)], after[after["partner_id"].astype(str).isin(ids)]
    if not _is_all(region) or partner_ids is not None:
        ready = ready[ready["partner_id"].isin(after["partner_id"])].reset_index(drop=True)
    return {
        "migration": tier_migration(before, after),
        "fell_out_of_core": fell_out_of_core(before, after),
        "ready_for_promotion": ready,
    }
