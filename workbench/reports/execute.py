"""One notebook of a pack: run it with papermill (in a long-lived kernel that is reset between runs, or a
fresh one), then write its HTML page and collect the headline figures it published."""

from __future__ import annotations

import html
import os
import re
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.present.reports import HEADLINE_MIME, page_failed, page_missing, stopped_here
from workbench.reports.html import _page, notebook_html

__all__ = ["EXECUTION_TIMEOUT_S", "LOG_NAME", "NotebookRun", "register_engine"]

EXECUTION_TIMEOUT_S = int(os.environ.get("WORKBENCH_CELL_TIMEOUT_S") or 600)  # bound on one cell (runner)
LOG_NAME = "report.log"  # per pack folder: the tracebacks of the notebooks that failed
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


def _shutdown(km: Any) -> None:
    """Stop a kernel started by a worker (from the same worker thread)."""
    from jupyter_core.utils import run_sync

    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # noqa: BLE001 - the kernel may already be gone
        pass
