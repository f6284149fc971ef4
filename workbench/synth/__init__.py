"""Synthetic channel network with planted ground truth (churn hazard, rebate elasticity, action effects).

`generate()` builds every canonical table of the data contract (store.TABLES) plus truth tables that
later modules test their models against; `build_demo_store()` ingests the canonical tables through the
normal validated path and writes the truth into the store's `truth` schema; `write_dirty_exports()` writes
the same data the way real ERPs export it (gb18030, Chinese headers, an XLSX title row, planted defects)
together with the quarantine that ingesting it must produce.

Everything is vectorized with numpy (one `np.random.default_rng(seed)` threaded through every step):
the only Python loop runs over months (36 iterations of whole-network array operations).

Conventions of the planted truth
--------------------------------
* Months are calendar months; `month` columns hold the first day of the month.
* `alive[i, t]`: partner i is active in month t (onboarded on or before it and not churned); only
  alive months carry orders, surveys, trainings, coverage, conflicts and ledger rows.
* `hazard[i, t]`: probability that a partner alive in month t-1 has stopped ordering for good from
  month t on. It is defined (counterfactually) for every partner-month, from the drivers at t:
  logit h = a0 + b_sat*(70 - satisfaction)/10 + b_short*log1p(shortfall_cny/1000)
  + b_conf*open_conflicts + b_trend*(-(health[t] - health[t-3])).
* `churn_month`: the first month without orders (the partner is not alive from it on).
* Expected sales (CNY per month, gross of returns, which take ~1.3% off) = size * season * exp(health)
  * exp(beta_rebate * rate_pp) * exp(action effect if switched on) * alive.
* Rebate ledger: one row per partner and complete quarter in which the partner was alive;
  amount_due = round(rate_pp/100 * that quarter's net order sales, 2) (0 if net sales <= 0).

Layout of the package (every name below is importable from ``workbench.synth``):

* ``params`` — every planted number (hazard, rebate elasticity, action effects, seasons, names);
* ``world`` — the generator's shared arrays (``_World``) and its phases: partners, latent drivers,
  conflicts, orders, churn;
* ``tables`` — the canonical and truth tables built from a finished world;
* ``realistic`` — the realistic mode's parameters and phases;
* ``network`` — ``generate``, the churn oracle ``true_churn_probability`` and ``build_demo_store``;
* ``dirty`` — ``write_dirty_exports``;
* ``actions`` and ``incentives`` — further planted worlds built on ``generate`` (tier-varying action
  effects and costs; heterogeneous rebate response and pull-forward).
"""

from __future__ import annotations

from workbench.store import TABLE_ORDER
from workbench.synth.dirty import DIRTY_HEADERS, DirtyExports, write_dirty_exports
from workbench.synth.network import build_demo_store, generate, true_churn_probability
from workbench.synth.params import (
    ACTION_EFFECTS,
    BETA_REBATE,
    LUNAR_NEW_YEAR,
    PRODUCT_LINES,
    REGION_CITIES,
    REGIONS,
    SEGMENTS,
    SPRING_FESTIVAL_FACTOR,
    XSS_NAME,
)
from workbench.synth.realistic import MODES, REALISTIC, calibration_stats
from workbench.synth.world import SynthNetwork, season_multipliers

__all__ = [
    "SynthNetwork",
    "generate",
    "build_demo_store",
    "true_churn_probability",
    "season_multipliers",
    "LUNAR_NEW_YEAR",
    "SEGMENTS",
    "PRODUCT_LINES",
    "REGIONS",
    "REGION_CITIES",
    "ACTION_EFFECTS",
    "BETA_REBATE",
    "SPRING_FESTIVAL_FACTOR",
    "XSS_NAME",
    "TABLE_ORDER",
    "DirtyExports",
    "DIRTY_HEADERS",
    "write_dirty_exports",
    "MODES",
    "REALISTIC",
    "calibration_stats",
]
