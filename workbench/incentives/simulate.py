"""Monte Carlo: (draws × partners) float32 arrays; one scenario = a handful of vectorized passes."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import WorkbenchError
from workbench.incentives.payouts import (
    _award_amounts,
    _eligible,
    growth_bar,
    growth_bonus_cny,
    volume_rebate_cny,
)
from workbench.incentives.program import Program
from workbench.incentives.response import RebateResponseModel

_F = np.float32


@dataclass(frozen=True, eq=False)
class SimulationBase:
    """Everything a scenario needs, drawn once: partner rows and no-program sales draws.

    partners: one row per partner with partner_id, baseline_sales_cny (expected quarter net sales
    without any incentive), last_year_sales_cny, tier, region, channel_type and award metrics.
    s0: (draws, partners) float32 no-program quarter sales draws (CNY); beta: (draws,) response
    draws (d ln sales / d pp). Partners are sorted by (tier, region) cell so that group sums
    ('all', each tier, each region) are a reduceat over cells followed by a tiny matrix product.
    """

    partners: pd.DataFrame
    s0: np.ndarray
    beta: np.ndarray
    group_labels: tuple[tuple[str, str], ...]
    cell_starts: np.ndarray  # partners are sorted by (tier, region) cell; first column of each cell
    cell_groups: np.ndarray  # (cells, groups) 0/1: which groups each cell belongs to
    s0_groups: np.ndarray
    period_end: pd.Timestamp | None = None
    model: RebateResponseModel | None = None
    beta_offset: np.ndarray | None = None  # (partners,) float32: partner's response minus the network's

    @property
    def draws(self) -> int:
        """Number of Monte Carlo draws."""
        return int(self.s0.shape[0])

    def head(self, draws: int) -> SimulationBase:
        """The same base restricted to its first `draws` draws (views, no copy)."""
        return dataclasses.replace(self, s0=self.s0[:draws], beta=self.beta[:draws], s0_groups=self.s0_groups[:draws])


def _cells(partners: pd.DataFrame) -> tuple[pd.DataFrame, tuple[tuple[str, str], ...], np.ndarray, np.ndarray]:
    """Sort partners by (tier, region); cell starts and the cell → group membership matrix."""
    frame = partners.copy()
    for dim in ("tier", "region"):
        frame[dim] = frame[dim].astype(str) if dim in frame else "all"
    frame = frame.sort_values(["tier", "region", "partner_id"], kind="stable", ignore_index=True)
    key = (frame["tier"] + "\x00" + frame["region"]).to_numpy()
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, dtype=int)
    cell_tier = frame["tier"].to_numpy()[starts]
    cell_region = frame["region"].to_numpy()[starts]
    labels: list[tuple[str, str]] = [("all", "all")]
    cols = [np.ones(len(starts))]
    for dim, values in (("tier", cell_tier), ("region", cell_region)):
        if dim in partners:
            for v in sorted(set(values)):
                labels.append((dim, v))
                cols.append((values == v).astype(float))
    return frame, tuple(labels), starts, np.column_stack(cols)


def prepare_simulation(
    partners: pd.DataFrame,
    *,
    beta: float,
    beta_se: float,
    sigma: float,
    draws: int = 1000,
    seed: int = 0,
    period_end: date | None = None,
    model: RebateResponseModel | None = None,
) -> SimulationBase:
    """Draw beta ~ N(beta, beta_se²) and no-program sales = baseline × lognormal(σ) (mean-preserving).

    partners: one row per partner with baseline_sales_cny (and the columns programs refer to); an
    optional beta_offset column (d ln sales per pp) gives a partner's response relative to the network's
    (the response by tier and size class): each draw then uses beta + beta_offset for that partner.
    """
    rng = np.random.default_rng(seed)
    frame, labels, starts, cell_groups = _cells(partners)
    if "last_year_sales_cny" not in frame:
        frame["last_year_sales_cny"] = 0.0
    b = frame["baseline_sales_cny"].to_numpy(dtype=float)
    beta_d = rng.normal(beta, beta_se, size=draws).astype(_F)
    z = rng.standard_normal((draws, len(frame)), dtype=_F)
    z *= _F(sigma)
    z += _F(-0.5 * sigma**2)
    np.exp(z, out=z)
    z *= b.astype(_F)[None, :]
    s0_groups = _group_sums(z, starts, cell_groups)
    offset = (frame["beta_offset"].fillna(0.0).to_numpy(dtype=_F)
              if "beta_offset" in frame and frame["beta_offset"].fillna(0.0).abs().gt(0).any() else None)
    return SimulationBase(frame, z, beta_d, labels, starts, cell_groups, s0_groups,
                          None if period_end is None else pd.Timestamp(period_end), model, offset)


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Per-draw totals of one scenario: cost and incremental sales by group ('all', tiers, regions).

    cost_cny, incremental_sales_cny: (draws, groups), incremental vs no incentive at all; cost is
    the whole payout (discounted for the payment delay when a cost of capital is set).
    """

    program: str
    margin_pct: float
    group_labels: tuple[tuple[str, str], ...]
    cost_cny: np.ndarray
    incremental_sales_cny: np.ndarray
    partner_payout_cny: np.ndarray | None = None
    partner_sales_cny: np.ndarray | None = None
    pulled_forward_cny: np.ndarray | None = None  # (draws, groups): threshold lift, netted out of incremental
    partner_pulled_cny: np.ndarray | None = None  # (draws, partners), with keep_partner_draws

    @property
    def incremental_margin_cny(self) -> np.ndarray:
        """Gross margin on incremental sales (before incentive cost), per draw and group."""
        return self.incremental_sales_cny * (self.margin_pct / 100.0)

    @property
    def net_margin_cny(self) -> np.ndarray:
        """Incremental gross margin minus the incentive cost."""
        return self.incremental_margin_cny - self.cost_cny

    @property
    def roi(self) -> np.ndarray:
        """(incremental margin − cost) / cost per draw and group; NaN where nothing is paid."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.cost_cny > 0, self.net_margin_cny / self.cost_cny, np.nan)

    def _idx(self, by: str) -> list[int]:
        return [i for i, (dim, _) in enumerate(self.group_labels) if dim == by]

    def summary(self, by: str = "all", *, level: float = 0.90) -> pd.DataFrame:
        """Means, `level` intervals, ROI and P(ROI > 0) per group of dimension `by` (all, tier, region)."""
        idx = self._idx(by)
        lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
        rows = []
        roi = self.roi
        for i in idx:
            row: dict[str, Any] = {"scenario": self.program, "dimension": by, "group": self.group_labels[i][1]}
            pulled = self.pulled_forward_cny if self.pulled_forward_cny is not None else np.zeros_like(self.cost_cny)
            row["pulled_forward_cny"] = float(pulled[:, i].mean())
            for name, arr in (("cost_cny", self.cost_cny), ("incremental_sales_cny", self.incremental_sales_cny),
                              ("incremental_margin_cny", self.incremental_margin_cny),
                              ("net_margin_cny", self.net_margin_cny)):
                col = arr[:, i]
                row[name] = float(col.mean())
                row[name.replace("_cny", "_low_cny")] = float(np.quantile(col, lo))
                row[name.replace("_cny", "_high_cny")] = float(np.quantile(col, hi))
            r = roi[:, i]
            ok = np.isfinite(r)
            row["roi"] = float(np.median(r[ok])) if ok.any() else np.nan
            row["roi_low"] = float(np.quantile(r[ok], lo)) if ok.any() else np.nan
            row["roi_high"] = float(np.quantile(r[ok], hi)) if ok.any() else np.nan
            row["p_roi_positive"] = float((r[ok] > 0).mean()) if ok.any() else np.nan
            rows.append(row)
        return pd.DataFrame(rows)

    def draws_frame(self, by: str = "all") -> pd.DataFrame:
        """Long frame of the draws: draw, group, cost_cny, incremental_sales_cny, net_margin_cny, roi."""
        frames = []
        for i in self._idx(by):
            frames.append(pd.DataFrame({
                "scenario": self.program, "draw": np.arange(self.cost_cny.shape[0]), "group": self.group_labels[i][1],
                "cost_cny": self.cost_cny[:, i], "incremental_sales_cny": self.incremental_sales_cny[:, i],
                "incremental_margin_cny": self.incremental_margin_cny[:, i],
                "net_margin_cny": self.net_margin_cny[:, i], "roi": self.roi[:, i],
            }))
        return pd.concat(frames, ignore_index=True)


def _effective_rate_pct(program: Program, partners: pd.DataFrame, eligible: np.ndarray,
                        beta: float | None = None) -> np.ndarray:
    """Payout a partner expects as % of its expected sales (the rate it responds to), 0 if ineligible.

    Variable payout (volume rebate + growth bonus) at expected sales, capped per partner; with a
    total cap, scaled by the expected proration, iterating expected sales = baseline × exp(beta × rate)
    to a fixed point (awards are fixed amounts and do not move sales).
    """
    b = partners["baseline_sales_cny"].to_numpy(dtype=float)
    ly = partners["last_year_sales_cny"].to_numpy(dtype=float)
    awards = (_award_amounts(program, partners).sum(axis=1).to_numpy(dtype=float)
              if program.awards else np.zeros_like(b))
    awards = np.where(eligible, awards, 0.0)
    caps = program.caps
    rate = np.zeros_like(b)
    factor = 1.0
    for _ in range(8 if caps.total_cny is not None and beta else 1):
        s = b * np.exp((beta or 0.0) * rate)
        v = np.zeros_like(b)
        if program.volume_rebate is not None:
            v += volume_rebate_cny(s, program.thresholds_cny, program.rates_pct, program.volume_rebate.mode)
        v += growth_bonus_cny(s, ly, program.growth_bonus)
        v = np.where(eligible, v, 0.0)
        total = v + awards
        if caps.per_partner_cny is not None:
            total = np.minimum(total, caps.per_partner_cny)
            v = np.maximum(total - awards, 0.0)
        if caps.total_cny is not None:
            factor = min(1.0, caps.total_cny / total.sum()) if total.sum() > 0 else 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(s > 0, 100.0 * factor * v / s, 0.0)
    return rate


@dataclass(frozen=True)
class _Prepared:
    """Per-partner vectors of one program on one base (computed once per scenario, O(partners))."""

    rate_pct: np.ndarray  # effective response rate (float32)
    eligible: np.ndarray  # bool
    all_eligible: bool
    thresholds: np.ndarray
    steps: np.ndarray  # rate increments (fraction) at each threshold
    retroactive: bool
    pull_lo: list[np.ndarray]  # per threshold: sales from which a partner reaches it (float32, per partner)
    growth_bar: np.ndarray | None  # sales needed for the growth bonus (inf: never)
    growth_ly: np.ndarray | None
    growth_rate: float
    growth_increment: bool
    awards: np.ndarray | None
    cap_partner: float | None
    cap_total: float | None
    pulls: bool = True  # a threshold pull is on (window × share > 0)


def _prepare(base: SimulationBase, program: Program, *, pull_window_pct: float, pull_share: float,
             eligible: np.ndarray | None = None, awards: np.ndarray | None = None) -> _Prepared:
    partners = base.partners
    if eligible is None:
        eligible = _eligible(program, partners)
    if awards is None and program.awards:
        awards = _award_amounts(program, partners).sum(axis=1).to_numpy(dtype=float)
    gb = program.growth_bonus
    bar = ly = None
    if gb is not None:
        ly_f = partners["last_year_sales_cny"].to_numpy(dtype=float)
        bar = np.where((ly_f > 0) & eligible, growth_bar(ly_f, gb.min_growth_pct), np.inf).astype(_F)
        ly = ly_f.astype(_F)
    vr = program.volume_rebate
    return _Prepared(
        rate_pct=_effective_rate_pct(program, partners, eligible, float(base.beta.mean())).astype(_F),
        eligible=eligible,
        all_eligible=bool(eligible.all()),
        thresholds=program.thresholds_cny,
        steps=np.diff(program.rates_pct / 100.0, prepend=0.0),
        retroactive=vr is None or vr.mode == "retroactive",
        pull_lo=[
            np.where(eligible, t * (1 - pull_window_pct / 100.0 * pull_share), t).astype(_F)
            for t in program.thresholds_cny
        ],
        growth_bar=bar,
        growth_ly=ly,
        growth_rate=gb.rate_pct / 100.0 if gb else 0.0,
        growth_increment=gb is not None and gb.base == "increment",
        awards=None if awards is None else np.where(eligible, awards, 0.0).astype(_F),
        cap_partner=program.caps.per_partner_cny,
        cap_total=program.caps.total_cny,
        pulls=pull_window_pct * pull_share > 0,
    )


def _block(s0: np.ndarray, beta: np.ndarray, p: _Prepared, offset: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(sales, payout, pulled-forward lift or None) for a block of draws (rows) × all partners; float32."""
    s1 = np.multiply(beta[:, None], p.rate_pct[None, :])
    if offset is not None:  # partner-specific response: (beta + offset) × rate
        s1 += (offset * p.rate_pct)[None, :]
    np.exp(s1, out=s1)
    s1 *= s0
    # Rates are multiplied by eligibility (a 0/1 row), so ineligible partners earn nothing without
    # an extra pass; growth bars are infinite and awards zero for them already.
    e = p.eligible.astype(_F)[None, :]
    steps = [(t, d, lo) for t, d, lo in zip(p.thresholds, p.steps, p.pull_lo, strict=True)]
    base_rate = _F(sum(d for t, d, _ in steps if t <= 0))
    if p.retroactive:
        rate = np.empty_like(s1)
        rate[...] = base_rate * e if not p.all_eligible else base_rate
    # Threshold pull: sales landing in [pull_lo, t) are lifted to t: s = max(s, t × 1[s ≥ pull_lo]).
    # The same indicator then switches the tier's rate step on (retroactive). The lift is sales pulled
    # forward from the next quarter: it is paid for but not incremental (returned apart).
    pre = s1.copy() if p.pulls and any(t > 0 for t, _, _ in steps) else None
    for t, d, lo in steps:
        if t <= 0:
            continue
        lifted = np.empty_like(s1)
        np.copyto(lifted, s1 >= lo[None, :], casting="unsafe")
        lifted *= _F(t)
        np.maximum(s1, lifted, out=s1)
        if p.retroactive and d != 0:
            lifted *= (_F(d / t) * e) if not p.all_eligible else _F(d / t)
            rate += lifted
    lift = None if pre is None else np.subtract(s1, pre, out=pre)
    if p.retroactive:
        pay = rate
        pay *= s1
    else:
        # Σ d_k × max(s − t_k, 0) = Σ d_k × max(s, t_k) − Σ d_k × t_k (sales are positive)
        pay = s1 * ((base_rate * e) if not p.all_eligible else base_rate)
        offset = 0.0
        for t, d, _ in steps:
            if t <= 0 or d == 0:
                continue
            band = np.maximum(s1, _F(t))
            band *= (_F(d) * e) if not p.all_eligible else _F(d)
            pay += band
            offset += d * t
        if offset:
            pay -= (_F(offset) * e) if not p.all_eligible else _F(offset)
    if p.growth_bar is not None:
        base = s1 - p.growth_ly[None, :] if p.growth_increment else s1.copy()
        hit = np.empty_like(s1)
        np.copyto(hit, s1 >= p.growth_bar[None, :], casting="unsafe")
        base *= hit
        base *= _F(p.growth_rate)
        pay += base
    if p.awards is not None:
        pay += p.awards[None, :]
    if p.cap_partner is not None:
        np.minimum(pay, _F(p.cap_partner), out=pay)
    return s1, pay, lift


_BLOCK_ELEMENTS = 1 << 16  # ~64k floats (256 KB) per array: the passes stay in cache
_THREADS = min(2, os.cpu_count() or 1)  # numpy releases the GIL inside ufuncs


def _group_sums(x: np.ndarray, starts: np.ndarray, cell_groups: np.ndarray) -> np.ndarray:
    """(rows, partners) → (rows, groups) sums, via per-cell reduceat (partners sorted by cell)."""
    if x.shape[1] == 0:
        return np.zeros((x.shape[0], cell_groups.shape[1]))
    return np.add.reduceat(x, starts, axis=1).astype(np.float64) @ cell_groups


def _run(base: SimulationBase, p: _Prepared, cell_groups: np.ndarray, *, keep: bool = False
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Group sums of sales, payout and pulled-forward lift per draw ((draws, groups) each), optionally
    the full (draws, partners) arrays of sales, payout and lift."""
    d, n = base.s0.shape
    rows = max(1, _BLOCK_ELEMENTS // max(n, 1))
    sales_g = np.empty((d, cell_groups.shape[1]), dtype=np.float64)
    pay_g = np.empty_like(sales_g)
    full_s = np.empty((d, n), dtype=_F) if keep else None
    full_p = np.empty((d, n), dtype=_F) if keep else None
    lift_g = np.zeros_like(sales_g)
    full_l = np.zeros((d, n), dtype=_F) if keep else None

    def work(chunk: range) -> None:
        for i in chunk:
            j = min(d, i + rows)
            s1, pay, lift = _block(base.s0[i:j], base.beta[i:j], p, base.beta_offset)
            sales_g[i:j] = _group_sums(s1, base.cell_starts, cell_groups)
            if lift is not None:
                lift_g[i:j] = _group_sums(lift, base.cell_starts, cell_groups)
                if keep:
                    full_l[i:j] = lift
            pay_g[i:j] = _group_sums(pay, base.cell_starts, cell_groups)
            if p.cap_total is not None:  # prorate per draw: total is the first ('all') group
                total = pay_g[i:j, 0] if cell_groups[:, 0].all() else pay.sum(axis=1, dtype=np.float64)
                factor = np.minimum(1.0, p.cap_total / np.maximum(total, 1e-9))
                pay_g[i:j] *= factor[:, None]
                if keep:
                    pay *= factor.astype(_F)[:, None]
            if keep:
                full_s[i:j], full_p[i:j] = s1, pay

    starts = list(range(0, d, rows))
    if _THREADS > 1 and d * n >= 1_000_000:
        from concurrent.futures import ThreadPoolExecutor

        chunks = [range(starts[k], d, rows * _THREADS) for k in range(min(_THREADS, len(starts)))]
        with ThreadPoolExecutor(_THREADS) as pool:
            list(pool.map(work, chunks))
    else:
        work(range(0, d, rows))
    return sales_g, pay_g, full_s, full_p, lift_g, full_l


def simulate(
    base: SimulationBase,
    program: Program,
    *,
    margin_pct: float | None = None,
    pull_window_pct: float | None = None,
    pull_share: float | None = None,
    cost_of_capital_pct: float | None = None,
    keep_partner_draws: bool = False,
) -> SimulationResult:
    """Monte Carlo of one program on the base's draws (assumptions default to the program's own).

    Sales respond as s = s0 × exp(beta × rate the partner expects to earn, in pp, see
    _effective_rate_pct), then the threshold pull lifts sales just below a volume threshold to it
    (Assumptions); the payout is computed exactly (tiers, growth bonus, awards, eligibility, caps)
    on every draw. Incremental sales and cost are relative to no incentive at all; the lift to a
    threshold is sales pulled forward from the next quarter, so it is netted out of incremental sales
    and reported apart (``pulled_forward_cny``; the payout on it stays in the cost).
    """
    a = program.assumptions
    margin = a.margin_pct if margin_pct is None else margin_pct
    window = a.pull_window_pct if pull_window_pct is None else pull_window_pct
    share = a.pull_share if pull_share is None else pull_share
    coc = a.cost_of_capital_pct if cost_of_capital_pct is None else cost_of_capital_pct
    prep = _prepare(base, program, pull_window_pct=window, pull_share=share)
    sales_g, cost, s1, pay, lift_g, lift = _run(base, prep, base.cell_groups, keep=keep_partner_draws)
    if coc > 0:
        cost /= (1 + coc / 100.0) ** (program.payment_delay_days / 365.0)
    return SimulationResult(program.name, float(margin), base.group_labels, cost,
                            sales_g - base.s0_groups - lift_g, pay, s1, lift_g, lift)


def compare_scenarios(
    base: SimulationBase, scenarios: dict[str, Program], *, current: str, margin_pct: float | None = None,
    by: str = "all",
) -> pd.DataFrame:
    """Scenarios side by side on the same draws, with the difference in net margin vs `current`.

    Rows: one per scenario (× group of `by`); adds delta_net_margin_cny (mean) and p_better (share
    of draws in which the scenario's net margin beats the current program's).
    """
    if current not in scenarios:
        raise WorkbenchError(f"The current program '{current}' is not among the scenarios ({', '.join(scenarios)}).")
    results = {name: simulate(base, p, margin_pct=margin_pct) for name, p in scenarios.items()}
    ref = results[current]
    frames = []
    for name, res in results.items():
        s = res.summary(by).assign(scenario=name)
        idx = res._idx(by)
        diff = res.net_margin_cny[:, idx] - ref.net_margin_cny[:, idx]
        s["delta_cost_cny"] = (res.cost_cny[:, idx] - ref.cost_cny[:, idx]).mean(axis=0)
        s["delta_net_margin_cny"] = diff.mean(axis=0)
        s["p_better"] = (diff > 0).mean(axis=0) if name != current else np.nan
        s["is_current"] = name == current
        frames.append(s)
    return pd.concat(frames, ignore_index=True)
