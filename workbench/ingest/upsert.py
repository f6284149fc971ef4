"""Writing checked rows into a canonical table by primary key."""

from __future__ import annotations

import duckdb

from workbench.ingest._sql import _q
from workbench.store import Table


def _upsert(raw: duckdb.DuckDBPyConnection, spec: Table) -> None:
    """Insert good rows with new keys; update rows whose key exists and whose values differ; skip the rest.

    (Not INSERT OR REPLACE: DuckDB's replace path on an indexed table is orders of magnitude slower.)
    """
    names = ", ".join(_q(c) for c in spec.column_names)
    stored = {r[0] for r in raw.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = 'temp' AND table_name = '_wb_checked'").fetchall()}
    values = ", ".join(_q(c.name) if c.name in stored else f"CAST(NULL AS {c.sql_type}) AS {_q(c.name)}"
                       for c in spec.columns)
    on = " AND ".join(f"t.{_q(k)} = c.{_q(k)}" for k in spec.primary_key)
    if raw.execute(f"SELECT count(*) FROM (SELECT 1 FROM {spec.name} LIMIT 1)").fetchone()[0]:
        others = [c for c in spec.column_names if c not in spec.primary_key]
        if others:
            differs = " OR ".join(f"t.{_q(c)} IS DISTINCT FROM c.{_q(c)}" for c in others)
            sets = ", ".join(f"{_q(c)} = c.{_q(c)}" for c in others)
            raw.execute(f"""
                UPDATE {spec.name} AS t SET {sets}
                FROM (SELECT {values} FROM _wb_checked WHERE _wb_bad IS NULL) AS c
                WHERE {on} AND ({differs})
            """)
        raw.execute(f"""
            INSERT INTO {spec.name} ({names})
            SELECT {values} FROM _wb_checked AS c
            WHERE c._wb_bad IS NULL AND NOT EXISTS (SELECT 1 FROM {spec.name} AS t WHERE {on})
        """)
    else:
        raw.execute(f"""
            INSERT INTO {spec.name} ({names})
            SELECT {values} FROM _wb_checked WHERE _wb_bad IS NULL
        """)
