"""Helpers shared by the segment modules: dates, the partner population at a date, the order window."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.errors import WorkbenchError


def _is_all(region: str | None) -> bool:
    """True when `region` means the whole network (None, "" or "all" in any case)."""
    return region is None or str(region).strip().lower() in ("", "all")


def _as_date(value: Any) -> date:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise WorkbenchError("as_of must be a date such as 2026-09-30.")
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(f"as_of '{value}' is not a date (use YYYY-MM-DD).") from exc


def _population(con: ibis.BaseBackend, as_of: date, region: str | None) -> ir.Table:
    """Partners onboarded by `as_of` and not exited by it, optionally in one region."""
    from workbench.store import partners_at

    p = partners_at(con, con.table("partners"), as_of)  # the region each partner had at as_of
    pop = p.filter(p.onboard_date <= as_of, p.exit_date.isnull() | (p.exit_date > as_of))
    if not _is_all(region):
        pop = pop.filter(pop.region == region)
    return pop


def _window_orders(con: ibis.BaseBackend, as_of: date, days: int) -> ir.Table:
    """Order lines dated in (as_of − days, as_of]."""
    o = con.table("orders")
    start = as_of - timedelta(days=days)
    return o.filter(o.order_date > start, o.order_date <= as_of)
