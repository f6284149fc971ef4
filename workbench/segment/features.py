"""Clustering features from the store: volume, order rhythm, order size and product mix per partner."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from workbench.segment._common import _as_date, _is_all, _population, _window_orders
from workbench.segment.tiers import scorecard_inputs

__all__ = [
    "product_mix",
    "product_mix_wide",
    "cluster_features",
    "snapshot_features",
    "DEFAULT_CLUSTER_FEATURES",
    "SNAPSHOT_EXTRA_FEATURES",
]


def product_mix(con: ibis.BaseBackend, *, as_of: Any, days: int = 365, region: str | None = None) -> ir.Table:
    """Long table partner_id, product_line, net_sales, share: each partner's share of net sales per line.

    Over order lines in (as_of − days, as_of]; returns net against their line; lines whose net is
    negative count as 0; shares of a partner sum to 1 (partners with no positive net are absent).
    """
    day = _as_date(as_of)
    o = _window_orders(con, day, days)
    o = o.filter(o.product_line.notnull())
    if not _is_all(region):
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

