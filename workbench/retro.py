"""Quarterly retrospective: KPI table with QoQ/YoY and targets, action effects (stacked event study),
concentration, seasonality and outlook, conflicts, tier migration and plain-language findings.

Data flow: store → ``workbench.features`` (KPIs, partner-month panel) → here → charts / widgets / cli.
The estimators (``action_effects``, ``forecast_sales``, ``concentration``…) take plain pandas frames so
they can be fed any panel; the ``*_from_store`` helpers read the store through the feature layer and
honour ``region``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.config import load as load_config
from workbench.errors import ConfigError, WorkbenchError
from workbench.paths import config_file

__all__ = [
    "ACTION_TYPES",
    "KPI_ORDER",
    "RetroSettings",
    "Retrospective",
    "Target",
    "TargetsConfig",
    "action_effects",
    "action_effects_from_store",
    "actions_from_store",
    "attainment",
    "backtest_forecast",
    "build_retrospective",
    "concentration",
    "concentration_alerts",
    "effects_display",
    "conflict_summary",
    "findings",
    "forecast_sales",
    "kpi_table",
    "kpi_wide",
    "load_settings",
    "load_targets",
    "monthly_sales",
    "naive_before_after",
    "panel_from_store",
    "parse_quarter",
    "stl_decompose",
    "table",
    "tier_migration",
]

ACTION_TYPES: tuple[str, ...] = (
    "training", "incentive", "marketing_automation", "tiering", "communication", "visit", "other",
)


# --------------------------------------------------------------------------------------------------
# quarters
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# action effects: stacked event study / difference-in-differences
# --------------------------------------------------------------------------------------------------

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


def _panel_arrays(p: pd.DataFrame, first: pd.DataFrame) -> _Panel:
    mcode = pd.PeriodIndex(p["month"]).asi8
    pid_codes, pid_index = pd.factorize(p["partner_id"])
    ords = pd.PeriodIndex(pd.to_datetime(first["action_month"]).dt.to_period("M")).asi8
    first_ord = pd.Series(ords, index=first["partner_id"].to_numpy())
    row_first = first_ord.reindex(pid_index).to_numpy()[pid_codes]
    type_map = pd.Series(first["action_type"].to_numpy(), index=first["partner_id"].to_numpy())
    row_type = type_map.reindex(pid_index).to_numpy()[pid_codes]
    row_first = np.where(pd.isna(row_first), np.inf, row_first).astype("float64")
    cohorts = {t: np.sort(np.unique(ords[first["action_type"].to_numpy() == t])) for t in set(first["action_type"])}
    return _Panel(y=p["log_sales"].to_numpy(dtype="float64"), month=mcode, pid=pid_codes,
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
    seen = np.zeros(pa.n_partners, dtype=bool)
    for g, idx, tr in blocks:
        dm = cache.pop(g, None)
        if dm is None:
            dm = _design_block(pa, idx, tr, g, rels, pre)
        cl = pa.pid[idx]
        seen[cl] = True
        e_post = dm[:, 0] - dm[:, 1] * b_post[0]
        s_post[:, 0] += np.bincount(cl, weights=dm[:, 1] * e_post, minlength=pa.n_partners)
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
            "v_es": cov(inv_es, s_es), "kept": kept, "n_treated": n_treated, "n_cohorts": used, "n_obs": n_obs}


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


def _pretrend_p(b: np.ndarray, v: np.ndarray, rels: list[int], *, bins: int = 4) -> float:
    """p-value of the joint Wald test that the pre-period coefficients are zero.

    The pre coefficients are averaged in up to `bins` consecutive blocks first: with few treated
    partners the cluster covariance of a dozen single-month coefficients is near singular and a
    raw joint test over-rejects; block means keep the test honest.
    """
    from scipy import stats

    pre = [i for i, r in enumerate(rels) if r < -1]
    if not pre:
        return float("nan")
    blocks = [blk for blk in np.array_split(np.array(pre), min(bins, len(pre))) if len(blk)]
    c = np.zeros((len(blocks), len(b)))
    for row, blk in enumerate(blocks):
        c[row, blk] = 1.0 / len(blk)
    cb, cvc = c @ b, c @ v @ c.T
    try:
        wald = float(cb @ np.linalg.solve(cvc, cb))
    except np.linalg.LinAlgError:
        return float("nan")
    return float(stats.chi2.sf(wald, len(blocks)))


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
    return {"b_post": b_post, "v_post": v_post, "b_es": b_es, "v_es": v_es, "kept": kept,
            "n_treated": st.n_treated, "n_cohorts": st.n_cohorts, "n_obs": int(st.y.size)}


@_single_threaded
def action_effects(
    panel: pd.DataFrame,
    actions: pd.DataFrame,
    *,
    sales_col: str = "net_sales_cny",
    pre: int = 12,
    post: int = 12,
    alpha: float = 0.05,
    engine: str = "moments",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Effect of each maintenance action type on log monthly sales, by stacked event study.

    Parameters
    ----------
    panel : one row per partner-month with ``partner_id``, ``month`` (any date in the month) and
        `sales_col` (net sales, CNY). Months with zero or negative sales are left out (log scale).
    actions : the actions table (``partner_id``, ``action_date``, ``action_type``); a partner's first
        action defines its treatment type and month.
    pre, post : event window, months before (−pre … −2, with −1 the reference) and after (0 … post).
    engine : "moments" (default: one stack at a time, memory of one stack, cluster-robust covariance
        from moments), "in_memory" (the whole stacked data at once, same numbers) or "statsmodels"
        (statsmodels OLS with cov_type="cluster" on the within-transformed stacked data; same
        numbers, slower and memory-hungry on large panels).

    Design (stacked difference-in-differences, Cengiz et al. 2019): for each action type and each
    treatment month g a stack holds that cohort and the clean controls (partners with no action up to
    g + post: never or not-yet treated), over months g − pre … g + post. Log sales are regressed on
    treated × event-month dummies with stack × partner and stack × month fixed effects (swept out
    exactly, stack by stack: no dummy matrix), standard errors clustered by partner (the estimator of
    statsmodels' ``cov_type="cluster"``) and a t reference with (treated partners − 1) degrees of
    freedom. The headline effect is the pooled difference-in-differences (treated × post) in the same
    stacked data; the event-month coefficients give the pre-trends.

    Returns
    -------
    effects : one row per action type: effect_log, se, ci_low, ci_high (pointwise 1 − alpha interval,
        log points), ci_low_joint, ci_high_joint (simultaneous over the action types, Bonferroni),
        effect_pct (exp − 1, %), p_value, pretrend_p (joint Wald test that the pre coefficients,
        averaged in four blocks, are zero),
        n_treated, n_cohorts, n_obs.
    event_study : one row per action type and event month: rel_month, coef, se, ci_low, ci_high
        (rel_month −1 is the reference, 0 by construction).
    """
    from scipy import stats

    p = _prepare_panel(panel, sales_col=sales_col)
    first = _first_actions(actions)
    rows, es_rows = [], []
    types = [t for t in ACTION_TYPES if t in set(first["action_type"])]
    types += sorted(set(first["action_type"]) - set(types))
    rels = [r for r in range(-pre, post + 1) if r != -1]
    pa = _panel_arrays(p, first) if engine == "moments" else None
    for atype in types:
        if pa is not None:
            fit = _fit_streaming(pa, atype, pre=pre, post=post, rels=rels)
        else:
            fit = _fit_in_memory(p, first, atype, pre=pre, post=post, rels=rels,
                                 engine="statsmodels" if engine == "statsmodels" else "moments")
        if fit is None:
            continue
        b_post, v_post, b_es, v_es, kept = fit["b_post"], fit["v_post"], fit["b_es"], fit["v_es"], fit["kept"]
        n_treated_type = fit["n_treated"]
        se = math.sqrt(v_post[0, 0])
        eff = float(b_post[0])
        pretrend_p = _pretrend_p(b_es, v_es, kept)
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
            s = math.sqrt(v_es[i, i])
            es_rows.append({"action_type": atype, "rel_month": r, "coef": float(b_es[i]), "se": s,
                            "ci_low": float(b_es[i]) - tq * s, "ci_high": float(b_es[i]) + tq * s})
    effects = pd.DataFrame(rows, columns=[
        "action_type", "effect_log", "se", "ci_low", "ci_high", "effect_pct", "p_value", "pretrend_p",
        "n_treated", "n_cohorts", "n_obs",
    ])
    t_joint = stats.t.ppf(1 - alpha / (2 * max(len(effects), 1)), np.maximum(effects["n_treated"] - 1, 1))
    effects.insert(5, "ci_low_joint", effects["effect_log"] - t_joint * effects["se"])
    effects.insert(6, "ci_high_joint", effects["effect_log"] + t_joint * effects["se"])
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
    means = means.dropna()
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

def _region_arg(region: str | None) -> str | None:
    return None if region is None or str(region).strip().lower() in ("", "all") else str(region).strip()


def panel_from_store(con: Any, *, end: date | str, months: int = 36, region: str | None = "all") -> pd.DataFrame:
    """Partner-month panel (``features.partner_month_panel``) for the `months` months ending at `end`."""
    from workbench import features

    end_d = pd.Timestamp(end).date()
    start_d = (pd.Period(end_d, "M") - (months - 1)).start_time.date()
    return features.partner_month_panel(con, start=start_d, end=end_d, region=_region_arg(region)).to_pandas()


def actions_from_store(con: Any, *, end: date | str, region: str | None = "all") -> pd.DataFrame:
    """The actions table (partner_id, action_date, action_type) up to `end`, scoped to `region`."""
    from workbench import features

    return _actions_until(features.scoped_tables(con, _region_arg(region)), end)


def _actions_until(t: dict[str, Any], end: date | str) -> pd.DataFrame:
    """:func:`actions_from_store` over already scoped tables `t`."""
    if "actions" not in t:
        return pd.DataFrame(columns=["partner_id", "action_date", "action_type"])
    a = t["actions"]
    a = a.filter(a.action_date <= pd.Timestamp(end).date())
    return a.select("partner_id", "action_date", "action_type").to_pandas()


def action_effects_from_store(
    con: Any, *, quarter: str, region: str | None = "all", months: int = 36,
    settings: RetroSettings | None = None,
) -> pd.DataFrame:
    """Action effects (stacked DiD) beside the naive before/after, from the store up to `quarter`'s end.

    One row per action type: the columns of :func:`action_effects` plus those of
    :func:`naive_before_after` and ``event_study`` rows in ``.attrs["event_study"]``.
    """
    settings = settings or load_settings()
    q_end = _quarter_bounds(parse_quarter(quarter))[1]
    panel = panel_from_store(con, end=q_end, months=months, region=region)
    acts = actions_from_store(con, end=q_end, region=region)
    eff, es = action_effects(panel, acts, pre=settings.event_pre_months, post=settings.event_post_months)
    naive = naive_before_after(panel, acts, months=settings.naive_months)
    out = eff.merge(naive, on="action_type", how="left")
    out.attrs["event_study"] = es
    return out


# --------------------------------------------------------------------------------------------------
# settings and targets (config)
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RetroSettings:
    """Alert thresholds and design choices of the retrospective (``config/retro.yaml``)."""

    top1_share_alert: float = 0.30  # alert when one partner's share of net sales passes this (0–1)
    top5_share_alert: float = 0.60  # alert when the five largest partners' share passes this (0–1)
    event_pre_months: int = 12  # event-study months before the action
    event_post_months: int = 12  # event-study months from the action on
    naive_months: int = 6  # months before / after in the naive comparison
    forecast_horizon_months: int = 3  # next quarter
    backtest_origins: int = 4  # rolling forecast origins in the backtest


def load_settings(path: str | Path | None = None) -> RetroSettings:
    """Settings from `path` (default ``config/retro.yaml``; defaults if that file is absent)."""
    if path is None:
        path = config_file("retro.yaml")
        if not Path(path).exists():
            return RetroSettings()
    cfg = load_config(RetroSettings, path)
    for name in ("top1_share_alert", "top5_share_alert"):
        v = getattr(cfg, name)
        if not 0 < v <= 1:
            raise ConfigError(f"{path}: {name} must be a share between 0 and 1, not {v}.")
    for name in ("event_pre_months", "event_post_months", "naive_months", "forecast_horizon_months",
                 "backtest_origins"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"{path}: {name} must be at least 1, not {getattr(cfg, name)}.")
    return cfg


TARGET_KPIS: tuple[str, ...] = ("growth", "satisfaction", "repeat_rate", "new_partners")


@dataclass(frozen=True)
class Target:
    """KPI targets of one region for one period (a year like 2026, or a quarter like 2026Q3).

    growth: year-on-year growth of monthly sales (0.08 = +8%); satisfaction: mean survey score
    (0–100); repeat_rate: share (0–1); new_partners: partners onboarded in the period.
    """

    period: str
    region: str = "all"
    growth: float | None = None
    satisfaction: float | None = None
    repeat_rate: float | None = None
    new_partners: int | None = None


@dataclass(frozen=True)
class TargetsConfig:
    """``config/targets.yaml``: a list of targets."""

    targets: list[Target] = field(default_factory=list)


def _check_target(t: Target, where: str) -> None:
    p = t.period.strip().upper()
    if not (len(p) == 4 and p.isdigit()) and not (len(p) == 6 and p[:4].isdigit() and p[4] == "Q"
                                                  and p[5] in "1234"):
        raise ConfigError(f"{where} period '{t.period}' is not a year like 2026 or a quarter like 2026Q3.")
    if all(getattr(t, k) is None for k in TARGET_KPIS):
        raise ConfigError(f"{where} sets no target (give at least one of {', '.join(TARGET_KPIS)}).")
    if t.growth is not None and t.growth <= -1:
        raise ConfigError(f"{where}: growth must be above -1 (a fraction like 0.08 for +8%), not {t.growth}.")
    if t.satisfaction is not None and not 0 <= t.satisfaction <= 100:
        raise ConfigError(f"{where}: satisfaction must be between 0 and 100, not {t.satisfaction}.")
    if t.repeat_rate is not None and not 0 <= t.repeat_rate <= 1:
        raise ConfigError(f"{where}: repeat_rate must be a share between 0 and 1, not {t.repeat_rate}.")
    if t.new_partners is not None and t.new_partners < 0:
        raise ConfigError(f"{where}: new_partners must not be negative, not {t.new_partners}.")


def load_targets(path: str | Path | None = None) -> TargetsConfig:
    """Targets from `path` (default ``config/targets.yaml``); a bad file is one ConfigError sentence."""
    path = config_file("targets.yaml") if path is None else Path(path)
    cfg = load_config(TargetsConfig, path)
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(cfg.targets):
        where = f"{path}: targets[{i}]"
        _check_target(t, where)
        key = (t.period.strip().upper(), t.region)
        if key in seen:
            raise ConfigError(f"{where} repeats the target for period {key[0]} and region {key[1]}.")
        seen.add(key)
    return cfg


def _targets_frame(cfg: TargetsConfig) -> pd.DataFrame:
    rows = [{"period": t.period.strip().upper(), "region": t.region,
             **{k: getattr(t, k) for k in TARGET_KPIS}} for t in cfg.targets]
    return pd.DataFrame(rows, columns=["period", "region", *TARGET_KPIS])


def attainment(kpis: pd.DataFrame, targets: TargetsConfig, *, quarter: str) -> pd.DataFrame:
    """Attainment (达成率) of the quarter's and the year-to-date KPIs against the targets.

    kpis: long KPI table (:func:`kpi_table` shape: dimension, group, kpi, quarter, value, yoy_pct)
    holding the overall/region rows of the year's quarters up to `quarter`.
    Rules: growth → actual monthly sales ÷ (last year's monthly sales × (1 + growth target));
    satisfaction, repeat_rate → actual ÷ target; new_partners → actual ÷ target. Year to date uses
    the quarters of the year up to `quarter`: sales summed, satisfaction and repeat rate averaged
    over quarters, new partners summed (so an annual new-partner target shows progress).

    Returns one row per region, period and KPI: region, period, basis ('quarter' or 'year_to_date'),
    kpi (sales_growth, satisfaction, repeat_rate, new_partners), target, actual, attainment
    (fraction, 1.0 = on target).
    """
    q = parse_quarter(quarter)
    tf = _targets_frame(targets)
    k = kpis[kpis["dimension"].isin(["overall", "region"])].copy()
    k["region"] = np.where(k["dimension"] == "overall", "all", k["group"])

    def val(region: str, kpi: str, quarters: list[pd.Period], how: str) -> float:
        rows = k[(k["region"] == region) & (k["kpi"] == kpi) & (k["quarter"].isin([str(x) for x in quarters]))]
        if len(rows) < len(quarters) or rows["value"].isna().any():
            return float("nan")
        return float(rows["value"].sum() if how == "sum" else rows["value"].mean())

    def prior(region: str, quarters: list[pd.Period]) -> float:
        """Monthly sales a year before `quarters` (summed), from value / (1 + yoy_pct)."""
        rows = k[(k["region"] == region) & (k["kpi"] == "monthly_sales_cny")
                 & (k["quarter"].isin([str(x) for x in quarters]))]
        if len(rows) < len(quarters):
            return float("nan")
        return float((rows["value"] / (1 + rows["yoy_pct"])).sum(min_count=len(quarters)))

    out = []
    ytd = [pd.Period(f"{q.year}Q{i}", "Q") for i in range(1, q.quarter + 1)]
    for _, t in tf.iterrows():
        if t["period"] == str(q):
            basis, quarters = "quarter", [q]
        elif t["period"] == str(q.year):
            basis, quarters = "year_to_date", ytd
        else:
            continue
        region = t["region"]
        for kpi in TARGET_KPIS:
            target = t[kpi]
            if target is None or pd.isna(target):
                continue
            if kpi == "growth":
                cur = val(region, "monthly_sales_cny", quarters, "sum")
                prev = prior(region, quarters)
                actual = cur / prev - 1 if prev and prev > 0 else float("nan")
                att = cur / (prev * (1 + target)) if prev and prev > 0 else float("nan")
            else:
                name = {"satisfaction": "satisfaction_mean", "repeat_rate": "repeat_rate",
                        "new_partners": "new_partners"}[kpi]
                actual = val(region, name, quarters, "sum" if kpi == "new_partners" else "mean")
                att = actual / target if target else float("nan")
            out.append({"region": region, "period": t["period"], "basis": basis,
                        "kpi": "sales_growth" if kpi == "growth" else kpi,
                        "target": float(target), "actual": actual, "attainment": att})
    return pd.DataFrame(out, columns=["region", "period", "basis", "kpi", "target", "actual", "attainment"])


# --------------------------------------------------------------------------------------------------
# KPI table
# --------------------------------------------------------------------------------------------------

KPI_ORDER: tuple[str, ...] = (
    "monthly_sales_cny", "core_monthly_sales_cny", "net_sales_cny",
    "active_partners", "new_partners", "churned_partners",
    "repeat_rate", "retention_rate", "satisfaction_mean",
    "incentive_cost_cny", "rebate_shortfall_cny",
    "conflicts_opened", "conflicts_resolved", "trainings",
    "top1_share", "top5_share", "hhi",
    *(f"actions_{a}" for a in ACTION_TYPES),
)
# KPIs whose change is reported in points (difference), not in percent
_RATE_KPIS = {"repeat_rate", "retention_rate", "satisfaction_mean", "top1_share", "top5_share", "hhi"}


_EXTRA_KPIS = ("core_monthly_sales_cny", "incentive_cost_cny", *(f"actions_{k}" for k in ACTION_TYPES))


def _extra_kpis(t: dict[str, Any], quarters: list[pd.Period], *, key: str | None,
                tiers: pd.DataFrame) -> pd.DataFrame:
    """Core monthly sales (CNY), incentive cost (CNY, by period_end) and action counts by type, per quarter and `key`.

    One query for all `quarters` over the scoped tables `t`; `tiers` has quarter, partner_id, tier
    (each quarter's own; missing means 'unassigned'). Rows: quarter, group (region / tier / 'all')
    for the groups with a fact in any of the three parts; a part without a fact for the group is 0.
    """
    import ibis

    from workbench import features

    periods = features.quarter_periods(quarters)
    quarter_col = periods.select("quarter")
    partners = t["partners"].select("partner_id", "region").cross_join(quarter_col)
    if len(tiers):
        tt = ibis.memtable(tiers[["quarter", "partner_id", "tier"]].astype(str))
        groups = partners.left_join(tt, ["partner_id", "quarter"])
        groups = groups.select("partner_id", "quarter", "region", tier=groups.tier.fill_null("unassigned"))
    else:
        groups = partners.mutate(tier=ibis.literal("unassigned"))
    gkey = key or "_all"
    if key is None:
        groups = groups.mutate(_all=ibis.literal("all"))
    on = ["partner_id", "quarter"]

    def in_quarter(tab: Any, col: str) -> Any:
        j = tab.inner_join(periods, [tab[col] >= periods.q_start, tab[col] <= periods.q_end])
        return j.inner_join(groups, on)

    o = in_quarter(t["orders"], "order_date")
    core = o.filter(o.tier == "core")
    parts = [core.group_by(["quarter", gkey]).aggregate(
        core_monthly_sales_cny=core.net_amount.cast("float64").sum() / 3.0)]
    if "incentives" in t:
        i = in_quarter(t["incentives"], "period_end")
        parts.append(i.group_by(["quarter", gkey]).aggregate(incentive_cost_cny=i.amount_due.cast("float64").sum()))
    if "actions" in t:
        a = in_quarter(t["actions"], "action_date")
        parts.append(a.group_by(["quarter", gkey]).aggregate(**{
            f"actions_{k}": ibis.ifelse(a.action_type == k, 1, 0).sum() for k in ACTION_TYPES
        }))
    out = groups.select("quarter", gkey).distinct()
    for n, part in enumerate(parts):
        j = out.left_join(part.mutate(**{f"_in{n}": ibis.literal(1)}), ["quarter", gkey])
        out = j.drop(*[c for c in ("quarter_right", f"{gkey}_right") if c in j.columns])
    out = out.filter(ibis.or_(*[out[f"_in{n}"].notnull() for n in range(len(parts))]))
    frame = out.drop(*[f"_in{n}" for n in range(len(parts))]).to_pandas()
    frame = frame.rename(columns={gkey: "group"})
    for c in _EXTRA_KPIS:
        if c not in frame.columns:
            frame[c] = 0.0
        frame[c] = pd.to_numeric(frame[c], errors="coerce").fillna(0.0)
    return frame


def _tiers_at(con: Any, as_of: date, region: str | None) -> pd.DataFrame:
    from workbench import segment

    return segment.partner_tiers(con, as_of=as_of, region=_region_arg(region))


_ADDITIVE = (
    "net_sales_cny", "monthly_sales_cny", "active_partners", "repeat_partners", "prev_active_partners",
    "retained_partners", "partners_on_books", "new_partners", "exited_partners", "churn_population",
    "churned_partners", "survey_responses", "partners_with_sales", "rebate_due_cny", "rebate_paid_cny",
    "rebate_shortfall_cny", "conflicts_opened", "conflicts_resolved", "trainings", "trainings_passed", "actions",
    "core_monthly_sales_cny", "incentive_cost_cny", *(f"actions_{a}" for a in ACTION_TYPES),
)


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


def _overall_from_regions(by_region: pd.DataFrame, conc: pd.DataFrame) -> pd.DataFrame:
    """The network's KPIs from the regions' (every partner has exactly one region): counts and money
    add up, rates are recomputed from their numerators and denominators, satisfaction is the
    response-weighted mean; concentration comes from `conc` (it does not add up)."""
    r = by_region
    row: dict[str, Any] = {"group": "all"}
    for c in _ADDITIVE:
        if c in r.columns:
            row[c] = pd.to_numeric(r[c], errors="coerce").sum()
    row["repeat_rate"] = _ratio(row.get("repeat_partners", 0), row.get("active_partners", 0))
    row["retention_rate"] = _ratio(row.get("retained_partners", 0), row.get("prev_active_partners", 0))
    row["churn_rate"] = _ratio(row.get("churned_partners", 0), row.get("churn_population", 0))
    row["training_pass_rate"] = _ratio(row.get("trainings_passed", 0), row.get("trainings", 0))
    if "satisfaction_mean" in r.columns:
        w = pd.to_numeric(r.get("survey_responses", 0), errors="coerce").fillna(0)
        m = pd.to_numeric(r["satisfaction_mean"], errors="coerce")
        ok = m.notna() & (w > 0)
        row["satisfaction_mean"] = _ratio((m[ok] * w[ok]).sum(), w[ok].sum())
    for c in ("top1_share", "top5_share", "hhi"):
        row[c] = float(conc[c].iloc[0]) if len(conc) and c in conc.columns else float("nan")
    return pd.DataFrame([row])


def _of_quarter(frame: pd.DataFrame, q: str) -> pd.DataFrame:
    return frame[frame["quarter"] == q].drop(columns="quarter").reset_index(drop=True)


def _quarters_long(con: Any, t: dict[str, Any], quarters: list[pd.Period], *, region: str | None,
                   tier_quarters: list[pd.Period]) -> pd.DataFrame:
    """All KPIs of `quarters`, overall, by region and (for `tier_quarters`) by tier, in long form.

    A handful of queries over the scoped tables `t`, each covering every quarter: the feature
    layer's ``quarters_kpis`` by region and by tier, the extra KPIs by region and by tier, and the
    network's concentration; tiers are each quarter's own at its last day. The overall row is
    assembled from the regions' numerators and denominators (concentration aside).
    """
    from workbench import features

    tiers = pd.concat([_tiers_at(con, _quarter_bounds(q)[1], region).assign(quarter=str(q)) for q in quarters],
                      ignore_index=True)
    by_region = features.quarters_kpis(None, quarters=quarters, by="region", tables=t)
    extra_region = _extra_kpis(t, quarters, key="region", tiers=tiers)
    conc = features.quarters_concentration(t["orders"], quarters=quarters).to_pandas()
    by_tier = extra_tier = None
    if tier_quarters:
        tq = {str(q) for q in tier_quarters}
        tiers_t = tiers[tiers["quarter"].isin(tq)]
        by_tier = features.quarters_kpis(None, quarters=tier_quarters, by="tier", tiers=tiers_t, tables=t)
        extra_tier = _extra_kpis(t, tier_quarters, key="tier", tiers=tiers_t)
    parts = []
    for q in map(str, quarters):
        br = _of_quarter(by_region, q)
        br["group"] = br["region"].astype(str)
        br = br.merge(_of_quarter(extra_region, q), on="group", how="left")
        frames = {"overall": _overall_from_regions(br, _of_quarter(conc, q)), "region": br}
        if by_tier is not None and q in tq:
            bt = _of_quarter(by_tier, q)
            bt["group"] = bt["tier"].astype(str)
            frames["tier"] = bt.merge(_of_quarter(extra_tier, q), on="group", how="left")
        for dim, merged in frames.items():
            cols = [c for c in KPI_ORDER if c in merged.columns]
            long = merged.melt(id_vars=["group"], value_vars=cols, var_name="kpi", value_name="value")
            long.insert(0, "dimension", dim)
            long["quarter"] = q
            parts.append(long)
    out = pd.concat(parts, ignore_index=True)
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype("float64")
    return out


def kpi_table(
    con: Any,
    *,
    quarter: str,
    region: str = "all",
    by_tier: bool = True,
    targets: TargetsConfig | str | Path | None = None,
) -> pd.DataFrame:
    """The quarterly KPI table: the chosen quarter and the three before, with QoQ and YoY changes.

    Rows: one per dimension (overall, region, tier), group, KPI and quarter; columns dimension,
    group, kpi, quarter, value, qoq_change, qoq_pct, yoy_change, yoy_pct, target, attainment.
    Money in CNY (monthly sales = quarter net sales / 3), rates and shares as fractions, satisfaction
    0–100; ``*_change`` are differences, ``*_pct`` relative changes (fractions; empty for rates and
    shares, where the difference is the meaningful change). Tiers are each quarter's own tiering at
    its last day (``workbench.segment.partner_tiers``); tier rows carry YoY for the chosen quarter
    only (tiering every quarter two years back is the slow part). ``target``/``attainment`` (达成率) fill the
    chosen quarter's overall/region rows for the KPIs with a quarterly target in ``config/targets.yaml``
    (or `targets`); a missing default file means no targets.
    """
    from workbench import features

    q = parse_quarter(quarter)
    return _kpi_table(con, features.scoped_tables(con, _region_arg(region)), q, region=region, by_tier=by_tier,
                      targets=targets)


def _kpi_table(con: Any, t: dict[str, Any], q: pd.Period, *, region: str, by_tier: bool,
               targets: TargetsConfig | str | Path | None) -> pd.DataFrame:
    """:func:`kpi_table` over the already scoped tables `t` of `region`."""
    quarters = [q - i for i in range(7, -1, -1)]
    # tier rows only for the shown quarters and the one before: QoQ for every shown quarter, YoY for
    # the chosen one (its year-earlier quarter is the one before the shown four)
    long = _quarters_long(con, t, quarters, region=region, tier_quarters=quarters[3:] if by_tier else [])
    long["_qord"] = long["quarter"].map(lambda s: pd.Period(s, "Q").ordinal)
    key = ["dimension", "group", "kpi"]
    long = long.sort_values([*key, "_qord"], kind="mergesort")
    idx = long.set_index([*key, "_qord"])["value"]

    def shifted(lag: int) -> np.ndarray:
        prev_idx = pd.MultiIndex.from_arrays(
            [long["dimension"], long["group"], long["kpi"], long["_qord"] - lag])
        return idx.reindex(prev_idx).to_numpy()

    cur = long["value"].to_numpy()
    is_rate = long["kpi"].isin(_RATE_KPIS).to_numpy()
    for name, lag in (("qoq", 1), ("yoy", 4)):
        prev = shifted(lag)
        long[f"{name}_change"] = cur - prev
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = np.where((prev > 0) & ~is_rate, cur / prev - 1, np.nan)
        long[f"{name}_pct"] = pct
    shown = {str(x) for x in quarters[-4:]}
    out = long[long["quarter"].isin(shown)].drop(columns="_qord")
    order = {k: i for i, k in enumerate(KPI_ORDER)}
    dims = {"overall": 0, "region": 1, "tier": 2}
    out = out.assign(_d=out["dimension"].map(dims), _k=out["kpi"].map(order))
    out = out.sort_values(["_d", "group", "_k", "quarter"], kind="mergesort").drop(columns=["_d", "_k"])
    out["target"] = np.nan
    out["attainment"] = np.nan
    cfg = _resolve_targets(targets)
    if cfg is not None and cfg.targets:
        att = attainment(out, cfg, quarter=str(q))
        att = att[att["basis"] == "quarter"]
        kpi_of = {"sales_growth": "monthly_sales_cny", "satisfaction": "satisfaction_mean",
                  "repeat_rate": "repeat_rate", "new_partners": "new_partners"}
        for _, a in att.iterrows():
            dim, grp = ("overall", "all") if a["region"] == "all" else ("region", a["region"])
            m = ((out["dimension"] == dim) & (out["group"] == grp) & (out["kpi"] == kpi_of[a["kpi"]])
                 & (out["quarter"] == str(q)))
            # growth targets show as the monthly sales they imply (last year's × (1 + growth))
            tgt = out.loc[m, "value"] / a["attainment"] if a["kpi"] == "sales_growth" else a["target"]
            out.loc[m, "target"] = tgt
            out.loc[m, "attainment"] = a["attainment"]
    out = out.reset_index(drop=True)
    out.attrs["region"] = region
    return out


def _resolve_targets(targets: TargetsConfig | str | Path | None) -> TargetsConfig | None:
    if isinstance(targets, TargetsConfig):
        return targets
    if targets is None:
        default = config_file("targets.yaml")
        return load_targets(default) if default.exists() else None
    return load_targets(targets)


def _fmt_value(kpi: str, v: float) -> str:
    if v is None or not np.isfinite(v):
        return "–"
    if kpi in ("repeat_rate", "retention_rate", "top1_share", "top5_share"):
        return f"{100 * v:.1f}%"
    if kpi == "hhi":
        return f"{v:.3f}"
    if kpi == "satisfaction_mean":
        return f"{v:.1f}"
    return f"{v:,.0f}"


def _fmt_change(kpi: str, change: float, pct: float) -> str:
    if kpi in _RATE_KPIS:
        if change is None or not np.isfinite(change):
            return "–"
        if kpi == "satisfaction_mean":
            return f"{change:+.1f}"
        if kpi == "hhi":
            return f"{change:+.3f}"
        return f"{100 * change:+.1f} pp"
    return _pct(pct)


def kpi_wide(kpis: pd.DataFrame, *, dimension: str = "overall", group: str = "all",
             lang: str = "en", formatted: bool = True) -> pd.DataFrame:
    """Display form of :func:`kpi_table` for one group: a row per KPI (labelled in `lang`), a column
    per quarter, then the last quarter's QoQ and YoY change, target and attainment (达成率).

    With `formatted` the cells are display strings (money with separators, rates in %, changes of
    rates in percentage points "pp", other changes in %); otherwise numbers (changes of rates as
    differences, other changes as fractions).
    """
    from workbench.i18n import label

    k = kpis[(kpis["dimension"] == dimension) & (kpis["group"] == group)]
    if k.empty:
        return pd.DataFrame()
    wide = k.pivot(index="kpi", columns="quarter", values="value")
    quarters = list(wide.columns)
    last = k[k["quarter"] == k["quarter"].max()].set_index("kpi").reindex(wide.index)
    order = [x for x in KPI_ORDER if x in wide.index]
    wide, last = wide.loc[order], last.loc[order]
    if formatted:
        out = pd.DataFrame({q: [_fmt_value(i, v) for i, v in wide[q].items()] for q in quarters}, index=order)
        out[label("qoq", lang)] = [_fmt_change(i, r["qoq_change"], r["qoq_pct"]) for i, r in last.iterrows()]
        out[label("yoy", lang)] = [_fmt_change(i, r["yoy_change"], r["yoy_pct"]) for i, r in last.iterrows()]
        out[label("target", lang)] = [_fmt_value(i, v) if pd.notna(v) else "" for i, v in last["target"].items()]
        out[label("attainment", lang)] = [f"{100 * v:.0f}%" if pd.notna(v) else "" for v in last["attainment"]]
    else:
        out = wide.copy()
        is_rate = out.index.isin(list(_RATE_KPIS))
        out[label("qoq", lang)] = np.where(is_rate, last["qoq_change"], last["qoq_pct"])
        out[label("yoy", lang)] = np.where(is_rate, last["yoy_change"], last["yoy_pct"])
        out[label("target", lang)] = last["target"]
        out[label("attainment", lang)] = last["attainment"]
    out.index = [label(x, lang) for x in order]
    out.index.name = None
    out.columns.name = None
    return out


def effects_display(effects: pd.DataFrame) -> pd.DataFrame:
    """Action effects in percent for a table: action_type, effect_pct, ci_low_pct, ci_high_pct,
    naive_pct (naive before/after), pretrend_p, n_treated. Percent = 100 × (exp(log effect) − 1)."""
    e = effects
    out = pd.DataFrame({
        "action_type": e["action_type"],
        "effect_pct": 100 * np.expm1(e["effect_log"]),
        "ci_low_pct": 100 * np.expm1(e["ci_low"]),
        "ci_high_pct": 100 * np.expm1(e["ci_high"]),
        "naive_pct": 100 * np.expm1(e["naive_log"]) if "naive_log" in e else np.nan,
        "pretrend_p": e["pretrend_p"],
        "n_treated": e["n_treated"],
    })
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# concentration
# --------------------------------------------------------------------------------------------------

def concentration(panel: pd.DataFrame, *, freq: str = "Q", sales_col: str = "net_sales_cny",
                  settings: RetroSettings | None = None) -> pd.DataFrame:
    """Top-1 and top-5 partners' share of net sales and HHI per period, with alert flags.

    panel: partner-month rows (partner_id, month, `sales_col`). Shares are over partners with positive
    net sales in the period (glossary). Returns period, partners_with_sales, top1_share, top5_share,
    hhi (0–1), top1_partner_id, top1_alert, top5_alert.
    """
    settings = settings or load_settings()
    p = panel.loc[:, ["partner_id", "month", sales_col]].copy()
    p["period"] = pd.to_datetime(p["month"]).dt.to_period(freq).astype(str)
    per = p.groupby(["period", "partner_id"], as_index=False)[sales_col].sum()
    per = per[per[sales_col] > 0].sort_values(["period", sales_col], ascending=[True, False])
    rows = []
    for period, g in per.groupby("period", sort=True):
        v = g[sales_col].to_numpy(dtype="float64")
        total = v.sum()
        share = v / total
        rows.append({
            "period": period, "partners_with_sales": len(v), "top1_share": float(share[0]),
            "top5_share": float(share[:5].sum()), "hhi": float((share ** 2).sum()),
            "top1_partner_id": str(g["partner_id"].iloc[0]),
        })
    out = pd.DataFrame(rows, columns=["period", "partners_with_sales", "top1_share", "top5_share", "hhi",
                                      "top1_partner_id"])
    out["top1_alert"] = out["top1_share"] > settings.top1_share_alert
    out["top5_alert"] = out["top5_share"] > settings.top5_share_alert
    return out


def concentration_alerts(conc: pd.DataFrame, *, settings: RetroSettings | None = None) -> pd.DataFrame:
    """Periods of :func:`concentration` with an alert: period, measure, value, threshold."""
    settings = settings or load_settings()
    rows = []
    for _, r in conc.iterrows():
        if r["top1_share"] > settings.top1_share_alert:
            rows.append({"period": r["period"], "measure": "top1_share", "value": r["top1_share"],
                         "threshold": settings.top1_share_alert, "partner_id": r["top1_partner_id"]})
        if r["top5_share"] > settings.top5_share_alert:
            rows.append({"period": r["period"], "measure": "top5_share", "value": r["top5_share"],
                         "threshold": settings.top5_share_alert, "partner_id": None})
    return pd.DataFrame(rows, columns=["period", "measure", "value", "threshold", "partner_id"])


# --------------------------------------------------------------------------------------------------
# seasonality and outlook
# --------------------------------------------------------------------------------------------------

# Month of the Lunar New Year (Spring Festival) day, 2015–2035: the month of the sales dip.
_LNY_DATES = (
    "2015-02-19", "2016-02-08", "2017-01-28", "2018-02-16", "2019-02-05", "2020-01-25", "2021-02-12",
    "2022-02-01", "2023-01-22", "2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06", "2028-01-26",
    "2029-02-13", "2030-02-03", "2031-01-23", "2032-02-11", "2033-01-31", "2034-02-19", "2035-02-08",
)
_LNY_MONTHS = {pd.Period(d, "M") for d in _LNY_DATES}


def _lny_dummy(index: pd.PeriodIndex) -> np.ndarray:
    return np.array([[1.0 if p in _LNY_MONTHS else 0.0] for p in index])


def monthly_sales(panel: pd.DataFrame, *, sales_col: str = "net_sales_cny") -> pd.Series:
    """Total net sales per calendar month (CNY), indexed by monthly Period, from the first month with
    sales; gaps filled with 0."""
    p = panel.assign(_m=pd.to_datetime(panel["month"]).dt.to_period("M"))
    s = p.groupby("_m")[sales_col].sum().astype("float64")
    s = s[s.index >= s[s > 0].index.min()] if (s > 0).any() else s.iloc[:0]  # from the first month with sales
    if s.empty:
        return s
    full = pd.period_range(s.index.min(), s.index.max(), freq="M")
    s = s.reindex(full, fill_value=0.0)
    s.index.name = "month"
    return s


def stl_decompose(series: pd.Series, *, period: int = 12) -> pd.DataFrame:
    """STL decomposition (robust, statsmodels) of a monthly series: month, observed, trend, seasonal,
    resid (CNY). Needs at least two full periods."""
    from statsmodels.tsa.seasonal import STL

    if len(series) < 2 * period:
        raise WorkbenchError(f"Seasonal decomposition needs at least {2 * period} months of sales, "
                             f"the store has {len(series)}.")
    res = STL(series.to_numpy(dtype="float64"), period=period, robust=True).fit()
    return pd.DataFrame({
        "month": series.index.to_timestamp(), "observed": res.observed, "trend": res.trend,
        "seasonal": res.seasonal, "resid": res.resid,
    })


def _sarimax_forecast(y: pd.Series, horizon: int, alpha: float) -> pd.DataFrame:
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    fidx = pd.period_range(y.index[-1] + 1, periods=horizon, freq="M")
    ly = np.log(np.maximum(y.to_numpy(dtype="float64"), 1.0))
    seasonal = len(y) >= 27
    kwargs = {"order": (0, 1, 1), "seasonal_order": (0, 1, 1, 12) if seasonal else (0, 0, 0, 0)}
    exog, fexog = _lny_dummy(y.index), _lny_dummy(fidx)
    if exog.sum() == 0 or exog.sum() == len(exog):
        exog = fexog = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # start-parameter notices on short series
        fit = SARIMAX(ly, exog=exog, **kwargs).fit(disp=False)
        fc = fit.get_forecast(horizon, exog=fexog)
        mean = np.asarray(fc.predicted_mean)
        ci = np.asarray(fc.conf_int(alpha=alpha))
    return pd.DataFrame({
        "month": fidx.to_timestamp(), "forecast": np.exp(mean), "lower": np.exp(ci[:, 0]),
        "upper": np.exp(ci[:, 1]),
    })


@_single_threaded
def forecast_sales(series: pd.Series, *, horizon: int = 3, alpha: float = 0.05) -> pd.DataFrame:
    """Forecast the next `horizon` months of total sales with a (1 − alpha) prediction interval.

    Model: seasonal ARIMA (0,1,1)(0,1,1)12 on log sales (the "airline" model, statsmodels SARIMAX)
    with a Spring Festival month regressor; without two years of history, a non-seasonal (0,1,1).
    Returns month, forecast, lower, upper (CNY).
    """
    if len(series) < 6:
        raise WorkbenchError(f"A forecast needs at least 6 months of sales, the store has {len(series)}.")
    return _sarimax_forecast(series, horizon, alpha)


def _seasonal_naive(train: pd.Series, horizon: int) -> np.ndarray:
    v = train.to_numpy(dtype="float64")
    if len(v) >= 12:
        return np.array([v[len(v) - 12 + (h % 12)] for h in range(horizon)])
    return np.repeat(v[-1], horizon)


@_single_threaded
def backtest_forecast(series: pd.Series, *, horizon: int = 3, origins: int = 4,
                      alpha: float = 0.05) -> pd.DataFrame:
    """Rolling-origin backtest of :func:`forecast_sales` against the seasonal-naive forecast.

    The last `origins` non-overlapping `horizon`-month blocks are forecast from the data before them.
    Returns one row per method ('model', 'seasonal_naive') with mape (fraction), rmse (CNY),
    n_forecasts and, for the model, the share of actuals inside the prediction interval.
    ``.attrs['detail']`` holds every forecast (origin, month, method, forecast, actual).
    """
    n = len(series)
    detail = []
    for k in range(origins, 0, -1):
        cut = n - k * horizon
        if cut < 12:
            continue
        train, test = series.iloc[:cut], series.iloc[cut:cut + horizon]
        fc = forecast_sales(train, horizon=len(test), alpha=alpha)
        sn = _seasonal_naive(train, len(test))
        for j, (month, actual) in enumerate(test.items()):
            origin = str(train.index[-1])
            detail.append({"origin": origin, "month": month.to_timestamp(), "method": "model",
                           "forecast": fc["forecast"].iloc[j], "actual": actual,
                           "inside": fc["lower"].iloc[j] <= actual <= fc["upper"].iloc[j]})
            detail.append({"origin": origin, "month": month.to_timestamp(), "method": "seasonal_naive",
                           "forecast": sn[j], "actual": actual, "inside": np.nan})
    d = pd.DataFrame(detail, columns=["origin", "month", "method", "forecast", "actual", "inside"])
    rows = []
    for method in ("model", "seasonal_naive"):
        g = d[d["method"] == method]
        err = g["forecast"] - g["actual"]
        ok = g["actual"] > 0
        rows.append({
            "method": method,
            "mape": float((err[ok].abs() / g.loc[ok, "actual"]).mean()) if ok.any() else float("nan"),
            "rmse": float(np.sqrt((err ** 2).mean())) if len(g) else float("nan"),
            "n_forecasts": int(len(g)),
            "interval_coverage": float(g["inside"].astype(float).mean()) if method == "model" and len(g)
            else float("nan"),
        })
    out = pd.DataFrame(rows)
    out.attrs["detail"] = d
    return out


# --------------------------------------------------------------------------------------------------
# conflicts and tier migration
# --------------------------------------------------------------------------------------------------

def conflict_summary(conflicts: pd.DataFrame, *, quarter: str, lookback_quarters: int = 4) -> dict[str, pd.DataFrame]:
    """Conflicts of the quarter and the `lookback_quarters` up to it.

    conflicts: the conflicts table (reported_date, partner_id, counterparty_id, conflict_type,
    resolved_date). Returns {'by_type': quarter × conflict_type: opened, resolved_in_quarter,
    open_at_end, median_days_to_resolve; 'repeat_parties': partners (or partner pairs) in ≥ 2
    conflicts over the lookback: party, conflicts, types, last_reported}.
    """
    q = parse_quarter(quarter)
    qs = [q - i for i in range(lookback_quarters - 1, -1, -1)]
    c = conflicts.copy()
    c["reported_date"] = pd.to_datetime(c["reported_date"])
    c["resolved_date"] = pd.to_datetime(c["resolved_date"])
    rows = []
    for x in qs:
        s, e = (pd.Timestamp(d) for d in _quarter_bounds(x))
        for ctype, g in c.groupby("conflict_type"):
            opened = g[(g["reported_date"] >= s) & (g["reported_date"] <= e)]
            resolved = g[(g["resolved_date"] >= s) & (g["resolved_date"] <= e)]
            open_end = g[(g["reported_date"] <= e) & (g["resolved_date"].isna() | (g["resolved_date"] > e))]
            days = (resolved["resolved_date"] - resolved["reported_date"]).dt.days
            rows.append({"quarter": str(x), "conflict_type": ctype, "opened": len(opened),
                         "resolved": len(resolved), "open_at_end": len(open_end),
                         "median_days_to_resolve": float(days.median()) if len(days) else float("nan")})
    by_type = pd.DataFrame(rows, columns=["quarter", "conflict_type", "opened", "resolved", "open_at_end",
                                          "median_days_to_resolve"])
    s0, e0 = pd.Timestamp(_quarter_bounds(qs[0])[0]), pd.Timestamp(_quarter_bounds(q)[1])
    w = c[(c["reported_date"] >= s0) & (c["reported_date"] <= e0)]
    cp = w["counterparty_id"].where(w["counterparty_id"].notna(), None)
    party = np.where(
        cp.isna(), w["partner_id"].astype(str),
        [" / ".join(sorted((str(a), str(b)))) for a, b in zip(w["partner_id"], cp.fillna(""), strict=True)],
    ) if len(w) else np.array([], dtype=object)
    w = w.assign(party=party)
    rep = w.groupby("party").agg(
        conflicts=("conflict_id", "count") if "conflict_id" in w.columns else ("partner_id", "size"),
        types=("conflict_type", lambda s: ", ".join(sorted(set(map(str, s))))),
        last_reported=("reported_date", "max"),
    ).reset_index()
    rep = rep[rep["conflicts"] >= 2].sort_values(["conflicts", "last_reported"], ascending=[False, False])
    return {"by_type": by_type, "repeat_parties": rep.reset_index(drop=True)}


def tier_migration(con: Any, *, quarter: str, region: str | None = "all") -> dict[str, pd.DataFrame]:
    """Tier migration from the previous quarter's end to `quarter`'s end (``segment.migration_between``):
    {'migration' (tier_from, tier_to, partners, share), 'fell_out_of_core', 'ready_for_promotion'}."""
    from workbench import segment

    q = parse_quarter(quarter)
    return segment.migration_between(con, as_of_from=_quarter_bounds(q - 1)[1], as_of_to=_quarter_bounds(q)[1],
                                     region=_region_arg(region))


# --------------------------------------------------------------------------------------------------
# findings
# --------------------------------------------------------------------------------------------------

def _money(v: float, lang: str) -> str:
    if v is None or not np.isfinite(v):
        return "–"
    if lang == "zh":
        return f"{v / 1e4:,.1f}万元" if abs(v) < 1e8 else f"{v / 1e8:,.2f}亿元"
    return f"¥{v / 1e6:,.2f}M" if abs(v) >= 1e6 else f"¥{v / 1e3:,.1f}k"


def _pct(v: float, digits: int = 1, signed: bool = True) -> str:
    if v is None or not np.isfinite(v):
        return "–"
    return f"{100 * v:+.{digits}f}%" if signed else f"{100 * v:.{digits}f}%"


_KPI_WORDS: dict[str, tuple[str, str]] = {
    "core_monthly_sales_cny": ("core partners' monthly sales", "核心经销商月销售额"),
    "active_partners": ("active partners", "活跃经销商数"),
    "new_partners": ("new partners", "新增经销商数"),
    "churned_partners": ("churned partners", "流失经销商数"),
    "repeat_rate": ("the repeat rate", "返单率"),
    "retention_rate": ("retention", "留存率"),
    "satisfaction_mean": ("satisfaction", "满意度"),
    "incentive_cost_cny": ("incentive cost", "激励成本"),
    "rebate_shortfall_cny": ("the rebate shortfall", "返利欠付"),
    "conflicts_opened": ("new conflicts", "新增冲突"),
    "trainings": ("trainings", "培训场次"),
}
_ACTION_WORDS: dict[str, tuple[str, str]] = {
    "training": ("Training", "培训"),
    "incentive": ("Special incentives", "专项激励"),
    "marketing_automation": ("Marketing automation", "营销自动化"),
    "tiering": ("Tier changes", "分级调整"),
    "communication": ("Communication meetings", "沟通会"),
    "visit": ("Manager visits", "拜访"),
    "other": ("Other actions", "其他动作"),
}


def findings(
    kpis: pd.DataFrame,
    *,
    quarter: str,
    effects: pd.DataFrame | None = None,
    concentration_table: pd.DataFrame | None = None,
    forecast: pd.DataFrame | None = None,
    backtest: pd.DataFrame | None = None,
    attainment_table: pd.DataFrame | None = None,
    lang: str = "en",
    settings: RetroSettings | None = None,
) -> list[str]:
    """3–6 plain-language findings from the numbers, in English (`lang='en'`) or Chinese ('zh').

    Uses the overall rows of the KPI table (sales change; the largest other move), the action effects
    whose 95% interval excludes zero (with the naive figure beside), concentration alerts, the
    next-quarter forecast with its backtest, and the weakest target attainment.
    """
    zh = lang == "zh"
    q = str(parse_quarter(quarter))
    settings = settings or load_settings()
    out: list[str] = []
    k = kpis[(kpis["dimension"] == "overall") & (kpis["quarter"] == q)].set_index("kpi")

    if "monthly_sales_cny" in k.index:
        r = k.loc["monthly_sales_cny"]
        has_qoq, has_yoy = int(np.isfinite(r["qoq_pct"])), int(np.isfinite(r["yoy_pct"]))
        if zh:
            parts = [f"环比 {_pct(r['qoq_pct'])}"] * has_qoq + [f"同比 {_pct(r['yoy_pct'])}"] * has_yoy
            out.append(f"{q} 月销售额 {_money(r['value'], lang)}" + "".join(f"，{p}" for p in parts) + "。")
        else:
            parts = ([f"{_pct(r['qoq_pct'])} on the previous quarter"] * has_qoq
                     + [f"{_pct(r['yoy_pct'])} on a year before"] * has_yoy)
            out.append(f"Monthly sales in {q} were {_money(r['value'], lang)}"
                       + (", " + " and ".join(parts) if parts else "") + ".")

    # the largest other move (relative for amounts/counts, points×5 for rates so they compete fairly)
    best, best_score = None, 0.0
    for kpi in _KPI_WORDS:
        if kpi not in k.index:
            continue
        r = k.loc[kpi]
        if kpi in _RATE_KPIS:
            scale = 100.0 if kpi == "satisfaction_mean" else 1.0
            score = abs(r["qoq_change"]) / scale * 5 if np.isfinite(r["qoq_change"]) else 0.0
        else:
            score = abs(r["qoq_pct"]) if np.isfinite(r["qoq_pct"]) and r["value"] >= 10 else 0.0
        if score > best_score:
            best, best_score = kpi, score
    if best is not None and best_score >= 0.05:
        r = k.loc[best]
        en_w, zh_w = _KPI_WORDS[best]
        up = r["qoq_change"] > 0
        if best in _RATE_KPIS:
            if best == "satisfaction_mean":
                val, chg = f"{r['value']:.1f}", f"{abs(r['qoq_change']):.1f}"
                unit_en, unit_zh = " points", " 分"
            else:
                val, chg = _pct(r["value"], signed=False), f"{100 * abs(r['qoq_change']):.1f}"
                unit_en, unit_zh = " points", " 个百分点"
            out.append(f"{zh_w}环比{'上升' if up else '下降'}{chg}{unit_zh}，至 {val}。" if zh else
                       f"The largest move: {en_w} {'rose' if up else 'fell'} {chg}{unit_en} to {val}.")
        else:
            val = _money(r["value"], lang) if best.endswith("_cny") else f"{r['value']:,.0f}"
            out.append(f"变化最大的是{zh_w}：环比 {_pct(r['qoq_pct'])}，至 {val}。" if zh else
                       f"The largest move: {en_w} {'rose' if up else 'fell'} {_pct(r['qoq_pct'])} to {val}.")

    if effects is not None and len(effects):
        sig = effects[(effects["ci_low"] > 0) | (effects["ci_high"] < 0)].sort_values("effect_log", ascending=False)
        for _, e in sig.head(2).iterrows():
            en_a, zh_a = _ACTION_WORDS.get(e["action_type"], (e["action_type"], e["action_type"]))
            eff = math.exp(e["effect_log"]) - 1
            lo, hi = math.exp(e["ci_low"]) - 1, math.exp(e["ci_high"]) - 1
            naive = e.get("naive_log", float("nan"))
            naive_pct = math.exp(naive) - 1 if pd.notna(naive) else float("nan")
            if zh:
                out.append(f"{zh_a}使经销商销售额变化约 {_pct(eff, 0)}（95% 区间 {_pct(lo, 0)} 至 {_pct(hi, 0)}，"
                           f"双重差分估计）；简单前后对比为 {_pct(naive_pct, 0)}。")
            else:
                out.append(f"{en_a} changed partner sales by about {_pct(eff, 0)} (95% interval {_pct(lo, 0)} "
                           f"to {_pct(hi, 0)}, difference-in-differences); a naive before/after says "
                           f"{_pct(naive_pct, 0)}.")
        if sig.empty:
            out.append("本期各项维护动作对销售额均无统计上显著的效果。" if zh else
                       "No maintenance action had a statistically clear effect on sales.")

    if concentration_table is not None and len(concentration_table):
        last = concentration_table.iloc[-1]
        if bool(last["top1_alert"]):
            out.append(f"集中度预警：{last['period']} 最大经销商占净销售额 {_pct(last['top1_share'], signed=False)}，"
                       f"超过 {_pct(settings.top1_share_alert, 0, False)} 的阈值。" if zh else
                       f"Concentration alert: the largest partner took {_pct(last['top1_share'], signed=False)} "
                       f"of net sales in {last['period']}, above the {_pct(settings.top1_share_alert, 0, False)} "
                       "threshold.")
        elif bool(last["top5_alert"]):
            out.append(f"集中度预警：前五大经销商占净销售额 {_pct(last['top5_share'], signed=False)}。" if zh else
                       f"Concentration alert: the five largest partners took "
                       f"{_pct(last['top5_share'], signed=False)} of net sales in {last['period']}.")

    # a forecast whose interval spans more than a factor of 4 says nothing worth a bullet (short history)
    if forecast is not None and len(forecast) and float((forecast["upper"] / forecast["lower"]).max()) < 4:
        mean = float(forecast["forecast"].mean())
        lo, hi = float(forecast["lower"].mean()), float(forecast["upper"].mean())
        tail = ""
        m = backtest.set_index("method")["mape"] if backtest is not None and len(backtest) == 2 else None
        if m is not None and np.isfinite(m).all():
            tail = (f"；回测误差 {_pct(m['model'], signed=False)}，季节性朴素预测 "
                    f"{_pct(m['seasonal_naive'], signed=False)}" if zh else
                    f"; backtest error {_pct(m['model'], signed=False)} vs "
                    f"{_pct(m['seasonal_naive'], signed=False)} for a seasonal-naive forecast")
        out.append(f"下季度月销售额预测 {_money(mean, lang)}（95% 区间 {_money(lo, lang)}–{_money(hi, lang)}）{tail}。"
                   if zh else
                   f"Next quarter's monthly sales are forecast at {_money(mean, lang)} (95% interval "
                   f"{_money(lo, lang)}–{_money(hi, lang)}){tail}.")

    if attainment_table is not None and len(attainment_table) and len(out) < 6:
        a = attainment_table.dropna(subset=["attainment"]).sort_values("attainment")
        if len(a):
            from workbench.i18n import label

            r = a.iloc[0]
            kz = {"sales_growth": "销售增长", "satisfaction": "满意度", "repeat_rate": "返单率",
                  "new_partners": "新增经销商"}
            ke = {"sales_growth": "sales growth", "satisfaction": "satisfaction", "repeat_rate": "repeat rate",
                  "new_partners": "new partners"}
            reg = label(r["region"], lang)
            where = f"{reg}，{r['period']}" if zh else f"{reg}, {r['period']}"
            if r["attainment"] < 1:
                out.append(f"目标达成率最低的是{kz[r['kpi']]}（{where}）：{_pct(r['attainment'], 1, False)}。" if zh else
                           f"Furthest behind target: {ke[r['kpi']]} ({where}) at "
                           f"{_pct(r['attainment'], 1, False)} of target.")
            else:
                out.append(f"所有目标均已达成（最低为{kz[r['kpi']]}，{_pct(r['attainment'], 1, False)}）。" if zh else
                           f"Every target with a figure is met (lowest: {ke[r['kpi']]} at "
                           f"{_pct(r['attainment'], 1, False)}).")
    return out[:6]


# --------------------------------------------------------------------------------------------------
# everything for one quarter (the notebook and the report call this)
# --------------------------------------------------------------------------------------------------

@dataclass
class Retrospective:
    """All results of one quarter's retrospective (frames in the units of the functions above)."""

    quarter: str
    region: str
    kpis: pd.DataFrame
    attainment: pd.DataFrame
    effects: pd.DataFrame
    event_study: pd.DataFrame
    concentration: pd.DataFrame
    alerts: pd.DataFrame
    monthly_sales: pd.Series
    stl: pd.DataFrame | None
    forecast: pd.DataFrame
    backtest: pd.DataFrame
    conflicts: dict[str, pd.DataFrame]
    migration: dict[str, pd.DataFrame]
    settings: RetroSettings = field(default_factory=RetroSettings)

    def findings(self, lang: str = "en") -> list[str]:
        """3–6 plain-language findings in `lang` (en or zh)."""
        return findings(self.kpis, quarter=self.quarter, effects=self.effects,
                        concentration_table=self.concentration, forecast=self.forecast, backtest=self.backtest,
                        attainment_table=self.attainment, lang=lang, settings=self.settings)

    def __repr__(self) -> str:
        return (f"Retrospective(quarter={self.quarter}, region={self.region}, kpi_rows={len(self.kpis)}, "
                f"action_types={len(self.effects)}, alerts={len(self.alerts)})")


def build_retrospective(
    con: Any,
    *,
    quarter: str,
    region: str = "all",
    months: int = 36,
    targets: TargetsConfig | str | Path | None = None,
    settings: RetroSettings | str | Path | None = None,
) -> Retrospective:
    """Compute every part of the retrospective for `quarter` and `region` from the store.

    Data are read region-scoped through the feature layer, up to the quarter's last day; the panel
    covers the `months` months ending there (actions, concentration, seasonality, forecast).
    """
    from workbench import features

    q = parse_quarter(quarter)
    cfg = settings if isinstance(settings, RetroSettings) else load_settings(settings)
    q_end = _quarter_bounds(q)[1]
    t = features.scoped_tables(con, _region_arg(region))  # once: each region-scoped call runs a count query
    kpis = _kpi_table(con, t, q, region=region, by_tier=True, targets=targets)
    tcfg = _resolve_targets(targets)
    att = attainment(kpis, tcfg, quarter=str(q)) if tcfg is not None else pd.DataFrame(
        columns=["region", "period", "basis", "kpi", "target", "actual", "attainment"])
    if _region_arg(region) is not None:
        att = att[att["region"] == _region_arg(region)].reset_index(drop=True)
    panel = panel_from_store(con, end=q_end, months=months, region=region)
    acts = _actions_until(t, q_end)
    eff, es = action_effects(panel, acts, pre=cfg.event_pre_months, post=cfg.event_post_months)
    eff = eff.merge(naive_before_after(panel, acts, months=cfg.naive_months), on="action_type", how="left")
    conc = concentration(panel, settings=cfg)
    sales = monthly_sales(panel)
    stl = stl_decompose(sales) if len(sales) >= 24 else None
    fc = forecast_sales(sales, horizon=cfg.forecast_horizon_months)
    bt = backtest_forecast(sales, horizon=cfg.forecast_horizon_months, origins=cfg.backtest_origins)
    conflicts = (t["conflicts"].filter(t["conflicts"].reported_date <= q_end).to_pandas()
                 if "conflicts" in t else pd.DataFrame(columns=["conflict_id", "reported_date", "partner_id",
                                                                "counterparty_id", "conflict_type", "resolved_date"]))
    return Retrospective(
        quarter=str(q), region=region, kpis=kpis, attainment=att, effects=eff, event_study=es,
        concentration=conc, alerts=concentration_alerts(conc, settings=cfg), monthly_sales=sales, stl=stl,
        forecast=fc, backtest=bt, conflicts=conflict_summary(conflicts, quarter=str(q)),
        migration=tier_migration(con, quarter=str(q), region=region), settings=cfg,
    )


def table(frame: pd.DataFrame, lang: str = "en", *, max_rows: int = 30, index: bool = False) -> Any:
    """An HTML table (IPython display object) of `frame` for `lang`: column names and known values
    (regions, tiers, action and conflict types) labelled, values HTML-escaped, numbers formatted."""
    from IPython.display import HTML

    from workbench.i18n import LABELS, label

    df = frame.head(max_rows).copy()
    for c in df.columns:
        if df[c].dtype == object or str(df[c].dtype).startswith(("string", "str")):
            df[c] = df[c].map(lambda v: label(f"act_{v}", lang) if f"act_{v}" in LABELS
                              else (label(v, lang) if isinstance(v, str) and v in LABELS else v))
    df = df.rename(columns={c: label(str(c), lang) for c in df.columns})
    if index:
        df.index = [label(str(i), lang) for i in df.index]
    return HTML(df.to_html(index=index, escape=True, border=0, classes="dataframe wb-table", na_rep="–",
                           float_format=lambda x: f"{x:,.3g}" if abs(x) < 1000 else f"{x:,.0f}"))
