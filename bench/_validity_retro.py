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
- action ROI recovery: share of tier × type return-on-cost intervals covering the planted ROI; and, per
  action type over all partners (the page's "which action pays" row: one pooled effect, the planted
  ROI being the tier-specific planted increments summed over tiers ÷ the type's cost), interval
  coverage, bias (Σ(estimate − planted) ÷ Σ planted) and the median relative error where the type's
  planted effect is at least 0.06. The per-cell median relative error is reported without a target.
Run alone: `python bench/_validity_retro.py [--seeds 40]`.
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


def coverage_runs(seeds=COVERAGE_SEEDS) -> tuple[pd.DataFrame, str]:
    """One row per (seed, action type): estimate, wild and cluster intervals, pre-trend p, truth."""
    from workbench import retro

    rows = []
    mode = "default"
    for seed in seeds:
        net, mode = _generate(seed)
        panel = _panel(net.tables)
        wild, _ = retro.action_effects(panel, net.tables["actions"], inference="wild")
        t_ci, _ = retro.action_effects(panel, net.tables["actions"], inference="cluster")
        truth = net.truth["action_effects"].set_index("action_type")["effect_log"]
        e = wild.merge(t_ci[["action_type", "ci_low", "ci_high"]], on="action_type", suffixes=("", "_t"))
        rows.append(e.assign(truth=e["action_type"].map(truth), seed=seed))
    return pd.concat(rows, ignore_index=True), mode


def pooled_roi(p: pd.DataFrame, a: pd.DataFrame, tiers: pd.DataFrame, tier_truth: pd.DataFrame) -> pd.DataFrame:
    """ROI per action type over all partners (one pooled first-action effect) with its planted ROI:
    the planted tier effects' increments (same formula, same sales) summed over tiers ÷ the type's cost."""
    from workbench import synth
    from workbench.retro import action_effects
    from workbench.retro import roi as R
    from workbench.synth.actions import DEFAULT_COSTS

    eff, _ = action_effects(R._before_second(p, a), R.nth_actions(a, 1))
    est = R.action_roi(p, a, eff, default_costs=DEFAULT_COSTS)
    ids = tiers["partner_id"].astype(str)
    inc = []
    for tier, g in tier_truth.groupby("tier"):
        at = a[a["partner_id"].astype(str).isin(set(ids[tiers["tier"] == tier]))]
        te = g.assign(ci_low=g["effect_log"], ci_high=g["effect_log"])
        inc.append(R.action_roi(p, at, te, default_costs=DEFAULT_COSTS, tier=str(tier))[["action_type", "incremental_sales"]])
    true_inc = pd.concat(inc).groupby("action_type")["incremental_sales"].sum()
    return est.assign(roi_true=est["action_type"].map(true_inc) / est["cost_total"],
                      effect_true=est["action_type"].map(synth.ACTION_EFFECTS))


def world_runs(seeds=WORLD_SEEDS) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Tier effects, repeat effects, tier ROI and pooled ROI with their planted truths, over `seeds`."""
    from workbench.retro import roi as R
    from workbench.synth.actions import DEFAULT_COSTS, action_world

    tiers_out, rep_out, roi_out, pooled_out = [], [], [], []
    for seed in seeds:
        w = action_world(seed=seed, partners=PARTNERS, mode=MODE)
        p, a = _panel(w.tables), w.tables["actions"]
        bt = R.effects_by_tier(p, a, w.tiers).merge(w.tier_effects, on=["action_type", "tier"], suffixes=("", "_true"))
        tiers_out.append(bt.assign(seed=seed))
        rp = R.repeat_effects(p, a).merge(w.repeat_effects, on="action_type", suffixes=("", "_true"))
        rep_out.append(rp.assign(seed=seed))
        pooled_out.append(pooled_roi(p, a, w.tiers, w.tier_effects).assign(seed=seed))
        for tier, g in bt.groupby("tier"):
            ids = set(w.tiers.loc[w.tiers["tier"] == tier, "partner_id"])
            at = a[a["partner_id"].astype(str).isin(ids)]
            est = R.action_roi(p, at, g, default_costs=DEFAULT_COSTS, tier=tier)
            true_eff = g.assign(effect_log=g["effect_log_true"], ci_low=g["effect_log_true"], ci_high=g["effect_log_true"])
            tru = R.action_roi(p, at, true_eff, default_costs=DEFAULT_COSTS, tier=tier)
            m = est.merge(tru[["action_type", "roi"]], on="action_type", suffixes=("", "_true"))
            roi_out.append(m.assign(seed=seed, effect_true=m["action_type"].map(g.set_index("action_type")["effect_log_true"])))
    return (pd.concat(tiers_out, ignore_index=True), pd.concat(rep_out, ignore_index=True),
            pd.concat(roi_out, ignore_index=True), pd.concat(pooled_out, ignore_index=True))


def _covers(df: pd.DataFrame, lo: str, hi: str, truth: str) -> pd.Series:
    return (df[lo] <= df[truth]) & (df[truth] <= df[hi])


def checks(seeds=COVERAGE_SEEDS, world_seeds=WORLD_SEEDS) -> list[tuple[str, float, str, bool]]:
    """(name, value, target, passed) for every retrospective check."""
    out: list[tuple[str, float, str, bool]] = []
    r, mode = coverage_runs(seeds)
    n = len(r)
    cov = float(_covers(r, "ci_low", "ci_high", "truth").mean())
    out.append((f"action_effect_coverage_wild[{mode}]", round(cov, 4), f">= 0.93 of {n}", cov >= 0.93 and n >= 40))
    cov_t = float(_covers(r, "ci_low_t", "ci_high_t", "truth").mean())
    out.append((f"action_effect_coverage_cluster_t[{mode}]", round(cov_t, 4), "(baseline, reported)", True))
    size = float((r["pretrend_p"] < 0.05).mean())
    out.append((f"pretrend_test_size[{mode}]", round(size, 4), f"0.02-0.08 of {n}", 0.02 <= size <= 0.08))
    tiers, rep, roi, pooled = world_runs(world_seeds)
    tc = float(_covers(tiers, "ci_low", "ci_high", "effect_log_true").mean())
    out.append((f"tier_effect_coverage[{mode}]", round(tc, 4), f">= 0.90 of {len(tiers)}", tc >= 0.90))
    rc = float(_covers(rep, "ci_low", "ci_high", "effect_log_true").mean())
    out.append((f"repeat_effect_coverage[{mode}]", round(rc, 4), f">= 0.90 of {len(rep)}", rc >= 0.90))
    roc = float(_covers(roi, "roi_low", "roi_high", "roi_true").mean())
    out.append((f"action_roi_coverage[{mode}]", round(roc, 4), f">= 0.90 of {len(roi)}", roc >= 0.90))
    big = roi[roi["effect_true"] >= 0.06]
    err = float(np.median(np.abs(big["roi"] / big["roi_true"] - 1)))
    out.append((f"action_roi_median_rel_error_tier_cells[{mode}]", round(err, 4),
                f"(reported: {len(big)} tier x type cells, planted effect >= 0.06)", True))
    pc = float(_covers(pooled, "roi_low", "roi_high", "roi_true").mean())
    out.append((f"action_roi_pooled_coverage[{mode}]", round(pc, 4), f">= 0.90 of {len(pooled)}", pc >= 0.90))
    pb = pooled[pooled["effect_true"] >= 0.06]
    bias = float((pb["roi"] - pb["roi_true"]).sum() / pb["roi_true"].sum())
    out.append((f"action_roi_pooled_bias[{mode}]", round(bias, 4), f"(reported: sum(est - planted) / sum(planted) of {len(pb)})",
                True))
    perr = float(np.median(np.abs(pb["roi"] / pb["roi_true"] - 1)))
    out.append((f"action_roi_pooled_median_rel_error[{mode}]", round(perr, 4),
                f"<= 0.50 of {len(pb)} (type's planted effect >= 0.06)", perr <= 0.50))
    return out


if __name__ == "__main__":
    t = time.perf_counter()
    k = int(sys.argv[sys.argv.index("--seeds") + 1]) if "--seeds" in sys.argv else len(COVERAGE_SEEDS)
    rows = checks(seeds=range(k))
    for name, value, target, ok in rows:
        print(f"{name} {value} {target} {'PASS' if ok else 'FAIL'}")
    print(f"# {time.perf_counter() - t:.0f} s")
    sys.exit(0 if all(r[3] for r in rows) else 1)
