"""Pull-forward (channel stuffing) check: orders pulled into the days before a threshold or a period end.

A partner that pulls orders forward to reach a volume tier buys less at the start of the next
quarter. For every partner-quarter the *start dip* is what the partner bought in the first
`window_days` days of the next quarter below its own daily rate in the rest of that quarter. Partner-
quarters that ended just above a threshold (within `window_pct` %) are compared with all others
(difference in differences): their extra dip is the sales pulled forward. Without thresholds the
mean dip of all partner-quarters (period-end stuffing) is reported instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import NotEnoughData

__all__ = ["PullForward", "pull_forward", "pull_forward_from_store"]


class PullForward:
    """Result of the check. frame_: one row per partner-quarter (partner_id, quarter, net_sales_cny,
    start_dip_cny, near_threshold, pulled_cny); pulled_cny_: total pulled forward (currency units);
    se_cny_: its standard error; share_pct_: pulled as % of the near-threshold partner-quarters' sales;
    n_near_: near-threshold partner-quarters; mode_: 'threshold' or 'period_end'."""

    def __init__(self, frame: pd.DataFrame, *, mode: str) -> None:
        self.frame_ = frame
        self.mode_ = mode
        near = frame[frame["near_threshold"]]
        self.n_near_ = int(len(near))
        self.pulled_cny_ = float(near["pulled_cny"].sum())
        far = frame.loc[~frame["near_threshold"], "start_dip_cny"]
        var_near = near["start_dip_cny"].var(ddof=1) if len(near) > 1 else 0.0
        var_far = far.var(ddof=1) / max(len(far), 1) if len(far) > 1 else 0.0
        self.se_cny_ = float(np.sqrt(len(near) * var_near + len(near) ** 2 * var_far)) if len(near) else 0.0
        sales = float(near["net_sales_cny"].sum())
        self.share_pct_ = 100.0 * self.pulled_cny_ / sales if sales > 0 else 0.0

    def __repr__(self) -> str:
        return (f"PullForward({self.mode_}: {self.pulled_cny_:,.0f} ± {self.se_cny_:,.0f} pulled over "
                f"{self.n_near_:,} partner-quarters, {self.share_pct_:.1f}% of their sales)")


def pull_forward(orders: pd.DataFrame, *, thresholds: Any = (), window_days: int = 14,
                 window_pct: float = 10.0) -> PullForward:
    """Estimate pulled-forward sales from order lines (partner_id, order_date, net_amount).

    thresholds: volume-tier thresholds (quarter net sales); empty → period-end mode. Only quarters
    followed by a complete quarter in the data count. Raises NotEnoughData below two such quarters.
    """
    o = orders[["partner_id", "order_date", "net_amount"]].copy()
    o["order_date"] = pd.to_datetime(o["order_date"])
    o["quarter"] = o["order_date"].dt.to_period("Q")
    q_start = o["quarter"].dt.start_time
    q_end = o["quarter"].dt.end_time.dt.normalize()
    day = (o["order_date"] - q_start).dt.days
    days_in_q = (q_end - q_start).dt.days + 1
    o["first"] = day < window_days
    o["mid"] = (day >= window_days) & (day < days_in_q - window_days)
    last_day, first_day = o["order_date"].max(), o["order_date"].min()
    complete = [q for q in o["quarter"].unique() if q.start_time >= first_day and q.end_time.normalize() <= last_day]
    complete = sorted(complete)
    pairs = [q for q in complete if q + 1 in set(complete)]
    if len(pairs) < 2:
        raise NotEnoughData("The pull-forward check needs two quarters each followed by a complete quarter of orders.")
    g = o.groupby(["partner_id", "quarter"])
    q = pd.DataFrame({
        "net_sales_cny": g["net_amount"].sum(),
        "first_cny": o[o["first"]].groupby(["partner_id", "quarter"])["net_amount"].sum(),
        "mid_cny": o[o["mid"]].groupby(["partner_id", "quarter"])["net_amount"].sum(),
    }).fillna(0.0).reset_index()
    q["mid_days"] = [(p.end_time.normalize() - p.start_time).days + 1 - 2 * window_days for p in q["quarter"]]
    nxt = q[["partner_id", "quarter", "first_cny", "mid_cny", "mid_days"]].copy()
    nxt["quarter"] = nxt["quarter"] - 1
    f = q[["partner_id", "quarter", "net_sales_cny"]].merge(nxt, on=["partner_id", "quarter"], how="inner")
    f = f[f["quarter"].isin(pairs)]
    f["start_dip_cny"] = f["mid_cny"] / f["mid_days"] * window_days - f["first_cny"]
    t = np.asarray(list(thresholds), dtype=float)
    t = t[t > 0]
    if len(t):
        s = f["net_sales_cny"].to_numpy()[:, None]
        f["near_threshold"] = ((s >= t[None, :]) & (s < t[None, :] * (1 + window_pct / 100.0))).any(axis=1)
        control = f.loc[~f["near_threshold"], "start_dip_cny"]
        ref = float(control.mean()) if len(control) else 0.0
        mode = "threshold"
    else:
        f["near_threshold"] = True
        ref, mode = 0.0, "period_end"
    f["pulled_cny"] = np.where(f["near_threshold"], f["start_dip_cny"] - ref, 0.0)
    cols = ["partner_id", "quarter", "net_sales_cny", "start_dip_cny", "near_threshold", "pulled_cny"]
    return PullForward(f[cols].sort_values(["partner_id", "quarter"], ignore_index=True), mode=mode)


def pull_forward_from_store(con: Any, *, thresholds: Any = (), as_of: Any = None, region: str | None = None,
                            window_days: int = 14, window_pct: float = 10.0) -> PullForward:
    """The check on the store's orders up to as_of (a region's partners only when given)."""
    o = con.table("orders")
    if as_of is not None:
        o = o.filter(o.order_date <= pd.Timestamp(as_of).date())
    if region not in (None, "", "all"):
        from workbench.incentives.data import _region_partner_ids

        o = o.semi_join(_region_partner_ids(con, region, as_of), "partner_id")  # the region each partner had then
    frame = o.group_by("partner_id", "order_date").aggregate(net_amount=o.net_amount.sum().cast("float64")).to_pandas()
    if frame.empty:
        raise NotEnoughData("The store has no orders, so pulled-forward sales cannot be checked.")
    return pull_forward(frame, thresholds=thresholds, window_days=window_days, window_pct=window_pct)
