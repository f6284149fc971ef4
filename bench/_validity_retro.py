"""Validity checks of the retrospective's action estimates against planted truths (imported by
bench/validity.py).

`checks()` returns one (name, value, target, passed) per check:
- action-effect coverage: share of the planted first-action effects (six types per seed, 40 seeds of
  ``workbench.synth``'s realistic world; the planted effect multiplies expected monthly sales by
  exp(effect), the quantity the PPML estimator measures) inside their 95% wild cluster (score)
  bootstrap interval; and the cluster-robust t interval on the same fits (the baseline). The panel is
  the store's: onboarding to recorded exit, zeros in months without orders;
- pre-trend test size: share of those fits whose pre-trend test rejects at 5% (no anticipation is
  planted, so every rejection is a false alarm);
- tier and repeated-action effect coverage on ``workbench.synth.actions.action_world`` (tier-varying
  effects, second actions, costs);
- action ROI recovery: share of tier × type return-on-cost intervals covering the planted ROI (each
  cell's median relative error is reported: a cell's few treated partners cannot pin it down); and per
  action type over all partners, page 05's figure (``roi.first_action_effects`` + ``roi.action_roi`` with
  the shipped config) on the 40 coverage worlds and the 5 action worlds, against the planted ROI computed
  from the worlds' planted effects (per tier where they vary), sales and costs without retro code:
  interval coverage (≥ 0.90), bias Σ(estimate − planted) ÷ Σ planted within two Monte Carlo standard
  errors, and the median relative error reported (why it has no target: docs/retro.md).
Run alone: `python bench/_validity_retro.py [--seeds 40] [--world-seeds 5]`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COVERAGE_SEEDS = range(40)
WORLD_SEEDS = range(5)
PARTNERS = 800
MODE = "realistic"  # the world the coverage target is set on (workbench.synth modes: easy, realistic)


def _panel(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The store's partner-month panel (onboarding to exit, zeros where no orders) from synthetic tables."""
    from workbench.synth.actions import monthly_panel

    return monthly_panel(tables)


def _generate(seed: int):
    from workbench import synth

    return synth.generate(partners=PARTNERS, months=36, seed=seed, mode=MODE), MODE


def coverage_runs(seeds=COVERAGE_SEEDS) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """One row per (seed, action type): estimate, wild and cluster intervals, pre-trend p, truth; and the
    page's return on cost per type (:func:`page_roi`) beside the planted one (:func:`planted_roi`)."""
    from workbench import retro
    from workbench.retro import load_settings
    from workbench.retro import roi as R

    rows, roi_rows = [], []
    mode = "default"
    for seed in seeds:
        net, mode = _generate(seed)
        panel, acts = _panel(net.tables), net.tables["actions"]
        wild, est_roi = page_roi(panel, acts)
        t_ci, _ = retro.action_effects(panel, acts, inference="cluster")
        truth = net.truth["action_effects"].set_index("action_type")["effect_log"]
        e = wild.merge(t_ci[["action_type", "ci_low", "ci_high"]], on="action_type", suffixes=("", "_t"))
        rows.append(e.assign(truth=e["action_type"].map(truth), seed=seed))
        first = _first(acts)
        planted = planted_roi(first, panel, first["action_type"].map(truth))
        # the page's ROI arithmetic fed the planted effect (no estimation error): must equal the planted ROI
        exact = R.action_roi(panel, acts, truth.rename("effect_log").reset_index().assign(
            ci_low=lambda d: d["effect_log"], ci_high=lambda d: d["effect_log"], se=0.0),
            default_costs=load_settings().action_costs, horizon=load_settings().roi_horizon_months)
        roi_rows.append(est_roi.merge(planted, on="action_type", how="left")
                        .merge(naive_roi(first, panel), on="action_type", how="left")
                        .merge(exact[["action_type", "roi"]].rename(columns={"roi": "roi_exact"}), on="action_type")
                        .assign(seed=seed, world="generate"))
    return pd.concat(rows, ignore_index=True), pd.concat(roi_rows, ignore_index=True), mode


def _first(actions: pd.DataFrame) -> pd.DataFrame:
    """Each partner's first action (by date, then type) with its planted cost."""
    a = actions.assign(partner_id=actions["partner_id"].astype(str), action_date=pd.to_datetime(actions["action_date"]))
    return a.sort_values(["partner_id", "action_date", "action_type"], kind="mergesort").drop_duplicates("partner_id")


def planted_roi(first: pd.DataFrame, panel: pd.DataFrame, effect: pd.Series) -> pd.DataFrame:
    """Planted return on cost of each type's first actions, from the world's truths alone (no retro code):
    Σ over the treated partners of their net sales (CNY) in the shipped horizon (12 months) from the action's
    month × (1 − e^−planted effect), ÷ Σ the planted costs of those actions (CNY).

    first: each partner's first action (:func:`_first`) with its planted ``cost`` (where the world plants
    none, the type's planted mean cost ``synth.actions.DEFAULT_COSTS``); effect: its planted log effect (same
    index). Columns: action_type, incremental_true, cost_true, roi_true, effect_true (the type's base effect)."""
    from workbench import synth
    from workbench.retro import load_settings
    from workbench.synth.actions import DEFAULT_COSTS

    horizon = load_settings().roi_horizon_months
    g = first["action_date"].dt.to_period("M").map(lambda x: x.ordinal)
    p = panel.assign(partner_id=panel["partner_id"].astype(str),
                     m=pd.to_datetime(panel["month"]).dt.to_period("M").map(lambda x: x.ordinal))
    j = p.merge(pd.DataFrame({"partner_id": first["partner_id"], "g": g}), on="partner_id")
    sales = j[(j["m"] >= j["g"]) & (j["m"] < j["g"] + horizon)].groupby("partner_id")["net_sales_cny"].sum()
    inc = first["partner_id"].map(sales).fillna(0.0) * -np.expm1(-effect.astype(float))
    cost = first["cost"].astype(float).fillna(first["action_type"].map(DEFAULT_COSTS)) if "cost" in first \
        else first["action_type"].map(DEFAULT_COSTS)  # generate() plants no cost: the planted mean cost
    out = first.assign(inc=inc, cost=cost).groupby("action_type").agg(incremental_true=("inc", "sum"), cost_true=("cost", "sum"))
    out = out.reset_index()
    return out.assign(roi_true=out["incremental_true"] / out["cost_true"],
                      effect_true=out["action_type"].map(synth.ACTION_EFFECTS))


def page_roi(panel: pd.DataFrame, actions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Page 05's first-action effects and its return on cost per action type over all partners
    (``findings.build_retrospective`` / ``_economics``: the same calls with the shipped ``config/retro.yaml``)."""
    from workbench.retro import load_settings
    from workbench.retro import roi as R

    cfg = load_settings()
    eff, _ = R.first_action_effects(panel, actions, pre=cfg.event_pre_months, post=cfg.event_post_months)
    return eff, R.action_roi(panel, actions, eff, default_costs=cfg.action_costs, horizon=cfg.roi_horizon_months)


def _partner_effects(w, first: pd.DataFrame) -> pd.Series:
    """Each first action's planted effect in an ``action_world``: its type's effect in the partner's tier."""
    tier = first["partner_id"].map(w.tiers.assign(partner_id=w.tiers["partner_id"].astype(str))
                                   .set_index("partner_id")["tier"])
    return pd.Series(list(zip(first["action_type"], tier, strict=True)), index=first.index).map(
        w.tier_effects.set_index(["action_type", "tier"])["effect_log"])


def pooled_roi(w, panel: pd.DataFrame, page: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> pd.DataFrame:
    """:func:`page_roi` (or `page`, its result) on an ``action_world`` beside :func:`planted_roi` and the
    sceptic's :func:`naive_roi` (each partner's planted effect is its tier's: ``w.tier_effects``)."""
    first = _first(w.tables["actions"])
    est = (page or page_roi(panel, w.tables["actions"]))[1]
    return (est.merge(planted_roi(first, panel, _partner_effects(w, first)), on="action_type", how="left")
            .merge(naive_roi(first, panel), on="action_type", how="left").assign(world="action_world"))


def naive_roi(first: pd.DataFrame, panel: pd.DataFrame, horizon: int = 12) -> pd.DataFrame:
    """The sceptic's return on cost per type, from the worlds' tables alone (no retro code), ÷ the planted
    costs as :func:`planted_roi`: ``roi_before_after`` = Σ over treated partners of (sales in the `horizon`
    months from the action's month − sales in the `horizon` months before) and ``roi_treated_vs_untreated``
    = Σ (a treated partner's sales in those months − the never-treated partners' mean sales in the same
    calendar months)."""
    from workbench.synth.actions import DEFAULT_COSTS

    p = panel.assign(partner_id=panel["partner_id"].astype(str),
                     m=pd.to_datetime(panel["month"]).dt.to_period("M").map(lambda x: x.ordinal))
    f = first.assign(g=first["action_date"].dt.to_period("M").map(lambda x: x.ordinal))
    j = p.merge(f[["partner_id", "g"]], on="partner_id")
    after = j[(j["m"] >= j["g"]) & (j["m"] < j["g"] + horizon)].groupby("partner_id")["net_sales_cny"].sum()
    before = j[(j["m"] < j["g"]) & (j["m"] >= j["g"] - horizon)].groupby("partner_id")["net_sales_cny"].sum()
    never = p[~p["partner_id"].isin(set(f["partner_id"]))]
    lo, hi = int(p["m"].min()), int(p["m"].max())
    mean = never.groupby("m")["net_sales_cny"].sum().reindex(range(lo, hi + 1), fill_value=0.0) / max(
        never["partner_id"].nunique(), 1)
    cum = np.concatenate([[0.0], mean.cumsum().to_numpy()])
    g = f["g"].to_numpy(int) - lo
    ctrl = cum[np.minimum(g + horizon, hi - lo + 1)] - cum[g]
    cost = f["cost"].astype(float).fillna(f["action_type"].map(DEFAULT_COSTS)) if "cost" in f \
        else f["action_type"].map(DEFAULT_COSTS)
    sales = f["partner_id"].map(after).fillna(0.0)
    d = f.assign(ba=sales - f["partner_id"].map(before).fillna(0.0), tu=sales - ctrl, cost=cost)
    out = d.groupby("action_type")[["ba", "tu", "cost"]].sum()
    return pd.DataFrame({"action_type": out.index, "roi_before_after": (out["ba"] / out["cost"]).to_numpy(),
                         "roi_treated_vs_untreated": (out["tu"] / out["cost"]).to_numpy()})


def world_runs(seeds=WORLD_SEEDS) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Tier effects, repeat effects, tier ROI and pooled ROI with their planted truths, over `seeds`."""
    from workbench.retro import roi as R
    from workbench.synth.actions import DEFAULT_COSTS, action_world

    tiers_out, rep_out, roi_out, pooled_out = [], [], [], []
    for seed in seeds:
        w = action_world(seed=seed, partners=PARTNERS, mode=MODE)
        p, a = _panel(w.tables), w.tables["actions"]
        page = page_roi(p, a)
        raw = R.effects_by_tier(p, a, w.tiers)
        bt = R.pool_tier_effects(raw, page[0])  # as build_retrospective: pulled toward the type's effect
        bt = bt.merge(w.tier_effects, on=["action_type", "tier"], suffixes=("", "_true"))
        tiers_out.append(bt.assign(seed=seed))
        rp = R.repeat_effects(p, a).merge(w.repeat_effects, on="action_type", suffixes=("", "_true"))
        rep_out.append(rp.assign(seed=seed))
        pooled_out.append(pooled_roi(w, p, page).assign(seed=seed))
        first = _first(a)
        for tier, g in bt.groupby("tier"):
            ids = set(w.tiers.loc[w.tiers["tier"] == tier, "partner_id"])
            at = a[a["partner_id"].astype(str).isin(ids)]
            est = R.action_roi(p, at, g, default_costs=DEFAULT_COSTS, tier=tier)
            est_raw = R.action_roi(p, at, g.assign(effect_log=g["effect_log_raw"], ci_low=g["ci_low_raw"],
                                                   ci_high=g["ci_high_raw"]), default_costs=DEFAULT_COSTS, tier=tier)
            true_eff = g.assign(effect_log=g["effect_log_true"], ci_low=g["effect_log_true"], ci_high=g["effect_log_true"],
                                se=0.0)  # the planted effect is known: no estimation-error correction
            tru = R.action_roi(p, at, true_eff, default_costs=DEFAULT_COSTS, tier=tier)
            ft = first[first["partner_id"].isin(ids)]
            planted = planted_roi(ft, p, _partner_effects(w, ft))  # the same cells without retro code
            m = (est.merge(tru[["action_type", "roi"]], on="action_type", suffixes=("", "_true"))
                 .merge(est_raw[["action_type", "roi", "roi_low", "roi_high"]].add_suffix("_raw")
                        .rename(columns={"action_type_raw": "action_type"}), on="action_type")
                 .merge(planted[["action_type", "roi_true"]].rename(columns={"roi_true": "roi_planted"}),
                        on="action_type", how="left"))
            roi_out.append(m.assign(seed=seed, effect_true=m["action_type"].map(g.set_index("action_type")["effect_log_true"])))
    return (pd.concat(tiers_out, ignore_index=True), pd.concat(rep_out, ignore_index=True),
            pd.concat(roi_out, ignore_index=True), pd.concat(pooled_out, ignore_index=True))


def _covers(df: pd.DataFrame, lo: str, hi: str, truth: str) -> pd.Series:
    return (df[lo] <= df[truth]) & (df[truth] <= df[hi])


def _span(df: pd.DataFrame) -> str:
    """Fewest-most treated partners over the rows of `df` (e.g. '6-23')."""
    return f"{int(df['n_treated'].min())}-{int(df['n_treated'].max())}"


def _rel_bias(rows: pd.DataFrame, col: str) -> tuple[float, float]:
    """Σ(rows[col] − roi_true) / Σ roi_true and its Monte Carlo standard error with each world (seed) as one
    cluster (a world's types share their controls): the ratio estimator's s.e. from per-seed sums."""
    key = rows["world"].astype(str) + ":" + rows["seed"].astype(str)
    d = (rows[col] - rows["roi_true"]).groupby(key).sum()
    t = rows["roi_true"].groupby(key).sum()
    ratio = float(d.sum() / t.sum())
    n = len(d)
    return ratio, float(np.sqrt(n / max(n - 1, 1) * ((d - ratio * t) ** 2).sum()) / t.sum())


def _rel_error_floor(rows: pd.DataFrame) -> float:
    """Median relative ROI error an unbiased, normally distributed effect estimate would give with the spread
    the estimates show over the seeds: median over rows of 0.6745 × sd / b, b being the row's planted added
    share in log points (−log(1 − incremental / sales)) and sd the spread of (estimate − b) within its world
    and action type (the ROI's relative error is the added share's: same sales and costs on both sides)."""
    b = -np.log1p(-rows["incremental_true"] / rows["sales_after"])
    sd = (rows["effect_log"] - b).groupby([rows["world"], rows["action_type"]]).transform("std")
    return float(np.median(0.6745 * sd / b))


def checks(seeds=COVERAGE_SEEDS, world_seeds=WORLD_SEEDS) -> list[tuple[str, float, str, bool]]:
    """(name, value, target, passed) for every retrospective check."""
    out: list[tuple[str, float, str, bool]] = []
    r, gen_roi, mode = coverage_runs(seeds)
    n = len(r)
    cov = float(_covers(r, "ci_low", "ci_high", "truth").mean())
    out.append((f"action_effect_coverage_wild[{mode}]", round(cov, 4), f">= 0.93 of {n}", cov >= 0.93 and n >= 40))
    cov_t = float(_covers(r, "ci_low_t", "ci_high_t", "truth").mean())
    out.append((f"action_effect_coverage_cluster_t[{mode}]", round(cov_t, 4), "(baseline, reported)", True))
    size = float((r["pretrend_p"] < 0.05).mean())
    out.append((f"pretrend_test_size[{mode}]", round(size, 4), f"0.02-0.08 of {n}", 0.02 <= size <= 0.08))
    tiers, rep, roi, world_roi = world_runs(world_seeds)
    pooled = pd.concat([gen_roi, world_roi], ignore_index=True)
    tc = float(_covers(tiers, "ci_low", "ci_high", "effect_log_true").mean())
    out.append((f"tier_effect_coverage[{mode}]", round(tc, 4), f">= 0.90 of {len(tiers)}", tc >= 0.90))
    rc = float(_covers(rep, "ci_low", "ci_high", "effect_log_true").mean())
    out.append((f"repeat_effect_coverage[{mode}]", round(rc, 4), f">= 0.90 of {len(rep)}", rc >= 0.90))
    roc = float(_covers(roi, "roi_low", "roi_high", "roi_true").mean())
    out.append((f"action_roi_coverage[{mode}]", round(roc, 4), f">= 0.90 of {len(roi)} (tier x type cells, pooled)",
                roc >= 0.90))
    acc = pd.concat([pooled["roi_exact"].dropna() / pooled.loc[pooled["roi_exact"].notna(), "roi_true"],
                     roi["roi_true"] / roi["roi_planted"]]) - 1
    out.append((f"action_roi_accounting[{mode}]", float(f"{acc.abs().max():.2g}"),
                f"max |page ROI of the planted effect / planted ROI - 1| <= 1e-6 of {len(acc)} rows "
                "(same horizon, partners, costs)", bool(acc.abs().max() <= 1e-6)))
    big = roi[roi["effect_true"] >= 0.06]
    err = float(np.median(np.abs(big["roi"] / big["roi_true"] - 1)))
    err_raw = float(np.median(np.abs(big["roi_raw"] / big["roi_true"] - 1)))
    out.append((f"action_roi_median_rel_error_tier_cells[{mode}]", round(err, 4),
                f"< {err_raw:.4f} unpooled ({len(big)} tier x type cells of {_span(big)} treated partners, "
                "planted effect >= 0.06)", err < err_raw))
    pc = float(_covers(pooled, "roi_low", "roi_high", "roi_true").mean())
    out.append((f"action_roi_pooled_coverage[{mode}]", round(pc, 4), f">= 0.90 of {len(pooled)}", pc >= 0.90))
    pb = pooled[pooled["effect_true"] >= 0.06]
    bias, mcse = _rel_bias(pb, "roi")
    out.append((f"action_roi_pooled_bias[{mode}]", round(bias, 4),
                f"|sum(est - planted) / sum(planted)| <= 2 x MC s.e. {mcse:.4f} (by seed) of {len(pb)}",
                abs(bias) <= 2 * mcse))
    for col in ("roi_before_after", "roi_treated_vs_untreated"):
        nb, nse = _rel_bias(pb, col)
        out.append((f"action_roi_naive_bias[{col[4:]}]", round(nb, 4),
                    f"> 2 x MC s.e. {nse:.4f} (baseline: the bias check must catch it)", abs(nb) > 2 * nse))
    perr = float(np.median(np.abs(pb["roi"] / pb["roi_true"] - 1)))
    floor = _rel_error_floor(pb)
    out.append((f"action_roi_pooled_median_rel_error[{mode}]", round(perr, 4),
                f"<= 1.25 x {floor:.4f} (the floor an unbiased effect with this spread over seeds gives; {len(pb)} "
                f"type rows of {_span(pb)} treated partners)", perr <= 1.25 * floor))
    abs_err = float(np.median(np.abs(pb["roi"] - pb["roi_true"])))
    out.append((f"action_roi_pooled_median_abs_error[{mode}]", round(abs_err, 4),
                f"(reported: ROI units; planted ROI {pb['roi_true'].min():.3f}-{pb['roi_true'].max():.3f}, "
                f"break-even 1)", True))
    return out


if __name__ == "__main__":
    t = time.perf_counter()
    k = int(sys.argv[sys.argv.index("--seeds") + 1]) if "--seeds" in sys.argv else len(COVERAGE_SEEDS)
    kw = int(sys.argv[sys.argv.index("--world-seeds") + 1]) if "--world-seeds" in sys.argv else len(WORLD_SEEDS)
    rows = checks(seeds=range(k), world_seeds=range(kw))
    for name, value, target, ok in rows:
        print(f"{name} {value} {target} {'PASS' if ok else 'FAIL'}")
    print(f"# {time.perf_counter() - t:.0f} s")
    sys.exit(0 if all(r[3] for r in rows) else 1)
