"""Report parameters: checked against the store before anything runs (quarter, region, language)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from workbench.errors import WorkbenchError
from workbench.i18n import label
from workbench.paths import NOTEBOOKS_DIR
from workbench.vocab import Quarter, Scope

__all__ = ["COMPANY", "RunParams", "curated_notebooks", "latest_complete_quarter", "validate_params"]

QUARTER_RE = re.compile(r"^(\d{4})Q([1-4])$")
NOTEBOOK_RE = re.compile(r"^\d\d_[A-Za-z0-9_]+\.ipynb$")
COMPANY = "all"


@dataclass(frozen=True)
class RunParams:
    """Validated parameters of one run: quarter (e.g. '2026Q3'), as_of (its last day), scopes to render."""

    db: Path
    quarter: str
    as_of: date
    region: str  # 'all', a region name, or the manager of a manager scope
    lang: str
    scopes: tuple[Scope, ...]  # one pack each, in render order (the company first)
    regions: tuple[str, ...]  # every region of the store

    @property
    def packs(self) -> tuple[str, ...]:
        """The packs as text: 'all', region names, manager ids."""
        return tuple(str(s) for s in self.scopes)


def _quarter_bounds(quarter: str) -> tuple[date, date]:
    """First and last day of a quarter written '2026Q3'."""
    q = Quarter.parse(quarter)
    return q.start, q.end


def latest_complete_quarter(max_order_date: date) -> str:
    """The latest calendar quarter the data covers to its end: the quarter of the last order date if
    that date lies in the quarter's final week, else the quarter before."""
    return str(Quarter.latest_complete(max_order_date, grace_days=6))


def _store_facts(db: Path, when: date | None = None) -> tuple[tuple[str, ...], date | None, dict[str, str]]:
    """Regions of the store (those partners had on `when`, when given), its last order date, and a map of
    lower-cased/Chinese region names."""
    from workbench.store import partners_at_sql

    con = duckdb.connect(str(db), read_only=True)
    try:
        regions = tuple(r for (r,) in con.execute(
            f"SELECT DISTINCT region FROM {partners_at_sql(con, when)} WHERE region IS NOT NULL ORDER BY region").fetchall())
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


def _managers(db: Path) -> dict[str, str]:
    """Lower-cased manager ids and names of the store → manager id (empty when partners have no manager_id)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        cols = {c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'partners'").fetchall()}
        if "manager_id" not in cols:
            return {}
        name = "manager_name" if "manager_name" in cols else "manager_id"
        rows = con.execute(f"SELECT DISTINCT manager_id, {name} FROM partners WHERE manager_id IS NOT NULL").fetchall()
    finally:
        con.close()
    out: dict[str, str] = {}
    for mid, mname in rows:
        out[str(mid).lower()] = str(mid)
        if mname is not None:
            out[str(mname).lower()] = str(mid)
    return out


def validate_params(db: str | Path, *, quarter: str | None, region: str | Scope | None = "all", lang: str,
                    manager: str | None = None, each_region: bool = True) -> RunParams:
    """Check every parameter against the store before anything runs; WorkbenchError (one sentence) if wrong.

    region: 'all' (any case, also 全部), a region name (any case, or its Chinese label), or a Scope.
    manager: a manager id or name instead of a region (one pack of that manager's partners).
    each_region: with the company scope, also render one pack per region (default True).
    """
    db = Path(db).expanduser().resolve()
    if lang not in ("en", "zh"):
        raise WorkbenchError(f"Language '{lang}' is not supported; use en or zh.")
    if quarter is not None:
        try:
            if not QUARTER_RE.match(str(Quarter.parse(str(quarter).strip()))):
                raise WorkbenchError(str(quarter))
        except WorkbenchError:
            raise WorkbenchError(f"Quarter '{quarter}' is malformed; write it like 2026Q3.") from None
    if not db.exists():
        raise WorkbenchError(f"The store {db} does not exist; run `workbench demo` or `workbench ingest` first.")
    regions, max_date, aliases = _store_facts(db)
    if max_date is None:
        raise WorkbenchError(f"The store {db} holds no orders, so there is nothing to report.")
    if quarter is None:
        quarter = latest_complete_quarter(max_date)
    quarter = str(Quarter.parse(str(quarter).strip()))
    start, end = _quarter_bounds(quarter)
    if _orders_in(db, start, end) == 0:
        raise WorkbenchError(f"The store holds no orders in {quarter} ({start} to {end}); choose another quarter.")
    regions, _, aliases = _store_facts(db, end)  # the regions as partners had them at the quarter's end
    if isinstance(region, Scope):
        region, manager = (region.region, region.manager) if not region.is_all else (None, None)
    if region is not None and str(region).strip() in ("全部", "全部区域"):
        region = None
    scope = Scope.parse(region, manager)
    if scope.kind == "manager":
        known = _managers(db)
        if str(scope.value).lower() not in known:
            raise WorkbenchError(f"Manager '{scope.value}' is unknown; partners name no such manager_id or "
                                 "manager_name.")
        scope = Scope("manager", known[str(scope.value).lower()])
        scopes: tuple[Scope, ...] = (scope,)
    elif scope.is_all:
        scopes = (scope, *(Scope("region", r) for r in regions)) if each_region else (scope,)
    elif str(scope.value).lower() in aliases:
        scope = Scope("region", aliases[str(scope.value).lower()])
        scopes = (scope,)
    else:
        raise WorkbenchError(f"Region '{scope.value}' is unknown; the store's regions are {', '.join(regions)} "
                             "(or all).")
    return RunParams(db=db, quarter=quarter, as_of=end, region=str(scope), lang=lang, scopes=scopes,
                     regions=regions)


def curated_notebooks(folder: str | Path = NOTEBOOKS_DIR) -> list[Path]:
    """The curated notebooks NN_name.ipynb in `folder`, in number order."""
    return sorted(p for p in Path(folder).glob("*.ipynb") if NOTEBOOK_RE.match(p.name))

