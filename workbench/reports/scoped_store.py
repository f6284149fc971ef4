"""A copy of the store that holds one account manager's partners only, for that manager's report pack.

The notebooks scope their data by region; a manager's pack runs them as the whole company on this copy,
so no page can show another manager's partner, whatever a notebook does. Which partners belong to the
manager is decided by ``features.scoped_tables`` (the manager they had on as_of), as every job decides it.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb

from workbench.vocab import Scope

__all__ = ["manager_partner_ids", "write_manager_store"]

# tables whose rows say nothing about a partner of the copy: emptied (raw rejected lines may name anyone)
_EMPTIED = ("quarantine",)
_PERSONAL = ("manager_name", "contact_name", "contact_phone")  # blanked: never on a page


def manager_partner_ids(db: str | Path, manager: str, as_of: date) -> list[str]:
    """Ids of the partners whose manager on `as_of` is `manager` (the rule every job's manager scope uses)."""
    from workbench import store
    from workbench.features import scoped_tables

    con = store.connect(db, read_only=True)
    try:
        partners = scoped_tables(con, Scope("manager", manager), as_of=as_of)["partners"]
        return sorted(str(p) for p in partners.select("partner_id").to_pandas()["partner_id"])
    finally:
        con.disconnect()


def _base_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, set[str]]]:
    """(schema, table, columns) of every base table of the open store."""
    rows = con.execute("SELECT table_schema, table_name, column_name FROM information_schema.columns "
                       "WHERE (table_schema, table_name) IN (SELECT table_schema, table_name FROM "
                       "information_schema.tables WHERE table_type = 'BASE TABLE')").fetchall()
    tables: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in rows:
        tables.setdefault((schema, table), set()).add(column)
    return [(s, t, cols) for (s, t), cols in sorted(tables.items())]


def write_manager_store(db: str | Path, manager: str, as_of: date, dest: str | Path) -> Path:
    """Copy the store `db` to `dest`, keeping in every table only the rows of `manager`'s partners on `as_of`.

    Conflict counterparties outside them are blanked, personal columns nulled, the quarantine emptied.
    """
    keep = manager_partner_ids(db, manager, as_of)
    dest = Path(dest)
    shutil.copyfile(db, dest)
    con = duckdb.connect(str(dest))
    try:
        con.execute("CREATE TEMP TABLE wb_keep (partner_id VARCHAR)")
        if keep:
            con.executemany("INSERT INTO wb_keep VALUES (?)", [[p] for p in keep])
        for schema, table, cols in _base_tables(con):
            name = f'"{schema}"."{table}"'
            if table in _EMPTIED and schema == "main":
                con.execute(f"DELETE FROM {name}")
                continue
            if "partner_id" in cols:
                con.execute(f"DELETE FROM {name} WHERE CAST(partner_id AS VARCHAR) NOT IN (SELECT partner_id FROM wb_keep) "
                            "OR partner_id IS NULL")
            if "counterparty_id" in cols:
                con.execute(f"UPDATE {name} SET counterparty_id = NULL WHERE CAST(counterparty_id AS VARCHAR) NOT IN "
                            "(SELECT partner_id FROM wb_keep)")
            for col in _PERSONAL:
                if col in cols:
                    con.execute(f"UPDATE {name} SET {col} = NULL")
        con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute("DELETE FROM meta WHERE key = 'scope_manager'")
        con.execute("INSERT INTO meta VALUES ('scope_manager', ?)", [manager])  # pages name the manager: vocab.store_scope
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return dest
