"""Action effects: stacked event study / difference-in-differences of maintenance actions on sales.

The estimators take plain pandas frames (a partner-month panel and the actions table) so they can be
fed any panel; the ``*_from_store`` helpers read the store through the feature layer and honour
``region``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from workbench.retro._common import (
    ACTION_TYPES,
    _period,
    _quarter_bounds,
    _region_arg,
    _single_threaded,
)
from workbench.retro.bootstrap import _wild_ci, _wild_draws, _wild_p  # noqa: F401 - tests reach them here
from workbench.retro.settings import RetroSettings, load_settings

__all__ = [
    "action_effects",
    "action_effects_from_store",
    "actions_from_store",
    "effects_display",
    "naive_before_after",
    "panel_from_store",
]


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


def _prepare_panel(panel: pd.DataFrame, *, sales_col: str) -> pd.DataFrame:
    """Partner-month rows with positive sales → partner code, month index, log sales."""
    p = panel.loc[:, ["partner_id", "month", sales_col]].copy()
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
    world (docs/retro.md). The cut is the same for treated and control partners.
    """
    p = panel.loc[:, ["partner_id", "month", sales_col]].copy()
    p["month"] = pd.to_datetime(p["month"]).dt.to_period("M")
    p["sales"] = pd.to_numeric(p[sales_col], errors="coerce").astype("float64")
    p["partner_id"] = p["partner_id"].astype(str)
    p = p[p["sales"].notna()]
    ordinal = pd.PeriodIndex(p["month"]).asi8
    last = pd.Series(np.where(p["sales"] > 0, ordinal, np.iinfo(np.int64).min)).groupby(p["partner_id"].to_numpy()).transform("max")
    return p.loc[ordinal <= last.to_numpy(), ["partner_id", "month", "sales"]].reset_index(drop=True)


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


def _stack(p: pd.DataFrame, first: pd.DataFrame, action_type: str, *, pre: int, post: int) -> _Stacked | None:
    """The whole stacked data set of one action type in memory (the statsmodels engine uses it)."""
    pa = _panel_arrays(p, first)
    parts_y, parts_rel, parts_tr, parts_unit, parts_time, parts_cl = [], [], [], [], [], []
    n_treated = used = 0
    for s, g in enumerate(pa.cohorts.get(action_type, [])):
        blk = _cohort_rows(pa, action_type, int(g), pre=pre, post=post)
        if blk is None:
            continue
        idx, tr, n_tr = blk
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


def _fit_streaming(pa: _Panel, action_type: str, *, pre: int, post: int, rels: list[int],
                   cache_limit: int = 40_000_000) -> dict[str, Any] | None:
    """Pooled DiD and event study of one action type, one stack at a time (memory ~ one stack).

    Pass 1 accumulates XᵀX and Xᵀy over the stacks (blocks are disconnected in the fixed effects, so
    each is within-transformed on its own); pass 2 accumulates the per-partner score sums for the
    cluster-robust covariance (stacks beyond `cache_limit` cells are transformed again).
    """
    k = 1 + len(rels)
    xtx, xty = np.zeros((k, k)), np.zeros(k)
    cache: dict[int, np.ndarray] = {}
    cells = n_obs = n_treated = used = 0
    blocks = []
    for g in pa.cohorts.get(action_type, []):
        g = int(g)
        blk = _cohort_rows(pa, action_type, g, pre=pre, post=post)
        if blk is None:
            continue
        idx, tr, n_tr = blk
        dm = _design_block(pa, idx, tr, g, rels, pre)
        xtx += dm[:, 1:].T @ dm[:, 1:]
        xty += dm[:, 1:].T @ dm[:, 0]
        if cells + dm.size <= cache_limit:
            cache[g] = dm
            cells += dm.size
        blocks.append((g, idx, tr))
        n_obs += idx.size
        n_treated += n_tr
        used += 1
    if not used:
        return None
    keep = np.concatenate([[True], np.diag(xtx)[1:] > 1e-9])
    es_cols = np.flatnonzero(keep[1:]) + 1
    b_post = np.array([xty[0] / xtx[0, 0]])
    inv_es = np.linalg.pinv(xtx[np.ix_(es_cols, es_cols)])
    b_es = inv_es @ xty[es_cols]
    s_post = np.zeros((pa.n_partners, 1))
    s_es = np.zeros((pa.n_partners, es_cols.size))
    a_post, q_post = np.zeros(pa.n_partners), np.zeros(pa.n_partners)
    seen = np.zeros(pa.n_partners, dtype=bool)
    for g, idx, tr in blocks:
        dm = cache.pop(g, None)
        if dm is None:
            dm = _design_block(pa, idx, tr, g, rels, pre)
        cl = pa.pid[idx]
        seen[cl] = True
        e_post = dm[:, 0] - dm[:, 1] * b_post[0]
        s_post[:, 0] += np.bincount(cl, weights=dm[:, 1] * e_post, minlength=pa.n_partners)
        a_post += np.bincount(cl, weights=dm[:, 1] * dm[:, 0], minlength=pa.n_partners)
        q_post += np.bincount(cl, weights=dm[:, 1] ** 2, minlength=pa.n_partners)
        x_es = dm[:, es_cols + 1]
        e_es = dm[:, 0] - x_es @ b_es
        s_es += _code_sums(cl, x_es * e_es[:, None], pa.n_partners)
    n_groups = int(seen.sum())

    def cov(inv: np.ndarray, scores: np.ndarray) -> np.ndarray:
        kk = inv.shape[0]
        factor = n_groups / (n_groups - 1) * (n_obs - 1) / (n_obs - kk) if n_groups > 1 and n_obs > kk else 1.0
        meat = scores[seen].T @ scores[seen]
        return factor * inv @ meat @ inv

    kept = [r for r, kp in zip(rels, keep[1:], strict=True) if kp]
    return {"b_post": b_post, "v_post": cov(np.array([[1.0 / xtx[0, 0]]]), s_post), "b_es": b_es,
            "v_es": cov(inv_es, s_es), "kept": kept, "n_treated": n_treated, "n_cohorts": used, "n_obs": n_obs,
            "a_post": a_post[seen], "q_post": q_post[seen]}


def _cluster_ols(y: np.ndarray, x: np.ndarray, cluster: np.ndarray, *,
                 engine: str = "moments") -> tuple[np.ndarray, np.ndarray]:
    """OLS of within-transformed y on x with a cluster-robust (by partner) covariance.

    Same estimator and small-sample factor as statsmodels' ``cov_type="cluster"``
    (G/(G−1) · (N−1)/(N−K)); computed from k × k moments so it stays fast on millions of stacked rows
    (tests check it against statsmodels on a small case). Absorbed fixed effects nested in the
    clusters need no degrees-of-freedom correction. ``engine="statsmodels"`` runs statsmodels itself
    (slower on big stacks; same numbers).
    """
    if engine == "statsmodels":
        import statsmodels.api as sm

        fit = sm.OLS(y, x, hasconst=False).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(cluster)[0]})
        return np.asarray(fit.params), np.asarray(fit.cov_params())
    xtx = x.T @ x
    xtx_inv = np.linalg.pinv(xtx)
    beta = xtx_inv @ (x.T @ y)
    resid = y - x @ beta
    codes = pd.factorize(cluster)[0]
    n_groups = int(codes.max()) + 1
    scores = np.column_stack([
        np.bincount(codes, weights=x[:, j] * resid, minlength=n_groups) for j in range(x.shape[1])
    ])
    meat = scores.T @ scores
    n, k = x.shape
    factor = n_groups / (n_groups - 1) * (n - 1) / (n - k) if n_groups > 1 and n > k else 1.0
    cov = factor * xtx_inv @ meat @ xtx_inv
    return beta, cov



def _sd(variance: float) -> float:
    """Standard deviation from a variance estimate; NaN when rounding or too few clusters make it negative."""
    v = float(variance)
    return math.sqrt(v) if v >= 0 else float("nan")

def _pretrend_p(b: np.ndarray, v: np.ndarray, rels: list[int], *, bins: int = 4,
                n_clusters: int | None = None) -> float:
    """p-value of the joint test that the pre-period coefficients are zero.

    The pre coefficients are averaged in up to `bins` consecutive blocks first: with few treated
    partners the cluster covariance of a dozen single-month coefficients is near singular and a
    raw joint test over-rejects; block means keep the test honest. With `n_clusters` (the treated
    partners, which identify the pre coefficients) the cluster-robust Wald statistic W of q blocks is
    referred to F(q, G − q) as W·(G − q)/(q·(G − 1)) (the Hotelling small-sample correction, Cameron &
    Miller 2015 §VI): the χ² reference rejected 7.5% of true nulls at 5% over 360 tests, this one 5.6%.
    """
    from scipy import stats

    c = _pretrend_blocks(rels, len(b), bins=bins)
    if c is None:
        return float("nan")
    cb, cvc = c @ b, c @ v @ c.T
    try:
        wald = float(cb @ np.linalg.solve(cvc, cb))
    except np.linalg.LinAlgError:
        return float("nan")
    q = c.shape[0]
    if n_clusters is None or n_clusters <= q:
        return float(stats.chi2.sf(wald, q))
    g = int(n_clusters)
    return float(stats.f.sf(wald * (g - q) / (q * (g - 1)), q, g - q))


MAX_LOG_EFFECT = 5.0  # |log multiplier| beyond this (×150) is a separated fit, not an estimate


def _ppml_stacks(pa: _Panel, action_type: str, *, pre: int, post: int) -> tuple[list[tuple], int]:
    """Dense stacks of one action type for PPML: (sales partners × months, treated, partner codes,
    event month of each column) per treatment month, and the number of treated partners."""
    out, n_treated = [], 0
    for g in pa.cohorts.get(action_type, []):
        g = int(g)
        blk = _cohort_rows(pa, action_type, g, pre=pre, post=post)
        if blk is None:
            continue
        idx, tr, n_tr = blk
        unit, uniq = pd.factorize(pa.pid[idx])
        col = (pa.month[idx] - g + pre).astype(np.int64)
        y = np.full((uniq.size, pre + post + 1), np.nan)
        y[unit, col] = pa.y[idx]
        treated = np.zeros(uniq.size, bool)
        treated[unit[tr]] = True
        out.append((y, treated, np.asarray(uniq), np.arange(-pre, post + 1)))
        n_treated += n_tr
    return out, n_treated


def _fit_ppml(pa: _Panel, action_type: str, *, pre: int, post: int, rels: list[int]) -> dict[str, Any] | None:
    """Pooled effect and event study of one action type by PPML (:mod:`workbench.retro.ppml`): the
    multiplier of expected monthly sales, months without orders included."""
    from workbench.retro import ppml

    raw, n_treated = _ppml_stacks(pa, action_type, pre=pre, post=post)
    post_st = [ppml.clean_stack(y, tr, cl, (rel >= 0).astype("float64")[:, None]) for y, tr, cl, rel in raw]
    post_st = [s for s in post_st if s is not None]
    if not post_st:
        return None
    es_design = [(rel[:, None] == np.array(rels)[None, :]).astype("float64") for *_, rel in raw]
    es_st = [ppml.clean_stack(y, tr, cl, d) for (y, tr, cl, _), d in zip(raw, es_design, strict=True)]
    es_st = [s for s in es_st if s is not None]
    reach = sum(s.design[(~np.isnan(s.y[s.treated])).any(axis=0)].sum(axis=0) for s in es_st)
    keep = np.asarray(reach) > 0
    es_st = [ppml.Stack(s.y, s.treated, s.cluster, s.design[:, keep]) for s in es_st]
    f_post = ppml.fit(post_st, 1)
    if not (np.isfinite(f_post.coef).all() and abs(f_post.coef[0]) < MAX_LOG_EFFECT):
        return None  # separation (e.g. no sales after the action at all): no multiplier to report
    f_es = ppml.fit(es_st, int(keep.sum()))
    if not (np.isfinite(f_es.coef).all() and np.abs(f_es.coef).max(initial=0.0) < MAX_LOG_EFFECT):
        f_es = ppml.Fit(coef=np.full(f_es.coef.size, np.nan), cov=np.full_like(f_es.cov, np.nan),
                        information=f_es.information, scores=f_es.scores, info=f_es.info,
                        clusters=f_es.clusters, n_obs=f_es.n_obs, iterations=f_es.iterations)
    kept = [r for r, k in zip(rels, keep, strict=True) if k]
    h = f_post.info[:, 0, 0]
    return {"b_post": f_post.coef, "v_post": f_post.cov, "b_es": f_es.coef, "v_es": f_es.cov, "kept": kept,
            "n_treated": n_treated, "n_cohorts": len(post_st), "n_obs": f_post.n_obs,
            # the wild bootstrap's per-partner sums of the linearised model at the estimate
            "a_post": f_post.scores[:, 0] + f_post.coef[0] * h, "q_post": h, "es_fit": f_es}


def _pretrend_blocks(rels: list[int], k: int, *, bins: int = 4) -> np.ndarray | None:
    """Restriction rows averaging the pre-period coefficients (rel ≤ −2) in up to `bins` consecutive blocks."""
    pre = [i for i, r in enumerate(rels) if r < -1]
    if not pre:
        return None
    blocks = [blk for blk in np.array_split(np.array(pre), min(bins, len(pre))) if len(blk)]
    c = np.zeros((len(blocks), k))
    for row, blk in enumerate(blocks):
        c[row, blk] = 1.0 / len(blk)
    return c


def _pretrend_wild_p(fit: Any, rels: list[int], *, reps: int, seed: int) -> float:
    """Joint pre-trend p-value of a PPML event study by the wild cluster restricted (score) bootstrap."""
    from workbench.retro.bootstrap import _wild_wald_p

    c = _pretrend_blocks(rels, fit.coef.size)
    if c is None:
        return float("nan")
    return _wild_wald_p(fit.coef, fit.scores, fit.info, c, reps=reps, seed=seed)


def _fit_in_memory(p: pd.DataFrame, first: pd.DataFrame, action_type: str, *, pre: int, post: int,
                   rels: list[int], engine: str) -> dict[str, Any] | None:
    """The same fit as :func:`_fit_streaming` on the whole stacked data at once (any OLS engine)."""
    st = _stack(p, first, action_type, pre=pre, post=post)
    if st is None:
        return None
    mat = np.zeros((st.y.size, 2 + len(rels)))
    mat[:, 0] = st.y
    mat[:, 1] = st.treated & (st.rel >= 0)
    col_of = {r: 2 + i for i, r in enumerate(rels)}
    tr_rows = np.flatnonzero(st.treated & (st.rel != -1))
    mat[tr_rows, [col_of[r] for r in st.rel[tr_rows]]] = 1.0
    dm = _absorb(mat, st.unit, st.time)
    y, xpost, xes = dm[:, 0], dm[:, 1:2], dm[:, 2:]
    keep = (xes ** 2).sum(axis=0) > 1e-9  # event months no cohort reaches carry no information
    b_post, v_post = _cluster_ols(y, xpost, st.cluster, engine=engine)
    b_es, v_es = _cluster_ols(y, xes[:, keep], st.cluster, engine=engine)
    kept = [r for r, k in zip(rels, keep, strict=True) if k]
    codes = np.unique(st.cluster, return_inverse=True)[1]  # clusters in partner-code order, as streaming
    return {"b_post": b_post, "v_post": v_post, "b_es": b_es, "v_es": v_es, "kept": kept,
            "n_treated": st.n_treated, "n_cohorts": st.n_cohorts, "n_obs": int(st.y.size),
            "a_post": np.bincount(codes, weights=xpost[:, 0] * y), "q_post": np.bincount(codes, weights=xpost[:, 0] ** 2)}


@_single_threaded
def action_effects(
    panel: pd.DataFrame,
    actions: pd.DataFrame,
    *,
    sales_col: str = "net_sales_cny",
    pre: int = 12,
    post: int = 12,
    alpha: float = 0.05,
    model: str = "ppml",
    engine: str = "moments",
    inference: str = "wild",
    boot_reps: int = 999,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Effect of each maintenance action type on expected monthly sales, by stacked event study.

    Parameters
    ----------
    panel : one row per partner-month the partner was active (``features.partner_month_panel``: from
        onboarding to exit) with ``partner_id``, ``month`` (any date in the month) and `sales_col`
        (net sales, CNY; 0 in a month without orders).
    actions : the actions table (``partner_id``, ``action_date``, ``action_type``); a partner's first
        action defines its treatment type and month.
    pre, post : event window, months before (−pre … −2, with −1 the reference) and after (0 … post).
    model : "ppml" (default) — Poisson pseudo-maximum likelihood (:mod:`workbench.retro.ppml`): the
        effect is the multiplier of expected monthly sales, months without orders included, over each
        partner's active span (to its last month with sales, see ``_prepare_levels``); exp(effect_log)
        − 1 is the share the action added to sales. "log_ols" — the earlier estimator, OLS of log sales
        in months with positive sales (a different quantity: sales per ordering month; it misses an
        action that makes partners order more often); kept as the baseline.
    engine : log_ols only: "moments" (one stack at a time), "in_memory" or "statsmodels" (same numbers).
    inference : "wild" (default: the pooled effect's interval and p-value come from the wild cluster
        restricted bootstrap by test inversion, `boot_reps` Rademacher draws from `seed`, clustered by
        partner; for PPML on the model linearised at the estimate, i.e. the score bootstrap, and the
        pre-trend p-value from the same bootstrap of the joint Wald test) or "cluster" (CRV1 t
        interval with (treated partners − 1) degrees of freedom, F-referred pre-trend Wald test).
        Measured on the realistic world: docs/retro.md, bench/validity.py.

    Design (stacked difference-in-differences, Cengiz et al. 2019): for each action type and each
    treatment month g a stack holds that cohort and the clean controls (partners with no action up to
    g + post: never or not-yet treated), over months g − pre … g + post, with stack × partner and
    stack × month fixed effects. The headline effect is the pooled treated × after coefficient; the
    event-month coefficients give the pre-trends.

    Returns
    -------
    effects : one row per action type: effect_log (log multiplier of expected monthly sales), se,
        ci_low, ci_high (pointwise 1 − alpha interval, log points), ci_low_joint, ci_high_joint (simultaneous over the action types, Bonferroni),
        effect_pct (exp − 1, %), p_value, pretrend_p (joint test that the pre coefficients,
        averaged in four blocks, are zero),
        n_treated, n_cohorts, n_obs.
    event_study : one row per action type and event month: rel_month, coef, se, ci_low, ci_high
        (rel_month −1 is the reference, 0 by construction).
    """
    from scipy import stats

    if inference not in ("wild", "cluster"):
        raise ValueError(f"inference must be 'wild' or 'cluster', not {inference!r}")
    if model not in ("ppml", "log_ols"):
        raise ValueError(f"model must be 'ppml' or 'log_ols', not {model!r}")
    first = _first_actions(actions)
    if model == "ppml":
        p = _prepare_levels(panel, sales_col=sales_col)
        pa = _panel_arrays(p, first, "sales")
    else:
        p = _prepare_panel(panel, sales_col=sales_col)
        pa = _panel_arrays(p, first) if engine == "moments" else None
    rows, es_rows = [], []
    types = [t for t in ACTION_TYPES if t in set(first["action_type"])]
    types += sorted(set(first["action_type"]) - set(types))
    rels = [r for r in range(-pre, post + 1) if r != -1]
    moments: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for atype in types:
        if model == "ppml":
            fit = _fit_ppml(pa, atype, pre=pre, post=post, rels=rels)
        elif pa is not None:
            fit = _fit_streaming(pa, atype, pre=pre, post=post, rels=rels)
        else:
            fit = _fit_in_memory(p, first, atype, pre=pre, post=post, rels=rels,
                                 engine="statsmodels" if engine == "statsmodels" else "moments")
        if fit is None:
            continue
        b_post, v_post, b_es, v_es, kept = fit["b_post"], fit["v_post"], fit["b_es"], fit["v_es"], fit["kept"]
        n_treated_type = fit["n_treated"]
        moments[atype] = (fit["a_post"], fit["q_post"])
        se = _sd(v_post[0, 0])
        eff = float(b_post[0])
        if inference == "wild" and "es_fit" in fit:
            pretrend_p = _pretrend_wild_p(fit["es_fit"], kept, reps=boot_reps, seed=seed)
        else:
            pretrend_p = _pretrend_p(b_es, v_es, kept, n_clusters=n_treated_type)
        # t reference with (treated partners − 1) degrees of freedom: the treated clusters identify
        # the effect, and with a few dozen of them the normal reference is slightly too narrow
        dof = max(n_treated_type - 1, 1)
        tq = stats.t.ppf(1 - alpha / 2, dof)
        rows.append({
            "action_type": atype,
            "effect_log": eff,
            "se": se,
            "ci_low": eff - tq * se,
            "ci_high": eff + tq * se,
            "effect_pct": 100 * (math.exp(eff) - 1),
            "p_value": float(2 * stats.t.sf(abs(eff / se), dof)) if se > 0 else float("nan"),
            "pretrend_p": pretrend_p,
            "n_treated": n_treated_type,
            "n_cohorts": fit["n_cohorts"],
            "n_obs": int(fit["n_obs"]),
        })
        es_rows.append({"action_type": atype, "rel_month": -1, "coef": 0.0, "se": 0.0,
                        "ci_low": 0.0, "ci_high": 0.0})
        for i, r in enumerate(kept):
            s = _sd(v_es[i, i])
            es_rows.append({"action_type": atype, "rel_month": r, "coef": float(b_es[i]), "se": s,
                            "ci_low": float(b_es[i]) - tq * s, "ci_high": float(b_es[i]) + tq * s})
    effects = pd.DataFrame(rows, columns=[
        "action_type", "effect_log", "se", "ci_low", "ci_high", "effect_pct", "p_value", "pretrend_p",
        "n_treated", "n_cohorts", "n_obs",
    ])
    t_joint = stats.t.ppf(1 - alpha / (2 * max(len(effects), 1)), np.maximum(effects["n_treated"] - 1, 1))
    effects.insert(5, "ci_low_joint", effects["effect_log"] - t_joint * effects["se"])
    effects.insert(6, "ci_high_joint", effects["effect_log"] + t_joint * effects["se"])
    if inference == "wild" and len(effects):
        k = len(effects)
        for i, atype in effects["action_type"].items():
            a, q = moments[atype]
            g = a.size
            factor = g / (g - 1) if g > 1 else 1.0  # CRV1 with one regressor: G/(G−1)·(N−1)/(N−1)
            lo, hi, pv = _wild_ci(a, q, factor=factor, alpha=alpha, reps=boot_reps, seed=seed)
            lo_j, hi_j, _ = _wild_ci(a, q, factor=factor, alpha=alpha / k, reps=boot_reps, seed=seed) \
                if k > 1 else (lo, hi, pv)
            effects.loc[i, ["ci_low", "ci_high", "p_value", "ci_low_joint", "ci_high_joint"]] = [lo, hi, pv, lo_j, hi_j]
    es = pd.DataFrame(es_rows, columns=["action_type", "rel_month", "coef", "se", "ci_low", "ci_high"])
    order = {t: i for i, t in enumerate(types)}
    es = es.assign(_o=es["action_type"].map(order)).sort_values(["_o", "rel_month"], kind="mergesort")
    es = es.drop(columns="_o").reset_index(drop=True)
    return effects, es


def naive_before_after(
    panel: pd.DataFrame,
    actions: pd.DataFrame,
    *,
    sales_col: str = "net_sales_cny",
    months: int = 6,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Naive before/after per action type: mean log sales in the `months` after the action (incl. its
    month) minus the `months` before, averaged over treated partners; no comparison group.

    Returns one row per action type: naive_log, naive_se, naive_ci_low, naive_ci_high, n_partners.
    """
    from scipy import stats

    p = _prepare_panel(panel, sales_col=sales_col)
    first = _first_actions(actions)
    first = first.assign(g=pd.to_datetime(first["action_month"]).dt.to_period("M"))
    m = p.merge(first[["partner_id", "action_type", "g"]], on="partner_id", how="inner")
    rel = pd.PeriodIndex(m["month"]).asi8 - pd.PeriodIndex(m["g"]).asi8
    m = m.assign(rel=rel)
    m = m[(m["rel"] >= -months) & (m["rel"] < months)]
    m = m.assign(after=m["rel"] >= 0)
    means = m.groupby(["action_type", "partner_id", "after"])["log_sales"].mean().unstack("after")
    means = means.reindex(columns=[False, True]).dropna()  # a partner needs months on both sides
    if means.empty:
        return pd.DataFrame(columns=["action_type", "naive_log", "naive_se", "naive_ci_low",
                                     "naive_ci_high", "n_partners"])
    diff = (means[True] - means[False]).rename("d").reset_index()
    z = stats.norm.ppf(1 - alpha / 2)
    out = diff.groupby("action_type")["d"].agg(["mean", "std", "count"]).reset_index()
    se = out["std"] / np.sqrt(out["count"])
    return pd.DataFrame({
        "action_type": out["action_type"],
        "naive_log": out["mean"],
        "naive_se": se,
        "naive_ci_low": out["mean"] - z * se,
        "naive_ci_high": out["mean"] + z * se,
        "n_partners": out["count"].astype(int),
    })


# --------------------------------------------------------------------------------------------------
# store readers (region-scoped, through the feature layer)
# --------------------------------------------------------------------------------------------------

def panel_from_store(con: Any, *, end: date | str, months: int = 36, region: str | None = "all") -> pd.DataFrame:
    """Partner-month panel (``features.partner_month_panel``) for the `months` months ending at `end`."""
    from workbench import features

    end_d = pd.Timestamp(end).date()
    start_d = (pd.Period(end_d, "M") - (months - 1)).start_time.date()
    return features.partner_month_panel(con, start=start_d, end=end_d, region=_region_arg(region)).to_pandas()


def actions_from_store(con: Any, *, end: date | str, region: str | None = "all") -> pd.DataFrame:
    """The actions table (partner_id, action_date, action_type, and cost when the store has it) up to `end`,
    scoped to `region`."""
    from workbench import features

    return _actions_until(features.scoped_tables(con, _region_arg(region), as_of=pd.Timestamp(end).date()), end)


def _actions_until(t: dict[str, Any], end: date | str) -> pd.DataFrame:
    """:func:`actions_from_store` over already scoped tables `t`."""
    if "actions" not in t:
        return pd.DataFrame(columns=["partner_id", "action_date", "action_type"])
    a = t["actions"]
    a = a.filter(a.action_date <= pd.Timestamp(end).date())
    cols = ["partner_id", "action_date", "action_type"] + (["cost"] if "cost" in a.columns else [])
    return a.select(*cols).to_pandas()


def action_effects_from_store(
    con: Any, *, quarter: str, region: str | None = "all", months: int = 36,
    settings: RetroSettings | None = None,
) -> pd.DataFrame:
    """Action effects (stacked DiD) beside the naive before/after, from the store up to `quarter`'s end.

    One row per action type: the columns of :func:`action_effects` plus those of
    :func:`naive_before_after` and ``event_study`` rows in ``.attrs["event_study"]``.
    """
    settings = settings or load_settings()
    q_end = _quarter_bounds(_period(quarter))[1]
    panel = panel_from_store(con, end=q_end, months=months, region=region)
    acts = actions_from_store(con, end=q_end, region=region)
    eff, es = action_effects(panel, acts, pre=settings.event_pre_months, post=settings.event_post_months)
    naive = naive_before_after(panel, acts, months=settings.naive_months)
    out = eff.merge(naive, on="action_type", how="left")
    out.attrs["event_study"] = es
    return out


def effects_display(effects: pd.DataFrame) -> pd.DataFrame:
    """Action effects in percent for a table: action_type, effect_pct, ci_low_pct, ci_high_pct,
    naive_pct (naive before/after), pretrend_p, n_treated. Percent = 100 × (exp(log effect) − 1)."""
    e = effects

    def pct(col: str) -> pd.Series | float:  # None (no comparison possible) arrives as object dtype: NaN
        return 100 * np.expm1(pd.to_numeric(e[col], errors="coerce").astype("float64")) if col in e else np.nan

    out = pd.DataFrame({
        "action_type": e["action_type"],
        "effect_pct": pct("effect_log"),
        "ci_low_pct": pct("ci_low"),
        "ci_high_pct": pct("ci_high"),
        "naive_pct": pct("naive_log"),
        "pretrend_p": e["pretrend_p"],
        "n_treated": e["n_treated"],
    })
    return out.reset_index(drop=True)
