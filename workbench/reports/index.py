"""Index pages: one per pack (headline figures, links, parameters, data snapshot) and one over every pack.

Headline figures of a pack (``headline``): net sales in the quarter's last month and its change on the
month before, partners active in the 90 days to as_of, rebate discrepancies from the rebate audit
(``workbench.rebates``, as on page 06) of every ledger row whose period ended by as_of, with payments made
after as_of counted as not made: the rows with a discrepancy (status due_misstated, unpaid_overdue,
underpaid or overpaid; a row not yet due is not one), of them the rows whose ledger due is misstated, and
the underpaid and overpaid amounts kept apart, never netted — read from the store here — plus the churn-risk count,
the sales at risk and the number of alerts, which the notebooks publish with
``workbench.present.reports.headline`` (a page that did not publish them shows "–").
"""

from __future__ import annotations

import html
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.i18n import label
from workbench.present import scope_name
from workbench.reports.html import _page, notebook_title
from workbench.reports.params import RunParams
from workbench.reports.source import as_date, is_url, opened, store_label
from workbench.vocab import Scope, format_money

if TYPE_CHECKING:
    from workbench.reports.runner import NotebookRun

__all__ = ["HEADLINE_KEYS", "headline_from_store", "rebate_headline", "write_top_index"]

PARTNER_TABLES = ("orders", "incentives", "surveys", "trainings", "conflicts", "actions", "coverage")
# (key, kind) in display order; kind: money, pct (a change, 0.05 = +5%), count
HEADLINE_KEYS: tuple[tuple[str, str], ...] = (
    ("monthly_sales", "money"), ("sales_change", "pct"), ("active_partners", "count"),
    ("churn_risk_count", "count"), ("value_at_risk", "money"),
    ("rebate_discrepancies", "count"), ("rebate_misstated", "count"), ("rebate_underpaid", "money"),
    ("rebate_overpaid", "money"), ("alerts", "count"),
)
DISCREPANCY_STATUSES = ("due_misstated", "unpaid_overdue", "underpaid", "overpaid")  # not "pending", not "ok"
_HEAD_LABEL = {
    "monthly_sales": "rep_monthly_sales", "sales_change": "rep_sales_change", "active_partners": "rep_active_partners",
    "churn_risk_count": "rep_risk_count", "value_at_risk": "rep_value_at_risk",
    "rebate_discrepancies": "rep_rebate_discrepancies", "rebate_misstated": "rep_rebate_misstated",
    "rebate_underpaid": "rep_rebate_underpaid", "rebate_overpaid": "rep_rebate_overpaid",
    "alerts": "rep_alerts",
}


def _scoped(con: ibis.BaseBackend, table: str, scope: Scope, as_of: date | None = None) -> ir.Table:
    """`table` restricted to the scope's partners (by the region or manager they had at `as_of`, when given)."""
    t = con.table(table)
    if scope.is_all:
        return t
    from workbench.store import partners_at

    p = con.table("partners")
    p = partners_at(con, p, as_of) if as_of is not None else p
    col = "region" if scope.kind == "region" else "manager_id"
    ids = p.filter(p[col] == str(scope.value)).select("partner_id")
    return t.filter(t.partner_id.isin(ids.partner_id))


def _snapshot(db: str | Path, scope: Scope, as_of: date | None = None) -> dict[str, Any]:
    """Store file (or URL), its size and time (a file's only), and row counts (restricted to the pack's
    partners at `as_of`)."""
    with opened(db) as con:
        present = set(con.list_tables())
        names = ["partners", *(t for t in PARTNER_TABLES if t in present and "partner_id" in con.table(t).columns)]
        parts = [_scoped(con, t, scope, as_of) for t in names]
        source = next((q for q in ("quarantine_current", "quarantine") if q in present), None)
        if scope.is_all and source is not None:
            names.append("quarantine")
            parts.append(con.table(source))
        # one query for every count: on Spark each query costs a job's overhead, whatever its size
        got = ibis.union(*(t.aggregate(rows=t.count()).mutate(table=ibis.literal(n)) for n, t in zip(names, parts, strict=True)),
                         distinct=False).to_pandas()
        found = dict(zip(got["table"], got["rows"], strict=True))
        counts = {n: int(found[n]) for n in names}
        max_date = as_date(_scoped(con, "orders", scope, as_of).order_date.max().execute())
    if is_url(db):
        facts = {"store": store_label(db), "store_bytes": None, "store_modified": ""}
    else:
        st = Path(db).stat()
        facts = {"store": Path(db).name, "store_bytes": st.st_size,
                 "store_modified": datetime.fromtimestamp(st.st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")}
    return {**facts, "last_order_date": str(max_date) if max_date else "", "row_counts": counts}


def headline_from_store(db: str | Path, scope: Scope, as_of: date, *,
                        programs_dir: str | Path | None = None) -> dict[str, float | int | None]:
    """The headline figures read straight from the store (see the module docstring); amounts in the
    store currency, sales_change as a ratio (None when the month before had no sales). programs_dir: the
    rebate program files (default config/incentives/, as page 06)."""
    month = pd.Timestamp(as_of).to_period("M")
    m_start, m_end = month.start_time.date(), month.end_time.date()
    p_start, p_end = (month - 1).start_time.date(), (month - 1).end_time.date()
    since = as_of - pd.Timedelta(days=90).to_pytimedelta()
    with opened(db) as con:
        o = _scoped(con, "orders", scope, as_of)
        got = o.aggregate(
            sales=o.net_amount.sum(where=o.order_date.between(m_start, m_end)),
            prev=o.net_amount.sum(where=o.order_date.between(p_start, p_end)),
            active=o.partner_id.nunique(where=(o.order_date > since) & (o.order_date <= as_of)
                                        & ~o.is_return.fill_null(False) & (o.net_amount > 0)),
        ).to_pandas().iloc[0]
        rebates = _rebate_figures(con, scope, as_of, programs_dir=programs_dir)  # the same open store
    sales, prev = _number(got["sales"]), _number(got["prev"])
    return {"monthly_sales": sales, "sales_change": (sales / prev - 1.0) if prev > 0 else None,
            "active_partners": int(got["active"]), **rebates}


def _number(value: Any) -> float:
    """A backend's sum as a float; 0.0 for a sum over no rows (null/NaN)."""
    return 0.0 if value is None or pd.isna(value) else float(value)


def rebate_headline(db: str | Path, scope: Scope, as_of: date, *,
                    programs_dir: str | Path | None = None) -> dict[str, float | int | None]:
    """Rebate audit figures of the scope's ledger rows whose period ended by as_of (see the module docstring):
    rows with a discrepancy, rows with a misstated due, underpaid and overpaid amounts (store currency), each
    on its own; zeros when there is no ledger, None when the audit cannot run (e.g. a malformed program file)."""
    with opened(db) as con:
        return _rebate_figures(con, scope, as_of, programs_dir=programs_dir)


def _rebate_figures(con: ibis.BaseBackend, scope: Scope, as_of: date, *,
                    programs_dir: str | Path | None = None) -> dict[str, float | int | None]:
    """:func:`rebate_headline` on an open store `con` (amounts in the store currency)."""
    from workbench.errors import NotEnoughData, WorkbenchError
    from workbench.rebates import audit_to_date, totals

    zero: dict[str, float | int | None] = {"rebate_discrepancies": 0, "rebate_misstated": 0,
                                           "rebate_underpaid": 0.0, "rebate_overpaid": 0.0}
    try:
        audit = audit_to_date(con, as_of, region=scope, programs_dir=programs_dir)
    except NotEnoughData:
        return zero
    except WorkbenchError:
        return dict.fromkeys(zero)
    if audit.empty:
        return zero
    t = totals(audit.assign(_all="all"), "_all").iloc[0]
    return {"rebate_discrepancies": int(audit["status"].isin(DISCREPANCY_STATUSES).sum()),
            "rebate_misstated": int(t["n_due_misstated"]),
            "rebate_underpaid": float(t["underpaid_cny"]), "rebate_overpaid": float(t["overpaid_cny"])}


def _figure(key: str, kind: str, figures: dict[str, Any], currency: str, lang: str) -> str:
    v = figures.get(key)
    if v is None:
        return "–"
    if kind == "money":
        return format_money(v, currency, lang=lang)
    if kind == "pct":
        return f"{100 * float(v):+.1f}%"
    return f"{int(v):,}"


def _headline_rows(figures: dict[str, Any], currency: str, lang: str) -> str:
    esc = html.escape
    return "".join(f'<tr><th>{esc(label(_HEAD_LABEL[k], lang))}</th>'
                   f'<td class="num">{esc(_figure(k, kind, figures, currency, lang))}</td></tr>'
                   for k, kind in HEADLINE_KEYS)


def _status(ok: bool, produced: bool, error: str, lang: str) -> str:
    esc = html.escape
    if ok:
        return f'<span class="ok">{esc(label("rep_ok", lang))}</span>'
    word = label("rep_incomplete" if produced else "rep_missing", lang)
    return f'<span class="failed">{esc(word)}: {esc(error)}</span>'


def _pack_index(params: RunParams, scope: Scope, runs: list[NotebookRun], snapshot: dict[str, Any],
                rendered_at: str, *, figures: dict[str, Any], currency: str, extras: dict[str, str]) -> str:
    """HTML of a pack's index page: headline figures, links with status, run parameters, data snapshot."""
    lang = params.lang
    esc = html.escape
    where = scope_name(scope, lang)
    title = f"{label('rep_title', lang)} · {params.quarter} · {where}"
    rows = [f'<tr><td><a href="{esc(quote(r.html.name))}">{esc(notebook_title(r.notebook, lang))}</a></td>'
            f"<td>{_status(r.ok, r.produced, r.error, lang)}</td></tr>"
            for r in sorted(runs, key=lambda r: r.notebook)]
    rows += [f'<tr><td><a href="{esc(quote(name))}">{esc(label(key, lang))}</a></td><td></td></tr>'
             for key, name in extras.items()]
    params_rows = [
        ("quarter", params.quarter), ("region", where), ("rep_as_of", params.as_of.isoformat()),
        ("rep_lang", lang), ("rep_rendered_at", rendered_at),
    ]
    snap_rows = [("rep_store", snapshot["store"]), ("rep_store_modified", snapshot["store_modified"]),
                 ("rep_last_order", snapshot["last_order_date"])]
    count_rows = "".join(f'<tr><td>{esc(label(f"tbl_{t}", lang))}</td><td class="num">{n:,}</td></tr>'
                         for t, n in snapshot["row_counts"].items())
    kv = "".join(f"<tr><th>{esc(label(k, lang))}</th><td>{esc(str(v))}</td></tr>" for k, v in params_rows)
    sv = "".join(f"<tr><th>{esc(label(k, lang))}</th><td>{esc(str(v))}</td></tr>" for k, v in snap_rows)
    body = (
        f"<h1>{esc(title)}</h1>"
        f'<p class="muted"><a href="../../index.html">{esc(label("rep_all_packs", lang))}</a></p>'
        f"<h2>{esc(label('rep_headline', lang))}</h2><table class=\"wb-headline\">"
        f"{_headline_rows(figures, currency, lang)}</table>"
        f"<h2>{esc(label('rep_notebooks', lang))}</h2><table>{''.join(rows)}</table>"
        f"<h2>{esc(label('rep_parameters', lang))}</h2><table>{kv}</table>"
        f"<h2>{esc(label('rep_snapshot', lang))}</h2><table>{sv}</table>"
        f"<table><tr><th>{esc(label('rep_table', lang))}</th><th>{esc(label('rep_rows', lang))}</th></tr>{count_rows}</table>"
        f'<p class="muted">{esc(label("rep_offline_note", lang))}</p>'
    )
    return _page(title, body, lang)


def _manifest_scope(m: dict[str, Any]) -> Scope:
    kind = m.get("kind") or ("all" if m["pack"] == "all" else "region")
    return Scope() if kind == "all" else Scope(kind, m["pack"])


def write_top_index(out: str | Path) -> Path:
    """Write <out>/index.html: per quarter, every pack found under <out> (from its pack.json) with its
    headline figures and a link to each page, in the pack's language."""
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
        packs = sorted(by_quarter[q], key=lambda m: (m.get("kind", "") != "all" and m["pack"] != "all", m["pack"]))
        heads = "".join(f"<th>{esc(label(_HEAD_LABEL[k], lang))}</th>" for k, _ in HEADLINE_KEYS)
        rows = []
        for m in packs:
            ml, folder = m["lang"], f"{quote(q)}/{quote(m['folder'])}"
            cur = m.get("currency", "CNY")
            figs = "".join(f'<td class="num">{esc(_figure(k, kind, m.get("headline", {}), cur, ml))}</td>'
                           for k, kind in HEADLINE_KEYS)
            pages = " · ".join(
                f'<a href="{esc(folder)}/{esc(quote(p["file"]))}">{esc(notebook_title(p["notebook"], ml))}</a>'
                + ("" if p.get("ok", True) else f' <span class="failed">({esc(label("rep_incomplete", ml))})</span>')
                for p in m.get("pages", []))
            rows.append(f'<tr><td><a href="{esc(folder)}/index.html">{esc(scope_name(_manifest_scope(m), ml))}</a>'
                        f'<div class="muted">{esc(ml)} · {esc(m["rendered_at"])}</div></td>{figs}'
                        f"<td>{pages}</td></tr>")
        parts.append(f"<h2>{esc(q)}</h2><table><tr><th>{esc(label('rep_pack', lang))}</th>{heads}"
                     f"<th>{esc(label('rep_pages', lang))}</th></tr>{''.join(rows)}</table>")
    path = out / "index.html"
    path.write_text(_page(label("rep_title", lang), "".join(parts), lang), encoding="utf-8")
    return path
