"""Shared helpers of the retrospective: action types, quarter bounds, scope argument, BLAS limit."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from workbench.vocab import Quarter, Scope

ACTION_TYPES: tuple[str, ...] = (
    "training", "incentive", "marketing_automation", "tiering", "communication", "visit", "other",
)


def _period(quarter: str | pd.Period | Quarter) -> pd.Period:
    """The quarter (``workbench.vocab.Quarter`` rules) as a ``pd.Period('2026Q3', 'Q')``."""
    return Quarter.parse(quarter).period


def _quarter_bounds(q: pd.Period) -> tuple[date, date]:
    """First and last day (inclusive) of quarter `q`."""
    quarter = Quarter.parse(q)
    return quarter.start, quarter.end


def _region_arg(region: str | Scope | None) -> str | None:
    """The region of a region argument (``workbench.vocab.Scope`` rules), None for the whole company."""
    return Scope.parse(region).region


def _single_threaded(func: Any) -> Any:
    """Run `func` with BLAS limited to one thread: the matrices here are small, and on a busy 2-core
    machine multi-threaded BLAS spends its time contending (measured: 5–10x slower wall time)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return func(*args, **kwargs)

    return wrapper
