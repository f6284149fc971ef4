"""Incentive what-if: program specs (YAML), exact payout engine, response model, Monte Carlo, optimizer.

Modules: program (specs), payouts (exact engine), data (store queries), response (model), simulate
(Monte Carlo), optimize (budget), whatif (store → what-if). Units: money in CNY (columns end in ``_cny``), rates in percent of net sales (``_pct``; 3.0 = 3 %),
the response semi-elasticity ``beta`` in d ln(quarter sales) per percentage point of rebate rate.

Flow: ``load_program`` → ``compute_payouts`` (exact, per partner) and, for what-if questions,
``partner_quarter_panel`` → ``RebateResponseModel.fit`` → ``prepare_simulation`` → ``simulate`` /
``compare_scenarios`` / ``optimize_budget`` / ``budget_frontier``; ``whatif_table`` is the CLI entry.
"""

from __future__ import annotations

from workbench.incentives.data import partner_attributes, partner_quarter_panel, quarterly_rate_panel
from workbench.incentives.heterogeneity import GroupResponseModel, response_by_group, size_classes
from workbench.incentives.optimize import budget_frontier, optimize_budget
from workbench.incentives.payouts import compute_payouts, growth_bonus_cny, volume_rebate_cny
from workbench.incentives.program import (
    AWARD_METRICS,
    Assumptions,
    Award,
    Caps,
    Eligibility,
    GrowthBonus,
    Program,
    VolumeRebate,
    VolumeTier,
    load_program,
    program_from_dict,
    program_to_dict,
    save_program,
    validate_program,
    with_rates,
)
from workbench.incentives.pull_forward import PullForward, pull_forward, pull_forward_from_store
from workbench.incentives.response import AssumedResponse, RebateResponseModel, fit_response
from workbench.incentives.simulate import (
    SimulationBase,
    SimulationResult,
    compare_scenarios,
    prepare_simulation,
    simulate,
)
from workbench.incentives.whatif import (
    baseline_sales,
    default_as_of,
    ledger_rows,
    new_product_lines,
    partner_outcomes,
    response_model,
    simulation_base,
    summary_figures,
    whatif_table,
)

__all__ = [
    "GroupResponseModel",
    "PullForward",
    "pull_forward",
    "pull_forward_from_store",
    "response_by_group",
    "size_classes",
    "AWARD_METRICS",
    "Assumptions",
    "Award",
    "Caps",
    "Eligibility",
    "GrowthBonus",
    "Program",
    "RebateResponseModel",
    "SimulationBase",
    "SimulationResult",
    "VolumeRebate",
    "VolumeTier",
    "baseline_sales",
    "budget_frontier",
    "compare_scenarios",
    "compute_payouts",
    "default_as_of",
    "fit_response",
    "growth_bonus_cny",
    "load_program",
    "new_product_lines",
    "optimize_budget",
    "partner_attributes",
    "partner_outcomes",
    "partner_quarter_panel",
    "prepare_simulation",
    "program_from_dict",
    "program_to_dict",
    "quarterly_rate_panel",
    "save_program",
    "simulate",
    "simulation_base",
    "ledger_rows",
    "response_model",
    "AssumedResponse",
    "summary_figures",
    "validate_program",
    "volume_rebate_cny",
    "whatif_table",
    "with_rates",
]
