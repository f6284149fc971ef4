"""Writing checked rows into a canonical table by primary key, keeping before-images and partner history.

Upsert (the default) writes only the columns the file has: a stored value of a column the file lacks is
kept; a new row gets NULL there. ``replace`` mode treats each row of the file as the whole record: columns
the file lacks become NULL on the rows it holds. Rows the file does not hold are never touched (deleting
is not a load's business). Every row a load inserts or changes carries its ``_load_id``; the previous
state of every row it changes is kept in ``history.before_<table>`` so the load can be rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from workbench.ingest._sql import _q
from workbench.store import HISTORY_COLUMNS, LOAD_ID, Table, before_table


@dataclass(frozen=True)
class Written:
    """Rows one load inserted and updated (rows whose values were already the same are neither)."""

    inserted: int
    updated: int


def _upsert(raw: duckdb.DuckDBPyConnection, spec: Table, *, load_id: int = 0, replace: bool = False,
            effective: date | None = None) -> Written:
    """Insert good rows with new keys; update rows whose key exists and whose written columns differ.

    Written columns are the file's columns (upsert) or every column (replace). (Not INSERT OR REPLACE:
    DuckDB's replace path on an indexed table is orders of magnitude slower.)
    """
    names = ", ".join(_q(c) for c in spec.column_names)
    stored = {r[0] for r in raw.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = 'temp' AND table_name = '_wb_checked'").fetchall()}
    values = ", ".join(_q(c.name) if c.name in stored else f"CAST(NULL AS {c.sql_type}) AS {_q(c.name)}"
                       for c in spec.columns)
    on = " AND ".join(f"t.{_q(k)} = c.{_q(k)}" for k in spec.primary_key)
    lid = int(load_id)
    updated = 0
    if raw.execute(f"SELECT count(*) FROM (SELECT 1 FROM {spec.name} LIMIT 1)").fetchone()[0]:
        others = [c for c in spec.column_names if c not in spec.primary_key and (replace or c in stored)]
        if others:
            differs = " OR ".join(f"t.{_q(c)} IS DISTINCT FROM c.{_q(c)}" for c in others)
            changed = f"FROM (SELECT {values} FROM _wb_checked WHERE _wb_bad IS NULL) AS c WHERE {on} AND ({differs})"
            # Before-images first: the rows as they are now, marked with this load.
            updated = raw.execute(f"""
                INSERT INTO {before_table(spec.name)}
                SELECT {lid} AS _by_load, {", ".join(f"t.{_q(c)}" for c in (*spec.column_names, LOAD_ID))}
                FROM {spec.name} AS t, (SELECT {values} FROM _wb_checked WHERE _wb_bad IS NULL) AS c
                WHERE {on} AND ({differs})
            """).fetchone()[0]
            if updated:
                sets = ", ".join(f"{_q(c)} = c.{_q(c)}" for c in others)
                raw.execute(f"UPDATE {spec.name} AS t SET {sets}, {_q(LOAD_ID)} = {lid} {changed}")
        inserted = _unordered(raw, f"""
            INSERT INTO {spec.name} ({names}, {_q(LOAD_ID)})
            SELECT {values}, {lid} FROM _wb_checked AS c
            WHERE c._wb_bad IS NULL AND NOT EXISTS (SELECT 1 FROM {spec.name} AS t WHERE {on})
        """)
    else:
        inserted = _unordered(raw, f"""
            INSERT INTO {spec.name} ({names}, {_q(LOAD_ID)})
            SELECT {values}, {lid} FROM _wb_checked WHERE _wb_bad IS NULL
        """)
    if spec.name == "partners" and (inserted or updated):
        _track_partner_history(raw, lid, effective)
    return Written(int(inserted), int(updated))


def _unordered(raw: duckdb.DuckDBPyConnection, insert: str) -> int:
    """Run an INSERT without preserving insertion order (a store table's rows have no order; the parallel
    insert writes row groups for less CPU), then restore ingest's setting; return the rows inserted."""
    raw.execute("SET preserve_insertion_order = false")
    try:
        return int(raw.execute(insert).fetchone()[0])
    finally:
        raw.execute("SET preserve_insertion_order = true")


def _track_partner_history(raw: duckdb.DuckDBPyConnection, load_id: int, effective: date | None) -> None:
    """Close the history row of every partner this load moved (region, channel type, manager) and open
    the new one from `effective` on; a partner seen for the first time is valid since always."""
    differs = " OR ".join(f"h.{c} IS DISTINCT FROM p.{c}" for c in HISTORY_COLUMNS)
    eff = f"DATE '{effective.isoformat()}'" if effective is not None else "CAST(NULL AS DATE)"
    raw.execute(f"""
        UPDATE partner_history AS h SET valid_to = {eff}, closed_by = {load_id}
        FROM partners AS p
        WHERE p.{LOAD_ID} = {load_id} AND h.partner_id = p.partner_id AND h.valid_to IS NULL
            AND h.closed_by IS NULL AND ({differs})
    """)
    raw.execute(f"""
        INSERT INTO partner_history
        SELECT p.partner_id, {", ".join(f"p.{c}" for c in HISTORY_COLUMNS)},
            CASE WHEN EXISTS (SELECT 1 FROM partner_history AS o WHERE o.partner_id = p.partner_id)
                 THEN {eff} END, NULL, {load_id}, NULL
        FROM partners AS p
        WHERE p.{LOAD_ID} = {load_id} AND NOT EXISTS (
            SELECT 1 FROM partner_history AS h
            WHERE h.partner_id = p.partner_id AND h.valid_to IS NULL AND h.closed_by IS NULL)
    """)
