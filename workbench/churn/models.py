"""Churn models and baselines on cutoff frames: the design matrix, the two candidates (regularized
logistic regression, calibrated gradient boosting) and the baseline scores (recency rule,
order-cycle rule, BG/NBD 1 - P(alive))."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.churn.bgnbd import BetaGeoFitter

__all__ = [
    "BASELINES",
    "CANDIDATES",
    "DRIVER_FEATURES",
    "PROBABILISTIC",
    "ConstantRate",
    "baseline_scores",
    "bgnbd_scores",
    "calibrate",
    "design_matrix",
    "feature_columns",
    "make_gbm",
    "make_logit",
    "odds_ratios",
    "usable_columns",
]

CANDIDATES: tuple[str, ...] = ("logit", "gbm")
BASELINES: tuple[str, ...] = ("recency_rule", "cycle_rule", "bgnbd")
PROBABILISTIC: frozenset[str] = frozenset({"logit", "gbm", "bgnbd"})


DRIVER_FEATURES: tuple[str, ...] = (
    "recency_days", "tenure_days", "n_order_days", "median_gap_days", "cycle_ratio",
    "sales_90d_cny", "sales_prev_90d_cny", "sales_365d_cny", "sales_change_pct",
    "order_days_90d", "order_days_prev_90d", "rebate_overdue_cny", "sat_last", "sat_change",
    "open_conflicts", "conflicts_365d", "trainings_365d",
)
CHANNEL_TYPES = ("distributor", "wholesaler", "dealer", "retailer", "ecommerce", "key_account", "other")
_LOG_HINTS = ("cny", "sales", "amount", "due", "paid", "shortfall", "value", "aov")


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """Model inputs present in `frame`: the drivers, numeric snapshot columns, channel-type dummies."""
    cols = [c for c in DRIVER_FEATURES if c in frame.columns]
    cols += [c for c in frame.columns if c.startswith("snap_")]
    cols += [f"is_{c}" for c in CHANNEL_TYPES]
    return cols


def usable_columns(train: pd.DataFrame) -> list[str]:
    """feature_columns of a training frame that are not entirely missing or constant."""
    X = design_matrix(train, feature_columns(train))
    return [c for c in X.columns if X[c].notna().any() and X[c].nunique(dropna=True) > 1]


def design_matrix(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Numeric model matrix with `columns` (missing ones NaN); money columns get a signed log1p."""
    n = len(frame)
    cols: dict[str, np.ndarray] = {}
    channel = frame["channel_type"].to_numpy(object) if "channel_type" in frame.columns else np.full(n, None, object)
    for c in columns:
        if c.startswith("is_") and c[3:] in CHANNEL_TYPES:
            cols[c] = (channel == c[3:]).astype(float)
        elif c in frame.columns:
            v = pd.to_numeric(frame[c], errors="coerce").to_numpy(float, na_value=np.nan)
            if any(h in c for h in _LOG_HINTS):
                v = np.sign(v) * np.log1p(np.abs(v))
            cols[c] = np.where(np.isinf(v), np.nan, v)
        else:
            cols[c] = np.full(n, np.nan)
    return pd.DataFrame(cols, index=frame.index, columns=list(columns))


def make_logit(C: float = 0.5) -> Any:
    """L2-regularized logistic regression on median-imputed, standardized features (sklearn Pipeline)."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=C, max_iter=2000),
    )


def make_gbm(*, seed: int = 0) -> Any:
    """HistGradientBoostingClassifier for churn (shallow trees, fixed iterations, seeded)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        learning_rate=0.1, max_iter=100, max_leaf_nodes=15, min_samples_leaf=40,
        l2_regularization=1.0, early_stopping=False, random_state=seed,
    )


def calibrate(model: Any, X: np.ndarray, y: np.ndarray) -> Any:
    """Wrap a fitted classifier with probabilities calibrated on (X, y): isotonic when there are
    >= 300 churners, else sigmoid (Platt)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    method = "isotonic" if y.sum() >= 300 else "sigmoid"
    return CalibratedClassifierCV(FrozenEstimator(model), method=method).fit(X, y)


def odds_ratios(logit: Any, columns: Sequence[str]) -> pd.DataFrame:
    """Odds ratio per one standard deviation of each input (money inputs on a log scale), sorted."""
    coef = logit[-1].coef_[0]
    out = pd.DataFrame({"feature": list(columns), "coef_per_sd": coef, "odds_ratio_per_sd": np.exp(coef)})
    return out.reindex(out["coef_per_sd"].abs().sort_values(ascending=False).index).reset_index(drop=True)


BGNBD_FIT_ROWS = 5000  # BG/NBD has four parameters: a seeded sample of 5,000 partners pins them down


def _bgnbd_fit(frame: pd.DataFrame, *, seed: int = 0) -> BetaGeoFitter:
    """BG/NBD fitted (in weeks) on a cutoff frame's partners (a seeded sample of BGNBD_FIT_ROWS when more)."""
    from threadpoolctl import threadpool_limits

    from workbench.errors import NotEnoughData

    if frame.empty:
        raise NotEnoughData("No partner was active before the cut-off, so there is nobody to score.")
    fit = frame if len(frame) <= BGNBD_FIT_ROWS else frame.sample(BGNBD_FIT_ROWS, random_state=seed)
    with threadpool_limits(limits=1):  # a four-parameter fit: BLAS threads only add overhead (6x CPU)
        return BetaGeoFitter(penalizer=1e-3, tol=1e-9).fit(
            fit["bg_frequency"], fit["bg_recency_w"], fit["bg_T_w"].clip(lower=1e-3)
        )


def bgnbd_scores(frame: pd.DataFrame, *, horizon_days: int = 90, seed: int = 0) -> pd.DataFrame:
    """BG/NBD per partner of a cutoff frame, fitted on the same frame: p_alive, expected_orders (order
    days in the next horizon_days) and p_no_order (no order in the horizon: the churn label's event)."""
    x, tx, t = frame["bg_frequency"], frame["bg_recency_w"], frame["bg_T_w"].clip(lower=1e-3)
    if frame.empty:
        return pd.DataFrame({"p_alive": [], "expected_orders": [], "p_no_order": []}, index=frame.index)
    bg = _bgnbd_fit(frame, seed=seed)
    w = horizon_days / 7.0
    return pd.DataFrame({
        "p_alive": bg.conditional_probability_alive(x, tx, t),
        "expected_orders": bg.conditional_expected_number_of_purchases_up_to_time(w, x, tx, t),
        "p_no_order": bg.conditional_probability_no_purchase(w, x, tx, t),
    }, index=frame.index)


def baseline_scores(frame: pd.DataFrame, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Baseline risk scores (higher = more likely to churn) from the drivers at one cutoff.

    recency_rule: days since last order. cycle_rule: days since last order / own median gap.
    bgnbd: 1 - P(alive) from a BG/NBD model fitted (in weeks) on the same cutoff's partners
    (a seeded sample of BGNBD_FIT_ROWS when there are more).
    """
    if frame.empty:
        p_alive = np.zeros(0)
    else:
        bg = _bgnbd_fit(frame, seed=seed)
        p_alive = bg.conditional_probability_alive(
            frame["bg_frequency"], frame["bg_recency_w"], frame["bg_T_w"].clip(lower=1e-3))
    return {
        "recency_rule": frame["recency_days"].to_numpy(float),
        "cycle_rule": frame["cycle_ratio"].to_numpy(float),
        "bgnbd": 1.0 - p_alive,
    }


def _fit_candidate(
    name: str, X: pd.DataFrame, y: np.ndarray, *, seed: int, cutoffs: np.ndarray | None = None
) -> Any:
    """Fit candidate `name` ('logit' or 'gbm') on X, y.

    The gradient-boosted model is calibrated out of time: trees are grown on all but the latest
    training cutoff and the probabilities calibrated on that latest cutoff (3-fold cross-fitting
    when there is a single cutoff).
    """
    from threadpoolctl import threadpool_limits

    Xa = X.to_numpy(float)
    # one OpenMP/BLAS thread: small models gain little from threads, and oversubscription on a
    # busy machine makes HistGradientBoosting 30x slower
    n_min = int(min(y.sum(), len(y) - y.sum()))
    if n_min == 0:  # one class only (a tiny region): the observed rate is all there is to learn
        return ConstantRate().fit(Xa, y)
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", category=RuntimeWarning)
        warnings.simplefilter("ignore", category=UserWarning)
        if name == "logit":
            return make_logit().fit(Xa, y)
        last = None if cutoffs is None else np.max(cutoffs)
        fit_rows = None if cutoffs is None else cutoffs < last
        if fit_rows is None or fit_rows.sum() == 0 or y[~fit_rows].sum() < 10 or y[fit_rows].sum() < 10:
            from sklearn.calibration import CalibratedClassifierCV

            if n_min < 2:
                return make_gbm(seed=seed).fit(Xa, y)
            method = "isotonic" if y.sum() >= 300 else "sigmoid"
            return CalibratedClassifierCV(make_gbm(seed=seed), method=method, cv=min(3, n_min)).fit(Xa, y)
        gbm = make_gbm(seed=seed).fit(Xa[fit_rows], y[fit_rows])
        return calibrate(gbm, Xa[~fit_rows], y[~fit_rows])


class ConstantRate:
    """Classifier predicting the training churn rate for everyone (used when only one class is seen)."""

    def fit(self, X: Any, y: Any) -> ConstantRate:
        """Store the mean of y; returns self."""
        self.rate_ = float(np.mean(y))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Columns P(no churn), P(churn), the same for every row."""
        n = len(X)
        return np.column_stack([np.full(n, 1 - self.rate_), np.full(n, self.rate_)])


def _predict(model: Any, X: pd.DataFrame) -> np.ndarray:
    """P(churn) from a fitted classifier, single-threaded."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return model.predict_proba(X.to_numpy(float))[:, 1]
