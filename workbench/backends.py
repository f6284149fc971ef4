"""Open the store on any Ibis backend: a DuckDB file path, or a connection URL (``duckdb://``, ``trino://`` …).

The analysis commands (``workbench segment|churn|whatif|retro --db URL``) take either. A URL is handed to
``ibis.connect``; the backend's current database must hold tables named like the canonical tables of
docs/data-contract.md (at least ``partners`` and ``orders``). ``pyspark:///DIR`` starts a local Spark
session whose views are the Parquet files ``DIR/<table>.parquet`` (:func:`export_parquet` writes them
from a store). ``workbench report`` takes a URL too (a manager's pack renders from a DuckDB copy of their partners'
rows read through Ibis: ``reports.scoped_store``). Ingest, the demo, loads
and rollback write or read the DuckDB file itself and take a path only.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import ibis

from workbench.errors import WorkbenchError

__all__ = ["connect", "export_parquet", "is_url", "local_spark", "redact"]

REQUIRED_TABLES: tuple[str, ...] = ("partners", "orders")
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def is_url(target: str | Path | None) -> bool:
    """True when `target` is a connection URL (``scheme://…``) rather than a file path."""
    return target is not None and not isinstance(target, Path) and bool(_URL_RE.match(str(target)))


def redact(url: str) -> str:
    """`url` with any password replaced by ``***`` (safe to print in an error message)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def connect(target: str | Path | None = None, *, read_only: bool = True) -> ibis.BaseBackend:
    """An Ibis backend over the store at `target`: a DuckDB file path (None: the default store) or a URL.

    ``duckdb:///path/to/store.duckdb`` opens that file like a path does. Any other URL goes to
    ``ibis.connect``; a backend that is not installed, a failed connection or missing canonical
    tables are a one-sentence WorkbenchError (passwords never appear in it).
    """
    from workbench import store

    if not is_url(target):
        return store.connect(target, read_only=read_only)
    url = str(target)
    scheme = url.split("://", 1)[0].lower()
    path = url.split("://", 1)[1].split("?", 1)[0]
    if scheme == "duckdb" and path and path != ":memory:":
        return store.connect(Path(path), read_only=read_only)
    try:
        con = local_spark(Path(path)) if scheme == "pyspark" and path else ibis.connect(url)
    except WorkbenchError:
        raise
    except ImportError as exc:
        raise WorkbenchError(
            f"The {scheme} backend of Ibis is not installed; install it with pip install 'ibis-framework[{scheme}]'."
        ) from exc
    except Exception as exc:  # noqa: BLE001 - any driver error becomes one sentence
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        password = urlsplit(url).password
        first = first.replace(url, redact(url)) if password is None else first.replace(password, "***")
        raise WorkbenchError(f"Could not connect to {redact(url)}: {first.rstrip('.')}.") from exc
    present = set(con.list_tables())
    missing = [t for t in REQUIRED_TABLES if t not in present]
    if missing:
        raise WorkbenchError(
            f"{redact(url)} has no table named {missing[0]}; create tables or views with the canonical names "
            f"of docs/data-contract.md there."
        )
    return con


# Small-data settings of a local Spark session: one shuffle partition, no adaptive re-planning and no
# whole-stage code generation (on a store of thousands of rows compiling the generated Java costs more
# than running the query; see docs/CONTRIBUTING.md, "Other backends").
LOCAL_SPARK_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "1",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.memory": "2g",
}


def local_spark(parquet_dir: Path, *, cores: int = 2) -> ibis.BaseBackend:
    """An Ibis PySpark backend on a local session (`cores` threads) with a view per ``parquet_dir/<table>.parquet``.

    Reuses the process's running session if there is one. A directory without ``partners.parquet``
    is a one-sentence WorkbenchError.
    """
    import os

    files = {p.name.removesuffix(".parquet"): p for p in sorted(Path(parquet_dir).glob("*.parquet"))}
    if "partners" not in files:
        raise WorkbenchError(f"{parquet_dir} holds no partners.parquet; write the store there with "
                             "workbench.backends.export_parquet first.")
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(f"local[{cores}]").appName("workbench")
    for key, value in LOCAL_SPARK_CONF.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    for name, path in files.items():
        spark.read.parquet(str(path)).createOrReplaceTempView(name)
    con = ibis.pyspark.connect(spark)
    # the folder identifies the store's contents (store.fingerprint): results computed once per store and
    # date (tiers, scoped tables) are then kept for the session as on a DuckDB file
    con._wb_parquet_dir = Path(parquet_dir).resolve()
    return con


# Beside the canonical tables: the bookkeeping page 01 shows (the quarantine and the ingest log, each also as
# the view pages read: quarantine_current, ingest_log), partner history and meta.
EXPORTED_EXTRA: tuple[str, ...] = ("partner_history", "meta", "quarantine", "loads", "quarantine_current", "ingest_log")


def export_parquet(db: str | Path, out_dir: str | Path) -> list[Path]:
    """Write every canonical table of the DuckDB store `db` and those of EXPORTED_EXTRA it has (views as their
    rows) to ``out_dir/<table>.parquet``."""
    from workbench import store

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    con = store.connect(db, read_only=True)
    raw = store.raw_connection(con)
    present = set(con.list_tables())
    written = []
    for name in (*store.TABLE_ORDER, *EXPORTED_EXTRA):
        if name in present:
            path = out / f"{name}.parquet"
            raw.execute(f"COPY (SELECT * FROM {name}) TO '{str(path).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)")
            written.append(path)
    con.disconnect()
    return written
