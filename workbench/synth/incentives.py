"""Planted incentive truths for validity checks: heterogeneous response, targeted rates, pull-forward.

Kept apart from ``workbench.synth.network`` (the network generator) so the two evolve without conflicts;
each planted truth is one small function switched on by its own parameters and seeded.

- ``heterogeneous_panel``: a partner-quarter panel whose response to the rebate rate differs by tier
  and size class (truth in ``.truth``), with rates *targeted* at weaker partners (bumps more likely for
  pilots and small partners), so a pooled cross-sectional regression is biased and only the
  within-partner comparison identifies the response.
- ``pull_forward_orders``: daily orders in which partners whose quarter would end just below a volume
  threshold pull orders from the first days of the next quarter into the last days of this one
  (channel stuffing); the moved amount per partner-quarter is the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["PlantedPanel", "PlantedOrders", "heterogeneous_panel", "pull_forward_orders"]

TIER_BETA: dict[str, float] = {"core": 0.025, "growth": 0.045, "pilot": 0.065}  # d ln sales / pp
SIZE_SHIFT: dict[str, float] = {"small": 0.010, "mid": 0.0, "large": -0.010}
BUMP_PROB: dict[str, float] = {"core": 0.15, "growth": 0.30, "pilot": 0.45}  # targeted at weaker tiers
SIZE_BUMP: dict[str, float] = {"small": 0.10, "mid": 0.0, "large": -0.08}
SIZE_LEVEL: dict[str, float] = {"small": 11.5, "mid": 12.5, "large": 13.5}  # mean ln quarter sales


@dataclass(frozen=True)
class PlantedPanel:
    """panel: partner_id, quarter, tier, size_class, net_sales_cny, rate_pct, in_life; truth: beta per
    partner (partner_id, tier, size_class, beta); params: the generating values."""

    panel: pd.DataFrame
    truth: pd.DataFrame
    params: dict[str, object] = field(default_factory=dict)

    def group_truth(self, by: str) -> pd.Series:
        """Planted response averaged over the partners of each group of `by` (tier or size_class)."""
        return self.truth.groupby(by)["beta"].mean()

    @property
    def network_beta(self) -> float:
        """Planted response averaged over the partner-quarters (what a single pooled slope targets)."""
        n = self.panel.groupby("partner_id").size()
        t = self.truth.set_index("partner_id")["beta"]
        return float((t.reindex(n.index) * n).sum() / n.sum())


def heterogeneous_panel(
    *, partners: int = 3000, quarters: int = 12, seed: int = 0, noise_sd: float = 0.10, health_phi: float = 0.6,
    tier_beta: dict[str, float] | None = None, size_shift: dict[str, float] | None = None, targeted: bool = True,
) -> PlantedPanel:
    """Partner-quarter panel with a planted response beta_p = tier_beta[tier] + size_shift[size_class].

    ln sales = level(size) + partner effect + season + AR(1) health + beta_p × rate + noise. Rates are a
    programme base (2 %, 3 % from the second year, for everyone) plus a 1–3 point bump in a quarter,
    drawn with a probability that is higher for pilots and small partners when `targeted` (partners
    with low sales get more rebate), so rate and sales level are negatively related across partners.
    """
    rng = np.random.default_rng(seed)
    tb, ss = tier_beta or TIER_BETA, size_shift or SIZE_SHIFT
    tiers = rng.choice(list(tb), size=partners, p=[0.25, 0.40, 0.35])
    sizes = rng.choice(list(ss), size=partners, p=[0.35, 0.40, 0.25])  # independent of tier
    beta = np.array([tb[t] for t in tiers]) + np.array([ss[s] for s in sizes])
    level = np.array([SIZE_LEVEL[s] for s in sizes]) + rng.normal(0, 0.4, partners)
    q = pd.period_range("2023Q1", periods=quarters, freq="Q")
    base = np.where(np.arange(quarters) >= 4, 3.0, 2.0)
    p_bump = np.array([BUMP_PROB[t] for t in tiers]) + np.array([SIZE_BUMP[s] for s in sizes])
    if not targeted:
        p_bump = np.full(partners, p_bump.mean())
    bump = (rng.random((partners, quarters)) < p_bump[:, None]) * rng.integers(1, 4, (partners, quarters))
    rate = base[None, :] + bump
    health = np.zeros((partners, quarters))
    eps = rng.normal(0, 0.08, (partners, quarters))
    for j in range(quarters):
        health[:, j] = (health_phi * health[:, j - 1] if j else 0.0) + eps[:, j]
    season = np.tile([-0.05, 0.0, 0.02, 0.08], quarters // 4 + 1)[:quarters] + np.linspace(0, 0.1, quarters)
    ln = level[:, None] + season[None, :] + health + beta[:, None] * rate + rng.normal(0, noise_sd, (partners, quarters))
    ids = np.array([f"H{i:05d}" for i in range(partners)])
    panel = pd.DataFrame({
        "partner_id": np.repeat(ids, quarters), "quarter": np.tile(q, partners),
        "tier": np.repeat(tiers, quarters), "size_class": np.repeat(sizes, quarters),
        "net_sales_cny": np.round(np.exp(ln).ravel(), 2), "rate_pct": rate.ravel().astype(float), "in_life": True,
    })
    truth = pd.DataFrame({"partner_id": ids, "tier": tiers, "size_class": sizes, "beta": beta})
    return PlantedPanel(panel, truth, {"seed": seed, "partners": partners, "quarters": quarters,
                                       "tier_beta": dict(tb), "size_shift": dict(ss), "targeted": targeted})


@dataclass(frozen=True)
class PlantedOrders:
    """orders: partner_id, order_date, net_amount (one line per partner and day with sales);
    truth: partner_id, quarter, pulled_cny (moved from the next quarter's first days into this one)."""

    orders: pd.DataFrame
    truth: pd.DataFrame
    params: dict[str, object] = field(default_factory=dict)

    @property
    def pulled_total(self) -> float:
        """All planted pulled-forward sales (currency units)."""
        return float(self.truth["pulled_cny"].sum())


def pull_forward_orders(
    *, partners: int = 600, quarters: int = 8, seed: int = 0, threshold: float = 1_000_000.0,
    window_pct: float = 10.0, window_days: int = 14, daily_sd: float = 0.5, start: str = "2024-01-01",
) -> PlantedOrders:
    """Daily orders with planted pull-forward before a volume threshold and a period end.

    Each partner sells size × lognormal noise a day. When a quarter's sales would end within
    `window_pct` % below `threshold`, the partner pulls what it lacks (up to all of it) from the first
    `window_days` days of the next quarter into the last `window_days` days of this one; the next
    quarter's start then misses exactly that amount. Truth: the amount pulled per partner-quarter.
    """
    rng = np.random.default_rng(seed)
    days = pd.date_range(start, periods=1, freq="D")[0]
    end = (pd.Period(days, "Q") + quarters).start_time  # one extra quarter for the last pull to land
    dates = pd.date_range(days, end + pd.Timedelta(days=window_days), freq="D", inclusive="left")
    n_days = len(dates)
    # daily level so that quarter sales sit around the threshold for many partners
    size = np.exp(rng.normal(np.log(threshold / 91), 0.35, partners))
    sales = size[:, None] * np.exp(rng.normal(-0.5 * daily_sd**2, daily_sd, (partners, n_days)))
    qidx = pd.PeriodIndex(dates, freq="Q")
    qs = pd.period_range(qidx[0], periods=quarters, freq="Q")
    pulled = np.zeros((partners, quarters))
    for j, q in enumerate(qs):
        inq = np.flatnonzero(qidx == q)
        nxt = np.flatnonzero(qidx == q + 1)[:window_days]
        if len(nxt) < window_days or j == quarters - 1:  # the next quarter must be observed whole
            continue
        total = sales[:, inq].sum(axis=1)
        gap = threshold - total
        near = (gap > 0) & (gap <= threshold * window_pct / 100.0)
        avail = sales[:, nxt].sum(axis=1)
        move = np.where(near, np.minimum(gap + 0.01 * window_days, avail), 0.0)  # + a cent a day: rounding
        frac = np.divide(move, avail, out=np.zeros_like(move), where=avail > 0)
        taken = sales[:, nxt] * frac[:, None]
        sales[:, nxt] -= taken
        last = inq[-window_days:]
        sales[:, last] += (move / window_days)[:, None]
        pulled[:, j] = move
    keep = qidx <= qs[-1]
    ids = np.array([f"F{i:05d}" for i in range(partners)])
    d = np.flatnonzero(keep)
    orders = pd.DataFrame({"partner_id": np.repeat(ids, len(d)), "order_date": np.tile(dates[d], partners),
                           "net_amount": np.round(sales[:, d].ravel(), 2)})
    truth = pd.DataFrame({"partner_id": np.repeat(ids, quarters), "quarter": np.tile(qs, partners),
                          "pulled_cny": pulled.ravel()})
    return PlantedOrders(orders, truth, {"seed": seed, "threshold": threshold, "window_pct": window_pct,
                                         "window_days": window_days, "partners": partners, "quarters": quarters})
