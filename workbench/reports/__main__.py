"""``python -m workbench.reports _worker [--fresh]``: a report worker process (see runner._serve)."""

from __future__ import annotations

import sys

from workbench.reports.runner import _serve

if sys.argv[1:2] == ["_worker"]:
    sys.exit(_serve(reuse="--fresh" not in sys.argv))
