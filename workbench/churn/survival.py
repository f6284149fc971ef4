"""Survival view: time to churn after a landmark date (landmark analysis) and Kaplan–Meier curves
by tier or region (statsmodels)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from workbench.churn.drivers import ACTIVE_DAYS, DatesLike, _data_span, _day, _drivers, _tables
from workbench.churn.scoring import _tiers
from workbench.errors import NotEnoughData

__all__ = ["churn_durations", "landmark_date", "survival_curves", "survival_view"]


def landmark_date(con: Any, *, as_of: DatesLike, region: str | None = None, years: int = 2) -> date:
    """Start of the survival view: `years` before as_of, but not before 180 days of order history."""
    return _landmark(_data_span(_tables(con, region))[0], _day(as_of), years)


def _landmark(data_start: date, as_of: date, years: int = 2) -> date:
    """landmark_date from the first order date."""
    return max(data_start + timedelta(days=ACTIVE_DAYS), as_of - timedelta(days=365 * years))


def churn_durations(
    con: Any, *, as_of: DatesLike, horizon_days: int = 90, region: str | None = None, landmark: DatesLike | None = None
) -> pd.DataFrame:
    """Time to churn after a landmark date for the partners active at it (landmark analysis).

    Population: the churn population at `landmark` (default landmark_date: two years before as_of).
    duration_days runs from the landmark to the last order, for partners silent for more than
    `horizon_days` at as_of (churned), else to as_of (censored). Columns: partner_id, region,
    channel_type, landmark, duration_days, churned.
    """
    d = _day(as_of)
    t = _tables(con, region, d)
    first = _data_span(t)[0]
    lm = _day(landmark) if landmark is not None else _landmark(first, d)
    if lm >= d:
        raise NotEnoughData(
            f"The survival view follows partners from a start date with {ACTIVE_DAYS} days of orders before it; "
            f"the orders start on {first}, too late for a start date before {d}."
        )
    both = _drivers(t, sorted({lm, d}))  # the drivers at the landmark and at as_of in one query
    start = both[both["cutoff"] == pd.Timestamp(lm)]
    active = start["last_order"].notna() & (start["recency_days"] < ACTIVE_DAYS)
    exited = start["exit_date"].notna() & (start["exit_date"] <= pd.Timestamp(lm))
    pop = start.loc[active & ~exited, ["partner_id", "region", "channel_type"]]
    now = both.loc[both["cutoff"] == pd.Timestamp(d), ["partner_id", "last_order", "recency_days"]]
    out = pop.merge(now, on="partner_id", how="left")
    churned = out["recency_days"] > horizon_days
    end = out["last_order"].where(churned, pd.Timestamp(d))
    out["landmark"] = pd.Timestamp(lm)
    out["duration_days"] = (end - pd.Timestamp(lm)).dt.days.clip(lower=0).astype(float)
    out["churned"] = churned.to_numpy(bool)
    return out[["partner_id", "region", "channel_type", "landmark", "duration_days", "churned"]].reset_index(drop=True)


def survival_curves(
    durations: pd.DataFrame, *, by: str, max_points: int = 120, min_n: int = 5
) -> pd.DataFrame:
    """Kaplan–Meier survival (share not yet churned) over months since the landmark, per group of `by`.

    durations: churn_durations output (plus the `by` column). Returns group, months, survival, at_risk,
    lower, upper (95% band), computed by statsmodels SurvfuncRight.
    """
    from statsmodels.duration.survfunc import SurvfuncRight

    rows = []
    for grp, g in durations.dropna(subset=[by]).groupby(by, sort=True):
        if len(g) < min_n:
            continue
        sf = SurvfuncRight(g["duration_days"].to_numpy(float) / 30.4375, g["churned"].to_numpy(int))
        se = np.nan_to_num(np.asarray(sf.surv_prob_se, dtype=float))
        lo = np.clip(sf.surv_prob - 1.96 * se, 0, 1)
        hi = np.clip(sf.surv_prob + 1.96 * se, 0, 1)
        t = np.concatenate([[0.0], sf.surv_times])
        s = np.concatenate([[1.0], sf.surv_prob])
        n = np.concatenate([[len(g)], sf.n_risk])
        lo, hi = np.concatenate([[1.0], lo]), np.concatenate([[1.0], hi])
        idx = np.unique(np.linspace(0, len(t) - 1, min(max_points, len(t))).astype(int))
        rows.append(pd.DataFrame({
            "group": str(grp), "months": t[idx], "survival": s[idx], "at_risk": n[idx],
            "lower": lo[idx], "upper": hi[idx],
        }))
    if not rows:
        return pd.DataFrame(columns=["group", "months", "survival", "at_risk", "lower", "upper"])
    return pd.concat(rows, ignore_index=True)


def survival_view(
    con: Any, *, as_of: DatesLike, by: str = "tier", horizon_days: int = 90, region: str | None = None
) -> pd.DataFrame:
    """Kaplan–Meier time-to-churn curves after the landmark date (churn_durations), grouped by
    'tier' (segment.partner_tiers at the landmark, so the groups are fixed before the outcome) or
    'region'."""
    d = churn_durations(con, as_of=as_of, horizon_days=horizon_days, region=region)
    if by == "tier":
        lm = _day(d["landmark"].iloc[0]) if len(d) else _day(as_of)
        d = d.merge(_tiers(con, as_of=lm, region=region), on="partner_id", how="left")
    return survival_curves(d, by=by)
