"""Incentive what-if widgets: sliders for volume thresholds, rates and margin; live distributions,
per-tier table and scenario export. Wiring only: the numbers come from ``workbench.incentives``."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench import incentives as inc
from workbench.charts.incentives import chart_cost_distribution, chart_roi_distribution, incentive_table
from workbench.errors import WorkbenchError
from workbench.i18n import label
from workbench.vocab import format_money
from workbench.widgets import show

__all__ = ["whatif_explorer"]


def whatif_explorer(
    base: inc.SimulationBase,
    program: inc.Program,
    *,
    current: inc.Program | None = None,
    lang: str = "en",
    export_path: str | Path = "scenario.yaml",
    max_rate_pct: float = 15.0,
    currency: str = "CNY",
) -> Any:
    """A VBox of sliders (threshold and rate per volume tier, gross margin) over `program`, showing the
    ROI and cost distributions against `current` (default: `program` as loaded), the per-tier table and
    an export button that writes the chosen scenario as YAML. Starts rendered with the defaults, so a
    papermill run shows the default scenario. `.chosen()` on the box returns the chosen Program.
    """
    import ipywidgets as w

    current = current or program
    style = {"description_width": "initial"}
    tiers = program.volume_rebate.tiers if program.volume_rebate else (inc.VolumeTier(0.0, 0.0),)
    top = max(t.threshold_cny for t in tiers) or 1_000_000.0
    step = float(10 ** max(0, int(np.log10(top)) - 2))  # ~1 % of the top threshold, a round number
    thresholds = [w.FloatSlider(value=t.threshold_cny, min=0, max=top * 3, step=step, readout_format=",.0f",
                                style=style, continuous_update=False, layout=w.Layout(width="420px"),
                                description=f"{label('i_tier_k', lang)} {i + 1} · {label('i_threshold', lang)}")
                  for i, t in enumerate(tiers)]
    rates = [w.FloatSlider(value=t.rate_pct, min=0, max=max_rate_pct, step=0.25, readout_format=".2f", style=style,
                           description=f"{label('i_tier_k', lang)} {i + 1} · {label('i_rate', lang)}",
                           continuous_update=False)
             for i, t in enumerate(tiers)]
    margin = w.FloatSlider(value=program.assumptions.margin_pct, min=0, max=80, step=1, style=style,
                           description=label("i_margin_pct", lang), continuous_update=False)
    path = w.Text(value=str(export_path), description="YAML", style=style)
    export = w.Button(description=label("i_export", lang), icon="download")
    status, charts, table = w.HTML(), w.Output(), w.Output()
    state: dict[str, Any] = {"program": program}

    def chosen() -> inc.Program:
        return inc.with_rates(program, [r.value for r in rates], thresholds_cny=[t.value for t in thresholds],
                              name=f"{program.name} (what-if)")

    def update(_: Any = None) -> None:
        try:
            scenario = chosen()
        except WorkbenchError as exc:
            status.value = f"<b style='color:#c8453c'>{html.escape(str(exc))}</b>"
            return
        state["program"] = scenario
        res = inc.simulate(base, scenario, margin_pct=margin.value)
        ref = inc.simulate(base, current, margin_pct=margin.value)
        s = res.summary("all").iloc[0]
        status.value = (f"{label('i_cost', lang)}: {html.escape(format_money(s.cost_cny, currency))} · "
                        f"{label('i_incremental_margin', lang)}: {html.escape(format_money(s.incremental_margin_cny, currency))} · "
                        f"{label('i_roi', lang)}: {s.roi:+.0%} · "
                        f"{label('i_p_roi_positive', lang)}: {s.p_roi_positive:.0%}")
        draws = pd.concat([ref.draws_frame().assign(scenario=label("i_current", lang)), res.draws_frame()],
                          ignore_index=True)
        show(charts, chart_roi_distribution(draws, margin_pct=margin.value, lang=lang, currency=currency),
             chart_cost_distribution(draws, lang=lang, currency=currency))
        show(table, incentive_table(pd.concat([res.summary("all"), res.summary("tier")]), lang=lang, currency=currency))

    def save(_: Any) -> None:
        out = inc.save_program(state["program"], path.value)
        status.value = html.escape(f"{label('i_exported', lang)} {out}")

    for widget in (*thresholds, *rates, margin):
        widget.observe(update, names="value")
    export.on_click(save)
    update()
    box = w.VBox([w.HTML(f"<b>{label('i_explorer', lang)}</b>"),
                  w.HBox([w.VBox(thresholds), w.VBox(rates)]), margin, status, charts, table,
                  w.HBox([path, export])])
    box.chosen = lambda: state["program"]
    return box
