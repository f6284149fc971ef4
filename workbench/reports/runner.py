"""Run a report pack: every curated notebook per pack with papermill (``execute``), in worker processes that
each keep one kernel (``workers``), then write the pages, the indexes, the log, the workbook and the archive."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.paths import NOTEBOOKS_DIR
from workbench.present import scope_name
from workbench.reports.execute import LOG_NAME, NotebookRun, register_engine
from workbench.reports.html import _nav, notebook_title
from workbench.reports.index import _pack_index, _snapshot, headline_from_store, write_top_index
from workbench.reports.params import RunParams, curated_notebooks, validate_params
from workbench.reports.workers import _execute, _serve  # noqa: F401 - importable from here as before
from workbench.vocab import Scope, store_currency

__all__ = ["NotebookRun", "PackResult", "register_engine", "render_pack"]

DEFAULT_JOBS = 2
XLSX_NAME = "tables.xlsx"  # per pack folder, with xlsx=True


@dataclass
class PackResult:
    """Outcome of render_pack: every notebook run, the folders written, and the wall time in seconds."""

    params: RunParams
    out: Path
    runs: list[NotebookRun] = field(default_factory=list)
    seconds: float = 0.0
    archives: list[Path] = field(default_factory=list)  # the packs' .zip files (with zip=True)

    @property
    def ok(self) -> bool:
        """True if every notebook of every pack ran."""
        return all(r.ok for r in self.runs)

    @property
    def failed(self) -> list[NotebookRun]:
        """The notebook runs that failed (their page says so in one sentence)."""
        return [r for r in self.runs if not r.ok]

    @property
    def missing(self) -> list[NotebookRun]:
        """The runs whose page could not be produced at all (`workbench report` then exits non-zero)."""
        return [r for r in self.runs if not r.produced]

    def summary(self) -> str:
        """One line of counts and where to look, then one line per failed notebook."""
        n, bad = len(self.runs), self.failed
        packs = ", ".join(self.params.packs)
        head = (f"Rendered {n - len(bad)} of {n} notebooks for {self.params.quarter} ({len(self.params.packs)} "
                f"pack{'s' if len(self.params.packs) != 1 else ''}: {packs}) in {self.seconds:.0f} s; "
                f"open {self.out / 'index.html'}.")
        lines = [head]
        for r in bad:
            what = "page kept" if r.produced else "NO PAGE"
            lines.append(f"FAILED {r.pack}/{r.notebook} at {r.error} ({what}: {r.html}; traceback in "
                         f"{r.html.parent / LOG_NAME})")
        return "\n".join(lines)



def render_pack(
    db: str | Path,
    *,
    quarter: str | None = None,
    region: str | Scope | Sequence[str | Scope] | None = "all",
    lang: str = "en",
    out: str | Path = "reports",
    notebooks: Sequence[str | Path] | None = None,
    jobs: int = DEFAULT_JOBS,
    kernel: str = "python3",
    progress: bool = True,
    reuse_kernels: bool = True,
    manager: str | None = None,
    each_region: bool = True,
    xlsx: bool = False,
    zip: bool = False,  # noqa: A002 - the command-line option's name
) -> PackResult:
    """Render the report pack(s) for a quarter and a scope; see the package docstring for the layout.

    region / manager: the scope ('all', a region, a Scope, or a manager id/name); with the company
        scope and `each_region`, one pack per region follows the company pack. A list of regions or
        Scopes renders one pack each in one run (the kernels are shared; `each_region` is ignored).
    notebooks: notebook files to run (default: every curated notebooks/NN_*.ipynb).
    jobs: notebooks executed at the same time (each in its own kernel).
    reuse_kernels: run the notebooks of all packs in one long-lived kernel per worker, reset between
        runs (user namespace, widgets, pandas options, chart bundle, cwd), so imports are paid once per
        worker; False starts a fresh kernel for every run (plain papermill behaviour, slower). A kernel
        is replaced after a failed notebook.
    xlsx: also write <pack>/tables.xlsx, each page's tables as sheets.
    zip: also write <out>/<quarter>/<pack>.zip, the pack folder as one archive to forward.
"""
    t0 = time.perf_counter()
    if isinstance(region, (list, tuple)):
        if not region:
            raise WorkbenchError("Name at least one region or manager to render.")
        parts = [validate_params(db, quarter=quarter, region=r, lang=lang, each_region=False) for r in region]
        params = replace(parts[0], scopes=tuple(dict.fromkeys(s for p in parts for s in p.scopes)))
    else:
        params = validate_params(db, quarter=quarter, region=region, lang=lang, manager=manager,
                                 each_region=each_region)
    nbs = [Path(p).resolve() for p in notebooks] if notebooks is not None else curated_notebooks()
    if not nbs:
        raise WorkbenchError(f"There is no curated notebook (NN_name.ipynb) in {NOTEBOOKS_DIR} to render.")
    out = Path(out).expanduser().resolve()
    rendered_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    currency = _currency(params.db)
    snapshots = {s: _snapshot(params.db, s, params.as_of) for s in params.scopes}
    workdir = Path(tempfile.mkdtemp(prefix="wb-report-"))
    job_list: list[dict[str, Any]] = []
    stores = {s: _store_for(params, s, workdir) for s in params.scopes}  # a manager's pack reads a copy of its own
    for scope in params.scopes:
        if stores[scope] != params.db:
            snapshots[scope] = {**_snapshot(stores[scope], Scope()),  # counts of the copy, facts of the store
                                **{k: snapshots[scope][k] for k in ("store", "store_bytes", "store_modified")}}
        folder = out / params.quarter / scope.slug
        folder.mkdir(parents=True, exist_ok=True)
        for stale in [*folder.glob("[0-9][0-9]_*.html"), *folder.glob("*.failed.ipynb"), folder / LOG_NAME,
                      folder / XLSX_NAME]:
            if stale.exists():
                stale.unlink()
        where = scope_name(scope, lang)
        nb_params = {"db": str(stores[scope]), "quarter": params.quarter, "region": scope.region or "all",
                     "lang": lang, "as_of": params.as_of.isoformat()}
        if scope.kind == "manager":
            nb_params["manager"] = scope.value
        for nb in nbs:
            job_list.append({
                "pack": str(scope), "slug": scope.slug, "notebook": str(nb), "html": str(folder / f"{nb.stem}.html"),
                "workdir": str(workdir), "kernel": kernel, "lang": lang, "tables": xlsx,
                "title": f"{notebook_title(nb.stem, lang)} · {params.quarter} · {where}",
                "nav": _nav(where, lang, params.quarter),
                "parameters": nb_params,
            })
    result = PackResult(params=params, out=out)
    try:
        result.runs = _execute(job_list, jobs=jobs, progress=progress, reuse_kernels=reuse_kernels,
                               expected=_expected_seconds(out))
        for scope in params.scopes:
            folder = out / params.quarter / scope.slug
            runs = [r for r in result.runs if r.pack == str(scope)]
            _write_log(folder / LOG_NAME, params, str(scope), runs)
            extras = {}
            if xlsx:
                from workbench.reports.tables import write_workbook

                if write_workbook(folder / XLSX_NAME, [(r.notebook, workdir / f"{scope.slug}__{r.notebook}.tables.json")
                                                       for r in runs], lang=lang):
                    extras["rep_download_xlsx"] = XLSX_NAME
            own = stores[scope] != params.db  # the manager's copy holds only their partners: read it whole
            figures: dict[str, Any] = dict(headline_from_store(stores[scope], Scope() if own else scope, params.as_of))
            for r in runs:
                figures.update(r.headline)
            (folder / "index.html").write_text(
                _pack_index(params, scope, runs, snapshots[scope], rendered_at, figures=figures, currency=currency,
                            extras=extras), encoding="utf-8")
            manifest = {"quarter": params.quarter, "pack": str(scope), "kind": scope.kind, "folder": scope.slug,
                        "lang": lang, "as_of": params.as_of.isoformat(), "rendered_at": rendered_at,
                        "ok": all(r.ok for r in runs), "currency": currency, "headline": figures,
                        "pages": [{"notebook": r.notebook, "file": r.html.name, "ok": r.ok, "produced": r.produced}
                                  for r in runs],
                        "notebooks": [r.notebook for r in runs],
                        "seconds": {r.notebook: round(r.seconds, 2) for r in runs}}
            (folder / "pack.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    write_top_index(out)
    if zip:
        for scope in params.scopes:
            result.archives.append(_zip_pack(out / params.quarter / scope.slug))
    result.seconds = time.perf_counter() - t0
    return result


def _store_for(params: RunParams, scope: Scope, workdir: Path) -> Path | str:
    """The store a pack's notebooks read: the store itself, or for a manager a copy holding only their partners
    (the notebooks scope by region; on the copy the whole company is that manager's partners)."""
    if scope.kind != "manager":
        return params.db
    from workbench.reports.scoped_store import write_manager_store

    return write_manager_store(params.db, str(scope.value), params.as_of, workdir / f"{scope.slug}.duckdb")


def _currency(db: str | Path) -> str:
    """The store's currency (ISO 4217; CNY when it records none)."""
    from workbench.reports.source import opened

    with opened(db) as con:
        return store_currency(con)


def _zip_pack(folder: Path) -> Path:
    """Write <folder>.zip holding the pack folder (pages, index, workbook; not the failed notebooks'
    copies or the log) with paths relative to the quarter folder; returns the archive's path."""
    import zipfile

    target = folder.with_suffix(".zip") if folder.suffix == "" else folder.parent / f"{folder.name}.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.iterdir()):
            if f.is_file() and not f.name.endswith(".failed.ipynb") and f.name not in (LOG_NAME, "pack.json"):
                zf.write(f, arcname=f"{folder.name}/{f.name}")
    return target


def _write_log(path: Path, params: RunParams, pack: str, runs: list[NotebookRun]) -> None:
    """Write the pack's report.log: one block per failed notebook with its full traceback (none: no file)."""
    bad = [r for r in runs if not r.ok]
    if not bad:
        return
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    blocks = [f"{stamp} {params.quarter} {pack} {r.notebook}: {r.error}\n{r.traceback.rstrip()}\n" for r in bad]
    path.write_text("\n".join(blocks), encoding="utf-8")


def _expected_seconds(out: Path) -> dict[str, float]:
    """Mean seconds per notebook in the packs already under `out` (from their pack.json), to start the
    longest notebooks first; empty when nothing was rendered there yet."""
    seen: dict[str, list[float]] = {}
    for mf in out.glob("*/*/pack.json"):
        try:
            for nb, sec in json.loads(mf.read_text(encoding="utf-8")).get("seconds", {}).items():
                seen.setdefault(nb, []).append(float(sec))
        except (OSError, ValueError, AttributeError):
            continue
    return {nb: sum(v) / len(v) for nb, v in seen.items()}
