"""Churn risk: which partners are about to stop reordering, why, and what to do.

Churn is the glossary's (docs/glossary.md): a partner active in the 180 days up to `as_of` churns
with horizon H when it places no non-return order in (`as_of`, `as_of` + H].

Modules (import from the package, not the module):
- `bgnbd`: BG/NBD (Fader, Hardie & Lee 2005) by maximum likelihood; the CDNOW-style summary.
- `drivers`: point-in-time order history and drivers per partner (Ibis over the store); cutoff frames.
- `models`: design matrix, the candidate models and the baseline scores.
- `backtest`: rolling-origin backtest over cutoffs, metrics, calibration, ROC and gains tables.
- `scoring`: the winner refitted, reason codes, the risk list.
- `survival`: Kaplan–Meier time-to-churn curves by tier and region (statsmodels).
Words, sentences and display tables (en/zh) live in `workbench.present.churn`.
"""

from __future__ import annotations

from workbench.churn.backtest import (
    MAX_TRAIN_CUTOFFS,
    SHORT_ACTIVE_DAYS,
    VALUE_METHODS,
    Backtest,
    BacktestDesign,
    backtest,
    backtest_design,
    backtest_plan,
    calibration_table,
    calibration_tables,
    default_cutoffs,
    gains_table,
    metrics_table,
    min_history_days,
    monthly_cutoffs,
    paired_wins,
    quarterly_cutoffs,
    roc_points,
    run_backtest,
    top_capture,
    truth_oracle,
    truth_table,
    value_metrics,
    value_predictions,
    winner,
)
from workbench.churn.bgnbd import BetaGeoFitter, cdnow_summary
from workbench.churn.drivers import (
    ACTIVE_DAYS,
    DRIVER_ORDER_COLUMNS,
    cutoff_frame,
    cutoff_frames,
    data_span,
    order_drivers,
)
from workbench.churn.models import (
    BASELINES,
    CANDIDATES,
    DRIVER_FEATURES,
    PROBABILISTIC,
    ConstantRate,
    baseline_scores,
    bgnbd_scores,
    design_matrix,
    feature_columns,
    make_gbm,
    make_logit,
    odds_ratios,
    usable_columns,
)
from workbench.churn.scoring import (
    RISK_COLUMNS,
    UNVALIDATED,
    ChurnActions,
    ReasonRule,
    Scorer,
    fit_scorer,
    load_actions,
    reason_flags,
    reasons_table,
    risk_list,
    score_frame,
    threshold_table,
)
from workbench.churn.survival import churn_durations, landmark_date, survival_curves, survival_view

__all__ = [
    "ACTIVE_DAYS",
    "BASELINES",
    "CANDIDATES",
    "DRIVER_FEATURES",
    "DRIVER_ORDER_COLUMNS",
    "MAX_TRAIN_CUTOFFS",
    "PROBABILISTIC",
    "RISK_COLUMNS",
    "SHORT_ACTIVE_DAYS",
    "UNVALIDATED",
    "VALUE_METHODS",
    "Backtest",
    "BacktestDesign",
    "BetaGeoFitter",
    "ChurnActions",
    "ConstantRate",
    "ReasonRule",
    "Scorer",
    "backtest",
    "backtest_design",
    "backtest_plan",
    "baseline_scores",
    "bgnbd_scores",
    "calibration_table",
    "calibration_tables",
    "cdnow_summary",
    "churn_durations",
    "cutoff_frame",
    "cutoff_frames",
    "data_span",
    "default_cutoffs",
    "design_matrix",
    "feature_columns",
    "fit_scorer",
    "gains_table",
    "landmark_date",
    "load_actions",
    "make_gbm",
    "make_logit",
    "metrics_table",
    "min_history_days",
    "monthly_cutoffs",
    "odds_ratios",
    "order_drivers",
    "paired_wins",
    "quarterly_cutoffs",
    "reason_flags",
    "reasons_table",
    "risk_list",
    "roc_points",
    "run_backtest",
    "score_frame",
    "survival_curves",
    "survival_view",
    "threshold_table",
    "top_capture",
    "truth_oracle",
    "truth_table",
    "usable_columns",
    "value_metrics",
    "value_predictions",
    "winner",
]
