"""Charts: relationship management (frames from ``workbench.relations`` in → ``alt.Chart`` out; never displays)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from workbench.charts.base import message_chart
from workbench.i18n import label
from workbench.vocab import money_label

__all__ = ["chart_activation", "chart_channel_share", "chart_ramp"]


def chart_activation(curves: pd.DataFrame, *, lang: str = "en") -> alt.Chart:
    """Share of new partners with a first order over months since onboarding, one line per cohort.

    curves: group, months, activated (0–1) (``relations.activation_survival``).
    """
    if curves.empty:
        return message_chart(label("c_no_data", lang))
    return alt.Chart(curves, title=label("r_onboarding", lang)).mark_line(interpolate="step-after").encode(
        x=alt.X("months:Q", title=label("month_since_onboard", lang)),
        y=alt.Y("activated:Q", title=label("activation_rate", lang), axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("group:N", title=label("cohort", lang)),
    ).properties(width=420, height=260)


def chart_ramp(ramp: pd.DataFrame, *, currency: str = "CNY", lang: str = "en") -> alt.Chart:
    """Median monthly sales of new partners by month since onboarding against the mature reference.

    ramp: month_since_onboard, group (new / mature), median_sales (``relations.ramp_curves``).
    """
    if ramp.empty:
        return message_chart(label("c_no_data", lang))
    df = ramp.assign(group_name=ramp["group"].map(lambda g: label(g, lang)))
    return alt.Chart(df, title=label("median_sales", lang)).mark_line(point=True).encode(
        x=alt.X("month_since_onboard:O", title=label("month_since_onboard", lang)),
        y=alt.Y("median_sales:Q", title=money_label(label("median_sales", lang), currency)),
        color=alt.Color("group_name:N", title=""),
        strokeDash=alt.StrokeDash("group_name:N", legend=None),
    ).properties(width=420, height=260)


def chart_channel_share(mix: pd.DataFrame, *, lang: str = "en") -> alt.Chart:
    """Each channel type's (or platform's, for a mix by platform) share of quarterly net sales, stacked
    (``relations.channel_mix``)."""
    if mix.empty:
        return message_chart(label("c_no_data", lang))
    by = "platform" if "platform" in mix.columns else "channel_type"
    names = mix[by].map(lambda c: label(str(c), lang)) if by == "channel_type" else mix[by].astype(str)
    df = mix.assign(channel=names, share=mix["share"].clip(lower=0))
    title = label("r_platform_mix" if by == "platform" else "r_channel_mix", lang)
    return alt.Chart(df, title=title).mark_area().encode(
        x=alt.X("quarter:O", title=label("quarter", lang)),
        y=alt.Y("share:Q", stack="normalize", title=label("share", lang), axis=alt.Axis(format="%")),
        color=alt.Color("channel:N", title=label(by, lang)),
    ).properties(width=420, height=260)
