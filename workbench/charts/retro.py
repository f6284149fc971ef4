"""Charts: quarterly retrospective (frames from ``workbench.retro`` in → ``alt.Chart`` out; never displays).

Interactivity that must survive in shared HTML (choosing the KPI, the region or tier, the action type)
uses Altair parameters bound to dropdowns; every chart draws a sensible default without them.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from workbench.charts.base import message_chart, month_axis
from workbench.i18n import label
from workbench.present.retro import kpi_label

__all__ = [
    "chart_action_effects",
    "chart_concentration",
    "chart_event_study",
    "chart_forecast",
    "chart_kpi_trend",
    "chart_stl",
    "chart_tier_migration",
]



def _group_label(dimension: str, group: str, lang: str) -> str:
    if dimension == "overall":
        return label("all", lang)
    return label(group, lang)


def chart_kpi_trend(kpis: pd.DataFrame, *, kpi: str = "monthly_sales_cny", lang: str = "en",
                    currency: str = "CNY") -> alt.Chart:
    """KPI over the table's quarters, one line per group, with dropdowns for the KPI and the dimension
    (overall / region / tier) that keep working in shared HTML.

    kpis: ``retro.kpi_table`` (dimension, group, kpi, quarter, value). `kpi` is the default choice;
    money KPIs are titled in `currency` (ISO 4217).
    """
    if kpis.empty:
        return message_chart(label("retro_kpis", lang))
    df = kpis.loc[:, ["dimension", "group", "kpi", "quarter", "value"]].dropna(subset=["value"]).copy()
    if df.empty:
        return message_chart(label("retro_kpis", lang))
    df["kpi_label"] = df["kpi"].map(lambda k: kpi_label(k, lang, currency))
    scope = kpis.attrs.get("region", "all")
    df["group_label"] = [_group_label(d, g, lang) if d != "overall" or scope in (None, "", "all") else label(scope, lang)
                         for d, g in zip(df["dimension"], df["group"], strict=True)]
    df["dimension_label"] = df["dimension"].map(lambda d: label(d if d != "overall" else "all", lang)
                                                if d != "tier" else label("tier", lang))
    kpi_opts = list(dict.fromkeys(df["kpi_label"]))
    dim_opts = list(dict.fromkeys(df["dimension_label"]))
    default_kpi = kpi_label(kpi, lang, currency)
    default_kpi = default_kpi if default_kpi in kpi_opts else kpi_opts[0]
    kpi_param = alt.param(name="kpi_choice", value=default_kpi,
                          bind=alt.binding_select(options=kpi_opts, name=label("kpi", lang) + " "))
    dim_param = alt.param(name="dim_choice", value=dim_opts[0],
                          bind=alt.binding_select(options=dim_opts, name=label("dimension", lang) + " "))
    base = alt.Chart(df, title=label("retro_kpi_trends", lang)).transform_filter(
        alt.datum.kpi_label == kpi_param).transform_filter(alt.datum.dimension_label == dim_param)
    return base.mark_line(point=True).encode(
        x=alt.X("quarter:O", title=label("quarter", lang), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False), axis=alt.Axis(format=",.3~s")),
        color=alt.Color("group_label:N", title=label("group", lang)),
        tooltip=[alt.Tooltip("group_label:N", title=label("group", lang)),
                 alt.Tooltip("quarter:O", title=label("quarter", lang)),
                 alt.Tooltip("kpi_label:N", title=label("kpi", lang)),
                 alt.Tooltip("value:Q", title=label("value", lang), format=",.4~g")],
    ).add_params(kpi_param, dim_param).properties(width=520, height=280)


def chart_action_effects(effects: pd.DataFrame, *, lang: str = "en", truth: pd.DataFrame | None = None) -> alt.Chart:
    """Effect of each action type on sales (%), difference-in-differences beside the naive before/after,
    with 95% intervals; planted truth as a tick when `truth` (action_type, effect_log) is given.

    effects: ``retro.action_effects`` merged with ``retro.naive_before_after`` (as returned by
    ``retro.action_effects_from_store``).
    """
    if effects is None or effects.empty:
        return message_chart(label("retro_effects", lang))
    import numpy as np

    rows = []
    for _, e in effects.iterrows():
        act = label(f"act_{e['action_type']}", lang)
        rows.append({"action": act, "estimator": label("did", lang), "effect": np.expm1(e["effect_log"]) * 100,
                     "low": np.expm1(e["ci_low"]) * 100, "high": np.expm1(e["ci_high"]) * 100})
        if "naive_log" in e and pd.notna(e.get("naive_log")):
            rows.append({"action": act, "estimator": label("naive", lang),
                         "effect": np.expm1(e["naive_log"]) * 100,
                         "low": np.expm1(e["naive_ci_low"]) * 100, "high": np.expm1(e["naive_ci_high"]) * 100})
    df = pd.DataFrame(rows)
    y = alt.Y("action:N", title=None, sort=list(dict.fromkeys(df["action"])))
    y_off = alt.YOffset("estimator:N", title=None)
    color = alt.Color("estimator:N", title=label("estimator", lang))
    tip = [alt.Tooltip("action:N", title=label("action_type", lang)),
           alt.Tooltip("estimator:N", title=label("estimator", lang)),
           alt.Tooltip("effect:Q", title=label("effect_pct", lang), format=".1f"),
           alt.Tooltip("low:Q", title=label("ci_low", lang), format=".1f"),
           alt.Tooltip("high:Q", title=label("ci_high", lang), format=".1f")]
    base = alt.Chart(df, title=label("retro_effects", lang))
    rules = base.mark_rule(strokeWidth=2).encode(x=alt.X("low:Q", title=label("effect_pct", lang)), x2="high:Q",
                                                 y=y, yOffset=y_off, color=color, tooltip=tip)
    points = base.mark_point(filled=True, size=70).encode(x="effect:Q", y=y, yOffset=y_off, color=color, tooltip=tip)
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="#888", strokeDash=[4, 3]).encode(x="x:Q")
    layers = [zero, rules, points]
    if truth is not None and len(truth):
        t = truth.assign(action=truth["action_type"].map(lambda a: label(f"act_{a}", lang)),
                         effect=np.expm1(truth["effect_log"]) * 100)
        t = t[t["action"].isin(df["action"])]
        layers.append(alt.Chart(t).mark_tick(color="#c8453c", thickness=2, size=22).encode(
            x="effect:Q", y=y, tooltip=[alt.Tooltip("effect:Q", format=".1f")]))
    return alt.layer(*layers).properties(width=480, height=alt.Step(16))


def chart_event_study(event_study: pd.DataFrame, *, lang: str = "en", action_type: str | None = None) -> alt.Chart:
    """Event-study coefficients (log points) with 95% intervals by month relative to the action; a
    dropdown picks the action type (default `action_type`, else the first). Month −1 is the reference.

    event_study: the second frame of ``retro.action_effects`` (action_type, rel_month, coef, ci_low, ci_high).
    """
    if event_study is None or event_study.empty:
        return message_chart(label("retro_event_study", lang))
    df = event_study.copy()
    df["action"] = df["action_type"].map(lambda a: label(f"act_{a}", lang))
    df["period_kind"] = (df["rel_month"] >= 0).map({True: "post", False: "pre"})
    opts = list(dict.fromkeys(df["action"]))
    default = label(f"act_{action_type}", lang) if action_type else opts[0]
    if default not in opts:
        default = opts[0]
    pick = alt.param(name="action_choice", value=default,
                     bind=alt.binding_select(options=opts, name=label("action_type", lang) + " "))
    base = alt.Chart(df, title=label("retro_event_study", lang)).transform_filter(alt.datum.action == pick)
    x = alt.X("rel_month:Q", title=label("rel_month", lang))
    band = base.mark_area(opacity=0.18).encode(x=x, y=alt.Y("ci_low:Q", title=label("coef", lang)), y2="ci_high:Q")
    line = base.mark_line(point=True).encode(
        x=x, y="coef:Q",
        color=alt.Color("period_kind:N", legend=None, scale=alt.Scale(domain=["pre", "post"],
                                                                     range=["#6f7782", "#1f5fa8"])),
        tooltip=[alt.Tooltip("rel_month:Q", title=label("rel_month", lang)),
                 alt.Tooltip("coef:Q", title=label("coef", lang), format=".3f"),
                 alt.Tooltip("ci_low:Q", title=label("ci_low", lang), format=".3f"),
                 alt.Tooltip("ci_high:Q", title=label("ci_high", lang), format=".3f")])
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="#888", strokeDash=[4, 3]).encode(y="y:Q")
    start = alt.Chart(pd.DataFrame({"x": [-0.5]})).mark_rule(color="#c8453c").encode(x="x:Q")
    return alt.layer(band, line, zero, start).add_params(pick).properties(width=520, height=260)


def chart_concentration(conc: pd.DataFrame, *, lang: str = "en", top1_alert: float | None = None,
                        top5_alert: float | None = None) -> alt.Chart:
    """Top-1 and top-5 shares and HHI of net sales per period, with the alert thresholds as dashed rules.

    conc: ``retro.concentration_by_period`` (period, top1_share, top5_share, hhi, …).
    """
    if conc is None or conc.empty:
        return message_chart(label("retro_concentration", lang))
    long = conc.melt(id_vars=["period"], value_vars=["top1_share", "top5_share", "hhi"],
                     var_name="measure", value_name="value")
    long["measure_label"] = long["measure"].map(lambda m: label(m, lang))
    base = alt.Chart(long, title=label("retro_concentration", lang))
    lines = base.mark_line(point=True).encode(
        x=alt.X("period:O", title=label("period", lang), axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("value:Q", title=label("share", lang), axis=alt.Axis(format="%")),
        color=alt.Color("measure_label:N", title=label("measure", lang)),
        tooltip=[alt.Tooltip("period:O", title=label("period", lang)),
                 alt.Tooltip("measure_label:N", title=label("measure", lang)),
                 alt.Tooltip("value:Q", title=label("value", lang), format=".1%")])
    layers = [lines]
    th = [(v, label(m, lang)) for v, m in ((top1_alert, "top1_share"), (top5_alert, "top5_share")) if v is not None]
    if th:
        tdf = pd.DataFrame({"value": [v for v, _ in th], "what": [f"{label('threshold', lang)}: {m}" for _, m in th]})
        layers.append(alt.Chart(tdf).mark_rule(color="#c8453c", strokeDash=[6, 4]).encode(
            y="value:Q", tooltip=[alt.Tooltip("what:N", title=label("threshold", lang)),
                                  alt.Tooltip("value:Q", format=".0%")]))
    return alt.layer(*layers).properties(width=520, height=260)


def chart_stl(stl: pd.DataFrame, *, lang: str = "en") -> alt.Chart:
    """STL components of monthly sales (observed, trend, seasonal, remainder), one row each.

    stl: ``retro.stl_decompose`` (month, observed, trend, seasonal, resid).
    """
    if stl is None or stl.empty:
        return message_chart(label("retro_outlook", lang))
    long = stl.melt(id_vars=["month"], value_vars=["observed", "trend", "seasonal", "resid"],
                    var_name="component", value_name="value")
    long["component_label"] = long["component"].map(lambda c: label(c, lang))
    order = [label(c, lang) for c in ("observed", "trend", "seasonal", "resid")]
    return alt.Chart(long).mark_line().encode(
        x=alt.X("month:T", title=label("month", lang), axis=month_axis(lang)),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False), axis=alt.Axis(format=",.3~s")),
        tooltip=[alt.Tooltip("month:T", title=label("month", lang), format="%Y-%m"),
                 alt.Tooltip("value:Q", title=label("value", lang), format=",.0f")],
    ).properties(width=520, height=90).facet(
        row=alt.Row("component_label:N", title=None, sort=order)
    ).resolve_scale(y="independent").properties(title=label("retro_outlook", lang))


def chart_forecast(history: pd.Series, forecast: pd.DataFrame, *, lang: str = "en",
                   currency: str = "CNY") -> alt.Chart:
    """Monthly sales history and the next months' forecast with its 95% prediction interval (none when
    `forecast` is empty).

    history: ``retro.monthly_sales`` (Period-indexed, in `currency`); forecast: ``retro.forecast_sales``.
    """
    if history is None or len(history) == 0:
        return message_chart(label("forecast", lang))
    h = pd.DataFrame({"month": history.index.to_timestamp(), "value": history.to_numpy(),
                      "kind": label("observed", lang)})
    has_forecast = forecast is not None and len(forecast) > 0
    if has_forecast:
        f = forecast.rename(columns={"forecast": "value"}).assign(kind=label("forecast", lang))
        # join the forecast line to the last observed month
        f_line = pd.concat([h.tail(1), f[["month", "value", "kind"]]], ignore_index=True).assign(
            kind=label("forecast", lang))
        data = pd.concat([h, f_line], ignore_index=True)
    else:
        data = h
    color = alt.Color("kind:N", title=None)
    tip_month = alt.Tooltip("month:T", title=label("month", lang), format="%Y-%m")
    lines = alt.Chart(data, title=label("forecast", lang)).mark_line(point=True).encode(
        x=alt.X("month:T", title=label("month", lang), axis=month_axis(lang)),
        y=alt.Y("value:Q", title=kpi_label("monthly_sales_cny", lang, currency), scale=alt.Scale(zero=False),
                axis=alt.Axis(format=",.3~s")),
        color=color, tooltip=[tip_month, alt.Tooltip("value:Q", title=label("value", lang), format=",.0f")])
    if not has_forecast:
        return lines.properties(width=560, height=280)
    band = alt.Chart(forecast).mark_area(opacity=0.2, color="#e07b39").encode(
        x="month:T", y="lower:Q", y2="upper:Q",
        tooltip=[tip_month, alt.Tooltip("lower:Q", title=label("ci_low", lang), format=",.0f"),
                 alt.Tooltip("upper:Q", title=label("ci_high", lang), format=",.0f")])
    return alt.layer(band, lines).properties(width=560, height=280)


def chart_tier_migration(migration: pd.DataFrame, *, lang: str = "en") -> alt.Chart:
    """Heatmap of tier migration since last quarter: partners from tier (rows) to tier (columns).

    migration: ``segment.tier_migration`` (tier_from, tier_to, partners, share).
    """
    if migration is None or migration.empty:
        return message_chart(label("retro_migration", lang))
    df = migration.copy()
    df["from_label"] = df["tier_from"].map(lambda t: label(t, lang))
    df["to_label"] = df["tier_to"].map(lambda t: label(t, lang))
    order_from = [label(t, lang) for t in dict.fromkeys(df["tier_from"])]
    order_to = [label(t, lang) for t in dict.fromkeys(df["tier_to"])]
    base = alt.Chart(df, title=label("retro_migration", lang))
    rect = base.mark_rect().encode(
        x=alt.X("to_label:N", title=label("tier_to", lang), sort=order_to, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("from_label:N", title=label("tier_from", lang), sort=order_from),
        color=alt.Color("share:Q", title=label("share", lang), scale=alt.Scale(scheme="blues")),
        tooltip=[alt.Tooltip("from_label:N", title=label("tier_from", lang)),
                 alt.Tooltip("to_label:N", title=label("tier_to", lang)),
                 alt.Tooltip("partners:Q", title=label("partners", lang)),
                 alt.Tooltip("share:Q", title=label("share", lang), format=".0%")])
    text = base.mark_text(fontSize=12).encode(
        x=alt.X("to_label:N", sort=order_to), y=alt.Y("from_label:N", sort=order_from), text="partners:Q")
    return alt.layer(rect, text).properties(width=320, height=200)
