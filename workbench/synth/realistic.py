"""Realistic mode: a world as hard as real data (generate(mode="realistic")), calibrated against the UCI Online Retail export in docs/synth.md."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.store import CHANNEL_TYPES
from workbench.synth.params import (
    MIX_MEAN,
    PRODUCT_LINES,
    SEGMENT_WEIGHTS,
)
from workbench.synth.world import (
    _day_in_month,
    _draw_segment_region_channel,
    _World,
)

MODES = ("easy", "realistic")

# Every number of the realistic world, in one place (echoed in truth.params as realistic_*).
REALISTIC: dict[str, object] = {
    # orders per month of a typical partner of each segment (gamma-distributed across partners: most
    # order rarely, a few often; shape < 1 gives many one- and two-time buyers)
    "orders_per_month": np.array([0.6, 0.27, 0.13, 0.3]),
    "orders_shape": 0.55,
    # median order value (CNY) per segment, partner spread (lognormal sd) and order-to-order spread
    "basket_median": np.array([7000.0, 4200.0, 1600.0, 1300.0]),
    "basket_sd_partner": 0.6,
    "basket_sd_order": 0.45,
    # product mix: segment means pulled a quarter of the way to the overall mean, Dirichlet concentration 12
    "mix_pull": 0.25,
    "mix_concentration": 12.0,
    # channel type: drawn from the segment's channel probabilities, else (this share) from any type
    "channel_noise": 0.45,
    # order lines per order: 1 + negative binomial (mean, dispersion); returns 1 + Poisson(3), at most 8
    "lines_mean": 21.0,
    "lines_dispersion": 1.3,
    "return_share_of_orders": 0.085,
    "return_fraction": (0.15, 1.4),  # of the partner's typical order value
    # SKUs per product line and their Zipf exponent (popularity within a line)
    "skus_per_line": 700,
    "sku_zipf": 1.05,
    # missing data: partners who never answer surveys, answer rate of the rest, partners with no
    # contact on file, partners reporting outlets
    "never_surveyed": 0.45,
    "survey_answer_rate": 0.5,
    "no_contact": 0.3,
    "reports_coverage": 0.4,
}


def _draw_partners_realistic(rng: np.random.Generator, w: _World) -> None:
    """Realistic counterpart of `_draw_partners`: overlapping segments, heavy-tailed size (orders per
    month × order value, CNY/month), noisy channel, diffuse product mix."""
    n, T = w.n, w.T
    r = REALISTIC
    seg, region, city_idx, channel = _draw_segment_region_channel(rng, n)
    noisy = rng.random(n) < float(r["channel_noise"])
    channel = np.where(noisy, rng.integers(0, len(CHANNEL_TYPES), size=n), channel)
    shape = float(r["orders_shape"])
    lam = np.asarray(r["orders_per_month"])[seg] * rng.gamma(shape, 1.0 / shape, size=n)
    basket = np.asarray(r["basket_median"])[seg] * np.exp(float(r["basket_sd_partner"]) * rng.standard_normal(n))
    pull = float(r["mix_pull"])
    mean = (1.0 - pull) * MIX_MEAN + pull * (SEGMENT_WEIGHTS @ MIX_MEAN)[None, :]
    gam = rng.gamma(float(r["mix_concentration"]) * mean[seg])
    gam = np.maximum(gam, 1e-12)
    pre = rng.random(n) < 0.7
    pre_days = rng.integers(30, 8 * 365, size=n)
    in_month = rng.integers(1, T, size=n)
    in_day = w.month_start[in_month] + np.floor(
        rng.random(n) * (w.month_stop[in_month] - w.month_start[in_month])).astype(np.int64)
    w.arrays.update(
        seg=seg, region=region, city_idx=city_idx, channel=channel, size=lam * basket, lam=lam, basket=basket,
        mix=gam / gam.sum(axis=1, keepdims=True),
        onboard_day=np.where(pre, w.window_start - pre_days, in_day),
        onboard_t=np.where(pre, -1, in_month),
    )


def _draw_orders_realistic(rng: np.random.Generator, w: _World) -> None:
    """Realistic counterpart of `_draw_orders`: every partner orders at its own Poisson rate scaled by
    season, health, rebate and action effects (irregular gaps, many one-time buyers), each order worth a
    lognormal multiple of the partner's typical order value; returns are whole orders of 1–8 lines."""
    n, T = w.n, w.T
    r = REALISTIC
    mult = w.expected / np.maximum(w.size[:, None], 1e-9)  # season × health × rebate × action (mean 1)
    n_ord = rng.poisson(w.lam[:, None] * mult) * w.eligible
    pm = np.repeat(np.arange(n * T), n_ord.ravel())
    o_p, o_t = pm // T, pm % T
    o_day = _day_in_month(rng, w, o_p, o_t)
    m = len(o_p)
    sd = float(r["basket_sd_order"])
    gross = w.basket[o_p] * np.exp(sd * rng.standard_normal(m) - sd * sd / 2.0)
    o_ret = rng.random(m) < float(r["return_share_of_orders"])
    lo, hi = r["return_fraction"]
    ret_value = w.basket[o_p] * rng.uniform(lo, hi, size=m)
    o_cents = np.where(o_ret, -np.round(ret_value * 100.0), np.round(gross * 100.0)).astype(np.int64)
    o_cents = np.where(o_cents == 0, np.where(o_ret, -1, 1), o_cents)
    disp = float(r["lines_dispersion"])
    mean_extra = float(r["lines_mean"]) - 1.0
    extra = rng.negative_binomial(disp, disp / (disp + mean_extra), size=m)
    o_lines = np.where(o_ret, 1 + np.minimum(rng.poisson(3.0, size=m), 7), 1 + extra).astype(np.int64)
    w.arrays.update(o_p=o_p, o_t=o_t, o_day=o_day, o_ret=o_ret, o_cents=o_cents, o_lines=o_lines,
                    sales_cents=np.bincount(o_p * T + o_t, weights=o_cents, minlength=n * T).reshape(n, T))


def _realistic_skus(seed: int, orders: pd.DataFrame, *, as_sku: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Order ids with multi-digit line numbers, and a SKU per line drawn within its product line (Zipf
    popularity). Returns the orders (product_line = the SKU code when `as_sku`) and truth.skus (sku,
    product_line). Uses its own generator (seed, 1), so the easy mode's draws are untouched."""
    rng = np.random.default_rng([seed, 1])
    k = int(REALISTIC["skus_per_line"])
    pop = 1.0 / np.arange(1, k + 1) ** float(REALISTIC["sku_zipf"])
    cum = np.cumsum(pop / pop.sum())
    line_idx = pd.Categorical(orders["product_line"], categories=list(PRODUCT_LINES)).codes.astype(np.int64)
    within = np.minimum(np.searchsorted(cum, rng.random(len(orders))), k - 1)
    prefix = np.array([p[:3].upper() for p in PRODUCT_LINES], dtype=object)
    sku_codes = np.array([f"{prefix[j]}-{i:04d}" for j in range(len(PRODUCT_LINES)) for i in range(k)], dtype=object)
    sku = sku_codes[line_idx * k + within]
    out = orders.copy()
    key = out["order_id"].str.slice(0, -2)
    line_no = out.groupby(key, sort=False).cumcount() + 1
    out["order_id"] = key + "-" + line_no.astype(str)
    if as_sku:
        out["product_line"] = sku
    table = pd.DataFrame({"sku": sku_codes, "product_line": np.repeat(np.array(PRODUCT_LINES, dtype=object), k)})
    return out, table


def _realistic_missing(seed: int, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Real stores' gaps: many partners never answer surveys, the rest answer half the time; some have
    no contact on file; most do not report active outlets. Own generator (seed, 2)."""
    rng = np.random.default_rng([seed, 2])
    r = REALISTIC
    out = dict(tables)
    pids = tables["partners"]["partner_id"].to_numpy()
    never = set(pids[rng.random(len(pids)) < float(r["never_surveyed"])])
    sv = tables["surveys"]
    keep = ~sv["partner_id"].isin(never).to_numpy() & (rng.random(len(sv)) < float(r["survey_answer_rate"]))
    out["surveys"] = sv[keep].reset_index(drop=True)
    p = tables["partners"].copy()
    gone = rng.random(len(p)) < float(r["no_contact"])
    p.loc[gone, ["contact_name", "contact_phone"]] = None
    out["partners"] = p
    reporting = set(pids[rng.random(len(pids)) < float(r["reports_coverage"])])
    cov = tables["coverage"]
    out["coverage"] = cov[cov["partner_id"].isin(reporting)].reset_index(drop=True)
    return out


def calibration_stats(orders: pd.DataFrame) -> dict[str, float]:
    """The order-history figures the realistic mode is calibrated on, from an orders table (partner_id,
    order_date, product_line, net_amount, is_return): order days per partner (median, p90), days between
    order days (median, p90), basket value = net sales per order day (median, p90), share of one-time
    buyers (one order day), returns share (returned value / sold value; share of lines), distinct
    product lines (SKUs) per partner (median, p90), lines per order day (median)."""
    o = orders[["partner_id", "order_date", "product_line", "net_amount", "is_return"]].copy()
    o["order_date"] = pd.to_datetime(o["order_date"])
    ret = o["is_return"].fillna(False).astype(bool)
    sale = o[~ret]
    days = sale.groupby(["partner_id", "order_date"], observed=True)["net_amount"].agg(["sum", "size"]).reset_index()
    per = days.groupby("partner_id", observed=True).size()
    gaps = days.sort_values(["partner_id", "order_date"]).groupby("partner_id", observed=True)["order_date"].diff()
    gaps = gaps.dt.days.dropna()
    skus = sale.groupby("partner_id", observed=True)["product_line"].nunique()
    sold = float(sale["net_amount"].clip(lower=0).sum())
    returned = float(-o.loc[ret, "net_amount"].clip(upper=0).sum())
    return {
        "partners": float(per.size),
        "orders_median": float(per.median()), "orders_p90": float(per.quantile(0.9)),
        "gap_days_median": float(gaps.median()), "gap_days_p90": float(gaps.quantile(0.9)),
        "basket_median": float(days["sum"].median()), "basket_p90": float(days["sum"].quantile(0.9)),
        "one_time_share": float((per == 1).mean()),
        "returns_value_share": returned / sold if sold > 0 else float("nan"),
        "returns_line_share": float(ret.mean()),
        "skus_median": float(skus.median()), "skus_p90": float(skus.quantile(0.9)),
        "lines_per_order_median": float(days["size"].median()),
    }
