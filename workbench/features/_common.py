"""Shared pieces of the feature layer: constants, date helpers, scoping and order lines."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.errors import WorkbenchError
from workbench.store import LOAD_ID, TABLES, cached_per_store, fingerprint, partners_at
from workbench.vocab import Quarter, QuarterLike, Scope

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


@cached_per_store(maxsize=32)
def _regions_at(con: ibis.BaseBackend, *, as_of: dt.date) -> tuple[str, ...]:
    """The regions partners had on `as_of` (partner_history), sorted; once per store contents and date."""
    regions = partners_at(con, con.table("partners"), as_of).select("region").distinct().to_pandas()["region"]
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
    # A page asks for the same scope several times (each job function scopes its own reads); building the
    # expressions costs a dozen catalogue queries and join constructions, so they are kept per connection,
    # scope and date while the store's file is unchanged (Ibis expressions are immutable; the dict is a copy).
    fp = fingerprint(con)
    scope = Scope.parse(region)
    if fp is None:
        return _scoped_tables(con, scope, as_of)
    # Kept on the connection object itself: Ibis backends compare equal (and hash alike) when they open the
    # same file, so a dict keyed by them would hand one connection's expressions to another, closed one.
    try:
        per_con = vars(con).setdefault("_wb_scoped_tables", {})
    except TypeError:  # a backend without instance attributes
        return _scoped_tables(con, scope, as_of)
    key = (fp, scope, as_of)
    if key not in per_con:
        while len(per_con) >= 8:  # keep one connection's cache small (older store versions, other scopes)
            per_con.pop(next(iter(per_con)))
        per_con[key] = _scoped_tables(con, scope, as_of)
    return dict(per_con[key])


def _scoped_tables(con: ibis.BaseBackend, scope: Scope, as_of: dt.date | None) -> dict[str, ir.Table]:
    """:func:`scoped_tables` built afresh."""
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
    scoped = not scope.is_all
    if scope.kind == "region":
        known = store_regions(con) if as_of is None else list(_regions_at(con, as_of=as_of))
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


def _tables(con: ibis.BaseBackend, region: str | Scope | None, as_of: dt.date | None = None) -> dict[str, ir.Table]:
    return scoped_tables(con, region, as_of=as_of)


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
