"""Churn risk: which partners are about to stop reordering, why, and what to do.

Churn is the glossary's (DESIGN.md): a partner active in the 180 days up to `as_of` churns with
horizon H when it places no non-return order in (`as_of`, `as_of` + H].

What lives here
- `BetaGeoFitter`: BG/NBD (Fader, Hardie & Lee 2005) by maximum likelihood with scipy.
- `order_drivers`: point-in-time order history and churn drivers per partner (Ibis over the store).
- `cutoff_frame` / `backtest`: rolling-origin backtest over quarterly cutoffs with two candidate
  models (regularized logistic regression, calibrated gradient boosting) and three baselines
  (recency rule, order-cycle rule, BG/NBD P(alive)); `metrics_table`, `calibration_table`.
- `fit_scorer` / `risk_list`: the backtest winner refitted on every observable cutoff, scoring
  partners with sales at risk, top-three reasons in plain words and a recommended action each.
- `survival_curves`: Kaplan–Meier time-to-churn curves by tier and region (statsmodels).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln

from workbench.errors import WorkbenchError

__all__ = [
    "ACTIVE_DAYS",
    "BASELINES",
    "CANDIDATES",
    "Backtest",
    "BetaGeoFitter",
    "ChurnActions",
    "ReasonRule",
    "Scorer",
    "backtest",
    "backtest_plan",
    "calibration_table",
    "cdnow_summary",
    "cutoff_frame",
    "cutoff_frames",
    "default_cutoffs",
    "drilldown_table",
    "churn_durations",
    "landmark_date",
    "score_frame",
    "RISK_COLUMNS",
    "DRIVER_FEATURES",
    "fit_scorer",
    "gains_table",
    "load_actions",
    "make_gbm",
    "make_logit",
    "metrics_table",
    "odds_ratios",
    "odds_table",
    "order_drivers",
    "quarterly_cutoffs",
    "reasons_table",
    "risk_list",
    "roc_points",
    "run_backtest",
    "survival_curves",
    "survival_view",
    "threshold_table",
    "top_capture",
    "winner",
]

ACTIVE_DAYS = 180  # glossary: active in the 180 days up to as_of
CANDIDATES: tuple[str, ...] = ("logit", "gbm")
BASELINES: tuple[str, ...] = ("recency_rule", "cycle_rule", "bgnbd")
PROBABILISTIC: frozenset[str] = frozenset({"logit", "gbm", "bgnbd"})
MODEL_LABELS: dict[str, str] = {
    "logit": "Logistic regression (L2)",
    "gbm": "Gradient boosting (calibrated)",
    "recency_rule": "Recency rule",
    "cycle_rule": "Order-cycle rule",
    "bgnbd": "BG/NBD 1 - P(alive)",
}
MODEL_LABELS_ZH: dict[str, str] = {
    "logit": "逻辑回归（L2）",
    "gbm": "梯度提升树（已校准）",
    "recency_rule": "最近下单规则",
    "cycle_rule": "订货周期规则",
    "bgnbd": "BG/NBD 1 − 存活概率",
}


# --------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------


def _bgnbd_loglik(
    params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6) for (r, alpha, a, b)."""
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    a3 = np.full_like(x, -np.inf)
    pos = x > 0
    a3[pos] = betaln(a + 1, b + x[pos] - 1) - betaln(a, b) - (r + x[pos]) * np.log(alpha + tx[pos])
    return a1 + np.logaddexp(a2, a3)


class BetaGeoFitter:
    """BG/NBD model of repeat buying fitted by maximum likelihood (time unit: whatever T is in).

    Parameters
    ----------
    penalizer : L2 penalty on the parameters (0 = plain MLE, as in the paper).
    tol : relative change of the log-likelihood at which L-BFGS-B stops.
    """

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-12) -> None:
        self.penalizer = penalizer
        self.tol = tol

    def fit(self, frequency: Any, recency: Any, T: Any) -> BetaGeoFitter:
        """Fit on repeat-transaction counts, time of last repeat and age per customer; returns self."""
        x = np.asarray(frequency, dtype=float)
        tx = np.asarray(recency, dtype=float)
        t = np.asarray(T, dtype=float)
        if len(x) == 0 or np.any(x < 0) or np.any(tx > t + 1e-9) or np.any(t <= 0):
            raise WorkbenchError("BG/NBD needs frequency >= 0 and 0 <= recency <= T with T > 0.")
        # identical (x, t_x, T) rows share one likelihood term: fit on the unique rows, weighted
        u = pd.DataFrame({"x": x, "tx": tx, "T": t}).value_counts(sort=False).reset_index()
        ux, utx, uT, w = (u[c].to_numpy(float) for c in ("x", "tx", "T", "count"))
        pen = self.penalizer

        def nll(logp: np.ndarray) -> float:
            p = np.exp(logp)
            return -float(w @ _bgnbd_loglik(p, ux, utx, uT)) + pen * float(p @ p)

        start = np.log([1.0, max(float(np.mean(t)), 1e-3), 1.0, 1.0])
        res = minimize(nll, start, method="L-BFGS-B", options={"ftol": self.tol, "gtol": 1e-8, "maxiter": 2000})
        if not np.all(np.isfinite(res.x)):
            raise WorkbenchError("BG/NBD fit did not converge.")
        self.params_ = dict(zip(("r", "alpha", "a", "b"), np.exp(res.x), strict=True))
        self.log_likelihood_ = float(w @ _bgnbd_loglik(np.exp(res.x), ux, utx, uT))
        self.n_customers_ = len(x)
        self.converged_ = bool(res.success)
        self.summary_ = self._summary(nll, res.x)
        return self

    def _summary(self, nll: Callable[[np.ndarray], float], logp: np.ndarray) -> pd.DataFrame:
        """Estimates with standard errors from a numerical Hessian in log space (delta method)."""
        h = 1e-4
        k = len(logp)
        hess = np.zeros((k, k))
        for i in range(k):
            for j in range(k):
                ei, ej = np.eye(k)[i] * h, np.eye(k)[j] * h
                hess[i, j] = (
                    nll(logp + ei + ej) - nll(logp + ei - ej) - nll(logp - ei + ej) + nll(logp - ei - ej)
                ) / (4 * h * h)
        try:
            se_log = np.sqrt(np.clip(np.diag(np.linalg.inv(hess)), 0, None))
        except np.linalg.LinAlgError:
            se_log = np.full(k, np.nan)
        est = np.exp(logp)
        return pd.DataFrame(
            {
                "coef": est,
                "se(coef)": est * se_log,
                "lower 95% bound": np.exp(logp - 1.96 * se_log),
                "upper 95% bound": np.exp(logp + 1.96 * se_log),
            },
            index=pd.Index(["r", "alpha", "a", "b"], name="param"),
        )

    def conditional_probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(alive at T | x repeats, last at t_x), eq. (A10) of the paper; 1 for customers with x = 0."""
        r, alpha, a, b = (self.params_[k] for k in ("r", "alpha", "a", "b"))
        x = np.asarray(frequency, dtype=float)
        tx = np.asarray(recency, dtype=float)
        t = np.asarray(T, dtype=float)
        log_ratio = np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) + (r + x) * (
            np.log(alpha + t) - np.log(alpha + tx)
        )
        odds = np.where(x > 0, np.exp(np.minimum(log_ratio, 700.0)), 0.0)
        return 1.0 / (1.0 + odds)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: float, frequency: Any, recency: Any, T: Any
    ) -> np.ndarray:
        """Expected repeat transactions in (T, T + t] given the history, eq. (10) of the paper."""
        from scipy.special import hyp2f1

        r, alpha, a, b = (self.params_[k] for k in ("r", "alpha", "a", "b"))
        x = np.asarray(frequency, dtype=float)
        tx = np.asarray(recency, dtype=float)
        big_t = np.asarray(T, dtype=float)
        z = t / (alpha + big_t + t)
        first = (a + b + x - 1) / (a - 1)
        second = 1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
        delta = np.where(x > 0, 1.0, 0.0)
        third = 1 + delta * (a / (b + x - 1 + (x == 0))) * ((alpha + big_t) / (alpha + tx)) ** (r + x)
        return first * second / third

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return "<BetaGeoFitter: not fitted>"
        p = ", ".join(f"{k}: {v:.3f}" for k, v in self.params_.items())
        return f"<BetaGeoFitter: fitted with {self.n_customers_:,} customers, {p}, LL {self.log_likelihood_:,.1f}>"


def cdnow_summary(
    transactions: pd.DataFrame,
    *,
    calibration_end: date,
    customer_col: str = "customer_id",
    date_col: str = "date",
) -> pd.DataFrame:
    """Per-customer frequency, recency and T in weeks from a transaction log (same-day buys collapsed).

    transactions: one row per purchase (customer_col, date_col); rows after calibration_end are ignored.
    """
    d = pd.to_datetime(transactions[date_col]).dt.normalize()
    keep = d <= pd.Timestamp(calibration_end)
    days = pd.DataFrame({"c": transactions.loc[keep, customer_col].to_numpy(), "d": d[keep].to_numpy()})
    days = days.drop_duplicates()
    g = days.groupby("c")["d"]
    first, last, n = g.min(), g.max(), g.nunique()
    end = pd.Timestamp(calibration_end)
    out = pd.DataFrame(
        {
            "frequency": (n - 1).astype(int),
            "recency": (last - first).dt.days / 7.0,
            "T": (end - first).dt.days / 7.0,
        }
    )
    out.index.name = customer_col
    return out


# --------------------------------------------------------------------------------------------
# Point-in-time drivers and labels (Ibis over the store)
# --------------------------------------------------------------------------------------------

DatesLike = date | str | pd.Timestamp


def _day(value: DatesLike) -> date:
    """A date from a date, Timestamp or 'YYYY-MM-DD' string."""
    return pd.Timestamp(value).date()


def _tables(con: Any, region: str | None) -> dict[str, Any]:
    """Canonical tables scoped to one region (features.scoped_tables)."""
    from workbench import features

    return features.scoped_tables(con, region=None if region in (None, "", "all") else region)


DRIVER_ORDER_COLUMNS: tuple[str, ...] = (
    "partner_id", "name", "region", "channel_type", "onboard_date", "exit_date",
    "first_order", "last_order", "n_order_days", "median_gap_days", "order_days_90d", "order_days_prev_90d",
    "sales_90d_cny", "sales_prev_90d_cny", "sales_365d_cny", "rebate_overdue_cny",
    "sat_last", "sat_prev", "open_conflicts", "conflicts_365d", "trainings_365d",
)


def _driver_cutoffs(cutoffs: Sequence[date]) -> Any:
    """Small Ibis table of the cutoffs and their window bounds: cutoff, _d60, _d90, _d180, _d365 (dates)."""
    import ibis

    df = pd.DataFrame({"cutoff": list(cutoffs)})
    for k in (60, 90, 180, 365):
        df[f"_d{k}"] = [c - timedelta(days=k) for c in cutoffs]
    return ibis.memtable(df, schema={c: "date" for c in df.columns})


def _drivers_expr(t: dict[str, Any], cutoffs: Sequence[date]) -> Any:
    """Ibis expression of the order drivers at every cutoff: one row per (cutoff, partner onboarded by it).

    Each row of a fact table joins every cutoff it precedes (a range join with the small cutoff
    table), so all cutoffs cost one query. Columns: cutoff, DRIVER_ORDER_COLUMNS (before _derive_drivers).
    """
    import ibis

    cuts = _driver_cutoffs(cutoffs)
    keys = ["cutoff", "partner_id"]

    o = t["orders"]
    c = cuts.select("cutoff", "_d90", "_d180", "_d365")
    o = o.inner_join(c, [o.order_date <= c.cutoff, o.order_date > c._d365])  # every window is within 365 days
    sales = o.group_by(keys).aggregate(
        sales_90d_cny=o.net_amount.sum(where=o.order_date > o._d90).cast("float64"),
        sales_prev_90d_cny=o.net_amount.sum(where=(o.order_date > o._d180) & (o.order_date <= o._d90)).cast("float64"),
        sales_365d_cny=o.net_amount.sum().cast("float64"),
    )
    # order days and the gap to the previous order day: the same for every cutoff at or after the
    # day, so the window runs once over the whole history before the join with the cutoffs
    nr = t["orders"].filter(~t["orders"].is_return.fill_null(False) & (t["orders"].net_amount >= 0))
    days = nr.select("partner_id", "order_date").distinct()
    w = ibis.window(group_by="partner_id", order_by="order_date")
    days = days.mutate(gap=days.order_date.delta(days.order_date.lag().over(w), unit="day"))
    days = days.inner_join(c, days.order_date <= c.cutoff)
    hist = days.group_by(keys).aggregate(
        first_order=days.order_date.min(),
        last_order=days.order_date.max(),
        n_order_days=days.order_date.count(),
        median_gap_days=days.gap.median().cast("float64"),
        order_days_90d=days.order_date.count(where=days.order_date > days._d90),
        order_days_prev_90d=days.order_date.count(where=(days.order_date > days._d180) & (days.order_date <= days._d90)),
    )

    parts = [hist, sales]
    if "incentives" in t:
        inc = t["incentives"]
        c = cuts.select("cutoff", "_d60")
        inc = inc.inner_join(c, inc.period_end <= c._d60)
        paid = ibis.cases(
            (inc.paid_date.isnull(), inc.amount_paid.fill_null(0)),
            (inc.paid_date <= inc.cutoff, inc.amount_paid.fill_null(0)),
            else_=0,
        )
        inc = inc.mutate(short=ibis.greatest(inc.amount_due - paid, 0).cast("float64"))
        parts.append(inc.group_by(keys).aggregate(rebate_overdue_cny=inc.short.sum()))
    if "surveys" in t:
        sv = t["surveys"]
        c = cuts.select("cutoff")
        sv = sv.inner_join(c, sv.survey_date <= c.cutoff)
        sv = sv.mutate(rn=ibis.row_number().over(
            ibis.window(group_by=keys, order_by=[ibis.desc("survey_date"), ibis.desc("survey_id")])
        ))
        parts.append(sv.group_by(keys).aggregate(
            sat_last=sv.satisfaction.max(where=sv.rn == 0).cast("float64"),
            sat_prev=sv.satisfaction.max(where=sv.rn == 1).cast("float64"),
        ))
    if "conflicts" in t:
        cf = t["conflicts"]
        c = cuts.select("cutoff", "_d365")
        cf = cf.inner_join(c, cf.reported_date <= c.cutoff)
        parts.append(cf.group_by(keys).aggregate(
            open_conflicts=cf.conflict_id.count(where=cf.resolved_date.isnull() | (cf.resolved_date > cf.cutoff)),
            conflicts_365d=cf.conflict_id.count(where=cf.reported_date > cf._d365),
        ))
    if "trainings" in t:
        tr = t["trainings"]
        c = cuts.select("cutoff", "_d365")
        tr = tr.inner_join(c, [tr.training_date <= c.cutoff, tr.training_date > c._d365])
        parts.append(tr.group_by(keys).aggregate(trainings_365d=tr.training_id.count()))

    p = t["partners"]
    c = cuts.select("cutoff")
    p = p.inner_join(c, p.onboard_date <= c.cutoff)
    out = p.select("cutoff", "partner_id", "name", "region", "channel_type", "onboard_date", "exit_date")
    for k, part in enumerate(parts):
        out = out.left_join(part, keys, rname=f"{{name}}_r{k}")
    return out.select("cutoff", *[
        out[col] if col in out.columns else ibis.null("float64").name(col) for col in DRIVER_ORDER_COLUMNS
    ])


def _drivers(t: dict[str, Any], cutoffs: Sequence[date]) -> pd.DataFrame:
    """Order drivers at every cutoff as one frame (column cutoff first), sorted by cutoff, partner_id."""
    df = _drivers_expr(t, cutoffs).to_pandas()
    df["cutoff"] = pd.to_datetime(df["cutoff"]).astype("datetime64[s]")
    df = df.sort_values(["cutoff", "partner_id"], kind="stable").reset_index(drop=True)
    return _derive_drivers(df)


def order_drivers(con: Any, *, as_of: DatesLike, region: str | None = None) -> pd.DataFrame:
    """Point-in-time order history and churn drivers per partner, one row per partner (rows <= as_of).

    Columns: partner_id, name, region, channel_type, onboard_date, exit_date, first_order, last_order,
    n_order_days, median_gap_days, sales_90d_cny, sales_prev_90d_cny, sales_365d_cny,
    order_days_90d, order_days_prev_90d, rebate_overdue_cny (due - paid on ledger rows more than
    60 days past period_end), sat_last, sat_prev, open_conflicts, conflicts_365d, trainings_365d;
    derived in pandas: recency_days, tenure_days, cycle_ratio, sales_change_pct, sat_change,
    and BG/NBD inputs in weeks bg_frequency, bg_recency_w, bg_T_w.
    """
    return _drivers(_tables(con, region), [_day(as_of)]).drop(columns="cutoff")


def _derive_drivers(df: pd.DataFrame) -> pd.DataFrame:
    """Fill counts with 0 and add recency, tenure, cycle ratio, trends and BG/NBD inputs (days, weeks),
    each row at its own `cutoff`."""
    df = df.copy()
    for c in ("first_order", "last_order", "onboard_date", "exit_date"):
        df[c] = pd.to_datetime(df[c])
    zero = [
        "n_order_days", "order_days_90d", "order_days_prev_90d", "sales_90d_cny", "sales_prev_90d_cny",
        "sales_365d_cny", "rebate_overdue_cny", "open_conflicts", "conflicts_365d", "trainings_365d",
    ]
    for c in zero:
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0).astype(float)
    for c in ("median_gap_days", "sat_last", "sat_prev"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    ts = df["cutoff"]
    df["recency_days"] = (ts - df["last_order"]).dt.days.astype(float)
    df["tenure_days"] = (ts - df["onboard_date"]).dt.days.astype(float)
    gap = df["median_gap_days"].where(df["median_gap_days"] > 0)
    df["cycle_ratio"] = df["recency_days"] / gap.fillna(90.0)
    prev = df["sales_prev_90d_cny"]
    df["sales_change_pct"] = np.where(prev > 0, (df["sales_90d_cny"] / prev.where(prev > 0) - 1) * 100, np.nan)
    df["sat_change"] = df["sat_last"] - df["sat_prev"]
    df["bg_frequency"] = (df["n_order_days"] - 1).clip(lower=0)
    df["bg_recency_w"] = ((df["last_order"] - df["first_order"]).dt.days / 7.0).fillna(0.0)
    df["bg_T_w"] = ((ts - df["first_order"]).dt.days / 7.0).fillna(0.0)
    return df


def _region(region: str | None) -> str | None:
    return None if region in (None, "", "all") else region


SNAPSHOT_DROP = {
    "partner_id", "name", "region", "province", "city", "channel_type", "churned",
    # the same quantities as order_drivers columns (kept once, under the drivers' names)
    "recency_days", "tenure_days", "net_sales_90d_cny", "net_sales_prev_90d_cny", "net_sales_365d_cny",
    "order_cycle_median_days", "overdue_ratio", "satisfaction_last", "satisfaction_change",
    "trainings_365d", "conflicts_open", "conflicts_365d",
}


def cutoff_frame(
    con: Any,
    *,
    as_of: DatesLike,
    horizon_days: int = 90,
    region: str | None = None,
    labels: bool = True,
) -> pd.DataFrame:
    """One row per partner in the churn population at `as_of` (active in the 180 days up to it,
    not exited): drivers, snapshot features (prefixed `snap_`) and, when `labels`, `churned`.

    Features use rows dated <= as_of only; the label uses rows after it (features.churn_labels).
    A one-cutoff call of cutoff_frames.
    """
    d = _day(as_of)
    return cutoff_frames(con, [d], horizon_days=horizon_days, region=region, labels=labels)[d]


def cutoff_frames(
    con: Any,
    cutoffs: Iterable[DatesLike],
    *,
    horizon_days: int = 90,
    region: str | None = None,
    labels: bool = True,
) -> dict[date, pd.DataFrame]:
    """Cutoff frames keyed by cutoff date, in the order given (see cutoff_frame).

    All cutoffs are built together: one query each for the drivers (order_drivers), the snapshot
    features (features.partner_snapshots) and the labels (features.churn_label_sets), on tables
    scoped to the region once.
    """
    from workbench import features

    keys = list(dict.fromkeys(_day(c) for c in cutoffs))
    if not keys:
        return {}
    t = _tables(con, region)
    drv = _drivers(t, keys)
    active = drv["last_order"].notna() & (drv["recency_days"] < ACTIVE_DAYS)
    exited = drv["exit_date"].notna() & (drv["exit_date"] <= drv["cutoff"])
    drv = drv[active & ~exited]

    snap = features.partner_snapshots(t, as_of=keys).to_pandas()
    num = [
        c for c in snap.columns
        if c not in SNAPSHOT_DROP and (pd.api.types.is_numeric_dtype(snap[c]) or pd.api.types.is_bool_dtype(snap[c]))
    ]
    snap = pd.DataFrame(
        {"cutoff": pd.to_datetime(snap["as_of"]).astype("datetime64[s]"), "partner_id": snap["partner_id"]}
        | {f"snap_{c}": snap[c].astype(float) for c in num}
    )
    frame = drv.merge(snap, on=["cutoff", "partner_id"], how="left")
    if labels:
        lab = features.churn_label_sets(t, as_of=keys, horizon_days=horizon_days).to_pandas()
        lab = pd.DataFrame({
            "cutoff": pd.to_datetime(lab["as_of"]).astype("datetime64[s]"),
            "partner_id": lab["partner_id"].astype(str),
            "churned": lab["churned"].astype(bool),
        })
        frame = frame.merge(lab, on=["cutoff", "partner_id"], how="inner")
    frame = frame.sort_values(["cutoff", "partner_id"], kind="stable")
    by_cut = {_day(k): g.reset_index(drop=True) for k, g in frame.groupby("cutoff", sort=False)}
    empty = frame.iloc[:0].reset_index(drop=True)
    return {k: by_cut.get(k, empty) for k in keys}


# --------------------------------------------------------------------------------------------
# Models and baselines
# --------------------------------------------------------------------------------------------

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


def baseline_scores(frame: pd.DataFrame, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Baseline risk scores (higher = more likely to churn) from the drivers at one cutoff.

    recency_rule: days since last order. cycle_rule: days since last order / own median gap.
    bgnbd: 1 - P(alive) from a BG/NBD model fitted (in weeks) on the same cutoff's partners
    (a seeded sample of BGNBD_FIT_ROWS when there are more).
    """
    from threadpoolctl import threadpool_limits

    fit = frame if len(frame) <= BGNBD_FIT_ROWS else frame.sample(BGNBD_FIT_ROWS, random_state=seed)
    with threadpool_limits(limits=1):  # a four-parameter fit: BLAS threads only add overhead (6x CPU)
        bg = BetaGeoFitter(penalizer=1e-3, tol=1e-9).fit(
            fit["bg_frequency"], fit["bg_recency_w"], fit["bg_T_w"].clip(lower=1e-3)
        )
    p_alive = bg.conditional_probability_alive(frame["bg_frequency"], frame["bg_recency_w"], frame["bg_T_w"].clip(lower=1e-3))
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


# --------------------------------------------------------------------------------------------
# Rolling-origin backtest
# --------------------------------------------------------------------------------------------


def quarterly_cutoffs(*, first: DatesLike, last: DatesLike) -> list[date]:
    """Calendar quarter-end dates d with first <= d <= last."""
    q = pd.period_range(pd.Timestamp(_day(first)).to_period("Q"), pd.Timestamp(_day(last)).to_period("Q"), freq="Q")
    ends = [p.end_time.date() for p in q]
    return [d for d in ends if _day(first) <= d <= _day(last)]


MAX_TRAIN_CUTOFFS = 4  # sliding window: the latest four observable quarters (a year of seasons)


def backtest_plan(
    cutoffs: Iterable[DatesLike], *, horizon_days: int = 90, n_scored: int = 6, max_train: int = MAX_TRAIN_CUTOFFS
) -> pd.DataFrame:
    """Which cutoffs train the model scored at each cutoff: rows scored_cutoff, train_cutoffs, n_train.

    A cutoff t may train the model scored at s only if its labels were observable at s:
    t + horizon_days <= s; the latest `max_train` such cutoffs are used. The last `n_scored`
    cutoffs with at least one such t are scored.
    """
    cs = sorted({_day(c) for c in cutoffs})
    rows = []
    for s in cs:
        train = tuple(t for t in cs if t + timedelta(days=horizon_days) <= s)[-max_train:]
        if train:
            rows.append({"scored_cutoff": s, "train_cutoffs": train, "n_train": len(train)})
    return pd.DataFrame(rows[-n_scored:], columns=["scored_cutoff", "train_cutoffs", "n_train"])


@dataclass(frozen=True)
class Backtest:
    """Result of `run_backtest`.

    predictions: cutoff, partner_id, churned, model, score (one row per partner x cutoff x model).
    metrics: per cutoff and model (roc_auc, pr_auc, brier, top10_capture, n, churn_rate).
    summary: metrics averaged over cutoffs per model, best ROC AUC first.
    plan: the training plan (backtest_plan). odds: odds ratios of the last logit fitted.
    winner: name of the model with the best mean ROC AUC; margin: its lead over the runner-up.
    """

    predictions: pd.DataFrame
    metrics: pd.DataFrame
    summary: pd.DataFrame
    plan: pd.DataFrame
    odds: pd.DataFrame
    winner: str
    margin: float
    horizon_days: int

    def describe(self, lang: str = "en") -> str:
        """One sentence naming the winner and by how much it beats the runner-up (mean ROC AUC)."""
        s = self.summary
        top, second = s.iloc[0], s.iloc[1]
        wins = _paired_wins(self.metrics, top["model"], second["model"])
        n = len(self.plan)
        if lang == "zh":
            zh = MODEL_LABELS_ZH
            return (
                f"回测胜出：{zh.get(top['model'], top['model'])}，{n} 个季度截点平均 ROC AUC {top['roc_auc']:.3f}，"
                f"比第二名{zh.get(second['model'], second['model'])}（{second['roc_auc']:.3f}）高 {self.margin:+.3f}；"
                f"在 {n} 个截点中有 {wins} 个更好。"
            )
        return (
            f"{MODEL_LABELS.get(top['model'], top['model'])} wins the backtest with mean ROC AUC "
            f"{top['roc_auc']:.3f} over {n} quarterly cutoffs, {self.margin:+.3f} ahead of "
            f"{MODEL_LABELS.get(second['model'], second['model'])} ({second['roc_auc']:.3f}); "
            f"better at {wins} of {n} cutoffs."
        )

    def table(self, lang: str = "en") -> pd.DataFrame:
        """The summary for display: model name in `lang`, kind, mean metrics rounded to 3 places."""
        out = self.summary[["model", "kind", "roc_auc", "pr_auc", "brier", "top10_capture", "churn_rate"]].copy()
        names = MODEL_LABELS_ZH if lang == "zh" else MODEL_LABELS
        out.insert(0, "label", out.pop("model").map(names))
        if lang == "zh":
            out["kind"] = out["kind"].map({"candidate": "候选模型", "baseline": "基准"})
        return out.round(3)


def _paired_wins(metrics: pd.DataFrame, a: str, b: str) -> int:
    m = metrics.pivot_table(index="cutoff", columns="model", values="roc_auc")
    return int((m[a] > m[b]).sum())


def run_backtest(
    frames: dict[date, pd.DataFrame],
    *,
    horizon_days: int = 90,
    n_scored: int = 6,
    seed: int = 0,
    candidates: Sequence[str] = CANDIDATES,
) -> Backtest:
    """Rolling-origin backtest over labelled cutoff frames (cutoff_frame output keyed by cutoff date).

    Each scored cutoff s gets models trained only on cutoffs t with t + horizon_days <= s (expanding
    window of the latest MAX_TRAIN_CUTOFFS), and the baselines computed from s's own drivers.
    """
    frames = {_day(k): v for k, v in frames.items()}
    plan = backtest_plan(frames, horizon_days=horizon_days, n_scored=n_scored)
    if plan.empty:
        raise WorkbenchError(
            f"A backtest needs two cutoffs at least {horizon_days} days apart with labels; the store has too little history."
        )
    preds: list[pd.DataFrame] = []
    odds = pd.DataFrame(columns=["feature", "coef_per_sd", "odds_ratio_per_sd"])
    for s, train in zip(plan["scored_cutoff"], plan["train_cutoffs"], strict=True):
        test = frames[s]
        tr = pd.concat([frames[t] for t in train], ignore_index=True)
        cols = usable_columns(tr)
        Xtr, ytr = design_matrix(tr, cols), tr["churned"].to_numpy(bool).astype(int)
        Xte = design_matrix(test, cols)
        scores: dict[str, np.ndarray] = {}
        for name in candidates:
            model = _fit_candidate(name, Xtr, ytr, seed=seed, cutoffs=tr["cutoff"].to_numpy())
            scores[name] = _predict(model, Xte)
            if name == "logit" and not isinstance(model, ConstantRate):
                odds = odds_ratios(model, cols)
        scores.update(baseline_scores(test, seed=seed))
        for name, sc in scores.items():
            preds.append(
                pd.DataFrame(
                    {
                        "cutoff": pd.Timestamp(s),
                        "partner_id": test["partner_id"].to_numpy(),
                        "churned": test["churned"].to_numpy(bool),
                        "model": name,
                        "score": sc,
                    }
                )
            )
    predictions = pd.concat(preds, ignore_index=True)
    metrics = metrics_table(predictions)
    summary = _summary(metrics)
    margin = float(summary["roc_auc"].iloc[0] - summary["roc_auc"].iloc[1])
    return Backtest(predictions, metrics, summary, plan, odds, str(summary["model"].iloc[0]), margin, horizon_days)


def top_capture(y: Any, score: Any, share: float = 0.10) -> float:
    """Share of all churners found among the `share` highest-risk partners (ties broken by order)."""
    y = np.asarray(y, dtype=bool)
    score = np.nan_to_num(np.asarray(score, dtype=float), nan=-np.inf)
    if y.sum() == 0:
        return float("nan")
    k = max(1, int(math.ceil(share * len(y))))
    top = np.argsort(-score, kind="stable")[:k]
    return float(y[top].sum() / y.sum())


def metrics_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """ROC AUC, PR AUC, Brier (probability models only), top-10% capture per cutoff and model."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    rows = []
    for (cutoff, model), g in predictions.groupby(["cutoff", "model"], sort=True):
        y = g["churned"].to_numpy(bool)
        sc = np.nan_to_num(g["score"].to_numpy(float), nan=np.nanmin(g["score"]) if g["score"].notna().any() else 0)
        both = 0 < y.sum() < len(y)
        rows.append(
            {
                "cutoff": cutoff,
                "model": model,
                "n": len(g),
                "churn_rate": float(y.mean()),
                "roc_auc": roc_auc_score(y, sc) if both else np.nan,
                "pr_auc": average_precision_score(y, sc) if both else np.nan,
                "brier": brier_score_loss(y, np.clip(sc, 0, 1)) if model in PROBABILISTIC else np.nan,
                "top10_capture": top_capture(y, sc, 0.10),
            }
        )
    return pd.DataFrame(rows)


def _summary(metrics: pd.DataFrame) -> pd.DataFrame:
    """Metrics averaged over cutoffs per model, best mean ROC AUC first, with model labels and kind."""
    s = (
        metrics.groupby("model", sort=False)[["roc_auc", "pr_auc", "brier", "top10_capture", "churn_rate"]]
        .mean()
        .reset_index()
    )
    s["roc_auc_sd"] = metrics.groupby("model", sort=False)["roc_auc"].std().to_numpy()
    s["kind"] = np.where(s["model"].isin(CANDIDATES), "candidate", "baseline")
    s["label"] = s["model"].map(MODEL_LABELS).fillna(s["model"])
    s = s.sort_values("roc_auc", ascending=False).reset_index(drop=True)
    return s[["model", "label", "kind", "roc_auc", "roc_auc_sd", "pr_auc", "brier", "top10_capture", "churn_rate"]]


def winner(bt: Backtest) -> str:
    """Name of the backtest winner (best mean ROC AUC over the scored cutoffs)."""
    return bt.winner


def calibration_table(predictions: pd.DataFrame, *, model: str, bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed churn rate by risk decile (pooled over cutoffs): bin, n, mean_predicted, observed."""
    g = predictions[predictions["model"] == model]
    q = pd.qcut(g["score"].rank(method="first"), q=min(bins, len(g)), labels=False)
    out = (
        g.assign(bin=q + 1)
        .groupby("bin")
        .agg(n=("churned", "size"), mean_predicted=("score", "mean"), observed=("churned", "mean"))
        .reset_index()
    )
    out["model"] = model
    return out


def roc_points(predictions: pd.DataFrame, *, models: Sequence[str] | None = None, max_points: int = 200) -> pd.DataFrame:
    """ROC curve points per model pooled over cutoffs: model, fpr, tpr (at most max_points per model)."""
    from sklearn.metrics import roc_curve

    out = []
    for m, g in predictions.groupby("model", sort=False):
        if models is not None and m not in models:
            continue
        sc = g["score"].fillna(g["score"].min())
        fpr, tpr, _ = roc_curve(g["churned"], sc)
        idx = np.unique(np.linspace(0, len(fpr) - 1, min(max_points, len(fpr))).astype(int))
        out.append(pd.DataFrame({"model": m, "fpr": fpr[idx], "tpr": tpr[idx]}))
    return pd.concat(out, ignore_index=True)


def gains_table(predictions: pd.DataFrame, *, models: Sequence[str] | None = None, steps: int = 20) -> pd.DataFrame:
    """Cumulative gains and lift per model: model, share_flagged, share_captured, lift (per cutoff, averaged)."""
    rows = []
    shares = np.linspace(1 / steps, 1.0, steps)
    for (m, _c), g in predictions.groupby(["model", "cutoff"], sort=False):
        if models is not None and m not in models:
            continue
        y = g["churned"].to_numpy(bool)
        if y.sum() == 0:
            continue
        sc = np.nan_to_num(g["score"].to_numpy(float), nan=-np.inf)
        for s in shares:
            cap = top_capture(y, sc, s)
            rows.append({"model": m, "share_flagged": round(float(s), 4), "share_captured": cap, "lift": cap / s})
    out = pd.DataFrame(rows).groupby(["model", "share_flagged"], sort=False).mean().reset_index()
    return out


def _data_span(t: dict[str, Any]) -> tuple[date, date]:
    """Dates of the first and the latest order in scoped tables `t` (one query)."""
    o = t["orders"]
    v = o.aggregate(lo=o.order_date.min(), hi=o.order_date.max()).to_pandas().iloc[0]
    if v["hi"] is None or pd.isna(v["hi"]):
        raise WorkbenchError("The store holds no orders; ingest orders before scoring churn.")
    return _day(v["lo"]), _day(v["hi"])


def default_cutoffs(con: Any, *, as_of: DatesLike | None = None, horizon_days: int = 90, region: str | None = None) -> list[date]:
    """Quarter ends whose labels are observable by `as_of` (or by the last order in the store),
    from the first quarter end with 180 days of order history."""
    start, last = _data_span(_tables(con, region))
    end = last if as_of is None else min(_day(as_of), last)
    first = start + timedelta(days=ACTIVE_DAYS - 1)
    return quarterly_cutoffs(first=first, last=end - timedelta(days=horizon_days))


def backtest(
    con: Any,
    *,
    as_of: DatesLike | None = None,
    horizon_days: int = 90,
    n_scored: int = 6,
    region: str | None = None,
    seed: int = 0,
    frames: dict[date, pd.DataFrame] | None = None,
) -> Backtest:
    """Rolling-origin backtest on the store: quarterly cutoffs whose labels are observable by `as_of`
    (default: the last order in the store), the last `n_scored` of them scored."""
    if frames is None:
        cuts = default_cutoffs(con, as_of=as_of, horizon_days=horizon_days, region=region)
        frames = cutoff_frames(con, cuts, horizon_days=horizon_days, region=region)
    return run_backtest(frames, horizon_days=horizon_days, n_scored=n_scored, seed=seed)


# --------------------------------------------------------------------------------------------
# Scoring model, reasons and actions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scorer:
    """The backtest winner refitted on every labelled cutoff, plus a logit used to rank reasons.

    model: name of the winning model; fitted: the fitted estimator, or for a baseline an isotonic
    map from its score to the churn rate observed on the training cutoffs; explainer: fitted logit
    (reason ranking); columns: model inputs; trained_on: cutoffs used.
    """

    model: str
    fitted: Any
    explainer: Any
    columns: tuple[str, ...]
    trained_on: tuple[date, ...]
    backtest: Backtest | None = None

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Risk of churn within the horizon per row of a cutoff frame (probability for the candidates)."""
        if self.model in CANDIDATES:
            return _predict(self.fitted, design_matrix(frame, self.columns))
        raw = np.nan_to_num(baseline_scores(frame)[self.model], nan=0.0)
        return self.fitted.predict(raw) if self.fitted is not None else raw

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-row logit contributions coef × standardized value (log-odds units), one column per input."""
        if isinstance(self.explainer, ConstantRate):
            return pd.DataFrame(0.0, columns=list(self.columns), index=frame.index)
        X = design_matrix(frame, self.columns).to_numpy(float)
        imp, sc, lr = self.explainer[0], self.explainer[1], self.explainer[-1]
        z = sc.transform(imp.transform(X))
        return pd.DataFrame(z * lr.coef_[0], columns=list(self.columns), index=frame.index)


def fit_scorer(
    con: Any,
    *,
    as_of: DatesLike,
    horizon_days: int = 90,
    region: str | None = None,
    seed: int = 0,
    bt: Backtest | None = None,
    frames: dict[date, pd.DataFrame] | None = None,
) -> Scorer:
    """Run the backtest (unless given) and refit its winner on every cutoff labelled by `as_of`."""
    if frames is None:
        cuts = default_cutoffs(con, as_of=as_of, horizon_days=horizon_days, region=region)
        frames = cutoff_frames(con, cuts, horizon_days=horizon_days, region=region)
    frames = {k: v for k, v in frames.items() if k + timedelta(days=horizon_days) <= _day(as_of)}
    if bt is None:
        bt = run_backtest(frames, horizon_days=horizon_days, seed=seed)
    frames = {k: frames[k] for k in sorted(frames)[-MAX_TRAIN_CUTOFFS:]}
    tr = pd.concat(list(frames.values()), ignore_index=True)
    cols = tuple(usable_columns(tr))
    X, y = design_matrix(tr, cols), tr["churned"].to_numpy(bool).astype(int)
    explainer = _fit_candidate("logit", X, y, seed=seed)
    if bt.winner == "logit":
        fitted = explainer
    elif bt.winner in CANDIDATES:
        fitted = _fit_candidate(bt.winner, X, y, seed=seed, cutoffs=tr["cutoff"].to_numpy())
    else:  # a baseline won: turn its score into a probability on the training cutoffs
        from sklearn.isotonic import IsotonicRegression

        raw = np.concatenate([np.nan_to_num(baseline_scores(f, seed=seed)[bt.winner], nan=0.0) for f in frames.values()])
        lab = np.concatenate([f["churned"].to_numpy(bool) for f in frames.values()]).astype(float)
        fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, lab)
    return Scorer(bt.winner, fitted, explainer, cols, tuple(sorted(frames)), bt)


@dataclass(frozen=True)
class ReasonRule:
    """One warning sign: when it fires, the words shown and the action recommended (config/churn_actions.yaml)."""

    feature: str  # driver column whose logit contribution ranks the reason
    action: str
    action_zh: str = ""


@dataclass(frozen=True)
class ChurnActions:
    """Actions per reason code, plus the action shown when no warning sign fires."""

    reasons: dict[str, ReasonRule]
    default_action: str = "keep the regular contact rhythm"
    default_action_zh: str = "保持常规拜访节奏"
    unexplained_action: str = "call to check in: no single warning sign explains the risk"
    unexplained_action_zh: str = "电话回访：风险较高但没有单一预警信号"
    unexplained_risk: float = 0.5  # at or above this risk, a partner without reasons gets unexplained_action


def load_actions(path: str | Path | None = None) -> ChurnActions:
    """Load config/churn_actions.yaml (or `path`) into ChurnActions; a bad file raises ConfigError."""
    from workbench import config
    from workbench.paths import config_file

    return config.load(ChurnActions, path or config_file("churn_actions.yaml"))


def _money(v: float) -> str:
    return f"¥{v:,.0f}"


def _int(v: pd.Series) -> pd.Series:
    return v.round().fillna(0).astype(int).astype(str)


def _reason_texts(df: pd.DataFrame, lang: str = "en") -> dict[str, tuple[pd.Series, pd.Series]]:
    """Per reason code: (fires: bool Series, words: str Series in `lang`) from a cutoff frame's drivers."""
    zh = lang == "zh"
    chg = df["sales_change_pct"]
    gap = df["median_gap_days"]
    rec = _int(df["recency_days"])
    ratio = df["cycle_ratio"].round(1).astype(str)
    conf = _int(df["open_conflicts"])
    if zh:
        overdue = "已 " + rec + " 天未下单" + np.where(
            gap.notna(), "，是其通常 " + _int(gap) + " 天订货周期的 " + ratio + " 倍", "")
        words = {
            "orders_down": "订货额比前90天下降 " + _int(-chg) + "%",
            "overdue": overdue,
            "rebate_unpaid": df["rebate_overdue_cny"].map(_money) + " 返利未付",
            "satisfaction_fell": "满意度下降 " + _int(-df["sat_change"]) + " 分",
            "low_satisfaction": "满意度偏低（" + _int(df["sat_last"]) + "/100）",
            "open_conflict": conf + " 起渠道冲突未解决",
            "no_training": pd.Series("近12个月没有培训", index=df.index),
        }
    else:
        overdue = "no order for " + rec + " days" + np.where(
            gap.notna(), ", " + ratio + "× its usual " + _int(gap) + "-day cycle", "")
        words = {
            "orders_down": "orders down " + _int(-chg) + "% vs the previous 90 days",
            "overdue": overdue,
            "rebate_unpaid": df["rebate_overdue_cny"].map(_money) + " of rebates unpaid",
            "satisfaction_fell": "satisfaction fell " + _int(-df["sat_change"]) + " points",
            "low_satisfaction": "satisfaction low at " + _int(df["sat_last"]) + "/100",
            "open_conflict": conf + np.where(df["open_conflicts"] == 1, " open channel conflict",
                                             " open channel conflicts"),
            "no_training": pd.Series("no training in the last 12 months", index=df.index),
        }
    fires = {
        "orders_down": (chg <= -25) & (df["sales_prev_90d_cny"] > 0),
        "overdue": ((df["cycle_ratio"] >= 1.5) & gap.notna() & (df["recency_days"] >= 14))
        | (gap.isna() & (df["recency_days"] >= 60)),
        "rebate_unpaid": df["rebate_overdue_cny"] >= 1000,
        "satisfaction_fell": df["sat_change"] <= -5,
        "low_satisfaction": (df["sat_last"] < 60) & ~(df["sat_change"] <= -5),
        "open_conflict": df["open_conflicts"] >= 1,
        "no_training": df["trainings_365d"] == 0,
    }
    return {k: (fires[k], pd.Series(words[k], index=df.index)) for k in fires}


FEATURE_LABELS: dict[str, tuple[str, str]] = {col: (en, zh) for col, en, zh in (
    ("recency_days", "Days since last order", "距上次下单天数"),
    ("tenure_days", "Tenure (days)", "合作天数"),
    ("n_order_days", "Order days to date", "累计下单天数"),
    ("median_gap_days", "Usual days between orders", "通常订货间隔（天）"),
    ("cycle_ratio", "Overdue vs own cycle (×)", "超出自身周期（倍）"),
    ("sales_90d_cny", "Net sales, last 90 days", "近90天净销售额"),
    ("sales_prev_90d_cny", "Net sales, previous 90 days", "前90天净销售额"),
    ("sales_365d_cny", "Net sales, last 12 months", "近12个月净销售额"),
    ("sales_change_pct", "Sales change vs previous 90 days (%)", "销售额环比变化（%）"),
    ("order_days_90d", "Order days, last 90 days", "近90天下单天数"),
    ("order_days_prev_90d", "Order days, previous 90 days", "前90天下单天数"),
    ("rebate_overdue_cny", "Rebates overdue", "逾期未付返利"),
    ("sat_last", "Last satisfaction", "最近满意度"),
    ("sat_change", "Satisfaction change", "满意度变化"),
    ("open_conflicts", "Open conflicts", "未解决冲突"),
    ("conflicts_365d", "Conflicts, last 12 months", "近12个月冲突数"),
    ("trainings_365d", "Trainings, last 12 months", "近12个月培训次数"),
)}


def odds_table(bt: Backtest, *, lang: str = "en", top: int = 12) -> pd.DataFrame:
    """The strongest odds ratios of the last logit in the backtest, with readable feature names."""
    o = bt.odds.head(top).copy()
    names = o["feature"].map(lambda f: FEATURE_LABELS.get(f, (f.removeprefix("snap_"),) * 2)[1 if lang == "zh" else 0])
    return pd.DataFrame({"feature": names, "odds_ratio_per_sd": o["odds_ratio_per_sd"].round(3),
                         "coef_per_sd": o["coef_per_sd"].round(3)})


def reasons_table(
    frame: pd.DataFrame,
    scorer: Scorer | None = None,
    *,
    actions: ChurnActions | None = None,
    lang: str = "en",
    top: int = 3,
    risk: np.ndarray | None = None,
) -> pd.DataFrame:
    """Top `top` reasons in plain words and one action per reason for each partner of a cutoff frame.

    Reasons are the warning signs that fire, ranked by their logit contribution (log-odds) when a
    scorer is given (signs with no positive contribution are dropped), else in config order.
    With `risk`, partners at or above `actions.unexplained_risk` without a reason get the
    config's unexplained_action instead of the default. Returns partner_id, reason_codes, reasons, action.
    """
    actions = actions or load_actions()
    contrib = scorer.contributions(frame) if scorer is not None else None
    texts = _reason_texts(frame, lang)
    codes = [c for c in texts if c in actions.reasons]
    fires = np.column_stack([texts[c][0].fillna(False).to_numpy(bool) for c in codes])
    words = np.column_stack([texts[c][1].to_numpy(object) for c in codes])
    weight = np.zeros(fires.shape)
    for j, c in enumerate(codes):
        feat = actions.reasons[c].feature
        base = -j * 1e-3  # stable fallback order: config order
        if contrib is not None and feat in contrib.columns:
            weight[:, j] = contrib[feat].to_numpy(float) + base
        else:
            weight[:, j] = base
    if contrib is not None:  # a sign that does not raise this partner's risk is not a reason
        fires = fires & (weight > 0)
    weight = np.where(fires, weight, -np.inf)
    order = np.argsort(-weight, axis=1, kind="stable")[:, :top]
    act = {c: (r.action_zh or r.action) if lang == "zh" else r.action for c, r in actions.reasons.items()}
    default = actions.default_action_zh if lang == "zh" else actions.default_action
    unexplained = actions.unexplained_action_zh if lang == "zh" else actions.unexplained_action
    high = np.zeros(len(frame), bool) if risk is None else np.asarray(risk) >= actions.unexplained_risk
    out_codes, out_words, out_actions = [], [], []
    for i in range(len(frame)):
        picked = [j for j in order[i] if fires[i, j]]
        cs = [codes[j] for j in picked]
        out_codes.append(";".join(cs))
        out_words.append("; ".join(words[i, j] for j in picked))
        acts = list(dict.fromkeys(act[c] for c in cs))
        out_actions.append("; ".join(acts) if acts else (unexplained if high[i] else default))
    return pd.DataFrame(
        {"partner_id": frame["partner_id"].to_numpy(), "reason_codes": out_codes, "reasons": out_words, "action": out_actions},
        index=frame.index,
    )


def _tiers(con: Any, *, as_of: date, region: str | None) -> pd.DataFrame:
    """partner_id, tier from segment.partner_tiers."""
    from workbench import segment

    return segment.partner_tiers(con, as_of=as_of, region=_region(region))[["partner_id", "tier"]]


RISK_COLUMNS = ["partner_id", "name", "region", "tier", "risk", "sales_at_risk", "reasons", "action"]


def score_frame(frame: pd.DataFrame, scorer: Scorer, *, actions: ChurnActions | None = None, lang: str = "en") -> pd.DataFrame:
    """Risk, sales at risk (risk × trailing 12-month net sales, CNY), reasons and actions per partner."""
    risk = np.clip(scorer.predict(frame), 0.0, 1.0)
    rs = reasons_table(frame, scorer, actions=actions, lang=lang, risk=risk)
    out = frame[["partner_id", "name", "region"]].copy()
    out["risk"] = np.round(risk, 4)
    out["sales_365d_cny"] = frame["sales_365d_cny"].clip(lower=0)
    out["sales_at_risk"] = np.round(out["risk"] * out["sales_365d_cny"], 2)
    out["reasons"] = rs["reasons"].to_numpy()
    out["reason_codes"] = rs["reason_codes"].to_numpy()
    out["action"] = rs["action"].to_numpy()
    return out


def risk_list(
    con: Any,
    *,
    as_of: DatesLike,
    horizon_days: int = 90,
    region: str | None = None,
    lang: str = "en",
    scorer: Scorer | None = None,
    detail: bool = False,
) -> pd.DataFrame:
    """Partners at `as_of` ranked by churn risk within `horizon_days`.

    Columns: partner_id, name, region, tier, risk (probability), sales_at_risk (CNY: risk × trailing
    12-month net sales), reasons (top three warning signs in plain words), action (one per reason,
    from config/churn_actions.yaml). `detail=True` adds the drivers used in the reasons.
    """
    d = _day(as_of)
    scorer = scorer or fit_scorer(con, as_of=d, horizon_days=horizon_days, region=region)
    frame = cutoff_frame(con, as_of=d, horizon_days=horizon_days, region=region, labels=False)
    out = score_frame(frame, scorer, lang=lang)
    out = out.merge(_tiers(con, as_of=d, region=region), on="partner_id", how="left")
    out = out.sort_values(["risk", "sales_at_risk"], ascending=False, kind="stable").reset_index(drop=True)
    if detail:
        extra = frame[["partner_id", *DRIVER_FEATURES]]
        return out.merge(extra, on="partner_id", how="left")
    return out[RISK_COLUMNS]


def threshold_table(risk: pd.DataFrame, predictions: pd.DataFrame | None = None, *, model: str | None = None,
                    steps: int = 50) -> pd.DataFrame:
    """For risk thresholds 0..1: partners flagged, sales at risk flagged (CNY), and the share of churners
    the backtest captured at that threshold (pooled over cutoffs, winner's scores)."""
    th = np.round(np.linspace(0, 1, steps + 1), 4)
    r = risk["risk"].to_numpy(float)
    sar = risk["sales_at_risk"].to_numpy(float)
    out = pd.DataFrame({
        "threshold": th,
        "partners_flagged": [(r >= t).sum() for t in th],
        "sales_at_risk_flagged": [sar[r >= t].sum() for t in th],
    })
    out["share_flagged"] = out["partners_flagged"] / max(len(r), 1)
    if predictions is not None and model is not None:
        g = predictions[predictions["model"] == model]
        y = g["churned"].to_numpy(bool)
        s = g["score"].to_numpy(float)
        out["share_churners_captured"] = [(y & (s >= t)).sum() / max(y.sum(), 1) for t in th]
    return out


# --------------------------------------------------------------------------------------------
# Survival view
# --------------------------------------------------------------------------------------------


def landmark_date(con: Any, *, as_of: DatesLike, region: str | None = None, years: int = 2) -> date:
    """Start of the survival view: `years` before as_of, but not before 180 days of order history."""
    return _landmark(_data_span(_tables(con, region))[0], _day(as_of), years)


def _landmark(data_start: date, as_of: date, years: int = 2) -> date:
    """landmark_date from the first order date."""
    return max(data_start + timedelta(days=ACTIVE_DAYS), as_of - timedelta(days=365 * years))


def churn_durations(
    con: Any, *, as_of: DatesLike, horizon_days: int = 90, region: str | None = None, landmark: DatesLike | None = None
) -> pd.DataFrame:
    """Time to churn after a landmark date for the partners active at it (landmark analysis).

    Population: the churn population at `landmark` (default landmark_date: two years before as_of).
    duration_days runs from the landmark to the last order, for partners silent for more than
    `horizon_days` at as_of (churned), else to as_of (censored). Columns: partner_id, region,
    channel_type, landmark, duration_days, churned.
    """
    d = _day(as_of)
    t = _tables(con, region)
    lm = _day(landmark) if landmark is not None else _landmark(_data_span(t)[0], d)
    both = _drivers(t, sorted({lm, d}))  # the drivers at the landmark and at as_of in one query
    start = both[both["cutoff"] == pd.Timestamp(lm)]
    active = start["last_order"].notna() & (start["recency_days"] < ACTIVE_DAYS)
    exited = start["exit_date"].notna() & (start["exit_date"] <= pd.Timestamp(lm))
    pop = start.loc[active & ~exited, ["partner_id", "region", "channel_type"]]
    now = both.loc[both["cutoff"] == pd.Timestamp(d), ["partner_id", "last_order", "recency_days"]]
    out = pop.merge(now, on="partner_id", how="left")
    churned = out["recency_days"] > horizon_days
    end = out["last_order"].where(churned, pd.Timestamp(d))
    out["landmark"] = pd.Timestamp(lm)
    out["duration_days"] = (end - pd.Timestamp(lm)).dt.days.clip(lower=0).astype(float)
    out["churned"] = churned.to_numpy(bool)
    return out[["partner_id", "region", "channel_type", "landmark", "duration_days", "churned"]].reset_index(drop=True)


def survival_curves(
    durations: pd.DataFrame, *, by: str, max_points: int = 120, min_n: int = 5
) -> pd.DataFrame:
    """Kaplan–Meier survival (share not yet churned) over months since the landmark, per group of `by`.

    durations: churn_durations output (plus the `by` column). Returns group, months, survival, at_risk,
    lower, upper (95% band), computed by statsmodels SurvfuncRight.
    """
    from statsmodels.duration.survfunc import SurvfuncRight

    rows = []
    for grp, g in durations.dropna(subset=[by]).groupby(by, sort=True):
        if len(g) < min_n:
            continue
        sf = SurvfuncRight(g["duration_days"].to_numpy(float) / 30.4375, g["churned"].to_numpy(int))
        se = np.nan_to_num(np.asarray(sf.surv_prob_se, dtype=float))
        lo = np.clip(sf.surv_prob - 1.96 * se, 0, 1)
        hi = np.clip(sf.surv_prob + 1.96 * se, 0, 1)
        t = np.concatenate([[0.0], sf.surv_times])
        s = np.concatenate([[1.0], sf.surv_prob])
        n = np.concatenate([[len(g)], sf.n_risk])
        lo, hi = np.concatenate([[1.0], lo]), np.concatenate([[1.0], hi])
        idx = np.unique(np.linspace(0, len(t) - 1, min(max_points, len(t))).astype(int))
        rows.append(pd.DataFrame({
            "group": str(grp), "months": t[idx], "survival": s[idx], "at_risk": n[idx],
            "lower": lo[idx], "upper": hi[idx],
        }))
    if not rows:
        return pd.DataFrame(columns=["group", "months", "survival", "at_risk", "lower", "upper"])
    return pd.concat(rows, ignore_index=True)


DRILL_FIELDS: tuple[tuple[str, str, str], ...] = (
    # column, English, 中文
    ("partner_id", "Partner ID", "经销商编号"),
    ("name", "Partner", "经销商名称"),
    ("region", "Region", "区域"),
    ("risk", "Churn risk (next horizon)", "流失风险"),
    ("sales_at_risk", "Sales at risk (¥)", "风险销售额（元）"),
    ("tier", "Tier", "层级"),
    ("reasons", "Top reasons", "主要原因"),
    ("action", "Recommended action", "建议行动"),
    ("recency_days", "Days since last order", "距上次下单天数"),
    ("median_gap_days", "Usual days between orders", "通常订货间隔（天）"),
    ("cycle_ratio", "Overdue vs own cycle (×)", "超出自身周期（倍）"),
    ("sales_90d_cny", "Net sales, last 90 days (¥)", "近90天净销售额（元）"),
    ("sales_prev_90d_cny", "Net sales, previous 90 days (¥)", "前90天净销售额（元）"),
    ("sales_365d_cny", "Net sales, last 12 months (¥)", "近12个月净销售额（元）"),
    ("rebate_overdue_cny", "Rebates overdue (¥)", "逾期未付返利（元）"),
    ("sat_last", "Last satisfaction (0–100)", "最近满意度（0–100）"),
    ("sat_change", "Satisfaction change (points)", "满意度变化（分）"),
    ("open_conflicts", "Open conflicts", "未解决冲突"),
    ("trainings_365d", "Trainings, last 12 months", "近12个月培训次数"),
)


def drilldown_table(detail: pd.DataFrame, partner_id: str, *, lang: str = "en") -> pd.DataFrame:
    """One partner's risk, reasons, action and drivers as a two-column table (field, value) for display.

    detail: risk_list(..., detail=True) output.
    """
    row = detail.loc[detail["partner_id"] == partner_id]
    if row.empty:
        raise WorkbenchError(f"Partner {partner_id} is not on the risk list.")
    r = row.iloc[0]
    out = []
    for col, en, zh in DRILL_FIELDS:
        if col not in r.index:
            continue
        v = r[col]
        if col == "risk":
            text = f"{v:.0%}"
        elif isinstance(v, float | np.floating):
            text = "–" if pd.isna(v) else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.1f}")
        else:
            text = "–" if v is None or (isinstance(v, float) and pd.isna(v)) or v == "" else str(v)
        out.append({"field": zh if lang == "zh" else en, "value": text})
    return pd.DataFrame(out)


def survival_view(
    con: Any, *, as_of: DatesLike, by: str = "tier", horizon_days: int = 90, region: str | None = None
) -> pd.DataFrame:
    """Kaplan–Meier time-to-churn curves after the landmark date (churn_durations), grouped by
    'tier' (segment.partner_tiers at the landmark, so the groups are fixed before the outcome) or
    'region'."""
    d = churn_durations(con, as_of=as_of, horizon_days=horizon_days, region=region)
    if by == "tier":
        lm = _day(d["landmark"].iloc[0]) if len(d) else _day(as_of)
        d = d.merge(_tiers(con, as_of=lm, region=region), on="partner_id", how="left")
    return survival_curves(d, by=by)
