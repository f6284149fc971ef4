"""Segmentation and tiering: the core / growth / pilot scorecard (核心 / 成长 / 试点), clustering, migration.

Import from the package, never the modules:

- ``tiers``: the tier scorecard (`load_tier_config`, `score_partners`, `partner_tiers`, `tier_scorecard`),
  weighted components read from ``config/tiers.yaml``.
- ``features``: volume, rhythm, order size and product mix per partner (`cluster_features`).
- ``models``: the `Segmenter` estimator (`make_segmenter`); ``naming``: plain-word names as traits;
  ``selection``: the k search and the comparison with baselines.
- ``migration``: tier migration between two dates.
- ``network``: segments of the whole network and the views a page shows (`segment_table` for
  `workbench segment`).

Words for pages (English and Chinese) live in ``workbench.present.segment``.
"""

from workbench.segment.features import (
    DEFAULT_CLUSTER_FEATURES,
    DEFAULT_TOP_LINES,
    OTHER_LINE,
    SNAPSHOT_EXTRA_FEATURES,
    cluster_features,
    line_breadth,
    mix_features,
    product_mix,
    product_mix_wide,
    snapshot_features,
)
from workbench.segment.migration import (
    fell_out_of_core,
    migration_between,
    migration_matrix,
    ready_for_promotion,
    tier_migration,
)
from workbench.segment.models import Segmenter, make_segmenter
from workbench.segment.naming import cluster_traits, name_clusters
from workbench.segment.network import (
    NO_ORDERS,
    cluster_names,
    cluster_profiles,
    network_baselines,
    network_segments,
    profile_long,
    project_2d,
    segment_table,
)
from workbench.segment.selection import compare_baselines, selection_table
from workbench.segment.tiers import (
    TIERS,
    TierConfig,
    assign_tiers,
    load_tier_config,
    network_inputs,
    network_scorecard,
    partner_tiers,
    score_partners,
    scorecard_inputs,
    scorecard_view,
    tier_scorecard,
    tier_summary,
    tier_thresholds,
)

__all__ = [
    "TIERS",
    "NO_ORDERS",
    "TierConfig",
    "Segmenter",
    "make_segmenter",
    "load_tier_config",
    "scorecard_inputs",
    "score_partners",
    "assign_tiers",
    "network_scorecard",
    "partner_tiers",
    "tier_scorecard",
    "tier_thresholds",
    "network_inputs",
    "product_mix",
    "product_mix_wide",
    "cluster_features",
    "snapshot_features",
    "SNAPSHOT_EXTRA_FEATURES",
    "DEFAULT_CLUSTER_FEATURES",
    "DEFAULT_TOP_LINES",
    "OTHER_LINE",
    "line_breadth",
    "mix_features",
    "cluster_traits",
    "name_clusters",
    "tier_migration",
    "migration_matrix",
    "migration_between",
    "fell_out_of_core",
    "ready_for_promotion",
    "segment_table",
    "scorecard_view",
    "tier_summary",
    "project_2d",
    "cluster_names",
    "profile_long",
    "cluster_profiles",
    "network_segments",
    "selection_table",
    "compare_baselines",
    "network_baselines",
]
