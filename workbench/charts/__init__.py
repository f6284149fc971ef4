"""Altair chart builders (DataFrame in → alt.Chart out, never displays) and the offline renderer.

One builder per chart, grouped by job in submodules; all re-exported here.
"""

from __future__ import annotations

from workbench.charts.churn import *  # noqa: F403
from workbench.charts.churn import __all__ as _churn
from workbench.charts.health import *  # noqa: F403
from workbench.charts.health import __all__ as _health
from workbench.charts.incentives import *  # noqa: F403
from workbench.charts.incentives import __all__ as _incentives
from workbench.charts.relations import *  # noqa: F403
from workbench.charts.relations import __all__ as _relations
from workbench.charts.render import *  # noqa: F403
from workbench.charts.render import __all__ as _render
from workbench.charts.retro import *  # noqa: F403
from workbench.charts.retro import __all__ as _retro
from workbench.charts.segment import *  # noqa: F403
from workbench.charts.segment import __all__ as _segment

__all__ = [*_render, *_health, *_segment, *_churn, *_incentives, *_retro, *_relations]
