"""Words and pages for the rebate audit and partner statements (en / zh; money in the store's currency).

``workbench.rebates`` returns language-neutral frames with status codes; this module words them:
the CLI summary line and file columns, the audit tables of notebook 06, and one self-contained,
escaped HTML (+ XLSX) statement per partner that holds that partner's rows only.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.i18n import label
from workbench.present import Html, Markdown, display_table, register_labels
from workbench.present.incentives import money, notice
from workbench.vocab import DEFAULT_CURRENCY, format_money, money_label

__all__ = [
    "LABELS",
    "audit_file_frame",
    "audit_summary_line",
    "discrepancy_table",
    "notice",
    "statement_html",
    "statement_xlsx",
    "totals_table",
    "write_statements",
]

LABELS: dict[str, tuple[str, str]] = {
    "nb_06_rebate_audit": ("Rebate audit", "返利核对"),
    "rb_title": ("Rebate audit", "返利核对"),
    "rb_question": ("Is every partner paid what its program says it is owed?", "每家经销商是否按方案规则足额、准确地拿到返利？"),
    "rb_method": (
        "Every ledger row is recomputed from the program file of the same name and the partner's orders in the "
        "period (returns deducted), then classified on its own: an overpayment to one partner never hides an "
        "underpayment to another.",
        "台账每一行都按同名方案文件和该经销商在期内的订单（扣除退货）重新计算，并单独判定："
        "对一家经销商的多付绝不会抵消对另一家的少付。"),
    "rb_largest": ("Largest discrepancies", "差异最大的台账行"),
    "rb_by_program": ("By program", "按返利方案"),
    "rb_by_region": ("By region", "按区域"),
    "rb_by_manager": ("By channel manager", "按渠道经理"),
    "rb_missing_programs": ("Programs without a file (listed, not recomputed)", "没有方案文件的返利政策（仅列出，未重算）"),
    "rb_none": ("No discrepancy: every row is paid as recomputed.", "无差异：每一行都已按重算金额支付。"),
    # statuses
    "due_misstated": ("Due misstated", "应付金额有误"),
    "unpaid_overdue": ("Unpaid, overdue", "逾期未付"),
    "pending": ("Not yet due", "尚未到期"),
    "underpaid": ("Underpaid", "少付"),
    "overpaid": ("Overpaid", "多付"),
    "ok": ("OK", "正常"),
    # columns
    "incentive_id": ("Ledger row", "台账编号"),
    "program": ("Program", "返利方案"),
    "period_start": ("Period start", "期初"),
    "period_end": ("Period end", "期末"),
    "recomputed_due_cny": ("Recomputed due", "重算应付"),
    "ledger_due_cny": ("Ledger due", "台账应付"),
    "due_cny": ("Due", "应付"),
    "paid_cny": ("Paid", "已付"),
    "difference_cny": ("Paid − due", "已付 − 应付"),
    "status": ("Status", "状态"),
    "payment_due_date": ("Payment due", "应付日期"),
    "program_found": ("Program file found", "有方案文件"),
    "net_sales_cny": ("Net sales in the period", "期内净销售额"),
    "last_year_sales_cny": ("Net sales a year earlier", "上年同期净销售额"),
    "orders_counted": ("Orders counted", "计入订单数"),
    "returns_counted": ("Returns counted", "计入退货数"),
    "manager_id": ("Channel manager", "渠道经理"),
    "rows": ("Ledger rows", "台账行数"),
    "overpaid_cny": ("Overpaid", "多付金额"),
    "underpaid_cny": ("Underpaid (due)", "少付金额（已到期）"),
    "unpaid_overdue_cny": ("Of which nothing paid", "其中完全未付"),
    "pending_cny": ("Not yet due", "未到期金额"),
    "misstated_cny": ("Misstated dues", "应付金额误差"),
    **{f"n_{s}": (f"Rows {en.lower()}", f"{zh}行数") for s, (en, zh) in {
        "due_misstated": ("Due misstated", "应付金额有误"), "unpaid_overdue": ("Unpaid, overdue", "逾期未付"),
        "pending": ("Not yet due", "尚未到期"), "underpaid": ("Underpaid", "少付"),
        "overpaid": ("Overpaid", "多付"), "ok": ("OK", "正常")}.items()},
    # statements
    "st_title": ("Rebate statement", "返利对账单"),
    "st_partner": ("Partner", "经销商"),
    "st_quarter": ("Quarter", "季度"),
    "st_tier": ("Volume tier reached", "达到的量级"),
    "st_rate": ("Rate", "返利率"),
    "st_payout": ("Payout (recomputed)", "返利（重算）"),
    "st_outstanding": ("Outstanding", "未付金额"),
    "st_next_tier": ("To reach the next tier this period", "本期达到下一量级还需"),
    "st_top_tier": ("Top tier reached", "已达最高量级"),
    "st_no_tier": ("no tier", "未达量级"),
    "st_note": (
        "Recomputed from the program's rules and your orders in the period (returns deducted). "
        "Questions about this statement: contact your channel manager.",
        "依据返利方案规则及您在期内的订单（扣除退货）重新计算。如对本对账单有疑问，请联系您的渠道经理。"),
}
register_labels("rebates", LABELS)

MONEY = ("recomputed_due_cny", "ledger_due_cny", "due_cny", "paid_cny", "difference_cny", "net_sales_cny",
         "last_year_sales_cny", "overpaid_cny", "underpaid_cny", "unpaid_overdue_cny", "pending_cny", "misstated_cny")


def audit_file_frame(audit: pd.DataFrame) -> pd.DataFrame:
    """The CLI's file: one row per ledger row, currency-neutral column names, no personal columns."""
    cols = ["incentive_id", "partner_id", "region", "manager_id", "program", "period_start", "period_end",
            "recomputed_due_cny", "ledger_due_cny", "paid_cny", "difference_cny", "status", "payment_due_date",
            "net_sales_cny", "orders_counted", "returns_counted", "program_found"]
    out = audit[[c for c in cols if c in audit.columns]].copy()
    for c in ("period_start", "period_end", "payment_due_date"):
        if c in out:
            out[c] = pd.to_datetime(out[c]).dt.date
    return out.rename(columns=lambda c: c.removesuffix("_cny"))


def audit_summary_line(audit: pd.DataFrame, lang: str = "en", *, currency: str = DEFAULT_CURRENCY) -> str:
    """One sentence: rows audited, rows per status, overpaid and underpaid apart, programs without a file."""
    from workbench.rebates import STATUSES, totals

    t = totals(audit.assign(_all="all"), "_all").iloc[0]
    counts = [(s, int(t[f"n_{s}"])) for s in STATUSES if int(t[f"n_{s}"])]
    missing = sorted(set(audit.loc[~audit["program_found"].astype(bool), "program"].astype(str)))
    if lang == "zh":
        parts = "，".join(f"{label(s, 'zh')} {n:,} 行" for s, n in counts)
        tail = f"；以下返利政策没有方案文件，仅核对已付与台账应付：{'、'.join(missing)}" if missing else ""
        return (f"核对 {len(audit):,} 行台账：{parts}；多付合计 {money(t['overpaid_cny'], currency, 'zh')}，"
                f"少付合计 {money(t['underpaid_cny'], currency, 'zh')}（分别统计，不相互抵消）{tail}。")
    parts = ", ".join(f"{n:,} {label(s, 'en').lower()}" for s, n in counts)
    tail = (f"; programs without a file (paid checked against the ledger's due only): {', '.join(missing)}"
            if missing else "")
    return (f"Audited {len(audit):,} ledger rows: {parts}; overpaid {money(t['overpaid_cny'], currency)} and "
            f"underpaid {money(t['underpaid_cny'], currency)} in total (kept apart, never netted){tail}.")


def discrepancy_table(audit: pd.DataFrame, lang: str = "en", *, currency: str = DEFAULT_CURRENCY, n: int = 15) -> Html:
    """The `n` rows with the largest |paid − due| or misstated due (status ≠ ok), escaped and translated."""
    bad = audit[audit["status"] != "ok"].copy()
    if bad.empty:
        return Html(f"<p>{html.escape(label('rb_none', lang))}</p>")
    mis = (bad["ledger_due_cny"] - bad["recomputed_due_cny"]).abs().fillna(0)
    bad["_size"] = bad["difference_cny"].abs().combine(mis, max)
    cols = ["partner_id", "name", "region", "program", "period_end", "recomputed_due_cny", "ledger_due_cny",
            "paid_cny", "difference_cny", "status"]
    top = bad.nlargest(n, "_size")[[c for c in cols if c in bad.columns]]
    return display_table(top, lang, currency=currency, money=[c for c in top.columns if c in MONEY],
                         codes=["status", *(["region"] if "region" in top.columns else [])])


def totals_table(tot: pd.DataFrame, lang: str = "en", *, currency: str = DEFAULT_CURRENCY) -> Html:
    """``workbench.rebates.totals`` rows as an escaped table (over- and underpaid in separate columns)."""
    cols = [c for c in tot.columns if not c.startswith("n_") or tot[c].any()]
    return display_table(tot[cols], lang, currency=currency, money=[c for c in cols if c in MONEY],
                         codes=[c for c in ("region",) if c in cols])


def missing_programs_markdown(audit: pd.DataFrame, lang: str = "en") -> Markdown | None:
    """A note listing the ledger's programs that have no file (None when every program was found)."""
    missing = sorted(set(audit.loc[~audit["program_found"].astype(bool), "program"].astype(str)))
    if not missing:
        return None
    items = "\n".join(f"- {html.escape(m)}" for m in missing)
    return Markdown(f"### {label('rb_missing_programs', lang)}\n\n{items}")


# ---- partner statements ------------------------------------------------------------------------------

def _both(key: str, lang: str) -> str:
    """A label in `lang`, or 'English / 中文' for lang 'both'."""
    if lang == "both":
        en, zh = label(key, "en"), label(key, "zh")
        return en if en == zh else f"{en} / {zh}"
    return label(key, lang)


def _tier_facts(program: Any, net_sales: float) -> dict[str, Any]:
    """Tier reached (1-based, 0 = none), its rate, and the next tier's threshold, rate and sales still needed."""
    import numpy as np

    t, r = program.thresholds_cny, program.rates_pct
    if len(t) == 0:
        return {"tier": None, "rate_pct": None, "next_threshold": None, "next_rate_pct": None, "needed": None}
    k = int(np.searchsorted(t, max(net_sales, 0.0), side="right"))  # tiers reached
    nxt = k if k < len(t) else None
    return {"tier": k, "rate_pct": float(r[k - 1]) if k else 0.0,
            "next_threshold": float(t[nxt]) if nxt is not None else None,
            "next_rate_pct": float(r[nxt]) if nxt is not None else None,
            "needed": round(float(t[nxt]) - float(net_sales), 2) if nxt is not None else None}


def statement_rows(partner_rows: pd.DataFrame, programs: Mapping[str, Any]) -> pd.DataFrame:
    """One partner's audit rows with the statement's figures: tier, rate, outstanding, next tier."""
    out = partner_rows.copy()
    facts = [(_tier_facts(programs[p], s) if p in programs else _tier_facts(_NoTiers(), s))
             for p, s in zip(out["program"], out["net_sales_cny"], strict=True)]
    for key in ("tier", "rate_pct", "next_threshold", "next_rate_pct", "needed"):
        out[key] = [f[key] for f in facts]
    out["outstanding_cny"] = (out["due_cny"] - out["paid_cny"]).clip(lower=0).round(2)
    return out


class _NoTiers:
    thresholds_cny: list[float] = []
    rates_pct: list[float] = []


_CSS = ("body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans CJK SC','Microsoft YaHei',sans-serif;"
        "margin:2rem;color:#222}table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;"
        "padding:.35rem .6rem;text-align:left}td.n{text-align:right}h1{font-size:1.4rem}.note{color:#555;font-size:.9rem}")


def statement_html(partner: Mapping[str, Any], rows: pd.DataFrame, *, quarter: str, lang: str = "both",
                   currency: str = DEFAULT_CURRENCY) -> str:
    """A self-contained HTML statement (inline CSS, no script, no link) for one partner and quarter.

    partner: partner_id and name; rows: ``statement_rows`` of that partner only. Every value is escaped.
    """
    e = html.escape
    zh = "zh" if lang == "zh" else "en"

    def m(x: Any) -> str:
        return e(format_money(x, currency, lang=zh, decimals=2))

    heads = ["program", "period_start", "period_end", "orders_counted", "returns_counted", "net_sales_cny",
             "st_tier", "st_rate", "st_payout", "paid_cny", "st_outstanding", "status"]
    money_heads = {"net_sales_cny", "st_payout", "paid_cny", "st_outstanding"}
    th = "".join(f"<th>{e(money_label(_both(h, lang), currency) if h in money_heads else _both(h, lang))}</th>"
                 for h in heads)
    body, nexts = [], []
    for _, r in rows.iterrows():
        tier = _both("st_no_tier", lang) if not r["tier"] else str(int(r["tier"]))
        rate = "–" if r["rate_pct"] is None or pd.isna(r["rate_pct"]) else f"{r['rate_pct']:g}%"
        payout = r["recomputed_due_cny"] if pd.notna(r["recomputed_due_cny"]) else r["ledger_due_cny"]
        cells = [e(str(r["program"])), e(str(pd.Timestamp(r["period_start"]).date())),
                 e(str(pd.Timestamp(r["period_end"]).date())), f"{int(r['orders_counted']):,}",
                 f"{int(r['returns_counted']):,}", m(r["net_sales_cny"]), e(tier), e(rate), m(payout),
                 m(r["paid_cny"]), m(r["outstanding_cny"]), e(_both(str(r["status"]), lang))]
        body.append("<tr>" + "".join(f'<td class="n">{c}</td>' if i in (3, 4, 5, 8, 9, 10) else f"<td>{c}</td>"
                                     for i, c in enumerate(cells)) + "</tr>")
        if r["needed"] is not None and pd.notna(r["needed"]):
            rate_next = f"{r['next_rate_pct']:g}%"
            nexts.append(f"<li>{e(str(r['program']))}: {m(r['needed'])} → {e(rate_next)} "
                         f"({e(_both('i_threshold', lang))} {m(r['next_threshold'])})</li>")
        elif r["tier"]:
            nexts.append(f"<li>{e(str(r['program']))}: {e(_both('st_top_tier', lang))}</li>")
    title = f"{_both('st_title', lang)} · {partner.get('name') or partner['partner_id']} · {quarter}"
    return (
        f'<!DOCTYPE html>\n<html lang="{"zh" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{e(title)}</h1>"
        f"<p>{e(_both('st_partner', lang))}: {e(str(partner.get('name') or ''))} ({e(str(partner['partner_id']))})"
        f" · {e(_both('st_quarter', lang))}: {e(quarter)}</p>"
        f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        + (f"<h2>{e(_both('st_next_tier', lang))}</h2><ul>{''.join(nexts)}</ul>" if nexts else "")
        + f'<p class="note">{e(_both("st_note", lang))}</p></body></html>\n'
    )


def statement_xlsx(partner: Mapping[str, Any], rows: pd.DataFrame, path: str | Path, *, quarter: str,
                   lang: str = "both", currency: str = DEFAULT_CURRENCY) -> Path:
    """The statement's rows as one XLSX sheet with translated headers (amounts as numbers)."""
    cols = ["program", "period_start", "period_end", "orders_counted", "returns_counted", "net_sales_cny", "tier",
            "rate_pct", "recomputed_due_cny", "paid_cny", "outstanding_cny", "status", "next_threshold", "needed"]
    heads = {"tier": "st_tier", "rate_pct": "st_rate", "recomputed_due_cny": "st_payout",
             "outstanding_cny": "st_outstanding", "next_threshold": "i_threshold", "needed": "st_next_tier"}
    money_cols = {"net_sales_cny", "recomputed_due_cny", "paid_cny", "outstanding_cny", "next_threshold", "needed"}
    frame = rows[cols].copy()
    frame["status"] = frame["status"].map(lambda s: _both(str(s), lang))
    for c in ("period_start", "period_end"):
        frame[c] = pd.to_datetime(frame[c]).dt.date
    frame.columns = [money_label(_both(heads.get(c, c), lang), currency) if c in money_cols
                     else _both(heads.get(c, c), lang) for c in cols]
    frame.insert(0, _both("st_partner", lang), str(partner["partner_id"]))
    path = Path(path)
    with pd.ExcelWriter(path) as xl:
        frame.to_excel(xl, index=False, sheet_name=re.sub(r"[^0-9A-Za-z]", "", quarter)[:31] or "statement")
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_.-]+", "_", str(text)).strip("._") or "partner"


def write_statements(con: Any, audit: pd.DataFrame, folder: str | Path, *, quarter: str, lang: str = "both",
                     currency: str = DEFAULT_CURRENCY, programs_dir: str | Path | None = None) -> list[Path]:
    """One HTML and one XLSX statement per partner of `audit` into `folder`; returns the HTML paths.

    Each file holds that partner's ledger rows only (file names are the partner id, made path-safe).
    """
    from workbench.paths import config_file
    from workbench.rebates import load_programs

    programs = load_programs(programs_dir if programs_dir is not None else config_file("incentives"))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written, used = [], set()
    for pid, rows in audit.groupby("partner_id", sort=True):
        partner = {"partner_id": pid, "name": rows["name"].iloc[0] if "name" in rows else ""}
        rows = statement_rows(rows, programs)
        stem = _slug(pid)
        while stem.lower() in used:  # two ids that differ only in unsafe characters
            stem += "_"
        used.add(stem.lower())
        page = folder / f"{stem}.html"
        page.write_text(statement_html(partner, rows, quarter=quarter, lang=lang, currency=currency), encoding="utf-8")
        statement_xlsx(partner, rows, folder / f"{stem}.xlsx", quarter=quarter, lang=lang, currency=currency)
        written.append(page)
    return written
