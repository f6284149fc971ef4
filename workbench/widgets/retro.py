"""Quarterly retrospective widgets: switch region and tier, the KPI table and trend chart follow.
Wiring only: the numbers come from ``workbench.retro.kpi_table``."""

from __future__ import annotations

from typing import Any

import pandas as pd

from workbench.charts.retro import chart_kpi_trend
from workbench.i18n import label
from workbench.present.retro import kpi_wide
from workbench.widgets import show

__all__ = ["kpi_explorer"]


def _choices(kpis: pd.DataFrame, dimension: str, lang: str) -> list[tuple[str, str]]:
    groups = sorted(kpis.loc[kpis["dimension"] == dimension, "group"].dropna().unique())
    return [(label(g, lang), g) for g in groups]


def kpi_explorer(kpis: pd.DataFrame, *, lang: str = "en", kpi: str = "monthly_sales_cny") -> Any:
    """A VBox with a region and a tier dropdown over a :func:`workbench.retro.kpi_table` frame: shows the
    chosen group's KPI table (quarters, QoQ, YoY, target, attainment) and its trend chart. Choosing a
    region clears the tier and vice versa; both empty shows the whole network. Starts rendered with the
    overall view, so a papermill run shows it.
    """
    import ipywidgets as w

    style = {"description_width": "initial"}
    everyone = (label("all", lang), "")
    region = w.Dropdown(options=[everyone, *_choices(kpis, "region", lang)], value="",
                        description=label("region", lang), style=style)
    tier = w.Dropdown(options=[everyone, *_choices(kpis, "tier", lang)], value="",
                      description=label("tier", lang), style=style)
    table, chart = w.Output(), w.Output()
    busy = {"on": False}

    def view() -> tuple[str, str]:
        if region.value:
            return "region", region.value
        if tier.value:
            return "tier", tier.value
        return "overall", "all"

    def update(change: Any = None) -> None:
        if busy["on"]:
            return
        busy["on"] = True
        try:
            # one filter at a time: the KPI table has region rows and tier rows, not their cross
            if change is not None and change.get("owner") is region and region.value:
                tier.value = ""
            elif change is not None and change.get("owner") is tier and tier.value:
                region.value = ""
        finally:
            busy["on"] = False
        dim, grp = view()
        sub = kpis[(kpis["dimension"] == dim) & (kpis["group"] == grp)]
        wide = kpi_wide(kpis, dimension=dim, group=grp, lang=lang)
        show(table, wide.style.format(precision=3, na_rep="–", thousands=","))
        show(chart, chart_kpi_trend(sub, kpi=kpi, lang=lang))

    region.observe(update, names="value")
    tier.observe(update, names="value")
    update()
    return w.VBox([w.HBox([region, tier]), table, chart])
