"""Model choice: the k search table and the comparison of the chosen segmentation with the baselines a
sceptical analyst tries first.

`compare_baselines` fits, beside the chosen Segmenter, (1) KMeans on standardised log spend per product
line (k by silhouette over 2–8) and (2) a Gaussian mixture with full covariance on the chosen model's
own scaled features (2–8 components by BIC), and reports for each: k, silhouette and BIC in its own
feature space, agreement with the chosen segmentation (adjusted Rand index) and, when a truth is given
(planted segments of a synthetic world, known groups of a real data set), the ARI against it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from workbench.segment.models import Segmenter

__all__ = ["selection_table", "compare_baselines", "kmeans_log_spend", "gmm_bic", "BASELINES"]

BASELINES = ("kmeans_log_spend", "gmm_same_features")


def selection_table(seg: Segmenter) -> pd.DataFrame:
    """The k search: k, silhouette, bic, stability (mean ARI over resamples), stability_sd, chosen."""
    check_is_fitted(seg, "selection_")
    return seg.selection_.copy()


def _silhouette(Z: np.ndarray, labels: np.ndarray, *, size: int = 2000, seed: int = 0) -> float:
    if len(np.unique(labels)) < 2 or len(labels) < 3:
        return float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(labels), size=min(size, len(labels)), replace=False)
    if len(np.unique(labels[idx])) < 2:
        return float("nan")
    return float(silhouette_score(Z[idx], labels[idx]))


def kmeans_log_spend(spend: np.ndarray, *, k_range: tuple[int, int] = (2, 8), seed: int = 0,
                     k: int | None = None) -> tuple[np.ndarray, int, np.ndarray]:
    """KMeans on standardised ln(1 + spend) per line (rows partners): (labels, k, features); k by
    silhouette over `k_range` unless given."""
    Z = np.log1p(np.clip(np.asarray(spend, dtype=np.float64), 0, None))
    sd = Z.std(axis=0)
    Z = (Z - Z.mean(axis=0)) / np.where(sd > 1e-12, sd, 1.0)
    ks = [k] if k is not None else list(range(k_range[0], min(k_range[1], len(Z) - 1) + 1))
    best: tuple[float, np.ndarray, int] | None = None
    with threadpool_limits(limits=1):
        for kk in ks:
            lab = KMeans(n_clusters=kk, n_init=10, random_state=seed).fit_predict(Z)
            sil = _silhouette(Z, lab, seed=seed)
            if best is None or (np.nan_to_num(sil, nan=-1.0) > best[0]):
                best = (np.nan_to_num(sil, nan=-1.0), lab, kk)
    assert best is not None
    return best[1], best[2], Z


def gmm_bic(Z: np.ndarray, *, k_range: tuple[int, int] = (2, 8), seed: int = 0) -> tuple[np.ndarray, int, float]:
    """A full-covariance Gaussian mixture on `Z` with the number of components (over `k_range`) of the
    lowest BIC: (labels, k, bic)."""
    best: tuple[float, np.ndarray, int] | None = None
    with threadpool_limits(limits=1):
        for k in range(k_range[0], min(k_range[1], len(Z) - 1) + 1):
            g = GaussianMixture(n_components=k, covariance_type="full", reg_covar=1e-4, n_init=1,
                                random_state=seed).fit(Z)
            bic = float(g.bic(Z))
            if best is None or bic < best[0]:
                best = (bic, g.predict(Z), k)
    assert best is not None
    return best[1], best[2], best[0]


def compare_baselines(
    seg: Segmenter,
    X: pd.DataFrame,
    spend: pd.DataFrame | np.ndarray,
    *,
    truth: np.ndarray | pd.Series | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """The chosen segmentation beside the baselines, one row per method.

    seg: a fitted Segmenter; X: its feature rows (same columns as in fit; a partner_id column is
    ignored); spend: net sales per product line of the same rows (e.g. ``mix_features(mode=
    "log_spend")`` undone, or any amounts per category), rows aligned with X; truth: known group per
    row (optional). Columns: method, k, silhouette (in the method's own feature space), bic (GMM
    only), agreement (ARI with the chosen segmentation) and, with truth, ari_truth.
    """
    check_is_fitted(seg, "model_")
    feats = X.drop(columns="partner_id") if "partner_id" in X.columns else X
    S = spend.drop(columns="partner_id").to_numpy() if isinstance(spend, pd.DataFrame) and "partner_id" in spend.columns \
        else np.asarray(spend)
    Z = seg.transform_features(feats)
    chosen = seg.predict(feats)
    km_lab, km_k, km_Z = kmeans_log_spend(S, seed=seed)
    gm_lab, gm_k, gm_bic = gmm_bic(Z, seed=seed)
    chosen_row = seg.selection_.set_index("k").loc[seg.n_clusters_] if seg.n_clusters_ in set(seg.selection_["k"]) \
        else pd.Series({"bic": np.nan})
    rows = [
        {"method": f"chosen ({seg.algorithm})", "k": int(seg.n_clusters_), "silhouette": _silhouette(Z, chosen, seed=seed),
         "bic": float(chosen_row.get("bic", np.nan)), "agreement": 1.0, "_lab": chosen},
        {"method": "kmeans_log_spend", "k": km_k, "silhouette": _silhouette(km_Z, km_lab, seed=seed), "bic": np.nan,
         "agreement": float(adjusted_rand_score(chosen, km_lab)), "_lab": km_lab},
        {"method": "gmm_same_features", "k": gm_k, "silhouette": _silhouette(Z, gm_lab, seed=seed), "bic": gm_bic,
         "agreement": float(adjusted_rand_score(chosen, gm_lab)), "_lab": gm_lab},
    ]
    out = pd.DataFrame(rows)
    if truth is not None:
        y = np.asarray(truth)
        out["ari_truth"] = [float(adjusted_rand_score(y, lab)) for lab in out["_lab"]]
    return out.drop(columns="_lab")
