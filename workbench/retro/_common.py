"""Shared helpers of the retrospective: action types, quarter bounds, scope argument, BLAS limit."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from workbench.errors import WorkbenchError

ACTION_TYPES: tuple[str, ...] = (
    "training", "incentive", "marketing_automation", "tiering", "communication", "visit", "other",
)


def parse_quarter(quarter: str | pd.Period) -> pd.Period:
    """`'2026Q3'` → ``pd.Period('2026Q3', 'Q')``; anything else is a one-sentence WorkbenchError."""
    if isinstance(quarter, pd.Period):
        return quarter.asfreq("Q")
    text = str(quarter).strip().upper()
    try:
        if len(text) != 6 or text[4] != "Q" or text[5] not in "1234":
            raise ValueError(text)
        return pd.Period(text, freq="Q")
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(f"Quarter '{quarter}' is not a quarter like 2026Q3.") from exc


def _quarter_bounds(q: pd.Period) -> tuple[date, date]:
    return q.start_time.date(), q.end_time.date()



def _region_arg(region: str | None) -> str | None:
    return None if region is None or str(region).strip().lower() in ("", "all") else str(region).strip()


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
