"""Validity checks of the incentive estimates against planted truths (imported by bench/validity.py).

`checks()` returns one (name, value, target, passed) per check:
- overall elasticity recovery: the network response on the synthetic network (workbench.synth),
- elasticity by tier and size class: partial-pooling estimates on a heterogeneous, targeted-rate world
  (workbench.synth.incentives.heterogeneous_panel), worst relative error and interval coverage over seeds,
- the naive pooled regression (no fixed effects) on the same world, which targeting biases (shown as the
  baseline a sceptical analyst would try first; it must miss),
- pull-forward recovery: estimated / planted pulled-forward sales (pull_forward_orders) over seeds.
Run alone: `python bench/_validity_incentives.py`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SEEDS = (0, 1, 2)


def _overall() -> tuple[float, bool, float]:
    import ibis

    from workbench import incentives as inc
    from workbench import synth

    net = synth.generate(partners=4000, months=36, seed=11)
    truth = float(net.params["beta_rebate"])
    con = ibis.duckdb.connect()
    for name, frame in net.tables.items():
        con.create_table(name, frame)
    model = inc.RebateResponseModel().fit(inc.partner_quarter_panel(con, start="2023-10-01", end="2026-09-30"))
    return abs(model.beta_ - truth) / truth, model.ci_[0] <= truth <= model.ci_[1], model.beta_


def _groups() -> tuple[float, int, int, float]:
    import statsmodels.api as sm

    from workbench.incentives.heterogeneity import GroupResponseModel
    from workbench.synth.incentives import heterogeneous_panel

    worst, covered, total, naive_err = 0.0, 0, 0, 0.0
    for seed in SEEDS:
        world = heterogeneous_panel(seed=seed)
        s = GroupResponseModel(by=("tier", "size_class")).fit(world.panel).summary_
        truth = np.array([world.group_truth(d)[g] for d, g in zip(s["dimension"], s["group"], strict=True)])
        worst = max(worst, float(np.max(np.abs(s["estimate"] - truth) / truth)))
        covered += int(((s["ci_low"] <= truth) & (truth <= s["ci_high"])).sum())
        total += len(s)
        d = world.panel
        naive = sm.OLS(np.log(d["net_sales_cny"]), sm.add_constant(d[["rate_pct"]])).fit().params["rate_pct"]
        naive_err = max(naive_err, abs(naive - world.network_beta) / world.network_beta)
    return worst, covered, total, naive_err


def _pull_forward() -> tuple[float, float]:
    from workbench.incentives.pull_forward import pull_forward
    from workbench.synth.incentives import pull_forward_orders

    ratios = []
    for seed in SEEDS:
        world = pull_forward_orders(seed=seed)
        est = pull_forward(world.orders, thresholds=[world.params["threshold"]])
        ratios.append(est.pulled_cny_ / world.pulled_total)
    return min(ratios), max(ratios)


def checks() -> list[tuple[str, float, str, bool]]:
    """(name, value, target, passed) for every incentive check."""
    out: list[tuple[str, float, str, bool]] = []
    rel, covers, beta = _overall()
    out.append(("elasticity_overall_rel_error", round(rel, 4), "<= 0.15", rel <= 0.15))
    out.append(("elasticity_overall_ci_covers", float(covers), "== 1", bool(covers)))
    worst, covered, total, naive = _groups()
    out.append(("elasticity_by_tier_size_max_rel_error", round(worst, 4), "<= 0.20", worst <= 0.20))
    out.append(("elasticity_by_tier_size_coverage", round(covered / total, 4), f">= 0.90 of {total}",
                covered / total >= 0.90))
    out.append(("elasticity_naive_pooled_rel_error", round(naive, 4), ">= 0.50 (baseline must miss)", naive >= 0.50))
    lo, hi = _pull_forward()
    out.append(("pull_forward_recovery_min_ratio", round(lo, 4), ">= 0.80", lo >= 0.80))
    out.append(("pull_forward_recovery_max_ratio", round(hi, 4), "<= 1.20", hi <= 1.20))
    return out


if __name__ == "__main__":
    t = time.perf_counter()
    rows = checks()
    for name, value, target, ok in rows:
        print(f"{name} {value} {target} {'PASS' if ok else 'FAIL'}")
    print(f"# {time.perf_counter() - t:.0f} s")
    sys.exit(0 if all(r[3] for r in rows) else 1)
