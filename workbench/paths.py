"""Where the store, the config, the notebooks and the reports live (one place).

Config defaults (``config/``) and the curated notebooks (``notebooks/``) are package data: a wheel
carries them as ``workbench/config_defaults/`` and ``workbench/notebooks/`` (setup.py copies them
in at build time), read here through :mod:`importlib.resources`. In a source checkout the top-level
``config/`` and ``notebooks/`` folders are that same data, so there is one copy to edit.

A file is looked up in this order:

1. your own folder: a file in ``$WORKBENCH_CONFIG_DIR`` overrides the shipped config file of the same
   name; ``$WORKBENCH_NOTEBOOKS_DIR`` replaces the set of curated notebooks a report pack runs;
2. the source checkout's ``config/`` / ``notebooks/`` (when running from a clone);
3. the copy inside the installed package.

The store and the reports are user data: ``data/`` and ``reports/`` of the checkout, or of the
current directory when the package is installed from a wheel.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

__all__ = [
    "CONFIG_DIR",
    "DATA_DIR",
    "DEFAULT_DB",
    "NOTEBOOKS_DIR",
    "PROJECT_ROOT",
    "REPORTS_DIR",
    "config_dirs",
    "config_file",
    "default_db",
    "is_checkout",
    "packaged_dir",
]

PROJECT_ROOT: Path = Path(__file__).resolve().parent.parent
PACKAGED = {"config": "config_defaults", "notebooks": "notebooks"}  # checkout folder → package folder


def is_checkout(root: Path = PROJECT_ROOT) -> bool:
    """True when `root` is this project's source checkout (its pyproject.toml names channel-workbench)."""
    pyproject = root / "pyproject.toml"
    try:
        return pyproject.is_file() and 'name = "channel-workbench"' in pyproject.read_text(encoding="utf-8")
    except OSError:
        return False


def packaged_dir(kind: str) -> Path:
    """The folder of `kind` ('config' or 'notebooks') inside the installed package (may be absent in a checkout)."""
    return Path(str(resources.files("workbench").joinpath(PACKAGED[kind])))


def _default_dir(kind: str) -> Path:
    """The shipped folder of `kind`: the checkout's top-level folder, else the package's copy."""
    top = PROJECT_ROOT / kind
    return top if is_checkout() and top.is_dir() else packaged_dir(kind)


def _env_dir(var: str) -> Path | None:
    value = os.environ.get(var, "").strip()
    return Path(value).expanduser() if value else None


CONFIG_DIR: Path = _default_dir("config")
NOTEBOOKS_DIR: Path = _env_dir("WORKBENCH_NOTEBOOKS_DIR") or _default_dir("notebooks")
DATA_DIR: Path = PROJECT_ROOT / "data" if is_checkout() else Path("data")
REPORTS_DIR: Path = PROJECT_ROOT / "reports" if is_checkout() else Path("reports")
DEFAULT_DB: Path = DATA_DIR / "workbench.duckdb"


def config_dirs() -> list[Path]:
    """Folders searched for a config file, first match wins: $WORKBENCH_CONFIG_DIR, then the shipped one."""
    env = _env_dir("WORKBENCH_CONFIG_DIR")
    return [d for d in (env, CONFIG_DIR, packaged_dir("config")) if d is not None]


def config_file(name: str) -> Path:
    """Path of a config file, e.g. config_file('tiers.yaml') or config_file('incentives/x.yaml').

    The first of :func:`config_dirs` that holds it; if none does, the shipped path (so that loading
    it fails with a message naming that file).
    """
    for folder in config_dirs():
        path = folder / name
        if path.is_file():
            return path
    return CONFIG_DIR / name


def default_db() -> Path:
    """The store path: $WORKBENCH_DB if set, else data/workbench.duckdb (of the checkout, or of the cwd)."""
    env = os.environ.get("WORKBENCH_DB")
    return Path(env) if env else DEFAULT_DB
