"""Partner feature layer: point-in-time snapshots, partner-month panel, quarter KPIs, churn labels.

Every function builds an Ibis expression over the store's canonical tables, so the work runs where
the data lives (DuckDB by default; Spark, Trino, a warehouse … through another Ibis backend). Only
the small partner-level (or KPI-level) result comes back to pandas, via ``.to_pandas()``.

Definitions follow docs/glossary.md (columns: docs/features.md):

- an *order* is a partner's order day: the distinct dates with at least one non-return order line;
- a *return* is a line with ``is_return`` true or a negative ``net_amount``; returns count in net
  sales but never as activity;
- windows ``_90d`` / ``_180d`` / ``_365d`` are the N days ending on ``as_of`` inclusive
  (``as_of - N < date <= as_of``);
- money columns are in the store's currency (suffix ``_cny``), rates are fractions in [0, 1].

Point-in-time rule: a feature at ``as_of`` reads only rows dated on or before ``as_of``; labels
(:func:`churn_labels`) read the rows after it.

Modules: ``_common`` (constants, dates, scoping, order lines), ``snapshot`` (partner_snapshot),
``labels`` (churn_labels), ``panel`` (partner_month_panel), ``kpis`` (quarter KPIs and their blocks).
Import from the package, ``workbench.features``, never from the files.
"""

from __future__ import annotations

from workbench.features._common import (
    ACTION_TYPES,
    OPTIONAL_TABLES,
    PERSONAL_COLUMNS,
    REQUIRED_TABLES,
    DateLike,
    quarter_bounds,
    scoped_tables,
    store_regions,
)
from workbench.features.kpis import (
    KPI_COLUMNS,
    PERIOD_COLUMNS,
    action_counts,
    churn_counts,
    concentration,
    conflict_counts,
    net_sales,
    partner_counts,
    quarter_kpis,
    quarter_kpis_expr,
    quarter_periods,
    quarters_concentration,
    quarters_kpis,
    quarters_kpis_expr,
    rebate_shortfall,
    repeat_rate,
    retention,
    satisfaction,
    training_counts,
)
from workbench.features.labels import CHURN_LABEL_COLUMNS, churn_label_sets, churn_labels
from workbench.features.panel import PANEL_COLUMNS, partner_month_panel
from workbench.features.snapshot import (
    SNAPSHOT_COLUMNS,
    partner_snapshot,
    partner_snapshot_sets,
    partner_snapshots,
)

__all__ = [
    "ACTION_TYPES",
    "DateLike",
    "OPTIONAL_TABLES",
    "REQUIRED_TABLES",
    "partner_snapshots",
    "store_regions",
    "PERSONAL_COLUMNS",
    "SNAPSHOT_COLUMNS",
    "PANEL_COLUMNS",
    "CHURN_LABEL_COLUMNS",
    "KPI_COLUMNS",
    "scoped_tables",
    "partner_snapshot",
    "partner_snapshot_sets",
    "churn_label_sets",
    "partner_month_panel",
    "quarter_kpis",
    "quarter_kpis_expr",
    "quarters_kpis",
    "quarters_kpis_expr",
    "quarters_concentration",
    "quarter_periods",
    "PERIOD_COLUMNS",
    "churn_labels",
    "quarter_bounds",
    "net_sales",
    "repeat_rate",
    "retention",
    "concentration",
    "rebate_shortfall",
    "satisfaction",
    "conflict_counts",
    "training_counts",
    "partner_counts",
    "churn_counts",
    "action_counts",
]
