"""Quarterly retrospective: KPI table with QoQ/YoY and targets, action effects (stacked event study),
concentration, seasonality and outlook, conflicts, tier changes and findings.

Data flow: store → ``workbench.features`` (KPIs, partner-month panel) → here → ``workbench.present.retro``
(words, tables) / charts / widgets / cli. Modules: ``kpis`` (KPI table, attainment, concentration,
conflicts, tier changes), ``effects`` (action effects), ``forecast`` (seasonality and outlook),
``findings`` (findings and the whole page), ``settings`` (config files). Everything here returns
language-neutral frames and codes.
"""

from workbench.retro._common import ACTION_TYPES
from workbench.retro.effects import (
    action_effects,
    action_effects_from_store,
    actions_from_store,
    effects_display,
    naive_before_after,
    panel_from_store,
)
from workbench.retro.findings import Finding, Retrospective, build_retrospective, finding_facts
from workbench.retro.forecast import backtest_forecast, forecast_sales, monthly_sales, stl_decompose
from workbench.retro.kpis import (
    KPI_ORDER,
    RATE_KPIS,
    REBATE_KPIS,
    attainment,
    concentration_alerts,
    concentration_by_period,
    conflict_summary,
    kpi_table,
    rebate_audit,
    rebate_kpis,
    tier_changes,
)
from workbench.retro.settings import RetroSettings, Target, TargetsConfig, load_settings, load_targets

__all__ = [
    "ACTION_TYPES",
    "KPI_ORDER",
    "RATE_KPIS",
    "REBATE_KPIS",
    "Finding",
    "RetroSettings",
    "Retrospective",
    "Target",
    "TargetsConfig",
    "action_effects",
    "action_effects_from_store",
    "actions_from_store",
    "attainment",
    "backtest_forecast",
    "build_retrospective",
    "concentration_alerts",
    "concentration_by_period",
    "conflict_summary",
    "effects_display",
    "finding_facts",
    "forecast_sales",
    "kpi_table",
    "load_settings",
    "load_targets",
    "monthly_sales",
    "naive_before_after",
    "panel_from_store",
    "rebate_audit",
    "rebate_kpis",
    "stl_decompose",
    "tier_changes",
]
