"""Churn widgets: a risk-threshold slider (partners flagged, sales at risk, share of churners the
backtest captured) and a per-partner drill-down. Wiring only: the numbers come from ``workbench.churn``,
the words from ``workbench.present.churn``."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from workbench.i18n import label
from workbench.present import churn as words
from workbench.vocab import DEFAULT_CURRENCY, format_money

__all__ = ["partner_drilldown", "threshold_explorer", "threshold_summary"]


def threshold_summary(
    risk: pd.DataFrame, threshold: float, *, predictions: pd.DataFrame | None = None, model: str | None = None
) -> dict[str, float]:
    """Partners flagged (risk >= threshold), their sales at risk (store currency) and the share of churners the
    backtest's `model` captured at that threshold (NaN without predictions)."""
    r = risk["risk"].to_numpy(float)
    flagged = r >= threshold
    captured = float("nan")
    if predictions is not None and model is not None:
        g = predictions[predictions["model"] == model]
        y = g["churned"].to_numpy(bool)
        captured = float((y & (g["score"].to_numpy(float) >= threshold)).sum() / max(y.sum(), 1))
    return {
        "partners_flagged": int(flagged.sum()),
        "share_flagged": float(flagged.mean()) if len(r) else 0.0,
        "sales_at_risk_flagged": float(risk["sales_at_risk"].to_numpy(float)[flagged].sum()),
        "share_churners_captured": captured,
    }


def _summary_html(s: dict[str, float], lang: str, currency: str) -> str:
    cap = "–" if np.isnan(s["share_churners_captured"]) else f"{s['share_churners_captured']:.0%}"
    money = html.escape(format_money(s["sales_at_risk_flagged"], currency, lang=lang))
    return (
        f"<b>{label('c_partners_flagged', lang)}</b>: {s['partners_flagged']:,} ({s['share_flagged']:.0%}) · "
        f"<b>{label('c_sales_at_risk', lang)}</b>: {money} · "
        f"<b>{label('c_share_captured', lang)}</b>: {cap}"
    )


def _table_html(df: pd.DataFrame, lang: str, currency: str, rows: int = 15) -> str:
    return words.risk_display(df.head(rows), lang, currency=currency)


def threshold_explorer(
    risk: pd.DataFrame,
    *,
    predictions: pd.DataFrame | None = None,
    model: str | None = None,
    threshold: float = 0.5,
    lang: str = "en",
    currency: str = DEFAULT_CURRENCY,
) -> Any:
    """A VBox: risk-threshold slider, the flagged counts / sales at risk / churners captured, and the
    top flagged partners (names escaped). Rendered with the default threshold from the start.

    risk: present.churn.risk_table output; predictions/model: Backtest.predictions and the winner's name.
    """
    import ipywidgets as w

    slider = w.FloatSlider(value=threshold, min=0.0, max=1.0, step=0.01, description=label("c_threshold", lang),
                           continuous_update=False, style={"description_width": "initial"},
                           layout=w.Layout(width="420px"))
    summary, table = w.HTML(), w.HTML()
    cols = [c for c in words.RISK_COLUMNS if c in risk.columns]

    def update(_: Any = None) -> None:
        s = threshold_summary(risk, slider.value, predictions=predictions, model=model)
        summary.value = _summary_html(s, lang, currency)
        table.value = _table_html(risk.loc[risk["risk"] >= slider.value, cols], lang, currency)

    slider.observe(update, names="value")
    update()
    return w.VBox([slider, summary, table])


def partner_drilldown(
    detail: pd.DataFrame, *, lang: str = "en", top: int = 50, currency: str = DEFAULT_CURRENCY
) -> Any:
    """A VBox: dropdown over the `top` riskiest partners, showing risk, reasons, actions and drivers.

    detail: risk_list(..., detail=True) output. Partner names are HTML-escaped.
    """
    import ipywidgets as w

    head = detail.head(top)
    # option labels carry no partner name: widget state is saved verbatim in the notebook file
    options = [(f"{r.partner_id} · {r.risk:.0%}", r.partner_id) for r in head.itertuples()]
    pick = w.Dropdown(options=options, description=label("partner_id", lang), layout=w.Layout(width="520px"),
                      style={"description_width": "initial"})
    out = w.HTML()

    def update(_: Any = None) -> None:
        if pick.value is None:
            out.value = html.escape(label("c_no_data", lang))
            return
        t = words.drilldown_table(detail, pick.value, lang=lang, currency=currency)
        out.value = t.to_html(index=False, header=False, escape=True)

    pick.observe(update, names="value")
    update()
    return w.VBox([pick, out])
