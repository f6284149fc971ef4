"""Channel Workbench: decision tools for companies that sell through channel partners.

Submodules are imported on first use (nothing runs at import):
vocab, errors, store, ingest, features, health, segment, churn, incentives, rebates, retro, relations, synth,
present, charts, widgets, reports, cli.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = [
    "backends",
    "charts",
    "churn",
    "config",
    "errors",
    "features",
    "health",
    "i18n",
    "incentives",
    "ingest",
    "paths",
    "present",
    "rebates",
    "relations",
    "reports",
    "retro",
    "segment",
    "store",
    "synth",
    "vocab",
    "widgets",
]


def __getattr__(name: str) -> Any:
    """Import a submodule lazily: `import workbench as wb; wb.features.partner_snapshot(...)`."""
    if name in __all__:
        return importlib.import_module(f"workbench.{name}")
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
