"""Charts: data health (frames from ``workbench.health`` in → ``alt.Chart`` out; never displays)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from workbench.charts.base import message_chart
from workbench.i18n import label
from workbench.vocab import DEFAULT_CURRENCY, money_label

__all__ = [
    "chart_ordering_gaps",
    "chart_quarantine_reasons",
    "chart_rebate_reconciliation",
    "chart_rebate_shortfall_top",
    "chart_rows_by_period",
    "chart_survey_coverage",
]



def chart_rows_by_period(rows: pd.DataFrame, *, lang: str = "en") -> alt.Chart:
    """Heatmap of rows per table (y) and month (x); colour is the month's rows relative to the table's
    median month, so a thin or missing month stands out whatever the table's size.

    rows: ``health.rows_by_period`` (table, month, rows).
    """
    if rows.empty:
        return message_chart(label("h_no_rows", lang))
    df = rows.copy()
    med = df.groupby("table")["rows"].transform("median").replace(0, 1)
    df["relative"] = (df["rows"] / med).clip(upper=2.0).round(2)
    df["table_label"] = df["table"].map(lambda t: label(f"tbl_{t}", lang))
    df["month"] = pd.to_datetime(df["month"]).dt.strftime("%Y-%m")
    return alt.Chart(df, title=label("h_chart_rows", lang)).mark_rect().encode(
        x=alt.X("month:O", title=label("month", lang), axis=alt.Axis(labelAngle=-60)),
        y=alt.Y("table_label:N", title=None, sort=[label(f"tbl_{t}", lang) for t in df["table"].unique()]),
        color=alt.Color("relative:Q", title=label("h_relative", lang),
                        scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1, 2])),
        tooltip=[alt.Tooltip("table_label:N", title=label("table_name", lang)),
                 alt.Tooltip("month:O", title=label("month", lang)),
                 alt.Tooltip("rows:Q", title=label("rows", lang), format=",")],
    ).properties(width=560, height=24 * df["table"].nunique())


def chart_quarantine_reasons(quarantine: pd.DataFrame, *, lang: str = "en", top: int = 15) -> alt.Chart:
    """Horizontal bars: quarantined rows per reason (top `top`), coloured by table.

    quarantine: ``health.quarantine_by_reason`` (table_name, reason, rows).
    """
    if quarantine.empty:
        return message_chart(label("h_no_quarantine", lang))
    df = quarantine.nlargest(top, "rows").copy()
    df["table_label"] = df["table_name"].map(lambda t: label(f"tbl_{t}", lang))
    return alt.Chart(df, title=label("h_chart_quarantine", lang)).mark_bar().encode(
        x=alt.X("rows:Q", title=label("rows", lang)),
        y=alt.Y("reason:N", title=None, sort="-x"),
        color=alt.Color("table_label:N", title=label("table_name", lang)),
        tooltip=[alt.Tooltip("table_label:N", title=label("table_name", lang)),
                 alt.Tooltip("reason:N", title=label("reason", lang)),
                 alt.Tooltip("rows:Q", title=label("rows", lang), format=",")],
    ).properties(width=420)


def chart_ordering_gaps(gaps: pd.DataFrame, *, lang: str = "en") -> alt.Chart:
    """Bars: number of partners by their longest run of months without an order.

    gaps: ``health.ordering_gaps`` (partner_id, …, longest_gap_months).
    """
    if gaps.empty:
        return message_chart(label("h_no_gaps", lang))
    df = gaps.groupby("longest_gap_months").size().rename("partners").reset_index()
    return alt.Chart(df, title=label("h_chart_gaps", lang)).mark_bar().encode(
        x=alt.X("longest_gap_months:O", title=label("longest_gap_months", lang), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("partners:Q", title=label("h_partners", lang)),
        tooltip=[alt.Tooltip("longest_gap_months:O", title=label("longest_gap_months", lang)),
                 alt.Tooltip("partners:Q", title=label("h_partners", lang))],
    ).properties(width=380, height=220)


def chart_survey_coverage(surveys: pd.DataFrame, *, by: str = "region", lang: str = "en") -> alt.Chart:
    """Stacked bars per group: active partners with and without a survey in the quarter.

    surveys: ``health.survey_coverage`` (<by>, active_partners, surveyed, missing, missing_share).
    """
    if surveys.empty:
        return message_chart(label("h_no_active", lang))
    df = surveys.copy()
    df["group"] = df[by].map(lambda v: label(str(v), lang))
    long = df.melt(id_vars=["group"], value_vars=["surveyed", "missing"], var_name="status", value_name="partners")
    long["status_label"] = long["status"].map(lambda s: label(s, lang))
    order = [label("surveyed", lang), label("missing", lang)]
    return alt.Chart(long, title=label("h_chart_surveys", lang)).mark_bar().encode(
        x=alt.X("partners:Q", title=label("h_partners", lang), stack="zero"),
        y=alt.Y("group:N", title=label(by, lang), sort="-x"),
        color=alt.Color("status_label:N", title=None, sort=order,
                        scale=alt.Scale(domain=order, range=["#3a9e6f", "#c8453c"])),
        order=alt.Order("status:N", sort="descending"),
        tooltip=[alt.Tooltip("group:N", title=label(by, lang)), alt.Tooltip("status_label:N", title=label("h_measure", lang)),
                 alt.Tooltip("partners:Q", title=label("h_partners", lang))],
    ).properties(width=420)


def chart_rebate_reconciliation(by_program: pd.DataFrame, *, lang: str = "en",
                                currency: str = DEFAULT_CURRENCY) -> alt.Chart:
    """Rebate due vs paid per quarter of period_end, with the underpaid and the overpaid amounts as two
    lines (summed apart over ledger rows, never netted); a dropdown (Altair param, works in static HTML)
    picks the program. Amounts in `currency` (the store's).

    by_program: ``health.rebate_by_program`` (program, quarter, rebate_due, rebate_paid, rebate_underpaid,
    rebate_overpaid).
    """
    if by_program.empty:
        return message_chart(label("h_no_rebates", lang))
    df = by_program.copy()
    programs = sorted(df["program"].astype(str).unique())
    long = df.melt(id_vars=["program", "quarter"], value_vars=["rebate_due", "rebate_paid"],
                   var_name="measure", value_name="amount")
    long["measure_label"] = long["measure"].map(lambda m: label(m, lang))
    gaps = df.melt(id_vars=["program", "quarter"], value_vars=["rebate_underpaid", "rebate_overpaid"],
                   var_name="measure", value_name="amount")
    gaps["measure_label"] = gaps["measure"].map(lambda m: label(m, lang))
    amount = money_label(label("h_amount", lang), currency)
    discrepancy = money_label(label("h_discrepancy", lang), currency)
    pick = alt.param(name="program_pick", value=programs[0],
                     bind=alt.binding_select(options=programs, name=label("program", lang) + " "))
    base = alt.Chart(long).transform_filter(alt.datum.program == pick)
    bars = base.mark_bar().encode(
        x=alt.X("quarter:O", title=label("quarter", lang), axis=alt.Axis(labelAngle=-45)),
        xOffset=alt.XOffset("measure_label:N"),
        y=alt.Y("amount:Q", title=amount, axis=alt.Axis(format="~s")),
        color=alt.Color("measure_label:N", title=None, scale=alt.Scale(range=["#1f5fa8", "#9cc3e6"])),
        tooltip=[alt.Tooltip("quarter:O", title=label("quarter", lang)),
                 alt.Tooltip("measure_label:N", title=label("h_measure", lang)),
                 alt.Tooltip("amount:Q", title=amount, format=",.0f")],
    ).add_params(pick)
    order = [label("rebate_underpaid", lang), label("rebate_overpaid", lang)]
    lines = alt.Chart(gaps).transform_filter(alt.datum.program == pick).mark_line(point=True).encode(
        x=alt.X("quarter:O"),
        y=alt.Y("amount:Q", title=discrepancy, axis=alt.Axis(format="~s")),
        strokeDash=alt.StrokeDash("measure_label:N", title=None, sort=order),
        color=alt.Color("measure_label:N", title=None, sort=order,
                        scale=alt.Scale(domain=order, range=["#c8453c", "#e39b2d"])),
        tooltip=[alt.Tooltip("quarter:O", title=label("quarter", lang)),
                 alt.Tooltip("measure_label:N", title=label("h_measure", lang)),
                 alt.Tooltip("amount:Q", title=discrepancy, format=",.0f")],
    )
    return alt.layer(bars, lines, title=label("h_chart_rebates", lang)).resolve_scale(
        y="independent", color="independent").properties(width=560, height=260)


def chart_rebate_shortfall_top(shortfall: pd.DataFrame, *, lang: str = "en", top: int = 15,
                               currency: str = DEFAULT_CURRENCY) -> alt.Chart:
    """Horizontal bars: the `top` partners by outstanding rebate shortfall (in `currency`, the store's).

    shortfall: ``health.rebate_shortfall_list`` (partner_id, name, …, rebate_shortfall).
    """
    if shortfall.empty:
        return message_chart(label("h_no_shortfall", lang))
    df = (shortfall.groupby(["partner_id", "name"], as_index=False)["rebate_shortfall"].sum()
          .nlargest(top, "rebate_shortfall"))
    df["who"] = df["name"].astype(str) + " (" + df["partner_id"].astype(str) + ")"
    title = money_label(label("rebate_shortfall", lang), currency)
    return alt.Chart(df, title=label("h_chart_shortfall", lang)).mark_bar(color="#c8453c").encode(
        x=alt.X("rebate_shortfall:Q", title=title, axis=alt.Axis(format="~s")),
        y=alt.Y("who:N", title=None, sort="-x"),
        tooltip=[alt.Tooltip("who:N", title=label("h_who", lang)),
                 alt.Tooltip("rebate_shortfall:Q", title=title, format=",.0f")],
    ).properties(width=420)
