"""Charts: incentive what-if (frames from ``workbench.incentives`` in → ``alt.Chart`` out; never displays).

Distributions take ``SimulationResult.draws_frame()`` rows (one per scenario and draw); group charts
take ``SimulationResult.summary(by)`` / ``compare_scenarios`` rows; the frontier takes
``budget_frontier``. Sliders in HTML are Altair ``bind=`` parameters (no kernel needed).
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from workbench.charts.base import message_chart
from workbench.i18n import label
from workbench.vocab import DEFAULT_CURRENCY, money_label

__all__ = [
    "chart_cost_distribution",
    "chart_frontier",
    "chart_incentive_groups",
    "chart_roi_distribution",
    "chart_scenarios",
    "incentive_table",
]

MAX_ROWS = 4_000  # Altair embeds the rows; stay under its 5,000-row limit



def _thin(draws: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """At most MAX_ROWS rows, the same number of draws per scenario (every k-th draw)."""
    df = draws[["scenario", "draw", *cols]]
    n_scen = max(df["scenario"].nunique(), 1)
    per = MAX_ROWS // n_scen
    n_draws = df["draw"].nunique()
    if n_draws > per:
        step = int(np.ceil(n_draws / per))
        df = df[df["draw"] % step == 0]
    return df.reset_index(drop=True)


def chart_roi_distribution(draws: pd.DataFrame, *, margin_pct: float = 30.0, lang: str = "en", currency: str = DEFAULT_CURRENCY) -> alt.Chart:
    """Histogram of ROI per scenario over the draws, with a gross-margin slider (``bind=``) that
    recomputes ROI = (margin × incremental sales − cost) / cost in the page; rule at break-even.

    draws: scenario, draw, cost_cny, incremental_sales_cny (``SimulationResult.draws_frame``, concatenated).
    """
    if draws.empty:
        return message_chart(label("i_no_data", lang))
    df = _thin(draws[draws["cost_cny"] > 0], ["cost_cny", "incremental_sales_cny"])
    margin = alt.param(name="margin", value=float(margin_pct),
                       bind=alt.binding_range(min=0, max=80, step=1, name=label("i_margin_pct", lang) + " "))
    hist = alt.Chart(df, title=label("i_chart_roi", lang)).transform_calculate(
        roi="(margin / 100 * datum.incremental_sales_cny - datum.cost_cny) / datum.cost_cny"
    ).transform_bin("roi_bin", "roi", bin=alt.Bin(maxbins=40)).transform_aggregate(
        draws="count()", groupby=["scenario", "roi_bin", "roi_bin_end"]
    ).mark_bar(opacity=0.55).encode(
        x=alt.X("roi_bin:Q", title=label("i_roi", lang), axis=alt.Axis(format="%")),
        x2="roi_bin_end:Q",
        y=alt.Y("draws:Q", stack=None, title=label("i_draws", lang)),
        y2=alt.datum(0),
        color=alt.Color("scenario:N", title=label("i_scenario", lang), legend=alt.Legend(orient="bottom", columns=1)),
        tooltip=[alt.Tooltip("scenario:N", title=label("i_scenario", lang)),
                 alt.Tooltip("draws:Q", title=label("i_draws", lang))],
    ).add_params(margin)
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="#444", strokeDash=[4, 3]).encode(x="x:Q")
    return alt.layer(hist, zero).properties(width=520, height=260)


def chart_cost_distribution(draws: pd.DataFrame, *, lang: str = "en", currency: str = DEFAULT_CURRENCY) -> alt.Chart:
    """Histogram of total incentive cost (store currency, `currency` names it) per scenario over the draws.

    draws: scenario, draw, cost_cny.
    """
    if draws.empty:
        return message_chart(label("i_no_data", lang))
    df = _thin(draws, ["cost_cny"])
    return alt.Chart(df, title=label("i_chart_cost", lang)).transform_bin(
        "cost_bin", "cost_cny", bin=alt.Bin(maxbins=40)
    ).transform_aggregate(draws="count()", groupby=["scenario", "cost_bin", "cost_bin_end"]).mark_bar(opacity=0.55).encode(
        x=alt.X("cost_bin:Q", title=money_label(label("i_cost", lang), currency), axis=alt.Axis(format="~s")),
        x2="cost_bin_end:Q",
        y=alt.Y("draws:Q", stack=None, title=label("i_draws", lang)),
        y2=alt.datum(0),
        color=alt.Color("scenario:N", title=label("i_scenario", lang), legend=alt.Legend(orient="bottom", columns=1)),
    ).properties(width=520, height=220)


def _group_name(value: str, lang: str) -> str:
    return label(value, lang)


def _net_margin_bars(df: pd.DataFrame, name: str, *, title: str, axis_title: str, positive_when: str,
                     row_px: int, lang: str, currency: str,
                     colors: tuple[str, str] = ("#3a9e6f", "#c8453c")) -> alt.LayerChart:
    """Horizontal bars of expected net incremental margin (store currency) per row of `df[name]`, with
    the 90% interval as rules; bars take colors[0] where the Vega expression `positive_when` holds."""
    money_title = money_label(label("i_net_margin", lang), currency)
    y = alt.Y(f"{name}:N", title=axis_title, axis=alt.Axis(title=None), sort=list(df[name]))
    bars = alt.Chart(df, title=title).mark_bar().encode(
        y=y,
        x=alt.X("net_margin_cny:Q", title=money_title, axis=alt.Axis(format="~s")),
        color=alt.condition(positive_when, alt.value(colors[0]), alt.value(colors[1])),
        tooltip=[alt.Tooltip(f"{name}:N", title=axis_title),
                 alt.Tooltip("net_margin_cny:Q", title=money_title, format=",.0f"),
                 alt.Tooltip("cost_cny:Q", title=money_label(label("i_cost", lang), currency), format=",.0f"),
                 alt.Tooltip("p_roi_positive:Q", title=label("i_p_roi_positive", lang), format=".0%")],
    )
    rules = alt.Chart(df).mark_rule(color="#333", aria=False).encode(y=y, x="net_margin_low_cny:Q", x2="net_margin_high_cny:Q")
    return alt.layer(bars, rules).properties(width=480, height=max(60, row_px * len(df)))


def chart_incentive_groups(summary: pd.DataFrame, *, lang: str = "en", currency: str = DEFAULT_CURRENCY) -> alt.Chart:
    """Expected net incremental margin per group (bars) with its 90% interval (rules) and P(ROI > 0).

    summary: ``SimulationResult.summary(by)`` rows (group, net_margin_cny, net_margin_low_cny,
    net_margin_high_cny, p_roi_positive; dimension 'tier' or 'region').
    """
    if summary.empty:
        return message_chart(label("i_no_data", lang))
    df = summary[["group", "net_margin_cny", "net_margin_low_cny", "net_margin_high_cny", "cost_cny",
                  "p_roi_positive"]].copy()
    df["group_label"] = df["group"].map(lambda g: _group_name(g, lang))
    dim = summary["dimension"].iloc[0] if "dimension" in summary else "tier"
    title = label("i_chart_by_region" if dim == "region" else "i_chart_by_tier", lang)
    return _net_margin_bars(df, "group_label", title=title, axis_title=label("i_group", lang),
                            positive_when="datum.net_margin_cny >= 0", row_px=28, lang=lang, currency=currency)


def chart_scenarios(comparison: pd.DataFrame, *, lang: str = "en", currency: str = DEFAULT_CURRENCY) -> alt.Chart:
    """Expected net incremental margin per scenario (bars, current program outlined) with 90% intervals.

    comparison: ``compare_scenarios`` rows for dimension 'all' (scenario, net_margin_cny, …, is_current).
    """
    if comparison.empty:
        return message_chart(label("i_no_data", lang))
    df = comparison[comparison["dimension"] == "all"] if "dimension" in comparison else comparison
    df = df[["scenario", "cost_cny", "net_margin_cny", "net_margin_low_cny", "net_margin_high_cny",
             "p_roi_positive", "is_current"]].copy()
    return _net_margin_bars(df, "scenario", title=label("i_scenarios", lang), axis_title=label("i_scenario", lang),
                            positive_when="!datum.is_current", row_px=30, lang=lang, currency=currency,
                            colors=("#1f5fa8", "#6f7782"))


def chart_frontier(frontier: pd.DataFrame, *, current: Any = None, lang: str = "en", currency: str = DEFAULT_CURRENCY) -> alt.Chart:
    """Budget → best expected incremental gross margin (line and points, rates in the tooltip), the
    break-even diagonal (margin = cost: above it the program pays for itself), the current program
    as a grey diamond, and a budget slider (``bind=``) that marks the nearest budget and its rates.

    frontier: ``budget_frontier`` rows (budget_cny, expected_cost_cny, incremental_margin_cny, rates).
    current: optional mapping with cost_cny and incremental_margin_cny of the current program.
    """
    if frontier.empty:
        return message_chart(label("i_no_data", lang))
    df = frontier[["budget_cny", "expected_cost_cny", "net_margin_cny", "incremental_margin_cny", "rates"]].copy()
    lo, hi = float(df["budget_cny"].min()), float(df["budget_cny"].max())
    step = max((hi - lo) / 50, 1.0)
    pick = alt.param(name="budget", value=float(df["budget_cny"].iloc[len(df) // 2]),
                     bind=alt.binding_range(min=lo, max=hi, step=step, name=money_label(label("i_budget", lang), currency) + " "))
    x = alt.X("budget_cny:Q", title=money_label(label("i_budget", lang), currency), axis=alt.Axis(format="~s"))
    tips = [alt.Tooltip("budget_cny:Q", title=money_label(label("i_budget", lang), currency), format=",.0f"),
            alt.Tooltip("expected_cost_cny:Q", title=money_label(label("i_cost", lang), currency), format=",.0f"),
            alt.Tooltip("net_margin_cny:Q", title=money_label(label("i_net_margin", lang), currency), format=",.0f"),
            alt.Tooltip("rates:N", title=label("i_rates", lang))]
    ym = alt.Y("incremental_margin_cny:Q", title=money_label(label("i_incremental_margin", lang), currency),
               axis=alt.Axis(format="~s"))
    line = alt.Chart(df, title=label("i_frontier", lang)).mark_line(point=True).encode(
        x=x, y=ym,
        tooltip=tips,
    )
    top = float(max(df["budget_cny"].max(), df["incremental_margin_cny"].max()))
    even = alt.Chart(pd.DataFrame({"budget_cny": [0.0, top], "incremental_margin_cny": [0.0, top],
                                   "what": [label("i_break_even", lang)] * 2})).mark_line(
        color="#999", strokeDash=[5, 4], aria=False).encode(x="budget_cny:Q", y="incremental_margin_cny:Q",
                                                tooltip=[alt.Tooltip("what:N", title=" ")])
    nearest = alt.Chart(df).transform_calculate(
        dist="abs(datum.budget_cny - budget)"
    ).transform_window(rank="rank()", sort=[alt.SortField("dist", order="ascending")]).transform_filter(
        "datum.rank == 1"
    )
    marker = nearest.mark_point(size=160, filled=True, color="#e07b39").encode(x=x, y=ym, tooltip=tips)
    text = nearest.mark_text(align="left", dx=10, dy=-10, color="#e07b39", aria=False).encode(x=x, y="incremental_margin_cny:Q", text="rates:N")
    layers = [even, line, marker.add_params(pick), text]
    if current is not None:
        cur = pd.DataFrame({"budget_cny": [float(current["cost_cny"])],
                            "incremental_margin_cny": [float(current["incremental_margin_cny"])],
                            "name": [label("i_current", lang)]})
        layers.append(alt.Chart(cur).mark_point(size=120, shape="diamond", filled=True, color="#6f7782").encode(
            x=x, y=ym, tooltip=[alt.Tooltip("name:N", title=label("i_scenario", lang))]))
    return alt.layer(*layers).properties(width=520, height=280)


def incentive_table(summary: pd.DataFrame, *, lang: str = "en", currency: str = DEFAULT_CURRENCY) -> pd.DataFrame:
    """Display table of summary / comparison rows: labelled columns, money rounded, rates as percent.

    summary: ``SimulationResult.summary`` or ``compare_scenarios`` rows.
    """
    cols = {"scenario": "i_scenario", "group": "i_group", "cost_cny": "i_cost",
            "incremental_sales_cny": "i_incremental_sales", "incremental_margin_cny": "i_incremental_margin",
            "net_margin_cny": "i_net_margin", "roi": "i_roi", "p_roi_positive": "i_p_roi_positive",
            "delta_net_margin_cny": "i_delta_net_margin", "p_better": "i_p_better"}
    keep = [c for c in cols if c in summary.columns]
    if "group" in keep and summary["group"].eq("all").all():
        keep.remove("group")
    elif "group" in keep and summary["scenario"].nunique() == 1:
        keep.remove("scenario")
    out = summary[keep].copy()
    if "group" in out:
        out["group"] = out["group"].map(lambda g: label(g, lang))
    for c in keep:
        if c.endswith("_cny"):
            out[c] = out[c].round(0)
        elif c in ("roi", "p_roi_positive", "p_better"):
            out[c] = out[c].map(lambda v: "" if pd.isna(v) else f"{v:.0%}")
    return out.rename(columns={c: (money_label(label(cols[c], lang), currency) if c.endswith("_cny") else label(cols[c], lang)) for c in keep}).reset_index(drop=True)
