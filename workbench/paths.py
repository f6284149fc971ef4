"""Where the store, the config, the notebooks and the reports live (one place)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT: Path = Path(__file__).resolve().parent.parent
CONFIG_DIR: Path = PROJECT_ROOT / "config"
NOTEBOOKS_DIR: Path = PROJECT_ROOT / "notebooks"
DATA_DIR: Path = PROJECT_ROOT / "data"
REPORTS_DIR: Path = PROJECT_ROOT / "reports"
SHARED_DATA_DIR: Path = PROJECT_ROOT.parent / "shared" / "data"
DEFAULT_DB: Path = DATA_DIR / "workbench.duckdb"


def default_db() -> Path:
    """The store path: $WORKBENCH_DB if set, else data/workbench.duckdb."""
    env = os.environ.get("WORKBENCH_DB")
    return Path(env) if env else DEFAULT_DB


def config_file(name: str) -> Path:
    """Path of a shipped config file, e.g. config_file('tiers.yaml')."""
    return CONFIG_DIR / name
