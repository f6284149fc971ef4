"""Charts: churn risk (frames from ``workbench.churn`` in → ``alt.Chart`` out; never displays).

ROC and lift take ``roc_points`` / ``gains_table`` rows, calibration takes ``calibration_table``,
the survival chart takes ``survival_curves``, the threshold chart takes ``threshold_table``.
All inputs are already aggregated (a few hundred rows at most). The threshold slider is an
Altair ``bind=`` parameter, so it works in the shared HTML with no kernel.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from workbench.charts.base import message_chart
from workbench.i18n import label
from workbench.vocab import DEFAULT_CURRENCY, money_label, symbol

__all__ = [
    "chart_calibration",
    "chart_km",
    "chart_lift",
    "chart_risk_threshold",
    "chart_roc",
]

_MODEL_KEYS = {
    "logit": "c_model_logit",
    "gbm": "c_model_gbm",
    "bg_logit": "c_model_bg_logit",
    "recency_rule": "c_model_recency_rule",
    "cycle_rule": "c_model_cycle_rule",
    "bgnbd": "c_model_bgnbd",
    "bgnbd_horizon": "c_model_bgnbd_horizon",
}



def _named(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Add a display column `model_name` with the model's label in `lang`."""
    out = df.copy()
    out["model_name"] = out["model"].map(lambda m: label(_MODEL_KEYS.get(m, m), lang))
    return out


def chart_roc(points: pd.DataFrame, *, lang: str = "en") -> alt.Chart:
    """ROC curves per model pooled over the backtest cutoffs, with the chance diagonal.

    points: model, fpr, tpr (``churn.roc_points``).
    """
    if points.empty:
        return message_chart(label("c_no_data", lang))
    df = _named(points, lang)
    line = alt.Chart(df, title=label("c_chart_roc", lang)).mark_line(interpolate="step-after").encode(
        x=alt.X("fpr:Q", title=label("c_fpr", lang), scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("tpr:Q", title=label("c_tpr", lang), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("model_name:N", title=label("c_model", lang)),
    )
    diag = alt.Chart(pd.DataFrame({"fpr": [0, 1], "tpr": [0, 1]})).mark_line(
        strokeDash=[4, 4], color="#999").encode(x="fpr:Q", y="tpr:Q")
    return (diag + line).properties(width=380, height=320)


def chart_calibration(table: pd.DataFrame, *, lang: str = "en") -> alt.Chart:
    """Observed vs predicted churn rate by risk decile, with the perfect-calibration diagonal.

    table: bin, n, mean_predicted, observed, model (``churn.calibration_table``, one or more models).
    """
    if table.empty:
        return message_chart(label("c_no_data", lang))
    df = _named(table, lang)
    top = float(max(df["mean_predicted"].max(), df["observed"].max(), 0.05))
    pts = alt.Chart(df, title=label("c_chart_calibration", lang)).mark_line(point=True).encode(
        x=alt.X("mean_predicted:Q", title=label("c_predicted", lang), scale=alt.Scale(domain=[0, top])),
        y=alt.Y("observed:Q", title=label("c_observed", lang), scale=alt.Scale(domain=[0, top])),
        color=alt.Color("model_name:N", title=label("c_model", lang)),
        tooltip=[alt.Tooltip("bin:O", title=label("c_decile", lang)), "n:Q",
                 alt.Tooltip("mean_predicted:Q", format=".1%"), alt.Tooltip("observed:Q", format=".1%")],
    )
    diag = alt.Chart(pd.DataFrame({"x": [0, top], "y": [0, top]})).mark_line(
        strokeDash=[4, 4], color="#999").encode(x="x:Q", y="y:Q")
    return (diag + pts).properties(width=380, height=320)


def chart_lift(gains: pd.DataFrame, *, lang: str = "en") -> alt.Chart:
    """Cumulative gains: share of churners captured vs share of partners flagged, per model.

    gains: model, share_flagged, share_captured, lift (``churn.gains_table``).
    """
    if gains.empty:
        return message_chart(label("c_no_data", lang))
    df = _named(gains, lang)
    line = alt.Chart(df, title=label("c_chart_lift", lang)).mark_line(point=True).encode(
        x=alt.X("share_flagged:Q", title=label("c_share_flagged", lang), axis=alt.Axis(format="%")),
        y=alt.Y("share_captured:Q", title=label("c_share_captured", lang), axis=alt.Axis(format="%")),
        color=alt.Color("model_name:N", title=label("c_model", lang)),
        tooltip=["model_name:N", alt.Tooltip("share_flagged:Q", format=".0%"),
                 alt.Tooltip("share_captured:Q", format=".0%"), alt.Tooltip("lift:Q", format=".2f")],
    )
    diag = alt.Chart(pd.DataFrame({"x": [0, 1], "y": [0, 1]})).mark_line(
        strokeDash=[4, 4], color="#999").encode(x="x:Q", y="y:Q")
    return (diag + line).properties(width=380, height=320)


def chart_km(curves: pd.DataFrame, *, by: str = "tier", lang: str = "en") -> alt.Chart:
    """Kaplan–Meier curves: share of partners still ordering vs months since their first order.

    curves: group, months, survival, at_risk, lower, upper (``churn.survival_curves``).
    """
    if curves.empty:
        return message_chart(label("c_no_data", lang))
    df = curves.copy()
    df["group_name"] = df["group"].map(lambda g: label(str(g), lang))
    title = label("c_chart_km", lang) + " · " + label(by, lang)
    base = alt.Chart(df, title=title).encode(
        x=alt.X("months:Q", title=label("c_months_since_first", lang)),
        color=alt.Color("group_name:N", title=label(by, lang)),
    )
    band = base.mark_area(opacity=0.12, interpolate="step-after").encode(y="lower:Q", y2="upper:Q")
    line = base.mark_line(interpolate="step-after").encode(
        y=alt.Y("survival:Q", title=label("c_still_ordering", lang), axis=alt.Axis(format="%"),
                scale=alt.Scale(zero=False)),
        tooltip=["group_name:N", alt.Tooltip("months:Q", format=".1f"),
                 alt.Tooltip("survival:Q", format=".1%"), "at_risk:Q"],
    )
    return (band + line).properties(width=420, height=300)


def chart_risk_threshold(
    table: pd.DataFrame, *, threshold: float = 0.5, lang: str = "en", currency: str = DEFAULT_CURRENCY
) -> alt.Chart:
    """Partners flagged and sales at risk as the risk threshold moves, with an in-page slider
    (``bind=``) whose rule and text show the counts at the chosen threshold.

    table: threshold, partners_flagged, sales_at_risk_flagged[, share_churners_captured]
    (``churn.threshold_table``).
    """
    if table.empty:
        return message_chart(label("c_no_data", lang))
    df = table.copy()
    if "share_churners_captured" not in df:
        df["share_churners_captured"] = float("nan")
    sym = symbol(currency).replace("\\", "").replace("'", "")  # inside a Vega expression string
    th = alt.param(name="risk_threshold", value=float(threshold),
                   bind=alt.binding_range(min=0, max=1, step=0.02, name=label("c_threshold", lang) + " "))
    x = alt.X("threshold:Q", title=label("c_threshold", lang), scale=alt.Scale(domain=[0, 1]))
    flagged = alt.Chart(df).mark_line(color="#4c78a8").encode(
        x=x, y=alt.Y("partners_flagged:Q", title=label("c_partners_flagged", lang)),
        tooltip=[alt.Tooltip("threshold:Q", format=".2f"), "partners_flagged:Q",
                 alt.Tooltip("sales_at_risk_flagged:Q", format=",.0f"),
                 alt.Tooltip("share_churners_captured:Q", format=".0%")],
    )
    sales = alt.Chart(df).mark_line(color="#e45756").encode(
        x=x, y=alt.Y("sales_at_risk_flagged:Q", title=money_label(label("c_sales_at_risk", lang), currency),
                     axis=alt.Axis(format="~s")),
    )
    rule = alt.Chart(df).mark_rule(color="#333", strokeDash=[3, 3]).encode(
        x=alt.X(datum=th, type="quantitative")).add_params(th)
    at = alt.Chart(df).transform_filter(
        "abs(datum.threshold - risk_threshold) < 0.0101"
    ).transform_calculate(
        text=f"'{label('c_partners_flagged', lang)}: ' + datum.partners_flagged + ' · "
             f"{label('c_sales_at_risk', lang)}: {sym}' + format(datum.sales_at_risk_flagged, ',.0f') + ' · "
             f"{label('c_share_captured', lang)}: ' + "
             "(isValid(datum.share_churners_captured) ? format(datum.share_churners_captured, '.0%') : '–')"
    ).mark_text(align="left", dx=6, dy=-8, fontSize=12).encode(
        x=alt.value(4), y=alt.value(0), text="text:N")
    left = alt.layer(flagged, rule, at)
    chart = alt.layer(left, sales).resolve_scale(y="independent")
    return chart.properties(width=460, height=300, title=label("c_chart_threshold", lang))
