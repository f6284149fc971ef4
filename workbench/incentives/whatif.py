"""From the store to a what-if: baseline sales, simulation base, per-partner outcomes (the CLI table)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import NotEnoughData, WorkbenchError
from workbench.incentives.data import (
    _history_window,
    _last_complete_quarter,
    _quarter_end,
    _region_partner_ids,
    partner_attributes,
    partner_quarter_panel,
)
from workbench.incentives.payouts import _eligible
from workbench.incentives.program import Assumptions, Program, load_program
from workbench.incentives.response import AssumedResponse, RebateResponseModel
from workbench.incentives.simulate import SimulationBase, SimulationResult, prepare_simulation, simulate


def default_as_of(con: Any) -> pd.Timestamp:
    """Last day of the last complete quarter covered by the store's orders."""
    last = con.table("orders").order_date.max().to_pandas()
    if last is None or pd.isna(last):
        raise NotEnoughData("The store has no orders, so there is no sales history to simulate from.")
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
    denominator = float(out.loc[full, "mean_deflated"].sum()) if full.any() else 0.0
    season = float(ly_defl[full].sum()) / denominator if denominator > 0 else 1.0
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
    model: RebateResponseModel | AssumedResponse | None = None,
    programs: tuple[Program, ...] = (),
    prior: Assumptions | None = None,
    response_groups: Any = None,
) -> SimulationBase:
    """Fit the response model on the store's history up to as_of and draw the simulation base for the
    next quarter (partners active in the last complete quarter; `programs` name the award metrics).

    With a region, the response is estimated on that region's partners; when the region has too little
    history for it, on the whole network (`base.model.scope_` says which). When neither can estimate it
    (no incentive ledger, a rate that never varied, too little history) the response is the stated
    prior of `prior` (default: the first program's assumptions): ``base.model.source_ == 'assumed'``.
    Payouts stay exact either way. With `response_groups` (a fitted GroupResponseModel, e.g. from
    ``response_by_group``) each partner responds with the network draw plus its tier's and size
    class's pooled deviation (``beta_offset`` column); only with an estimated network response.
    """
    as_of = default_as_of(con) if as_of is None else pd.Timestamp(as_of)
    start, end = _history_window(con, as_of=as_of)
    panel = partner_quarter_panel(con, start=start, end=end, region=region)
    if model is None:
        stated = prior if prior is not None else (programs[0].assumptions if programs else Assumptions())
        model = response_model(con, panel, start=start, end=end, region=region, prior=stated)
    base = baseline_sales(panel, beta=model.beta_, as_of=as_of, quarters=baseline_quarters)
    attrs = partner_attributes(con, as_of=as_of, region=region, new_product_lines=new_product_lines(*programs))
    frame = attrs.merge(base, on="partner_id", how="inner")
    if frame.empty:
        raise NotEnoughData(f"No partner had sales in the quarter that ended by {pd.Timestamp(as_of).date()}, "
                            "so there is no next quarter to simulate.")
    if response_groups is not None and getattr(model, "source_", "estimated") == "estimated":
        frame["beta_offset"] = response_groups.partner_offsets(frame["partner_id"]).to_numpy()
    target = _last_complete_quarter(as_of) + 1
    return prepare_simulation(frame, beta=model.beta_, beta_se=model.se_, sigma=model.sigma_, draws=draws,
                              seed=seed, period_end=_quarter_end(target), model=model)


def ledger_rows(con: Any, *, region: str | None = None, end: date | None = None) -> int:
    """Rows of the incentive ledger (of `region`'s partners, periods ending by `end`); 0 without the table."""
    if "incentives" not in con.list_tables():
        return 0
    i = con.table("incentives")
    if end is not None:
        i = i.filter(i.period_end <= pd.Timestamp(end).date())
    if region not in (None, "all"):
        i = i.semi_join(_region_partner_ids(con, region, end), "partner_id")
    return int(i.count().to_pandas())


def response_model(
    con: Any, panel: pd.DataFrame, *, start: date, end: date, region: str | None, prior: Assumptions
) -> RebateResponseModel | AssumedResponse:
    """The fitted response on `region`'s panel, else on the whole network, else the stated prior.

    The result's ``scope_`` is where it was estimated ('all' or the region), ``source_`` is 'estimated'
    or 'assumed' and ``reason_`` says why a prior was used (no_ledger, no_variation, too_little_history).
    """
    reason = None
    for scope in (region, None) if region not in (None, "all") else (None,):
        rows = panel if scope == region else partner_quarter_panel(con, start=start, end=end, region=None)
        if ledger_rows(con, region=scope, end=end) == 0:
            reason = reason or "no_ledger"
            continue
        try:
            model = RebateResponseModel().fit(rows)
        except NotEnoughData as exc:
            reason = reason or getattr(exc, "reason", "too_little_history")
            continue
        model.scope_ = "all" if scope in (None, "all") else scope
        return model
    assumed = AssumedResponse(beta=prior.prior_response_per_pp, se=prior.prior_response_se,
                              sigma=prior.prior_sigma, reason=reason or "too_little_history").fit(panel)
    assumed.scope_ = "all" if region in (None, "all") else region
    return assumed


def partner_outcomes(base: SimulationBase, result: SimulationResult, *, level: float = 0.90) -> pd.DataFrame:
    """Per partner: expected sales, incremental sales and payout with `level` intervals (needs a result
    simulated with keep_partner_draws=True)."""
    if result.partner_payout_cny is None or result.partner_sales_cny is None:
        raise WorkbenchError("Simulate with keep_partner_draws=True to get per-partner outcomes.")
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    pay, sales = result.partner_payout_cny, result.partner_sales_cny
    incr = sales - base.s0 - (result.partner_pulled_cny if result.partner_pulled_cny is not None else 0.0)
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


def summary_figures(program: Program, result: SimulationResult, base: SimulationBase) -> dict[str, Any]:
    """The figures a what-if summary sentence states (language-neutral; money in the store's currency).

    program, quarter, partners, cost / incremental sales / incremental margin with 90% intervals,
    margin_pct, roi, p_roi_positive, pulled_forward_cny (sales pulled forward to reach a threshold,
    already netted out of incremental sales) and the response: beta, beta_se, response_source ('estimated' or
    'assumed'), response_reason (why assumed), response_scope.
    """
    s = result.summary("all").iloc[0]
    m = base.model
    out: dict[str, Any] = {
        "program": program.name,
        "quarter": str(pd.Period(base.period_end, "Q")) if base.period_end is not None else "",
        "partners": len(base.partners),
        "margin_pct": float(result.margin_pct),
        **{k: float(s[k]) for k in ("cost_cny", "cost_low_cny", "cost_high_cny", "incremental_sales_cny",
                                    "incremental_sales_low_cny", "incremental_sales_high_cny",
                                    "incremental_margin_cny", "roi", "p_roi_positive", "pulled_forward_cny")},
    }
    if m is not None:
        out.update(beta=float(m.beta_), beta_se=float(m.se_), response_source=getattr(m, "source_", "estimated"),
                   response_reason=getattr(m, "reason_", None), response_scope=getattr(m, "scope_", "all"))
    return out


def whatif_table(
    con: Any, program_path: str | Path, *, as_of: date | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-partner expected payout, incremental sales and 90% intervals of a program file, plus the
    summary figures (the `workbench whatif` command). The program is validated before anything runs."""
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
    return table, summary_figures(program, result, base)
