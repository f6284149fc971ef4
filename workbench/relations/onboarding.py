"""Onboarding and activation: how fast new partners place their first and second orders, and how they ramp."""

from __future__ import annotations

from datetime import date

import ibis
import numpy as np
import pandas as pd

from workbench.vocab import Scope

DAYS_PER_MONTH = 30.4375
ACTIVATION_DAYS = 90  # a new partner counts as activated when its first order comes within 90 days


def activation_durations(partners: pd.DataFrame, orders: pd.DataFrame, *, as_of: date | str) -> pd.DataFrame:
    """Per partner onboarded by `as_of`: cohort (onboarding quarter), days to first and second order day.

    partners: partner_id, onboard_date; orders: partner_id, order_date, is_return. Only non-return
    orders on or before `as_of` count; the second order is the second distinct order day. A partner
    without the event is censored at `as_of`: `days_to_first` is then the days observed and
    `first_observed` is False (same for the second order). Days are calendar days.
    """
    cut = pd.Timestamp(as_of)
    p = partners[["partner_id", "onboard_date"]].copy()
    p["onboard_date"] = pd.to_datetime(p["onboard_date"])
    p = p[p["onboard_date"] <= cut]
    o = orders[~orders["is_return"].fillna(False).astype(bool)][["partner_id", "order_date"]].copy()
    o["order_date"] = pd.to_datetime(o["order_date"])
    o = o[o["order_date"] <= cut].drop_duplicates().merge(p, on="partner_id")
    o = o[o["order_date"] >= o["onboard_date"]].sort_values(["partner_id", "order_date"])
    o["n"] = o.groupby("partner_id").cumcount() + 1
    firsts = o[o["n"] <= 2].pivot(index="partner_id", columns="n", values="order_date")
    firsts = firsts.reindex(columns=[1, 2]).rename(columns={1: "first_order", 2: "second_order"}).reset_index()
    out = p.merge(firsts, on="partner_id", how="left")
    for col in ("first_order", "second_order"):  # stays datetime when no partner ordered at all
        out[col] = pd.to_datetime(out[col])
    out["cohort"] = out["onboard_date"].dt.to_period("Q").astype(str)
    observed_days = (cut - out["onboard_date"]).dt.days
    for event, col in (("first", "first_order"), ("second", "second_order")):
        out[f"{event}_observed"] = out[col].notna()
        out[f"days_to_{event}"] = (out[col] - out["onboard_date"]).dt.days.fillna(observed_days).astype(float)
    return out[["partner_id", "cohort", "onboard_date", "first_order", "second_order", "days_to_first",
                "first_observed", "days_to_second", "second_observed"]]


def activation_survival(durations: pd.DataFrame, *, event: str = "first", by: str = "cohort",
                        min_n: int = 5) -> pd.DataFrame:
    """Kaplan–Meier share of partners who have placed their first (or second) order, over months since onboarding.

    Returns group, months, activated (0–1, = 1 − KM survival), at_risk, lower, upper (95% band), per
    group of `by` with at least `min_n` partners (statsmodels SurvfuncRight through churn's KM helper).
    """
    from workbench.churn import survival_curves

    frame = durations.assign(duration_days=durations[f"days_to_{event}"], churned=durations[f"{event}_observed"])
    km = survival_curves(frame, by=by, min_n=min_n)
    out = km.assign(activated=1 - km["survival"], lower=1 - km["upper"], upper=1 - km["lower"])
    return out[["group", "months", "activated", "at_risk", "lower", "upper"]]


def activation_by_quarter(durations: pd.DataFrame, *, within_days: int = ACTIVATION_DAYS) -> pd.DataFrame:
    """Per onboarding quarter: partners added, activated within `within_days` of onboarding, share, median days.

    A cohort whose window has not closed yet still counts its early activations; `window_closed` says so.
    """
    d = durations.copy()
    d["activated"] = d["first_observed"] & (d["days_to_first"] <= within_days)
    g = d.groupby("cohort")
    out = g.agg(added=("partner_id", "size"), activated=("activated", "sum"))
    out["activation_rate"] = out["activated"] / out["added"]
    med = d[d["first_observed"]].groupby("cohort")["days_to_first"].median()
    out["median_days_to_first"] = med
    last_onboard = g["onboard_date"].max()
    observed = d["days_to_first"].where(~d["first_observed"]).groupby(d["cohort"]).min()  # NaN: none censored
    out["window_closed"] = (observed.isna() | (observed >= within_days)) & last_onboard.notna()
    return out.reset_index()


def ramp_curves(partners: pd.DataFrame, orders: pd.DataFrame, *, as_of: date | str, months: int = 12,
                new_within_months: int = 24) -> pd.DataFrame:
    """Median monthly net sales by month since onboarding, for new partners vs the mature reference.

    New partners were onboarded within `new_within_months` before `as_of`; the mature reference is the
    median monthly net sales over the last 12 months of partners onboarded earlier. Returns
    month_since_onboard (0 = onboarding month), group ("new" / "mature"), median_sales, partners
    (store currency per month). Months after `as_of` are not counted.
    """
    cut = pd.Timestamp(as_of)
    p = partners[["partner_id", "onboard_date"]].copy()
    p["onboard_date"] = pd.to_datetime(p["onboard_date"])
    o = orders[["partner_id", "order_date", "net_amount"]].copy()
    o["order_date"] = pd.to_datetime(o["order_date"])
    o = o[o["order_date"] <= cut]
    o["month"] = o["order_date"].dt.to_period("M")
    monthly = o.groupby(["partner_id", "month"], as_index=False)["net_amount"].sum()
    new_from = (cut - pd.DateOffset(months=new_within_months)).to_period("M")
    cut_m = cut.to_period("M")
    p["onboard_month"] = p["onboard_date"].dt.to_period("M")
    new = p[(p["onboard_month"] > new_from) & (p["onboard_month"] <= cut_m)]
    rows = []
    if len(new):
        grid = new.loc[new.index.repeat(months)].copy()
        grid["k"] = np.tile(np.arange(months), len(new))
        grid["month"] = grid["onboard_month"] + grid["k"]
        grid = grid[grid["month"] <= cut_m].merge(monthly, on=["partner_id", "month"], how="left")
        grid["net_amount"] = grid["net_amount"].fillna(0.0)
        r = grid.groupby("k").agg(median_sales=("net_amount", "median"), partners=("partner_id", "nunique"))
        rows.append(r.reset_index().assign(group="new"))
    mature = p[p["onboard_month"] <= new_from]
    if len(mature):
        last12 = [cut_m - i for i in range(12)]
        m = monthly[monthly["partner_id"].isin(mature["partner_id"]) & monthly["month"].isin(last12)]
        per = m.groupby("partner_id")["net_amount"].sum().reindex(mature["partner_id"], fill_value=0.0) / 12
        rows.append(pd.DataFrame({"k": np.arange(months), "median_sales": float(per.median()),
                                  "partners": len(per), "group": "mature"}))
    if not rows:
        return pd.DataFrame(columns=["month_since_onboard", "group", "median_sales", "partners"])
    out = pd.concat(rows, ignore_index=True).rename(columns={"k": "month_since_onboard"})
    return out[["month_since_onboard", "group", "median_sales", "partners"]]


def activation_from_store(con: ibis.BaseBackend, *, as_of: date | str, region: str | Scope | None = None
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(partners, orders) frames for the onboarding functions, scoped to `region`, read from the store."""
    from workbench import features

    t = features.scoped_tables(con, region, as_of=pd.Timestamp(as_of).date())
    partners = t["partners"].select("partner_id", "onboard_date").to_pandas()
    o = t["orders"]
    cut = pd.Timestamp(as_of).date()
    orders = o.filter(o.order_date <= ibis.literal(cut)).select(
        "partner_id", "order_date", "net_amount", is_return=o.is_return.fill_null(False)).to_pandas()
    orders["net_amount"] = orders["net_amount"].astype(float)
    return partners, orders
