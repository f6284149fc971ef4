"""Report parameters: checked against the store before anything runs (quarter, region, language)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.i18n import label
from workbench.paths import NOTEBOOKS_DIR
from workbench.reports.source import as_date, is_url, opened, shown, target
from workbench.vocab import Quarter, Scope

__all__ = ["COMPANY", "RunParams", "curated_notebooks", "latest_complete_quarter", "validate_params"]

QUARTER_RE = re.compile(r"^(\d{4})Q([1-4])$")
NOTEBOOK_RE = re.compile(r"^\d\d_[A-Za-z0-9_]+\.ipynb$")
COMPANY = "all"


@dataclass(frozen=True)
class RunParams:
    """Validated parameters of one run: quarter (e.g. '2026Q3'), as_of (its last day), scopes to render."""

    db: Path | str  # the store file, or a connection URL (pyspark:///DIR)
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


def _last_order_date(db: str | Path) -> date | None:
    """The store's last order date (None: no orders); a store without the workbench tables is one sentence."""
    with opened(db) as con:
        try:
            return as_date(con.table("orders").order_date.max().execute())
        except Exception as exc:  # noqa: BLE001 - any backend's error: the tables are not there
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise WorkbenchError(f"The store {shown(db)} does not hold the workbench tables ({first}).") from exc


def _store_facts(db: str | Path, when: date | None = None) -> tuple[tuple[str, ...], dict[str, str]]:
    """Regions of the store (those partners had on `when`, when given) and a map of lower-cased/Chinese
    region names."""
    from workbench.store import partners_at

    with opened(db) as con:
        p = con.table("partners")
        p = partners_at(con, p, when) if when is not None else p
        regions = tuple(sorted(str(r) for r in
                               p.filter(p.region.notnull()).select("region").distinct().to_pandas()["region"]))
    aliases = {}
    for r in regions:
        aliases[r.lower()] = r
        aliases[label(r, "zh").lower()] = r
    return regions, aliases


def _orders_in(db: str | Path, start: date, end: date) -> int:
    """Number of order lines dated in [start, end]."""
    with opened(db) as con:
        o = con.table("orders")
        return int(o.filter(o.order_date.between(start, end)).count().execute())


def _managers(db: str | Path) -> dict[str, str]:
    """Lower-cased manager ids and names of the store → manager id (empty when partners have no manager_id)."""
    with opened(db) as con:
        p = con.table("partners")
        if "manager_id" not in p.columns:
            return {}
        name = "manager_name" if "manager_name" in p.columns else "manager_id"
        rows = p.filter(p.manager_id.notnull()).select(mid=p.manager_id, mname=p[name]).distinct().to_pandas()
    out: dict[str, str] = {}
    for mid, mname in rows.itertuples(index=False):
        out[str(mid).lower()] = str(mid)
        if mname is not None and not (isinstance(mname, float) and mname != mname):
            out[str(mname).lower()] = str(mid)
    return out


def validate_params(db: str | Path, *, quarter: str | None, region: str | Scope | None = "all", lang: str,
                    manager: str | None = None, each_region: bool = True) -> RunParams:
    """Check every parameter against the store before anything runs; WorkbenchError (one sentence) if wrong.

    region: 'all' (any case, also 全部), a region name (any case, or its Chinese label), or a Scope.
    manager: a manager id or name instead of a region (one pack of that manager's partners).
    each_region: with the company scope, also render one pack per region (default True).
    """
    db = target(db)
    if lang not in ("en", "zh"):
        raise WorkbenchError(f"Language '{lang}' is not supported; use en or zh.")
    if quarter is not None:
        try:
            if not QUARTER_RE.match(str(Quarter.parse(str(quarter).strip()))):
                raise WorkbenchError(str(quarter))
        except WorkbenchError:
            raise WorkbenchError(f"Quarter '{quarter}' is malformed; write it like 2026Q3.") from None
    if not is_url(db) and not Path(db).exists():
        raise WorkbenchError(f"The store {db} does not exist; run `workbench demo` or `workbench ingest` first.")
    max_date = _last_order_date(db)
    if max_date is None:
        raise WorkbenchError(f"The store {shown(db)} holds no orders, so there is nothing to report.")
    if quarter is None:
        quarter = latest_complete_quarter(max_date)
    quarter = str(Quarter.parse(str(quarter).strip()))
    start, end = _quarter_bounds(quarter)
    if _orders_in(db, start, end) == 0:
        raise WorkbenchError(f"The store holds no orders in {quarter} ({start} to {end}); choose another quarter.")
    regions, aliases = _store_facts(db, end)  # the regions as partners had them at the quarter's end
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

