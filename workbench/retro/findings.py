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
from workbench.retro._common import _period, _quarter_bounds
from workbench.retro.effects import _actions_until, naive_before_after, panel_from_store
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
    REBATE_KPIS,
    _kpi_table,
    _tiers_at,
    attainment,
    concentration_alerts,
    concentration_by_period,
    conflict_summary,
    tier_changes,
)
from workbench.retro.roi import (
    ROI_COLUMNS,
    _before_second,
    action_roi,
    effects_by_tier,
    first_action_effects,
    pool_tier_effects,
    repeat_effects,
)
from workbench.retro.settings import RetroSettings, TargetsConfig, _resolve_targets, load_settings
from workbench.vocab import Scope

__all__ = ["FINDING_KPIS", "MAX_FINDINGS", "Finding", "Retrospective", "build_retrospective", "finding_facts"]

# KPIs that compete for "the largest move" finding, in order of precedence on ties
FINDING_KPIS: tuple[str, ...] = (
    "core_monthly_sales_cny", "active_partners", "new_partners", "churned_partners", "repeat_rate",
    "retention_rate", "satisfaction_mean", "incentive_cost_cny", "conflicts_opened", "trainings",
)  # the rebate audit's amounts have a finding of their own (``rebates``)
MAX_FINDINGS = 8


@dataclass(frozen=True)
class Finding:
    """One finding: a `code` naming the sentence and the numbers it states (fractions, money, codes).

    Codes: ``sales`` (quarter, value, qoq_pct, yoy_pct), ``move`` (kpi, up, value, qoq_change, qoq_pct),
    ``effect`` (action_type, effect, low, high, naive: fractions), ``no_effect``, ``roi`` (action_type,
    roi, low, high, cost_per_action, cost_source), ``roi_unclear``, ``top1_alert``
    (period, share, threshold), ``top5_alert`` (period, share), ``forecast`` (mean, low, high,
    mape_model, mape_naive), ``behind_target`` / ``targets_met`` (kpi, region, period, attainment),
    ``rebates`` (quarter, underpaid, unpaid_overdue, overpaid, misstated: store currency, never netted),
    ``rebates_ok`` (quarters), ``contacts`` (partners, overdue, never, adherence, tier, tier_adherence,
    manager, manager_adherence), ``channel_alert`` (code, channel_type, value, threshold), ``review``
    (partners, declining, low_satisfaction, negative_contribution).
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
    """Effects by tier (tiers at the quarter's end, partially pooled toward the type's effect: ``pool_tier_effects``),
    of second actions, and the return on cost of each."""
    if acts.empty or eff.empty:
        return pd.DataFrame(), pd.DataFrame(), pd.DataFrame(columns=ROI_COLUMNS)
    kw = {"pre": cfg.event_pre_months, "post": cfg.event_post_months}
    roi_kw = {"default_costs": cfg.action_costs, "horizon": cfg.roi_horizon_months}
    tiers = _tiers_at(con, q_end, region)
    tier_eff = effects_by_tier(panel, acts, tiers[["partner_id", "tier"]], **kw) if len(tiers) else pd.DataFrame()
    if len(tier_eff):  # a tier's few treated partners: pulled toward the type's effect over all partners
        tier_eff = pool_tier_effects(tier_eff, eff)
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


def _rebate_fact(k_all: pd.DataFrame, quarter: str) -> Finding | None:
    """The rebate audit of `quarter` (or, when its rows are all fine or not yet due, of the latest shown quarter
    with a discrepancy): underpaid, overpaid and misstated apart; ``rebates_ok`` when the shown quarters
    have none; None without a ledger. k_all: overall KPI rows of the shown quarters."""
    kinds = ("rebate_underpaid_cny", "rebate_overpaid_cny", "rebate_misstated_cny")
    r = k_all[k_all["kpi"].isin(REBATE_KPIS)].pivot(index="quarter", columns="kpi", values="value")
    if r.empty or "rebate_underpaid_cny" not in r or r["rebate_underpaid_cny"].isna().all():
        return None
    bad = r[r[[c for c in kinds if c in r]].fillna(0).gt(0.005).any(axis=1)]
    if bad.empty:
        return Finding("rebates_ok", {"first": str(r.index.min()), "last": str(r.index.max())})
    pick = quarter if quarter in bad.index else str(bad.index.max())
    row = r.loc[pick]
    return Finding("rebates", {"quarter": pick, **{k.removeprefix("rebate_").removesuffix("_cny"): float(row.get(k, np.nan))
                                                   for k in ("rebate_underpaid_cny", "rebate_unpaid_overdue_cny",
                                                             "rebate_overpaid_cny", "rebate_misstated_cny")}})


def _contacts_fact(status: pd.DataFrame) -> Finding | None:
    """Contact cadence of the active partners (``relations.contact_status``): overdue, never contacted,
    adherence (share in cadence, 0–1), and the tier and manager with the lowest adherence."""
    from workbench import relations

    if status is None or status.empty:
        return None
    by_tier = relations.contact_adherence(status, by="tier").sort_values(["adherence", "tier"])
    v: dict[str, Any] = {"partners": len(status), "overdue": int(status["overdue"].sum()),
                         "never": int(status["last_contact_date"].isna().sum()),
                         "adherence": float(1 - status["overdue"].mean()),
                         "tier": str(by_tier["tier"].iloc[0]), "tier_adherence": float(by_tier["adherence"].iloc[0]),
                         "manager": None, "manager_adherence": float("nan")}
    if status["manager_id"].notna().any() and status["manager_id"].nunique() > 1:
        by_m = relations.contact_adherence(status[status["manager_id"].notna()], by="manager_id")
        by_m = by_m.sort_values(["adherence", "manager_id"])
        v["manager"], v["manager_adherence"] = str(by_m["manager_id"].iloc[0]), float(by_m["adherence"].iloc[0])
    return Finding("contacts", v)


def _channel_facts(alerts: pd.DataFrame | None, review: pd.DataFrame | None) -> list[Finding]:
    """The first channel-dependence alert (``relations.channel_alerts``) and the size of the partner review list."""
    out = []
    if alerts is not None and len(alerts):
        a = alerts.iloc[0]
        out.append(Finding("channel_alert", {"code": str(a["code"]), "value": float(a["value"]),
                                             "threshold": float(a["threshold"]),
                                             "channel_type": None if pd.isna(a["channel_type"]) else str(a["channel_type"])}))
    if review is not None and len(review):
        out.append(Finding("review", {"partners": len(review), **{
            k: int(review[k].sum()) for k in ("declining", "low_satisfaction", "negative_contribution")}}))
    return out


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
    contacts: pd.DataFrame | None = None,
    channel_alerts: pd.DataFrame | None = None,
    review: pd.DataFrame | None = None,
) -> list[Finding]:
    """3–8 findings from the numbers, most important first.

    Uses the overall rows of the KPI table (sales change; the largest other move; the rebate audit's
    under- and overpayments), the action effects whose 95% interval excludes zero (with the naive figure
    beside), contact-cadence adherence (`contacts`: ``relations.contact_status`` rows), the first
    channel-dependence alert, concentration alerts, the next-quarter forecast with its backtest, the
    weakest target attainment and the partner review list.
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
    rebate = _rebate_fact(kpis[kpis["dimension"] == "overall"], q)
    if rebate is not None:
        out.append(rebate)
    contact = _contacts_fact(contacts) if contacts is not None else None
    if contact is not None:
        out.append(contact)
    channel = _channel_facts(channel_alerts, review)
    out.extend(f for f in channel if f.code == "channel_alert")
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
    if attainment_table is not None and len(attainment_table) and len(out) < MAX_FINDINGS:
        a = attainment_table.dropna(subset=["attainment"]).sort_values("attainment")
        if len(a):
            r = a.iloc[0]
            out.append(Finding("behind_target" if r["attainment"] < 1 else "targets_met", {
                "kpi": str(r["kpi"]), "region": str(r["region"]), "period": str(r["period"]),
                "attainment": float(r["attainment"])}))
    out.extend(f for f in channel if f.code == "review")
    return out[:MAX_FINDINGS]



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
    contacts: pd.DataFrame = field(default_factory=pd.DataFrame)  # relations.contact_status of active partners
    channel_mix: pd.DataFrame = field(default_factory=pd.DataFrame)  # relations.channel_mix, 8 quarters
    channel_alerts: pd.DataFrame = field(default_factory=pd.DataFrame)  # relations.channel_alerts of the quarter
    review: pd.DataFrame = field(default_factory=pd.DataFrame)  # relations.partner_review of the quarter
    platform_mix: pd.DataFrame = field(default_factory=pd.DataFrame)  # channel_mix by platform (empty: none recorded)
    platform_alerts: pd.DataFrame = field(default_factory=pd.DataFrame)  # its alerts (channel-type thresholds)

    def findings(self) -> list[Finding]:
        """3–8 findings (:func:`finding_facts`); ``workbench.present.retro.sentences`` words them."""
        return finding_facts(self.kpis, quarter=self.quarter, effects=self.effects,
                             concentration_table=self.concentration, forecast=self.forecast,
                             backtest=self.backtest, attainment_table=self.attainment, settings=self.settings,
                             roi=self.roi, contacts=self.contacts if "contacts" not in self.notes else None,
                             channel_alerts=self.channel_alerts, review=self.review)

    def __repr__(self) -> str:
        return (f"Retrospective(quarter={self.quarter}, region={self.region}, kpi_rows={len(self.kpis)}, "
                f"action_types={len(self.effects)}, alerts={len(self.alerts)})")


def _panel(con: Any, *, end: Any, months: int, scope: Scope) -> pd.DataFrame:
    """The partner-month panel of the scope: ``effects.panel_from_store`` for the company or a region; for a
    manager, ``features.partner_month_panel`` over that manager's partners (same months)."""
    if scope.kind != "manager":
        return panel_from_store(con, end=end, months=months, region=scope.region or "all")
    from workbench import features

    end_d = pd.Timestamp(end).date()
    start_d = (pd.Period(end_d, "M") - (months - 1)).start_time.date()
    return features.partner_month_panel(con, start=start_d, end=end_d, region=scope).to_pandas()


def _relations(con: Any, *, quarter: str, scope: Scope, as_of: Any, cfg: RetroSettings,
               notes: dict[str, Finding]) -> dict[str, pd.DataFrame]:
    """Contact cadence at `as_of`, channel-type mix (8 quarters), its alerts, the partner review list, and the
    mix by e-commerce platform with its alerts (empty when no partner records a platform) of the
    scope (``workbench.relations``); fills `notes` ('contacts', 'managers', 'channel_mix') where one shows less."""
    from workbench import relations

    mix_cfg = relations.load_channel_mix_config(dict(cfg.channel_mix or {}))
    status = relations.contacts_from_store(con, as_of=as_of, region=scope)
    if status.empty:
        notes["contacts"] = Finding("no_active_partners", {"as_of": str(as_of)})
    elif not _has_contacts(con):
        notes["contacts"] = Finding("no_contacts")
    elif not status["manager_id"].notna().any():
        notes["managers"] = Finding("no_managers")
    mix = relations.channel_mix_from_store(con, quarter=quarter, region=scope)
    kinds = con.table("partners").select("channel_type").distinct().to_pandas()["channel_type"].dropna()
    if len(kinds) < 2:  # the store records one channel type (or none): no mix, and no alert about it
        notes["channel_mix"] = Finding("one_channel_type", {"channel": str(kinds.iloc[0]) if len(kinds) else "–"})
    elif not mix.loc[mix["quarter"] == quarter, "net_sales"].sum() > 0:  # none, or returns only
        notes["channel_mix"] = Finding("no_sales")
    alerts = relations.channel_alerts(mix, quarter=quarter, config=mix_cfg)
    if "channel_mix" in notes:
        alerts = alerts.iloc[0:0]
    review = relations.partner_review_from_store(con, quarter=quarter, region=scope, config=mix_cfg)
    platform_mix = relations.channel_mix_from_store(con, quarter=quarter, region=scope, by="platform")
    platform_alerts = relations.channel_alerts(platform_mix, quarter=quarter, config=mix_cfg, by="platform")
    return {"contacts": status, "channel_mix": mix, "channel_alerts": alerts, "review": review,
            "platform_mix": platform_mix, "platform_alerts": platform_alerts}


def _has_contacts(con: Any) -> bool:
    """Whether the store records any visit or communication action (the whole store, not the scope)."""
    from workbench import relations

    if "actions" not in con.list_tables():
        return False
    a = con.table("actions")
    return int(a.filter(a.action_type.isin(list(relations.CONTACT_TYPES))).count().execute()) > 0


def build_retrospective(
    con: Any,
    *,
    quarter: str,
    region: str | Scope = "all",
    months: int = 36,
    targets: TargetsConfig | str | Path | None = None,
    settings: RetroSettings | str | Path | None = None,
    programs_dir: str | Path | None = None,
    as_of: Any = None,
) -> Retrospective:
    """Compute every part of the retrospective for `quarter` and `region` from the store.

    region: 'all', a region name, or a ``workbench.vocab.Scope`` (a manager's partners). Data are read
    scoped through the feature layer, up to the quarter's last day; the panel covers the `months`
    months ending there (actions, concentration, seasonality, forecast). Contact cadence is counted to
    `as_of` (default the quarter's last day); the rebate KPIs audit the ledger with the program files
    in `programs_dir` (default config/incentives/). A part the store cannot support degrades instead of
    raising: ``notes`` maps the section ('kpis', 'rebates', 'effects', 'concentration', 'forecast',
    'backtest', 'conflicts', 'contacts', 'managers', 'channel_mix') to a :class:`Finding` saying why it
    shows less (codes ``empty_tables``, ``rebate_programs_missing``, ``no_actions``,
    ``no_comparable_actions``, ``no_sales``, ``no_forecast``, ``no_conflicts``, ``no_backtest``,
    ``no_active_partners``, ``no_contacts``, ``no_managers``, ``one_channel_type``).
    """
    from workbench import features

    q = _period(quarter)
    scope = Scope.parse(region)
    cfg = settings if isinstance(settings, RetroSettings) else load_settings(settings)
    q_end = _quarter_bounds(q)[1]
    t = features.scoped_tables(con, scope, as_of=q_end)  # once: each scoped call runs a count query
    kpis = _kpi_table(con, t, q, region=region, by_tier=True, targets=targets, programs_dir=programs_dir)
    tcfg = _resolve_targets(targets)
    att = attainment(kpis, tcfg, quarter=str(q)) if tcfg is not None else pd.DataFrame(
        columns=["region", "period", "basis", "kpi", "target", "actual", "attainment"])
    if scope.kind == "region":
        att = att[att["region"] == scope.region].reset_index(drop=True)
    elif scope.kind == "manager":  # targets are set for the company and regions, not for one manager's book
        att = att.iloc[:0]
    notes: dict[str, Finding] = {}
    empty = kpis.attrs.get("empty_tables", [])
    if [x for x in empty if x != "actions"]:
        notes["kpis"] = Finding("empty_tables", {"tables": [x for x in empty if x != "actions"]})
    if kpis.attrs.get("rebate_programs_missing"):
        notes["rebates"] = Finding("rebate_programs_missing", {"programs": kpis.attrs["rebate_programs_missing"]})
    panel = _panel(con, end=q_end, months=months, scope=scope)
    acts = _actions_until(t, q_end)
    first_only = _before_second(panel, acts)  # a first action's own effect: months before any second one
    eff, es = first_action_effects(panel, acts, pre=cfg.event_pre_months, post=cfg.event_post_months)
    eff = eff.merge(naive_before_after(first_only, acts, months=cfg.naive_months), on="action_type", how="left")
    tier_eff, rep_eff, roi_rows = _economics(con, panel, acts, eff, q_end=q_end, region=scope.region or "all",
                                             cfg=cfg)
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
    rel = _relations(con, quarter=str(q), scope=scope, as_of=pd.Timestamp(as_of or q_end).date(), cfg=cfg,
                     notes=notes)
    return Retrospective(
        quarter=str(q), region=str(scope), kpis=kpis, attainment=att, effects=eff, event_study=es,
        concentration=conc, alerts=concentration_alerts(conc, settings=cfg), monthly_sales=sales, stl=stl,
        forecast=fc, backtest=bt, conflicts=conflict_summary(conflicts, quarter=str(q)),
        migration=tier_changes(con, quarter=str(q), region=scope), settings=cfg, notes=notes,
        tier_effects=tier_eff, repeat_effects=rep_eff, roi=roi_rows, **rel,
    )


