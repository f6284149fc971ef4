"""Report parameters: checked against the store before anything runs (quarter, region, language)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from workbench.errors import WorkbenchError
from workbench.i18n import label
from workbench.paths import NOTEBOOKS_DIR

__all__ = ["COMPANY", "RunParams", "curated_notebooks", "latest_complete_quarter", "validate_params"]

QUARTER_RE = re.compile(r"^(\d{4})Q([1-4])$")
NOTEBOOK_RE = re.compile(r"^\d\d_[A-Za-z0-9_]+\.ipynb$")
COMPANY = "all"


@dataclass(frozen=True)
class RunParams:
    """Validated parameters of one run: quarter (e.g. '2026Q3'), as_of (its last day), regions to render."""

    db: Path
    quarter: str
    as_of: date
    region: str
    lang: str
    packs: tuple[str, ...]  # 'all' and/or region names, in render order
    regions: tuple[str, ...]  # every region of the store


def _quarter_bounds(quarter: str) -> tuple[date, date]:
    """First and last day of a quarter written '2026Q3'."""
    p = pd.Period(quarter, "Q")
    return p.start_time.date(), p.end_time.date()


def latest_complete_quarter(max_order_date: date) -> str:
    """The latest calendar quarter the data covers to its end: the quarter of the last order date if
    that date lies in the quarter's final week, else the quarter before."""
    p = pd.Period(pd.Timestamp(max_order_date), "Q")
    if (p.end_time.date() - max_order_date).days > 6:
        p = p - 1
    return f"{p.year}Q{p.quarter}"


def _store_facts(db: Path) -> tuple[tuple[str, ...], date | None, dict[str, str]]:
    """Regions of the store, its last order date, and a map of lower-cased/Chinese region names."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        regions = tuple(r for (r,) in con.execute(
            "SELECT DISTINCT region FROM partners WHERE region IS NOT NULL ORDER BY region").fetchall())
        (max_date,) = con.execute("SELECT max(order_date) FROM orders").fetchone()
    except duckdb.Error as exc:
        raise WorkbenchError(f"The store {db} does not hold the workbench tables ({str(exc).splitlines()[0]}).") from exc
    finally:
        con.close()
    aliases = {}
    for r in regions:
        aliases[r.lower()] = r
        aliases[label(r, "zh").lower()] = r
    return regions, max_date, aliases


def _orders_in(db: Path, start: date, end: date) -> int:
    """Number of order lines dated in [start, end]."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM orders WHERE order_date BETWEEN ? AND ?", [start, end]).fetchone()[0]
    finally:
        con.close()


def validate_params(db: str | Path, *, quarter: str | None, region: str, lang: str) -> RunParams:
    """Check every parameter against the store before anything runs; WorkbenchError (one sentence) if wrong."""
    db = Path(db).expanduser().resolve()
    if lang not in ("en", "zh"):
        raise WorkbenchError(f"Language '{lang}' is not supported; use en or zh.")
    if quarter is not None and not QUARTER_RE.match(str(quarter).strip()):
        raise WorkbenchError(f"Quarter '{quarter}' is malformed; write it like 2026Q3.")
    if not db.exists():
        raise WorkbenchError(f"The store {db} does not exist; run `workbench demo` or `workbench ingest` first.")
    regions, max_date, aliases = _store_facts(db)
    if max_date is None:
        raise WorkbenchError(f"The store {db} holds no orders, so there is nothing to report.")
    if quarter is None:
        quarter = latest_complete_quarter(max_date)
    quarter = str(quarter).strip()
    start, end = _quarter_bounds(quarter)
    if _orders_in(db, start, end) == 0:
        raise WorkbenchError(f"The store holds no orders in {quarter} ({start} to {end}); choose another quarter.")
    region = str(region).strip()
    if region.lower() in (COMPANY, "全部", "全部区域"):
        region, packs = COMPANY, (COMPANY, *regions)
    elif region.lower() in aliases:
        region = aliases[region.lower()]
        packs = (region,)
    else:
        raise WorkbenchError(f"Region '{region}' is unknown; the store's regions are {', '.join(regions)} (or all).")
    return RunParams(db=db, quarter=quarter, as_of=end, region=region, lang=lang, packs=packs, regions=regions)


def curated_notebooks(folder: str | Path = NOTEBOOKS_DIR) -> list[Path]:
    """The curated notebooks NN_name.ipynb in `folder`, in number order."""
    return sorted(p for p in Path(folder).glob("*.ipynb") if NOTEBOOK_RE.match(p.name))



def _folder(pack: str) -> str:
    """A safe folder name for a pack."""
    return re.sub(r"[\\/:*?\"<>|\s]+", "_", pack).strip("._") or "region"

