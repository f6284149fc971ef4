"""Churn labels at an as_of: the glossary's churn (docs/glossary.md)."""

from __future__ import annotations

from collections.abc import Iterable

import ibis
import ibis.expr.types as ir

from workbench.errors import WorkbenchError
from workbench.features._common import DateLike, _order_lines, _tables, _to_date
from workbench.features.snapshot import _KEYS, _cutoff_table, _population_at
from workbench.vocab import Scope

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
    return churn_label_sets(_tables(con, region, _to_date(as_of)), as_of=[_to_date(as_of)], horizon_days=horizon_days)


def churn_label_sets(tables: dict[str, ir.Table], *, as_of: Iterable[DateLike], horizon_days: int = 90) -> ir.Table:
    """:func:`churn_labels` at several dates in one expression: one row per (as_of, partner).

    tables: :func:`scoped_tables` output. Columns ``CHURN_LABEL_COLUMNS``, rows ordered by as_of,
    partner_id.
    """
    if int(horizon_days) <= 0:
        raise WorkbenchError(f"horizon_days must be a positive number of days, got {horizon_days!r}.")
    return _churn_labels_at(tables, as_of, int(horizon_days)).order_by(_KEYS)
