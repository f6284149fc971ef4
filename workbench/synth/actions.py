"""Planted truths for the action economics of the retrospective: effects that vary by tier, repeated
actions and action costs (kept apart from the network generator, like ``workbench.synth.incentives``).

:func:`action_world` starts from ``synth.generate`` (first actions with their planted type effects) and
changes it in three seeded steps, each a small function:

* :func:`plant_tier_effects` — the first action's effect on log sales becomes ``effect[type] × tier
  multiplier`` (core 1.5, growth 1.0, pilot 0.5 by default), tiers being size terciles of the partners;
  the orders after the action are scaled by the difference (net and list amounts).
* :func:`plant_repeat_actions` — a share of the treated partners gets a second action of the same type
  4–9 months later, whose own effect is ``repeat_factor × effect[type]`` (diminishing returns).
* :func:`plant_costs` — every action gets a ``cost`` = the type's default × a log-normal draw.

The truth tables say what an estimator should recover: ``tier_effects`` (action_type, tier,
effect_log), ``repeat_effects`` (action_type, effect_log) and ``tiers`` (partner_id, tier).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_COSTS",
    "TIER_MULTIPLIERS",
    "ActionWorld",
    "action_world",
    "monthly_panel",
    "plant_costs",
    "plant_repeat_actions",
    "plant_tier_effects",
    "size_tiers",
]

# planted mean cost of one action by type (CNY): the numbers config/retro.yaml ships as defaults
DEFAULT_COSTS: dict[str, float] = {
    "training": 30000.0, "incentive": 50000.0, "marketing_automation": 20000.0, "tiering": 5000.0,
    "communication": 10000.0, "visit": 8000.0, "other": 10000.0,
}
TIER_MULTIPLIERS: dict[str, float] = {"core": 1.5, "growth": 1.0, "pilot": 0.5}


@dataclass
class ActionWorld:
    """A synthetic network with planted action economics: canonical `tables` and the truth frames."""

    tables: dict[str, pd.DataFrame]
    tiers: pd.DataFrame  # partner_id, tier
    tier_effects: pd.DataFrame  # action_type, tier, effect_log
    repeat_effects: pd.DataFrame  # action_type, effect_log
    seed: int


def size_tiers(partners_truth: pd.DataFrame) -> pd.DataFrame:
    """Partners in size terciles: core (largest third), growth, pilot (smallest); partner_id, tier."""
    rank = partners_truth["size"].rank(method="first", pct=True)
    tier = np.where(rank > 2 / 3, "core", np.where(rank > 1 / 3, "growth", "pilot"))
    return pd.DataFrame({"partner_id": partners_truth["partner_id"].astype(str).to_numpy(), "tier": tier})


def _month(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.to_period("M")


def _scale_after(orders: pd.DataFrame, start: pd.DataFrame, log_factor: pd.Series) -> pd.DataFrame:
    """Orders of the partners in `start` (partner_id, month) from that month on scaled by exp(log_factor)."""
    o = orders.copy()
    when = pd.Series(start["month"].to_numpy(), index=start["partner_id"].to_numpy())
    f = pd.Series(log_factor.to_numpy(), index=start["partner_id"].to_numpy())
    pid = o["partner_id"].astype(str)
    after = _month(o["order_date"]) >= pid.map(when)
    mult = np.where(after.fillna(False).to_numpy(bool), np.exp(pid.map(f).fillna(0.0).to_numpy(float)), 1.0)
    for col in ("net_amount", "list_amount"):
        o[col] = (o[col].to_numpy(float) * mult).round(2)
    return o


def plant_tier_effects(tables: dict[str, pd.DataFrame], tiers: pd.DataFrame, effects: dict[str, float], *,
                       multipliers: dict[str, float] | None = None) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Make each first action's effect ``effects[type] × multipliers[tier]``; returns tables and the truth."""
    mult = multipliers or TIER_MULTIPLIERS
    a = tables["actions"].sort_values(["partner_id", "action_date"]).drop_duplicates("partner_id")
    a = a.merge(tiers, on="partner_id", how="left")
    base = a["action_type"].map(effects).astype(float)
    extra = base * (a["tier"].map(mult).astype(float) - 1.0)
    start = pd.DataFrame({"partner_id": a["partner_id"].astype(str), "month": _month(a["action_date"])})
    out = dict(tables)
    out["orders"] = _scale_after(tables["orders"], start, extra)
    truth = pd.DataFrame([(t, k, effects[t] * m) for t in effects for k, m in mult.items()],
                         columns=["action_type", "tier", "effect_log"])
    return out, truth


def plant_repeat_actions(tables: dict[str, pd.DataFrame], effects: dict[str, float], *, seed: int,
                         share: float = 0.4, repeat_factor: float = 0.5) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """A second action of the same type for `share` of the treated partners, 4–9 months after the first,
    with effect ``repeat_factor × effects[type]``; returns tables and the truth (action_type, effect_log)."""
    rng = np.random.default_rng([seed, 1602])
    first = tables["actions"].sort_values(["partner_id", "action_date"]).drop_duplicates("partner_id")
    end = pd.to_datetime(tables["orders"]["order_date"]).max().to_period("M")
    pick = first[rng.random(len(first)) < share].copy()
    gap = rng.integers(4, 10, size=len(pick))
    month = _month(pick["action_date"]) + gap
    pick = pick[(month <= end).to_numpy()]
    month = month[(month <= end).to_numpy()]
    day = rng.integers(1, 29, size=len(pick))
    second = pd.DataFrame({
        "action_id": [f"R{i:06d}" for i in range(1, len(pick) + 1)],
        "partner_id": pick["partner_id"].astype(str).to_numpy(),
        "action_date": pd.to_datetime([f"{m.year}-{m.month:02d}-{d:02d}" for m, d in zip(month, day, strict=True)]),
        "action_type": pick["action_type"].to_numpy(),
        "note": pick["note"].to_numpy() if "note" in pick else None,
    })
    extra = second["action_type"].map(effects).astype(float) * repeat_factor
    start = pd.DataFrame({"partner_id": second["partner_id"], "month": _month(second["action_date"])})
    out = dict(tables)
    out["orders"] = _scale_after(tables["orders"], start, extra)
    acts = pd.concat([tables["actions"], second.reindex(columns=tables["actions"].columns)], ignore_index=True)
    out["actions"] = acts.sort_values(["action_date", "partner_id"], kind="mergesort").reset_index(drop=True)
    truth = pd.DataFrame({"action_type": list(effects), "effect_log": [repeat_factor * v for v in effects.values()]})
    return out, truth


def plant_costs(actions: pd.DataFrame, *, seed: int, costs: dict[str, float] | None = None,
                spread: float = 0.25) -> pd.DataFrame:
    """The actions with a ``cost`` column: the type's default cost × exp(N(0, spread²)), rounded to 0.01."""
    rng = np.random.default_rng([seed, 1603])
    base = actions["action_type"].map(costs or DEFAULT_COSTS).astype(float).to_numpy()
    return actions.assign(cost=(base * np.exp(spread * rng.standard_normal(len(actions)))).round(2))


def action_world(*, seed: int = 0, partners: int = 800, months: int = 36, mode: str = "realistic") -> ActionWorld:
    """``synth.generate`` (in `mode`) with tier-varying first-action effects, repeated actions and costs."""
    from workbench import synth

    net = synth.generate(partners=partners, months=months, seed=seed, mode=mode)
    effects = dict(synth.ACTION_EFFECTS)
    tiers = size_tiers(net.truth["partners"])
    tables, tier_truth = plant_tier_effects(dict(net.tables), tiers, effects)
    tables, repeat_truth = plant_repeat_actions(tables, effects, seed=seed)
    tables["actions"] = plant_costs(tables["actions"], seed=seed)
    return ActionWorld(tables=tables, tiers=tiers, tier_effects=tier_truth, repeat_effects=repeat_truth, seed=seed)


def monthly_panel(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Partner-month net sales (CNY) from each partner's onboarding month (or the first order month of the
    data) to its exit month (or the last), zeros where it had no orders: the rows
    ``features.partner_month_panel`` gives for a store; partner_id, month (month start), net_sales_cny."""
    o = tables["orders"]
    month = pd.to_datetime(o["order_date"]).dt.to_period("M")
    sales = o.assign(month=month, net=o["net_amount"].astype(float)).groupby(
        [o["partner_id"].astype(str), month])["net"].sum()
    p = tables["partners"]
    lo, hi = month.min().ordinal, month.max().ordinal
    on = pd.to_datetime(p["onboard_date"]).dt.to_period("M").map(lambda x: x.ordinal, na_action="ignore")
    ex = pd.to_datetime(p["exit_date"]).dt.to_period("M").map(lambda x: x.ordinal, na_action="ignore")
    start = on.fillna(lo).clip(lower=lo).astype("int64").to_numpy()
    stop = ex.fillna(hi).clip(upper=hi).astype("int64").to_numpy()
    n = np.clip(stop - start + 1, 0, None)
    pid = np.repeat(p["partner_id"].astype(str).to_numpy(), n)
    ordinal = np.repeat(start, n) + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    months = pd.PeriodIndex.from_ordinals(ordinal, freq="M")
    net = sales.reindex(pd.MultiIndex.from_arrays([pid, months])).fillna(0.0).to_numpy()
    return pd.DataFrame({"partner_id": pid, "month": months.to_timestamp(), "net_sales_cny": net})
