"""Response model: two-way fixed-effects panel regression of ln quarter sales on the rebate rate."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import NotEnoughData
from workbench.incentives.data import _history_window, partner_quarter_panel


def _refusal(reason: str, message: str) -> NotEnoughData:
    """A NotEnoughData carrying `reason` (one of REASONS) for callers that fall back to a prior."""
    exc = NotEnoughData(message)
    exc.reason = reason  # type: ignore[attr-defined]
    return exc


class RebateResponseModel:
    """ln(quarter net sales) = beta × rebate rate (pp) + partner FE + quarter FE + error.

    Estimated by the within transformation (partner demeaning of y, the rate and quarter dummies:
    exact two-way FE by Frisch-Waugh-Lovell, also on unbalanced panels) and OLS with
    partner-clustered standard errors (statsmodels). Learned: beta_ (d ln sales / d pp), se_,
    ci_ (1 - alpha), sigma_ (residual sd of quarterly log sales), n_obs_, n_partners_, summary_.
    """

    def __init__(self, *, min_quarters: int = 3, in_life_only: bool = True, alpha: float = 0.05) -> None:
        self.min_quarters = min_quarters
        self.in_life_only = in_life_only
        self.alpha = alpha

    def __repr__(self) -> str:
        if not hasattr(self, "beta_"):
            return f"RebateResponseModel(min_quarters={self.min_quarters}, in_life_only={self.in_life_only})"
        lo, hi = self.ci_
        return (f"RebateResponseModel(beta={self.beta_:.4f} per pp, {100 * (1 - self.alpha):.0f}% CI "
                f"[{lo:.4f}, {hi:.4f}], n={self.n_obs_:,} partner-quarters, {self.n_partners_:,} partners)")

    def fit(self, panel: pd.DataFrame) -> RebateResponseModel:
        """Fit on a partner-quarter panel: partner_id, quarter, net_sales_cny, rate_pct (, in_life)."""
        import statsmodels.api as sm

        d = panel[(panel["net_sales_cny"] > 0) & panel["rate_pct"].notna()]
        if self.in_life_only and "in_life" in d:
            d = d[d["in_life"]]
        d = d[d.groupby("partner_id")["quarter"].transform("size") >= self.min_quarters]
        if d["partner_id"].nunique() < 10 or d["quarter"].nunique() < 2:
            raise _refusal("too_little_history", "Too little history to estimate the incentive response (need 10+ partners over 2+ quarters).")
        if d["rate_pct"].std() == 0:
            raise _refusal("no_variation", "The rebate rate never varies in the history, so its effect on sales cannot be estimated.")
        y = np.log(d["net_sales_cny"].to_numpy(dtype=float))
        quarters = d["quarter"].astype(str)
        dummies = pd.get_dummies(quarters, drop_first=True, dtype=float)
        X = pd.concat([d[["rate_pct"]].astype(float).reset_index(drop=True), dummies.reset_index(drop=True)], axis=1)
        groups = pd.factorize(d["partner_id"])[0]
        Xd = X - X.groupby(groups).transform("mean")
        yd = y - pd.Series(y).groupby(groups).transform("mean").to_numpy()
        rate_d = Xd["rate_pct"].to_numpy()
        other = Xd.drop(columns="rate_pct").to_numpy()
        if other.shape[1]:
            rate_d = rate_d - other @ np.linalg.lstsq(other, rate_d, rcond=None)[0]
        if np.std(rate_d) < 1e-9:
            raise _refusal("no_variation", "The rebate rate only ever changed for all partners at once, so its effect "
                           "cannot be told apart from the quarter's; the response needs pilots or staggered changes.")
        res = sm.OLS(yd, Xd).fit(cov_type="cluster", cov_kwds={"groups": groups})
        n, k, g = len(yd), Xd.shape[1], groups.max() + 1
        self.beta_ = float(res.params["rate_pct"])
        self.se_ = float(res.bse["rate_pct"])
        lo, hi = res.conf_int(alpha=self.alpha).loc["rate_pct"]
        self.ci_ = (float(lo), float(hi))
        self.sigma_ = float(np.sqrt(np.sum(res.resid**2) / max(n - g - k, 1)))
        self.n_obs_, self.n_partners_, self.n_quarters_ = n, int(g), int(quarters.nunique())
        self.source_, self.reason_ = "estimated", None
        self.summary_ = pd.DataFrame({
            "term": ["rate_pct"], "estimate": [self.beta_], "std_error": [self.se_],
            "ci_low": [self.ci_[0]], "ci_high": [self.ci_[1]], "p_value": [float(res.pvalues["rate_pct"])],
            "n_obs": [n], "n_partners": [int(g)], "n_quarters": [self.n_quarters_], "sigma": [self.sigma_],
        })
        return self

    def draw_beta(self, n: int, *, seed: int) -> np.ndarray:
        """n draws of beta from its estimated sampling distribution N(beta_, se_²)."""
        return np.random.default_rng(seed).normal(self.beta_, self.se_, size=n)


def fit_response(con: Any, *, as_of: date, region: str | None = None, **kwargs: Any) -> RebateResponseModel:
    """Fit the response model on every quarter of store history that ended by as_of."""
    start, end = _history_window(con, as_of=as_of)
    panel = partner_quarter_panel(con, start=start, end=end, region=region)
    return RebateResponseModel(**kwargs).fit(panel)



# Why the history could not estimate the response (codes; workbench.present.incentives words them).
REASONS = ("no_ledger", "no_variation", "too_little_history")


class AssumedResponse:
    """The program's stated response, used when the store cannot estimate one (no ledger, ...).

    Same learned attributes as a fitted RebateResponseModel: beta_ (d ln sales / d pp), se_, ci_,
    sigma_, n_obs_ (0), n_partners_, summary_; plus source_ = 'assumed' and reason_ (one of REASONS).
    """

    def __init__(self, *, beta: float, se: float, sigma: float, reason: str, alpha: float = 0.05) -> None:
        self.beta = beta
        self.se = se
        self.sigma = sigma
        self.reason = reason
        self.alpha = alpha

    def __repr__(self) -> str:
        return f"AssumedResponse(beta={self.beta:.4f} ± {self.se:.4f} per pp, assumed because {self.reason})"

    def fit(self, panel: pd.DataFrame | None = None) -> AssumedResponse:
        """Set the learned attributes from the stated prior; `panel` (if any) gives sigma_ and counts."""
        from scipy.stats import norm

        z = float(norm.ppf(1 - self.alpha / 2))
        self.beta_, self.se_ = float(self.beta), float(self.se)
        self.ci_ = (self.beta_ - z * self.se_, self.beta_ + z * self.se_)
        measured = residual_sigma(panel) if panel is not None else None
        self.sigma_ = float(self.sigma if measured is None else measured)
        self.n_obs_, self.n_quarters_ = 0, 0
        self.n_partners_ = int(panel["partner_id"].nunique()) if panel is not None and len(panel) else 0
        self.source_, self.reason_ = "assumed", self.reason
        self.summary_ = pd.DataFrame({
            "term": ["rate_pct"], "estimate": [self.beta_], "std_error": [self.se_], "ci_low": [self.ci_[0]],
            "ci_high": [self.ci_[1]], "p_value": [np.nan], "n_obs": [0], "n_partners": [self.n_partners_],
            "n_quarters": [0], "sigma": [self.sigma_], "source": ["assumed"],
        })
        return self

    def draw_beta(self, n: int, *, seed: int) -> np.ndarray:
        """n draws of beta from the stated prior N(beta_, se_²)."""
        return np.random.default_rng(seed).normal(self.beta_, self.se_, size=n)


def residual_sigma(panel: pd.DataFrame, *, min_partners: int = 10) -> float | None:
    """Sd of quarterly log sales around partner and quarter means (two-way demeaned, balanced-ish);
    None when fewer than `min_partners` partners have 2+ quarters of positive sales."""
    d = panel[panel["net_sales_cny"] > 0]
    d = d[d.groupby("partner_id")["quarter"].transform("size") >= 2]
    if d["partner_id"].nunique() < min_partners or d["quarter"].nunique() < 2:
        return None
    y = np.log(d["net_sales_cny"].to_numpy(dtype=float))
    r = y - pd.Series(y, index=d.index).groupby(d["partner_id"]).transform("mean").to_numpy()
    r = r - pd.Series(r, index=d.index).groupby(d["quarter"]).transform("mean").to_numpy()
    n, g, q = len(r), d["partner_id"].nunique(), d["quarter"].nunique()
    return float(np.sqrt(np.sum(r**2) / max(n - g - q + 1, 1)))


