"""Rebate audit: recompute every ledger row with the exact payout engine and classify it, never netting.

A ledger row (table ``incentives``: partner_id, program, period_start, period_end, amount_due,
amount_paid, paid_date) is recomputed from the program file whose ``name`` equals its ``program`` and the
partner's orders in period_start..period_end (net of returns). Money is in the store's currency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import ConfigError, NotEnoughData, WorkbenchError
from workbench.incentives import Program, compute_payouts, load_program
from workbench.incentives.data import partner_attributes

__all__ = [
    "STATUSES",
    "audit_ledger",
    "audit_store",
    "audit_to_date",
    "classify",
    "load_programs",
    "period_sales",
    "recompute",
    "shortfall_kpis",
    "totals",
]

# Status codes, in precedence order (workbench.present.rebates words them).
STATUSES: tuple[str, ...] = ("due_misstated", "unpaid_overdue", "pending", "underpaid", "overpaid", "ok")
CENT = 0.01
DEFAULT_DELAY_DAYS = Program(name="default").payment_delay_days


SALES_COLUMNS = ("net_sales_cny", "last_year_sales_cny", "orders_counted", "returns_counted")


def load_programs(folder: str | Path) -> dict[str, Program]:
    """Program name → Program for every ``*.yaml`` in `folder` (a malformed file raises one ConfigError)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: the programs folder does not exist.")
    programs: dict[str, Program] = {}
    for path in sorted(folder.glob("*.y*ml")):
        program = load_program(path)
        if program.name in programs:
            raise ConfigError(f"{path}: name '{program.name}' is also used by another program file in {folder}.")
        programs[program.name] = program
    return programs


def period_sales(con: Any, ledger: pd.DataFrame) -> pd.DataFrame:
    """Net sales (returns deducted) of each ledger row's partner in its period and in the same period a
    year earlier, and the order lines counted. Returns the ledger's index with SALES_COLUMNS."""
    if ledger.empty:
        return pd.DataFrame({c: [] for c in SALES_COLUMNS}, index=ledger.index)
    keys = ledger[["partner_id", "period_start", "period_end"]].drop_duplicates().reset_index(drop=True)
    keys["period_start"] = pd.to_datetime(keys["period_start"])
    keys["period_end"] = pd.to_datetime(keys["period_end"])
    keys["ly_start"] = keys["period_start"] - pd.DateOffset(years=1)
    keys["ly_end"] = keys["period_end"] - pd.DateOffset(years=1)
    raw = _raw(con)
    if raw is None:
        got = _period_sales_ibis(con, keys)
    else:
        got = _period_sales_duckdb(raw, keys)
    left = ledger[["partner_id"]].assign(period_start=pd.to_datetime(ledger["period_start"]),
                                         period_end=pd.to_datetime(ledger["period_end"]))
    got["period_start"] = pd.to_datetime(got["period_start"])
    got["period_end"] = pd.to_datetime(got["period_end"])
    out = left.reset_index().merge(got, on=["partner_id", "period_start", "period_end"], how="left").set_index("index")
    out = out[list(SALES_COLUMNS)].reindex(ledger.index).fillna(0)
    return out.astype({"orders_counted": int, "returns_counted": int})


def _period_sales_duckdb(raw: Any, keys: pd.DataFrame) -> pd.DataFrame:
    """:func:`period_sales` per key (partner_id, period_start, period_end, ly_start, ly_end) in DuckDB SQL."""
    raw.register("_audit_keys", keys)
    try:
        return raw.execute("""
            SELECT k.partner_id, k.period_start, k.period_end,
                   coalesce(sum(CASE WHEN o.order_date BETWEEN CAST(k.period_start AS DATE) AND CAST(k.period_end AS DATE)
                                     THEN o.net_amount END), 0)::DOUBLE AS net_sales_cny,
                   coalesce(sum(CASE WHEN o.order_date BETWEEN CAST(k.ly_start AS DATE) AND CAST(k.ly_end AS DATE)
                                     THEN o.net_amount END), 0)::DOUBLE AS last_year_sales_cny,
                   count(DISTINCT CASE WHEN o.order_date BETWEEN CAST(k.period_start AS DATE) AND CAST(k.period_end AS DATE)
                                       AND NOT coalesce(o.is_return, false) THEN o.order_id END) AS orders_counted,
                   count(DISTINCT CASE WHEN o.order_date BETWEEN CAST(k.period_start AS DATE) AND CAST(k.period_end AS DATE)
                                       AND coalesce(o.is_return, false) THEN o.order_id END) AS returns_counted
            FROM _audit_keys k LEFT JOIN orders o
              ON o.partner_id = k.partner_id AND o.order_date BETWEEN CAST(k.ly_start AS DATE) AND CAST(k.period_end AS DATE)
            GROUP BY 1, 2, 3""").df()
    finally:
        raw.unregister("_audit_keys")


def _period_sales_ibis(con: Any, keys: pd.DataFrame) -> pd.DataFrame:
    """:func:`period_sales` per key as an Ibis query: the same sums and counts on any backend (e.g. Spark)."""
    import ibis

    k = ibis.memtable(keys)
    o = con.table("orders")
    lo, hi = k.ly_start.cast("date"), k.period_end.cast("date")
    j = k.left_join(o, [k.partner_id == o.partner_id, o.order_date.between(lo, hi)])
    in_p = j.order_date.between(j.period_start.cast("date"), j.period_end.cast("date"))
    in_ly = j.order_date.between(j.ly_start.cast("date"), j.ly_end.cast("date"))
    ret = j.is_return.fill_null(False)
    return j.group_by(["partner_id", "period_start", "period_end"]).aggregate(
        net_sales_cny=j.net_amount.sum(where=in_p).fill_null(0).cast("float64"),
        last_year_sales_cny=j.net_amount.sum(where=in_ly).fill_null(0).cast("float64"),
        orders_counted=j.order_id.nunique(where=in_p & ~ret),
        returns_counted=j.order_id.nunique(where=in_p & ret),
    ).to_pandas()


def _raw(con: Any) -> Any:
    """The DuckDB connection under `con` (an Ibis DuckDB backend or a DuckDB connection); None on other backends."""
    import duckdb

    if isinstance(con, duckdb.DuckDBPyConnection):
        return con
    inner = getattr(con, "con", None)
    return inner if isinstance(inner, duckdb.DuckDBPyConnection) else None


def _ledger_frame(con: Any, raw: Any) -> pd.DataFrame:
    """The whole incentive ledger as pandas (through DuckDB when `raw`, else through Ibis)."""
    return raw.execute("SELECT * FROM incentives").df() if raw is not None else con.table("incentives").to_pandas()


def _last_day(con: Any, raw: Any) -> date | None:
    """The data snapshot's day: the last order, else the last ledger period; None when both are empty."""
    if raw is not None:
        last = raw.execute("SELECT max(order_date) FROM orders").fetchone()[0]
        last = last if last is not None else raw.execute("SELECT max(period_end) FROM incentives").fetchone()[0]
    else:
        last = con.table("orders").order_date.max().to_pandas()
        last = last if not pd.isna(last) else con.table("incentives").period_end.max().to_pandas()
    return pd.Timestamp(last).date() if last is not None and not pd.isna(last) else None


def _partners_frame(con: Any, raw: Any, when: date | None) -> pd.DataFrame:
    """partner_id, name, region and manager_id (those the store has) as they were on `when` (None: today's)."""
    from workbench.store import partners_at, partners_at_sql

    have = _columns(raw, "partners") if raw is not None else set(con.table("partners").columns)
    cols = [c for c in ("partner_id", "name", "region", "manager_id") if c in have]
    if raw is not None:
        return raw.execute(f"SELECT {', '.join(cols)} FROM {partners_at_sql(raw, when)}").df()
    partners = con.table("partners")
    partners = partners_at(con, partners, when) if when is not None else partners
    return partners.select(*cols).to_pandas()


def _needs_attributes(program: Program) -> bool:
    el = program.eligibility
    return bool(program.awards or el.tiers or el.regions or el.channel_types or el.min_tenure_months > 0)


def recompute(
    ledger: pd.DataFrame, programs: Mapping[str, Program], *, sales: pd.DataFrame,
    attributes: Any = None,
) -> pd.DataFrame:
    """The ledger with recomputed_due_cny (the exact engine's payout) per row; NaN where no program file.

    ledger: incentives rows (partner_id, program, period_start, period_end, amount_due, amount_paid, …).
    sales: ``period_sales`` for the same index. attributes: callable (program, period_end, partner_ids)
    → partner frame with the eligibility / award columns, needed only for programs that use them.
    Rows of one program and period are computed together, so a total cap is prorated over them.
    Adds program_found (bool), net_sales_cny, last_year_sales_cny, rebate_cny, growth_bonus_cny,
    awards_cny, payout_uncapped_cny, recomputed_due_cny, payment_delay_days.
    """
    out = ledger.copy()
    for col in sales.columns:
        out[col] = sales[col].to_numpy()
    out["program_found"] = out["program"].isin(list(programs))
    for col in ("rebate_cny", "growth_bonus_cny", "awards_cny", "payout_uncapped_cny", "recomputed_due_cny"):
        out[col] = np.nan
    out["payment_delay_days"] = out["program"].map(
        lambda p: programs[p].payment_delay_days if p in programs else DEFAULT_DELAY_DAYS).astype(int)
    found = out[out["program_found"]]
    for (name, _, end), rows in found.groupby(["program", "period_start", "period_end"], sort=False):
        program = programs[name]
        frame = rows[["partner_id", "net_sales_cny", "last_year_sales_cny"]].reset_index()
        if _needs_attributes(program):
            if attributes is None:
                raise WorkbenchError(f"Program '{name}' has awards or eligibility rules; the audit needs partner attributes.")
            extra = attributes(program, pd.Timestamp(end), list(frame["partner_id"]))
            frame = frame.merge(extra, on="partner_id", how="left")
        paid = compute_payouts(program, frame)
        idx = frame["index"].to_numpy()
        for col, src in (("rebate_cny", "rebate_cny"), ("growth_bonus_cny", "growth_bonus_cny"),
                         ("awards_cny", "awards_cny"), ("payout_uncapped_cny", "payout_uncapped_cny"),
                         ("recomputed_due_cny", "payout_cny")):
            out.loc[idx, col] = paid[src].to_numpy()
    return out


def classify(rows: pd.DataFrame, *, as_of: date) -> pd.DataFrame:
    """Status of every row, never netting one row against another.

    due_misstated: the ledger's due differs from the recomputed due by more than a cent (first);
    then against the true due (recomputed, else the ledger's, when the program has no file):
    unpaid_overdue — nothing paid and the payment date (period_end + the program's payment delay) is
    before `as_of`; pending — nothing paid, not yet due; underpaid — paid something, but less than
    due; overpaid — paid more than due; ok — paid within a cent of due. Adds ledger_due_cny, paid_cny, due_cny, difference_cny (paid − due), payment_due_date, status.
    """
    out = rows.copy()
    out["ledger_due_cny"] = out["amount_due"].astype(float)
    out["paid_cny"] = out["amount_paid"].astype(float).fillna(0.0)
    due = out["recomputed_due_cny"].where(out["recomputed_due_cny"].notna(), out["ledger_due_cny"])
    out["due_cny"] = due.round(2)
    out["difference_cny"] = (out["paid_cny"] - out["due_cny"]).round(2)
    out["payment_due_date"] = pd.to_datetime(out["period_end"]) + pd.to_timedelta(out["payment_delay_days"], unit="D")
    late = out["payment_due_date"] < pd.Timestamp(as_of)
    misstated = out["recomputed_due_cny"].notna() & ((out["ledger_due_cny"] - out["recomputed_due_cny"]).abs() > CENT + 1e-9)
    short = out["difference_cny"] < -CENT + 1e-9
    over = out["difference_cny"] > CENT - 1e-9
    nothing_paid = out["paid_cny"] <= 0
    out["status"] = np.select(
        [misstated, short & nothing_paid & late, short & nothing_paid, short, over],
        ["due_misstated", "unpaid_overdue", "pending", "underpaid", "overpaid"], default="ok")
    return out


COLUMNS = ["incentive_id", "partner_id", "program", "period_start", "period_end", "recomputed_due_cny",
           "ledger_due_cny", "paid_cny", "difference_cny", "status", "payment_due_date", "program_found",
           "net_sales_cny", "last_year_sales_cny"]


def audit_ledger(
    ledger: pd.DataFrame, programs: Mapping[str, Program], *, sales: pd.DataFrame, as_of: date,
    attributes: Any = None,
) -> pd.DataFrame:
    """recompute + classify on frames: one row per ledger row (COLUMNS first, then the payout parts)."""
    rows = classify(recompute(ledger, programs, sales=sales, attributes=attributes), as_of=as_of)
    rest = [c for c in rows.columns if c not in COLUMNS and c not in ("amount_due", "amount_paid")]
    return rows[[c for c in COLUMNS if c in rows.columns] + rest].reset_index(drop=True)


def audit_store(
    con: Any, *, quarter: Any = None, programs_dir: str | Path | None = None, region: Any = None,
    as_of: date | None = None, period_ends: tuple[date, date] | None = None, payments_until: date | None = None,
) -> pd.DataFrame:
    """Audit the store's ledger rows whose period ends in `quarter` (all rows when None), for `region`'s
    partners (whole company when None / 'all'; a ``workbench.vocab.Scope`` of kind manager keeps that
    manager's partners). Adds region, manager_id and the partner name.

    Programs come from `programs_dir` (default config/incentives/); as_of defaults to the day the
    store's last order was placed (what counts as overdue). period_ends: (first, last) day, inclusive,
    keeps the rows whose period ends in that span (several quarters in one pass). payments_until: a payment
    whose paid_date is after this day counts as not made (the ledger as it stood that day).
    """
    from workbench.paths import config_file
    from workbench.vocab import Quarter, Scope

    programs = load_programs(programs_dir if programs_dir is not None else config_file("incentives"))
    raw = _raw(con)
    if "incentives" not in con.list_tables():
        raise NotEnoughData("The store has no incentive ledger, so there is nothing to audit.")
    ledger = _ledger_frame(con, raw)
    if ledger.empty:
        raise NotEnoughData("The store has no incentive ledger, so there is nothing to audit "
                            "(payouts can still be computed in the what-if from orders and a program).")
    if quarter is not None:
        q = Quarter.parse(str(quarter))
        ends = pd.to_datetime(ledger["period_end"]).dt.date
        ledger = ledger[(ends >= q.start) & (ends <= q.end)]
    if period_ends is not None:
        ends = pd.to_datetime(ledger["period_end"]).dt.date
        ledger = ledger[(ends >= period_ends[0]) & (ends <= period_ends[1])]
    if as_of is None:  # the data snapshot: the last order, else the last ledger period
        as_of = _last_day(con, raw)
    when = q.end if quarter is not None else as_of  # each partner's region and manager then
    partners = _partners_frame(con, raw, when)
    if ledger.empty or as_of is None:
        raise NotEnoughData(f"The incentive ledger has no rows for {quarter}, so there is nothing to audit."
                            if quarter is not None else "The incentive ledger has no rows in the period, so there "
                            "is nothing to audit.")
    ledger = ledger.reset_index(drop=True)
    if payments_until is not None and "paid_date" in ledger:
        later = pd.to_datetime(ledger["paid_date"]) > pd.Timestamp(payments_until)
        ledger["amount_paid"] = ledger["amount_paid"].astype(float).where(~later, 0.0)

    def attributes(program: Program, end: pd.Timestamp, ids: list[str]) -> pd.DataFrame:
        from workbench.incentives import new_product_lines

        frame = partner_attributes(con, as_of=end.date(), new_product_lines=new_product_lines(program))
        return frame[frame["partner_id"].isin(ids)].drop(columns=["name"], errors="ignore")

    out = audit_ledger(ledger, programs, sales=period_sales(con, ledger), as_of=as_of, attributes=attributes)
    out = out.merge(partners, on="partner_id", how="left")
    scope = Scope.parse(region)  # filtered after recomputing: a total cap spans every region
    if scope.kind == "region" and "region" in out:
        out = out[out["region"] == scope.region]
    elif scope.kind == "manager":
        out = out[out["manager_id"].astype("string") == scope.manager] if "manager_id" in out else out.iloc[:0]
    return out.sort_values(["program", "period_end", "partner_id"], ignore_index=True)


def audit_to_date(con: Any, as_of: date, *, region: Any = None, programs_dir: str | Path | None = None) -> pd.DataFrame:
    """:func:`audit_store` of every ledger row whose period ended by `as_of`, a payment dated after as_of
    counted as not made: the ledger as it stood that day (the pack index and page 01 read this)."""
    return audit_store(con, region=region, as_of=as_of, period_ends=(date.min, as_of), payments_until=as_of,
                       programs_dir=programs_dir)


def _columns(raw: Any, table: str) -> set[str]:
    return {r[0] for r in raw.execute(f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}'").fetchall()}


def totals(audit: pd.DataFrame, by: str | Iterable[str] = "program") -> pd.DataFrame:
    """Per group: rows, due, paid, overpaid (Σ positive differences) and underpaid (Σ shortfalls of rows
    already due, a positive amount; unpaid_overdue is the part on rows with nothing paid) kept apart, pending
    (not yet due), misstated dues (Σ |ledger − recomputed|) and rows per status (n_<status>). Never nets an
    overpayment against an underpayment."""
    keys = [by] if isinstance(by, str) else list(by)
    a = audit.copy()
    for k in keys:
        a[k] = a[k].fillna("–") if k in a else "–"
    a["overpaid_cny"] = a["difference_cny"].clip(lower=0)
    pending = a["status"] == "pending"
    a["underpaid_cny"] = (-a["difference_cny"]).clip(lower=0).where(~pending, 0.0)
    a["pending_cny"] = (-a["difference_cny"]).clip(lower=0).where(pending, 0.0)
    a["unpaid_overdue_cny"] = a["underpaid_cny"].where(a["status"] == "unpaid_overdue", 0.0)
    a["misstated_cny"] = (a["ledger_due_cny"] - a["recomputed_due_cny"]).abs().where(a["status"] == "due_misstated", 0.0)
    g = a.groupby(keys, dropna=False)
    out = g.agg(rows=("status", "size"), due_cny=("due_cny", "sum"), paid_cny=("paid_cny", "sum"),
                overpaid_cny=("overpaid_cny", "sum"), underpaid_cny=("underpaid_cny", "sum"),
                unpaid_overdue_cny=("unpaid_overdue_cny", "sum"), pending_cny=("pending_cny", "sum"),
                misstated_cny=("misstated_cny", "sum"))
    counts = pd.crosstab([a[k] for k in keys], a["status"]).reindex(columns=list(STATUSES), fill_value=0)
    counts.index.names = keys
    out = out.join(counts.add_prefix("n_"), how="left").fillna(0)
    for c in out.columns:
        if c.startswith("n_") or c == "rows":
            out[c] = out[c].astype(int)
        else:
            out[c] = out[c].round(2)
    return out.reset_index()


def shortfall_kpis(audit: pd.DataFrame) -> dict[str, float]:
    """Quarter KPIs from an audit (for the retrospective): underpaid (due, not paid; of it, unpaid overdue on
    rows with nothing paid), overpaid, misstated dues, pending, and the number of rows not ok — each a
    separate figure, never netted (store currency)."""
    t = totals(audit.assign(_all="all"), "_all").iloc[0] if len(audit) else None
    if t is None:
        return {"rebate_underpaid_cny": 0.0, "rebate_unpaid_overdue_cny": 0.0, "rebate_overpaid_cny": 0.0,
                "rebate_misstated_cny": 0.0, "rebate_pending_cny": 0.0, "rebate_rows_not_ok": 0}
    return {"rebate_underpaid_cny": float(t["underpaid_cny"]),
            "rebate_unpaid_overdue_cny": float(t["unpaid_overdue_cny"]),
            "rebate_overpaid_cny": float(t["overpaid_cny"]),
            "rebate_misstated_cny": float(t["misstated_cny"]), "rebate_pending_cny": float(t["pending_cny"]),
            "rebate_rows_not_ok": int(t["rows"] - t["n_ok"])}
