"""Response model: two-way fixed-effects panel regression of ln quarter sales on the rebate rate."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import WorkbenchError
from workbench.incentives.data import _history_window, partner_quarter_panel


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
            raise WorkbenchError("Too little history to estimate the incentive response (need 10+ partners over 2+ quarters).")
        if d["rate_pct"].std() == 0:
            raise WorkbenchError("The rebate rate never varies in the history, so its effect on sales cannot be estimated.")
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
            raise WorkbenchError("The rebate rate only ever changed for all partners at once, so its effect cannot "
                                 "be told apart from the quarter's; the response needs pilots or staggered changes.")
        res = sm.OLS(yd, Xd).fit(cov_type="cluster", cov_kwds={"groups": groups})
        n, k, g = len(yd), Xd.shape[1], groups.max() + 1
        self.beta_ = float(res.params["rate_pct"])
        self.se_ = float(res.bse["rate_pct"])
        lo, hi = res.conf_int(alpha=self.alpha).loc["rate_pct"]
        self.ci_ = (float(lo), float(hi))
        self.sigma_ = float(np.sqrt(np.sum(res.resid**2) / max(n - g - k, 1)))
        self.n_obs_, self.n_partners_, self.n_quarters_ = n, int(g), int(quarters.nunique())
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

