"""Findings and the whole retrospective of one quarter.

:func:`finding_facts` picks 3–6 findings from the numbers and returns them as language-neutral
:class:`Finding` records (a code and its values); ``workbench.present.retro`` turns them into
sentences. :func:`build_retrospective` computes every part of the page for one quarter and scope.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import NotEnoughData
from workbench.retro._common import _period, _quarter_bounds, _region_arg
from workbench.retro.effects import _actions_until, action_effects, naive_before_after, panel_from_store
from workbench.retro.forecast import (
    MIN_BACKTEST_MONTHS,
    MIN_FORECAST_MONTHS,
    backtest_forecast,
    forecast_sales,
    monthly_sales,
    stl_decompose,
)
from workbench.retro.kpis import (
    RATE_KPIS,
    _kpi_table,
    _tiers_at,
    attainment,
    concentration_alerts,
    concentration_by_period,
    conflict_summary,
    tier_changes,
)
from workbench.retro.roi import ROI_COLUMNS, _before_second, action_roi, effects_by_tier, repeat_effects
from workbench.retro.settings import RetroSettings, TargetsConfig, _resolve_targets, load_settings

__all__ = ["FINDING_KPIS", "Finding", "Retrospective", "build_retrospective", "finding_facts"]

# KPIs that compete for "the largest move" finding, in order of precedence on ties
FINDING_KPIS: tuple[str, ...] = (
    "core_monthly_sales_cny", "active_partners", "new_partners", "churned_partners", "repeat_rate",
    "retention_rate", "satisfaction_mean", "incentive_cost_cny", "rebate_shortfall_cny", "conflicts_opened",
    "trainings",
)


@dataclass(frozen=True)
class Finding:
    """One finding: a `code` naming the sentence and the numbers it states (fractions, money, codes).

    Codes: ``sales`` (quarter, value, qoq_pct, yoy_pct), ``move`` (kpi, up, value, qoq_change, qoq_pct),
    ``effect`` (action_type, effect, low, high, naive: fractions), ``no_effect``, ``roi`` (action_type,
    roi, low, high, cost_per_action, cost_source), ``roi_unclear``, ``top1_alert``
    (period, share, threshold), ``top5_alert`` (period, share), ``forecast`` (mean, low, high,
    mape_model, mape_naive), ``behind_target`` / ``targets_met`` (kpi, region, period, attainment).
    """

    code: str
    values: dict[str, Any] = field(default_factory=dict)


def _largest_move(k: pd.DataFrame) -> Finding | None:
    """The largest quarter-on-quarter move among :data:`FINDING_KPIS` (relative for amounts and counts,
    points × 5 for rates, so they compete fairly), if it reaches 5%."""
    best, best_score = None, 0.0
    for kpi in FINDING_KPIS:
        if kpi not in k.index:
            continue
        r = k.loc[kpi]
        if kpi in RATE_KPIS:
            scale = 100.0 if kpi == "satisfaction_mean" else 1.0
            score = abs(r["qoq_change"]) / scale * 5 if np.isfinite(r["qoq_change"]) else 0.0
        else:
            score = abs(r["qoq_pct"]) if np.isfinite(r["qoq_pct"]) and r["value"] >= 10 else 0.0
        if score > best_score:
            best, best_score = kpi, score
    if best is None or best_score < 0.05:
        return None
    r = k.loc[best]
    return Finding("move", {"kpi": best, "up": bool(r["qoq_change"] > 0), "value": float(r["value"]),
                            "qoq_change": float(r["qoq_change"]), "qoq_pct": float(r["qoq_pct"])})


def _effect_facts(effects: pd.DataFrame) -> list[Finding]:
    """The two largest action effects whose interval excludes zero, or a ``no_effect`` finding."""
    sig = effects[(effects["ci_low"] > 0) | (effects["ci_high"] < 0)].sort_values("effect_log", ascending=False)
    out = []
    for _, e in sig.head(2).iterrows():
        naive = e.get("naive_log", float("nan"))
        out.append(Finding("effect", {
            "action_type": str(e["action_type"]), "effect": math.exp(e["effect_log"]) - 1,
            "low": math.exp(e["ci_low"]) - 1, "high": math.exp(e["ci_high"]) - 1,
            "naive": math.exp(naive) - 1 if pd.notna(naive) else float("nan"),
        }))
    return out or [Finding("no_effect")]


def _roi_fact(roi: pd.DataFrame) -> Finding:
    """The first action (all tiers) that pays back most surely (highest lower ROI bound above 1), or
    ``roi_unclear`` when no action's return on cost is surely above 1."""
    r = roi[(roi["tier"] == "all") & (roi["kind"] == "first")].dropna(subset=["roi_low"])
    paying = r[r["roi_low"] > 1].sort_values("roi_low", ascending=False)
    if paying.empty:
        return Finding("roi_unclear")
    e = paying.iloc[0]
    return Finding("roi", {"action_type": str(e["action_type"]), "roi": float(e["roi"]), "low": float(e["roi_low"]),
                           "high": float(e["roi_high"]), "cost_per_action": float(e["cost_per_action"]),
                           "cost_source": str(e["cost_source"])})


def _forecast_fact(forecast: pd.DataFrame, backtest: pd.DataFrame | None) -> Finding | None:
    """Next quarter's mean forecast; none when the interval spans more than a factor of 4 (short history)."""
    if not len(forecast) or float((forecast["upper"] / forecast["lower"]).max()) >= 4:
        return None
    m = backtest.set_index("method")["mape"] if backtest is not None and len(backtest) == 2 else None
    ok = m is not None and bool(np.isfinite(m).all())
    return Finding("forecast", {
        "mean": float(forecast["forecast"].mean()), "low": float(forecast["lower"].mean()),
        "high": float(forecast["upper"].mean()),
        "mape_model": float(m["model"]) if ok else float("nan"),
        "mape_naive": float(m["seasonal_naive"]) if ok else float("nan"),
    })


def _economics(con: Any, panel: pd.DataFrame, acts: pd.DataFrame, eff: pd.DataFrame, *, q_end: Any, region: str,
               cfg: RetroSettings) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Effects by tier (tiers at the quarter's end), of second actions, and the return on cost of each."""
    if acts.empty or eff.empty:
        return pd.DataFrame(), pd.DataFrame(), pd.DataFrame(columns=ROI_COLUMNS)
    kw = {"pre": cfg.event_pre_months, "post": cfg.event_post_months}
    roi_kw = {"default_costs": cfg.action_costs, "horizon": cfg.roi_horizon_months}
    tiers = _tiers_at(con, q_end, region)
    tier_eff = effects_by_tier(panel, acts, tiers[["partner_id", "tier"]], **kw) if len(tiers) else pd.DataFrame()
    rep_eff = repeat_effects(panel, acts, **kw)
    parts = [action_roi(panel, acts, eff, **roi_kw)]
    for tier, g in (tier_eff.groupby("tier", sort=False) if len(tier_eff) else []):
        ids = set(tiers.loc[tiers["tier"] == tier, "partner_id"].astype(str))
        parts.append(action_roi(panel, acts[acts["partner_id"].astype(str).isin(ids)], g, tier=str(tier), **roi_kw))
    if len(rep_eff):
        parts.append(action_roi(panel, acts, rep_eff, kind="repeat", **roi_kw))
    parts = [x for x in parts if len(x)]
    roi_rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ROI_COLUMNS)
    return tier_eff, rep_eff, roi_rows


def finding_facts(
    kpis: pd.DataFrame,
    *,
    quarter: str,
    effects: pd.DataFrame | None = None,
    concentration_table: pd.DataFrame | None = None,
    forecast: pd.DataFrame | None = None,
    backtest: pd.DataFrame | None = None,
    attainment_table: pd.DataFrame | None = None,
    settings: RetroSettings | None = None,
    roi: pd.DataFrame | None = None,
) -> list[Finding]:
    """3–6 findings from the numbers, most important first.

    Uses the overall rows of the KPI table (sales change; the largest other move), the action effects
    whose 95% interval excludes zero (with the naive figure beside), concentration alerts, the
    next-quarter forecast with its backtest, and the weakest target attainment.
    """
    q = str(_period(quarter))
    settings = settings or load_settings()
    out: list[Finding] = []
    k = kpis[(kpis["dimension"] == "overall") & (kpis["quarter"] == q)].set_index("kpi")
    if "monthly_sales_cny" in k.index:
        r = k.loc["monthly_sales_cny"]
        out.append(Finding("sales", {"quarter": q, "value": float(r["value"]), "qoq_pct": float(r["qoq_pct"]),
                                     "yoy_pct": float(r["yoy_pct"])}))
    move = _largest_move(k)
    if move is not None:
        out.append(move)
    if effects is not None and len(effects):
        out.extend(_effect_facts(effects))
    if roi is not None and len(roi):
        out.append(_roi_fact(roi))
    if concentration_table is not None and len(concentration_table):
        last = concentration_table.iloc[-1]
        if bool(last["top1_alert"]):
            out.append(Finding("top1_alert", {"period": str(last["period"]), "share": float(last["top1_share"]),
                                              "threshold": settings.top1_share_alert}))
        elif bool(last["top5_alert"]):
            out.append(Finding("top5_alert", {"period": str(last["period"]), "share": float(last["top5_share"])}))
    if forecast is not None:
        fc = _forecast_fact(forecast, backtest)
        if fc is not None:
            out.append(fc)
    if attainment_table is not None and len(attainment_table) and len(out) < 6:
        a = attainment_table.dropna(subset=["attainment"]).sort_values("attainment")
        if len(a):
            r = a.iloc[0]
            out.append(Finding("behind_target" if r["attainment"] < 1 else "targets_met", {
                "kpi": str(r["kpi"]), "region": str(r["region"]), "period": str(r["period"]),
                "attainment": float(r["attainment"])}))
    return out[:6]



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
    notes: dict[str, Finding] = field(default_factory=dict)  # section → why it shows less (see build)
    tier_effects: pd.DataFrame = field(default_factory=pd.DataFrame)  # roi.effects_by_tier (tiers at quarter end)
    repeat_effects: pd.DataFrame = field(default_factory=pd.DataFrame)  # roi.repeat_effects
    roi: pd.DataFrame = field(default_factory=pd.DataFrame)  # roi.action_roi rows: all, per tier, repeat

    def findings(self) -> list[Finding]:
        """3–6 findings (:func:`finding_facts`); ``workbench.present.retro.sentences`` words them."""
        return finding_facts(self.kpis, quarter=self.quarter, effects=self.effects,
                             concentration_table=self.concentration, forecast=self.forecast,
                             backtest=self.backtest, attainment_table=self.attainment, settings=self.settings,
                             roi=self.roi)

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
    A part the store cannot support degrades instead of raising: ``notes`` maps the section ('kpis',
    'effects', 'concentration', 'forecast', 'backtest', 'conflicts') to a :class:`Finding` saying why it shows less
    (codes ``empty_tables``, ``no_actions``, ``no_comparable_actions``, ``no_sales``, ``no_forecast``,
    ``no_conflicts``, ``no_backtest``).
    """
    from workbench import features

    q = _period(quarter)
    cfg = settings if isinstance(settings, RetroSettings) else load_settings(settings)
    q_end = _quarter_bounds(q)[1]
    t = features.scoped_tables(con, _region_arg(region))  # once: each region-scoped call runs a count query
    kpis = _kpi_table(con, t, q, region=region, by_tier=True, targets=targets)
    tcfg = _resolve_targets(targets)
    att = attainment(kpis, tcfg, quarter=str(q)) if tcfg is not None else pd.DataFrame(
        columns=["region", "period", "basis", "kpi", "target", "actual", "attainment"])
    if _region_arg(region) is not None:
        att = att[att["region"] == _region_arg(region)].reset_index(drop=True)
    notes: dict[str, Finding] = {}
    empty = kpis.attrs.get("empty_tables", [])
    if [x for x in empty if x != "actions"]:
        notes["kpis"] = Finding("empty_tables", {"tables": [x for x in empty if x != "actions"]})
    panel = panel_from_store(con, end=q_end, months=months, region=region)
    acts = _actions_until(t, q_end)
    first_only = _before_second(panel, acts)  # a first action's own effect: months before any second one
    eff, es = action_effects(first_only, acts, pre=cfg.event_pre_months, post=cfg.event_post_months)
    eff = eff.merge(naive_before_after(first_only, acts, months=cfg.naive_months), on="action_type", how="left")
    tier_eff, rep_eff, roi_rows = _economics(con, panel, acts, eff, q_end=q_end, region=region, cfg=cfg)
    if acts.empty:
        notes["effects"] = Finding("no_actions")
    elif eff.empty:
        notes["effects"] = Finding("no_comparable_actions", {"actions": len(acts)})
    conc = concentration_by_period(panel, settings=cfg)
    sales = monthly_sales(panel)
    if conc.empty:
        notes["concentration"] = Finding("no_sales")
    stl = stl_decompose(sales) if len(sales) >= 24 else None
    try:
        fc = forecast_sales(sales, horizon=cfg.forecast_horizon_months)
        bt = backtest_forecast(sales, horizon=cfg.forecast_horizon_months, origins=cfg.backtest_origins)
        if not int(bt["n_forecasts"].sum()):
            notes["backtest"] = Finding("no_backtest", {"months": len(sales),
                                                        "needed": MIN_BACKTEST_MONTHS + cfg.forecast_horizon_months})
    except NotEnoughData:
        notes["forecast"] = Finding("no_forecast", {"months": len(sales), "needed": MIN_FORECAST_MONTHS})
        fc = pd.DataFrame(columns=["month", "forecast", "lower", "upper"])
        bt = pd.DataFrame(columns=["method", "mape", "rmse", "n_forecasts", "interval_coverage"])
    conflicts = (t["conflicts"].filter(t["conflicts"].reported_date <= q_end).to_pandas()
                 if "conflicts" in t else pd.DataFrame(columns=["conflict_id", "reported_date", "partner_id",
                                                                "counterparty_id", "conflict_type", "resolved_date"]))
    if "conflicts" in empty:
        notes["conflicts"] = Finding("no_conflicts")
    return Retrospective(
        quarter=str(q), region=region, kpis=kpis, attainment=att, effects=eff, event_study=es,
        concentration=conc, alerts=concentration_alerts(conc, settings=cfg), monthly_sales=sales, stl=stl,
        forecast=fc, backtest=bt, conflicts=conflict_summary(conflicts, quarter=str(q)),
        migration=tier_changes(con, quarter=str(q), region=region), settings=cfg, notes=notes,
        tier_effects=tier_eff, repeat_effects=rep_eff, roi=roi_rows,
    )


