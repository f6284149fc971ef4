"""Quarter KPIs and their building blocks (docs/glossary.md): one implementation per KPI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.errors import WorkbenchError
from workbench.features._common import DateLike, _days, _f, _lit_date, _tables, _to_date
from workbench.features.panel import _months
from workbench.features.snapshot import _paid_by
from workbench.vocab import Quarter, QuarterLike, Scope

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
    # Partners are scoped and grouped by the region / channel type they had at the last quarter's end.
    t = tables if tables is not None else _tables(con, region, max(Quarter.parse(q) for q in quarters).end)
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
