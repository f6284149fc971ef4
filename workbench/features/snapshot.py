"""The point-in-time partner snapshot: one row per partner at an as_of (docs/features.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.errors import WorkbenchError
from workbench.features._common import (
    DateLike,
    _add_months,
    _days,
    _f,
    _is_return,
    _lit_date,
    _month_start,
    _order_lines,
    _tables,
    _to_date,
)
from workbench.vocab import Scope

# --------------------------------------------------------------------------------------------
# partner snapshot
# --------------------------------------------------------------------------------------------

SNAPSHOT_COLUMNS: tuple[str, ...] = (
    "partner_id", "name", "region", "province", "city", "channel_type", "onboard_date", "as_of",
    "tenure_days", "last_order_date", "recency_days", "active_180d",
    "orders_90d", "orders_180d", "orders_365d", "order_lines_365d",
    "active_months_90d", "active_months_180d", "active_months_365d",
    "net_sales_90d_cny", "net_sales_180d_cny", "net_sales_365d_cny", "net_sales_prev_90d_cny",
    "sales_trend_90d_ratio", "sales_slope_6m_cny_per_month",
    "avg_order_value_365d_cny", "order_cycle_median_days", "overdue_ratio",
    "product_lines_365d", "gross_sales_365d_cny", "returns_365d_cny", "return_rate_365d",
    "discount_depth_365d",
    "satisfaction_last", "satisfaction_change", "days_since_survey",
    "trainings_365d", "training_pass_rate_365d",
    "conflicts_open", "conflicts_365d",
    "rebate_due_cny", "rebate_paid_cny", "rebate_shortfall_cny",
    "active_outlets", "actions_90d", "actions_365d",
)

_CUT_COLUMNS: tuple[str, ...] = ("as_of", "_b90", "_b180", "_b365", "_m_first", "_m_end", "_m_base", "_h_end")


def _cutoff_table(as_ofs: Iterable[DateLike], horizon_days: int = 0) -> ir.Table:
    """One row per distinct as_of with the window bounds of the point-in-time features (dates).

    _b90/_b180/_b365: as_of minus 90/180/365 days; _m_first/_m_end: first and last day of the
    last six complete calendar months (as_of's month counts when as_of is its last day), _m_base
    the first of them as year * 12 + month; _h_end: as_of + horizon_days (end of the label window).
    Computed in Python, so every backend sees plain dates.
    """
    rows = []
    for d in sorted({_to_date(a) for a in as_ofs}):
        last_month = _month_start(d) if (d + _days(1)).day == 1 else _add_months(d, -1)
        first_month = _add_months(last_month, -5)
        rows.append((
            d, d - _days(90), d - _days(180), d - _days(365), first_month,
            _add_months(last_month, 1) - _days(1), first_month.year * 12 + first_month.month,
            d + _days(int(horizon_days)),
        ))
    schema = {c: "date" for c in _CUT_COLUMNS} | {"_m_base": "int64"}
    return ibis.memtable(pd.DataFrame(rows, columns=list(_CUT_COLUMNS)), schema=schema)


def _population_at(partners: ir.Table, cuts: ir.Table) -> ir.Table:
    """Partners onboarded on or before each as_of of `cuts` and not exited on or before it, with as_of."""
    c = cuts.select("as_of")
    return partners.inner_join(
        c, [partners.onboard_date <= c.as_of, partners.exit_date.isnull() | (partners.exit_date > c.as_of)]
    )


_KEYS = ["as_of", "partner_id"]  # the key of every multi-date feature table


def _order_features(orders: ir.Table, cuts: ir.Table, *, lo: dt.date, hi: dt.date) -> list[ir.Table]:
    """Per (as_of, partner) order features at each as_of of `cuts` from order lines dated on or before it.

    ``lo`` / ``hi``: the earliest window start (min as_of − 365 days) and the latest as_of, as plain
    dates, so the scans of the lines are bounded by constants (a store keeps lines roughly in date
    order, so the engine skips the blocks outside the range) before the range join with `cuts`.

    Order days (distinct dates with a non-return line) in (lo, hi] carry the gap to the previous
    order day and whether they open a month; neither depends on as_of, so both are computed once
    before the range join. The previous order day of the first day after ``lo`` is the partner's
    last order day on or before ``lo`` (``_before``, one cheap maximum over the older history),
    which also stands in for ``last_order_date`` when a partner has no order day in (lo, as_of].
    Per as_of: counts, active months (a month counts when one of its order days in the window is
    its first, or follows an order day before the window) and the median gap of the order days in
    the last 365 days. Money and product-line breadth (a distinct count) come straight from the lines of the last 365
    days, in one aggregation.
    """
    lo_lit, hi_lit = _lit_date(lo), _lit_date(hi)
    lines = _order_lines(orders)
    nonret = lines.filter(~lines.is_return)
    before = (
        nonret.filter(nonret.order_date <= lo_lit)
        .group_by("partner_id")
        .aggregate(_before=nonret.order_date.max())
    )
    days = (
        nonret.filter(nonret.order_date > lo_lit, nonret.order_date <= hi_lit)
        .select("partner_id", "order_date")
        .distinct()
    )
    prev_in = days.order_date.lag().over(ibis.window(group_by="partner_id", order_by="order_date"))
    days = days.mutate(_prev_in=prev_in)
    days = days.left_join(before, "partner_id")
    prev = ibis.coalesce(days._prev_in, days._before)
    days = days.select(
        "partner_id", "order_date",
        _prev=prev,
        _gap=_f(days.order_date.delta(prev, unit="day")),
        _new_month=prev.isnull() | (prev.truncate("M") != days.order_date.truncate("M")),
    )
    c = cuts.select("as_of", "_b90", "_b180", "_b365")
    o = days.inner_join(c, days.order_date <= c.as_of)
    in365 = o.order_date > o._b365
    # the window's gaps as a column (Spark has no filtered percentile: median(where=...) fails there)
    o = o.mutate(_gap_365=ibis.ifelse(in365, o._gap, ibis.null("float64")))
    in365 = o.order_date > o._b365

    def months(lo: ir.Value) -> ir.IntegerValue:
        return ibis.ifelse((o.order_date > lo) & (o._new_month | (o._prev <= lo)), 1, 0).sum()

    hist = o.group_by(_KEYS).aggregate(
        last_order_date=o.order_date.max(),
        orders_90d=ibis.ifelse(o.order_date > o._b90, 1, 0).sum(),
        orders_180d=ibis.ifelse(o.order_date > o._b180, 1, 0).sum(),
        orders_365d=ibis.ifelse(in365, 1, 0).sum(),
        active_months_90d=months(o._b90),
        active_months_180d=months(o._b180),
        active_months_365d=months(o._b365),
        order_cycle_median_days=o._gap_365.median(),
    )

    lines = lines.filter(lines.order_date > lo_lit, lines.order_date <= hi_lit)
    r = lines.inner_join(cuts, [lines.order_date <= cuts.as_of, lines.order_date > cuts._b365])
    nr = ~r.is_return
    listed = nr & (r.list_amount_cny > 0)  # a missing list amount compares as null: not listed
    in90, in180 = r.order_date > r._b90, r.order_date > r._b180
    # the last 6 complete calendar months at as_of (as_of's month counts when as_of is its last day)
    in6m = (r.order_date >= r._m_first) & (r.order_date <= r._m_end)
    month_x = r.order_date.year() * 12 + r.order_date.month() - r._m_base  # 0..5
    slope_w = (_f(month_x) - 2.5) / 17.5  # OLS slope of y on x = 0..5: sum((x - 2.5) * y) / 17.5
    per_partner = r.group_by(_KEYS).aggregate(
        order_lines_365d=r.count(where=nr),
        net_sales_90d_cny=r.amount_cny.sum(where=in90),
        net_sales_180d_cny=r.amount_cny.sum(where=in180),
        net_sales_365d_cny=r.amount_cny.sum(),
        net_sales_prev_90d_cny=r.amount_cny.sum(where=in180 & ~in90),
        gross_sales_365d_cny=r.amount_cny.sum(where=nr),
        returns_365d_cny=-r.amount_cny.sum(where=r.is_return),  # returns are negative amounts
        _list_365=r.list_amount_cny.sum(where=listed),
        _net_listed_365=r.amount_cny.sum(where=listed),
        sales_slope_6m_cny_per_month=(r.amount_cny * slope_w).sum(where=in6m),
    )
    # product-line breadth straight from the orders table: a second consumer of `r` would make the
    # engine materialise the joined lines
    pl = orders.filter(orders.order_date > lo_lit, orders.order_date <= hi_lit, ~_is_return(orders))
    pl = pl.select("partner_id", "order_date", "product_line")
    k = cuts.select("as_of", "_b365")
    recent = pl.inner_join(k, [pl.order_date <= k.as_of, pl.order_date > k._b365])
    recent = recent.select("as_of", "partner_id", "product_line").distinct()
    breadth = recent.group_by(_KEYS).aggregate(product_lines_365d=recent.product_line.count())
    last_before = before.cross_join(cuts.select("as_of"))  # per (as_of, partner): the order day before lo
    return [hist, last_before, per_partner, breadth]


def _survey_features(surveys: ir.Table, cuts: ir.Table) -> ir.Table:
    c = cuts.select("as_of")
    s = surveys.inner_join(c, surveys.survey_date <= c.as_of)
    w = ibis.window(group_by=_KEYS, order_by=[ibis.desc("survey_date"), ibis.desc("survey_id")])
    s = s.mutate(_rn=ibis.row_number().over(w))
    return s.group_by(_KEYS).aggregate(
        satisfaction_last=_f(s.satisfaction).max(where=s._rn == 0),
        _satisfaction_prev=_f(s.satisfaction).max(where=s._rn == 1),
        _last_survey_date=s.survey_date.max(),
    )


def _training_features(trainings: ir.Table, cuts: ir.Table) -> ir.Table:
    c = cuts.select("as_of", "_b365")
    t = trainings.inner_join(c, [trainings.training_date <= c.as_of, trainings.training_date > c._b365])
    return t.group_by(_KEYS).aggregate(
        trainings_365d=t.count(),
        _passed_365d=ibis.ifelse(t.passed.fill_null(False), 1, 0).sum(),
    )


def _conflict_features(conflicts: ir.Table, cuts: ir.Table) -> ir.Table:
    k = cuts.select("as_of", "_b365")
    c = conflicts.inner_join(k, conflicts.reported_date <= k.as_of)
    open_ = c.resolved_date.isnull() | (c.resolved_date > c.as_of)
    return c.group_by(_KEYS).aggregate(
        conflicts_open=ibis.ifelse(open_, 1, 0).sum(),
        conflicts_365d=ibis.ifelse(c.reported_date > c._b365, 1, 0).sum(),
    )


def _paid_by(incentives: ir.Table, as_of: dt.date) -> ir.FloatingValue:
    """amount_paid as known at as_of: counted when paid_date is on/before as_of (or unrecorded)."""
    i = incentives
    known = i.paid_date.isnull() | (i.paid_date <= as_of)
    return ibis.ifelse(known, _f(i.amount_paid).fill_null(0.0), 0.0)


def _rebate_features(incentives: ir.Table, cuts: ir.Table) -> ir.Table:
    c = cuts.select("as_of")
    i = incentives.inner_join(c, incentives.period_end < c.as_of)
    i = i.mutate(_due=_f(i.amount_due), _paid=_paid_by(i, i.as_of))
    return i.group_by(_KEYS).aggregate(rebate_due_cny=i._due.sum(), rebate_paid_cny=i._paid.sum())


def _coverage_features(coverage: ir.Table, cuts: ir.Table) -> ir.Table:
    c = cuts.select("as_of")
    v = coverage.inner_join(c, coverage.month <= c.as_of)  # (partner_id, month) is the key: argmax is exact
    return v.group_by(_KEYS).aggregate(active_outlets=_f(v.active_outlets).argmax(v.month))


def _action_features(actions: ir.Table, cuts: ir.Table) -> ir.Table:
    c = cuts.select("as_of", "_b90", "_b365")
    a = actions.inner_join(c, [actions.action_date <= c.as_of, actions.action_date > c._b365])
    return a.group_by(_KEYS).aggregate(
        actions_90d=ibis.ifelse(a.action_date > a._b90, 1, 0).sum(),
        actions_365d=a.count(),
    )


def partner_snapshot(con: ibis.BaseBackend, *, as_of: DateLike, region: str | Scope | None = None) -> ir.Table:
    """One row per partner onboarded by ``as_of`` and not exited by it: point-in-time features.

    Reads only rows dated on or before ``as_of``. Columns (see docs/features.md for the glossary):
    ``SNAPSHOT_COLUMNS``. Days are calendar days, money in ``_cny``, rates are fractions; counts
    are 0 when there is nothing, ratios are null when undefined (e.g. no order yet).
    """
    return partner_snapshot_sets(_tables(con, region, _to_date(as_of)), as_of=[_to_date(as_of)])


def partner_snapshot_sets(tables: dict[str, ir.Table], *, as_of: Iterable[DateLike]) -> ir.Table:
    """:func:`partner_snapshot` at several dates in one expression: one row per (as_of, partner).

    The pair of :func:`churn_label_sets`; both take the dict of :func:`scoped_tables`, not a connection.

    tables: :func:`scoped_tables` output. Columns ``SNAPSHOT_COLUMNS``, rows ordered by as_of,
    partner_id. Each date reads only rows dated on or before it (a range join with a small table
    of the dates and their window bounds), so many dates cost one query, not one each.
    """
    t = tables
    dates = sorted({_to_date(a) for a in as_of})
    if not dates:
        raise WorkbenchError("as_of is empty: give at least one date like 2026-06-30.")
    cuts = _cutoff_table(dates)
    pop = _population_at(t["partners"], cuts)
    cols = ["partner_id", "name", "region", "province", "city", "channel_type", "onboard_date"]
    base = pop.select("as_of", *[c for c in cols if c in pop.columns])
    for c in cols:
        if c not in base.columns:
            base = base.mutate(**{c: ibis.null("string")})

    feats = _order_features(t["orders"], cuts, lo=dates[0] - _days(365), hi=dates[-1])
    makers = {
        "surveys": _survey_features,
        "trainings": _training_features,
        "conflicts": _conflict_features,
        "incentives": _rebate_features,
        "coverage": _coverage_features,
        "actions": _action_features,
    }
    for name, make in makers.items():
        if name in t:
            feats.append(make(t[name], cuts))
    j = base  # one join chain (no select between joins): a smaller plan that compiles faster
    for k, f in enumerate(feats):
        j = j.left_join(f, _KEYS, rname=f"{{name}}_r{k}")

    def col(name: str, default: Any = None) -> ir.Value:
        if name in j.columns:
            return j[name] if default is None else j[name].fill_null(default)
        return ibis.literal(default, type="float64") if default is not None else ibis.null("float64")

    def ratio(num: ir.Value, den: ir.Value) -> ir.Value:
        return ibis.ifelse(den > 0, _f(num) / _f(den), ibis.null("float64"))

    asof = j.as_of
    last_order = ibis.coalesce(j.last_order_date, j._before)
    recency = asof.delta(last_order, unit="day")
    net90, prev90 = col("net_sales_90d_cny", 0.0), col("net_sales_prev_90d_cny", 0.0)
    gross, rets = col("gross_sales_365d_cny", 0.0), col("returns_365d_cny", 0.0)
    due, paid = col("rebate_due_cny", 0.0), col("rebate_paid_cny", 0.0)
    last_survey = col("_last_survey_date")
    out = j.select(
        "partner_id", "name", "region", "province", "city", "channel_type", "onboard_date",
        as_of=asof,
        tenure_days=asof.delta(j.onboard_date, unit="day"),
        last_order_date=last_order,
        recency_days=recency,
        active_180d=recency.fill_null(10**9) < 180,
        orders_90d=col("orders_90d", 0).cast("int64"),
        orders_180d=col("orders_180d", 0).cast("int64"),
        orders_365d=col("orders_365d", 0).cast("int64"),
        order_lines_365d=col("order_lines_365d", 0).cast("int64"),
        active_months_90d=col("active_months_90d", 0).cast("int64"),
        active_months_180d=col("active_months_180d", 0).cast("int64"),
        active_months_365d=col("active_months_365d", 0).cast("int64"),
        net_sales_90d_cny=net90,
        net_sales_180d_cny=col("net_sales_180d_cny", 0.0),
        net_sales_365d_cny=col("net_sales_365d_cny", 0.0),
        net_sales_prev_90d_cny=prev90,
        sales_trend_90d_ratio=ratio(net90, prev90),
        sales_slope_6m_cny_per_month=col("sales_slope_6m_cny_per_month", 0.0),
        avg_order_value_365d_cny=ratio(gross, col("orders_365d", 0)),
        order_cycle_median_days=_f(j.order_cycle_median_days),
        overdue_ratio=ratio(recency, j.order_cycle_median_days),
        product_lines_365d=col("product_lines_365d", 0).cast("int64"),
        gross_sales_365d_cny=gross,
        returns_365d_cny=rets,
        return_rate_365d=ratio(rets, gross),
        discount_depth_365d=1.0 - ratio(col("_net_listed_365"), col("_list_365")),
        satisfaction_last=_f(col("satisfaction_last")),
        satisfaction_change=_f(col("satisfaction_last")) - _f(col("_satisfaction_prev")),
        days_since_survey=asof.delta(last_survey, unit="day") if "_last_survey_date" in j.columns
        else ibis.null("int64"),
        trainings_365d=col("trainings_365d", 0).cast("int64"),
        training_pass_rate_365d=ratio(col("_passed_365d", 0), col("trainings_365d", 0)),
        conflicts_open=col("conflicts_open", 0).cast("int64"),
        conflicts_365d=col("conflicts_365d", 0).cast("int64"),
        rebate_due_cny=due,
        rebate_paid_cny=paid,
        rebate_shortfall_cny=due - paid,
        active_outlets=_f(col("active_outlets")),
        actions_90d=col("actions_90d", 0).cast("int64"),
        actions_365d=col("actions_365d", 0).cast("int64"),
    )
    return out.order_by(_KEYS)


def partner_snapshots(tables: dict[str, ir.Table], *, as_of: Iterable[DateLike]) -> ir.Table:
    """Deprecated name of :func:`partner_snapshot_sets` (kept for callers not yet renamed)."""
    return partner_snapshot_sets(tables, as_of=as_of)
