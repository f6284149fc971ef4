"""The jobs on Spark: features, segment, churn, whatif and retro through a ``pyspark://`` URL give DuckDB's answers.

One local Spark session (2 threads) reads the demo store exported to Parquet
(``backends.export_parquet``) through ``backends.connect("pyspark:///DIR")``, the same call
``workbench … --db URL`` makes. Every output is compared with the DuckDB run on the same store:
same columns, same rows (sorted on the keys), text and dates equal, numbers within
``RTOL`` relative or ``ATOL`` absolute (money in the store's currency: Spark and DuckDB add floats in
different orders, a difference of ~1e-15 relative on sums of 1e8). Marked ``spark``: run by
``make test-spark`` and by ``make test`` after the main suite.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import backends, cli, store
from workbench import features as F

pytestmark = pytest.mark.spark

RTOL, ATOL = 1e-9, 1e-6  # relative; absolute in currency units, counts, shares and scores
D = dt.date
AS_OF = D(2026, 6, 30)


def _spark_or_fail(request: pytest.FixtureRequest) -> None:
    """pyspark when installed; when the run selected `-m spark` a missing extra is a failure, not a skip."""
    try:
        import pyspark  # noqa: F401
        from ibis.backends import pyspark as _  # noqa: F401
    except ImportError as exc:
        if "spark" in (request.config.getoption("-m") or ""):
            pytest.fail(f"the [spark] extra is not installed ({exc}); run `make test-spark`")
        pytest.skip("the [spark] extra is not installed; `make test-spark` runs this")


@pytest.fixture(scope="module")
def spark_url(request: pytest.FixtureRequest, demo_db: Path, tmp_path_factory: pytest.TempPathFactory):
    """``pyspark:///DIR`` over the demo store's tables as Parquet; the session is stopped after the module."""
    _spark_or_fail(request)
    folder = tmp_path_factory.mktemp("parquet")
    backends.export_parquet(demo_db, folder)
    url = f"pyspark://{folder}"
    t0 = time.perf_counter()
    backends.connect(url)
    print(f"\nspark session and views ready in {time.perf_counter() - t0:.1f} s")
    yield url
    from pyspark.sql import SparkSession

    SparkSession.builder.getOrCreate().stop()


@pytest.fixture(scope="module")
def pair(spark_url: str, demo_db: Path):
    """(DuckDB backend, Spark backend) over the same store."""
    return store.connect(demo_db, read_only=True), backends.connect(spark_url)


def same_frames(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> None:
    """Assert equal columns and rows: text and dates exactly, numbers within RTOL / ATOL, NaN where NaN."""
    a = a.sort_values(keys, kind="mergesort").reset_index(drop=True)
    b = b.sort_values(keys, kind="mergesort").reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for c in a.columns:
        x, y = a[c], b[c]
        if pd.api.types.is_datetime64_any_dtype(x) or pd.api.types.is_datetime64_any_dtype(y):
            x, y = pd.to_datetime(x), pd.to_datetime(y)
            assert ((x == y) | (x.isna() & y.isna())).all(), c
        elif (pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y)
              and not pd.api.types.is_bool_dtype(x)):
            np.testing.assert_allclose(x.astype(float), y.astype(float), rtol=RTOL, atol=ATOL, equal_nan=True,
                                       err_msg=c)
        else:
            assert x.astype(object).where(x.notna(), None).tolist() == y.astype(object).where(y.notna(), None).tolist(), c


def _compare(pair, run, keys: list[str]) -> pd.DataFrame:
    """Run `run(con)` on both backends, print the seconds each took, assert the outputs agree; DuckDB's output."""
    duck, spark = pair
    t0 = time.perf_counter()
    want = run(duck)
    t1 = time.perf_counter()
    got = run(spark)
    print(f"  duckdb {t1 - t0:.1f} s, spark {time.perf_counter() - t1:.1f} s")
    assert len(want) > 0
    same_frames(want, got, keys)
    return want


# ---- the feature layer ------------------------------------------------------------------------------


def test_spark_snapshot_and_labels_match_duckdb(pair) -> None:
    _compare(pair, lambda c: F.partner_snapshot(c, as_of=AS_OF).to_pandas(), ["partner_id"])
    _compare(pair, lambda c: F.churn_labels(c, as_of=D(2026, 3, 31)).to_pandas(), ["partner_id"])


def test_spark_panel_and_kpis_match_duckdb(pair) -> None:
    _compare(pair, lambda c: F.partner_month_panel(c, start="2026-01-01", end="2026-06-30",
                                                   region="East").to_pandas(), ["partner_id", "month"])
    _compare(pair, lambda c: F.quarter_kpis(c, quarter="2026Q2", by="region"), ["region"])
    _compare(pair, lambda c: F.quarters_kpis(c, quarters=["2026Q1", "2026Q2"], by="region"), ["quarter", "region"])


# ---- the jobs, through the command line with --db URL ------------------------------------------------

JOBS: dict[str, tuple[list[str], list[str]]] = {  # command → (arguments, sort keys of its output)
    "segment": (["--as-of", "2026-06-30"], ["partner_id"]),
    "churn": (["--as-of", "2026-06-30", "--horizon-days", "90"], []),  # headers in words: first column
    "whatif": (["config/incentives/synthetic_current.yaml"], ["partner_id"]),
    "retro": (["--quarter", "2026Q2"], ["dimension", "group", "kpi", "quarter"]),
}


@pytest.mark.parametrize("command", list(JOBS))
def test_spark_job_matches_duckdb(command: str, spark_url: str, demo_db: Path, tmp_path: Path) -> None:
    """`workbench COMMAND --db pyspark:///DIR` writes the table `--db store.duckdb` writes."""
    args, keys = JOBS[command]
    args = [str(Path(__file__).resolve().parents[1] / a) if a.endswith(".yaml") else a for a in args]
    frames = {}
    for name, db in (("duckdb", str(demo_db)), ("spark", spark_url)):
        out = tmp_path / f"{name}.csv"
        t0 = time.perf_counter()
        assert cli.main([command, *args, "--db", db, "--out", str(out)]) == 0
        print(f"  {command} on {name}: {time.perf_counter() - t0:.1f} s")
        frames[name] = pd.read_csv(out)
    assert len(frames["duckdb"]) > 0
    same_frames(frames["duckdb"], frames["spark"], keys or [frames["duckdb"].columns[0]])


# ---- the report pack, through `workbench report --db URL` -----------------------------------------------


def test_spark_report_pack_matches_duckdb(spark_url: str, demo_db: Path, tmp_path: Path, monkeypatch) -> None:
    """`workbench report --db pyspark:///DIR --region Northwest` (page 01 only: one kernel, one Spark session
    in it) runs every cell, and its index shows the headline figures and row counts of the DuckDB pack."""
    import json
    import re

    from workbench import reports
    from workbench.paths import NOTEBOOKS_DIR

    monkeypatch.setattr(reports.runner, "curated_notebooks", lambda *a, **k: [NOTEBOOKS_DIR / "01_data_health.ipynb"])
    packs = {}
    for name, db in (("duckdb", str(demo_db)), ("spark", spark_url)):
        t0 = time.perf_counter()
        assert cli.main(["report", "--db", db, "--quarter", "2026Q3", "--region", "Northwest",
                         "--out", str(tmp_path / name)]) == 0
        print(f"  report on {name}: {time.perf_counter() - t0:.1f} s")
        folder = tmp_path / name / "2026Q3" / "Northwest"
        manifest = json.loads((folder / "pack.json").read_text(encoding="utf-8"))
        assert manifest["ok"] and [p["notebook"] for p in manifest["pages"]] == ["01_data_health"], name
        page = (folder / "01_data_health.html").read_text(encoding="utf-8")
        assert "Traceback" not in page and 'class="wb-alert"' not in page and not (folder / "report.log").exists(), name
        packs[name] = (manifest, (folder / "index.html").read_text(encoding="utf-8"))
    (want, want_html), (got, got_html) = packs["duckdb"], packs["spark"]
    assert want["headline"]["monthly_sales"] > 0 and want["headline"]["active_partners"] > 0
    assert want["headline"].keys() == got["headline"].keys()
    for key, value in want["headline"].items():
        assert got["headline"][key] == pytest.approx(value, rel=RTOL, abs=ATOL), key
    table = re.compile(r'<table class="wb-headline">.*?</table>', re.S)
    assert table.search(want_html).group(0) == table.search(got_html).group(0)  # the figures as the index shows them
    counts = re.compile(r'<td>[^<]*</td><td class="num">[0-9,]+</td>')
    assert len(counts.findall(want_html)) >= 5
    assert counts.findall(want_html) == counts.findall(got_html)  # row counts in the scope (a region: no quarantine)
