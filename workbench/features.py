"""Partner feature layer: point-in-time snapshots, partner-month panel, quarter KPIs, churn labels.

Every function builds an Ibis expression over the store's canonical tables, so the work runs where
the data lives (DuckDB by default; Spark, Trino, a warehouse … through another Ibis backend). Only
the small partner-level (or KPI-level) result comes back to pandas, via ``.to_pandas()``.

Definitions follow docs/glossary.md (columns: docs/features.md):

- an *order* is a partner's order day: the distinct dates with at least one non-return order line;
- a *return* is a line with ``is_return`` true or a negative ``net_amount``; returns count in net
  sales but never as activity;
- windows ``_90d`` / ``_180d`` / ``_365d`` are the N days ending on ``as_of`` inclusive
  (``as_of - N < date <= as_of``);
- money columns are in the store's currency (suffix ``_cny``), rates are fractions in [0, 1].

Point-in-time rule: a feature at ``as_of`` reads only rows dated on or before ``as_of``; labels
(:func:`churn_labels`) read the rows after it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.errors import WorkbenchError
from workbench.store import LOAD_ID, TABLES, cached_per_store, partners_at
from workbench.vocab import Quarter, QuarterLike, Scope

__all__ = [
    "PERSONAL_COLUMNS",
    "SNAPSHOT_COLUMNS",
    "PANEL_COLUMNS",
    "CHURN_LABEL_COLUMNS",
    "KPI_COLUMNS",
    "scoped_tables",
    "partner_snapshot",
    "partner_snapshot_sets",
    "churn_label_sets",
    "partner_month_panel",
    "quarter_kpis",
    "quarter_kpis_expr",
    "quarters_kpis",
    "quarters_kpis_expr",
    "quarters_concentration",
    "quarter_periods",
    "PERIOD_COLUMNS",
    "churn_labels",
    "quarter_bounds",
    "net_sales",
    "repeat_rate",
    "retention",
    "concentration",
    "rebate_shortfall",
    "satisfaction",
    "conflict_counts",
    "training_counts",
    "partner_counts",
    "churn_counts",
    "action_counts",
]

PERSONAL_COLUMNS: tuple[str, ...] = tuple(c.name for c in TABLES["partners"].columns if c.personal)
REQUIRED_TABLES: tuple[str, ...] = ("partners", "orders")
OPTIONAL_TABLES: tuple[str, ...] = ("incentives", "surveys", "trainings", "conflicts", "actions", "coverage")
ACTION_TYPES: tuple[str, ...] = (
    "training", "incentive", "marketing_automation", "tiering", "communication", "visit", "other",
)

DateLike = dt.date | str | pd.Timestamp

# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def _to_date(value: DateLike, what: str = "as_of") -> dt.date:
    """A Python date from a date, datetime, Timestamp or ISO string (one-sentence error otherwise)."""
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, pd.Period):
        return value.end_time.date()
    try:
        return pd.Timestamp(str(value)).date()
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(f"{what} must be a date like 2026-09-30, got {value!r}.") from exc


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def quarter_bounds(quarter: QuarterLike) -> tuple[dt.date, dt.date]:
    """First and last day (inclusive) of a calendar quarter written like ``2026Q3``."""
    q = Quarter.parse(quarter)
    return q.start, q.end


def _month_start(d: dt.date) -> dt.date:
    return d.replace(day=1)


def _add_months(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return dt.date(y, m + 1, 1)


def _lit_date(d: dt.date) -> ir.DateScalar:
    return ibis.literal(d, type="date")


def _f(x: ir.Value) -> ir.FloatingValue:
    return x.cast("float64")


# --------------------------------------------------------------------------------------------
# scoping
# --------------------------------------------------------------------------------------------


def store_regions(con: ibis.BaseBackend) -> list[str]:
    """The regions that have partners in the store, sorted (looked up once per store contents in a process)."""
    return list(_store_regions(con))


@cached_per_store(maxsize=8)
def _store_regions(con: ibis.BaseBackend) -> tuple[str, ...]:
    regions = con.table("partners").select("region").distinct().to_pandas()["region"]
    return tuple(sorted(regions.dropna().astype(str)))


def scoped_tables(con: ibis.BaseBackend, region: str | Scope | None = None, *,
                  as_of: dt.date | None = None) -> dict[str, ir.Table]:
    """Canonical tables restricted to one region's (or one manager's) partners, personal columns dropped.

    ``region=None`` or ``"all"`` keeps every region; a :class:`~workbench.vocab.Scope` of kind
    ``manager`` keeps the partners whose ``manager_id`` is its value. Child tables are semi-joined on partner_id;
    ``conflicts.counterparty_id`` is blanked when the counterparty is outside the region, so a
    region's data names no other region's partner. Optional tables missing from the backend are
    simply absent from the dict. ``as_of``: partners carry the region, channel type and manager they had
    on that date (store.partners_at), and the scope selects by those.
    """
    present = set(con.list_tables())
    missing = [t for t in REQUIRED_TABLES if t not in present]
    if missing:
        raise WorkbenchError(f"The store has no {missing[0]} table; ingest it or run `workbench demo` first.")
    partners = con.table("partners")
    drop = [c for c in (*PERSONAL_COLUMNS, LOAD_ID) if c in partners.columns]
    if drop:
        partners = partners.drop(*drop)
    if as_of is not None:
        partners = partners_at(con, partners, as_of)
    scope = Scope.parse(region)
    scoped = not scope.is_all
    if scope.kind == "region":
        known = store_regions(con) if as_of is None else sorted(partners.select("region").distinct().to_pandas()["region"].dropna())
        partners = partners.filter(partners.region == scope.region)
        if scope.region not in known:
            raise WorkbenchError(
                f"Region {scope.region!r} has no partners in the store; "
                f"known regions: {', '.join(known) or 'none'}."
            )
    elif scope.kind == "manager":
        if "manager_id" not in partners.columns:
            raise WorkbenchError("The store's partners have no manager_id column, so there is no manager scope.")
        partners = partners.filter(partners.manager_id.cast("string") == scope.manager)
    out: dict[str, ir.Table] = {"partners": partners}
    ids = partners.select("partner_id")
    for name in ("orders", *OPTIONAL_TABLES):
        if name not in present:
            continue
        t = con.table(name)
        if LOAD_ID in t.columns:
            t = t.drop(LOAD_ID)
        if scoped:
            t = t.semi_join(ids, "partner_id")
            if name == "conflicts" and "counterparty_id" in t.columns:
                inside = t.counterparty_id.isin(ids.partner_id)
                t = t.mutate(counterparty_id=ibis.ifelse(inside, t.counterparty_id, ibis.null("string")))
        out[name] = t
    return out


def _tables(con: ibis.BaseBackend, region: str | Scope | None) -> dict[str, ir.Table]:
    return scoped_tables(con, region)


def _is_return(orders: ir.Table) -> ir.BooleanValue:
    """A line is a return when is_return is true or its net amount is negative (glossary)."""
    return orders.is_return.fill_null(False) | (orders.net_amount < 0)


def _order_lines(orders: ir.Table) -> ir.Table:
    """Order lines with float amounts and a return flag (is_return, or a negative net amount)."""
    amount = _f(orders.net_amount)
    is_ret = _is_return(orders)
    return orders.select(
        "partner_id",
        "order_date",
        "product_line",
        amount_cny=amount,
        list_amount_cny=_f(orders.list_amount),
        is_return=is_ret,
    )


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
    return partner_snapshot_sets(_tables(con, region), as_of=[_to_date(as_of)])


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


# --------------------------------------------------------------------------------------------
# churn labels
# --------------------------------------------------------------------------------------------

CHURN_LABEL_COLUMNS: tuple[str, ...] = (
    "partner_id", "region", "channel_type", "as_of", "horizon_days",
    "last_order_date", "next_order_date", "churned",
)


def _churn_labels_at(t: dict[str, ir.Table], as_ofs: Iterable[DateLike], horizon_days: int) -> ir.Table:
    """Churn labels at every date of `as_ofs` (unordered): one range join of order lines with the dates."""
    cuts = _cutoff_table(as_ofs, horizon_days)
    pop = _population_at(t["partners"], cuts)
    lines = _order_lines(t["orders"])
    days = lines.filter(~lines.is_return).select("partner_id", "order_date").distinct()
    c = cuts.select("as_of", "_b180", "_h_end")
    o = days.inner_join(c, [days.order_date > c._b180, days.order_date <= c._h_end])
    agg = o.group_by(_KEYS).aggregate(
        last_order_date=o.order_date.max(where=o.order_date <= o.as_of),
        next_order_date=o.order_date.min(where=o.order_date > o.as_of),
    )
    j = pop.inner_join(agg, _KEYS)
    j = j.filter(j.last_order_date.notnull())
    return j.select(
        "partner_id", "region", "channel_type",
        as_of=j.as_of,
        horizon_days=ibis.literal(int(horizon_days), type="int64"),
        last_order_date=j.last_order_date,
        next_order_date=j.next_order_date,
        churned=j.next_order_date.isnull(),
    )


def churn_labels(
    con: ibis.BaseBackend, *, as_of: DateLike, horizon_days: int = 90, region: str | Scope | None = None
) -> ir.Table:
    """Churn labels at ``as_of``: one row per partner active in the 180 days up to it (glossary).

    Population: onboarded by as_of, not exited on or before as_of, with a non-return order in
    (as_of − 180 d, as_of]. ``churned`` is true when there is no non-return order in
    (as_of, as_of + horizon_days]; ``next_order_date`` is the first one in that window (else null).
    """
    return churn_label_sets(_tables(con, region), as_of=[_to_date(as_of)], horizon_days=horizon_days)


def churn_label_sets(tables: dict[str, ir.Table], *, as_of: Iterable[DateLike], horizon_days: int = 90) -> ir.Table:
    """:func:`churn_labels` at several dates in one expression: one row per (as_of, partner).

    tables: :func:`scoped_tables` output. Columns ``CHURN_LABEL_COLUMNS``, rows ordered by as_of,
    partner_id.
    """
    if int(horizon_days) <= 0:
        raise WorkbenchError(f"horizon_days must be a positive number of days, got {horizon_days!r}.")
    return _churn_labels_at(tables, as_of, int(horizon_days)).order_by(_KEYS)


# --------------------------------------------------------------------------------------------
# partner-month panel
# --------------------------------------------------------------------------------------------

PANEL_COLUMNS: tuple[str, ...] = (
    "partner_id", "region", "channel_type", "month", "tenure_months",
    "net_sales_cny", "gross_sales_cny", "returns_cny", "order_days", "order_lines", "is_active",
    "incentive_due_cny", "incentive_paid_cny", "actions",
    *(f"actions_{a}" for a in ACTION_TYPES),
)


def _months(start: dt.date, end: dt.date) -> list[dt.date]:
    out, m = [], _month_start(start)
    while m <= end:
        out.append(m)
        m = _add_months(m, 1)
    return out


def partner_month_panel(
    con: ibis.BaseBackend, *, start: DateLike, end: DateLike, region: str | Scope | None = None
) -> ir.Table:
    """Partner × calendar-month panel from ``start``'s month to ``end``'s month, zeros filled.

    A partner has a row for every month from its onboarding month until its exit month.
    ``month`` is the month's first day. Money in ``_cny``; incentives due by period_end month,
    paid by paid_date month (period_end month when paid_date is missing); actions by action_date.
    """
    s, e = _to_date(start, "start"), _to_date(end, "end")
    if e < s:
        raise WorkbenchError(f"end ({e}) is before start ({s}).")
    months = _months(s, e)
    t = _tables(con, region)
    m = ibis.memtable(pd.DataFrame({"month": pd.to_datetime(months)}), schema={"month": "date"})
    p = t["partners"].select("partner_id", "region", "channel_type", "onboard_date", "exit_date")
    grid = p.cross_join(m)
    next_month = grid.month.truncate("M") + ibis.interval(months=1)
    grid = grid.filter(
        grid.onboard_date < next_month.cast("date"),
        grid.exit_date.isnull() | (grid.exit_date >= grid.month),
    )
    lo, hi = months[0], _add_months(months[-1], 1) - _days(1)

    lines = _order_lines(t["orders"])
    o = lines.filter(lines.order_date >= lo, lines.order_date <= hi)
    o = o.mutate(month=o.order_date.truncate("M"))
    nr = ~o.is_return
    oagg = o.group_by(["partner_id", "month"]).aggregate(
        net_sales_cny=o.amount_cny.sum(),
        gross_sales_cny=o.amount_cny.sum(where=nr),
        returns_cny=(-o.amount_cny).sum(where=o.is_return),
        order_days=o.order_date.nunique(where=nr),
        order_lines=ibis.ifelse(nr, 1, 0).sum(),
    )
    aggs = [oagg]
    if "incentives" in t:
        i = t["incentives"]
        due = i.filter(i.period_end >= lo, i.period_end <= hi)
        due = due.group_by(["partner_id", due.period_end.truncate("M").name("month")]).aggregate(
            incentive_due_cny=_f(due.amount_due).sum()
        )
        paid_on = ibis.coalesce(i.paid_date, i.period_end)
        pi = i.mutate(_paid_on=paid_on).filter(lambda x: (x._paid_on >= lo) & (x._paid_on <= hi))
        paid = pi.group_by(["partner_id", pi._paid_on.truncate("M").name("month")]).aggregate(
            incentive_paid_cny=_f(pi.amount_paid).fill_null(0.0).sum()
        )
        aggs += [due, paid]
    if "actions" in t:
        a = t["actions"].filter(lambda x: (x.action_date >= lo) & (x.action_date <= hi))
        aggs.append(
            a.group_by(["partner_id", a.action_date.truncate("M").name("month")]).aggregate(
                actions=a.count(),
                **{f"actions_{k}": ibis.ifelse(a.action_type == k, 1, 0).sum() for k in ACTION_TYPES},
            )
        )
    j = grid
    for agg in aggs:
        j = j.left_join(agg, ["partner_id", "month"])
        j = j.drop(*[c for c in ("partner_id_right", "month_right") if c in j.columns])

    def num(name: str, kind: str) -> ir.Value:
        if name in j.columns:
            return j[name].fill_null(0).cast(kind)
        return ibis.literal(0, type=kind)

    tenure = (j.month.year() * 12 + j.month.month()) - (j.onboard_date.year() * 12 + j.onboard_date.month())
    out = j.select(
        "partner_id", "region", "channel_type", "month",
        tenure_months=tenure.cast("int64"),
        net_sales_cny=num("net_sales_cny", "float64"),
        gross_sales_cny=num("gross_sales_cny", "float64"),
        returns_cny=num("returns_cny", "float64"),
        order_days=num("order_days", "int64"),
        order_lines=num("order_lines", "int64"),
        is_active=num("order_days", "int64") > 0,
        incentive_due_cny=num("incentive_due_cny", "float64"),
        incentive_paid_cny=num("incentive_paid_cny", "float64"),
        actions=num("actions", "int64"),
        **{f"actions_{k}": num(f"actions_{k}", "int64") for k in ACTION_TYPES},
    )
    return out.order_by(["partner_id", "month"])


# --------------------------------------------------------------------------------------------
# named KPI functions: Table in (with a group column when `by` is given), Table out
# --------------------------------------------------------------------------------------------


def _by(by: Sequence[str] | str | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _grouped(t: ir.Table, by: Sequence[str] | str | None, **aggs: Any) -> ir.Table:
    keys = _by(by)
    return t.group_by(keys).aggregate(**aggs) if keys else t.aggregate(**aggs)


# Each KPI has one implementation, a private block that works for one window or for many periods at
# once. A window bound is a date (one window for every row) or the name of a date column of the input
# table (each row carries its own period's bounds, from ``quarter_periods`` joined in); ``period``
# names the period key column, which then leads the grouping. The public functions are the
# one-window case; ``quarters_kpis_expr`` is the many-periods one.

Bound = dt.date | str


def _at(t: ir.Table, bound: Bound) -> ir.Value:
    """A window bound as a value of `t`: a date literal, or `t`'s date column of that name."""
    return t[bound] if isinstance(bound, str) else _lit_date(bound)


def _keys(by: Sequence[str] | str | None, period: str | None) -> list[str]:
    """Grouping keys: the period key column (if any), then the `by` columns."""
    return ([period] if period else []) + _by(by)


def _between(t: ir.Table, col: str, start: Bound, end: Bound) -> ir.Table:
    """Rows of `t` whose date column `col` lies in [start, end]."""
    return t.filter(t[col] >= _at(t, start), t[col] <= _at(t, end))


def _left_on(left: ir.Table, right: ir.Table, on: list[str]) -> ir.Table:
    """Left join on the `on` columns, keeping one copy of each."""
    j = left.left_join(right, on)
    dup = [f"{c}_right" for c in on if f"{c}_right" in j.columns]
    return j.drop(*dup) if dup else j


def _lines(orders: ir.Table) -> ir.Table:
    """Order lines with a float amount ``_amount`` (CNY) and a return flag ``_ret`` (is_return or amount < 0)."""
    amount = _f(orders.net_amount)
    return orders.mutate(_amount=amount, _ret=orders.is_return.fill_null(False) | (amount < 0))


def _span(start: DateLike, end: DateLike) -> tuple[dt.date, dt.date]:
    return _to_date(start, "start"), _to_date(end, "end")


def _net_sales(lines: ir.Table, *, start: Bound, end: Bound, months: int | str, by=None,
               period: str | None = None) -> ir.Table:
    """Net sales and monthly sales (CNY) of :func:`_lines` rows in [start, end]; `months` a count or column."""
    o = _between(lines, "order_date", start, end)
    keys = _keys(by, period)
    aggs: dict[str, ir.Value] = {"net_sales_cny": o._amount.sum()}
    if isinstance(months, str):
        aggs["_months"] = o[months].max()  # constant within a period
    t = _grouped(o, keys, **aggs)
    t = t.mutate(monthly_sales_cny=t.net_sales_cny / (t._months if isinstance(months, str) else months))
    return t.drop("_months") if isinstance(months, str) else t


def net_sales(orders: ir.Table, *, start: DateLike, end: DateLike, by=None) -> ir.Table:
    """Net sales (returns netted) in [start, end] and monthly sales = net sales / months covered, in CNY."""
    s, e = _span(start, end)
    return _net_sales(_lines(orders), start=s, end=e, months=len(_months(s, e)), by=by)


def _repeat_rate(lines: ir.Table, *, start: Bound, end: Bound, by=None, period: str | None = None) -> ir.Table:
    o = _between(lines, "order_date", start, end)
    o = o.filter(~o._ret)
    keys = _keys(by, period)
    days = o.group_by(["partner_id", *keys]).aggregate(_n_days=o.order_date.nunique())
    t = _grouped(
        days, keys,
        active_partners=days.count(),
        repeat_partners=ibis.ifelse(days._n_days >= 2, 1, 0).sum(),
    )
    return t.mutate(repeat_rate=ibis.ifelse(t.active_partners > 0, _f(t.repeat_partners) / t.active_partners, None))


def repeat_rate(orders: ir.Table, *, start: DateLike, end: DateLike, by=None) -> ir.Table:
    """Active partners in [start, end] and the share of them ordering on >= 2 distinct days (返单率)."""
    s, e = _span(start, end)
    return _repeat_rate(_lines(orders), start=s, end=e, by=by)


def _retention(lines: ir.Table, *, start: Bound, end: Bound, prev_start: Bound, prev_end: Bound, by=None,
               period: str | None = None) -> ir.Table:
    keys = _keys(by, period)
    per = _keys(None, period)
    cur = _between(lines, "order_date", start, end)
    cur = cur.filter(~cur._ret).select("partner_id", *per).distinct().mutate(_again=ibis.literal(1))
    prev = _between(lines, "order_date", prev_start, prev_end)
    prev = prev.filter(~prev._ret).select("partner_id", *keys).distinct()
    j = _left_on(prev, cur, ["partner_id", *per])
    t = _grouped(j, keys, prev_active_partners=j.count(), retained_partners=j._again.fill_null(0).sum())
    return t.mutate(
        retention_rate=ibis.ifelse(
            t.prev_active_partners > 0, _f(t.retained_partners) / t.prev_active_partners, None
        )
    )


def retention(
    orders: ir.Table, *, start: DateLike, end: DateLike, prev_start: DateLike, prev_end: DateLike, by=None
) -> ir.Table:
    """Share of partners active in [prev_start, prev_end] that are active again in [start, end]."""
    s, e = _span(start, end)
    ps, pe = _to_date(prev_start, "prev_start"), _to_date(prev_end, "prev_end")
    return _retention(_lines(orders), start=s, end=e, prev_start=ps, prev_end=pe, by=by)


def _concentration(lines: ir.Table, *, start: Bound, end: Bound, by=None, period: str | None = None) -> ir.Table:
    keys = _keys(by, period)
    o = _between(lines, "order_date", start, end)
    per = o.group_by(["partner_id", *keys]).aggregate(_net=o._amount.sum())
    per = per.filter(per._net > 0)
    w = ibis.window(group_by=keys or None, order_by=[ibis.desc("_net"), "partner_id"])
    per = per.mutate(_rank=ibis.row_number().over(w))
    t = _grouped(
        per, keys,
        _total=per._net.sum(),
        _top1=per._net.sum(where=per._rank == 0),
        _top5=per._net.sum(where=per._rank < 5),
        _sq=(per._net * per._net).sum(),
        partners_with_sales=per.count(),
    )
    ok = t._total > 0
    return t.select(
        *keys,
        "partners_with_sales",
        top1_share=ibis.ifelse(ok, t._top1 / t._total, None),
        top5_share=ibis.ifelse(ok, t._top5 / t._total, None),
        hhi=ibis.ifelse(ok, t._sq / (t._total * t._total), None),
    )


def concentration(orders: ir.Table, *, start: DateLike, end: DateLike, by=None) -> ir.Table:
    """Top-1 and top-5 partners' share of net sales in [start, end], and HHI (sum of squared shares, 0–1).

    Shares are over partners with positive net sales in the period.
    """
    s, e = _span(start, end)
    return _concentration(_lines(orders), start=s, end=e, by=by)


def rebate_shortfall(incentives: ir.Table, *, as_of: DateLike, by=None) -> ir.Table:
    """Rebate due, paid and shortfall (due − paid) in CNY on ledger rows past period_end at as_of.

    Rows count when period_end < as_of; a payment counts when its paid_date is on or before as_of
    (or unrecorded). The result is the outstanding balance at as_of, summed over ledger history.
    """
    return _rebate_shortfall(incentives, as_of=_to_date(as_of), by=by)


def _rebate_shortfall(incentives: ir.Table, *, as_of: Bound, by=None, period: str | None = None) -> ir.Table:
    i = incentives.filter(incentives.period_end < _at(incentives, as_of))
    i = i.mutate(_due=_f(i.amount_due), _paid=_paid_by(i, _at(i, as_of)))
    t = _grouped(i, _keys(by, period), rebate_due_cny=i._due.sum(), rebate_paid_cny=i._paid.sum())
    t = t.mutate(rebate_due_cny=t.rebate_due_cny.fill_null(0.0), rebate_paid_cny=t.rebate_paid_cny.fill_null(0.0))
    return t.mutate(rebate_shortfall_cny=t.rebate_due_cny - t.rebate_paid_cny)


def _satisfaction(surveys: ir.Table, *, start: Bound, end: Bound, by=None, period: str | None = None) -> ir.Table:
    v = _between(surveys, "survey_date", start, end)
    return _grouped(v, _keys(by, period), satisfaction_mean=_f(v.satisfaction).mean(), survey_responses=v.count())


def satisfaction(surveys: ir.Table, *, start: DateLike, end: DateLike, by=None) -> ir.Table:
    """Mean survey satisfaction (0–100) over surveys dated in [start, end] (满意度), and their count."""
    s, e = _span(start, end)
    return _satisfaction(surveys, start=s, end=e, by=by)


def _conflict_counts(conflicts: ir.Table, *, start: Bound, end: Bound, by=None,
                     period: str | None = None) -> ir.Table:
    c = conflicts
    s, e = _at(c, start), _at(c, end)
    opened = (c.reported_date >= s) & (c.reported_date <= e)
    resolved = c.resolved_date.notnull() & (c.resolved_date >= s) & (c.resolved_date <= e)
    c = c.filter(opened | resolved)
    return _grouped(
        c, _keys(by, period),
        conflicts_opened=ibis.ifelse(opened, 1, 0).sum(),
        conflicts_resolved=ibis.ifelse(resolved, 1, 0).sum(),
    )


def conflict_counts(conflicts: ir.Table, *, start: DateLike, end: DateLike, by=None) -> ir.Table:
    """Conflicts reported in [start, end] and conflicts resolved in it (whenever reported)."""
    s, e = _span(start, end)
    return _conflict_counts(conflicts, start=s, end=e, by=by)


def _training_counts(trainings: ir.Table, *, start: Bound, end: Bound, by=None,
                     period: str | None = None) -> ir.Table:
    t = _between(trainings, "training_date", start, end)
    g = _grouped(t, _keys(by, period), trainings=t.count(),
                 trainings_passed=ibis.ifelse(t.passed.fill_null(False), 1, 0).sum())
    return g.mutate(training_pass_rate=ibis.ifelse(g.trainings > 0, _f(g.trainings_passed) / g.trainings, None))


def training_counts(trainings: ir.Table, *, start: DateLike, end: DateLike, by=None) -> ir.Table:
    """Trainings dated in [start, end], how many were passed, and the pass rate."""
    s, e = _span(start, end)
    return _training_counts(trainings, start=s, end=e, by=by)


def _action_counts(actions: ir.Table, *, start: Bound, end: Bound, by=None, period: str | None = None) -> ir.Table:
    a = _between(actions, "action_date", start, end)
    return _grouped(a, _keys(by, period), actions=a.count())


def action_counts(actions: ir.Table, *, start: DateLike, end: DateLike, by=None) -> ir.Table:
    """Maintenance actions dated in [start, end]."""
    s, e = _span(start, end)
    return _action_counts(actions, start=s, end=e, by=by)


def _partner_counts(partners: ir.Table, *, start: Bound, end: Bound, by=None,
                    period: str | None = None) -> ir.Table:
    p = partners
    s, e = _at(p, start), _at(p, end)
    on_books = (p.onboard_date <= e) & (p.exit_date.isnull() | (p.exit_date > e))
    new = (p.onboard_date >= s) & (p.onboard_date <= e)
    exited = p.exit_date.notnull() & (p.exit_date >= s) & (p.exit_date <= e)
    return _grouped(
        p, _keys(by, period),
        partners_on_books=ibis.ifelse(on_books, 1, 0).sum(),
        new_partners=ibis.ifelse(new, 1, 0).sum(),
        exited_partners=ibis.ifelse(exited, 1, 0).sum(),
    )


def partner_counts(partners: ir.Table, *, start: DateLike, end: DateLike, by=None) -> ir.Table:
    """Partners on the books at ``end``, partners onboarded in [start, end] and partners exited in it."""
    s, e = _span(start, end)
    return _partner_counts(partners, start=s, end=e, by=by)


def _churn_counts(labels: ir.Table, *, by=None, period: str | None = None) -> ir.Table:
    t = _grouped(labels, _keys(by, period), churn_population=labels.count(),
                 churned_partners=ibis.ifelse(labels.churned, 1, 0).sum())
    return t.mutate(churn_rate=ibis.ifelse(t.churn_population > 0, _f(t.churned_partners) / t.churn_population, None))


def churn_counts(labels: ir.Table, *, by=None) -> ir.Table:
    """Churn population, churned partners and churn rate from a :func:`churn_labels`-shaped table."""
    return _churn_counts(labels, by=by)


# --------------------------------------------------------------------------------------------
# quarter KPIs
# --------------------------------------------------------------------------------------------

KPI_COLUMNS: tuple[str, ...] = (
    "quarter",
    "net_sales_cny", "monthly_sales_cny",
    "active_partners", "repeat_partners", "repeat_rate",
    "prev_active_partners", "retained_partners", "retention_rate",
    "partners_on_books", "new_partners", "exited_partners",
    "churn_population", "churned_partners", "churn_rate",
    "satisfaction_mean", "survey_responses",
    "partners_with_sales", "top1_share", "top5_share", "hhi",
    "rebate_due_cny", "rebate_paid_cny", "rebate_shortfall_cny",
    "conflicts_opened", "conflicts_resolved",
    "trainings", "trainings_passed", "training_pass_rate",
    "actions",
)
_COUNT_KPIS = {
    "active_partners", "repeat_partners", "prev_active_partners", "retained_partners", "partners_on_books",
    "new_partners", "exited_partners", "churn_population", "churned_partners", "survey_responses",
    "partners_with_sales", "conflicts_opened", "conflicts_resolved", "trainings", "trainings_passed", "actions",
}
_MONEY_KPIS = {"net_sales_cny", "monthly_sales_cny", "rebate_due_cny", "rebate_paid_cny", "rebate_shortfall_cny"}
BY_CHOICES = ("region", "channel_type", "tier")


def quarter_kpis_expr(
    con: ibis.BaseBackend,
    *,
    quarter: QuarterLike,
    by: str | None = None,
    region: str | Scope | None = None,
    tiers: pd.DataFrame | ir.Table | None = None,
) -> ir.Table:
    """The glossary's quarter KPIs as one Ibis expression (one row, or one row per ``by`` group).

    The one-quarter case of :func:`quarters_kpis_expr` (same columns and rows).
    """
    return quarters_kpis_expr(con, quarters=[quarter], by=by, region=region, tiers=tiers)


def quarter_kpis(
    con: ibis.BaseBackend,
    *,
    quarter: QuarterLike,
    by: str | None = None,
    region: str | Scope | None = None,
    tiers: pd.DataFrame | ir.Table | None = None,
) -> pd.DataFrame:
    """The glossary's KPIs for one calendar quarter, overall or by region / channel_type / tier.

    Returns a small pandas DataFrame: one row (``by=None``) or one row per group, columns
    ``quarter``, the ``by`` column, then ``KPI_COLUMNS``. Money in CNY; rates and shares are
    fractions; HHI is the sum of squared net-sales shares (0–1). Churned partners are those active
    in the 180 days before the quarter with no non-return order during it. Rebate columns are the
    outstanding balance at the quarter's end (ledger rows whose period ended before its last day
    is over, payments dated by then). ``tiers`` (partner_id → tier) enables ``by="tier"``.
    For several quarters use :func:`quarters_kpis` (one query instead of one per quarter).
    """
    return quarter_kpis_expr(con, quarter=quarter, by=by, region=region, tiers=tiers).to_pandas()


PERIOD_COLUMNS: tuple[str, ...] = ("quarter", "q_start", "q_end", "prev_start", "prev_end", "n_months", "window_start")


def quarter_periods(quarters: Sequence[QuarterLike]) -> ir.Table:
    """The periods table of `quarters` (deduplicated, in order): one row per quarter.

    Columns ``PERIOD_COLUMNS``: quarter ('2026Q3'), its first and last day (q_start, q_end), the
    previous quarter's (prev_start, prev_end), n_months (3) and window_start = prev_end − 179 days,
    the first day any of the quarter's KPIs reads (the churn population's 180-day activity window).
    """
    qs = sorted({Quarter.parse(q) for q in quarters})
    if not qs:
        raise WorkbenchError("quarters is empty: give at least one quarter like 2026Q3.")
    rows = []
    for q in qs:
        s, e, ps, pe = q.start, q.end, q.prev().start, q.prev().end
        rows.append({"quarter": str(q), "q_start": s, "q_end": e, "prev_start": ps, "prev_end": pe,
                     "n_months": len(_months(s, e)), "window_start": pe - _days(179)})
    frame = pd.DataFrame(rows)
    for c in ("q_start", "q_end", "prev_start", "prev_end", "window_start"):
        frame[c] = pd.to_datetime(frame[c])
    schema = {"quarter": "string", "q_start": "date", "q_end": "date", "prev_start": "date", "prev_end": "date",
              "n_months": "int64", "window_start": "date"}
    return ibis.memtable(frame, schema=schema)


def _tagged(t: ir.Table, periods: ir.Table, col: str | None = None, lo: str = "q_start",
            hi: str = "q_end") -> ir.Table:
    """Rows of `t` once per period, with the period's columns: those whose date `col` lies in
    [period[lo], period[hi]], or every row for every period when `col` is None."""
    if col is None:
        return t.cross_join(periods)
    return t.inner_join(periods, [t[col] >= periods[lo], t[col] <= periods[hi]])


def _kpi_groups(partners: ir.Table, periods: ir.Table, by: str | None,
                tiers: pd.DataFrame | ir.Table | None) -> tuple[ir.Table, str]:
    """(quarter, partner_id, group key) of every partner for every period, and the key's name.

    The key is "group" ('all') for ``by=None``, else the `by` column; tiers come from `tiers`
    (partner_id, tier and optionally quarter: without it the same tiers hold in every quarter),
    'unassigned' for a partner without one.
    """
    quarters = periods.select("quarter")
    if by is None:
        return partners.select("partner_id", group=ibis.literal("all")).cross_join(quarters), "group"
    if by != "tier":
        return partners.select("partner_id", by).cross_join(quarters), by
    if tiers is None:
        raise WorkbenchError("by='tier' needs tiers=: a table of partner_id and tier from workbench.segment.")
    if isinstance(tiers, pd.DataFrame):
        cols = [c for c in ("quarter", "partner_id", "tier") if c in tiers.columns]
        frame = tiers[cols]
        if "quarter" in cols:
            frame = frame.assign(quarter=frame["quarter"].astype(str))
        tt = ibis.memtable(frame, schema={c: "string" for c in cols}) if frame.empty else ibis.memtable(frame)
    else:
        tt = tiers
    on = ["partner_id", "quarter"] if "quarter" in tt.columns else ["partner_id"]
    tt = tt.select(*[tt[c].cast("string").name(c) for c in on], tier=tt.tier.cast("string"))
    j = _left_on(partners.select("partner_id").cross_join(quarters), tt, on)
    return j.select("partner_id", "quarter", tier=j.tier.fill_null("unassigned")), "tier"


def _churn_label_periods(partners: ir.Table, lines: ir.Table) -> ir.Table:
    """Each period's churn labels (partner_id, quarter, churned) at its prev_end, horizon to its q_end.

    `lines`: :func:`_lines` rows tagged with their periods over [window_start, q_end]. Same rule as
    :func:`churn_labels`: in the population at prev_end with a non-return order in the 180 days up
    to it; churned when no non-return order follows up to q_end.
    """
    pop = partners.filter(partners.onboard_date <= partners.prev_end,
                          partners.exit_date.isnull() | (partners.exit_date > partners.prev_end))
    o = lines.filter(~lines._ret)
    agg = o.group_by(["partner_id", "quarter"]).aggregate(
        last_order_date=o.order_date.max(where=o.order_date <= o.prev_end),
        next_order_date=o.order_date.min(where=o.order_date > o.prev_end),
    )
    j = pop.select("partner_id", "quarter").inner_join(agg, ["partner_id", "quarter"])
    j = j.filter(j.last_order_date.notnull())
    return j.select("partner_id", "quarter", churned=j.next_order_date.isnull())


def quarters_kpis_expr(
    con: ibis.BaseBackend | None,
    *,
    quarters: Sequence[QuarterLike],
    by: str | None = None,
    region: str | Scope | None = None,
    tiers: pd.DataFrame | ir.Table | None = None,
    tables: dict[str, ir.Table] | None = None,
) -> ir.Table:
    """The glossary's quarter KPIs of several quarters as one Ibis expression.

    The facts are joined to the periods table (:func:`quarter_periods`) on their dates, so an order
    line counts in every period whose window holds it (its quarter, the next quarter's retention
    base, the churn activity windows), and every KPI is grouped by quarter. Rows: one per quarter
    (and ``by`` group), ordered by quarter then group; columns as :func:`quarter_kpis`. With
    ``by="tier"``, `tiers` holds quarter, partner_id and tier (each quarter's own tiering); without
    a quarter column the same tiers hold in every quarter. `tables`: already scoped tables
    (:func:`scoped_tables`) to read instead of `con` and `region`.
    """
    periods = quarter_periods(quarters)
    if by is not None and by not in BY_CHOICES:
        raise WorkbenchError(f"by must be one of {', '.join(BY_CHOICES)} or None, got {by!r}.")
    t = tables if tables is not None else _tables(con, region)
    partners = t["partners"]
    groups, key = _kpi_groups(partners, periods, by, tiers)

    def keyed(tab: ir.Table) -> ir.Table:
        if key in tab.columns:
            tab = tab.drop(key)
        return _left_on(tab, groups, ["partner_id", "quarter"])

    lines = _tagged(_lines(t["orders"]), periods, "order_date", lo="window_start")
    orders = keyed(lines)
    span: dict[str, Any] = {"start": "q_start", "end": "q_end", "by": key, "period": "quarter"}
    kw: dict[str, Any] = {"by": key, "period": "quarter"}
    parts = [
        _net_sales(orders, **span, months="n_months"),
        _repeat_rate(orders, **span),
        _retention(orders, **span, prev_start="prev_start", prev_end="prev_end"),
        _partner_counts(keyed(_tagged(partners, periods)), **span),
        _churn_counts(keyed(_churn_label_periods(_tagged(partners, periods), lines)), **kw),
        _concentration(orders, **span),
    ]
    if "surveys" in t:
        parts.append(_satisfaction(keyed(_tagged(t["surveys"], periods, "survey_date")), **span))
    if "incentives" in t:
        parts.append(_rebate_shortfall(keyed(_tagged(t["incentives"], periods)), as_of="q_end", **kw))
    if "conflicts" in t:
        parts.append(_conflict_counts(keyed(_tagged(t["conflicts"], periods)), **span))
    if "trainings" in t:
        parts.append(_training_counts(keyed(_tagged(t["trainings"], periods, "training_date")), **span))
    if "actions" in t:
        parts.append(_action_counts(keyed(_tagged(t["actions"], periods, "action_date")), **span))

    out = groups.select("quarter", key).distinct()
    for k, part in enumerate(parts):  # one join chain (no select between joins): smaller SQL, faster compile
        out = out.left_join(part, ["quarter", key], rname=f"{{name}}_r{k}")
    sel: dict[str, ir.Value] = {"quarter": out.quarter}
    if by is not None:
        sel[by] = out[by]
    for c in KPI_COLUMNS[1:]:
        if c in out.columns:
            v = out[c]
            if c in _COUNT_KPIS:
                v = v.fill_null(0).cast("int64")
            elif c in _MONEY_KPIS:
                v = _f(v).fill_null(0.0)
            else:
                v = _f(v)
        else:
            v = ibis.literal(0, type="int64") if c in _COUNT_KPIS else ibis.null("float64")
        sel[c] = v
    return out.select(**sel).order_by(["quarter", by] if by is not None else ["quarter"])


def quarters_kpis(
    con: ibis.BaseBackend | None,
    *,
    quarters: Sequence[QuarterLike],
    by: str | None = None,
    region: str | Scope | None = None,
    tiers: pd.DataFrame | ir.Table | None = None,
    tables: dict[str, ir.Table] | None = None,
) -> pd.DataFrame:
    """The glossary's KPIs of several calendar quarters in one query: :func:`quarter_kpis` per quarter, stacked.

    One row per quarter (and ``by`` group), ordered by quarter then group; columns ``quarter``, the
    ``by`` column, then ``KPI_COLUMNS`` (units as :func:`quarter_kpis`). For ``by="tier"``, `tiers`
    has columns quarter, partner_id, tier (each quarter's tiers, e.g. at its last day); `tables`
    are already scoped tables (:func:`scoped_tables`) that replace `con` and `region`.
    """
    return quarters_kpis_expr(con, quarters=quarters, by=by, region=region, tiers=tiers, tables=tables).to_pandas()


def quarters_concentration(orders: ir.Table, *, quarters: Sequence[QuarterLike], by=None) -> ir.Table:
    """:func:`concentration` of each quarter in `quarters`: quarter, the `by` columns, partners_with_sales,
    top1_share, top5_share, hhi (shares 0–1), ordered by quarter. A quarter without positive net sales has no row."""
    lines = _tagged(_lines(orders), quarter_periods(quarters), "order_date")
    return _concentration(lines, start="q_start", end="q_end", by=by, period="quarter").order_by(_keys(by, "quarter"))
