"""Churn models and baselines on cutoff frames: the design matrix, the two candidates (regularized
logistic regression, calibrated gradient boosting) and the baseline scores (recency rule,
order-cycle rule, BG/NBD 1 - P(alive))."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

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
    "tune",
    "odds_ratios",
    "usable_columns",
]

CANDIDATES: tuple[str, ...] = ("logit", "gbm", "bg_logit")
BASELINES: tuple[str, ...] = ("recency_rule", "cycle_rule", "bgnbd", "bgnbd_horizon")
PROBABILISTIC: frozenset[str] = frozenset({"logit", "gbm", "bg_logit", "bgnbd", "bgnbd_horizon"})


DRIVER_FEATURES: tuple[str, ...] = (
    "recency_days", "tenure_days", "n_order_days", "median_gap_days", "cycle_ratio",
    "sales_90d", "sales_prev_90d", "sales_365d", "sales_change_pct",
    "order_days_90d", "order_days_prev_90d", "rebate_overdue", "sat_last", "sat_change",
    "open_conflicts", "conflicts_365d", "trainings_365d", "days_overdue",
    # BG/NBD and Pareto/NBD-style shape of the history, and the regularity of the gaps
    "bg_p_alive", "bg_expected_orders", "bg_p_no_order", "bg_T_w", "bg_monetary",
    "recency_T_ratio", "order_rate_w", "gap_cv", "overdue_sd",
)
# bg_logit: a logistic model stacked on BG/NBD's own forecast, corrected by a few drivers it ignores
# (recent vs earlier activity, regularity, and the relationship: satisfaction, conflicts, rebates, contact)
STACK_FEATURES: tuple[str, ...] = (
    "bg_p_no_order", "bg_p_alive", "bg_expected_orders", "order_days_90d", "order_days_prev_90d",
    "recency_days", "recency_T_ratio", "gap_cv", "overdue_sd", "tenure_days", "sales_90d", "sales_365d",
    "sat_last", "sat_change", "open_conflicts", "rebate_overdue", "days_overdue",
)
CHANNEL_TYPES = ("distributor", "wholesaler", "dealer", "retailer", "ecommerce", "key_account", "other")
_LOG_HINTS = ("cny", "sales", "amount", "due", "paid", "shortfall", "value", "aov", "rebate", "monetary")


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
    """Numeric model matrix with `columns` (missing ones NaN); money columns and expected orders get a
    signed log1p, BG/NBD probabilities their log-odds."""
    n = len(frame)
    cols: dict[str, np.ndarray] = {}
    channel = frame["channel_type"].to_numpy(object) if "channel_type" in frame.columns else np.full(n, None, object)
    for c in columns:
        if c.startswith("is_") and c[3:] in CHANNEL_TYPES:
            cols[c] = (channel == c[3:]).astype(float)
        elif c in frame.columns:
            v = pd.to_numeric(frame[c], errors="coerce").to_numpy(float, na_value=np.nan)
            if c.startswith("bg_p_"):  # probabilities enter as log-odds: BG/NBD's own forecast is linear in them
                p = np.clip(v, 1e-6, 1 - 1e-6)
                v = np.log(p) - np.log1p(-p)
            elif c == "bg_expected_orders" or any(h in c for h in _LOG_HINTS):
                v = np.sign(v) * np.log1p(np.abs(v))
            cols[c] = np.where(np.isinf(v), np.nan, v)
        else:
            cols[c] = np.full(n, np.nan)
    return pd.DataFrame(cols, index=frame.index, columns=list(columns))


Z_CLIP = 5.0  # standardized inputs are clipped to ±5 SD: a driver nearly constant in training must not explode


def make_logit(C: float = 0.1) -> Any:
    """L2-regularized logistic regression on median-imputed, standardized features clipped to ±Z_CLIP
    (sklearn Pipeline)."""
    from functools import partial

    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        FunctionTransformer(partial(np.clip, a_min=-Z_CLIP, a_max=Z_CLIP)),
        LogisticRegression(C=C, max_iter=2000),
    )


class DropDead(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Drop columns with fewer than two distinct finite values in the training rows (a tree learner
    cannot bin them; a sub-sample of the training cutoffs can lose a rare driver entirely)."""

    def fit(self, X: Any, y: Any = None) -> DropDead:
        """Remember which columns vary; returns self."""
        X = np.asarray(X, dtype=float)
        self.keep_ = np.array([np.unique(c[np.isfinite(c)]).size >= 2 for c in X.T], dtype=bool)
        if not self.keep_.any():
            self.keep_[:1] = True
        return self

    def transform(self, X: Any) -> np.ndarray:
        """X without the columns that did not vary in training."""
        return np.asarray(X, dtype=float)[:, self.keep_]


def make_gbm(*, seed: int = 0, learning_rate: float = 0.1, max_leaf_nodes: int = 15,
             min_samples_leaf: int = 40) -> Any:
    """HistGradientBoostingClassifier for churn (shallow trees, fixed iterations, seeded), after DropDead."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline

    return make_pipeline(DropDead(), HistGradientBoostingClassifier(
        learning_rate=learning_rate, max_iter=100, max_leaf_nodes=max_leaf_nodes, min_samples_leaf=min_samples_leaf,
        l2_regularization=1.0, early_stopping=False, random_state=seed,
    ))


# Hyper-parameters tried inside the rolling backtest (chosen on the training cut-offs only)
LOGIT_GRID: tuple[dict[str, float], ...] = tuple({"C": c} for c in (0.01, 0.03, 0.1, 0.3, 1.0))
GBM_GRID: tuple[dict[str, float], ...] = (
    {"learning_rate": 0.05, "max_leaf_nodes": 7, "min_samples_leaf": 80},
    {"learning_rate": 0.1, "max_leaf_nodes": 15, "min_samples_leaf": 40},
    {"learning_rate": 0.1, "max_leaf_nodes": 31, "min_samples_leaf": 20},
)
STACK_GRID: tuple[dict[str, float], ...] = tuple({"C": c} for c in (0.01, 0.1, 1.0))
TUNE_ROWS = 10_000  # at most this many training and validation rows each when tuning (seeded sample)
DEFAULTS: dict[str, dict[str, float]] = {"logit": {"C": 0.1}, "gbm": dict(GBM_GRID[1]), "bg_logit": {"C": 0.1}}
GRIDS: dict[str, tuple[dict[str, float], ...]] = {"logit": LOGIT_GRID, "gbm": GBM_GRID, "bg_logit": STACK_GRID}


def stack_index(columns: Sequence[str] | None, n: int) -> np.ndarray:
    """Positions of STACK_FEATURES among `columns` (all n positions when the names are unknown or none match)."""
    if columns is None:
        return np.arange(n)
    idx = np.array([i for i, c in enumerate(columns) if c in STACK_FEATURES], dtype=np.int64)
    return idx if len(idx) else np.arange(n)


class Subset:
    """A fitted classifier that reads only some columns of the full design matrix (bg_logit)."""

    def __init__(self, model: Any, index: np.ndarray) -> None:
        self.model, self.index = model, np.asarray(index, dtype=np.int64)

    def fit(self, X: Any, y: Any) -> Subset:
        """Fit the wrapped model on the kept columns; returns self."""
        self.model.fit(np.asarray(X, dtype=float)[:, self.index], y)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """The wrapped model's probabilities on the kept columns."""
        return self.model.predict_proba(np.asarray(X, dtype=float)[:, self.index])


def _make(name: str, params: dict, *, seed: int, columns: Sequence[str] | None = None, n: int = 0) -> Any:
    """An unfitted candidate with `params` (bg_logit: a logit reading its stacked columns of the n named `columns`)."""
    if name == "gbm":
        return make_gbm(seed=seed, **params)
    if name == "bg_logit":
        return Subset(make_logit(**params), stack_index(columns, n))
    return make_logit(**params)


def _inner_splits(y: np.ndarray, cutoffs: np.ndarray | None, *, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Validation splits of the training rows for tuning: the latest training cutoff against the
    earlier ones when there are two or more (out of time), else 3 folds of partners (seeded)."""
    if cutoffs is not None and len(np.unique(cutoffs)) >= 2:
        val = cutoffs == np.max(cutoffs)
        return [(np.flatnonzero(~val), np.flatnonzero(val))]
    from sklearn.model_selection import StratifiedKFold

    k = int(min(3, y.sum(), len(y) - y.sum()))
    if k < 2:
        return []
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def tune(name: str, X: np.ndarray, y: np.ndarray, *, cutoffs: np.ndarray | None = None, seed: int = 0,
         columns: Sequence[str] | None = None) -> dict:
    """Hyper-parameters of candidate `name` with the best mean validation ROC AUC over _inner_splits
    of the training rows (GRIDS[name]); DEFAULTS when no split has both classes. `columns` names X's
    columns (bg_logit keeps STACK_FEATURES)."""
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", category=RuntimeWarning)
        warnings.simplefilter("ignore", category=UserWarning)
        return _tune(name, np.asarray(X, dtype=float), np.asarray(y), cutoffs=cutoffs, seed=seed, columns=columns)


def _tune(name: str, X: np.ndarray, y: np.ndarray, *, cutoffs: np.ndarray | None, seed: int,
          columns: Sequence[str] | None = None) -> dict:
    from sklearn.metrics import roc_auc_score

    grid = GRIDS[name]
    rng = np.random.default_rng(seed)

    def cap(idx: np.ndarray) -> np.ndarray:  # a seeded sub-sample keeps tuning cheap on large networks
        return np.sort(rng.choice(idx, TUNE_ROWS, replace=False)) if len(idx) > TUNE_ROWS else idx

    splits = [(cap(a), cap(b)) for a, b in _inner_splits(y, cutoffs, seed=seed)]
    splits = [(a, b) for a, b in splits if 0 < y[a].sum() < len(a) and 0 < y[b].sum() < len(b)]
    if not splits:
        return dict(DEFAULTS[name])
    best, best_auc = dict(DEFAULTS[name]), -np.inf
    for params in grid:
        aucs = []
        for a, b in splits:
            m = _make(name, params, seed=seed, columns=columns, n=X.shape[1])
            m.fit(X[a], y[a])
            aucs.append(roc_auc_score(y[b], m.predict_proba(X[b])[:, 1]))
        if np.mean(aucs) > best_auc + 1e-9:
            best, best_auc = dict(params), float(np.mean(aucs))
    return best


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


def bgnbd_scores(
    frame: pd.DataFrame, *, horizon_days: int = 90, seed: int = 0, fit_on: pd.DataFrame | None = None
) -> pd.DataFrame:
    """BG/NBD per partner of a cutoff frame, fitted on `fit_on` (default: the same frame): p_alive,
    expected_orders (order days in the next horizon_days) and p_no_order (no order in the horizon:
    the churn label's event)."""
    x, tx, t = frame["bg_frequency"], frame["bg_recency_w"], frame["bg_T_w"].clip(lower=1e-3)
    if frame.empty:
        return pd.DataFrame({"p_alive": [], "expected_orders": [], "p_no_order": []}, index=frame.index)
    bg = _bgnbd_fit(frame if fit_on is None or fit_on.empty else fit_on, seed=seed)
    w = horizon_days / 7.0
    return pd.DataFrame({
        "p_alive": bg.conditional_probability_alive(x, tx, t),
        "expected_orders": bg.conditional_expected_number_of_purchases_up_to_time(w, x, tx, t),
        "p_no_order": bg.conditional_probability_no_purchase(w, x, tx, t),
    }, index=frame.index)


def baseline_scores(frame: pd.DataFrame, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Baseline risk scores (higher = more likely to churn) from the drivers at one cutoff.

    recency_rule: days since last order. cycle_rule: days since last order / own median gap.
    bgnbd: 1 - P(alive) from a BG/NBD model fitted (in weeks) on the cutoff's buyers (cutoff_frames)
    or on the frame itself (a seeded sample of BGNBD_FIT_ROWS when there are more); bgnbd_horizon:
    the same model's P(no order within the horizon), the churn label's own event.
    """
    if frame.empty:
        p_alive = p_none = np.zeros(0)
    elif {"bg_p_alive", "bg_p_no_order"} <= set(frame.columns) and frame["bg_p_alive"].notna().all():
        p_alive, p_none = frame["bg_p_alive"].to_numpy(float), frame["bg_p_no_order"].to_numpy(float)
    else:
        sc = bgnbd_scores(frame, seed=seed)
        p_alive, p_none = sc["p_alive"].to_numpy(float), sc["p_no_order"].to_numpy(float)
    return {
        "recency_rule": frame["recency_days"].to_numpy(float),
        "cycle_rule": frame["cycle_ratio"].to_numpy(float),
        "bgnbd": np.round(1.0 - p_alive, 6),  # no dropout in the fit (a -> 0): ties, not float noise
        "bgnbd_horizon": p_none,
    }


def _fit_candidate(
    name: str, X: pd.DataFrame, y: np.ndarray, *, seed: int, cutoffs: np.ndarray | None = None,
    params: dict | None = None,
) -> Any:
    """Fit candidate `name` ('logit', 'gbm' or 'bg_logit': a logit on STACK_FEATURES) on X, y with `params`

    The gradient-boosted model is calibrated out of time: trees are grown on all but the latest
    training cutoff and the probabilities calibrated on that latest cutoff (3-fold cross-fitting
    when there is a single cutoff).
    """
    params = dict(DEFAULTS[name]) if params is None else dict(params)
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
            return make_logit(**params).fit(Xa, y)
        if name == "bg_logit":
            return _make(name, params, seed=seed, columns=list(X.columns), n=Xa.shape[1]).fit(Xa, y)
        last = None if cutoffs is None else np.max(cutoffs)
        fit_rows = None if cutoffs is None else cutoffs < last
        if fit_rows is None or fit_rows.sum() == 0 or y[~fit_rows].sum() < 10 or y[fit_rows].sum() < 10:
            from sklearn.calibration import CalibratedClassifierCV

            if n_min < 2:
                return make_gbm(seed=seed, **params).fit(Xa, y)
            method = "isotonic" if y.sum() >= 300 else "sigmoid"
            return CalibratedClassifierCV(make_gbm(seed=seed, **params), method=method, cv=min(3, n_min)).fit(Xa, y)
        gbm = make_gbm(seed=seed, **params).fit(Xa[fit_rows], y[fit_rows])
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
