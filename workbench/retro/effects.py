"""Action effects: stacked event study / difference-in-differences of maintenance actions on sales.

The estimators take plain pandas frames (a partner-month panel and the actions table) so they can be
fed any panel; the ``*_from_store`` helpers read the store through the feature layer and honour
``region``. The stacked data live in :mod:`workbench.retro.stacking`, the per-type fits (PPML, log OLS,
pre-trend tests) in :mod:`workbench.retro.fits`, the wild bootstrap in :mod:`workbench.retro.bootstrap`.
"""

from __future__ import annotations

import math
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
from workbench.retro.fits import (
    _cluster_ols,  # noqa: F401 - tests reach it here
    _fit_in_memory,
    _fit_ppml,
    _fit_streaming,
    _pretrend_p,
    _pretrend_wild_p,
    _sd,
)
from workbench.retro.settings import RetroSettings, load_settings
from workbench.retro.stacking import (
    _absorb,  # noqa: F401 - tests reach it here
    _first_actions,
    _panel_arrays,
    _prepare_levels,
    _prepare_panel,
)

__all__ = [
    "action_effects",
    "action_effects_from_store",
    "actions_from_store",
    "effects_display",
    "naive_before_after",
    "panel_from_store",
]


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
