"""The jobs on Spark: features, segment, churn, whatif and retro through a ``pyspark://`` URL give DuckDB's answers.

One local Spark session (2 threads) reads the demo store exported to Parquet
(``backends.export_parquet``) through ``backends.connect("pyspark:///DIR")``, the same call
``workbench … --db URL`` makes. Every output is compared with the DuckDB run on the same store:
same columns, same rows (sorted on the keys), text and dates equal, numbers within
``RTOL`` relative or ``ATOL`` absolute (money in the store's currency: Spark and DuckDB add floats in
different orders, a difference of ~1e-15 relative on sums of 1e8). Marked ``spark``: run by
``make test-spark`` and by ``make test``; the whole-pack comparison is also marked ``spark_pack`` and runs
in ``make test-spark`` (``pytest -m spark``) only (tests/conftest.py leaves it out of a run without ``-m``).

The store is the demo store with three quarantined lines added (one per kind of attribution), so page 01's
quarantine and ingest log are compared on Spark too.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import backends, cli, health, store
from workbench import features as F
from workbench.vocab import Scope

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
def spark_db(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo store with three quarantined order lines: a Northwest partner's, an East partner's
    (named under a Chinese header) and an unknown partner's."""
    import duckdb

    path = tmp_path_factory.mktemp("sparkstore") / "demo.duckdb"
    shutil.copyfile(demo_db, path)
    con = duckdb.connect(str(path))
    first = {r: con.execute("SELECT min(partner_id) FROM partners WHERE region = ?", [r]).fetchone()[0]
             for r in ("Northwest", "East")}
    lines = [("duplicate line: identical to an earlier line in the file", {"partner_id": first["Northwest"]}),
             ("net_amount is not a number", {"经销商编号": first["East"]}),
             ("partner_id is not a known partner", {"partner_id": "P999999"})]
    for n, (reason, row) in enumerate(lines, start=2):
        con.execute("INSERT INTO quarantine (table_name, file, row_number, \"column\", value, reason, quarantined_at, "
                    "row_data) VALUES ('orders', 'late.csv', ?, 'x', 'x', ?, TIMESTAMP '2026-10-01 08:00:00', ?)",
                    [n, reason, json.dumps(row, ensure_ascii=False)])
    con.close()
    return path


@pytest.fixture(scope="module")
def spark_url(request: pytest.FixtureRequest, spark_db: Path, tmp_path_factory: pytest.TempPathFactory):
    """``pyspark:///DIR`` over that store's tables as Parquet; the session is stopped after the module."""
    _spark_or_fail(request)
    folder = tmp_path_factory.mktemp("parquet")
    backends.export_parquet(spark_db, folder)
    url = f"pyspark://{folder}"
    t0 = time.perf_counter()
    backends.connect(url)
    print(f"\nspark session and views ready in {time.perf_counter() - t0:.1f} s")
    yield url
    from pyspark.sql import SparkSession

    SparkSession.builder.getOrCreate().stop()


@pytest.fixture(scope="module")
def pair(spark_url: str, spark_db: Path):
    """(DuckDB backend, Spark backend) over the same store."""
    return store.connect(spark_db, read_only=True), backends.connect(spark_url)


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
def test_spark_job_matches_duckdb(command: str, spark_url: str, spark_db: Path, tmp_path: Path) -> None:
    """`workbench COMMAND --db pyspark:///DIR` writes the table `--db store.duckdb` writes."""
    args, keys = JOBS[command]
    args = [str(Path(__file__).resolve().parents[1] / a) if a.endswith(".yaml") else a for a in args]
    frames = {}
    for name, db in (("duckdb", str(spark_db)), ("spark", spark_url)):
        out = tmp_path / f"{name}.csv"
        t0 = time.perf_counter()
        assert cli.main([command, *args, "--db", db, "--out", str(out)]) == 0
        print(f"  {command} on {name}: {time.perf_counter() - t0:.1f} s")
        frames[name] = pd.read_csv(out)
    assert len(frames["duckdb"]) > 0
    same_frames(frames["duckdb"], frames["spark"], keys or [frames["duckdb"].columns[0]])


# ---- the report pack, through `workbench report --db URL` -----------------------------------------------


def test_spark_report_pack_matches_duckdb(spark_url: str, spark_db: Path, tmp_path: Path, monkeypatch) -> None:
    """`workbench report --db pyspark:///DIR --region Northwest` (page 01 only: one kernel, one Spark session
    in it) runs every cell, and its index shows the headline figures and row counts of the DuckDB pack."""
    from workbench import reports
    from workbench.paths import NOTEBOOKS_DIR

    monkeypatch.setattr(reports.runner, "curated_notebooks", lambda *a, **k: [NOTEBOOKS_DIR / "01_data_health.ipynb"])
    packs = {}
    for name, db in (("duckdb", str(spark_db)), ("spark", spark_url)):
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


# ---- page 01's bookkeeping and a manager's store copy -------------------------------------------------------


def test_spark_quarantine_and_ingest_log_match_duckdb(pair) -> None:
    """export_parquet writes the quarantine and the ingest log; page 01's functions read them through Ibis and
    attribute quarantined lines to regions as on DuckDB (the Chinese header too, the unknown partner nowhere)."""
    duck, spark = pair
    assert health.has_quarantine(spark) and health.has_ingest_log(spark)
    company = _compare(pair, lambda c: health.quarantine_by_reason(c), ["table_name", "reason"])
    assert company["rows"].sum() == 3
    for region in ("Northwest", "East", "South"):
        want = health.quarantine_by_reason(duck, region=region)
        same_frames(want, health.quarantine_by_reason(spark, region=region), ["table_name", "reason"])
        assert want["rows"].sum() == (0 if region == "South" else 1), region
    log = _compare(pair, health.ingest_summary, ["table_name", "file"])
    assert len(log) == len(store.raw_connection(duck).execute("SELECT * FROM ingest_log").fetchall()) > 0


MANAGER, OTHERS = "M1B", ("M1A", "M1C")  # the demo's East managers: the pack of one, the partners of two others


def test_spark_manager_store_is_the_duckdb_copy(spark_url: str, spark_db: Path, tmp_path: Path) -> None:
    """A manager's store copy written from the Spark URL holds, table by table, exactly the rows of the copy
    written from the DuckDB file: only that manager's partners, no quarantine, personal columns empty."""
    import duckdb

    from workbench.reports.scoped_store import write_manager_store

    as_of = D(2026, 9, 30)
    t0 = time.perf_counter()
    write_manager_store(spark_db, MANAGER, as_of, tmp_path / "duck.duckdb")
    t1 = time.perf_counter()
    write_manager_store(spark_url, MANAGER, as_of, tmp_path / "spark.duckdb")
    print(f"  manager copy from duckdb {t1 - t0:.1f} s, from spark {time.perf_counter() - t1:.1f} s")
    con = duckdb.connect(str(tmp_path / "spark.duckdb"), read_only=True)
    con.execute(f"ATTACH '{tmp_path / 'duck.duckdb'}' AS d (READ_ONLY)")
    tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_catalog = 'd' "
                                        "AND table_schema = 'main' AND table_type = 'BASE TABLE'").fetchall()]
    assert {"partners", "orders", "conflicts", "loads", "meta", "quarantine"} <= set(tables)
    for t in tables:
        for a, b in ((f'd.main."{t}"', f'main."{t}"'), (f'main."{t}"', f'd.main."{t}"')):
            extra = con.execute(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})").fetchone()[0]
            assert extra == 0, f"{t}: {extra} rows of {a} not in {b}"
    own = {r[0] for r in duckdb.connect(str(spark_db), read_only=True).execute(
        "SELECT partner_id FROM partners WHERE manager_id = ?", [MANAGER]).fetchall()}
    got = {r[0] for r in con.execute("SELECT partner_id FROM orders UNION SELECT partner_id FROM partners").fetchall()}
    assert got == own and len(own) > 20
    assert con.execute("SELECT count(*) FROM quarantine_current").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM partners WHERE contact_name IS NOT NULL OR manager_name IS NOT NULL "
                       "OR contact_phone IS NOT NULL").fetchone()[0] == 0
    cps = {r[0] for r in con.execute("SELECT counterparty_id FROM conflicts WHERE counterparty_id IS NOT NULL").fetchall()}
    assert cps <= own
    assert con.execute("SELECT value FROM meta WHERE key = 'scope_manager'").fetchone()[0] == MANAGER
    assert con.execute("SELECT count(*) FROM ingest_log").fetchone()[0] > 0  # the company's loads: no partner in them


# ---- the whole pack: every page of a region's pack and a manager's pack -------------------------------------

_ID = re.compile(r"P\d{6}")
_HEAD = re.compile(r"<h[1-3][^>]*>(.*?)</h[1-3]>", re.S)
_NUM = re.compile(r"<td[^>]*>\s*([-−+]?[¥£$€]?[\d,]+(?:\.\d+)?\s*[%]?)\s*</td>")  # a table cell holding one number


def _page_text(page: str) -> str:
    """A rendered page without its embedded script bundle (chart libraries)."""
    from workbench.charts.render import BUNDLE_MARKER

    start = page.find(f'<script id="{BUNDLE_MARKER}">')
    return page if start < 0 else page[:start] + page[page.find("</script>", start):]


@pytest.mark.spark_pack
@pytest.mark.slow
def test_spark_whole_region_and_manager_packs_match_duckdb(spark_url: str, spark_db: Path, tmp_path: Path) -> None:
    """Every page (01–07) of the Northwest pack and of manager M1B's pack, rendered from ``pyspark:///DIR`` and
    from the DuckDB file: both manifests ok, no page shows a traceback or failure box, the index headline figures
    agree within RTOL, and each page shows the same headings, partner ids and table numbers; the manager's pages on
    Spark name none of the other East managers' partners.

    Expensive (a Spark pack takes minutes): marked ``spark_pack``, run by ``make test-spark`` (``pytest -m spark``)
    only; a run without ``-m`` (``make test``) leaves it out (tests/conftest.py)."""
    import duckdb

    from workbench.reports import curated_notebooks, render_pack

    stems = [p.stem for p in curated_notebooks()]
    assert len(stems) == 7
    packs = ("Northwest", Scope("manager", MANAGER))
    pages: dict[str, dict[str, dict[str, str]]] = {}
    manifests: dict[str, dict[str, dict]] = {}
    for name, db in (("duckdb", str(spark_db)), ("spark", spark_url)):
        t0 = time.perf_counter()
        result = render_pack(db, quarter="2026Q3", region=list(packs), lang="en", out=tmp_path / name, progress=False)
        print(f"  region + manager packs on {name}: {time.perf_counter() - t0:.1f} s "
              f"({', '.join(f'{r.notebook} {r.seconds:.0f}' for r in result.runs)})")
        assert result.ok, result.summary()
        for scope in result.params.scopes:
            folder = tmp_path / name / "2026Q3" / scope.slug
            manifest = json.loads((folder / "pack.json").read_text(encoding="utf-8"))
            assert manifest["ok"] and [p["notebook"] for p in manifest["pages"]] == stems, (name, scope)
            assert not (folder / "report.log").exists(), (name, scope)
            got = {s: _page_text((folder / f"{s}.html").read_text(encoding="utf-8")) for s in stems}
            for s, page in got.items():
                assert "Traceback" not in page and 'class="wb-alert"' not in page, (name, scope.slug, s)
            pages.setdefault(scope.slug, {})[name] = got
            manifests.setdefault(scope.slug, {})[name] = manifest
    for slug in pages:
        want, got = manifests[slug]["duckdb"]["headline"], manifests[slug]["spark"]["headline"]
        assert want.keys() == got.keys() and want["monthly_sales"] > 0, slug
        for key, value in want.items():
            assert got[key] == (None if value is None else pytest.approx(value, rel=RTOL, abs=ATOL)), (slug, key)
        for s in stems:
            a, b = pages[slug]["duckdb"][s], pages[slug]["spark"][s]
            assert _HEAD.findall(a) == _HEAD.findall(b), (slug, s)
            assert set(_ID.findall(a)) == set(_ID.findall(b)), (slug, s)
            assert sorted(_NUM.findall(a)) == sorted(_NUM.findall(b)), (slug, s)  # every number the tables show
        assert len(set().union(*(_ID.findall(p) for p in pages[slug]["duckdb"].values()))) > 5, slug
        assert sum(len(_NUM.findall(p)) for p in pages[slug]["duckdb"].values()) > 100, slug
    con = duckdb.connect(str(spark_db), read_only=True)
    own = {r[0] for r in con.execute("SELECT partner_id FROM partners WHERE manager_id = ?", [MANAGER]).fetchall()}
    others = {r[0] for r in con.execute("SELECT partner_id FROM partners WHERE manager_id IN (?, ?)",
                                        list(OTHERS)).fetchall()}
    shown = set()
    for s, page in pages[Scope("manager", MANAGER).slug]["spark"].items():
        ids = set(_ID.findall(page))
        assert ids <= own and not ids & others, f"{s} shows other managers' partners {sorted(ids - own)[:5]}"
        shown |= ids
    assert len(shown) > 5 and len(others) > 40
