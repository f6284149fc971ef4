"""Report packs: run the curated notebooks with papermill, render self-contained scoped HTML, index them.

``render_pack(db, quarter=..., region=..., lang=..., out=...)`` validates its parameters first (nothing
runs on a bad quarter or region), executes every ``notebooks/NN_*.ipynb`` with papermill (parameters
``db``, ``quarter``, ``region``, ``lang``, ``as_of``; a fresh ``python3`` kernel per notebook, two at a
time), renders HTML without code cells and writes::

    <out>/index.html                          every pack rendered so far
    <out>/<quarter>/<region>/NN_name.html      one page per notebook
    <out>/<quarter>/<region>/index.html        links, run parameters, data snapshot

``region="all"`` renders the company pack (folder ``all``) plus one pack per region. A failing notebook
does not stop the others: its page is kept with the error cell, its executed ``.ipynb`` is kept next to
it, and ``PackResult.ok`` is False.

Pages are self-contained: charts use the offline renderer of ``workbench.charts.render`` (vega bundle
once per page, SVG fallback), the page template loads no require.js / MathJax / mermaid / widget
manager, widget views (which need a live kernel) are dropped, and a final pass removes any remaining
``<script src>`` / ``<link href>`` / ``<img src>`` that points at the network.
"""

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from workbench.errors import WorkbenchError
from workbench.i18n import label
from workbench.paths import NOTEBOOKS_DIR

__all__ = [
    "NotebookRun",
    "PackResult",
    "RunParams",
    "curated_notebooks",
    "latest_complete_quarter",
    "notebook_html",
    "register_engine",
    "render_pack",
    "sanitize_html",
    "validate_params",
    "write_top_index",
]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "wb_report"
QUARTER_RE = re.compile(r"^(\d{4})Q([1-4])$")
NOTEBOOK_RE = re.compile(r"^\d\d_[A-Za-z0-9_]+\.ipynb$")
COMPANY = "all"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
DEFAULT_JOBS = 2
EXECUTION_TIMEOUT_S = 600
PARTNER_TABLES = ("orders", "incentives", "surveys", "trainings", "conflicts", "actions", "coverage")


# --------------------------------------------------------------------------------------------------
# parameters


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


# --------------------------------------------------------------------------------------------------
# HTML


_NET_TAG = re.compile(
    r"<(script|link|img|iframe|source|video|audio|embed)\b[^>]*?\b(src|href)\s*=\s*['\"]?\s*(https?:)?//[^>]*>"
    r"(\s*</\1>)?",
    re.IGNORECASE,
)
_NET_CSS = re.compile(r"@import\s+(url\()?\s*['\"]?(https?:)?//[^;]*;|url\(\s*['\"]?(https?:)?//[^)]*\)", re.IGNORECASE)


def sanitize_html(page: str) -> str:
    """Remove every element and CSS rule that would load something from the network."""
    page = _NET_TAG.sub("", page)
    return _NET_CSS.sub("", page)


def _strip_for_report(nb: Any) -> Any:
    """Drop what cannot live in a static page: widget views and state, stderr noise, empty outputs."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                continue
            data = out.get("data")
            if data is not None:
                if WIDGET_VIEW in data:
                    data.pop(WIDGET_VIEW)
                    data.pop("text/plain", None)  # "IntSlider(value=3)" is noise without the widget
                if not data:
                    continue
            kept.append(out)
        cell["outputs"] = kept
    return nb


def _ensure_one_bundle(page: str) -> str:
    """Make sure a page with charts carries the vega bundle: add it to <head> if no output brought it."""
    from workbench.charts.render import BUNDLE_MARKER, vega_bundle_script

    if 'class="wb-chart"' in page and f'id="{BUNDLE_MARKER}"' not in page:
        page = page.replace("</head>", vega_bundle_script() + "\n</head>", 1)
    return page


_LOCAL = threading.local()


def _exporter(lang: str) -> Any:
    """One configured HTMLExporter per thread and language (building it costs ~0.3 s; not thread-safe)."""
    cache = _LOCAL.__dict__.setdefault("exporters", {})
    if lang not in cache:
        from nbconvert import HTMLExporter
        from traitlets.config import Config

        cfg = Config()
        cfg.TagRemovePreprocessor.enabled = True
        cfg.TagRemovePreprocessor.remove_cell_tags = ("remove-cell", "report-skip")
        cfg.TagRemovePreprocessor.remove_all_outputs_tags = ("remove-output",)
        cfg.TagRemovePreprocessor.remove_input_tags = ("remove-input",)
        exp = HTMLExporter(config=cfg, template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATES_DIR)])
        exp.exclude_input = True
        exp.exclude_input_prompt = True
        exp.exclude_output_prompt = True
        exp.language_code = "zh-CN" if lang == "zh" else "en"
        exp.mathjax_url = ""
        cache[lang] = exp
    return cache[lang]


def notebook_html(nb: Any, *, title: str, lang: str = "en", nav_html: str = "") -> str:
    """Self-contained report HTML of an executed notebook: no code, no widgets, no network reference."""
    nb = _strip_for_report(nb)
    nb.metadata["title"] = title
    body, _ = _exporter(lang).from_notebook_node(nb, resources={"metadata": {"name": title}, "wb_nav": nav_html})
    return sanitize_html(_ensure_one_bundle(body))


# --------------------------------------------------------------------------------------------------
# execution (one notebook per worker thread; each notebook runs in its own kernel process)


@dataclass
class NotebookRun:
    """Outcome of one notebook in one pack."""

    pack: str
    notebook: str  # file stem, e.g. '01_data_health'
    html: Path
    seconds: float
    error: str = ""  # one line: cell and exception, empty when it ran
    error_cell: int | None = None  # 1-based cell number in the source notebook

    @property
    def ok(self) -> bool:
        """True if every cell ran."""
        return not self.error


def notebook_title(stem: str, lang: str) -> str:
    """Display title of a curated notebook: the i18n label 'nb_<stem>', else the stem made readable."""
    key = f"nb_{stem}"
    text = label(key, lang)
    return text if text != key else stem[3:].replace("_", " ").capitalize()


def _source_cell_number(source_nb: Path, failing_source: str) -> int | None:
    """1-based number of the cell whose source matches `failing_source` in the source notebook."""
    import nbformat

    nb = nbformat.read(source_nb, as_version=4)
    for i, cell in enumerate(nb.cells, start=1):
        if cell.get("source", "").strip() == failing_source.strip():
            return i
    return None


def _nav(pack: str, lang: str, quarter: str) -> str:
    """The small bar on top of every page: back to the pack index, quarter and region."""
    scope = label(COMPANY, lang) if pack == COMPANY else label(pack, lang)
    return (f'<a href="index.html">&larr; {html.escape(label("rep_pack_index", lang))}</a>'
            f"{html.escape(label('quarter', lang))} {html.escape(quarter)} · "
            f"{html.escape(label('region', lang))} {html.escape(scope)}")


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

    t0 = time.perf_counter()
    src, html_path = Path(job["notebook"]), Path(job["html"])
    executed = Path(job["workdir"]) / f"{job['pack']}__{src.name}"
    error, cell_no = "", None
    extra: dict[str, Any] = {"resources": {"metadata": {"path": str(src.parent)}},  # the kernel's cwd
                             "engine_name": register_engine()}
    if kernel is not None:
        extra.update(km=kernel.km, kc=kernel.kc)
        kernel.runs += 1
    live_only = executed.with_name(f"{job['pack']}__live_only_removed__{src.name}")
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
        error = f"{where}: {exc.ename}: {str(exc.evalue).splitlines()[0] if exc.evalue else ''}".rstrip(": ")
    except Exception as exc:  # noqa: BLE001 - kernel death, timeout, bad notebook: report, don't stop the pack
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    if executed.exists():
        nb = nbformat.read(executed, as_version=4)
    else:  # papermill did not even start: show the error on an otherwise empty page
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"**{src.stem}** could not run: `{error}`")]
    page = notebook_html(nb, title=job["title"], lang=job["lang"], nav_html=job["nav"])
    html_path.write_text(page, encoding="utf-8")
    if error and executed.exists():
        shutil.copyfile(executed, html_path.with_suffix(".failed.ipynb"))
    return {"pack": job["pack"], "notebook": src.stem, "html": str(html_path),
            "seconds": time.perf_counter() - t0, "error": error, "error_cell": cell_no}


# --------------------------------------------------------------------------------------------------
# index pages


def _snapshot(db: Path, pack: str) -> dict[str, Any]:
    """Store file, its size and time, and row counts (restricted to the pack's region)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        if pack == COMPANY:
            scope, args = "", []
        else:
            scope, args = " WHERE partner_id IN (SELECT partner_id FROM partners WHERE region = ?)", [pack]
        counts = {"partners": con.execute(f"SELECT count(*) FROM partners{scope}", args).fetchone()[0]}
        for t in PARTNER_TABLES:
            try:
                counts[t] = con.execute(f"SELECT count(*) FROM {t}{scope}", args).fetchone()[0]
            except duckdb.Error:
                continue
        if pack == COMPANY:
            try:
                counts["quarantine"] = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
            except duckdb.Error:
                pass
        (max_date,) = con.execute(f"SELECT max(order_date) FROM orders{scope}", args).fetchone()
    finally:
        con.close()
    st = db.stat()
    return {
        "store": db.name, "store_bytes": st.st_size,
        "store_modified": datetime.fromtimestamp(st.st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "last_order_date": str(max_date) if max_date else "", "row_counts": counts,
    }


_PAGE_CSS = """
body{font-family:"Microsoft YaHei","PingFang SC","Noto Sans CJK SC","WenQuanYi Micro Hei","Segoe UI",Arial,sans-serif;
max-width:960px;margin:24px auto;padding:0 16px;color:#222;line-height:1.5}
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 10px;text-align:left}
th{background:#f4f6f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
a{color:#1f5fa8}.failed{color:#b3261e;font-weight:bold}.ok{color:#2e7d32}.muted{color:#666;font-size:13px}
"""


def _page(title: str, body: str, lang: str) -> str:
    """A small standalone HTML page (no script, no external resource)."""
    code = "zh-CN" if lang == "zh" else "en"
    return (f'<!DOCTYPE html>\n<html lang="{code}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_PAGE_CSS}</style></head>"
            f"<body>{body}</body></html>\n")


def _pack_index(params: RunParams, pack: str, runs: list[NotebookRun], snapshot: dict[str, Any],
                rendered_at: str) -> str:
    """HTML of a pack's index page: links with status, run parameters, data snapshot."""
    lang = params.lang
    esc = html.escape
    scope = label(COMPANY, lang) if pack == COMPANY else label(pack, lang)
    title = f"{label('rep_title', lang)} · {params.quarter} · {scope}"
    rows = []
    for r in sorted(runs, key=lambda r: r.notebook):
        status = (f'<span class="ok">{esc(label("rep_ok", lang))}</span>' if r.ok else
                  f'<span class="failed">{esc(label("rep_failed", lang))}: {esc(r.error)}</span>')
        rows.append(f'<tr><td><a href="{esc(r.html.name)}">{esc(notebook_title(r.notebook, lang))}</a></td>'
                    f"<td>{status}</td></tr>")
    params_rows = [
        ("quarter", params.quarter), ("region", scope), ("rep_as_of", params.as_of.isoformat()),
        ("rep_lang", lang), ("rep_rendered_at", rendered_at),
    ]
    snap_rows = [("rep_store", snapshot["store"]), ("rep_store_modified", snapshot["store_modified"]),
                 ("rep_last_order", snapshot["last_order_date"])]
    count_rows = "".join(f'<tr><td>{esc(t)}</td><td class="num">{n:,}</td></tr>'
                         for t, n in snapshot["row_counts"].items())
    kv = "".join(f"<tr><th>{esc(label(k, lang))}</th><td>{esc(str(v))}</td></tr>" for k, v in params_rows)
    sv = "".join(f"<tr><th>{esc(label(k, lang))}</th><td>{esc(str(v))}</td></tr>" for k, v in snap_rows)
    body = (
        f"<h1>{esc(title)}</h1>"
        f'<p class="muted"><a href="../../index.html">{esc(label("rep_all_packs", lang))}</a></p>'
        f"<h2>{esc(label('rep_notebooks', lang))}</h2><table>{''.join(rows)}</table>"
        f"<h2>{esc(label('rep_parameters', lang))}</h2><table>{kv}</table>"
        f"<h2>{esc(label('rep_snapshot', lang))}</h2><table>{sv}</table>"
        f"<table><tr><th>{esc(label('rep_table', lang))}</th><th>{esc(label('rep_rows', lang))}</th></tr>{count_rows}</table>"
        f'<p class="muted">{esc(label("rep_offline_note", lang))}</p>'
    )
    return _page(title, body, lang)


def write_top_index(out: str | Path) -> Path:
    """Write <out>/index.html listing every pack found under <out> (from each pack's pack.json)."""
    out = Path(out)
    manifests = []
    for mf in sorted(out.glob("*/*/pack.json")):
        try:
            manifests.append(json.loads(mf.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    esc = html.escape
    lang = manifests[-1]["lang"] if manifests else "en"
    by_quarter: dict[str, list[dict[str, Any]]] = {}
    for m in manifests:
        by_quarter.setdefault(m["quarter"], []).append(m)
    parts = [f"<h1>{esc(label('rep_title', lang))}</h1>"]
    for q in sorted(by_quarter, reverse=True):
        packs = sorted(by_quarter[q], key=lambda m: (m["pack"] != COMPANY, m["pack"]))
        items = "".join(
            f'<tr><td><a href="{esc(q)}/{esc(m["folder"])}/index.html">'
            f'{esc(label(COMPANY, m["lang"]) if m["pack"] == COMPANY else label(m["pack"], m["lang"]))}</a></td>'
            f'<td>{esc(m["lang"])}</td><td>{esc(m["rendered_at"])}</td>'
            f'<td>{"" if m["ok"] else "<span class=failed>" + esc(label("rep_failed", m["lang"])) + "</span>"}</td></tr>'
            for m in packs)
        parts.append(f"<h2>{esc(q)}</h2><table>{items}</table>")
    path = out / "index.html"
    path.write_text(_page(label("rep_title", lang), "".join(parts), lang), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# the pack


@dataclass
class PackResult:
    """Outcome of render_pack: every notebook run, the folders written, and the wall time in seconds."""

    params: RunParams
    out: Path
    runs: list[NotebookRun] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True if every notebook of every pack ran."""
        return all(r.ok for r in self.runs)

    @property
    def failed(self) -> list[NotebookRun]:
        """The notebook runs that failed."""
        return [r for r in self.runs if not r.ok]

    def summary(self) -> str:
        """One line of counts and where to look, then one line per failed notebook."""
        n, bad = len(self.runs), self.failed
        packs = ", ".join(self.params.packs)
        head = (f"Rendered {n - len(bad)} of {n} notebooks for {self.params.quarter} ({len(self.params.packs)} "
                f"pack{'s' if len(self.params.packs) != 1 else ''}: {packs}) in {self.seconds:.0f} s; "
                f"open {self.out / 'index.html'}.")
        lines = [head]
        for r in bad:
            lines.append(f"FAILED {r.pack}/{r.notebook} at {r.error} (page kept: {r.html})")
        return "\n".join(lines)


def _folder(pack: str) -> str:
    """A safe folder name for a pack."""
    return re.sub(r"[\\/:*?\"<>|\s]+", "_", pack).strip("._") or "region"


def render_pack(
    db: str | Path,
    *,
    quarter: str | None = None,
    region: str = "all",
    lang: str = "en",
    out: str | Path = "reports",
    notebooks: Sequence[str | Path] | None = None,
    jobs: int = DEFAULT_JOBS,
    kernel: str = "python3",
    progress: bool = True,
    reuse_kernels: bool = True,
) -> PackResult:
    """Render the report pack(s) for a quarter and region; see the module docstring for the layout.

    notebooks: notebook files to run (default: every curated notebooks/NN_*.ipynb).
    jobs: notebooks executed at the same time (each in its own kernel).
    reuse_kernels: run the notebooks of all packs in one long-lived kernel per worker, reset between
        runs (user namespace, widgets, pandas options, chart bundle, cwd), so imports are paid once per
        worker; False starts a fresh kernel for every run (plain papermill behaviour, slower). A kernel
        is replaced after a failed notebook.
"""
    t0 = time.perf_counter()
    params = validate_params(db, quarter=quarter, region=region, lang=lang)
    nbs = [Path(p).resolve() for p in notebooks] if notebooks is not None else curated_notebooks()
    if not nbs:
        raise WorkbenchError(f"There is no curated notebook (NN_name.ipynb) in {NOTEBOOKS_DIR} to render.")
    out = Path(out).expanduser().resolve()
    rendered_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    snapshots = {pack: _snapshot(params.db, pack) for pack in params.packs}
    workdir = Path(tempfile.mkdtemp(prefix="wb-report-"))
    job_list: list[dict[str, Any]] = []
    for pack in params.packs:
        folder = out / params.quarter / _folder(pack)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in [*folder.glob("[0-9][0-9]_*.html"), *folder.glob("*.failed.ipynb")]:
            stale.unlink()
        for nb in nbs:
            job_list.append({
                "pack": pack, "notebook": str(nb), "html": str(folder / f"{nb.stem}.html"),
                "workdir": str(workdir), "kernel": kernel, "lang": lang,
                "title": f"{notebook_title(nb.stem, lang)} · {params.quarter} · "
                         f"{label(COMPANY, lang) if pack == COMPANY else label(pack, lang)}",
                "nav": _nav(pack, lang, params.quarter),
                "parameters": {"db": str(params.db), "quarter": params.quarter, "region": pack,
                               "lang": lang, "as_of": params.as_of.isoformat()},
            })
    result = PackResult(params=params, out=out)
    try:
        result.runs = _execute(job_list, jobs=jobs, progress=progress, reuse_kernels=reuse_kernels,
                               expected=_expected_seconds(out))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for pack in params.packs:
        folder = out / params.quarter / _folder(pack)
        runs = [r for r in result.runs if r.pack == pack]
        (folder / "index.html").write_text(
            _pack_index(params, pack, runs, snapshots[pack], rendered_at), encoding="utf-8")
        manifest = {"quarter": params.quarter, "pack": pack, "folder": _folder(pack), "lang": lang,
                    "as_of": params.as_of.isoformat(), "rendered_at": rendered_at, "ok": all(r.ok for r in runs),
                    "notebooks": [r.notebook for r in runs],
                    "seconds": {r.notebook: round(r.seconds, 2) for r in runs}}
        (folder / "pack.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    write_top_index(out)
    result.seconds = time.perf_counter() - t0
    return result


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
                res = _crashed(job, f"{type(exc).__name__}: {exc}")
            if res["error"] and kernel is not None:
                kernel.shutdown()  # never reuse a kernel after a failure
            emit(res)
    finally:
        if kernel is not None:
            kernel.shutdown()


def _crashed(job: dict[str, Any], error: str) -> dict[str, Any]:
    """The result of a job whose worker crashed; writes a page that says so (the index links to it)."""
    try:
        body = f"<h1>{html.escape(job['title'])}</h1><p class=failed>{html.escape(error)}</p>"
        Path(job["html"]).write_text(_page(job["title"], body, job["lang"]), encoding="utf-8")
    except OSError:
        pass
    return {"pack": job["pack"], "notebook": Path(job["notebook"]).stem, "html": job["html"], "seconds": 0.0,
            "error": error, "error_cell": None}


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
                        error=d["error"], error_cell=d["error_cell"]) for d in done]
    return sorted(runs, key=lambda r: order.get((r.pack, r.notebook), 0))


if __name__ == "__main__" and sys.argv[1:2] == ["_worker"]:
    sys.exit(_serve(reuse="--fresh" not in sys.argv))
