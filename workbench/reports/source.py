"""The store a report pack reads, on any Ibis backend: a DuckDB file path or a connection URL (``pyspark:///DIR``).

Parameter checks, index figures and the data snapshot query it through Ibis, so the same code runs on
DuckDB and on Spark; the notebooks open the same `db` with ``workbench.backends.connect``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import ibis

from workbench.backends import connect, is_url, redact

__all__ = ["as_date", "is_url", "opened", "shown", "store_label", "target"]


def target(db: str | Path) -> str | Path:
    """`db` as the runner keeps it: a URL unchanged, a path expanded and made absolute."""
    return str(db) if is_url(db) else Path(db).expanduser().resolve()


def store_label(db: str | Path) -> str:
    """How messages and the index name the store: a file's name, or the URL without its password."""
    return redact(str(db)) if is_url(db) else Path(db).name


def shown(db: str | Path) -> str:
    """How a message names the store: its path, or the URL without its password."""
    return redact(str(db)) if is_url(db) else str(db)


_URL_BACKENDS: dict[str, ibis.BaseBackend] = {}  # URL → its open backend in this process


@contextmanager
def opened(db: str | Path) -> Iterator[ibis.BaseBackend]:
    """The store `db` opened read-only for the block. A DuckDB file is closed after it; a URL's backend is
    kept for the next block of this process (a Spark session re-reading every Parquet file per block costs
    seconds) and replaced when it no longer answers."""
    if is_url(db):
        con = _URL_BACKENDS.get(str(db))
        if con is not None:
            try:
                con.list_tables()
            except Exception:  # noqa: BLE001 - a stopped session: connect again
                con = None
        if con is None:
            con = _URL_BACKENDS[str(db)] = connect(db, read_only=True)
        yield con
        return
    con = connect(db, read_only=True)
    try:
        yield con
    finally:
        con.disconnect()


def as_date(value: Any) -> date | None:
    """A date from what a backend returns for a DATE scalar (date, datetime, Timestamp); None for null/NaT."""
    import pandas as pd

    ts = pd.Timestamp(value) if value is not None else None
    return None if ts is None or pd.isna(ts) else ts.date()
