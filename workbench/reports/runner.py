"""Run a report pack: every curated notebook per pack with papermill, in worker processes that each keep
one kernel (reset between notebooks), then write the pages and the indexes."""

from __future__ import annotations

import html
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.paths import NOTEBOOKS_DIR
from workbench.present import scope_name
from workbench.present.reports import HEADLINE_MIME, page_failed, page_missing, stopped_here
from workbench.reports.html import _nav, _page, notebook_html, notebook_title
from workbench.reports.index import _pack_index, _snapshot, headline_from_store, write_top_index
from workbench.reports.params import RunParams, curated_notebooks, validate_params
from workbench.vocab import Scope, store_currency

__all__ = ["NotebookRun", "PackResult", "register_engine", "render_pack"]

DEFAULT_JOBS = 2
EXECUTION_TIMEOUT_S = int(os.environ.get("WORKBENCH_CELL_TIMEOUT_S") or 600)  # bound on one cell (runner)
LOG_NAME = "report.log"  # per pack folder: the tracebacks of the notebooks that failed
XLSX_NAME = "tables.xlsx"  # per pack folder, with xlsx=True
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class NotebookRun:
    """Outcome of one notebook in one pack."""

    pack: str
    notebook: str  # file stem, e.g. '01_data_health'
    html: Path
    seconds: float
    error: str = ""  # one line: cell and exception, empty when it ran
    error_cell: int | None = None  # 1-based cell number in the source notebook
    produced: bool = True  # False: the page only says that the notebook could not run at all
    traceback: str = ""  # the full traceback of a failure (written to the pack's report.log, never a page)
    headline: dict[str, Any] = field(default_factory=dict)  # figures the notebook published for the index

    @property
    def ok(self) -> bool:
        """True if every cell ran."""
        return not self.error



def _source_cell_number(source_nb: Path, failing_source: str) -> int | None:
    """1-based number of the cell whose source matches `failing_source` in the source notebook."""
    import nbformat

    nb = nbformat.read(source_nb, as_version=4)
    for i, cell in enumerate(nb.cells, start=1):
        if cell.get("source", "").strip() == failing_source.strip():
            return i
    return None



_RESET_CODE = """
import warnings as _wb_w
with _wb_w.catch_warnings():
    _wb_w.simplefilter("ignore")
    try:
        import pandas as _wb_pd
        _wb_pd.reset_option("all")
    except Exception:
        pass
    try:
        import sys as _wb_sys
        if "ipywidgets" in _wb_sys.modules:  # widgets of the last run must not outlive it
            _wb_sys.modules["ipywidgets"].Widget.close_all()
    except Exception:
        pass
    try:
        import workbench.charts.render as _wb_r
        _wb_r.reset_page()
    except Exception:
        pass
import os as _wb_os
_wb_os.chdir(%(cwd)r)
get_ipython().reset(new_session=True, aggressive=False)
"""


def register_engine() -> str:
    """Register (once) and return the name of the papermill engine ``workbench``
    (:class:`workbench.papermill_engine.WorkbenchEngine`)."""
    from papermill.engines import papermill_engines

    from workbench.papermill_engine import ENGINE_NAME, WorkbenchEngine

    if ENGINE_NAME not in papermill_engines._engines:
        papermill_engines.register(ENGINE_NAME, WorkbenchEngine)
    return ENGINE_NAME


class _Kernel:
    """One long-lived kernel and its client in a worker process, reset between notebook runs."""

    def __init__(self, kernel_name: str) -> None:
        self.kernel_name = kernel_name
        self.km: Any = None
        self.kc: Any = None
        self.runs = 0

    def ready(self, cwd: str) -> bool:
        """Start the kernel in `cwd` if needed, else reset it and change to `cwd`; False if that failed."""
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        try:
            if self.km is None or not self.km.has_kernel:
                self.shutdown()
                self.km = AsyncKernelManager(kernel_name=self.kernel_name)
                run_sync(self.km.start_kernel)(cwd=cwd)
                from workbench.papermill_engine import polling

                self.kc = polling(self.km.client())
                self.kc.start_channels()
                run_sync(self.kc.wait_for_ready)(timeout=120)
                self.kc.allow_stdin = False
                self.runs = 0
            elif self.runs:
                reply = run_sync(self.kc.execute_interactive)(
                    _RESET_CODE % {"cwd": cwd}, silent=True, store_history=False, timeout=60,
                    output_hook=lambda msg: None)
                if reply["content"].get("status") != "ok":
                    raise RuntimeError("kernel reset failed")
            return True
        except Exception:  # noqa: BLE001 - a kernel that cannot start or reset is replaced by a fresh one
            self.shutdown()
            return False

    def shutdown(self) -> None:
        """Stop the client's channels and the kernel (from the worker's thread)."""
        if self.kc is not None:
            try:
                self.kc.stop_channels()
            except Exception:  # noqa: BLE001
                pass
        if self.km is not None:
            _shutdown(self.km)
        self.km = self.kc = None


def _without_live_only_cells(nb: Any) -> Any:
    """The notebook without its code cells tagged `report-skip` (live-notebook widgets): they are hidden from
    the HTML anyway, and a widget cell can leave the kernel client waiting on comm messages forever."""
    nb.cells = [c for c in nb.cells
                if not (c.cell_type == "code" and "report-skip" in c.get("metadata", {}).get("tags", []))]
    return nb


def _run_one(job: dict[str, Any], kernel: _Kernel | None = None) -> dict[str, Any]:
    """Execute one notebook with papermill and write its HTML page.

    kernel: a long-lived kernel to run in (started or reset by the caller); None starts and stops a
    fresh kernel for this notebook alone (plain papermill).
    """
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from workbench.papermill_engine import NotebookTimeout

    t0 = time.perf_counter()
    src, html_path = Path(job["notebook"]), Path(job["html"])
    slug = job.get("slug") or job["pack"]
    executed = Path(job["workdir"]) / f"{slug}__{src.name}"
    error, cell_no, what, trace = "", None, "", ""
    extra: dict[str, Any] = {"resources": {"metadata": {"path": str(src.parent)}},  # the kernel's cwd
                             "engine_name": register_engine()}
    if kernel is not None:
        extra.update(km=kernel.km, kc=kernel.kc)
        kernel.runs += 1
    live_only = executed.with_name(f"{slug}__live_only_removed__{src.name}")
    nbformat.write(_without_live_only_cells(nbformat.read(src, as_version=4)), live_only)
    try:
        pm.execute_notebook(
            str(live_only), str(executed), parameters=job["parameters"], kernel_name=job["kernel"],
            progress_bar=False, log_output=False, request_save_on_cell_execute=False,
            start_timeout=120, execution_timeout=EXECUTION_TIMEOUT_S, **extra,
        )
    except PapermillExecutionError as exc:
        cell_no = _source_cell_number(src, exc.source)
        where = f"cell {cell_no}" if cell_no else f"cell [{exc.exec_count}]"
        what = f"{exc.ename}: {str(exc.evalue).splitlines()[0] if exc.evalue else ''}".rstrip(": ")
        error = f"{where}: {what}"
        trace = _ANSI.sub("", "\n".join(exc.traceback or []))
    except NotebookTimeout as exc:  # runner: a cell that never finished, or a dead kernel (bounded wait)
        cell_no = _source_cell_number(src, exc.source) or exc.cell_index
        what, error, trace = f"cell {cell_no} {exc.reason}", f"cell {cell_no}: {exc.reason}", str(exc)
    except Exception as exc:  # noqa: BLE001 - kernel death, timeout, bad notebook: report, don't stop the pack
        what = error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
        trace = traceback.format_exc()
    produced = executed.exists()
    alert, figures = "", {}
    if produced:
        nb = nbformat.read(executed, as_version=4)
        figures = _headline(nb)
        if error:
            _mark_stop(nb, job["lang"])
            alert = page_failed(what, failed_file=html_path.with_suffix(".failed.ipynb").name,
                                log_file=LOG_NAME, lang=job["lang"])
    else:  # papermill did not even start: a page that says so
        nb = nbformat.v4.new_notebook()
        alert = page_missing(what, log_file=LOG_NAME, lang=job["lang"])
    try:
        page = notebook_html(nb, title=job["title"], lang=job["lang"], nav_html=job["nav"], alert=alert)
        html_path.write_text(page, encoding="utf-8")
        if job.get("tables"):
            from workbench.reports.tables import save_page_tables

            save_page_tables(nb, Path(job["workdir"]) / f"{slug}__{src.stem}.tables.json")
    except Exception as exc:  # noqa: BLE001 - an unrenderable notebook still gets a page that says so
        produced = False
        what = error = error or f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        trace = trace or traceback.format_exc()
        _write_missing(job, page_missing(what, log_file=LOG_NAME, lang=job["lang"]))
    if error and executed.exists():
        shutil.copyfile(executed, html_path.with_suffix(".failed.ipynb"))
    return {"pack": job["pack"], "notebook": src.stem, "html": str(html_path),
            "seconds": time.perf_counter() - t0, "error": error, "error_cell": cell_no,
            "produced": produced, "traceback": trace, "headline": figures}


def _headline(nb: Any) -> dict[str, Any]:
    """The figures the notebook published with ``present.reports.headline`` (merged, later wins)."""
    figures: dict[str, Any] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            got = out.get("data", {}).get(HEADLINE_MIME)
            if isinstance(got, dict):
                figures.update(got)
    return figures


def _mark_stop(nb: Any, lang: str) -> None:
    """Put a 'the page stops here' note in place of the error output of the cell that failed."""
    import nbformat

    for cell in nb.cells:
        outs = cell.get("outputs", []) if cell.get("cell_type") == "code" else []
        if any(o.get("output_type") == "error" for o in outs):
            outs.append(nbformat.v4.new_output("display_data", data={"text/markdown": stopped_here(lang)}))
            return


def _write_missing(job: dict[str, Any], sentence: str) -> None:
    """Write a page holding only its title and `sentence` (the notebook produced nothing)."""
    try:
        body = f"<h1>{html.escape(job['title'])}</h1><p class=failed>{html.escape(sentence)}</p>"
        Path(job["html"]).write_text(_page(job["title"], body, job["lang"]), encoding="utf-8")
    except OSError:
        pass


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


def _store_for(params: RunParams, scope: Scope, workdir: Path) -> Path:
    """The store a pack's notebooks read: the store itself, or for a manager a copy holding only their partners
    (the notebooks scope by region; on the copy the whole company is that manager's partners)."""
    if scope.kind != "manager":
        return params.db
    from workbench.reports.scoped_store import write_manager_store

    return write_manager_store(params.db, str(scope.value), params.as_of, workdir / f"{scope.slug}.duckdb")


def _currency(db: Path) -> str:
    """The store's currency (ISO 4217; CNY when it records none)."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return store_currency(con)
    finally:
        con.close()


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


def _shutdown(km: Any) -> None:
    """Stop a kernel started by a worker (from the same worker thread)."""
    from jupyter_core.utils import run_sync

    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # noqa: BLE001 - the kernel may already be gone
        pass


def _run_sequence(jobs: Any, *, reuse: bool, emit: Any) -> None:
    """Run jobs one after the other in this thread; with `reuse`, in one kernel that is reset between
    jobs (replaced after a failed notebook or a failed reset). `emit(result)` is called after each job."""
    kernel = _Kernel(kernel_name="python3") if reuse else None
    try:
        for job in jobs:
            use = None
            if kernel is not None:
                kernel.kernel_name = job["kernel"]
                if kernel.ready(str(Path(job["notebook"]).parent)):
                    use = kernel
            try:
                res = _run_one(job, kernel=use)
            except Exception as exc:  # noqa: BLE001 - a crashed job is one failed notebook
                res = _crashed(job, f"{type(exc).__name__}: {exc}", traceback.format_exc())
            if res["error"] and kernel is not None:
                kernel.shutdown()  # never reuse a kernel after a failure
            emit(res)
    finally:
        if kernel is not None:
            kernel.shutdown()


def _crashed(job: dict[str, Any], error: str, trace: str = "") -> dict[str, Any]:
    """The result of a job whose worker crashed; writes a page that says so (the index links to it)."""
    _write_missing(job, page_missing(error, log_file=LOG_NAME, lang=job["lang"]))
    return {"pack": job["pack"], "notebook": Path(job["notebook"]).stem, "html": job["html"], "seconds": 0.0,
            "error": error, "error_cell": None, "produced": False, "traceback": trace}


def _serve(reuse: bool) -> int:
    """Worker process (``python -m workbench.reports _worker``): jobs as JSON lines on stdin, one result
    line per job on stdout. Separate processes, not threads: kernel clients in two threads of one
    process can stall each other (ipywidgets comms), and a process keeps its kernel between jobs."""
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to stderr
    sys.stdout = sys.stderr

    def jobs() -> Any:
        for line in sys.stdin:
            if line.strip():
                yield json.loads(line)

    def emit(res: dict[str, Any]) -> None:
        proto.write(json.dumps(res, ensure_ascii=False) + "\n")

    _run_sequence(jobs(), reuse=reuse, emit=emit)
    return 0


# Worker processes (and the kernels they start) run side by side, one per core: a multi-threaded BLAS in
# each would oversubscribe the cores and spin (several times the CPU on small model fits).
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _worker_process(reuse: bool) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "workbench.reports", "_worker", *([] if reuse else ["--fresh"])]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
                            env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1", **_ONE_THREAD})


def _feed(todo: queue.Queue, reuse: bool, emit: Any) -> None:
    """Hand jobs one at a time to a worker process until the queue is empty (respawn it if it dies)."""
    proc = None
    try:
        while True:
            try:
                job = todo.get_nowait()
            except queue.Empty:
                return
            if proc is None or proc.poll() is not None:
                proc = _worker_process(reuse)
            try:
                proc.stdin.write(json.dumps(job, ensure_ascii=False) + "\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
            except OSError:
                line = ""
            emit(json.loads(line) if line else _crashed(job, "the worker process died"))
    finally:
        if proc is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
            proc.wait()


def _execute(job_list: list[dict[str, Any]], *, jobs: int, progress: bool, reuse_kernels: bool,
             expected: dict[str, float] | None = None) -> list[NotebookRun]:
    """Run the jobs `jobs` at a time (worker processes, each driving its own kernel), with a tqdm bar;
    notebooks with the longest `expected` seconds start first. Runs come back in `job_list` order."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(job_list), desc="report", unit="notebook", disable=not progress, file=sys.stderr)
    lock = threading.Lock()
    done: list[dict[str, Any]] = []

    def emit(res: dict[str, Any]) -> None:
        with lock:
            done.append(res)
            bar.set_postfix_str(f"{res['pack']}/{res['notebook']}")
            bar.update()

    expected = expected or {}
    ordered = sorted(job_list, key=lambda j: -expected.get(Path(j["notebook"]).stem, 0.0))  # stable
    try:
        if jobs <= 1:
            _run_sequence(ordered, reuse=reuse_kernels, emit=emit)
        else:
            todo: queue.Queue = queue.Queue()
            for job in ordered:
                todo.put(job)
            feeders = [threading.Thread(target=_feed, args=(todo, reuse_kernels, emit), daemon=True)
                       for _ in range(jobs)]
            for t in feeders:
                t.start()
            for t in feeders:
                t.join()
    finally:
        bar.close()
    order = {(j["pack"], Path(j["notebook"]).stem): i for i, j in enumerate(job_list)}
    runs = [NotebookRun(pack=d["pack"], notebook=d["notebook"], html=Path(d["html"]), seconds=d["seconds"],
                        error=d["error"], error_cell=d["error_cell"], produced=d.get("produced", True),
                        traceback=d.get("traceback", ""), headline=d.get("headline", {})) for d in done]
    return sorted(runs, key=lambda r: order.get((r.pack, r.notebook), 0))

