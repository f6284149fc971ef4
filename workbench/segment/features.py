"""Clustering features from the store: volume, order rhythm, order size and product mix per partner."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import ibis.selectors as s
import numpy as np
import pandas as pd

from workbench.segment._common import _as_date, _is_all, _population, _window_orders
from workbench.segment.tiers import scorecard_inputs

__all__ = [
    "product_mix",
    "product_mix_wide",
    "mix_features",
    "line_breadth",
    "OTHER_LINE",
    "DEFAULT_TOP_LINES",
    "cluster_features",
    "snapshot_features",
    "DEFAULT_CLUSTER_FEATURES",
    "SNAPSHOT_EXTRA_FEATURES",
]


OTHER_LINE = "other_lines"  # the lines outside the top N, rolled up into one part
DEFAULT_TOP_LINES = 10
MIX_MODES = ("clr", "log_spend", "shares")


def product_mix(
    con: ibis.BaseBackend,
    *,
    as_of: Any,
    days: int = 365,
    region: str | None = None,
    top_lines: int | None = None,
) -> ir.Table:
    """Long table partner_id, product_line, net_sales, order_lines, share: each partner's share of net
    sales per line.

    Over order lines in (as_of − days, as_of]; returns net against their line; lines whose net is
    negative count as 0; shares of a partner sum to 1 (partners with no positive net are absent);
    order_lines counts the partner's non-return order lines of the line. With `top_lines`, the lines
    outside the network's top N by net sales in the window are rolled up into one line, OTHER_LINE
    (the top N are the whole network's, so a region's columns match the network's).
    """
    day = _as_date(as_of)
    o = _window_orders(con, day, days)
    o = o.filter(o.product_line.notnull())
    o = o.mutate(product_line=o.product_line.cast("string"))
    if top_lines is not None:
        per_line = o.group_by("product_line").aggregate(t=o.net_amount.sum().cast("float64"))
        top = (per_line.filter(per_line.t > 0).order_by([ibis.desc("t"), "product_line"]).limit(int(top_lines))
               .select("product_line", keep=ibis.literal(True)))
        o = o.left_join(top, "product_line").select(~s.matches("_right$"))
        o = o.mutate(product_line=ibis.ifelse(o.keep.notnull(), o.product_line, ibis.literal(OTHER_LINE)))
    if not _is_all(region):
        pop = _population(con, day, region).select("partner_id")
        o = o.semi_join(pop, "partner_id")
    live = ~o.is_return.fill_null(False)
    g = o.group_by(["partner_id", "product_line"]).aggregate(
        net=o.net_amount.sum().cast("float64"),
        order_lines=(live & o.net_amount.notnull()).cast("int64").sum(),
    )
    g = g.mutate(net_sales=ibis.greatest(g.net, 0.0)).drop("net")
    w = ibis.window(group_by=g.partner_id)
    g = g.mutate(total=g.net_sales.sum().over(w))
    g = g.filter(g.total > 0)
    share = ibis.least(g.net_sales / g.total, 1.0)
    return g.select("partner_id", "product_line", "net_sales", "order_lines", share=share).order_by(
        ["partner_id", "product_line"]
    )


def product_mix_wide(mix: pd.DataFrame | ir.Table, *, value: str = "share", prefix: str = "mix_") -> pd.DataFrame:
    """Pivot `product_mix` to one row per partner: partner_id, <prefix><line> (`value`: share 0–1 or
    net_sales; missing = 0)."""
    frame = mix.to_pandas() if isinstance(mix, ir.Table) else mix
    wide = frame.pivot_table(index="partner_id", columns="product_line", values=value, aggfunc="sum", fill_value=0.0)
    wide.columns = [f"{prefix}{c}" for c in wide.columns]
    return wide.reset_index()


def line_breadth(con: ibis.BaseBackend, *, as_of: Any, days: int = 365, region: str | None = None) -> pd.DataFrame:
    """partner_id, line_breadth: effective number of product lines bought (exp of the entropy of the
    partner's full mix, before any top-N roll-up: 1 = one line, n = n equal lines)."""
    m = product_mix(con, as_of=as_of, days=days, region=region)
    m = m.filter(m.share > 0)
    ent = m.group_by("partner_id").aggregate(entropy=(-(m.share * m.share.ln())).sum())
    out = ent.to_pandas()
    out["line_breadth"] = np.exp(out.pop("entropy").astype("float64"))
    return out


def mix_features(mix: pd.DataFrame, *, mode: str = "clr") -> pd.DataFrame:
    """Product-mix features per partner from a `product_mix` long table (pandas).

    mode: "clr" (default) centred log-ratios ``clr_<line>`` of the shares after Bayesian-multiplicative
    zero replacement with the square-root prior, the evidence being the partner's order lines (see
    `compositional`); "log_spend" ``lspend_<line>`` = ln(1 + net sales of the line); "shares" the raw
    ``mix_<line>`` shares (0–1). Returns partner_id plus one column per line (none with < 2 lines).
    """
    from workbench.segment.compositional import bayes_multiplicative, clr

    if mode not in MIX_MODES:
        raise ValueError(f"mix must be one of {', '.join(MIX_MODES)}, not {mode!r}.")
    if mix.empty or mix["product_line"].nunique() < 2:
        return pd.DataFrame({"partner_id": mix["partner_id"].drop_duplicates().to_numpy()})
    if mode == "shares":
        return product_mix_wide(mix)
    if mode == "log_spend":
        wide = product_mix_wide(mix, value="net_sales", prefix="lspend_")
        cols = wide.columns[1:]
        wide[cols] = np.log1p(wide[cols].to_numpy())
        return wide
    spend = product_mix_wide(mix, value="net_sales", prefix="clr_").set_index("partner_id")
    n = mix.groupby("partner_id")["order_lines"].sum().reindex(spend.index).clip(lower=1)
    prior = spend.sum(axis=0).to_numpy()
    comp = bayes_multiplicative(spend.to_numpy(), n.to_numpy(), prior=prior)
    out = pd.DataFrame(np.asarray(clr(comp)), index=spend.index, columns=spend.columns)
    return out.reset_index()


DEFAULT_CLUSTER_FEATURES: tuple[str, ...] = ("net_sales_365d", "order_days_365d", "avg_order_value")


def cluster_features(
    con: ibis.BaseBackend,
    *,
    as_of: Any,
    region: str | None = None,
    mix: bool | str = True,
    top_lines: int | None = DEFAULT_TOP_LINES,
) -> pd.DataFrame:
    """Volume, behaviour and product-mix features, one row per partner with positive net sales in the
    365 days up to `as_of`.

    Columns: partner_id, net_sales_365d (currency), order_days_365d (days with an order),
    avg_order_value (net sales per order day, currency), and with `mix` line_breadth (effective number
    of product lines, exp of the mix entropy: 1 = one line) and one column per product line (the top
    `top_lines` lines by network net sales plus OTHER_LINE; None keeps every line): `mix` True or "clr"
    gives centred log-ratios clr_<line>, "log_spend" lspend_<line>, "shares" mix_<line> (see
    `mix_features`). A store without product lines (or with one) gives no mix columns. With `region`,
    the network's features (same columns and scaling) restricted to the region's partners.
    """
    if not _is_all(region):  # the network's features (top lines, zero priors), restricted to the region
        feats = cluster_features(con, as_of=as_of, mix=mix, top_lines=top_lines)
        ids = _population(con, _as_date(as_of), region).select("partner_id").to_pandas()["partner_id"]
        return feats[feats["partner_id"].isin(ids)].reset_index(drop=True)
    inputs = scorecard_inputs(con, as_of=as_of).to_pandas()
    feats = inputs.loc[inputs["net_sales_365d"] > 0, ["partner_id", "net_sales_365d", "order_days_365d"]].copy()
    feats["avg_order_value"] = feats["net_sales_365d"] / feats["order_days_365d"].clip(lower=1)
    if mix:
        mode = "clr" if mix is True else str(mix)
        long = product_mix(con, as_of=as_of, top_lines=top_lines).to_pandas()
        wide = mix_features(long, mode=mode)
        if wide.shape[1] > 1:
            breadth = line_breadth(con, as_of=as_of)
            wide = breadth.merge(wide, on="partner_id", how="inner")
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
    top_lines: int | None = DEFAULT_TOP_LINES,
) -> pd.DataFrame:
    """`cluster_features` plus behaviour columns of `features.partner_snapshot` (trend, recency, rhythm,
    returns, discounts, satisfaction, conflicts, rebate shortfall, tenure, outlets) for the explorer.

    Same rows as `cluster_features`; a missing value (e.g. no survey yet) is filled with the column's
    median so every row can be clustered. Columns the snapshot lacks are skipped.
    """
    from workbench.features import partner_snapshot

    base = cluster_features(con, as_of=as_of, region=region, top_lines=top_lines)
    snap = partner_snapshot(con, as_of=_as_date(as_of), region=region)
    keep = [c for c in columns if c in snap.columns and c not in base.columns]
    extra = snap.select("partner_id", *keep).to_pandas()
    out = base.merge(extra, on="partner_id", how="left")
    for c in keep:
        col = pd.to_numeric(out[c], errors="coerce").astype("float64")
        out[c] = col.fillna(col.median() if col.notna().any() else 0.0)
    return out

