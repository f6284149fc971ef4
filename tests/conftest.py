"""Shared fixtures: small synthetic stores built once per test session (per xdist worker)."""

from __future__ import annotations

from pathlib import Path

import pytest

REAL_DATA = Path(__file__).resolve().parent / "data"  # vendored real data sets with their licences

DEMO_PARTNERS = 400
DEMO_SEED = 7


@pytest.fixture(scope="session")
def real_data() -> Path:
    """tests/data: the real CDNOW and Online Retail exports, vendored with their licences."""
    return REAL_DATA


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB store holding a 400-partner, 36-month synthetic network (seed 7), ingested normally."""
    from workbench.synth import build_demo_store

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    build_demo_store(path, partners=DEMO_PARTNERS, months=36, seed=DEMO_SEED, mode="easy")  # clean planted truth
    return path


@pytest.fixture(scope="session")
def realstore(tmp_path_factory: pytest.TempPathFactory):
    """Factory: `realstore(name)` → path of that tests/realstores.py store, built once per session (per worker)."""
    from tests import realstores

    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in built:
            built[name] = realstores.build(name, tmp_path_factory.mktemp(f"store_{name}") / f"{name}.duckdb")
        return built[name]

    return get


@pytest.fixture(scope="session")
def demo_con(demo_db: Path):
    """A read-only connection to the demo store (shared by the churn test modules)."""
    from workbench import store

    return store.connect(demo_db, read_only=True)


@pytest.fixture(scope="session")
def demo_frames(demo_con) -> dict:
    """The demo store's churn cutoff frames (90-day horizon), built once per worker."""
    from workbench import churn

    cuts = churn.default_cutoffs(demo_con, horizon_days=90)
    return churn.cutoff_frames(demo_con, cuts, horizon_days=90)


@pytest.fixture(scope="session")
def demo_bt(demo_frames):
    """The demo store's rolling-origin churn backtest (seed 0), run once per worker."""
    from workbench import churn

    return churn.run_backtest(demo_frames, horizon_days=90, n_scored=6, seed=0)


# Modules that take minutes (notebook renders, the browser, Spark), longest first: `pytest -n 2 --dist loadfile` hands
# modules to workers in collection order, so starting these first keeps one worker from finishing a long module
# alone at the end (alphabetically the report modules came last).
_LONG_MODULES = ("test_reports_realstores.py", "test_live_lab.py", "test_reports.py", "test_spark.py",
                 "test_reports_countries.py",
                 "test_papermill_engine.py", "test_reports_pages.py", "test_wheel.py", "test_ingest_crash.py",
                 "test_churn_drivers.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the long modules first (stable order otherwise; the same on every xdist worker). A run without -m
    (`make test`) leaves out the tests marked spark_pack (whole packs on Spark, minutes each): `make test-spark`
    (`pytest -m spark`) runs them."""
    if not config.getoption("markexpr", ""):
        dropped = [item for item in items if item.get_closest_marker("spark_pack")]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [item for item in items if not item.get_closest_marker("spark_pack")]
    rank = {name: i for i, name in enumerate(_LONG_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
