"""Point-in-time order history and churn drivers per partner (Ibis over the store), and the cutoff
frames (drivers + snapshot features + glossary labels) that models are trained and scored on.

Churn is the glossary's (docs/glossary.md): a partner active in the ACTIVE_DAYS up to `as_of`
churns with horizon H when it places no non-return order in (`as_of`, `as_of` + H].
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import NotEnoughData

__all__ = [
    "ACTIVE_DAYS",
    "DRIVER_ORDER_COLUMNS",
    "DatesLike",
    "cutoff_frame",
    "cutoff_frames",
    "data_span",
    "order_drivers",
]

ACTIVE_DAYS = 180  # glossary: active in the 180 days up to as_of

DatesLike = date | str | pd.Timestamp


def _day(value: DatesLike) -> date:
    """A date from a date, Timestamp or 'YYYY-MM-DD' string."""
    return pd.Timestamp(value).date()


def _tables(con: Any, region: str | None, as_of: date | None = None) -> dict[str, Any]:
    """Canonical tables scoped to one region (features.scoped_tables)."""
    from workbench import features

    return features.scoped_tables(con, region=_region(region), as_of=as_of)


DRIVER_ORDER_COLUMNS: tuple[str, ...] = (
    "partner_id", "name", "region", "channel_type", "onboard_date", "exit_date",
    "first_order", "last_order", "n_order_days", "median_gap_days", "mean_gap_days", "sd_gap_days",
    "order_days_90d", "order_days_prev_90d", "repeat_sales",
    "sales_90d", "sales_prev_90d", "sales_365d", "rebate_overdue",
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
        sales_90d=o.net_amount.sum(where=o.order_date > o._d90).cast("float64"),
        sales_prev_90d=o.net_amount.sum(where=(o.order_date > o._d180) & (o.order_date <= o._d90)).cast("float64"),
        sales_365d=o.net_amount.sum().cast("float64"),
    )
    # order days and the gap to the previous order day: the same for every cutoff at or after the
    # day, so the window runs once over the whole history before the join with the cutoffs
    nr = t["orders"].filter(~t["orders"].is_return.fill_null(False) & (t["orders"].net_amount >= 0))
    days = nr.group_by(["partner_id", "order_date"]).aggregate(day_sales=nr.net_amount.sum().cast("float64"))
    w = ibis.window(group_by="partner_id", order_by="order_date")
    days = days.mutate(
        gap=days.order_date.delta(days.order_date.lag().over(w), unit="day"),
        is_first=days.order_date == days.order_date.min().over(ibis.window(group_by="partner_id")),
    )
    days = days.inner_join(c, days.order_date <= c.cutoff)
    hist = days.group_by(keys).aggregate(
        first_order=days.order_date.min(),
        last_order=days.order_date.max(),
        n_order_days=days.order_date.count(),
        median_gap_days=days.gap.median().cast("float64"),
        mean_gap_days=days.gap.mean().cast("float64"),
        sd_gap_days=days.gap.std().cast("float64"),
        order_days_90d=days.order_date.count(where=days.order_date > days._d90),
        order_days_prev_90d=days.order_date.count(where=(days.order_date > days._d180) & (days.order_date <= days._d90)),
        repeat_sales=days.day_sales.sum(where=~days.is_first).cast("float64"),
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
        parts.append(inc.group_by(keys).aggregate(rebate_overdue=inc.short.sum()))
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
    n_order_days, median_gap_days, sales_90d, sales_prev_90d, sales_365d,
    order_days_90d, order_days_prev_90d, rebate_overdue (due - paid on ledger rows more than
    60 days past period_end), sat_last, sat_prev, open_conflicts, conflicts_365d, trainings_365d;
    derived in pandas: recency_days, tenure_days, cycle_ratio, sales_change_pct, sat_change,
    and BG/NBD inputs in weeks bg_frequency, bg_recency_w, bg_T_w.
    """
    return _drivers(_tables(con, region, _day(as_of)), [_day(as_of)]).drop(columns="cutoff")


def _derive_drivers(df: pd.DataFrame) -> pd.DataFrame:
    """Fill counts with 0 and add recency, tenure, cycle ratio, trends and BG/NBD inputs (days, weeks),
    each row at its own `cutoff`."""
    df = df.copy()
    for c in ("first_order", "last_order", "onboard_date", "exit_date"):
        df[c] = pd.to_datetime(df[c])
    zero = [
        "n_order_days", "order_days_90d", "order_days_prev_90d", "sales_90d", "sales_prev_90d",
        "sales_365d", "rebate_overdue", "open_conflicts", "conflicts_365d", "trainings_365d", "repeat_sales",
    ]
    for c in zero:
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0).astype(float)
    for c in ("median_gap_days", "mean_gap_days", "sd_gap_days", "sat_last", "sat_prev"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    ts = df["cutoff"]
    df["recency_days"] = (ts - df["last_order"]).dt.days.astype(float)
    df["tenure_days"] = (ts - df["onboard_date"]).dt.days.astype(float)
    gap = df["median_gap_days"].where(df["median_gap_days"] > 0)
    df["cycle_ratio"] = df["recency_days"] / gap.fillna(90.0)
    prev = df["sales_prev_90d"]
    df["sales_change_pct"] = np.where(prev > 0, (df["sales_90d"] / prev.where(prev > 0) - 1) * 100, np.nan)
    df["sat_change"] = df["sat_last"] - df["sat_prev"]
    df["bg_frequency"] = (df["n_order_days"] - 1).clip(lower=0)
    df["bg_recency_w"] = ((df["last_order"] - df["first_order"]).dt.days / 7.0).fillna(0.0)
    df["bg_T_w"] = ((ts - df["first_order"]).dt.days / 7.0).fillna(0.0)
    # spend per repeat order day (Gamma-Gamma input) and Pareto/NBD-style shape of the history
    df["bg_monetary"] = np.where(df["bg_frequency"] > 0, df["repeat_sales"] / df["bg_frequency"].clip(lower=1), 0.0)
    df["recency_T_ratio"] = np.where(df["bg_T_w"] > 0, df["bg_recency_w"] / df["bg_T_w"].where(df["bg_T_w"] > 0), np.nan)
    df["order_rate_w"] = np.where(df["bg_T_w"] > 0, df["bg_frequency"] / df["bg_T_w"].where(df["bg_T_w"] > 0), np.nan)
    # regularity: how even the gaps are (coefficient of variation) and how late the partner is in
    # standard deviations of its own gaps (needs three order days)
    mean, sd = df["mean_gap_days"], df["sd_gap_days"]
    df["gap_cv"] = sd / mean.where(mean > 0)
    df["overdue_sd"] = ((df["recency_days"] - mean) / sd.where(sd > 0)).clip(-10, 10)
    return df


def _region(region: Any) -> str | None:
    """The region name of a region argument (None, '', 'all' and a whole-company Scope mean None)."""
    from workbench.vocab import Scope

    return Scope.parse(region).region


SNAPSHOT_DROP = {  # compared without a money suffix (net_sales_90d_cny and net_sales_90d alike)
    "partner_id", "name", "region", "province", "city", "channel_type", "churned",
    # the same quantities as order_drivers columns (kept once, under the drivers' names)
    "recency_days", "tenure_days", "net_sales_90d", "net_sales_prev_90d", "net_sales_365d",
    "order_cycle_median_days", "overdue_ratio", "satisfaction_last", "satisfaction_change",
    "trainings_365d", "conflicts_open", "conflicts_365d",
}


VALUE_COLUMNS: tuple[str, ...] = (
    "bg_p_alive", "bg_expected_orders", "bg_p_no_order", "expected_spend", "expected_sales", "clv_12m",
    "value_if_active_12m",
)


def _future_sales(t: dict[str, Any], cutoffs: Sequence[date], horizon_days: int) -> Any:
    """Ibis: non-return sales per (cutoff, partner) in (cutoff, cutoff + horizon_days] (a label, never a feature)."""
    import ibis

    df = pd.DataFrame({"cutoff": list(cutoffs), "_end": [c + timedelta(days=int(horizon_days)) for c in cutoffs]})
    cuts = ibis.memtable(df, schema={"cutoff": "date", "_end": "date"})
    o = t["orders"]
    nr = o.filter(~o.is_return.fill_null(False) & (o.net_amount >= 0))
    j = nr.inner_join(cuts, [nr.order_date > cuts.cutoff, nr.order_date <= cuts._end])
    return j.group_by(["cutoff", "partner_id"]).aggregate(sales_next=j.net_amount.sum().cast("float64"))


def _add_bgnbd(frame: pd.DataFrame, buyers: pd.DataFrame, *, horizon_days: int, annual_rate: float | None = None,
               months: int | None = None) -> pd.DataFrame:
    """BG/NBD × Gamma-Gamma per partner of `frame`, fitted per cutoff on `buyers` (every partner with
    an order by the cutoff; history <= cutoff only).

    Adds bg_p_alive, bg_expected_orders (order days in the next horizon_days), bg_p_no_order,
    expected_spend (sales per order day), expected_sales (non-return sales in the horizon),
    clv_12m (discounted sales over the next `months` months) and value_if_active_12m (the same for a
    partner that does not drop out: what churn would cost).
    """
    from workbench.churn.gammagamma import discounted_value, load_value_settings, spend_per_order_day
    from workbench.churn.models import _bgnbd_fit

    settings = load_value_settings()
    rate = settings.discount_rate_annual if annual_rate is None else annual_rate
    months = settings.value_months if months is None else months
    out = frame.copy()
    for col in VALUE_COLUMNS:
        out[col] = np.nan
    w = horizon_days / 7.0
    for cut, idx in out.groupby("cutoff", sort=False).groups.items():
        g = out.loc[idx]
        fit_on = buyers[buyers["cutoff"] == cut]
        if len(g) == 0:
            continue
        bg = _bgnbd_fit(fit_on if len(fit_on) else g)
        x, tx, t = g["bg_frequency"], g["bg_recency_w"], g["bg_T_w"].clip(lower=1e-3)
        # spend: Gamma-Gamma fitted on every buyer's repeat order days, scored for this population
        src = fit_on if len(fit_on) else g
        own_day = (g["sales_365d"] / g["n_order_days"].clip(lower=1)).clip(lower=0)
        spend = spend_per_order_day(x, g["bg_monetary"], own_day,
                                    fit_frequency=src["bg_frequency"], fit_monetary=src["bg_monetary"])
        n_h = bg.conditional_expected_number_of_purchases_up_to_time(w, x, tx, t)
        out.loc[idx, "bg_p_alive"] = bg.conditional_probability_alive(x, tx, t)
        out.loc[idx, "bg_expected_orders"] = n_h
        out.loc[idx, "bg_p_no_order"] = bg.conditional_probability_no_purchase(w, x, tx, t)
        out.loc[idx, "expected_spend"] = spend
        out.loc[idx, "expected_sales"] = n_h * spend
        out.loc[idx, "clv_12m"] = discounted_value(bg, spend, x, tx, t, months=months, annual_rate=rate)
        out.loc[idx, "value_if_active_12m"] = discounted_value(bg, spend, x, tx, t, months=months,
                                                               annual_rate=rate, if_alive=True)
    return out


def cutoff_frame(
    con: Any,
    *,
    as_of: DatesLike,
    horizon_days: int = 90,
    region: str | None = None,
    labels: bool = True,
    active_days: int = ACTIVE_DAYS,
) -> pd.DataFrame:
    """One row per partner in the churn population at `as_of` (active in the `active_days` up to it,
    180 by the glossary; not exited): drivers, snapshot features (prefixed `snap_`) and, when
    `labels`, `churned`.

    Features use rows dated <= as_of only; the label uses rows after it (features.churn_labels).
    A one-cutoff call of cutoff_frames.
    """
    d = _day(as_of)
    return cutoff_frames(con, [d], horizon_days=horizon_days, region=region, labels=labels,
                         active_days=active_days)[d]


def cutoff_frames(
    con: Any,
    cutoffs: Iterable[DatesLike],
    *,
    horizon_days: int = 90,
    region: str | None = None,
    labels: bool = True,
    active_days: int = ACTIVE_DAYS,
) -> dict[date, pd.DataFrame]:
    """Cutoff frames keyed by cutoff date, in the order given (see cutoff_frame).

    With labels, also sales_next: non-return sales in the horizon (for the value backtest).
    All cutoffs are built together: one query each for the drivers (order_drivers), the snapshot
    features (features.partner_snapshot_sets) and the labels (features.churn_label_sets), on tables
    scoped to the region once.
    """
    from workbench import features

    keys = list(dict.fromkeys(_day(c) for c in cutoffs))
    if not keys:
        return {}
    t = _tables(con, region, max(keys))  # partners scoped by their attributes at the last cutoff
    drv = _drivers(t, keys)
    active = drv["last_order"].notna() & (drv["recency_days"] < min(int(active_days), ACTIVE_DAYS))
    exited = drv["exit_date"].notna() & (drv["exit_date"] <= drv["cutoff"])
    buyers = drv[drv["last_order"].notna() & ~exited]  # BG/NBD is fitted on every buyer, silent ones too
    drv = drv[active & ~exited]

    snap = features.partner_snapshot_sets(t, as_of=keys).to_pandas()
    num = [
        c for c in snap.columns
        if c not in SNAPSHOT_DROP and c.replace("_cny", "") not in SNAPSHOT_DROP and (pd.api.types.is_numeric_dtype(snap[c]) or pd.api.types.is_bool_dtype(snap[c]))
    ]
    snap = pd.DataFrame(
        {"cutoff": pd.to_datetime(snap["as_of"]).astype("datetime64[s]"), "partner_id": snap["partner_id"]}
        | {f"snap_{c}": snap[c].astype(float) for c in num}
    )
    frame = drv.merge(snap, on=["cutoff", "partner_id"], how="left")
    frame = frame.merge(_contact_drivers(con, t, frame, region), on=["cutoff", "partner_id"], how="left")
    frame = _add_bgnbd(frame, buyers, horizon_days=horizon_days)
    if labels:
        lab = features.churn_label_sets(t, as_of=keys, horizon_days=horizon_days).to_pandas()
        lab = pd.DataFrame({
            "cutoff": pd.to_datetime(lab["as_of"]).astype("datetime64[s]"),
            "partner_id": lab["partner_id"].astype(str),
            "churned": lab["churned"].astype(bool),
        })
        frame = frame.merge(lab, on=["cutoff", "partner_id"], how="inner")
        nxt = _future_sales(t, keys, horizon_days).to_pandas()
        nxt["cutoff"] = pd.to_datetime(nxt["cutoff"]).astype("datetime64[s]")
        frame = frame.merge(nxt, on=["cutoff", "partner_id"], how="left")
        frame["sales_next"] = pd.to_numeric(frame["sales_next"], errors="coerce").fillna(0.0).astype(float)
    frame = frame.sort_values(["cutoff", "partner_id"], kind="stable")
    by_cut = {_day(k): g.reset_index(drop=True) for k, g in frame.groupby("cutoff", sort=False)}
    empty = frame.iloc[:0].reset_index(drop=True)
    return {k: by_cut.get(k, empty) for k in keys}


def _contact_drivers(con: Any, t: dict[str, Any], frame: pd.DataFrame, region: str | None) -> pd.DataFrame:
    """cutoff, partner_id, days_overdue, days_since_contact per partner of `frame` at its cutoff, from the
    visits and communications dated <= the cutoff and the tier's cadence at the cutoff
    (relations.contacts.contact_status; never contacted: overdue by the whole cadence). NaN when the
    store records no contact at all."""
    from workbench.relations.contacts import CONTACT_TYPES, contact_cadence, contact_status

    none = pd.DataFrame({  # no contact recorded: typed like `frame`'s keys, so the caller's merge works
        "cutoff": pd.Series(dtype=frame["cutoff"].dtype if "cutoff" in frame else "datetime64[s]"),
        "partner_id": pd.Series(dtype=frame["partner_id"].dtype if "partner_id" in frame else object),
        "days_overdue": pd.Series(dtype=float), "days_since_contact": pd.Series(dtype=float)})
    if "actions" not in t or frame.empty:
        return none
    a = t["actions"]
    acts = a.filter(a.action_type.isin(list(CONTACT_TYPES))).select("partner_id", "action_date", "action_type")
    acts = acts.to_pandas()
    if acts.empty:
        return none
    from workbench import segment

    cadence = contact_cadence()
    parts = []
    for cut, g in frame.groupby("cutoff", sort=False):
        tiers = segment.partner_tiers(con, as_of=_day(cut), region=_region(region))
        who = g[["partner_id"]].merge(tiers, on="partner_id", how="left")
        who["tier"] = who["tier"].fillna("pilot")
        st = contact_status(who, acts, as_of=_day(cut), cadence=cadence)
        parts.append(pd.DataFrame({"cutoff": cut, "partner_id": st["partner_id"],
                                   "days_overdue": st["days_overdue"].astype(float),
                                   "days_since_contact": st["days_since_contact"].astype(float)}))
    return pd.concat(parts, ignore_index=True)


def _data_span(t: dict[str, Any]) -> tuple[date, date]:
    """Dates of the first and the latest order in scoped tables `t` (one query)."""
    o = t["orders"]
    v = o.aggregate(lo=o.order_date.min(), hi=o.order_date.max()).to_pandas().iloc[0]
    if v["hi"] is None or pd.isna(v["hi"]):
        raise NotEnoughData("The store holds no orders in this scope, so there is no churn risk to show.")
    return _day(v["lo"]), _day(v["hi"])


def data_span(con: Any, *, region: str | None = None) -> tuple[date, date]:
    """Dates of the first and the latest order in the store (scoped to `region`)."""
    return _data_span(_tables(con, region))
