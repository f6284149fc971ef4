"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves") by
maximum likelihood, and forward value from BG/NBD × Gamma-Gamma: expected sales over a horizon and a
discounted 12-month customer value."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln

from workbench.errors import NotEnoughData, WorkbenchError

__all__ = ["GammaGammaFitter", "ValueSettings", "cdnow_spend_summary", "discounted_value", "load_value_settings",
           "monthly_rate", "spend_per_order_day"]

PARAMS = ("p", "q", "v")  # v is the paper's gamma (scale of the spend heterogeneity)


@dataclass(frozen=True)
class ValueSettings:
    """Forward-value settings (config/churn.yaml)."""

    discount_rate_annual: float = 0.10  # discount rate for clv_12m, per year
    value_months: int = 12  # months of forward value behind clv_12m and sales_at_risk


def load_value_settings(path: str | Path | None = None) -> ValueSettings:
    """Load config/churn.yaml (or `path`) into ValueSettings; defaults when the file is absent."""
    from workbench import config
    from workbench.paths import config_file

    try:
        p = Path(path) if path is not None else config_file("churn.yaml")
    except WorkbenchError:
        return ValueSettings()
    if not p.exists():
        return ValueSettings()
    return config.load(ValueSettings, p)


def spend_per_order_day(
    frequency: Any, monetary_value: Any, fallback: Any, *, fit_frequency: Any = None, fit_monetary: Any = None
) -> np.ndarray:
    """Expected sales per order day per customer: Gamma-Gamma (fitted on fit_frequency/fit_monetary,
    default the customers scored) when at least 3 customers have a repeat order and the fit has a finite
    mean (q > 1); else the customer's own mean (monetary_value, or `fallback` without repeats)."""
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary_value, dtype=float)
    fx = x if fit_frequency is None else np.asarray(fit_frequency, dtype=float)
    fm = m if fit_monetary is None else np.asarray(fit_monetary, dtype=float)
    try:
        gg = GammaGammaFitter(penalizer=1e-6).fit(fx, fm)
        if gg.params_["q"] > 1.0:
            return gg.conditional_expected_average_profit(x, m)
    except (NotEnoughData, WorkbenchError):
        pass
    own = np.where((x > 0) & (m > 0), m, np.asarray(fallback, dtype=float))
    return np.nan_to_num(own, nan=0.0)


def _gg_loglik(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood of the mean spend m over x repeat transactions (paper eq. 3)."""
    p, q, v = params
    px = p * x
    return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
            + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(v + m * x))


class GammaGammaFitter:
    """Gamma-Gamma model of the spend per transaction, fitted by maximum likelihood on repeat buyers.

    Parameters
    ----------
    penalizer : L2 penalty on the parameters (0 = plain MLE, as in the paper).
    tol : relative change of the log-likelihood at which L-BFGS-B stops.
    """

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-12) -> None:
        self.penalizer = penalizer
        self.tol = tol

    def fit(self, frequency: Any, monetary_value: Any) -> GammaGammaFitter:
        """Fit on repeat-transaction counts and the mean spend of those repeat transactions; returns self.

        Customers with no repeat transaction, or a mean spend <= 0, carry no information on the spend
        and are left out (the paper fits the 946 repeat buyers of the CDNOW sample).
        """
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary_value, dtype=float)
        keep = (x > 0) & np.isfinite(m) & (m > 0)
        if keep.sum() < 3:
            raise NotEnoughData(
                f"The spend model needs at least 3 partners with a repeat order; {int(keep.sum())} have one."
            )
        x, m = x[keep], m[keep]
        pen = self.penalizer

        def nll(logp: np.ndarray) -> float:
            par = np.exp(logp)
            return -float(np.sum(_gg_loglik(par, x, m))) + pen * float(par @ par)

        # method of moments start: mean spend ~ p v / (q - 1), with q a little above 2
        start = np.log([1.0, 3.0, max(float(np.mean(m)) * 2.0, 1e-3)])
        res = minimize(nll, start, method="L-BFGS-B", options={"ftol": self.tol, "gtol": 1e-9, "maxiter": 5000})
        if not np.all(np.isfinite(res.x)):
            raise WorkbenchError("The Gamma-Gamma spend model did not converge.")
        self.params_ = dict(zip(PARAMS, np.exp(res.x), strict=True))
        self.log_likelihood_ = -float(nll(res.x)) if pen == 0 else float(np.sum(_gg_loglik(np.exp(res.x), x, m)))
        self.n_customers_ = int(keep.sum())
        self.converged_ = bool(res.success)
        self.summary_ = self._summary(nll, res.x)
        return self

    def _summary(self, nll: Callable[[np.ndarray], float], logp: np.ndarray) -> pd.DataFrame:
        """Estimates with standard errors from a numerical Hessian in log space (delta method)."""
        h = 1e-4
        k = len(logp)
        eye = np.eye(k) * h
        with np.errstate(all="ignore"):
            hess = np.array([[(nll(logp + eye[i] + eye[j]) - nll(logp + eye[i] - eye[j])
                               - nll(logp - eye[i] + eye[j]) + nll(logp - eye[i] - eye[j])) / (4 * h * h)
                              for j in range(k)] for i in range(k)])
            try:
                se_log = np.sqrt(np.clip(np.diag(np.linalg.inv(hess)), 0, None))
            except np.linalg.LinAlgError:
                se_log = np.full(k, np.nan)
            est = np.exp(logp)
            return pd.DataFrame(
                {"coef": est, "se(coef)": est * se_log,
                 "lower 95% bound": np.exp(logp - 1.96 * se_log), "upper 95% bound": np.exp(logp + 1.96 * se_log)},
                index=pd.Index(list(PARAMS), name="param"),
            )

    @property
    def population_mean_spend(self) -> float:
        """E[spend per transaction] of a new customer: p v / (q - 1) (infinite when q <= 1)."""
        p, q, v = (self.params_[k] for k in PARAMS)
        return p * v / (q - 1) if q > 1 else float("inf")

    def conditional_expected_average_profit(self, frequency: Any, monetary_value: Any) -> np.ndarray:
        """E[spend per transaction | x repeats with mean m] = (v + m x) p / (p x + q - 1) (paper eq. 5);
        customers with no repeat (or no spend) get the population mean p v / (q - 1)."""
        p, q, v = (self.params_[k] for k in PARAMS)
        x = np.asarray(frequency, dtype=float)
        m = np.nan_to_num(np.asarray(monetary_value, dtype=float), nan=0.0)
        x = np.where(m > 0, x, 0.0)
        return (v + m * x) * p / (p * x + q - 1)

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return "<GammaGammaFitter: not fitted>"
        par = ", ".join(f"{k}: {v:.3f}" for k, v in self.params_.items())
        return f"<GammaGammaFitter: fitted with {self.n_customers_:,} repeat customers, {par}>"


def monthly_rate(annual_rate: float) -> float:
    """The monthly discount rate equivalent to an annual one: (1 + annual)^(1/12) - 1."""
    return (1.0 + float(annual_rate)) ** (1.0 / 12.0) - 1.0


def discounted_value(
    bgnbd: Any, spend: Any, frequency: Any, recency_w: Any, T_w: Any, *, months: int = 12, annual_rate: float = 0.10,
    if_alive: bool = False,
) -> np.ndarray:
    """Discounted expected sales over the next `months` months (BG/NBD × spend per order day).

    Month i's expected orders (BG/NBD, weeks) times `spend`, discounted by (1 + monthly rate)^i.
    if_alive: for a customer still alive today (what it buys unless it drops out).
    """
    d = monthly_rate(annual_rate)
    week_per_month = 365.25 / 12 / 7
    prev = np.zeros(len(np.asarray(frequency)))
    total = np.zeros_like(prev)
    count = (bgnbd.conditional_expected_number_of_purchases_if_alive if if_alive
             else bgnbd.conditional_expected_number_of_purchases_up_to_time)
    for i in range(1, months + 1):
        cum = count(i * week_per_month, frequency, recency_w, T_w)
        total += (cum - prev) / (1.0 + d) ** i
        prev = cum
    return total * np.asarray(spend, dtype=float)


def cdnow_spend_summary(
    transactions: pd.DataFrame,
    *,
    calibration_end: Any,
    customer_col: str = "customer_id",
    date_col: str = "date",
    value_col: str = "dollars",
) -> pd.DataFrame:
    """Per-customer frequency and mean spend of the repeat transactions (same-day buys summed into one),
    up to calibration_end: columns frequency, monetary_value (0 when there is no repeat)."""
    d = pd.to_datetime(transactions[date_col]).dt.normalize()
    keep = d <= pd.Timestamp(calibration_end)
    days = pd.DataFrame({"c": transactions.loc[keep, customer_col].to_numpy(), "d": d[keep].to_numpy(),
                         "v": transactions.loc[keep, value_col].to_numpy(float)})
    days = days.groupby(["c", "d"], sort=True)["v"].sum().reset_index()
    first = days.groupby("c")["d"].transform("min")
    rep = days[days["d"] > first]
    n = days.groupby("c").size() - 1
    total = rep.groupby("c")["v"].sum().reindex(n.index, fill_value=0.0)
    out = pd.DataFrame({"frequency": n.astype(int), "monetary_value": np.where(n > 0, total / n.clip(lower=1), 0.0)})
    out.index.name = customer_col
    return out
