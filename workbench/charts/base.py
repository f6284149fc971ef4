"""Pieces shared by the chart builders of every job."""

from __future__ import annotations

import altair as alt
import pandas as pd

__all__ = ["message_chart"]


def message_chart(text: str) -> alt.Chart:
    """A small chart that only says `text` (used when there is nothing to plot)."""
    return alt.Chart(pd.DataFrame({"t": [text]})).mark_text(size=14, color="#555").encode(
        text="t:N").properties(width=420, height=40)
