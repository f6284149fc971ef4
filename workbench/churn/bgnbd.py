"""BG/NBD repeat-buying model (Fader, Hardie & Lee 2005) by maximum likelihood, and the CDNOW-style
per-customer summary (frequency, recency, T) it is fitted on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln

from workbench.errors import WorkbenchError

__all__ = ["BetaGeoFitter", "cdnow_summary"]


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
        with np.errstate(all="ignore"):  # a flat likelihood (a handful of customers) gives inf bounds, not noise
            return self._summary_at(nll, logp)

    def _summary_at(self, nll: Callable[[np.ndarray], float], logp: np.ndarray) -> pd.DataFrame:
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

    def conditional_probability_no_purchase(self, t: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(no transaction in (T, T + t] | history): dead, or alive with no purchase in t.

        1 - P(alive) + P(alive) × ((alpha + T) / (alpha + T + t))^(r + x): the Gamma posterior of the
        purchase rate integrated over e^(-lambda t); an alive customer cannot die without buying.
        """
        r, alpha = self.params_["r"], self.params_["alpha"]
        x = np.asarray(frequency, dtype=float)
        big_t = np.asarray(T, dtype=float)
        alive = self.conditional_probability_alive(frequency, recency, T)
        quiet = np.exp((r + x) * (np.log(alpha + big_t) - np.log(alpha + big_t + float(t))))
        return 1.0 - alive + alive * quiet

    def conditional_expected_number_of_purchases_if_alive(self, t: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """Expected repeat transactions in (T, T + t] for a customer still alive at T (eq. 10 without
        the P(alive) factor): what the customer buys if it has not dropped out."""
        from scipy.special import hyp2f1

        r, alpha, a, b = (self.params_[k] for k in ("r", "alpha", "a", "b"))
        x = np.asarray(frequency, dtype=float)
        big_t = np.asarray(T, dtype=float)
        z = t / (alpha + big_t + t)
        first = (a + b + x - 1) / (a - 1)
        second = 1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
        return first * second

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
