"""The presentation layer: words, tables and Markdown in English and Chinese (the only place with `lang`).

Analysis modules return language-neutral frames and codes; this package turns them into what a page
shows. One module per job (``present/churn.py``, ``present/segment.py``, …) holds that job's LABELS
dict ``{key: (en, zh)}`` and its sentence builders, and registers the dict at import::

    from workbench.present import register_labels
    LABELS = {"churn_risk": ("Churn risk", "流失风险")}
    register_labels("churn", LABELS)

after which ``workbench.i18n.label(key, lang)`` finds the keys. This module holds what every job
shares: :func:`display_table` and :func:`notice`.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from workbench.i18n import label, register_labels
from workbench.vocab import DEFAULT_CURRENCY, format_money, money_label

__all__ = ["Html", "Markdown", "display_table", "header", "notice", "register_labels", "register_notices", "scope_md",
           "scope_name"]

DASH = "–"


class Html(str):
    """An HTML fragment: a plain ``str`` that a notebook shows rendered (``_repr_html_``)."""

    def _repr_html_(self) -> str:
        return str(self)


class Markdown(str):
    """A Markdown fragment: a plain ``str`` that a notebook shows rendered (``_repr_markdown_``)."""

    def _repr_markdown_(self) -> str:
        return str(self)


def header(column: str, lang: str = "en", labels: Mapping[str, str] | None = None, *,
           owner: str | None = None) -> str:
    """The display title of `column`: `labels[column]`, else its registered label, else 'Snake case'."""
    if labels and column in labels:
        return str(labels[column])
    text = label(str(column), lang, owner=owner)  # type: ignore[arg-type]
    if text == column and "_" in text:
        text = text.replace("_", " ").strip()
        text = text[:1].upper() + text[1:]
    return text


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    try:
        return bool(pd.isna(v)) if not isinstance(v, (list, tuple, dict, set)) else False
    except (TypeError, ValueError):
        return False


def _cell(v: Any, *, kind: str, currency: str, lang: str, digits: int = 2) -> str:
    """One cell as display text (not yet escaped); `digits` are the decimals of a "fixed" cell."""
    if _missing(v):
        return DASH
    if kind == "fixed":  # a number with exactly `digits` decimals: 12.6, -26.0, 1,234.5
        return f"{float(v):,.{digits}f}"
    if kind == "money":
        return format_money(v, currency, lang=lang)
    if kind == "percent":
        return f"{100 * float(v):.1f}%"
    if kind == "score":  # a 0–100 score: 70, 67.5 (one decimal at most, none when whole)
        return f"{float(v):.1f}".removesuffix(".0")
    if isinstance(v, bool):
        return ("是" if v else "否") if lang == "zh" else ("yes" if v else "no")
    if isinstance(v, (int,)) or (hasattr(v, "dtype") and pd.api.types.is_integer_dtype(getattr(v, "dtype", None))):
        return f"{int(v):,}"
    if isinstance(v, float) or (hasattr(v, "dtype") and pd.api.types.is_float_dtype(getattr(v, "dtype", None))):
        f = float(v)
        return f"{f:,.0f}" if f.is_integer() and abs(f) >= 1000 else f"{f:,.2f}"
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat() if v == v.normalize() else v.isoformat(sep=" ", timespec="minutes")
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return str(v)


def display_table(
    df: pd.DataFrame,
    lang: str = "en",
    *,
    currency: str | None = None,
    money: Iterable[str] = (),
    percent: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
    codes: Iterable[str] = (),
    index: bool = False,
    owner: str | None = None,
    scores: Iterable[str] = (),
    decimals: Mapping[str, int] | None = None,
) -> Html:
    """An escaped HTML table of `df` with translated headers, ready for a report page.

    Parameters
    ----------
    df : any DataFrame; one row per displayed row. Not modified.
    lang : 'en' or 'zh'; headers come from ``i18n.label`` unless `labels` names them.
    currency : ISO 4217 code for the `money` columns (default CNY); their headers gain "(GBP)".
    money : columns of amounts, shown as "£1,234".
    percent : columns of shares (0.123), shown as "12.3%".
    labels : {column: header text} overriding the registered labels.
    codes : columns whose values are label keys (e.g. tier 'core'), shown translated.
    index : also show the index as the first column.
    owner : the job whose LABELS dict is searched first (e.g. 'relations'), see ``i18n.label``.
    scores : columns of scores or day counts (satisfaction 0–100, median days), shown with one decimal at most:
        "70" or "67.5", not "70.00".
    decimals : {column: n} for columns of numbers shown with exactly n decimals (percent points, ratios,
        p-values): "-18.5" with n=1, not "-18.50"; the header carries the unit.

    Missing values (None, NaN, NaT) show as "–"; unknown snake_case headers become "Snake case".
    The result is a ``str`` that renders in a notebook.
    """
    cur = (currency or DEFAULT_CURRENCY).upper()
    money_cols, pct_cols, code_cols, score_cols = set(money), set(percent), set(codes), set(scores)
    fixed = dict(decimals or {})
    frame = df.reset_index() if index else df
    heads = []
    for c in frame.columns:
        h = header(str(c), lang, labels, owner=owner)
        if c in money_cols and not (labels and c in labels):
            h = money_label(h, cur)
        heads.append(h)
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = []
        for c, v in zip(frame.columns, values, strict=True):
            kind = ("money" if c in money_cols else "percent" if c in pct_cols
                    else "score" if c in score_cols else "fixed" if c in fixed else "plain")
            if c in code_cols and not _missing(v):
                text = label(str(v), lang, owner=owner)  # type: ignore[arg-type]
            else:
                text = _cell(v, kind=kind, currency=cur, lang=lang, digits=fixed.get(c, 2))
            align = ' style="text-align:right"' if kind != "plain" or _numeric(v) else ""
            cells.append(f"<td{align}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    return Html(
        '<table class="wb-table">\n<thead><tr>' + head + "</tr></thead>\n<tbody>\n"
        + "\n".join(rows) + "\n</tbody>\n</table>"
    )


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) or (
        hasattr(v, "dtype") and pd.api.types.is_numeric_dtype(getattr(v, "dtype", None))
        and not pd.api.types.is_bool_dtype(getattr(v, "dtype", None))
    )


_NOTE = {"en": "Note", "zh": "说明"}


def _md_escape(text: str) -> str:
    """Escape what Markdown or HTML would interpret in a plain sentence."""
    text = html.escape(text, quote=False)
    for ch in "\\`*_[]#|":
        text = text.replace(ch, "\\" + ch)
    return text


def scope_name(scope: Any, lang: str = "en") -> str:
    """How a page names a scope (plain text): 'All regions', a region's label, or 'Channel manager M1B'."""
    from workbench.vocab import Scope

    s = Scope.parse(scope)
    if s.is_all:
        return label("all", lang)
    if s.kind == "manager":
        return f"{label('scope_manager', lang)} {s.value}"
    return label(str(s.value), lang)


def scope_md(scope: Any, lang: str = "en") -> str:
    """`scope_name` escaped for a Markdown or HTML title (a user's region or manager name never runs)."""
    return _md_escape(scope_name(scope, lang))


_ZH_NOTICES: dict[str, tuple[tuple[str, str], ...]] = {}


def register_notices(owner: str, pairs: Iterable[tuple[str, str]]) -> None:
    """Chinese wording of a job's NotEnoughData sentences: (English regex, Chinese text with {0}, {1}, … for
    the regex groups); `notice` uses them on zh pages. Called once at import by ``present/<job>.py``."""
    _ZH_NOTICES[owner] = tuple(pairs)


def _in_chinese(text: str) -> str | None:
    """The registered Chinese wording of an English notice sentence, or None."""
    import re

    from workbench.i18n import _load_present

    _load_present()
    for owner in sorted(_ZH_NOTICES):
        for pattern, zh in _ZH_NOTICES[owner]:
            m = re.search(pattern, text)
            if m:
                return zh.format(*m.groups())
    return None


def notice(exc: BaseException | str, lang: str = "en") -> Markdown:
    """A Markdown note showing the one sentence of `exc` (a NotEnoughData, any WorkbenchError, or text).

    Used by notebooks per section: ``except NotEnoughData as exc: display(wb.present.notice(exc, lang))``.
    Only the message is shown, never a traceback or the exception's type. On zh pages a sentence any job
    registered with :func:`register_notices` is shown in Chinese.
    """
    text = str(exc).strip() or ("Not enough data for this section." if lang != "zh" else "数据不足，本节略过。")
    if lang == "zh":
        text = _in_chinese(text) or text
    text = " ".join(text.split())
    return Markdown(f"> **{_NOTE.get(lang, _NOTE['en'])}:** {_md_escape(text)}" if lang != "zh"
                    else f"> **{_NOTE['zh']}：** {_md_escape(text)}")
