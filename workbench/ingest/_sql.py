"""SQL text helpers shared by the ingest modules: quoting, literals, the trimmed characters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import duckdb

from workbench.errors import IngestError
from workbench.store import TABLES, Table, raw_connection

# Characters trimmed from both ends of every value: ASCII whitespace, no-break and ideographic space.
_TRIM = " \t\r\n\u00a0\u3000\ufeff"


# Full-width ASCII (U+FF01..U+FF5E) → ASCII, used on ids, numbers, dates, codes (not on free text).
_FULL = "".join(chr(c) for c in range(0xFF01, 0xFF5F))


_HALF = "".join(chr(c) for c in range(0x21, 0x7F))


def _lit(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _tq(name: str) -> str:
    """The typed value of contract column `name` inside the validation query (raw columns keep their names)."""
    return _q(f"_wb_c_{name}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _in_list(values: Iterable[str]) -> str:
    return "(" + ", ".join(_lit(v) for v in values) + ")"


def _raw(con: Any) -> duckdb.DuckDBPyConnection:
    return con if isinstance(con, duckdb.DuckDBPyConnection) else raw_connection(con)


def _table_spec(table: str, where: str) -> Table:
    if table not in TABLES:
        raise IngestError(f"{where}: unknown table '{table}' (known: {', '.join(TABLES)}).")
    return TABLES[table]
