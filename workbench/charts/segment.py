"""Charts: segmentation and tiering (DataFrame in → alt.Chart out; every chart holds < 5,000 rows)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from workbench.charts.base import message_chart
from workbench.i18n import label
from workbench.present.segment import line_name
from workbench.vocab import money_label

__all__ = [
    "chart_segments_2d",
    "chart_profile_heatmap",
    "chart_tier_pyramid",
    "chart_migration_heatmap",
    "chart_k_selection",
]

MAX_ROWS = 4_500
TIER_ORDER = ("core", "growth", "pilot")
TIER_COLORS = {"core": "#1f5fa8", "growth": "#3a9e6f", "pilot": "#e07b39"}



def _tier_label(tier: str, lang: str) -> str:
    return label(tier, lang) if tier in TIER_ORDER else label(f"seg_{tier}", lang)


_MIX_LABELS = {"mix_": "seg_share_of", "clr_": "seg_clr_of", "lspend_": "seg_lspend_of"}
_MONEY_FEATURES = ("net_sales_365d", "avg_order_value")


def _feature_label(feature: str, lang: str, currency: str | None = None) -> str:
    for prefix, key in _MIX_LABELS.items():
        if feature.startswith(prefix):
            return label(key, lang) + line_name(feature[len(prefix):], lang)
    text = label(feature, lang)
    return money_label(text, currency) if currency and feature in _MONEY_FEATURES else text


def chart_segments_2d(points: pd.DataFrame, *, lang: str = "en", seed: int = 0) -> alt.Chart:
    """Partners on the first two principal components of the scaled features, coloured by cluster.

    points: ``segment.project_2d`` (pc1, pc2, cluster_name[, partner_id]); sampled to < 5,000 rows.
    A dropdown (Altair ``bind=``, works in shared HTML) highlights one cluster.
    """
    if points.empty:
        return message_chart(label("seg_no_clusters", lang))
    df = points.sample(n=MAX_ROWS, random_state=seed) if len(points) > MAX_ROWS else points
    cols = [c for c in ("partner_id", "pc1", "pc2", "cluster_name") if c in df.columns]
    df = df[cols].copy()
    df["pc1"], df["pc2"] = df["pc1"].round(3), df["pc2"].round(3)
    names = sorted(df["cluster_name"].unique().tolist())
    pick = alt.param(
        name="segment_pick",
        value="__all__",
        bind=alt.binding_select(options=["__all__", *names], labels=[label("seg_all_clusters", lang), *names],
                                name=label("seg_highlight", lang) + " "),
    )
    shown = "segment_pick == '__all__' || datum.cluster_name == segment_pick"
    explained = points.attrs.get("explained", [])
    ax = [label("seg_pc1", lang), label("seg_pc2", lang)]
    if len(explained) == 2:
        ax = [f"{a} ({v:.0%})" for a, v in zip(ax, explained, strict=True)]
    tooltip = [alt.Tooltip("cluster_name:N", title=label("cluster_name", lang))]
    if "partner_id" in df.columns:
        tooltip.insert(0, alt.Tooltip("partner_id:N", title=label("partner_id", lang)))
    return (
        alt.Chart(df, title=label("seg_chart_2d", lang))
        .mark_circle(size=28)
        .encode(
            x=alt.X("pc1:Q", title=ax[0]),
            y=alt.Y("pc2:Q", title=ax[1]),
            color=alt.Color("cluster_name:N", title=label("cluster_name", lang), sort=names),
            opacity=alt.condition(shown, alt.value(0.75), alt.value(0.06)),
            tooltip=tooltip,
        )
        .add_params(pick)
        .properties(width=520, height=360)
    )


def chart_profile_heatmap(profile: pd.DataFrame, *, lang: str = "en", currency: str | None = None) -> alt.Chart:
    """Heatmap of cluster (rows) × feature (columns): colour = how far the cluster's mean sits from the
    typical partner in scaled units (z, clipped to ±3); the label is the cluster's median in original units.

    profile: ``segment.profile_long`` (cluster, cluster_name, feature, z, median); currency: ISO code
    the money features are labelled in (the store's).
    """
    if profile.empty:
        return message_chart(label("seg_no_clusters", lang))
    df = profile.copy()
    df["z_clipped"] = df["z"].clip(-3, 3).round(2)
    df["median_text"] = df["median"].map(lambda v: f"{v:,.2f}" if abs(v) < 10 else f"{v:,.0f}")
    df["feature_label"] = df["feature"].map(lambda f: _feature_label(str(f), lang, currency))
    base = alt.Chart(df, title=label("seg_chart_profile", lang)).encode(
        x=alt.X("feature_label:N", title=None, sort=None, axis=alt.Axis(labelAngle=-35, labelLimit=160)),
        y=alt.Y("cluster_name:N", title=None, axis=alt.Axis(labelLimit=260)),
    )
    rect = base.mark_rect().encode(
        color=alt.Color("z_clipped:Q", title=label("seg_z", lang), scale=alt.Scale(scheme="redblue", domain=[-3, 3],
                                                                                 reverse=True)),
        tooltip=[alt.Tooltip("cluster_name:N", title=label("cluster_name", lang)),
                 alt.Tooltip("feature_label:N", title=label("seg_feature", lang)),
                 alt.Tooltip("median:Q", title=label("seg_median", lang), format=",.3~f"),
                 alt.Tooltip("z:Q", title=label("seg_z", lang), format=".2f")],
    )
    text = base.mark_text(fontSize=10).encode(text="median_text:N")
    return (rect + text).properties(width=max(320, 70 * df["feature"].nunique()), height=48 * df["cluster"].nunique())


def chart_tier_pyramid(tiers: pd.DataFrame, *, lang: str = "en") -> alt.Chart:
    """Tier pyramid per region: partners per tier (core at the top), bars centred, one panel per region.

    tiers: one row per partner with region and tier, or counts with region, tier, partners.
    """
    if tiers.empty:
        return message_chart(label("seg_no_partners", lang))
    if "partners" in tiers.columns:
        df = tiers[["region", "tier", "partners"]].copy()
    else:
        df = tiers.groupby(["region", "tier"]).size().rename("partners").reset_index()
    df["tier_label"] = df["tier"].map(lambda t: _tier_label(t, lang))
    df["region_label"] = df["region"].map(lambda r: label(r, lang))
    order = [label(t, lang) for t in TIER_ORDER]
    regions = df.groupby("region_label")["partners"].sum().sort_values(ascending=False).index.tolist()
    df["left"], df["right"] = -df["partners"] / 2, df["partners"] / 2
    df["text"] = df["partners"].map(lambda v: f"{v:,}")
    tip = [alt.Tooltip("region_label:N", title=label("region", lang)),
           alt.Tooltip("tier_label:N", title=label("tier", lang)),
           alt.Tooltip("partners:Q", title=label("seg_partners", lang))]
    base = alt.Chart(df).encode(y=alt.Y("tier_label:N", sort=order, title=None))
    bars = base.mark_bar().encode(
        x=alt.X("left:Q", axis=None, title=None),
        x2="right:Q",
        color=alt.Color("tier_label:N", sort=order, title=label("tier", lang),
                        scale=alt.Scale(domain=order, range=[TIER_COLORS[t] for t in TIER_ORDER])),
        tooltip=tip,
    )
    text = base.mark_text(fontSize=11, color="white", fontWeight="bold").encode(x=alt.datum(0), text="text:N")
    return (
        alt.layer(bars, text, data=df)
        .properties(width=200, height=90)
        .facet(facet=alt.Facet("region_label:N", sort=regions, title=None), columns=4)
        .properties(title=label("seg_chart_pyramid", lang))
    )


def chart_migration_heatmap(migration: pd.DataFrame, *, lang: str = "en") -> alt.Chart:
    """Tier migration between two dates: rows earlier tier (or new), columns later tier (or gone);
    colour = share of the row, label = partners.

    migration: ``segment.tier_migration`` (tier_from, tier_to, partners, share).
    """
    if migration.empty:
        return message_chart(label("seg_no_partners", lang))
    df = migration.copy()
    df["from_label"] = df["tier_from"].map(lambda t: _tier_label(t, lang))
    df["to_label"] = df["tier_to"].map(lambda t: _tier_label(t, lang))
    rows = [_tier_label(t, lang) for t in (*TIER_ORDER, "new")]
    cols = [_tier_label(t, lang) for t in (*TIER_ORDER, "gone")]
    df["text"] = df["partners"].map(lambda v: f"{v:,}")
    base = alt.Chart(df, title=label("seg_chart_migration", lang)).encode(
        x=alt.X("to_label:N", sort=cols, title=label("seg_tier_to", lang), axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("from_label:N", sort=rows, title=label("seg_tier_from", lang)),
    )
    rect = base.mark_rect().encode(
        color=alt.Color("share:Q", title=label("seg_share_of_row", lang), scale=alt.Scale(scheme="blues", domain=[0, 1]),
                        legend=alt.Legend(format="%")),
        tooltip=[alt.Tooltip("from_label:N", title=label("seg_tier_from", lang)),
                 alt.Tooltip("to_label:N", title=label("seg_tier_to", lang)),
                 alt.Tooltip("partners:Q", title=label("seg_partners", lang)),
                 alt.Tooltip("share:Q", title=label("seg_share_of_row", lang), format=".0%")],
    )
    text = base.mark_text(fontSize=12).encode(
        text="text:N", color=alt.condition("datum.share > 0.55", alt.value("white"), alt.value("#222"))
    )
    return (rect + text).properties(width=340, height=220)


def chart_k_selection(selection: pd.DataFrame, *, lang: str = "en") -> alt.Chart:
    """Silhouette and bootstrap stability (mean ARI) for each k; the chosen k is marked.

    selection: ``Segmenter.selection_`` (k, silhouette, stability, chosen, ...).
    """
    if selection.empty:
        return message_chart(label("seg_no_clusters", lang))
    keep = selection[["k", "silhouette", "stability", "chosen"]].copy()
    df = keep.melt(id_vars=["k", "chosen"], value_vars=["silhouette", "stability"], var_name="measure",
                   value_name="value")
    df["measure_label"] = df["measure"].map(lambda m: label(f"seg_{m}", lang))
    line = alt.Chart(df, title=label("seg_chart_k", lang)).mark_line(point=True).encode(
        x=alt.X("k:O", title=label("seg_k", lang), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("measure_label:N", title=None),
        tooltip=[alt.Tooltip("k:O", title=label("seg_k", lang)), alt.Tooltip("measure_label:N", title=""),
                 alt.Tooltip("value:Q", format=".3f")],
    )
    chosen = keep[keep["chosen"]]
    rule = alt.Chart(chosen).mark_rule(strokeDash=[4, 3], color="#555").encode(x="k:O")
    return (line + rule).properties(width=360, height=220)
