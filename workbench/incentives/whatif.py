"""From the store to a what-if: baseline sales, simulation base, per-partner outcomes (the CLI table)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import WorkbenchError
from workbench.incentives.data import (
    _history_window,
    _last_complete_quarter,
    _quarter_end,
    partner_attributes,
    partner_quarter_panel,
)
from workbench.incentives.payouts import _eligible
from workbench.incentives.program import Program, load_program
from workbench.incentives.response import RebateResponseModel
from workbench.incentives.simulate import SimulationBase, SimulationResult, prepare_simulation, simulate


def default_as_of(con: Any) -> pd.Timestamp:
    """Last day of the last complete quarter covered by the store's orders."""
    last = con.table("orders").order_date.max().to_pandas()
    if last is None or pd.isna(last):
        raise WorkbenchError("The store has no orders, so there is no sales history to simulate from.")
    return _quarter_end(_last_complete_quarter(pd.Timestamp(last)))


def new_product_lines(*programs: Program) -> dict[str, tuple[str, ...]]:
    """award name → product lines, for the new-product-sales awards of `programs`."""
    return {a.name: a.product_lines for p in programs for a in p.awards if a.metric == "new_product_sales_cny"}


def baseline_sales(panel: pd.DataFrame, *, beta: float, as_of: date, quarters: int = 4) -> pd.DataFrame:
    """Expected no-incentive net sales (CNY) of each partner in the quarter after as_of's last complete one.

    Mean of the last `quarters` complete quarters' net sales, each deflated by exp(−beta × its realised
    rate), times the network's seasonal factor (same quarter last year vs that mean, over partners with
    the full window). Rows: partners with net sales > 0 in the last complete quarter. Columns:
    partner_id, baseline_sales_cny, last_year_sales_cny, last_quarter_sales_cny, current_rate_pct.
    """
    q_a = _last_complete_quarter(as_of)
    target = q_a + 1
    hist = panel[(panel["quarter"] > q_a - quarters) & (panel["quarter"] <= q_a)].copy()
    hist["deflated"] = hist["net_sales_cny"].clip(lower=0) * np.exp(-beta * hist["rate_pct"].fillna(0.0))
    g = hist.groupby("partner_id")
    out = pd.DataFrame({"mean_deflated": g["deflated"].mean(), "n_quarters": g["quarter"].nunique()})
    last = hist[hist["quarter"] == q_a].set_index("partner_id")
    out["last_quarter_sales_cny"] = last["net_sales_cny"].reindex(out.index).fillna(0.0)
    out["current_rate_pct"] = last["rate_pct"].reindex(out.index).fillna(0.0)
    ly = panel[panel["quarter"] == target - 4].set_index("partner_id")
    out["last_year_sales_cny"] = ly["net_sales_cny"].reindex(out.index).fillna(0.0).clip(lower=0)
    ly_defl = (ly["net_sales_cny"].clip(lower=0) * np.exp(-beta * ly["rate_pct"].fillna(0.0))).reindex(out.index)
    full = (out["n_quarters"] == quarters) & ly_defl.notna()
    season = float(ly_defl[full].sum() / out.loc[full, "mean_deflated"].sum()) if full.any() else 1.0
    out["baseline_sales_cny"] = out["mean_deflated"] * (season if np.isfinite(season) and season > 0 else 1.0)
    out = out[(out["last_quarter_sales_cny"] > 0) & (out["baseline_sales_cny"] > 0)]
    cols = ["baseline_sales_cny", "last_year_sales_cny", "last_quarter_sales_cny", "current_rate_pct"]
    return out[cols].reset_index()


def simulation_base(
    con: Any,
    *,
    as_of: date | None = None,
    region: str | None = None,
    draws: int = 1000,
    seed: int = 0,
    baseline_quarters: int = 4,
    model: RebateResponseModel | None = None,
    programs: tuple[Program, ...] = (),
) -> SimulationBase:
    """Fit the response model on the store's history up to as_of and draw the simulation base for the
    next quarter (partners active in the last complete quarter; `programs` name the award metrics).

    With a region, the response is estimated on that region's partners; when the region has too little
    history for it, on the whole network (`base.model.scope_` says which).
    """
    as_of = default_as_of(con) if as_of is None else pd.Timestamp(as_of)
    start, end = _history_window(con, as_of=as_of)
    panel = partner_quarter_panel(con, start=start, end=end, region=region)
    if model is None:
        try:
            model = RebateResponseModel().fit(panel)
            model.scope_ = "all" if region in (None, "all") else region
        except WorkbenchError:
            if region in (None, "all"):
                raise
            # Too little history in one region: estimate the one coefficient on the whole network
            # (only the coefficient is used; no other region's partner appears anywhere).
            network = partner_quarter_panel(con, start=start, end=end, region=None)
            model = RebateResponseModel().fit(network)
            model.scope_ = "all"
    base = baseline_sales(panel, beta=model.beta_, as_of=as_of, quarters=baseline_quarters)
    attrs = partner_attributes(con, as_of=as_of, region=region, new_product_lines=new_product_lines(*programs))
    frame = attrs.merge(base, on="partner_id", how="inner")
    if frame.empty:
        raise WorkbenchError(f"No partner had sales in the quarter before {pd.Timestamp(as_of).date()}, so there is nothing to simulate.")
    target = _last_complete_quarter(as_of) + 1
    return prepare_simulation(frame, beta=model.beta_, beta_se=model.se_, sigma=model.sigma_, draws=draws,
                              seed=seed, period_end=_quarter_end(target), model=model)


def partner_outcomes(base: SimulationBase, result: SimulationResult, *, level: float = 0.90) -> pd.DataFrame:
    """Per partner: expected sales, incremental sales and payout with `level` intervals (needs a result
    simulated with keep_partner_draws=True)."""
    if result.partner_payout_cny is None or result.partner_sales_cny is None:
        raise WorkbenchError("Simulate with keep_partner_draws=True to get per-partner outcomes.")
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    pay, sales = result.partner_payout_cny, result.partner_sales_cny
    incr = sales - base.s0
    keep = [c for c in ("partner_id", "name", "region", "channel_type", "tier") if c in base.partners]
    out = base.partners[keep].copy()
    out["baseline_sales_cny"] = base.partners["baseline_sales_cny"].to_numpy()
    out["expected_sales_cny"] = sales.mean(axis=0, dtype=np.float64)
    out["incremental_sales_cny"] = incr.mean(axis=0, dtype=np.float64)
    out["incremental_sales_low_cny"], out["incremental_sales_high_cny"] = np.quantile(incr, [lo, hi], axis=0)
    out["expected_payout_cny"] = pay.mean(axis=0, dtype=np.float64)
    out["payout_low_cny"], out["payout_high_cny"] = np.quantile(pay, [lo, hi], axis=0)
    money = [c for c in out.columns if c.endswith("_cny")]
    out[money] = out[money].astype(float).round(2)
    return out.sort_values("partner_id", ignore_index=True)


def _money(x: float, lang: str = "en") -> str:
    if lang == "zh":
        for unit, div in (("亿", 1e8), ("万", 1e4)):
            if abs(x) >= div:
                return f"¥{x / div:,.2f}{unit}"
        return f"¥{x:,.0f}"
    for unit, div in (("bn", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"¥{x / div:,.2f}{unit}"
    return f"¥{x:,.0f}"


def summary_line(program: Program, result: SimulationResult, base: SimulationBase, *, lang: str = "en") -> str:
    """One sentence (en or zh): cost, incremental sales and margin with 90% intervals, ROI, P(ROI > 0)."""
    s = result.summary("all").iloc[0]
    m = base.model

    def money(x: float) -> str:
        return _money(x, lang)

    quarter = str(pd.Period(base.period_end, "Q")) if base.period_end is not None else ""
    if lang == "zh":
        beta = f"；销量响应 {m.beta_:.4f} ± {m.se_:.4f}（每个返利百分点的对数销售额变化）" if m is not None else ""
        return (
            f"{program.name}（{quarter}）：{len(base.partners):,} 家经销商，预期成本 {money(s.cost_cny)}"
            f"（90% 区间 {money(s.cost_low_cny)} 至 {money(s.cost_high_cny)}），增量销售额 "
            f"{money(s.incremental_sales_cny)}（90% 区间 {money(s.incremental_sales_low_cny)} 至 "
            f"{money(s.incremental_sales_high_cny)}），毛利率 {result.margin_pct:g}% 时增量毛利 "
            f"{money(s.incremental_margin_cny)}，投资回报率 {s.roi:+.0%}，回报为正的概率 {s.p_roi_positive:.0%}{beta}。"
        )
    beta = f"; response {m.beta_:.4f} ± {m.se_:.4f} ln-sales per pp" if m is not None else ""
    return (
        f"{program.name}{' in ' + quarter if quarter else ''}: {len(base.partners):,} partners, expected cost "
        f"{money(s.cost_cny)} (90% {money(s.cost_low_cny)} to {money(s.cost_high_cny)}), incremental sales "
        f"{money(s.incremental_sales_cny)} (90% {money(s.incremental_sales_low_cny)} to "
        f"{money(s.incremental_sales_high_cny)}), incremental gross margin {money(s.incremental_margin_cny)} "
        f"at {result.margin_pct:g}% margin, ROI {s.roi:+.0%} with P(ROI > 0) = {s.p_roi_positive:.0%}{beta}."
    )


def whatif_table(con: Any, program_path: str | Path, *, as_of: date | None = None) -> tuple[pd.DataFrame, str]:
    """Per-partner expected payout, incremental sales and 90% intervals of a program file, plus a
    summary line (the `workbench whatif` command). The program is validated before anything runs."""
    program = load_program(program_path)
    a = program.assumptions
    base = simulation_base(con, as_of=as_of, draws=a.draws, seed=a.seed, baseline_quarters=a.baseline_quarters,
                           programs=(program,))
    result = simulate(base, program, keep_partner_draws=True)
    table = partner_outcomes(base, result)
    eligible = _eligible(program, base.partners)
    table.insert(table.columns.get_loc("baseline_sales_cny"), "eligible",
                 pd.Series(eligible, index=base.partners["partner_id"]).reindex(table["partner_id"]).to_numpy())
    table["payment_date"] = (base.period_end + pd.Timedelta(days=program.payment_delay_days)).date()
    return table, summary_line(program, result, base)
