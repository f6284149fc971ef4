"""Pieces shared by the chart builders of every job."""

from __future__ import annotations

import altair as alt
import pandas as pd

__all__ = ["message_chart", "month_axis"]

# Vega expression for a month tick in Chinese: "2026年1月" on January, else "2月" … "12月" (vega's default
# time labels are English month names: "Jan", "Feb", ...)
_ZH_MONTH_LABEL = ("month(datum.value) == 0 ? timeFormat(datum.value, '%Y') + '年1月' "
                   ": (month(datum.value) + 1) + '月'")


def month_axis(lang: str = "en", **kwargs: object) -> alt.Axis:
    """The axis of a monthly time field in `lang`: English month names in English (vega's default), "2月" …
    with the year on January ("2026年1月") in Chinese; `kwargs` go to ``alt.Axis``."""
    if lang == "zh":
        return alt.Axis(labelExpr=_ZH_MONTH_LABEL, tickCount={"interval": "month", "step": 3}, **kwargs)
    return alt.Axis(**kwargs)


def message_chart(text: str) -> alt.Chart:
    """A small chart that only says `text` (used when there is nothing to plot)."""
    return alt.Chart(pd.DataFrame({"t": [text]})).mark_text(size=14, color="#555").encode(
        text="t:N").properties(width=420, height=40)
