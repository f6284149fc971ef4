"""``python -m workbench.reports _worker [--fresh]``: a report worker process (see workers._serve)."""

from __future__ import annotations

import sys

from workbench.reports.workers import _serve

if sys.argv[1:2] == ["_worker"]:
    sys.exit(_serve(reuse="--fresh" not in sys.argv))
