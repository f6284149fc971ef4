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
    "Target",
    "TargetsConfig",
    "action_effects",
    "action_effects_from_store",
    "actions_from_store",
    "attainment",
    "backtest_forecast",
    "concentration",
    "concentration_alerts",
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


def _stack(p: pd.DataFrame, first: pd.DataFrame, action_type: str, *, pre: int, post: int) -> _Stacked | None:
    """Stacked data set for one action type: one stack per treatment month with clean controls.

    A stack for cohort month g holds the partners whose first action is `action_type` in month g
    (treated) and the partners with no action up to g + post (never or not-yet treated), all
    restricted to months g − pre … g + post. Partners first treated with another action type are
    never controls after their own action.
    """
    mcode = pd.PeriodIndex(p["month"]).asi8
    pid_codes, pid_index = pd.factorize(p["partner_id"])
    first = first.assign(
        ord=pd.PeriodIndex(pd.to_datetime(first["action_month"]).dt.to_period("M")).asi8
    )
    first_ord = pd.Series(first["ord"].to_numpy(), index=first["partner_id"].to_numpy())
    # per panel row: the partner's first action month (ordinal) and type
    row_first = first_ord.reindex(pid_index).to_numpy()[pid_codes]
    type_map = pd.Series(first["action_type"].to_numpy(), index=first["partner_id"].to_numpy())
    row_type = type_map.reindex(pid_index).to_numpy()[pid_codes]
    has_first = ~pd.isna(row_first)
    row_first = np.where(has_first, row_first, np.inf).astype("float64")

    cohorts = np.sort(first.loc[first["action_type"] == action_type, "ord"].unique())
    parts_y, parts_rel, parts_tr, parts_unit, parts_time, parts_cl = [], [], [], [], [], []
    n_treated = 0
    used = 0
    y_all = p["log_sales"].to_numpy()
    for s, g in enumerate(cohorts):
        in_window = (mcode >= g - pre) & (mcode <= g + post)
        treated = in_window & (row_first == g) & (row_type == action_type)
        control = in_window & (row_first > g + post)
        if not treated.any() or not control.any():
            continue
        # a treated partner must be seen both before and after its action to inform the estimate
        tr_codes = pid_codes[treated]
        before = np.bincount(tr_codes[mcode[treated] < g], minlength=len(pid_index)) > 0
        after = np.bincount(tr_codes[mcode[treated] >= g], minlength=len(pid_index)) > 0
        ok = before & after
        treated &= ok[pid_codes]
        if not treated.any():
            continue
        keep = treated | control
        idx = np.flatnonzero(keep)
        parts_y.append(y_all[idx])
        parts_rel.append(np.where(treated[idx], mcode[idx] - g, _NOT_TREATED))
        parts_tr.append(treated[idx])
        parts_unit.append(s * len(pid_index) + pid_codes[idx])
        parts_time.append(s * (2 * (pre + post) + 10) + (mcode[idx] - g + pre))
        parts_cl.append(pid_codes[idx])
        n_treated += int(ok.sum())
        used += 1
    if not used:
        return None
    unit = pd.factorize(np.concatenate(parts_unit))[0]
    time = pd.factorize(np.concatenate(parts_time))[0]
    return _Stacked(
        y=np.concatenate(parts_y), rel=np.concatenate(parts_rel), treated=np.concatenate(parts_tr),
        unit=unit, time=time, cluster=np.concatenate(parts_cl), n_treated=n_treated, n_cohorts=used,
    )


def _cluster_ols(y: np.ndarray, x: np.ndarray, cluster: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS of within-transformed y on x with a cluster-robust (by partner) covariance.

    Same estimator and small-sample factor as statsmodels' ``cov_type="cluster"``
    (G/(G−1) · (N−1)/(N−K)); computed from k × k moments so it stays fast on millions of stacked rows
    (tests check it against statsmodels on a small case). Absorbed fixed effects nested in the
    clusters need no degrees-of-freedom correction.
    """
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


def action_effects(
    panel: pd.DataFrame,
    actions: pd.DataFrame,
    *,
    sales_col: str = "net_sales_cny",
    pre: int = 6,
    post: int = 6,
    alpha: float = 0.05,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Effect of each maintenance action type on log monthly sales, by stacked event study.

    Parameters
    ----------
    panel : one row per partner-month with ``partner_id``, ``month`` (any date in the month) and
        `sales_col` (net sales, CNY). Months with zero or negative sales are left out (log scale).
    actions : the actions table (``partner_id``, ``action_date``, ``action_type``); a partner's first
        action defines its treatment type and month.
    pre, post : event window, months before (−pre … −2, with −1 the reference) and after (0 … post).

    Design: for each action type and each treatment month g a stack holds that cohort and the clean
    controls (partners with no action up to g + post: never or not-yet treated), over months
    g − pre … g + post. Log sales are regressed on treated × event-time dummies with stack × partner
    and stack × month fixed effects (absorbed by alternating projections), standard errors clustered
    by partner (statsmodels). The headline effect is the pooled difference-in-differences
    (treated × post) in the same stacked data; event-time coefficients give the pre-trends.

    Returns
    -------
    effects : one row per action type: effect_log, se, ci_low, ci_high (log points), effect_pct
        (exp − 1, %), p_value, pretrend_p (joint Wald test of the pre coefficients), n_treated,
        n_cohorts, n_obs.
    event_study : one row per action type and event month: rel_month, coef, se, ci_low, ci_high
        (rel_month −1 is the reference, 0 by construction).
    """
    from scipy import stats

    p = _prepare_panel(panel, sales_col=sales_col)
    first = _first_actions(actions)
    z = stats.norm.ppf(1 - alpha / 2)
    rows, es_rows = [], []
    types = [t for t in ACTION_TYPES if t in set(first["action_type"])]
    types += sorted(set(first["action_type"]) - set(types))
    for atype in types:
        st = _stack(p, first, atype, pre=pre, post=post)
        if st is None:
            continue
        rels = [r for r in range(-pre, post + 1) if r != -1]
        mat = np.zeros((st.y.size, 2 + len(rels)))
        mat[:, 0] = st.y
        mat[:, 1] = st.treated & (st.rel >= 0)
        col_of = {r: 2 + i for i, r in enumerate(rels)}
        tr_rows = np.flatnonzero(st.treated & (st.rel != -1))
        mat[tr_rows, [col_of[r] for r in st.rel[tr_rows]]] = 1.0
        dm = _absorb(mat, st.unit, st.time)
        y, xpost, xes = dm[:, 0], dm[:, 1:2], dm[:, 2:]
        # drop event-time columns with no variation (e.g. no cohort reaches that far)
        keep = np.abs(xes).sum(axis=0) > 1e-9
        b_post, v_post = _cluster_ols(y, xpost, st.cluster)
        b_es, v_es = _cluster_ols(y, xes[:, keep], st.cluster)
        kept = [r for r, k in zip(rels, keep, strict=True) if k]
        se = math.sqrt(v_post[0, 0])
        eff = float(b_post[0])
        pre_idx = [i for i, r in enumerate(kept) if r < -1]
        if pre_idx:
            b_pre = b_es[pre_idx]
            v_pre = v_es[np.ix_(pre_idx, pre_idx)]
            try:
                wald = float(b_pre @ np.linalg.solve(v_pre, b_pre))
                pretrend_p = float(stats.chi2.sf(wald, len(pre_idx)))
            except np.linalg.LinAlgError:
                pretrend_p = float("nan")
        else:
            pretrend_p = float("nan")
        rows.append({
            "action_type": atype,
            "effect_log": eff,
            "se": se,
            "ci_low": eff - z * se,
            "ci_high": eff + z * se,
            "effect_pct": 100 * (math.exp(eff) - 1),
            "p_value": float(2 * stats.norm.sf(abs(eff / se))) if se > 0 else float("nan"),
            "pretrend_p": pretrend_p,
            "n_treated": st.n_treated,
            "n_cohorts": st.n_cohorts,
            "n_obs": int(st.y.size),
        })
        es_rows.append({"action_type": atype, "rel_month": -1, "coef": 0.0, "se": 0.0,
                        "ci_low": 0.0, "ci_high": 0.0})
        for i, r in enumerate(kept):
            s = math.sqrt(v_es[i, i])
            es_rows.append({"action_type": atype, "rel_month": r, "coef": float(b_es[i]), "se": s,
                            "ci_low": float(b_es[i]) - z * s, "ci_high": float(b_es[i]) + z * s})
    effects = pd.DataFrame(rows, columns=[
        "action_type", "effect_log", "se", "ci_low", "ci_high", "effect_pct", "p_value", "pretrend_p",
        "n_treated", "n_cohorts", "n_obs",
    ])
    es = pd.DataFrame(es_rows, columns=["action_type", "rel_month", "coef", "se", "ci_low", "ci_high"])
    es = es.sort_values(["action_type", "rel_month"], kind="mergesort").reset_index(drop=True)
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
