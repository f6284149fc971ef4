"""Budget optimizer: volume-tier rates maximizing expected incremental margin within a budget."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench.errors import WorkbenchError
from workbench.incentives.payouts import _award_amounts, _eligible
from workbench.incentives.program import Program, with_rates
from workbench.incentives.simulate import SimulationBase, _prepare, _run


def _rates_str(rates: np.ndarray) -> str:
    return " / ".join(f"{r:g}%" for r in rates)


def optimize_budget(
    base: SimulationBase,
    program: Program,
    *,
    budget_cny: float,
    margin_pct: float | None = None,
    step_pct: float = 0.25,
    max_rate_pct: float = 15.0,
    draws: int = 200,
    start_rates_pct: Any = None,
    objective: Literal["incremental_margin", "net_margin"] = "incremental_margin",
) -> tuple[Program, pd.Series]:
    """Volume-tier rates (non-decreasing across tiers, on a `step_pct` grid) maximizing the expected
    incremental gross margin (objective 'incremental_margin') or incremental margin minus cost
    ('net_margin') with expected cost ≤ budget_cny.

    Coordinate ascent over the tiers from the best feasible of {all zero, the program's rates,
    start_rates_pct}, on the first `draws` draws. Returns the optimized program and its figures.
    """
    if program.volume_rebate is None:
        raise WorkbenchError(f"Program '{program.name}' has no volume rebate tiers to optimize.")
    sub = base.head(min(draws, base.draws))
    a = program.assumptions
    margin = a.margin_pct if margin_pct is None else margin_pct
    eligible = _eligible(program, sub.partners)
    awards = _award_amounts(program, sub.partners).sum(axis=1).to_numpy(dtype=float) if program.awards else None
    k = len(program.rates_pct)
    grid = np.round(np.arange(0.0, max_rate_pct + 1e-9, step_pct), 6)
    cache: dict[tuple[float, ...], tuple[float, float, float]] = {}

    def evaluate(rates: np.ndarray) -> tuple[float, float, float]:
        key = tuple(np.round(rates, 6))
        if key not in cache:
            p = with_rates(program, rates)
            prep = _prepare(sub, p, pull_window_pct=a.pull_window_pct, pull_share=a.pull_share,
                            eligible=eligible, awards=awards)
            sales_g, pay_g, _, _, lift_g, _ = _run(sub, prep, sub.cell_groups[:, :1])
            cost = float(pay_g.mean())
            incr = float(sales_g.mean() - sub.s0_groups[:, 0].mean() - lift_g.mean())  # net of pulled-forward
            gross = margin / 100.0 * incr
            cache[key] = (gross - cost if objective == "net_margin" else gross, cost, incr)
        return cache[key]

    starts = [np.zeros(k), program.rates_pct.copy()]
    if start_rates_pct is not None:
        starts.append(np.asarray(start_rates_pct, dtype=float))
    feasible = [s for s in starts if evaluate(s)[1] <= budget_cny + 1e-6]
    best = max(feasible, key=lambda s: evaluate(s)[0]) if feasible else np.zeros(k)
    def better(cand: np.ndarray) -> bool:
        if np.any(np.diff(cand) < -1e-9) or cand.min() < -1e-9 or cand.max() > max_rate_pct + 1e-9:
            return False
        obj, cost, _ = evaluate(cand)
        return cost <= budget_cny + 1e-6 and obj > evaluate(best)[0] + 1e-6

    for _ in range(8):
        improved = False
        for i in range(k):  # one tier at a time
            for r in grid:
                cand = best.copy()
                cand[i] = r
                if better(cand):
                    best, improved = cand, True
        for i in range(k):  # move money between two tiers: lower i, raise j as far as the budget allows
            for j in range(k):
                if i == j:
                    continue
                for steps_down in (1, 2, 4):
                    cand = best.copy()
                    cand[i] -= steps_down * step_pct
                    if cand[i] < -1e-9:
                        continue
                    chosen = None
                    for r in grid[grid > best[j] + 1e-9]:
                        trial = cand.copy()
                        trial[j] = r
                        if evaluate(trial)[1] > budget_cny + 1e-6:
                            break
                        chosen = trial
                    if chosen is not None and better(chosen):
                        best, improved = chosen, True
        if not improved:
            break
    _, cost, incr = evaluate(best)
    optimized = with_rates(program, best, name=f"{program.name} (optimized for budget {budget_cny:,.0f})")
    figures = pd.Series({
        "budget_cny": float(budget_cny), "expected_cost_cny": cost, "incremental_sales_cny": incr,
        "incremental_margin_cny": margin / 100.0 * incr, "net_margin_cny": margin / 100.0 * incr - cost,
        "rates": _rates_str(best), **{f"rate_tier_{i + 1}_pct": float(r) for i, r in enumerate(best)},
    })
    return optimized, figures


def budget_frontier(
    base: SimulationBase, program: Program, *, budgets_cny: Any, margin_pct: float | None = None, **kwargs: Any
) -> pd.DataFrame:
    """Budget → best expected incremental margin (or net margin, per `objective` in kwargs): one
    optimize_budget row per budget (increasing, each warm-started from the previous solution)."""
    rows = []
    start = None
    for budget in sorted(float(b) for b in budgets_cny):
        _, fig = optimize_budget(base, program, budget_cny=budget, margin_pct=margin_pct,
                                 start_rates_pct=start, **kwargs)
        start = fig[[c for c in fig.index if c.startswith("rate_tier_")]].to_numpy(dtype=float)
        rows.append(fig)
    return pd.DataFrame(rows).reset_index(drop=True)

