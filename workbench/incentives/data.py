"""From the store: partner-quarter panel with realised rebate rate, partner attributes, quarter helpers."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import NotEnoughData, WorkbenchError


def _quarter_start(q: pd.Period) -> pd.Timestamp:
    return q.start_time.normalize()


def _quarter_end(q: pd.Period) -> pd.Timestamp:
    return q.end_time.normalize()


def _region_partner_ids(con: Any, region: str | None, as_of: Any = None) -> Any:
    from workbench.store import partners_at

    partners = con.table("partners")
    if as_of is not None:  # the region each partner had then
        partners = partners_at(con, partners, pd.Timestamp(as_of).date())
    if region not in (None, "all"):
        partners = partners.filter(partners.region == region)
    return partners.select("partner_id")


def quarterly_rate_panel(monthly: pd.DataFrame) -> pd.DataFrame:
    """Partner-quarter panel: quarter net sales (CNY), incentive due (CNY) and realised rate (%).

    monthly: partner_id, month, net_sales_cny, incentive_due_cny (due by period_end month, as in
    features.partner_month_panel). Rows: every partner-quarter present; rate_pct = 100 × due / net
    sales (NaN when net sales ≤ 0); `in_life` is True when the partner has sales in or before the
    quarter's first month and in or after its last month (no onboarding or churn inside it).
    """
    m = monthly.assign(quarter=pd.PeriodIndex(pd.to_datetime(monthly["month"]), freq="Q"))
    q = m.groupby(["partner_id", "quarter"], as_index=False, observed=True)[["net_sales_cny", "incentive_due_cny"]].sum()
    active = m[m["net_sales_cny"] > 0]
    life = active.groupby("partner_id")["month"].agg(first_month="min", last_month="max")
    out = q.merge(life, on="partner_id", how="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate_pct"] = np.where(out["net_sales_cny"] > 0, 100 * out["incentive_due_cny"] / out["net_sales_cny"], np.nan)
    first = out["quarter"].dt.start_time
    last = out["quarter"].dt.end_time.dt.to_period("M").dt.start_time
    out["in_life"] = (out["first_month"] <= first) & (out["last_month"] >= last)
    return out.drop(columns=["first_month", "last_month"]).sort_values(["partner_id", "quarter"], ignore_index=True)


def partner_quarter_panel(con: Any, *, start: date, end: date, region: str | None = None) -> pd.DataFrame:
    """Partner-quarter panel from the store's partner-month panel (see quarterly_rate_panel)."""
    from workbench.features import partner_month_panel

    panel = partner_month_panel(con, start=start, end=end, region=region)
    monthly = panel.select("partner_id", "month", "net_sales_cny", "incentive_due_cny").to_pandas()
    monthly["month"] = pd.to_datetime(monthly["month"])
    for col in ("net_sales_cny", "incentive_due_cny"):
        monthly[col] = monthly[col].astype(float).fillna(0.0)
    return quarterly_rate_panel(monthly)


def _tiers(con: Any, *, as_of: date, region: str | None = None) -> pd.DataFrame:
    try:
        from workbench.segment import partner_tiers
    except ImportError:  # pragma: no cover - segment not there yet
        return pd.DataFrame({"partner_id": pd.Series(dtype=str), "tier": pd.Series(dtype=str)})
    try:
        tiers = partner_tiers(con, as_of=as_of, region=region)
    except WorkbenchError:  # too little history to tier partners: they stay 'unassigned'
        return pd.DataFrame({"partner_id": pd.Series(dtype=str), "tier": pd.Series(dtype=str)})
    if not isinstance(tiers, pd.DataFrame):
        tiers = tiers.to_pandas()
    if "partner_id" not in tiers.columns:
        tiers = tiers.reset_index()
    return tiers[["partner_id", "tier"]]


def partner_attributes(
    con: Any, *, as_of: date, region: str | None = None, new_product_lines: dict[str, tuple[str, ...]] | None = None
) -> pd.DataFrame:
    """One row per partner not exited at as_of: name, region, channel_type, tier, tenure and award metrics.

    Metrics (AWARD_METRICS): trainings_passed, satisfaction, customer_feedback, tenure_months and,
    per award name in `new_product_lines`, new_product_sales_cny__<award>.
    """
    as_of = pd.Timestamp(as_of).date()
    ids = _region_partner_ids(con, region, as_of)
    p = con.table("partners")
    p = p.filter(p.onboard_date <= as_of, p.exit_date.isnull() | (p.exit_date > as_of)).semi_join(ids, "partner_id")
    frame = p.select("partner_id", "name", "region", "channel_type", "onboard_date").to_pandas()
    onboard = pd.to_datetime(frame.pop("onboard_date"))
    ts = pd.Timestamp(as_of)
    frame["tenure_months"] = ((ts.year - onboard.dt.year) * 12 + (ts.month - onboard.dt.month)
                              - (ts.day < onboard.dt.day).astype(int)).astype(float)
    t = con.table("trainings")
    t = t.filter(t.training_date.between(as_of - pd.Timedelta(days=364), as_of), t.passed).semi_join(ids, "partner_id")
    trained = t.group_by("partner_id").aggregate(trainings_passed=t.count()).to_pandas()
    s = con.table("surveys")
    s = s.filter(s.survey_date.between(as_of - pd.Timedelta(days=179), as_of)).semi_join(ids, "partner_id")
    surveyed = s.group_by("partner_id").aggregate(
        satisfaction=s.satisfaction.mean(), customer_feedback=s.nps.mean()
    ).to_pandas()
    frame = frame.merge(trained, on="partner_id", how="left").merge(surveyed, on="partner_id", how="left")
    frame["trainings_passed"] = frame["trainings_passed"].fillna(0).astype(float)
    last_q = _last_complete_quarter(as_of)
    q_start, q_end = _quarter_start(last_q).date(), _quarter_end(last_q).date()
    for award, lines in (new_product_lines or {}).items():
        o = con.table("orders")
        o = o.filter(o.order_date.between(q_start, q_end), o.product_line.isin(list(lines))).semi_join(ids, "partner_id")
        sales = o.group_by("partner_id").aggregate(v=o.net_amount.sum().cast("float64")).to_pandas()
        col = f"new_product_sales_cny__{award}"
        frame = frame.merge(sales.rename(columns={"v": col}), on="partner_id", how="left")
        frame[col] = frame[col].fillna(0.0)
    frame = frame.merge(_tiers(con, as_of=as_of, region=region), on="partner_id", how="left")
    frame["tier"] = frame["tier"].fillna("unassigned").astype(str)
    return frame.sort_values("partner_id", ignore_index=True)



def _history_window(con: Any, *, as_of: date) -> tuple[date, date]:
    o = con.table("orders")
    first = o.order_date.min().to_pandas()
    if first is None or pd.isna(first):
        raise NotEnoughData("The store has no orders, so there is no sales history to simulate from.")
    end = _quarter_end(_last_complete_quarter(as_of))
    if end < pd.Timestamp(first):
        raise NotEnoughData(f"The orders start on {pd.Timestamp(first).date()}, after the last complete quarter "
                            f"before {pd.Timestamp(as_of).date()} ended, so there is no complete quarter to simulate from.")
    return pd.Timestamp(first).date(), end.date()


def _last_complete_quarter(as_of: date) -> pd.Period:
    ts = pd.Timestamp(as_of)
    q = pd.Period(ts, "Q")
    return q if ts.normalize() >= _quarter_end(q) else q - 1

