"""Data health: is the channel data complete and consistent (rows per period, quarantine, ordering gaps,
missing surveys, rebate reconciliation, duplicates)?

Every function reads the store through ``workbench.features.scoped_tables`` (region filter applied where
the data is read, contact fields dropped) and returns a small pandas frame for ``workbench.charts.health``
and the ``01_data_health`` notebook (words and tables: ``workbench.present.health``). ``region=None`` or
``"all"`` (or a :class:`workbench.vocab.Scope`) means every region. Amounts are in the store's currency.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.features import quarter_bounds, scoped_tables
from workbench.store import quarantine_relation
from workbench.vocab import Scope

__all__ = [
    "DATED_COLUMNS",
    "MONEY_COLUMNS",
    "duplicates_caught",
    "has_ingest_log",
    "has_quarantine",
    "ingest_summary",
    "ordering_gaps",
    "quarantine_by_reason",
    "rebate_by_program",
    "rebate_shortfall_list",
    "rows_by_period",
    "suspected_duplicate_orders",
    "survey_coverage",
]

# table → the date column that places a row in time
DATED_COLUMNS: dict[str, str] = {
    "orders": "order_date",
    "incentives": "period_end",
    "surveys": "survey_date",
    "trainings": "training_date",
    "conflicts": "reported_date",
    "actions": "action_date",
    "coverage": "month",
}
_PARTNER_ID_KEYS = ("partner_id", "经销商编号", "经销商代码", "客户编号", "合作伙伴编号", "Partner ID", "PartnerID")


# amounts in the store's currency (workbench.vocab.store_currency); presentation adds the code
SHORTFALL_COLUMNS = ("rebate_due", "rebate_paid", "rebate_shortfall")
MONEY_COLUMNS = (*SHORTFALL_COLUMNS, "rebate_underpaid", "rebate_overpaid")
REBATE_PROGRAM_COLUMNS = ("program", "quarter", "rows", "rebate_due", "rebate_paid", "rebate_underpaid",
                          "rebate_overpaid", "rows_misstated", "program_found")


def _scoped(con: ibis.BaseBackend, region: str | Scope | None, as_of: dt.date | None = None) -> dict[str, ir.Table]:
    return scoped_tables(con, Scope.parse(region).region, as_of=as_of)


def _date(value: str | dt.date) -> dt.date:
    return value if isinstance(value, dt.date) else pd.Timestamp(value).date()


def rows_by_period(con: ibis.BaseBackend, *, end: str | dt.date, months: int = 24,
                   region: str | None = None) -> pd.DataFrame:
    """Rows per table and calendar month over the `months` months ending at `end`.

    Returns one row per (table, month) with columns table, month (first day, datetime64), rows;
    months without rows are present with rows = 0, so gaps in a feed are visible.
    """
    end_d = _date(end)
    first = (pd.Timestamp(end_d).to_period("M") - (months - 1)).start_time
    t = _scoped(con, region, end_d)
    frames = []
    for name, col in DATED_COLUMNS.items():
        if name not in t:
            continue
        tab = t[name]
        tab = tab.filter(tab[col] >= first.date(), tab[col] <= end_d)
        agg = tab.group_by(month=tab[col].truncate("M")).aggregate(rows=tab.count()).to_pandas()
        agg["table"] = name
        frames.append(agg)
    grid = pd.MultiIndex.from_product(
        [list(DATED_COLUMNS), pd.period_range(first, end_d, freq="M").start_time], names=["table", "month"]
    ).to_frame(index=False)
    got = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["table", "month", "rows"])
    got["month"] = pd.to_datetime(got["month"]).astype("datetime64[ns]")
    grid["month"] = grid["month"].astype("datetime64[ns]")
    out = grid.merge(got, on=["table", "month"], how="left")
    out["rows"] = out["rows"].fillna(0).astype("int64")
    return out[out["table"].isin([n for n in DATED_COLUMNS if n in t])].reset_index(drop=True)


def _partner_key_sql() -> str:
    keys = ", ".join(f"json_extract_string(row_data, '$.\"{k}\"')" for k in _PARTNER_ID_KEYS)
    return f"trim(coalesce({keys}))"


def _kept(con: ibis.BaseBackend, *names: str) -> ir.Table | None:
    """The first of the tables or views `names` the backend holds (None: it holds none of them)."""
    have = set(con.list_tables())
    return next((con.table(n) for n in names if n in have), None)


def has_quarantine(con: ibis.BaseBackend) -> bool:
    """True when the backend holds the quarantine (a DuckDB store; a Parquet folder from export_parquet)."""
    return _kept(con, "quarantine_current", "quarantine") is not None


def has_ingest_log(con: ibis.BaseBackend) -> bool:
    """True when the backend holds the ingest log (a DuckDB store; a Parquet folder from export_parquet)."""
    return _kept(con, "ingest_log") is not None


def _row_partner_key(row_data: object) -> str | None:
    """The partner id a quarantined line names (the first of _PARTNER_ID_KEYS in its JSON row_data), trimmed."""
    import json

    try:
        row = json.loads(row_data) if isinstance(row_data, str) else None
    except ValueError:
        return None
    if not isinstance(row, dict):
        return None
    value = next((row[k] for k in _PARTNER_ID_KEYS if row.get(k) is not None), None)
    return None if value is None else (value if isinstance(value, str) else json.dumps(value)).strip()


def quarantine_by_reason(con: ibis.BaseBackend, *, region: str | None = None) -> pd.DataFrame:
    """Quarantined rows per table and reason (table_name, reason, rows), largest first.

    Read through Ibis from quarantine_current (each file's latest load: older loads' rows are kept, not
    counted twice), else the quarantine table. For a region, only rows whose partner id belongs to one of
    the region's partners are counted (rows that name no known partner cannot be attributed to a region and
    are left out). Empty when the backend holds no quarantine (see has_quarantine).
    """
    q = _kept(con, "quarantine_current", "quarantine")
    if q is None:
        return pd.DataFrame({"table_name": pd.Series(dtype="str"), "reason": pd.Series(dtype="str"),
                             "rows": pd.Series(dtype="int64")})
    if Scope.parse(region).is_all:
        df = q.group_by(["table_name", "reason"]).aggregate(rows=q.count()).to_pandas()
    elif getattr(con, "name", "") == "duckdb":  # the partner key read in SQL, next to the rows
        raw = con.con
        ids = _scoped(con, region)["partners"].select("partner_id").to_pandas()
        raw.register("_wb_health_ids", ids)
        try:
            df = raw.execute(
                f"SELECT table_name, reason, count(*) AS rows FROM {quarantine_relation(raw)} "
                f"WHERE {_partner_key_sql()} IN (SELECT partner_id FROM _wb_health_ids) GROUP BY ALL"
            ).df()
        finally:
            raw.unregister("_wb_health_ids")
    else:  # other backends: the same key read from row_data in Python
        ids = set(_scoped(con, region)["partners"].select("partner_id").to_pandas()["partner_id"].astype(str))
        lines = q.select("table_name", "reason", "row_data").to_pandas()
        lines = lines[lines["row_data"].map(_row_partner_key).isin(ids)]
        df = lines.groupby(["table_name", "reason"], as_index=False).size().rename(columns={"size": "rows"})
    df = df[["table_name", "reason", "rows"]]
    df["rows"] = df["rows"].astype("int64")
    return df.sort_values(["rows", "table_name"], ascending=[False, True]).reset_index(drop=True)


def duplicates_caught(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Duplicate lines caught at ingestion per table (table_name, exact_duplicates, key_conflicts),
    from a ``quarantine_by_reason`` frame."""
    q = quarantine.copy()
    q["kind"] = pd.Series(pd.NA, index=q.index, dtype="object")
    q.loc[q["reason"].str.startswith("duplicate line"), "kind"] = "exact_duplicates"
    q.loc[q["reason"].str.contains("appears earlier in the file"), "kind"] = "key_conflicts"
    q = q.dropna(subset=["kind"])
    if q.empty:
        return pd.DataFrame({"table_name": pd.Series(dtype="str"), "exact_duplicates": pd.Series(dtype="int64"),
                             "key_conflicts": pd.Series(dtype="int64")})
    wide = q.pivot_table(index="table_name", columns="kind", values="rows", aggfunc="sum", fill_value=0)
    for c in ("exact_duplicates", "key_conflicts"):
        if c not in wide:
            wide[c] = 0
    return wide[["exact_duplicates", "key_conflicts"]].astype("int64").reset_index().rename_axis(None, axis=1)


def suspected_duplicate_orders(con: ibis.BaseBackend, *, start: str | dt.date, end: str | dt.date,
                               region: str | None = None) -> pd.DataFrame:
    """Order lines in [start, end] that repeat another line's partner, date, product line and amount under
    a different order_id (possible double entry): one row per group with partner_id, name, order_date,
    product_line, net_amount, lines."""
    t = _scoped(con, region, _date(end))
    o = t["orders"].filter(t["orders"].order_date >= _date(start), t["orders"].order_date <= _date(end))
    g = o.group_by(["partner_id", "order_date", "product_line", "net_amount"]).aggregate(lines=o.count())
    g = g.filter(g.lines > 1)
    g = g.join(t["partners"].select("partner_id", "name"), "partner_id")
    df = g.to_pandas()
    df["net_amount"] = df["net_amount"].astype("float64")
    cols = ["partner_id", "name", "order_date", "product_line", "net_amount", "lines"]
    return df[cols].sort_values(["lines", "order_date"], ascending=[False, False]).reset_index(drop=True)


def ingest_summary(con: ibis.BaseBackend) -> pd.DataFrame:
    """The ingest log: one row per loaded file (table_name, file, rows_read, rows_accepted,
    rows_quarantined, ingested_at), newest first. Company-wide: not for regional reports. Empty when the
    backend holds no ingest log (see has_ingest_log)."""
    cols = ["table_name", "file", "rows_read", "rows_accepted", "rows_quarantined", "ingested_at"]
    log = _kept(con, "ingest_log")
    if log is None:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c.startswith("rows") else "str") for c in cols})
    df = log.select(*cols).to_pandas()
    return df.sort_values("ingested_at", ascending=False).reset_index(drop=True)


def ordering_gaps(con: ibis.BaseBackend, *, as_of: str | dt.date, months: int = 12, min_gap_months: int = 3,
                  region: str | None = None) -> pd.DataFrame:
    """Partners with a run of at least `min_gap_months` calendar months without a (non-return) order
    within the `months` months ending at as_of, counted from their first order in that window.

    One row per partner: partner_id, name, region, channel_type, last_order_date,
    empty_months (months without orders after the first), longest_gap_months; longest gaps first.
    Partners that exited on or before as_of are left out.
    """
    a = _date(as_of)
    first = (pd.Timestamp(a).to_period("M") - (months - 1)).start_time.date()
    t = _scoped(con, region, a)
    p = t["partners"]
    p = p.filter(p.exit_date.isnull() | (p.exit_date > a))
    o = t["orders"]
    o = o.filter(o.order_date >= first, o.order_date <= a, ~o.is_return.fill_null(False), o.net_amount > 0)
    active = o.group_by(["partner_id", o.order_date.truncate("M").name("month")]).aggregate().to_pandas()
    last = o.group_by("partner_id").aggregate(last_order_date=o.order_date.max()).to_pandas()
    info = p.select("partner_id", "name", "region", "channel_type").to_pandas()
    all_months = pd.period_range(first, a, freq="M")
    rows = []
    if not active.empty:
        active["m"] = pd.to_datetime(active["month"]).dt.to_period("M")
        for pid, grp in active.groupby("partner_id"):
            have = set(grp["m"])
            start = min(have)
            run = longest = empty = 0
            for m in all_months:
                if m < start:
                    continue
                if m in have:
                    run = 0
                else:
                    run += 1
                    empty += 1
                    longest = max(longest, run)
            rows.append((pid, empty, longest))
    gaps = pd.DataFrame(rows, columns=["partner_id", "empty_months", "longest_gap_months"])
    out = info.merge(gaps, on="partner_id").merge(last, on="partner_id", how="left")
    out = out[out["longest_gap_months"] >= min_gap_months]
    cols = ["partner_id", "name", "region", "channel_type", "last_order_date", "empty_months", "longest_gap_months"]
    out = out[cols].sort_values(["longest_gap_months", "partner_id"], ascending=[False, True])
    return out.reset_index(drop=True)


def survey_coverage(con: ibis.BaseBackend, *, quarter: str, by: str = "region",
                    region: str | None = None) -> pd.DataFrame:
    """Partners active in the quarter with and without a survey in it, per `by` (region or channel_type).

    Columns: <by>, active_partners, surveyed, missing, missing_share (0–1).
    """
    start, end = quarter_bounds(quarter)
    t = _scoped(con, region, end)
    o = t["orders"]
    o = o.filter(o.order_date >= start, o.order_date <= end, ~o.is_return.fill_null(False))
    act = o.select("partner_id").distinct()
    p = t["partners"].select("partner_id", by)
    base = act.join(p, "partner_id")
    if "surveys" in t:
        s = t["surveys"]
        s = s.filter(s.survey_date >= start, s.survey_date <= end).select("partner_id").distinct()
        base = base.mutate(surveyed=base.partner_id.isin(s.partner_id))
    else:
        base = base.mutate(surveyed=ibis.literal(False))
    agg = base.group_by(by).aggregate(active_partners=base.count(), surveyed=base.surveyed.cast("int64").sum())
    df = agg.to_pandas()
    df["surveyed"] = df["surveyed"].fillna(0).astype("int64")
    df["active_partners"] = df["active_partners"].astype("int64")
    df["missing"] = df["active_partners"] - df["surveyed"]
    df["missing_share"] = (df["missing"] / df["active_partners"]).where(df["active_partners"] > 0, 0.0)
    return df.sort_values(by).reset_index(drop=True)


def rebate_by_program(con: ibis.BaseBackend, *, as_of: str | dt.date, region: str | None = None,
                      programs_dir: str | Path | None = None) -> pd.DataFrame:
    """Rebate reconciliation per program and quarter of period_end from the rebate audit of the ledger rows
    whose period ended by as_of (``workbench.rebates.audit_to_date``; each row recomputed from its program
    file, else judged on its ledger due): program, quarter ('2026Q2'), rows, rebate_due, rebate_paid,
    rebate_underpaid and rebate_overpaid summed apart over rows, never netted (store currency),
    rows_misstated, program_found (False: no program file, not recomputed)."""
    from workbench.errors import NotEnoughData
    from workbench.rebates import audit_to_date, totals

    try:
        audit = audit_to_date(con, _date(as_of), region=region, programs_dir=programs_dir)
    except NotEnoughData:
        audit = pd.DataFrame()
    if audit.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in MONEY_COLUMNS else "object")
                             for c in REBATE_PROGRAM_COLUMNS})
    audit = audit.assign(quarter=pd.to_datetime(audit["period_end"]).dt.to_period("Q").astype(str))
    t = totals(audit, ["program", "quarter"])
    found = audit.groupby("program")["program_found"].all()
    df = pd.DataFrame({"program": t["program"], "quarter": t["quarter"], "rows": t["rows"],
                       "rebate_due": t["due_cny"], "rebate_paid": t["paid_cny"],
                       "rebate_underpaid": t["underpaid_cny"], "rebate_overpaid": t["overpaid_cny"],
                       "rows_misstated": t["n_due_misstated"], "program_found": t["program"].map(found).astype(bool)})
    return df.sort_values(["program", "quarter"]).reset_index(drop=True)


def rebate_shortfall_list(con: ibis.BaseBackend, *, as_of: str | dt.date, region: str | None = None,
                          min_amount: float = 0.01, programs_dir: str | Path | None = None) -> pd.DataFrame:
    """Partners with an outstanding rebate shortfall (at least `min_amount`, store currency) at as_of, largest
    first, from the rebate audit of the rows whose period ended by as_of (``rebates.audit_to_date``): per
    partner and program, rebate_due, rebate_paid, rebate_shortfall (Σ of each row's shortfall on rows already
    due) and rebate_overpaid (Σ of each row's overpayment) apart — an overpaid quarter never hides an underpaid
    one — unpaid_rows (rows short by at least min_amount), oldest_unpaid_period_end; with name and region."""
    from workbench.errors import NotEnoughData
    from workbench.rebates import audit_to_date

    cols = ["partner_id", "name", "region", "program", *SHORTFALL_COLUMNS, "rebate_overpaid", "unpaid_rows",
            "oldest_unpaid_period_end"]
    try:
        a = audit_to_date(con, _date(as_of), region=region, programs_dir=programs_dir)
    except NotEnoughData:
        return pd.DataFrame(columns=cols)
    if a.empty:
        return pd.DataFrame(columns=cols)
    diff = a["difference_cny"].astype(float)
    a = a.assign(short=(-diff).clip(lower=0).where(a["status"] != "pending", 0.0), over=diff.clip(lower=0),
                 period_end=pd.to_datetime(a["period_end"]))
    a["open_end"] = a["period_end"].where(a["short"] >= min_amount)
    for c in ("name", "region"):
        if c not in a:
            a[c] = None
    df = a.groupby(["partner_id", "program"], as_index=False, dropna=False).agg(
        name=("name", "first"), region=("region", "first"), rebate_due=("due_cny", "sum"),
        rebate_paid=("paid_cny", "sum"), rebate_shortfall=("short", "sum"), rebate_overpaid=("over", "sum"),
        unpaid_rows=("short", lambda x: int((x >= min_amount).sum())), oldest_unpaid_period_end=("open_end", "min"))
    df = df[df["rebate_shortfall"] >= min_amount].copy()
    for c in (*SHORTFALL_COLUMNS, "rebate_overpaid"):
        df[c] = df[c].astype("float64").round(2)
    df["unpaid_rows"] = df["unpaid_rows"].astype("int64")
    return df[cols].sort_values(["rebate_shortfall", "partner_id"], ascending=[False, True]).reset_index(drop=True)
