"""Stacked difference-in-differences data for the action effects: each partner's first action, the
partner-month panel as arrays, the rows of one treatment month's stack and their two-way fixed-effect
within transform (used by :mod:`workbench.retro.fits`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd


def _absorb(values: np.ndarray, unit: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Within-transform the columns of `values` (n × k) for two-way fixed effects (unit and time).

    Exact and non-iterative: with unit FE swept out, the time effects solve the small T × T normal
    equations ``(diag(n_t) − Cᵀ diag(1/n_u) C) λ = Dᵀ M_u v`` (C the sparse unit × time count matrix),
    then ``v − λ[time]`` is unit-demeaned. Works on unbalanced panels and disconnected blocks (stacks);
    no dense dummy matrix is built. `unit`, `time` are integer codes 0..U−1, 0..T−1.
    """
    from scipy import sparse

    v = np.asarray(values, dtype="float64")
    if v.ndim == 1:
        v = v[:, None]
    n = v.shape[0]
    ones = np.ones(n)
    n_units, n_times = int(unit.max()) + 1, int(time.max()) + 1
    du = sparse.csr_matrix((ones, (np.arange(n), unit)), shape=(n, n_units))
    dt = sparse.csr_matrix((ones, (np.arange(n), time)), shape=(n, n_times))
    n_u = np.asarray(du.sum(axis=0)).ravel()
    n_t = np.asarray(dt.sum(axis=0)).ravel()
    c = (du.T @ dt).tocsr()  # units × times counts
    a = np.diag(n_t) - (c.T @ sparse.diags(1.0 / n_u) @ c).toarray()
    s_u = du.T @ v
    s_t = dt.T @ v
    b = s_t - c.T @ (s_u / n_u[:, None])
    # minimum-norm solution through the eigen-decomposition (a is symmetric PSD; its null space
    # holds one constant per connected block, e.g. per stack)
    w, q = np.linalg.eigh(a)
    inv_w = np.where(w > w.max(initial=0.0) * 1e-10, 1.0 / np.where(w == 0, 1.0, w), 0.0)
    lam = np.ascontiguousarray(q @ (inv_w[:, None] * (q.T @ b)))
    r = v - lam[time]
    r -= np.ascontiguousarray(du.T @ r / n_u[:, None])[unit]
    return r


def _first_actions(actions: pd.DataFrame) -> pd.DataFrame:
    """Each partner's first maintenance action: partner_id, action_type, action_month (month start)."""
    a = actions.loc[:, ["partner_id", "action_date", "action_type"]].dropna(subset=["action_date"])
    a = a.assign(action_date=pd.to_datetime(a["action_date"]))
    a = a.sort_values(["partner_id", "action_date", "action_type"], kind="mergesort")
    first = a.drop_duplicates("partner_id", keep="first")
    return pd.DataFrame({
        "partner_id": first["partner_id"].astype(str).to_numpy(),
        "action_type": first["action_type"].astype(str).to_numpy(),
        "action_month": first["action_date"].dt.to_period("M").dt.to_timestamp().to_numpy(),
    })


HELD_OUT = "_held_out"  # optional bool panel column: months kept for a partner's active span, left out of the fit


def _held_out(panel: pd.DataFrame) -> np.ndarray:
    """Rows flagged in the optional :data:`HELD_OUT` column (all False without it)."""
    if HELD_OUT not in panel.columns:
        return np.zeros(len(panel), dtype=bool)
    return panel[HELD_OUT].fillna(False).to_numpy(bool)


def _prepare_panel(panel: pd.DataFrame, *, sales_col: str) -> pd.DataFrame:
    """Partner-month rows with positive sales (not :data:`HELD_OUT`) → partner code, month index, log sales."""
    p = panel.loc[~_held_out(panel), ["partner_id", "month", sales_col]].copy()
    p["month"] = pd.to_datetime(p["month"]).dt.to_period("M")
    p = p[pd.to_numeric(p[sales_col], errors="coerce") > 0]
    p["log_sales"] = np.log(p[sales_col].astype("float64"))
    p["partner_id"] = p["partner_id"].astype(str)
    return p.loc[:, ["partner_id", "month", "log_sales"]].reset_index(drop=True)


@dataclass(frozen=True)
class _Stacked:
    y: np.ndarray
    rel: np.ndarray  # event time for treated rows, a sentinel for controls
    treated: np.ndarray  # bool
    unit: np.ndarray  # stack × partner code
    time: np.ndarray  # stack × month code
    cluster: np.ndarray  # partner code
    n_treated: int
    n_cohorts: int


_NOT_TREATED = -10_000


@dataclass(frozen=True)
class _Panel:
    """Row arrays of the log-sales panel and each row's first-action month and type."""

    y: np.ndarray
    month: np.ndarray  # month ordinal
    pid: np.ndarray  # partner code 0..P-1
    n_partners: int
    first_month: np.ndarray  # first action month ordinal of the row's partner, +inf if none
    first_type: np.ndarray  # first action type of the row's partner (object), NaN if none
    cohorts: dict[str, np.ndarray]  # action type → sorted treatment months (ordinals)


def _prepare_levels(panel: pd.DataFrame, *, sales_col: str) -> pd.DataFrame:
    """Each partner's active span → partner_id, month (period), sales (0 = active without orders;
    returns may make it negative).

    The span runs from the partner's first panel month to its last month with positive sales: a
    partner that stops ordering without a recorded exit cannot be told from a quiet one, and keeping
    its trailing zeros lets partners that left before an action month pose as controls (an action is
    only ever recorded for a partner still there), which biased effects upward by 0.2 on the realistic
    world (docs/retro.md). The cut is the same for treated and control partners. Months flagged
    :data:`HELD_OUT` (e.g. from a partner's second action on) count for the span, then leave: a span cut
    at the last sale *before* them would drop a quiet partner's zero months just before its second action
    and so lift its post-action months (+0.16 log points on the growth tier, docs/retro.md).
    """
    p = panel.loc[:, ["partner_id", "month", sales_col]].copy()
    p["_out"] = _held_out(panel)
    p["month"] = pd.to_datetime(p["month"]).dt.to_period("M")
    p["sales"] = pd.to_numeric(p[sales_col], errors="coerce").astype("float64")
    p["partner_id"] = p["partner_id"].astype(str)
    p = p[p["sales"].notna()]
    ordinal = pd.PeriodIndex(p["month"]).asi8
    last = pd.Series(np.where(p["sales"] > 0, ordinal, np.iinfo(np.int64).min)).groupby(p["partner_id"].to_numpy()).transform("max")
    keep = (ordinal <= last.to_numpy()) & ~p["_out"].to_numpy(bool)
    # in (partner, month) order whatever order the backend returned: the bootstrap's draws go to partners by
    # position, so Spark's row order gave other intervals than DuckDB's with the same seed
    return (p.loc[keep, ["partner_id", "month", "sales"]].sort_values(["partner_id", "month"], kind="mergesort")
            .reset_index(drop=True))


def _panel_arrays(p: pd.DataFrame, first: pd.DataFrame, y_col: str = "log_sales") -> _Panel:
    mcode = pd.PeriodIndex(p["month"]).asi8
    pid_codes, pid_index = pd.factorize(p["partner_id"])
    ords = pd.PeriodIndex(pd.to_datetime(first["action_month"]).dt.to_period("M")).asi8
    first_ord = pd.Series(ords, index=first["partner_id"].to_numpy())
    row_first = first_ord.reindex(pid_index).to_numpy()[pid_codes]
    type_map = pd.Series(first["action_type"].to_numpy(), index=first["partner_id"].to_numpy())
    row_type = type_map.reindex(pid_index).to_numpy()[pid_codes]
    row_first = np.where(pd.isna(row_first), np.inf, row_first).astype("float64")
    cohorts = {t: np.sort(np.unique(ords[first["action_type"].to_numpy() == t])) for t in set(first["action_type"])}
    return _Panel(y=p[y_col].to_numpy(dtype="float64"), month=mcode, pid=pid_codes,
                  n_partners=len(pid_index), first_month=row_first, first_type=row_type, cohorts=cohorts)


def _cohort_rows(pa: _Panel, action_type: str, g: int, *, pre: int, post: int) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Rows of the stack for treatment month `g`: (row index, treated flag, treated partners) or None.

    Treated: partners whose first action is `action_type` in month g, seen both before and after it.
    Controls: partners with no action up to g + post (never or not yet treated). Months g − pre … g + post.
    """
    in_window = (pa.month >= g - pre) & (pa.month <= g + post)
    treated = in_window & (pa.first_month == g) & (pa.first_type == action_type)
    control = in_window & (pa.first_month > g + post)
    if not treated.any() or not control.any():
        return None
    tr_codes = pa.pid[treated]
    before = np.bincount(tr_codes[pa.month[treated] < g], minlength=pa.n_partners) > 0
    after = np.bincount(tr_codes[pa.month[treated] >= g], minlength=pa.n_partners) > 0
    ok = before & after
    treated &= ok[pa.pid]
    if not treated.any():
        return None
    idx = np.flatnonzero(treated | control)
    return idx, treated[idx], int(ok.sum())


def _cohort_blocks(pa: _Panel, action_type: str, *, pre: int, post: int
                   ) -> Iterator[tuple[int, int, np.ndarray, np.ndarray, int]]:
    """(stack number, treatment month, row index, treated flag, treated partners) of every usable stack of
    one action type; the stack number counts every treatment month, usable or not."""
    for s, g in enumerate(pa.cohorts.get(action_type, [])):
        blk = _cohort_rows(pa, action_type, int(g), pre=pre, post=post)
        if blk is not None:
            yield (s, int(g), *blk)


def _stack(p: pd.DataFrame, first: pd.DataFrame, action_type: str, *, pre: int, post: int) -> _Stacked | None:
    """The whole stacked data set of one action type in memory (the statsmodels engine uses it)."""
    pa = _panel_arrays(p, first)
    parts_y, parts_rel, parts_tr, parts_unit, parts_time, parts_cl = [], [], [], [], [], []
    n_treated = used = 0
    for s, g, idx, tr, n_tr in _cohort_blocks(pa, action_type, pre=pre, post=post):
        parts_y.append(pa.y[idx])
        parts_rel.append(np.where(tr, pa.month[idx] - g, _NOT_TREATED))
        parts_tr.append(tr)
        parts_unit.append(s * pa.n_partners + pa.pid[idx])
        parts_time.append(s * (2 * (pre + post) + 10) + (pa.month[idx] - g + pre))
        parts_cl.append(pa.pid[idx])
        n_treated += n_tr
        used += 1
    if not used:
        return None
    unit = pd.factorize(np.concatenate(parts_unit))[0]
    time = pd.factorize(np.concatenate(parts_time))[0]
    return _Stacked(
        y=np.concatenate(parts_y), rel=np.concatenate(parts_rel), treated=np.concatenate(parts_tr),
        unit=unit, time=time, cluster=np.concatenate(parts_cl), n_treated=n_treated, n_cohorts=used,
    )


def _absorb_block(v: np.ndarray, unit: np.ndarray, time: np.ndarray) -> np.ndarray:
    """:func:`_absorb` for one stack (few months): dense counts, bincounts, a tiny T × T solve."""
    n_units, n_times = int(unit.max()) + 1, int(time.max()) + 1
    n_u = np.bincount(unit, minlength=n_units).astype("float64")
    n_t = np.bincount(time, minlength=n_times).astype("float64")
    c = np.bincount(unit * n_times + time, minlength=n_units * n_times).reshape(n_units, n_times).astype("float64")
    a = np.diag(n_t) - (c.T / n_u) @ c
    s_u = _code_sums(unit, v, n_units)
    s_t = _code_sums(time, v, n_times)
    b = s_t - c.T @ (s_u / n_u[:, None])
    lam = np.linalg.pinv(a, rcond=1e-10, hermitian=True) @ b
    r = v - lam[time]
    r -= (_code_sums(unit, r, n_units) / n_u[:, None])[unit]
    return r


def _code_sums(codes: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """Column sums of the rows of `v` (rows × k) per code 0..n−1, as an n × k array.

    One bincount over the flattened matrix; each cell adds its rows in row order, exactly as a
    per-column ``np.bincount(codes, weights=v[:, j])`` does (same floating-point result).
    """
    k = v.shape[1]
    cells = (codes[:, None] * k + np.arange(k)).ravel()
    return np.bincount(cells, weights=v.ravel(), minlength=n * k).reshape(n, k)


def _design_block(pa: _Panel, idx: np.ndarray, tr: np.ndarray, g: int, rels: list[int], pre: int) -> np.ndarray:
    """Columns y, treated × post, treated × event-month dummies of one stack, within-transformed."""
    rel = pa.month[idx] - g
    mat = np.zeros((idx.size, 2 + len(rels)))
    mat[:, 0] = pa.y[idx]
    mat[:, 1] = tr & (rel >= 0)
    col_of = np.full(2 * (len(rels) + 2) + 1, -1)
    off = len(rels) + 2
    for i, r in enumerate(rels):
        col_of[r + off] = 2 + i
    rows = np.flatnonzero(tr & (rel != -1))
    mat[rows, col_of[rel[rows] + off]] = 1.0
    unit = pd.factorize(pa.pid[idx])[0]
    return _absorb_block(mat, unit, (rel + pre).astype(np.int64))
