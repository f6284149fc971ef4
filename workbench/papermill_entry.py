"""The papermill entry point ``workbench`` (``papermill --engine workbench in.ipynb out.ipynb``).

papermill loads its entry points while ``papermill.engines`` is itself being imported, so the object
named by the entry point must not import papermill: when a program imports
``workbench.papermill_engine`` first, that import starts papermill's, which would load the half-imported
engine module and fail. This module imports nothing; :class:`WorkbenchEngine` here is a stand-in whose
attributes (``execute_notebook``, ``nb_kernel_name``, ...) are looked up on the real
:class:`workbench.papermill_engine.WorkbenchEngine` on first use, when papermill is fully imported.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WorkbenchEngine"]


class _Deferred(type):
    """Metaclass: an attribute missing on the class is read from the real engine class."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        from workbench.papermill_engine import WorkbenchEngine as real

        return getattr(real, name)


class WorkbenchEngine(metaclass=_Deferred):
    """Stand-in for :class:`workbench.papermill_engine.WorkbenchEngine` (papermill calls its classmethods)."""
