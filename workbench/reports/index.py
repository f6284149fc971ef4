"""Index pages: one per pack (links, parameters, data snapshot) and one over every pack rendered."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from workbench.i18n import label
from workbench.reports.html import _page, notebook_title
from workbench.reports.params import COMPANY, RunParams

if TYPE_CHECKING:
    from workbench.reports.runner import NotebookRun

__all__ = ["write_top_index"]

PARTNER_TABLES = ("orders", "incentives", "surveys", "trainings", "conflicts", "actions", "coverage")


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

