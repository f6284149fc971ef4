"""The Segmenter: a scikit-learn clustering estimator over any numeric partner table.

Log/robust scaling, KMeans or a Gaussian mixture, k chosen over 2–8 by silhouette (or BIC) together
with bootstrap stability (mean adjusted Rand index over resamples), clusters named in plain words from
their profiles (see `naming`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from workbench.segment.naming import cluster_traits, name_clusters

__all__ = ["Segmenter", "make_segmenter", "COMPOSITION_PREFIXES"]

# columns holding one product-mix composition on a log scale (never logged again; scaled as one block)
COMPOSITION_PREFIXES: tuple[str, ...] = ("clr_", "ilr_", "lspend_")


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
        (all values in 0–1, e.g. product mix) and columns named clr_*, ilr_*, lspend_* (product-mix
        log-ratios or per-line log spend, never logged again) are scaled together by their pooled sd,
        as one composition.
    n_bootstrap : resamples per k for the stability check.
    resample_size : rows per resample (bootstrap, with replacement); at most the number of rows.
    silhouette_size : rows sampled to compute the silhouette (its cost is quadratic).
    n_init : KMeans restarts; a Gaussian mixture gets n_init // 10 (at least 1) k-means initialisations.
    covariance_type : GMM covariance ("full", "diag", "tied", "spherical").
    share_weight : how many ordinary features the composition block (share or clr_/ilr_/lspend_
        columns) weighs together (its total variance after scaling); None weighs each column like one
        feature. Default 4: the mix counts as much as the volume, rhythm and order-size features
        together (chosen on the synthetic worlds, see docs/segment.md).
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
    cluster_traits_ : per cluster the traits that name it (language-neutral, see `naming.cluster_traits`).
    cluster_names_ : plain-word name per cluster in English (``present.segment.cluster_names`` for zh).
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
        share_weight: float | None = 4.0,
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

    def _named_blocks(self, d: int) -> np.ndarray:
        """Columns named as product-mix coordinates (clr_, ilr_, lspend_): already on a log scale."""
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            return np.zeros(d, dtype=bool)
        return np.array([str(c).startswith(COMPOSITION_PREFIXES) for c in names], dtype=bool)

    def _fit_scaling(self, X: np.ndarray) -> None:
        logged = self._named_blocks(X.shape[1])
        if self.log == "auto":  # amounts and counts (ratio scale, ≥ 0, beyond 0–1); not shares, not log-ratios
            self.log_columns_ = (X >= 0).all(axis=0) & (X > 1 + 1e-9).any(axis=0) & ~logged
        elif self.log is True:
            self.log_columns_ = np.ones(X.shape[1], dtype=bool)
        elif self.log is False:
            self.log_columns_ = np.zeros(X.shape[1], dtype=bool)
        else:
            raise ValueError(f"log must be 'auto', True or False, not {self.log!r}.")
        Z = self._log(X)
        # shares (every value in 0–1, e.g. product mix) form one composition: they share one scale,
        # so a 10-point shift counts the same in every line and a rare line is not blown up
        self.share_columns_ = (~self.log_columns_ & (X >= 0).all(axis=0) & (X <= 1 + 1e-9).all(axis=0)) | logged
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
        self.cluster_traits_ = cluster_traits(z)
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
