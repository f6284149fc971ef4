"""Which action pays: effects by tier and for repeated actions, action costs and return on cost.

Every estimate reuses :func:`workbench.retro.effects.action_effects` (stacked difference-in-differences
with wild cluster bootstrap intervals) on a subset or a re-timed panel:

* by tier — the panel and actions of one tier's partners (treated and controls from the same tier);
* repeated actions — the second action of a partner, on the panel from its first action on (so every
  partner in a stack is already past its first action's step), controls not yet re-treated;
* return on cost — incremental net sales over the `horizon` months after each action, ``sales after ×
  (1 − exp(−effect − se²/2))`` (the share of the observed sales the action added, on the log scale the
  effect is estimated on; the se²/2 term removes the plug-in's downward bias), divided by the actions'
  cost; tier rows use the tier effects partially pooled toward the type's (:func:`pool_tier_effects`); its interval maps the effect's interval through 1 − exp(−x). Costs come from the actions' ``cost`` column, or the type's default
  (``config/retro.yaml`` ``action_costs``) where it is missing.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from workbench.retro.effects import action_effects
from workbench.retro.stacking import HELD_OUT

__all__ = ["ROI_COLUMNS", "action_roi", "effects_by_tier", "first_action_effects", "nth_actions", "pool_tier_effects",
           "repeat_effects"]

ROI_COLUMNS = [
    "action_type", "tier", "kind", "n_actions", "cost_total", "cost_per_action", "cost_source", "effect_log",
    "ci_low", "ci_high", "sales_after", "incremental_sales", "incremental_low", "incremental_high", "roi",
    "roi_low", "roi_high", "n_treated",
]


def _ids(frame: pd.DataFrame) -> pd.Series:
    return frame["partner_id"].astype(str)


def nth_actions(actions: pd.DataFrame, n: int) -> pd.DataFrame:
    """Each partner's `n`-th action (1 = first), by date then type: partner_id, action_date, action_type (+ cost)."""
    cols = [c for c in ("partner_id", "action_date", "action_type", "cost") if c in actions.columns]
    a = actions.loc[:, cols].dropna(subset=["action_date"]).assign(partner_id=lambda d: _ids(d))
    a = a.assign(action_date=pd.to_datetime(a["action_date"])).sort_values(
        ["partner_id", "action_date", "action_type"], kind="mergesort")
    return a[a.groupby("partner_id").cumcount() == n - 1].reset_index(drop=True)


def _before_second(panel: pd.DataFrame, actions: pd.DataFrame) -> pd.DataFrame:
    """The panel with each partner's months from its second action on flagged ``stacking.HELD_OUT`` (the first
    action's own effect): the estimators leave them out of the fit but still count them for the partner's
    active span, so a span cut at the last sale does not stop at the second action (docs/retro.md)."""
    second = nth_actions(actions, 2)
    if second.empty:
        return panel
    cut = pd.Series(second["action_date"].dt.to_period("M").to_numpy(), index=second["partner_id"].to_numpy())
    month = pd.to_datetime(panel["month"]).dt.to_period("M")
    limit = _ids(panel).map(cut)
    out = ~(limit.isna().to_numpy() | (month < limit).fillna(True).to_numpy(bool))
    if HELD_OUT in panel.columns:
        out |= panel[HELD_OUT].fillna(False).to_numpy(bool)
    return panel.assign(**{HELD_OUT: out})


def first_action_effects(panel: pd.DataFrame, actions: pd.DataFrame, **kwargs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each action type's first-action effect over all partners (page 05's effects and its "all" return-on-cost
    rows): ``action_effects`` on the panel without the months from a partner's second action on."""
    return action_effects(_before_second(panel, actions), actions, **kwargs)


def effects_by_tier(panel: pd.DataFrame, actions: pd.DataFrame, tiers: pd.DataFrame, *,
                    min_treated: int = 5, **kwargs) -> pd.DataFrame:
    """First-action effects per tier: the columns of ``action_effects`` plus ``tier``.

    tiers: partner_id, tier (one per partner; e.g. the tiers at the quarter's end). A tier's rows use
    only its own partners, so its controls share its level and trend. Rows with fewer than
    `min_treated` treated partners are left out (an interval from a handful of partners is noise).
    """
    t = tiers.assign(partner_id=_ids(tiers))
    rows = []
    for tier, ids in t.groupby("tier", sort=False)["partner_id"]:
        keep = set(ids)
        p = panel[_ids(panel).isin(keep)]
        a = actions[_ids(actions).isin(keep)]
        if p.empty or a.empty:
            continue
        eff, _ = action_effects(_before_second(p, a), nth_actions(a, 1), **kwargs)
        rows.append(eff[eff["n_treated"] >= min_treated].assign(tier=str(tier)))
    if not rows:
        return pd.DataFrame(columns=["action_type", "tier", "effect_log", "ci_low", "ci_high", "n_treated"])
    return pd.concat(rows, ignore_index=True)


def _interval_se(low: float, high: float, alpha: float = 0.05) -> float:
    """Standard error (log points) implied by a 1 − alpha interval's width: (high − low) / (2 z); NaN without one."""
    from scipy.stats import norm

    width = float(high) - float(low)
    return width / (2 * float(norm.ppf(1 - alpha / 2))) if np.isfinite(width) and width > 0 else float("nan")


def pool_tier_effects(by_tier: pd.DataFrame, overall: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Tier × type effects partially pooled toward the type's effect over all partners (empirical Bayes).

    by_tier: :func:`effects_by_tier` rows; overall: one row per action type (``first_action_effects``). Each
    cell's standard error is its interval's (the wild bootstrap's, which covers; the cluster-robust se is
    ~25% too small here); the between-tier variance τ² of a type is DerSimonian–Laird over its cells, the
    weight on the cell's own estimate τ² / (τ² + se²), the rest on the type's effect μ; se = √(w·se² + (1 −
    w)²·se_μ²) and a normal interval (as ``workbench.incentives.heterogeneity``). Returns by_tier with
    effect_log, se, ci_low, ci_high replaced by the pooled values, the raw ones kept as ``*_raw`` and the
    weight as ``pool_weight`` (0 = the type's effect, 1 = the cell's own). Types without an overall row
    keep their raw cells (weight 1).
    """
    from scipy.stats import norm

    if by_tier.empty:
        return by_tier.assign(effect_log_raw=[], se_raw=[], ci_low_raw=[], ci_high_raw=[], pool_weight=[])
    z = float(norm.ppf(1 - alpha / 2))
    mu = overall.set_index("action_type")
    out = []
    for atype, g in by_tier.groupby("action_type", sort=False):
        b = g["effect_log"].to_numpy(float)
        se = np.array([_interval_se(lo, hi, alpha) for lo, hi in zip(g["ci_low"], g["ci_high"], strict=True)])
        se = np.where(np.isfinite(se), se, g["se"].to_numpy(float))
        raw = {"effect_log_raw": b, "se_raw": se, "ci_low_raw": g["ci_low"].to_numpy(float),
               "ci_high_raw": g["ci_high"].to_numpy(float)}
        if atype not in mu.index or not np.all(np.isfinite(se) & (se > 0)):
            out.append(g.assign(**raw, pool_weight=1.0))
            continue
        m = float(mu.loc[atype, "effect_log"])
        m_se = _interval_se(mu.loc[atype, "ci_low"], mu.loc[atype, "ci_high"], alpha)
        m_se = m_se if np.isfinite(m_se) else float(mu.loc[atype, "se"])
        w = 1.0 / se**2
        tau2 = 0.0
        if len(b) > 1:
            q = float(np.sum(w * (b - np.sum(w * b) / w.sum()) ** 2))
            tau2 = max(0.0, (q - (len(b) - 1)) / (w.sum() - np.sum(w**2) / w.sum()))
        k = tau2 / (tau2 + se**2)
        est = k * b + (1 - k) * m
        post = np.sqrt(k * se**2 + (1 - k) ** 2 * m_se**2)
        out.append(g.assign(**raw, effect_log=est, se=post, ci_low=est - z * post, ci_high=est + z * post,
                            pool_weight=k))
    return pd.concat(out).loc[by_tier.index]


def repeat_effects(panel: pd.DataFrame, actions: pd.DataFrame, *, min_treated: int = 5, **kwargs) -> pd.DataFrame:
    """Effect of a partner's second action (by its type), given the first: columns of ``action_effects``.

    The panel keeps the partners with an action, from their first action's month on; a second action
    defines treatment, and partners without one yet are the controls.
    """
    first = nth_actions(actions, 1)
    second = nth_actions(actions, 2)
    if second.empty:
        return action_effects(panel.iloc[:0], second, **kwargs)[0]
    start = pd.Series(first["action_date"].dt.to_period("M").to_numpy(), index=first["partner_id"].to_numpy())
    month = pd.to_datetime(panel["month"]).dt.to_period("M")
    begin = _ids(panel).map(start)
    p = panel[begin.notna().to_numpy() & (month >= begin).fillna(False).to_numpy(bool)]
    third = nth_actions(actions, 3)
    p = _before_second(p, pd.concat([second, third]))  # months before the third action
    eff, _ = action_effects(p, second, **kwargs)
    return eff[eff["n_treated"] >= min_treated].reset_index(drop=True)


def _sales_after(panel: pd.DataFrame, acts: pd.DataFrame, *, horizon: int, sales_col: str) -> pd.Series:
    """Net sales of each action's partner in the `horizon` months from the action's month, per action type."""
    if acts.empty:
        return pd.Series(dtype="float64")
    p = panel.assign(partner_id=_ids(panel), _m=pd.to_datetime(panel["month"]).dt.to_period("M").astype("int64"))
    a = acts.assign(_g=acts["action_date"].dt.to_period("M").astype("int64"))
    m = p.merge(a[["partner_id", "action_type", "_g"]], on="partner_id")
    m = m[(m["_m"] >= m["_g"]) & (m["_m"] < m["_g"] + horizon)]
    return m.groupby("action_type")[sales_col].sum().astype("float64")


def _added_share(effect_log: float, se: float = 0.0) -> float:
    """Share of observed sales an action added, 1 − e^−effect (0–1 for a gain); with the effect's standard
    error `se` (log points) the estimate 1 − e^(−effect − se²/2), unbiased when the estimate is normal: the plain
    plug-in is not, as 1 − e^−b is concave (E e^−b̂ = e^(−b + se²/2); Kennedy 1981's correction)."""
    s = se if np.isfinite(se) and se > 0 else 0.0
    with np.errstate(over="ignore"):  # an interval end of −800 log points (a one-day store): −inf, shown as –
        return float(-np.expm1(-effect_log - s * s / 2))


def _correction_se(effect: pd.Series) -> float:
    """The effect's standard error for the se²/2 term: its interval's (``_interval_se``; the wild bootstrap
    interval's spread matches the estimate's spread over seeds, 0.25 against 0.26 log points, where the
    cluster-robust ``se`` says 0.20: docs/retro.md), else ``se``, else 0."""
    se = _interval_se(effect.get("ci_low", np.nan), effect.get("ci_high", np.nan))
    if not np.isfinite(se):
        se = float(effect.get("se", 0.0))
    return se if np.isfinite(se) else 0.0


def action_roi(panel: pd.DataFrame, actions: pd.DataFrame, effects: pd.DataFrame, *,
               default_costs: Mapping[str, float], kind: str = "first", tier: str = "all",
               horizon: int = 12, sales_col: str = "net_sales_cny") -> pd.DataFrame:
    """Effect, cost and return on cost per action type (one row each, columns :data:`ROI_COLUMNS`).

    effects: one row per action type (effect_log, ci_low, ci_high, n_treated), from ``action_effects``,
    :func:`effects_by_tier` (one tier's rows) or :func:`repeat_effects`. kind: 'first' (each partner's
    first action) or 'repeat' (its second). incremental_sales = Σ over those actions of the partner's net
    sales in the `horizon` months from the action's month × (1 − exp(−effect_log − se²/2)) (the se term,
    se from the effect's interval or ``se`` (:func:`_correction_se`), makes the estimate unbiased:
    :func:`_added_share`; the interval maps ci_low and
    ci_high through 1 − exp(−x), no correction needed for quantiles); roi =
    incremental_sales / cost_total (currency per unit of cost; below 1 the action does not pay back in
    sales). cost_source says whether costs were recorded, defaulted or mixed.
    """
    acts = nth_actions(actions, 1 if kind == "first" else 2)
    out = []
    for _, e in effects.iterrows():
        a = acts[acts["action_type"] == e["action_type"]]
        if a.empty:
            continue
        recorded = pd.to_numeric(a["cost"], errors="coerce") if "cost" in a.columns else pd.Series(np.nan, a.index)
        default = float(default_costs.get(str(e["action_type"]), np.nan))
        cost = recorded.fillna(default)
        source = "recorded" if recorded.notna().all() else "default" if recorded.isna().all() else "mixed"
        sales = float(_sales_after(panel, a, horizon=horizon, sales_col=sales_col).sum())
        inc = [sales * _added_share(float(e[c])) for c in ("effect_log", "ci_low", "ci_high")]
        inc[0] = sales * _added_share(float(e["effect_log"]), _correction_se(e))
        total = float(cost.sum())
        roi = [x / total if total > 0 else np.nan for x in inc]
        out.append({
            "action_type": e["action_type"], "tier": tier, "kind": kind, "n_actions": len(a),
            "cost_total": total, "cost_per_action": total / len(a), "cost_source": source,
            "effect_log": e["effect_log"], "ci_low": e["ci_low"], "ci_high": e["ci_high"], "sales_after": sales,
            "incremental_sales": inc[0], "incremental_low": inc[1], "incremental_high": inc[2],
            "roi": roi[0], "roi_low": roi[1], "roi_high": roi[2], "n_treated": e.get("n_treated", np.nan),
        })
    return pd.DataFrame(out, columns=ROI_COLUMNS)
