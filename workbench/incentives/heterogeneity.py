"""Response heterogeneity: the rebate response by group (tier, size class) with partial pooling.

Each group's slope comes from one two-way fixed-effects regression (partner and quarter effects, a
rate × group slope per group, partner-clustered errors); the group slopes are then shrunk toward the
network slope by empirical Bayes (DerSimonian–Laird between-group variance tau²): a group measured
precisely keeps its own slope, a thin one borrows from the network.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from workbench.errors import NotEnoughData

__all__ = ["GroupResponseModel", "response_by_group", "size_classes"]


def size_classes(panel: pd.DataFrame, *, labels: tuple[str, ...] = ("small", "mid", "large")) -> pd.Series:
    """Partner → size class by terciles of its mean quarterly net sales over the panel (index partner_id)."""
    mean = panel.groupby("partner_id")["net_sales_cny"].mean()
    ranks = mean.rank(method="first", pct=True)
    cuts = np.linspace(0, 1, len(labels) + 1)[1:-1]
    return pd.Series(np.asarray(labels, dtype=object)[np.searchsorted(cuts, ranks.to_numpy(), side="left")],
                     index=mean.index, name="size_class")


class GroupResponseModel:
    """Response by group with partial pooling, on one or more partner dimensions at once.

    ln quarter sales = partner FE + quarter FE + rate × (b[first dimension's group] + Σ c[other
    dimensions' groups]) + error: additive slopes, so e.g. tier and size class are separated even when
    they are related. A group's response is the mean implied slope of its partners (a linear combination
    of the slopes, with its clustered standard error); per dimension, the group responses are shrunk
    toward the network response (the mean slope over all partners) by empirical Bayes.

    Learned: network_ (estimate, se), tau_ {dimension: between-group sd}, labels_ (partner → group per
    dimension; ``partner_offsets`` turns them into per-partner responses), summary_: one row per
    (dimension, group) with n_partners, n_obs, estimate_raw, se_raw, estimate, se, ci_low, ci_high,
    weight (share of the group's own estimate, 0..1).
    """

    def __init__(self, *, by: str | tuple[str, ...] = ("tier", "size_class"), min_quarters: int = 3,
                 alpha: float = 0.05, min_partners: int = 10) -> None:
        self.by = by
        self.min_quarters = min_quarters
        self.alpha = alpha
        self.min_partners = min_partners

    def __repr__(self) -> str:
        if not hasattr(self, "summary_"):
            return f"GroupResponseModel(by={self.by!r})"
        rows = ", ".join(f"{r.group}={r.estimate:.4f}" for r in self.summary_.itertuples())
        return f"GroupResponseModel({rows}; network={self.network_[0]:.4f})"

    def fit(self, panel: pd.DataFrame) -> GroupResponseModel:
        """Fit on a partner-quarter panel: partner_id, quarter, net_sales_cny, rate_pct and the `by` columns."""
        import statsmodels.api as sm

        dims = [self.by] if isinstance(self.by, str) else list(self.by)
        d = panel[(panel["net_sales_cny"] > 0) & panel["rate_pct"].notna()]
        if "in_life" in d:
            d = d[d["in_life"]]
        d = d[d.groupby("partner_id")["quarter"].transform("size") >= self.min_quarters]
        for dim in dims:  # one label per partner: its most frequent one
            d = d[d[dim].notna()]
            label = d.groupby("partner_id")[dim].agg(lambda x: x.value_counts().index[0]).astype(str)
            d = d.assign(**{dim: d["partner_id"].map(label)})
            counts = d.groupby(dim)["partner_id"].nunique()
            d = d[d[dim].isin(counts[counts >= self.min_partners].index)]
        if d.empty or any(d[dim].nunique() < 2 for dim in dims):
            raise NotEnoughData(f"Response by {' and '.join(dims)} needs two groups with {self.min_partners}+ "
                                "partners each (and a rate that varies within partners).")
        levels = {dim: sorted(d[dim].unique()) for dim in dims}
        cols = [(dims[0], g) for g in levels[dims[0]]] + [(dim, g) for dim in dims[1:] for g in levels[dim][1:]]
        rate = d["rate_pct"].to_numpy(float)
        slopes = pd.DataFrame({f"{dim}={g}": rate * (d[dim].to_numpy() == g) for dim, g in cols})
        dummies = pd.get_dummies(d["quarter"].astype(str), drop_first=True, dtype=float).reset_index(drop=True)
        X = pd.concat([slopes, dummies], axis=1)
        pid = pd.factorize(d["partner_id"])[0]
        Xd = X - X.groupby(pid).transform("mean")
        y = np.log(d["net_sales_cny"].to_numpy(dtype=float))
        yd = y - pd.Series(y).groupby(pid).transform("mean").to_numpy()
        res = sm.OLS(yd, Xd).fit(cov_type="cluster", cov_kwds={"groups": pid})
        names = list(slopes.columns)
        beta = res.params[names].to_numpy()
        cov = res.cov_params().loc[names, names].to_numpy()
        partners = d.drop_duplicates("partner_id")
        self.labels_ = partners.set_index("partner_id")[dims]
        ind = pd.DataFrame({f"{dim}={g}": (partners[dim].to_numpy() == g).astype(float) for dim, g in cols})

        def combo(mask: np.ndarray) -> tuple[float, float]:
            a = ind[mask].mean(axis=0).to_numpy()
            return float(a @ beta), float(np.sqrt(a @ cov @ a))

        mu, mu_se = combo(np.ones(len(partners), dtype=bool))
        self.network_ = (mu, mu_se)
        z = float(norm.ppf(1 - self.alpha / 2))
        n_obs = {dim: d.groupby(dim).size() for dim in dims}
        frames, self.tau_ = [], {}
        for dim in dims:
            est = [combo((partners[dim] == g).to_numpy()) for g in levels[dim]]
            b = np.array([e[0] for e in est])
            se = np.array([e[1] for e in est])
            w = 1.0 / se**2
            q_stat = float(np.sum(w * (b - np.sum(w * b) / np.sum(w)) ** 2))
            tau2 = max(0.0, (q_stat - (len(b) - 1)) / (np.sum(w) - np.sum(w**2) / np.sum(w)))
            weight = tau2 / (tau2 + se**2)
            pooled = weight * b + (1 - weight) * mu
            post_se = np.sqrt(weight * se**2 + (1 - weight) ** 2 * mu_se**2)
            self.tau_[dim] = float(np.sqrt(tau2))
            frames.append(pd.DataFrame({
                "dimension": dim, "group": levels[dim],
                "n_partners": [int((partners[dim] == g).sum()) for g in levels[dim]],
                "n_obs": [int(n_obs[dim][g]) for g in levels[dim]],
                "estimate_raw": b, "se_raw": se, "estimate": pooled, "se": post_se,
                "ci_low": pooled - z * post_se, "ci_high": pooled + z * post_se, "weight": weight,
            }))
        self.summary_ = pd.concat(frames, ignore_index=True)
        return self

    def partner_offsets(self, partner_ids: Any) -> pd.Series:
        """Each partner's response minus the network's (d ln sales per pp): the sum of its groups' pooled
        deviations from the network; 0 for partners the model did not see. Index: partner_id."""
        ids = pd.Index(partner_ids, name="partner_id")
        out = pd.Series(0.0, index=ids)
        mu = self.network_[0]
        for dim, rows in self.summary_.groupby("dimension", sort=False):
            dev = (rows.set_index("group")["estimate"] - mu)
            labels = self.labels_[dim].reindex(ids)
            out += labels.map(dev).fillna(0.0).to_numpy()
        return out


def response_by_group(con: Any, *, as_of: Any, region: str | None = None,
                      by: tuple[str, ...] = ("tier", "size_class")) -> GroupResponseModel:
    """GroupResponseModel on the store's history up to as_of: tiers as of as_of (segment), size classes
    from mean quarterly sales. NotEnoughData when there is no ledger or too few partners per group."""
    from workbench.incentives.data import _history_window, _tiers, partner_quarter_panel
    from workbench.incentives.whatif import ledger_rows

    start, end = _history_window(con, as_of=as_of)
    if ledger_rows(con, region=region, end=end) == 0:
        raise NotEnoughData("The response by tier and size class needs an incentive ledger; the store has none.")
    panel = partner_quarter_panel(con, start=start, end=end, region=region)
    tiers = _tiers(con, as_of=pd.Timestamp(as_of).date(), region=region).set_index("partner_id")["tier"]
    panel = panel.assign(tier=panel["partner_id"].map(tiers), size_class=panel["partner_id"].map(size_classes(panel)))
    return GroupResponseModel(by=by).fit(panel)
