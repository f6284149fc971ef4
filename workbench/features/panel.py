"""The partner-month panel: one row per partner and calendar month, zeros filled."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.errors import WorkbenchError
from workbench.features._common import (
    ACTION_TYPES,
    DateLike,
    _add_months,
    _days,
    _f,
    _month_start,
    _order_lines,
    _tables,
    _to_date,
)
from workbench.vocab import Scope

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
    t = _tables(con, region, e)  # partners scoped by the attributes they had at the panel's end
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
