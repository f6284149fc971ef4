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

`db` is a DuckDB store file or an Ibis connection URL (``pyspark:///DIR``; no manager packs there): the
notebooks open it with ``workbench.backends.connect`` and ``source`` queries it through Ibis.

Modules: ``params`` (checks against the store), ``source`` (the store on any backend), ``html`` (pages),
``index`` (index pages), ``runner`` (a pack), ``execute`` (one notebook in a kernel), ``workers`` (worker
processes), ``scoped_store`` (a manager's copy), ``tables`` (the workbook).
"""

from __future__ import annotations

from workbench.reports.html import notebook_html, notebook_title, sanitize_html
from workbench.reports.index import write_top_index
from workbench.reports.params import (
    COMPANY,
    RunParams,
    curated_notebooks,
    latest_complete_quarter,
    validate_params,
)
from workbench.reports.runner import NotebookRun, PackResult, register_engine, render_pack

__all__ = [
    "COMPANY",
    "NotebookRun",
    "PackResult",
    "RunParams",
    "curated_notebooks",
    "latest_complete_quarter",
    "notebook_html",
    "notebook_title",
    "register_engine",
    "render_pack",
    "sanitize_html",
    "validate_params",
    "write_top_index",
]
