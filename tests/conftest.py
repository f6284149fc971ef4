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
