"""A copy of the store that holds one account manager's partners only, for that manager's report pack.

The notebooks scope their data by region; a manager's pack runs them as the whole company on this copy,
so no page can show another manager's partner, whatever a notebook does. Which partners belong to the
manager is decided by ``features.scoped_tables`` (the manager they had on as_of), as every job decides it.

The source is any Ibis backend (a DuckDB file or a URL such as ``pyspark:///DIR``); the copy is always a
DuckDB file: every table of the source is read through Ibis with :func:`scoped_table` (the one place the
rules live) and written into a fresh store, so the pages render from it as from any DuckDB store.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis
import ibis.expr.types as ir

from workbench.vocab import Scope

__all__ = ["manager_partner_ids", "scoped_table", "write_manager_store"]

# tables whose rows say nothing about a partner of the copy: emptied (raw rejected lines may name anyone)
_EMPTIED = ("quarantine", "quarantine_current")
_PERSONAL = ("manager_name", "contact_name", "contact_phone")  # blanked: never on a page


def manager_partner_ids(db: str | Path | ibis.BaseBackend, manager: str, as_of: date) -> list[str]:
    """Ids of the partners whose manager on `as_of` is `manager` (the rule every job's manager scope uses);
    `db` is a store path or URL, or an open backend."""
    from workbench.features import scoped_tables
    from workbench.reports.source import opened

    if isinstance(db, ibis.BaseBackend):
        partners = scoped_tables(db, Scope("manager", manager), as_of=as_of)["partners"]
        return sorted(str(p) for p in partners.select("partner_id").to_pandas()["partner_id"])
    with opened(db) as con:
        return manager_partner_ids(con, manager, as_of)


def scoped_table(name: str, t: ir.Table, keep: list[str]) -> ir.Table | None:
    """Table `name` restricted to the partners `keep`: rows of other (or no) partners dropped, counterparties
    outside them blanked, personal columns nulled; None for a table emptied whole (the quarantine)."""
    if name in _EMPTIED:
        return None
    if "partner_id" in t.columns:
        t = t.filter(t.partner_id.cast("string").isin(keep)) if keep else t.filter(ibis.literal(False))
    changes: dict[str, ir.Value] = {}
    if "counterparty_id" in t.columns:  # a null counterparty stays null
        inside = t.counterparty_id.cast("string").isin(keep) if keep else ibis.literal(False)
        changes["counterparty_id"] = ibis.ifelse(inside, t.counterparty_id, ibis.null(t.counterparty_id.type()))
    for col in _PERSONAL:
        if col in t.columns:
            changes[col] = ibis.null(t[col].type())
    return t.mutate(**changes) if changes else t


def _views(raw) -> set[str]:
    """Names of the views in the main schema of the DuckDB connection `raw` (the copy recreates them)."""
    return {r[0] for r in raw.execute("SELECT table_name FROM information_schema.tables "
                                      "WHERE table_schema = 'main' AND table_type = 'VIEW'").fetchall()}


def write_manager_store(db: str | Path, manager: str, as_of: date, dest: str | Path) -> Path:
    """Write to `dest` a DuckDB store holding every table of the store `db` (a path or URL) with only the rows
    of `manager`'s partners on `as_of` (:func:`scoped_table`), the quarantine empty and meta ``scope_manager``
    set. Tables of the copy keep the store's schema; ingest_log and quarantine_current stay views over it."""
    from workbench import store
    from workbench.reports.source import opened

    dest = Path(dest)
    dest.unlink(missing_ok=True)
    out = store.connect(dest)  # a fresh store: canonical and bookkeeping tables, their views
    raw = store.raw_connection(out)
    try:
        views = _views(raw)
        have = set(out.list_tables())
        with opened(db) as con:
            keep = manager_partner_ids(con, manager, as_of)
            for name in sorted(set(con.list_tables()) - views):
                expr = scoped_table(name, con.table(name), keep)
                if expr is None:
                    continue
                data = expr.to_pyarrow()
                raw.register("_wb_rows", data)
                try:
                    if name in have:
                        cols = set(out.table(name).columns)
                        sel = ", ".join(f'"{c}"' for c in data.column_names if c in cols)
                        raw.execute(f'INSERT INTO "{name}" BY NAME SELECT {sel} FROM _wb_rows')
                    else:  # a table outside the contract: kept as the source has it
                        raw.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _wb_rows')
                finally:
                    raw.unregister("_wb_rows")
        raw.execute("DELETE FROM meta WHERE key = 'scope_manager'")
        raw.execute("INSERT INTO meta VALUES ('scope_manager', ?)", [manager])  # pages name the manager: vocab.store_scope
        raw.execute("CHECKPOINT")
    finally:
        out.disconnect()
    return dest
