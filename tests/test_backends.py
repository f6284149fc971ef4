"""workbench.backends: the store by path or by Ibis connection URL, and `--db URL` on the command line."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from workbench import backends, features
from workbench.errors import WorkbenchError


def test_is_url_and_redact() -> None:
    assert backends.is_url("duckdb:///tmp/x.duckdb") and backends.is_url("trino://u@h:8080/cat/sch")
    assert not backends.is_url("data/workbench.duckdb") and not backends.is_url(Path("a://b"))
    assert not backends.is_url(None) and not backends.is_url("C:/stores/x.duckdb")
    assert backends.redact("postgres://ana:s3cret@db:5432/ch") == "postgres://ana:***@db:5432/ch"
    assert backends.redact("duckdb:///x.duckdb") == "duckdb:///x.duckdb"


def test_duckdb_url_is_the_same_store_as_its_path(demo_db: Path) -> None:
    by_path = features.quarter_kpis(backends.connect(demo_db), quarter="2026Q2", by="region")
    by_url = features.quarter_kpis(backends.connect(f"duckdb://{demo_db}"), quarter="2026Q2", by="region")
    pd.testing.assert_frame_equal(by_path, by_url)


def test_other_backend_without_the_contract_tables_is_one_sentence(tmp_path: Path) -> None:
    db = tmp_path / "other.sqlite"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE partners (partner_id TEXT)")
    with pytest.raises(WorkbenchError, match="has no table named orders") as info:
        backends.connect(f"sqlite://{db}")
    assert "\n" not in str(info.value)


def test_unknown_backend_and_password_never_shown() -> None:
    with pytest.raises(WorkbenchError) as info:
        backends.connect("nosuchbackend://ana:s3cret@host/db")
    assert "s3cret" not in str(info.value) and "\n" not in str(info.value)


def test_cli_takes_a_url_for_analysis_and_refuses_it_for_writes(demo_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "kpis.csv"
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "retro", "--quarter", "2026Q2",
                           "--db", f"duckdb://{demo_db}", "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(out)) > 0
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "ingest", "partners", "x.csv",
                           "--db", "duckdb:///tmp/x.duckdb"], capture_output=True, text=True)
    assert done.returncode != 0 and "give --db a path" in done.stderr


def test_export_parquet_and_a_spark_url_without_the_files(demo_db: Path, tmp_path: Path) -> None:
    """export_parquet writes one file per table with the store's rows; pyspark:///DIR without them is one sentence."""
    import duckdb

    written = backends.export_parquet(demo_db, tmp_path / "pq")
    assert {p.stem for p in written} >= {"partners", "orders", "incentives", "meta", "partner_history",
                                         "quarantine", "quarantine_current", "loads", "ingest_log"}  # page 01's too
    with duckdb.connect(str(demo_db), read_only=True) as raw:
        for p in written:
            want = raw.execute(f"SELECT count(*) FROM {p.stem}").fetchone()[0]
            assert raw.execute(f"SELECT count(*) FROM '{p}'").fetchone()[0] == want, p.stem
    with pytest.raises(WorkbenchError, match="holds no partners.parquet") as info:
        backends.connect(f"pyspark://{tmp_path / 'empty'}")
    assert "\n" not in str(info.value)
