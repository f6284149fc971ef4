"""KPI table (QoQ, YoY, targets and attainment), sales concentration, conflicts and tier changes."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.retro._common import ACTION_TYPES, _period, _quarter_bounds, _region_arg
from workbench.retro.settings import (
    TARGET_KPIS,
    RetroSettings,
    TargetsConfig,
    _resolve_targets,
    _targets_frame,
    load_settings,
)
from workbench.vocab import Scope

__all__ = [
    "KPI_ORDER",
    "RATE_KPIS",
    "REBATE_KPIS",
    "SOURCE_KPIS",
    "attainment",
    "concentration_alerts",
    "concentration_by_period",
    "conflict_summary",
    "empty_source_tables",
    "kpi_table",
    "rebate_audit",
    "rebate_kpis",
    "tier_changes",
]


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
    q = _period(quarter)
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



KPI_ORDER: tuple[str, ...] = (
    "monthly_sales_cny", "core_monthly_sales_cny", "net_sales_cny",
    "active_partners", "new_partners", "churned_partners",
    "repeat_rate", "retention_rate", "satisfaction_mean",
    "incentive_cost_cny", "rebate_underpaid_cny", "rebate_unpaid_overdue_cny", "rebate_overpaid_cny",
    "rebate_misstated_cny", "rebate_pending_cny",
    "conflicts_opened", "conflicts_resolved", "trainings",
    "top1_share", "top5_share", "hhi",
    *(f"actions_{a}" for a in ACTION_TYPES),
)
# the rebate audit's KPIs (workbench.rebates): amounts in store currency, each apart, never netted
REBATE_KPIS: tuple[str, ...] = ("rebate_underpaid_cny", "rebate_unpaid_overdue_cny", "rebate_overpaid_cny",
                                "rebate_misstated_cny", "rebate_pending_cny")
# KPIs whose change is reported in points (difference), not in percent
RATE_KPIS = {"repeat_rate", "retention_rate", "satisfaction_mean", "top1_share", "top5_share", "hhi"}


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


def rebate_kpis(audit: pd.DataFrame, *, by: list[str]) -> pd.DataFrame:
    """Per group of `by` (e.g. quarter and region): the rebate audit's :data:`REBATE_KPIS` (store currency).

    audit: ``workbench.rebates.audit_store`` rows plus the `by` columns. Underpaid is every shortfall on
    rows already due (unpaid_overdue is its part on rows with nothing paid), overpaid every excess,
    misstated the gap between the ledger's and the recomputed due, pending what is not yet due — summed
    apart by ``rebates.totals``, never netted. Misstated is NaN when no row's program file was found.
    """
    from workbench import rebates

    if audit.empty:
        return pd.DataFrame(columns=[*by, *REBATE_KPIS])
    tot = rebates.totals(audit, by)
    out = tot.rename(columns={f"{k}_cny": f"rebate_{k}_cny" for k in
                              ("underpaid", "unpaid_overdue", "overpaid", "misstated", "pending")})[[*by, *REBATE_KPIS]]
    out[list(REBATE_KPIS)] = out[list(REBATE_KPIS)].astype("float64") + 0.0  # no "-0" from rounding
    if not audit["program_found"].astype(bool).any():
        out["rebate_misstated_cny"] = np.nan
    return out


def rebate_audit(con: Any, t: dict[str, Any], quarters: list[pd.Period], *,
                 programs_dir: str | Path | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The rebate audit of the ledger rows whose period ends in `quarters`, for the partners of the scoped
    tables `t`, with a `quarter` column (of period_end); and the ledger's programs without a program file.

    Empty (and no program listed) when the store has no ledger rows in the span. as_of is the store's
    snapshot (its last order), as in ``workbench rebates``.
    """
    from workbench import rebates
    from workbench.errors import NotEnoughData

    span = (_quarter_bounds(quarters[0])[0], _quarter_bounds(quarters[-1])[1])
    try:
        audit = rebates.audit_store(con, programs_dir=programs_dir, period_ends=span)
    except NotEnoughData:
        return pd.DataFrame(), []
    scoped = t["partners"].select("partner_id", "region").to_pandas().astype({"partner_id": str})
    audit = audit[audit["partner_id"].astype(str).isin(set(scoped["partner_id"]))].reset_index(drop=True)
    # the region each partner had in the scoped tables (as the other KPIs' region rows), not the audit's snapshot
    audit["region"] = audit["partner_id"].astype(str).map(scoped.set_index("partner_id")["region"])
    audit["quarter"] = pd.to_datetime(audit["period_end"]).dt.to_period("Q").astype(str)
    missing = sorted(set(audit.loc[~audit["program_found"].astype(bool), "program"].astype(str)))
    return audit, missing


def _tiers_at(con: Any, as_of: date, region: str | None) -> pd.DataFrame:
    from workbench import segment

    return segment.partner_tiers(con, as_of=as_of, region=_region_arg(region))


_ADDITIVE = (
    "net_sales_cny", "monthly_sales_cny", "active_partners", "repeat_partners", "prev_active_partners",
    "retained_partners", "partners_on_books", "new_partners", "exited_partners", "churn_population",
    "churned_partners", "survey_responses", "partners_with_sales", "rebate_due_cny", "rebate_paid_cny",
    "rebate_shortfall_cny", "conflicts_opened", "conflicts_resolved", "trainings", "trainings_passed", "actions",
    "core_monthly_sales_cny", "incentive_cost_cny", *(f"actions_{a}" for a in ACTION_TYPES), *REBATE_KPIS,
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
                   tier_quarters: list[pd.Period], audit: pd.DataFrame | None = None) -> pd.DataFrame:
    """All KPIs of `quarters`, overall, by region and (for `tier_quarters`) by tier, in long form.

    A handful of queries over the scoped tables `t`, each covering every quarter: the feature
    layer's ``quarters_kpis`` by region and by tier, the extra KPIs by region and by tier, and the
    network's concentration; tiers are each quarter's own at its last day. The overall row is
    assembled from the regions' numerators and denominators (concentration aside). `audit`
    (:func:`rebate_audit`) gives the rebate KPIs; the overall ones are its totals.
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
    audit = audit if audit is not None else pd.DataFrame()
    if len(audit):
        audit = audit.merge(tiers[["quarter", "partner_id", "tier"]].astype(str), on=["quarter", "partner_id"],
                            how="left").fillna({"tier": "unassigned"})
        audit["region"] = audit["region"].astype(str)
    reb = {key: rebate_kpis(audit, by=["quarter", key]).rename(columns={key: "group"})
           for key in ("region", "tier")}
    reb_all = rebate_kpis(audit.assign(group="all"), by=["quarter", "group"])

    def with_rebates(frame: pd.DataFrame, rk: pd.DataFrame, q: str) -> pd.DataFrame:
        """`frame` (one quarter's groups) with the rebate KPIs of `rk`; 0 where a group has no ledger row."""
        out = frame.drop(columns=[c for c in REBATE_KPIS if c in frame.columns]).merge(
            _of_quarter(rk, q), on="group", how="left")
        misstated_known = not len(audit) or audit["program_found"].astype(bool).any()
        fill = {k: 0.0 for k in REBATE_KPIS if k != "rebate_misstated_cny" or misstated_known}
        return out.fillna(fill)

    parts = []
    for q in map(str, quarters):
        br = _of_quarter(by_region, q)
        br["group"] = br["region"].astype(str)
        br = with_rebates(br.merge(_of_quarter(extra_region, q), on="group", how="left"), reb["region"], q)
        overall = with_rebates(_overall_from_regions(br, _of_quarter(conc, q)), reb_all, q)
        frames = {"overall": overall, "region": br}
        if by_tier is not None and q in tq:
            bt = _of_quarter(by_tier, q)
            bt["group"] = bt["tier"].astype(str)
            frames["tier"] = with_rebates(bt.merge(_of_quarter(extra_tier, q), on="group", how="left"),
                                          reb["tier"], q)
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
    programs_dir: str | Path | None = None,
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
    (or `targets`; none for a manager scope); a missing default file means no targets. The rebate KPIs
    (:data:`REBATE_KPIS`) come from the rebate audit (``workbench.rebates``, programs from `programs_dir`, default config/incentives/) of
    the ledger rows whose period ends in each quarter: under- and overpayments apart, never netted;
    ``attrs['rebate_programs_missing']`` lists the ledger's programs that have no file.
    """
    from workbench import features

    q = _period(quarter)
    return _kpi_table(con, features.scoped_tables(con, region, as_of=q.end_time.date()), q, region=region, by_tier=by_tier,
                      targets=targets, programs_dir=programs_dir)


def _kpi_table(con: Any, t: dict[str, Any], q: pd.Period, *, region: str, by_tier: bool,
               targets: TargetsConfig | str | Path | None, programs_dir: str | Path | None = None) -> pd.DataFrame:
    """:func:`kpi_table` over the already scoped tables `t` of `region` (a region name or a Scope)."""
    quarters = [q - i for i in range(7, -1, -1)]
    audit, missing = rebate_audit(con, t, quarters, programs_dir=programs_dir)
    # tier rows only for the shown quarters and the one before: QoQ for every shown quarter, YoY for
    # the chosen one (its year-earlier quarter is the one before the shown four)
    long = _quarters_long(con, t, quarters, region=region, tier_quarters=quarters[3:] if by_tier else [],
                          audit=audit)
    long["_qord"] = long["quarter"].map(lambda s: pd.Period(s, "Q").ordinal)
    key = ["dimension", "group", "kpi"]
    long = long.sort_values([*key, "_qord"], kind="mergesort")
    idx = long.set_index([*key, "_qord"])["value"]

    def shifted(lag: int) -> np.ndarray:
        prev_idx = pd.MultiIndex.from_arrays(
            [long["dimension"], long["group"], long["kpi"], long["_qord"] - lag])
        return idx.reindex(prev_idx).to_numpy()

    cur = long["value"].to_numpy()
    is_rate = long["kpi"].isin(RATE_KPIS).to_numpy()
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
    # targets are set for the company and regions: a manager's book (its overall rows) gets none
    cfg = _resolve_targets(targets) if Scope.parse(region).kind != "manager" else None
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
    empty = empty_source_tables(con)
    blank = out["kpi"].isin([k for tab in empty for k in SOURCE_KPIS[tab]])
    out.loc[blank, ["value", "qoq_change", "qoq_pct", "yoy_change", "yoy_pct", "target", "attainment"]] = np.nan
    out = out.reset_index(drop=True)
    out.attrs["region"] = str(Scope.parse(region))
    out.attrs["empty_tables"] = empty
    out.attrs["rebate_programs_missing"] = missing
    return out


# the KPIs each optional table feeds: shown as "–" (not 0) when the store holds none of its rows
SOURCE_KPIS: dict[str, tuple[str, ...]] = {
    "surveys": ("satisfaction_mean",),
    "trainings": ("trainings",),
    "conflicts": ("conflicts_opened", "conflicts_resolved"),
    "incentives": ("incentive_cost_cny", *REBATE_KPIS),
    "actions": tuple(f"actions_{a}" for a in ACTION_TYPES),
}


def empty_source_tables(con: Any) -> list[str]:
    """The optional tables of :data:`SOURCE_KPIS` that are absent from the store or hold no row (whole store,
    not the scope: a region without conflicts in a store that records them has 0, not "–")."""
    import ibis

    present = [name for name in SOURCE_KPIS if name in set(con.list_tables())]
    rows: dict[str, int] = {}
    if present:  # one query for every count: on Spark each query costs a job's overhead, whatever its size
        got = ibis.union(*(con.table(n).aggregate(rows=con.table(n).count()).mutate(table=ibis.literal(n))
                           for n in present), distinct=False).to_pandas()
        rows = {str(t): int(r) for t, r in zip(got["table"], got["rows"], strict=True)}
    return [name for name in SOURCE_KPIS if rows.get(name, 0) == 0]


# --------------------------------------------------------------------------------------------------
# concentration
# --------------------------------------------------------------------------------------------------

def concentration_by_period(panel: pd.DataFrame, *, freq: str = "Q", sales_col: str = "net_sales_cny",
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
    """Periods of :func:`concentration_by_period` with an alert: period, measure, value, threshold."""
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
# conflicts and tier migration
# --------------------------------------------------------------------------------------------------

def conflict_summary(conflicts: pd.DataFrame, *, quarter: str, lookback_quarters: int = 4) -> dict[str, pd.DataFrame]:
    """Conflicts of the quarter and the `lookback_quarters` up to it.

    conflicts: the conflicts table (reported_date, partner_id, counterparty_id, conflict_type,
    resolved_date). Returns {'by_type': quarter × conflict_type: opened, resolved_in_quarter,
    open_at_end, median_days_to_resolve; 'repeat_parties': partners (or partner pairs) in ≥ 2
    conflicts over the lookback: party, conflicts, types, last_reported}.
    """
    q = _period(quarter)
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


def tier_changes(con: Any, *, quarter: str, region: str | Scope | None = "all") -> dict[str, pd.DataFrame]:
    """Tier migration from the previous quarter's end to `quarter`'s end (``segment.migration_between``):
    {'migration' (tier_from, tier_to, partners, share), 'fell_out_of_core', 'ready_for_promotion'};
    a manager scope keeps that manager's partners only."""
    from workbench import features, segment

    q = _period(quarter)
    scope = Scope.parse(region)
    ids = None
    if scope.kind == "manager":
        ids = features.scoped_tables(con, scope, as_of=_quarter_bounds(q)[1])["partners"].select("partner_id").to_pandas()["partner_id"]
    return segment.migration_between(con, as_of_from=_quarter_bounds(q - 1)[1], as_of_to=_quarter_bounds(q)[1],
                                     region=_region_arg(region), partner_ids=ids)
