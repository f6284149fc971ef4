"""Words and tables of the data-health page (notebook 01): findings, headings, escaped tables, in en/zh.

The analysis in :mod:`workbench.health` returns language-neutral frames; this module turns them into
what the page shows, with amounts in the store's currency (``workbench.vocab.store_currency``).
"""

from __future__ import annotations

import pandas as pd

from workbench.health import MONEY_COLUMNS
from workbench.i18n import label, register_labels
from workbench.present import Html, Markdown, display_table
from workbench.vocab import DEFAULT_CURRENCY, Scope, format_money

__all__ = ["LABELS", "count_line", "finding_sentences", "findings", "heading", "localize", "missing_programs", "note",
           "rebate_table", "table", "title"]

LABELS: dict[str, tuple[str, str]] = {
    "rebate_due": ("Rebate due", "应付返利"),
    "rebate_paid": ("Rebate paid", "已付返利"),
    "rebate_shortfall": ("Rebate shortfall", "返利欠付"),
    "rebate_underpaid": ("Underpaid (due, not paid)", "少付（已到期未付）"),
    "rebate_overpaid": ("Overpaid", "多付"),
    "rows_misstated": ("Rows with a misstated due", "应付金额有误的行数"),
    "h_missing_programs": (
        "No program file for these ledger programs, so their rows are not recomputed and are judged against "
        "the ledger's own due:", "以下台账返利方案没有方案文件，其台账行未重算，按台账自身的应付金额判定："),
    "h_discrepancy": ("Underpaid / overpaid", "少付 / 多付"),
    "h_amount": ("Amount", "金额"),
    "h_measure": ("Measure", "指标"),
    "h_who": ("Partner", "经销商"),
    "h_no_ledger": ("The store holds no rebate ledger, so there is nothing to reconcile.",
                    "数据库中没有返利台账，无需对账。"),
    "h_no_surveys": ("The store holds no surveys: every active partner counts as missing one.",
                     "数据库中没有满意度调查：所有活跃经销商均计为缺失。"),
}
register_labels("health", LABELS)

_CODES = ("region", "channel_type", "program", "tier")


def title(quarter: str, scope: Scope | str | None, as_of: str, lang: str = "en") -> Markdown:
    """The page heading: title, quarter and scope (a user's region name, escaped), the question, as-of."""
    from workbench.present import _md_escape, scope_md

    return Markdown(f"# {label('h_title', lang)} · {_md_escape(str(quarter))} · {scope_md(scope, lang)}\n\n"
                    f"*{label('h_question', lang)}* ({label('rep_as_of', lang)} {_md_escape(str(as_of))})")


def heading(key: str, lang: str = "en", level: int = 2) -> Markdown:
    """A Markdown heading with the label of `key` in `lang`."""
    return Markdown(f"{'#' * level} {label(key, lang)}")


def note(key: str, lang: str = "en") -> Markdown:
    """The label of `key` as an italic Markdown note."""
    return Markdown(f"*{label(key, lang)}*")


def count_line(key: str, n: int, lang: str = "en") -> Markdown:
    """'**<label of key>:** 1,234' as Markdown."""
    return Markdown(f"**{label(key, lang)}:** {n:,}")


def localize(frame: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """A copy whose table names and region/channel/program/tier values are translated (columns unchanged)."""
    df = frame.copy()
    for col in ("table", "table_name"):
        if col in df:
            df[col] = df[col].map(lambda v: label(f"tbl_{v}", lang))
    for col in _CODES:
        if col in df:
            df[col] = df[col].map(lambda v: label(str(v), lang) if pd.notna(v) else v)
    return df.reset_index(drop=True)


def table(frame: pd.DataFrame, lang: str = "en", *, currency: str = DEFAULT_CURRENCY, max_rows: int = 25) -> Html:
    """An escaped HTML table of a health frame: translated headers, money in `currency`, shares as %,
    '–' where a value does not apply, at most `max_rows` rows."""
    return display_table(localize(frame.head(max_rows), lang), lang, currency=currency,
                         money=[c for c in (*MONEY_COLUMNS, "net_amount") if c in frame], percent=["missing_share"])


def rebate_table(by_program: pd.DataFrame, lang: str = "en", *, currency: str = DEFAULT_CURRENCY,
                 max_rows: int = 8) -> Html:
    """The last `max_rows` program-quarters of ``health.rebate_by_program``: due, paid, underpaid and
    overpaid apart, rows with a misstated due (the program-file flag is said by :func:`missing_programs`)."""
    return table(by_program.drop(columns=["program_found"], errors="ignore").tail(max_rows), lang,
                 currency=currency, max_rows=max_rows)


def missing_programs(by_program: pd.DataFrame, lang: str = "en") -> Markdown | None:
    """A note naming the ledger's programs that have no program file (None when every one has a file)."""
    from workbench.present import _md_escape

    if by_program.empty or "program_found" not in by_program:
        return None
    missing = sorted(set(by_program.loc[~by_program["program_found"].astype(bool), "program"].astype(str)))
    if not missing:
        return None
    return Markdown(f"*{label('h_missing_programs', lang)}* "
                    + ("、" if lang == "zh" else ", ").join(_md_escape(label(m, lang)) for m in missing))


def findings(*, rows: pd.DataFrame, quarantine: pd.DataFrame, gaps: pd.DataFrame, surveys: pd.DataFrame,
             shortfall: pd.DataFrame, duplicates: pd.DataFrame, currency: str = DEFAULT_CURRENCY,
             lang: str = "en", quarantine_kept: bool = True) -> Markdown:
    """Plain-language findings (one sentence each, as a Markdown list) from the health frames."""
    return Markdown("\n".join(f"- {s}" for s in finding_sentences(
        rows=rows, quarantine=quarantine, gaps=gaps, surveys=surveys, shortfall=shortfall,
        duplicates=duplicates, currency=currency, lang=lang, quarantine_kept=quarantine_kept)))


def finding_sentences(*, rows: pd.DataFrame, quarantine: pd.DataFrame, gaps: pd.DataFrame, surveys: pd.DataFrame,
                      shortfall: pd.DataFrame, duplicates: pd.DataFrame, currency: str = DEFAULT_CURRENCY,
                      lang: str = "en", quarantine_kept: bool = True) -> list[str]:
    """The findings as a list of plain sentences (no user text in them: counts, shares, amounts, table names);
    quarantine_kept=False (the backend holds no quarantine): one sentence saying so instead of its counts."""
    zh = lang == "zh"
    out: list[str] = []
    if not rows.empty:
        last = rows[rows["month"] == rows["month"].max()]
        empty = sorted(last.loc[last["rows"] == 0, "table"])
        if empty:
            names = ("、" if zh else ", ").join(label(f"tbl_{n}", lang) for n in empty)
            out.append(f"最近一个月没有数据的表：{names}。" if zh else f"No rows in the latest month for: {names}.")
    if not quarantine_kept:
        out.append(label("h_no_quarantine_kept", lang))
    else:
        nq = int(quarantine["rows"].sum()) if not quarantine.empty else 0
        out.append(f"隔离区共有 {nq:,} 行数据。" if zh else f"{nq:,} rows sit in quarantine.")
        nd = int(duplicates[["exact_duplicates", "key_conflicts"]].sum().sum()) if not duplicates.empty else 0
        out.append(f"导入时拦截了 {nd:,} 行重复数据。" if zh else f"{nd:,} duplicate lines were caught at ingestion.")
    out.append(f"{len(gaps):,} 家经销商出现连续 3 个月以上未下单。" if zh
               else f"{len(gaps):,} partners went 3 or more months without ordering.")
    if not surveys.empty:
        miss, act = int(surveys["missing"].sum()), int(surveys["active_partners"].sum())
        share = miss / act if act else 0.0
        out.append(f"本季度活跃经销商中有 {miss:,} 家（{share:.0%}）没有满意度调查。" if zh
                   else f"{miss:,} of {act:,} active partners ({share:.0%}) have no survey this quarter.")
    if not shortfall.empty:
        total = format_money(float(shortfall["rebate_shortfall"].sum()), currency, lang=lang)
        n = shortfall["partner_id"].nunique()
        out.append(f"{n:,} 家经销商的返利欠付合计 {total}。" if zh
                   else f"Rebate shortfall of {total} across {n:,} partners.")
    else:
        out.append(label("h_no_shortfall", lang))
    return out
