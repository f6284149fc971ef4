"""Segments of the whole network and the views the notebook and the command show: profiles, the 2-D
projection, the k-search table and the per-partner segment table."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from workbench.errors import NotEnoughData
from workbench.segment._common import _as_date, _is_all, _population
from workbench.segment.features import DEFAULT_TOP_LINES, cluster_features
from workbench.segment.models import Segmenter, make_segmenter
from workbench.segment.tiers import TierConfig, load_tier_config, network_inputs, tier_scorecard
from workbench.store import cached_per_store

__all__ = [
    "NO_ORDERS",
    "cluster_names",
    "project_2d",
    "cluster_profiles",
    "profile_long",
    "network_segments",
    "segment_table",
    "network_baselines",
]

NO_ORDERS = "no recent orders"


def cluster_names(seg: Segmenter) -> pd.Series:
    """The fitted segmenter's cluster names (English plain words), indexed by cluster."""
    check_is_fitted(seg, "profile_z_")
    return seg.cluster_names_


def project_2d(
    seg: Segmenter, X: pd.DataFrame, *, max_points: int = 3000, seed: int = 0
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
    n_comp = min(2, Z.shape[0], Z.shape[1])
    if n_comp >= 1 and Z.shape[0] >= 2:
        pca = PCA(n_components=n_comp, random_state=seed).fit(Z)
        xy, explained = pca.transform(Z), [float(v) for v in pca.explained_variance_ratio_]
    else:  # one partner: it sits at the origin
        xy, explained = np.zeros((Z.shape[0], 0)), []
    if xy.shape[1] < 2:
        xy = np.column_stack([xy, np.zeros((Z.shape[0], 2 - xy.shape[1]))])
    out = pd.DataFrame({"pc1": xy[:, 0], "pc2": xy[:, 1], "cluster": labels})
    out["cluster_name"] = out["cluster"].map(cluster_names(seg))
    if ids is not None:
        out.insert(0, "partner_id", ids.to_numpy())
    if len(out) > max_points:
        out = out.sample(n=max_points, random_state=seed).sort_index()
    out.attrs["explained"] = explained
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


def profile_long(seg: Segmenter, X: pd.DataFrame | None = None) -> pd.DataFrame:
    """The cluster profiles of `X` (default: the fitted rows) as a long table: cluster, cluster_name,
    feature, z (mean scaled value), median (original units)."""
    profiles, profile_z = cluster_profiles(seg, X)
    z = profile_z.stack().rename("z").reset_index()
    z.columns = ["cluster", "feature", "z"]
    med = profiles.drop(columns=["n_partners", "share"]).stack().rename("median").reset_index()
    med.columns = ["cluster", "feature", "median"]
    out = z.merge(med, on=["cluster", "feature"])
    out.insert(1, "cluster_name", out["cluster"].map(cluster_names(seg)))
    return out


@cached_per_store(maxsize=4, unkeyed=("segmenter",))
def _network_fit(con: ibis.BaseBackend, *, as_of: date, params: str, segmenter: Segmenter,
                 top_lines: int | None = DEFAULT_TOP_LINES) -> tuple[Segmenter, pd.DataFrame]:
    """`segmenter` (unfitted; `params` is its repr) fitted on the whole network's cluster_features at as_of,
    and those features."""
    feats = cluster_features(con, as_of=as_of, top_lines=top_lines)
    if len(feats) >= 3:
        segmenter.fit(feats.drop(columns="partner_id"))
    return segmenter, feats


def network_segments(
    con: ibis.BaseBackend,
    *,
    as_of: Any,
    region: str | None = None,
    segmenter: Segmenter | None = None,
    top_lines: int | None = DEFAULT_TOP_LINES,
) -> tuple[Segmenter, pd.DataFrame]:
    """Segments fitted on the whole network at `as_of`, and the `cluster_features` rows of `region`.

    Fitting network-wide keeps segments and names the same in every regional report (a small region
    alone cannot support a k search); only the region's rows come back for display. top_lines: product
    lines kept in the mix (the rest roll up into "other"; None keeps all). Raises
    NotEnoughData (one sentence) when fewer than 3 partners network-wide, or none in `region`, had
    positive net sales in the 365 days to `as_of`.
    """
    day = _as_date(as_of)
    seg = clone(segmenter) if segmenter is not None else make_segmenter()
    seg, feats = _network_fit(con, as_of=day, params=f"{type(seg).__name__}{seg.get_params()!r}", segmenter=seg,
                              top_lines=top_lines)
    if not hasattr(seg, "model_"):
        raise NotEnoughData(
            f"Fewer than 3 partners had positive net sales in the 12 months to {day}, so no segments are "
            "formed; the tiers still show."
        )
    if not _is_all(region):
        ids = _population(con, day, region).select("partner_id").to_pandas()["partner_id"]
        feats = feats[feats["partner_id"].isin(ids)]
        if feats.empty:
            raise NotEnoughData(
                f"No partner in {region} had positive net sales in the 12 months to {day}, so none is placed "
                "in a segment; the tiers still show."
            )
    return seg, feats.reset_index(drop=True)


def network_baselines(
    con: ibis.BaseBackend, *, as_of: Any, segmenter: Segmenter | None = None, seed: int = 0,
    top_lines: int | None = DEFAULT_TOP_LINES,
) -> pd.DataFrame:
    """`selection.compare_baselines` for the network's segments at `as_of`: the chosen segmentation beside
    KMeans on log spend per top line and a 2–8 component GMM on the same features (no truth: agreement,
    silhouette, BIC). Raises NotEnoughData like `network_segments`."""
    seg = clone(segmenter) if segmenter is not None else make_segmenter()
    params = f"{type(seg).__name__}{seg.get_params()!r}"
    return _network_baselines(con, as_of=_as_date(as_of), params=params, seed=seed, segmenter=seg,
                              top_lines=top_lines).copy()


@cached_per_store(maxsize=4, unkeyed=("segmenter",))
def _network_baselines(con: ibis.BaseBackend, *, as_of: date, params: str, seed: int, segmenter: Segmenter,
                       top_lines: int | None = DEFAULT_TOP_LINES) -> pd.DataFrame:
    """`network_baselines`, computed once per store, date and segmenter in a process (every regional
    page shows the same network-wide comparison)."""
    from workbench.segment.features import product_mix, product_mix_wide
    from workbench.segment.selection import compare_baselines

    seg, feats = network_segments(con, as_of=as_of, segmenter=segmenter, top_lines=top_lines)
    if len(feats) < 10:
        raise NotEnoughData(f"Fewer than 10 partners had sales in the 12 months to {_as_date(as_of)}: "
                            "no baseline comparison.")
    mix = product_mix(con, as_of=as_of, top_lines=top_lines).to_pandas()
    if mix.empty:
        spend = feats[["net_sales_365d"]].to_numpy()
    else:
        wide = product_mix_wide(mix, value="net_sales", prefix="").set_index("partner_id")
        spend = wide.reindex(feats["partner_id"]).fillna(0.0).to_numpy()
    return compare_baselines(seg, feats, spend, seed=seed)


def segment_table(
    con: ibis.BaseBackend,
    *,
    as_of: Any,
    region: str | None = None,
    config: TierConfig | str | Path | dict | None = None,
    segmenter: Segmenter | None = None,
    top_lines: int | None = DEFAULT_TOP_LINES,
) -> pd.DataFrame:
    """One row per partner at `as_of`: partner_id, region, tier, score components, score, cluster, cluster_name.

    Tiers and segments are fitted on the whole network, then restricted to `region`. Partners with no
    positive net sales in the last 365 days are not clustered (cluster −1, cluster_name "no recent orders").
    top_lines: product lines kept in the mix features (the rest roll up into "other").
    """
    cfg = load_tier_config(config)
    inputs = network_inputs(con, as_of=as_of)
    card = tier_scorecard(inputs, cfg)
    if not _is_all(region):
        card = card[card["region"] == region]
    try:
        seg, feats = network_segments(con, as_of=as_of, region=region, segmenter=segmenter, top_lines=top_lines)
    except NotEnoughData:
        seg, feats = None, pd.DataFrame()
    out = card.copy()
    out["cluster"] = -1
    out["cluster_name"] = NO_ORDERS
    if seg is not None and len(feats):
        lab = pd.Series(seg.predict(feats.drop(columns="partner_id")), index=feats["partner_id"].to_numpy())
        out["cluster"] = out["partner_id"].map(lab).fillna(-1).astype("int64")
        out["cluster_name"] = out["cluster"].map(seg.cluster_names_).fillna(NO_ORDERS)
    comp = [f"{c}_score" for c in cfg.components]
    cols = ["partner_id", "region", "tier", *comp, "score", "score_pct", "cluster", "cluster_name"]
    return out[cols].sort_values("partner_id").reset_index(drop=True)
