"""Synthetic channel network with planted ground truth (churn hazard, rebate elasticity, action effects).

`generate()` builds every canonical table of the data contract (store.TABLES) plus truth tables that
later modules test their models against; `build_demo_store()` ingests the canonical tables through the
normal validated path and writes the truth into the store's `truth` schema.

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
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.store import CHANNEL_TYPES, TABLE_ORDER, TABLES

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
    "ACTION_EFFECTS",
    "XSS_NAME",
    "DirtyExports",
    "write_dirty_exports",
]

# ---------------------------------------------------------------------------------------------
# Parameters of the generator (the planted truth lives here and is echoed in truth.params)
# ---------------------------------------------------------------------------------------------

LUNAR_NEW_YEAR: dict[int, date] = {
    2020: date(2020, 1, 25),
    2021: date(2021, 2, 12),
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
}

SEASON_PEAKS = {6: 1.3, 11: 1.4, 12: 1.08}  # 618, Double 11, a mild December
SPRING_FESTIVAL_FACTOR = 0.65

SEGMENTS = ("key_distributor", "regional_wholesaler", "retail_dealer", "ecommerce_reseller")
SEGMENT_WEIGHTS = np.array([0.06, 0.16, 0.50, 0.28])
PRODUCT_LINES = ("phones", "accessories", "home_appliances", "smart_home", "online_bundle", "parts")
UNIT_PRICE_CNY = np.array([2500.0, 80.0, 1800.0, 400.0, 300.0, 40.0])
# Dirichlet mean of each segment's product mix (rows: SEGMENTS, columns: PRODUCT_LINES).
MIX_MEAN = np.array(
    [
        [0.25, 0.15, 0.20, 0.15, 0.10, 0.15],  # key_distributor: broad
        [0.04, 0.03, 0.55, 0.04, 0.02, 0.32],  # regional_wholesaler: bulk appliances + parts
        [0.50, 0.30, 0.06, 0.10, 0.02, 0.02],  # retail_dealer: mainstream phones + accessories
        [0.10, 0.20, 0.02, 0.07, 0.60, 0.01],  # ecommerce_reseller: online bundle
    ]
)
MIX_CONCENTRATION = 60.0
SIZE_MEDIAN_CNY = np.array([2_000_000.0, 400_000.0, 40_000.0, 80_000.0])  # expected monthly sales
SIZE_SIGMA = np.array([0.5, 0.5, 0.6, 0.6])
ORDER_DAYS_PER_MONTH = np.array([8.0, 1.3, np.nan, 6.0])  # retail dealers order on a regular cycle
DEALER_CYCLE_DAYS = (21, 42)
EXTRA_LINES = np.array([[3, 0.6], [1, 0.4], [3, 0.3], [3, 0.15]])  # lines = 1 + Binomial(n, p)
RETURN_SHARE_OF_ORDERS = 0.035  # return orders have one line: ~2% of lines
# channel_type probabilities by segment, columns in store.CHANNEL_TYPES order
CHANNEL_P = np.array(
    [
        # distributor wholesaler dealer retailer ecommerce key_account other
        [0.60, 0.00, 0.00, 0.00, 0.00, 0.40, 0.00],
        [0.20, 0.80, 0.00, 0.00, 0.00, 0.00, 0.00],
        [0.00, 0.00, 0.50, 0.45, 0.00, 0.00, 0.05],
        [0.00, 0.00, 0.00, 0.10, 0.85, 0.00, 0.05],
    ]
)
DISCOUNT_BY_CHANNEL = np.array([0.18, 0.20, 0.12, 0.08, 0.10, 0.22, 0.06])

REGIONS = ("East", "South", "North", "Central", "Southwest", "Northeast", "Northwest")
REGION_WEIGHTS = np.array([0.28, 0.20, 0.15, 0.13, 0.11, 0.07, 0.06])
REGION_CITIES: dict[str, tuple[tuple[str, str], ...]] = {
    "East": (("上海", "上海"), ("江苏", "南京"), ("江苏", "苏州"), ("浙江", "杭州"), ("浙江", "宁波"),
             ("山东", "济南"), ("山东", "青岛"), ("福建", "福州"), ("安徽", "合肥")),
    "South": (("广东", "广州"), ("广东", "深圳"), ("广东", "东莞"), ("广西", "南宁"), ("海南", "海口")),
    "North": (("北京", "北京"), ("天津", "天津"), ("河北", "石家庄"), ("山西", "太原"), ("内蒙古", "呼和浩特")),
    "Central": (("河南", "郑州"), ("湖北", "武汉"), ("湖南", "长沙"), ("江西", "南昌")),
    "Southwest": (("四川", "成都"), ("重庆", "重庆"), ("云南", "昆明"), ("贵州", "贵阳")),
    "Northeast": (("辽宁", "沈阳"), ("辽宁", "大连"), ("吉林", "长春"), ("黑龙江", "哈尔滨")),
    "Northwest": (("陕西", "西安"), ("甘肃", "兰州"), ("新疆", "乌鲁木齐"), ("宁夏", "银川")),
}
NAME_CHARS = list("华盛鑫达恒泰联创信隆通宏远金嘉汇丰瑞宝安佳博欣源诚宇誉天利新")
NAME_SUFFIX = {
    "distributor": ("商贸有限公司", "贸易有限公司"),
    "wholesaler": ("批发有限公司", "商贸有限公司"),
    "dealer": ("电器专卖店", "数码专卖店"),
    "retailer": ("电器商行", "数码店"),
    "ecommerce": ("电子商务有限公司", "网络科技有限公司"),
    "key_account": ("实业集团有限公司", "科技股份有限公司"),
    "other": ("经营部", "商行"),
}
XSS_NAME = "<img src=x onerror=alert(1)>"
SPECIAL_NAMES = {  # partner index -> name (escaping tests); applied when the network is large enough
    2: XSS_NAME,
    5: 'A&B "优选" 商贸 <总部>',
    7: "O'Brien & Sons 数码",
    11: '"诚信" & <华东> 电器',
}
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国文")
PHONE_PREFIXES = np.array([130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 155, 158, 159,
                           176, 177, 180, 181, 186, 187, 188, 189])

HEALTH_PHI = 0.95
HEALTH_SD = 0.065
HEALTH_SD0 = 0.15
SAT_SD_PARTNER = 4.0
BETA_REBATE = 0.04  # d ln(sales) / d rate (percentage points)
BASE_RATE_PP = (2.0, 3.0)  # up to 2024Q4, from 2025Q1
RATE_SWITCH = pd.Period("2025Q1", "Q")
PILOT_SHARE = 0.30
UNDERPAID_SHARE = 0.10
UNDERPAID_QUARTER_P = 0.7
HAZARD = {"a0": -4.1, "b_sat": 0.6, "b_short": 0.5, "b_conf": 0.6, "b_trend": 3.0}
ACTION_EFFECTS: dict[str, float] = {
    "training": 0.10,
    "marketing_automation": 0.08,
    "incentive": 0.06,
    "visit": 0.04,
    "tiering": 0.03,
    "communication": 0.0,
}
ACTION_SHARE = 0.5
ACTION_NOTES = {
    "training": "新品知识培训",
    "marketing_automation": "开通营销自动化工具",
    "incentive": "专项激励政策",
    "visit": "区域经理拜访",
    "tiering": "调整合作等级",
    "communication": "季度沟通会",
}
COURSES = ("新品知识培训", "销售技巧", "售后服务规范", "数字化工具", "价格政策解读")
CONFLICT_TYPES = ("price", "territory", "customer_ownership", "other")
COMMENTS_LOW = ("返利到账太慢", "价格冲突严重", "考虑更换品牌", "支持不够")
COMMENTS_MID = ("总体还行", "希望加快发货", "培训可以更多", "")
COMMENTS_HIGH = ("合作愉快", "产品好卖", "服务及时", "")


@dataclass(frozen=True)
class SynthNetwork:
    """A generated network: canonical tables (store.TABLES order and types), truth tables, parameters."""

    tables: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]
    params: dict[str, object] = field(default_factory=dict)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v):,}" for k, v in self.tables.items())
        return f"SynthNetwork({sizes})"


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

_EPOCH = np.datetime64("1970-01-01", "D")


def _day(d: date | pd.Timestamp) -> int:
    """Days since 1970-01-01."""
    return int((np.datetime64(pd.Timestamp(d).date(), "D") - _EPOCH).astype(np.int64))


def _to_datetime(days: np.ndarray, null: np.ndarray | None = None) -> np.ndarray:
    """Integer days since epoch -> datetime64[ns] (NaT where `null`)."""
    out = np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]")
    if null is not None:
        out[null] = np.datetime64("NaT")
    return out


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Vectorized string ids: prefix + zero-padded number (pyarrow)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width=width,
                          padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _frame(table: str, columns: dict[str, object]) -> pd.DataFrame:
    """A canonical table as a DataFrame in store.TABLES column order (via Arrow: fast strings)."""
    names = TABLES[table].column_names
    arrays = {}
    for name in names:
        col = columns[name]
        if isinstance(col, np.ndarray) and col.dtype.kind == "f":
            col = pa.array(col, from_pandas=True)
        arrays[name] = col
    return pa.table(arrays).to_pandas()


def _pick(values: tuple[str, ...] | list[str], index: np.ndarray) -> pa.Array:
    """values[index] as an Arrow string array (index -1 -> null)."""
    arr = pa.array(list(values), type=pa.string())
    idx = pa.array(np.asarray(index, dtype=np.int64), mask=np.asarray(index) < 0)
    return pc.take(arr, idx)


def _sample_rows(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each i, a category drawn from probs[rows[i]] (inverse CDF, vectorized, no (n, k) temporaries)."""
    cum_t = np.ascontiguousarray(np.cumsum(probs, axis=1).T)
    u = rng.random(len(rows))
    out = np.zeros(len(rows), dtype=np.int8)
    for k in range(probs.shape[1] - 1):
        out += u > cum_t[k].take(rows)
    return out.astype(np.int64)


def _within_group_index(counts: np.ndarray) -> np.ndarray:
    """0, 1, …, c-1 for each group of size c, concatenated."""
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def season_multipliers(months: pd.PeriodIndex) -> np.ndarray:
    """Seasonal sales multiplier per month: Spring Festival dip (month holding Lunar New Year), 618/Double 11 peaks."""
    out = np.ones(len(months))
    for k, m in enumerate(months):
        out[k] = SEASON_PEAKS.get(m.month, 1.0)
        lny = LUNAR_NEW_YEAR.get(m.year)
        if lny is not None and lny.month == m.month:
            out[k] = SPRING_FESTIVAL_FACTOR
    return out


# ---------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------


def generate(*, partners: int = 2000, months: int = 36, seed: int = 42, end: date = date(2026, 9, 30)) -> SynthNetwork:
    """Generate a synthetic channel network of `partners` partners over `months` months ending at `end`.

    Returns a SynthNetwork whose `.tables` are the canonical tables (column order of store.TABLES; dates as
    datetime64, money in CNY rounded to 0.01) and whose `.truth` holds `partners`, `partner_month`,
    `params` and `action_effects` (see the module docstring). Deterministic for a seed.
    """
    if partners < 1 or months < 4:
        raise ValueError("generate needs at least 1 partner and 4 months")
    rng = np.random.default_rng(seed)
    n, T = int(partners), int(months)
    end_ts = pd.Timestamp(end)
    end_day = _day(end_ts)
    periods = pd.period_range(end=end_ts.to_period("M"), periods=T, freq="M")
    month_start = np.array([_day(p.start_time) for p in periods], dtype=np.int64)
    month_stop = np.array([_day(p.end_time.normalize()) for p in periods], dtype=np.int64) + 1  # exclusive
    month_stop = np.minimum(month_stop, end_day + 1)
    season = season_multipliers(periods)
    quarters = periods.asfreq("Q")
    q_labels = pd.PeriodIndex(sorted(set(quarters)), freq="Q")
    q_of_t = np.searchsorted(q_labels.asi8, quarters.asi8)

    # ---- partners ------------------------------------------------------------------------------
    seg = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_WEIGHTS)
    region = rng.choice(len(REGIONS), size=n, p=REGION_WEIGHTS)
    city_flat = [(r, prov, city) for r in range(len(REGIONS)) for prov, city in REGION_CITIES[REGIONS[r]]]
    city_count = np.array([len(REGION_CITIES[r]) for r in REGIONS])
    city_offset = np.cumsum(city_count) - city_count
    city_idx = city_offset[region] + np.floor(rng.random(n) * city_count[region]).astype(np.int64)
    channel = _sample_rows(rng, CHANNEL_P, seg)
    size = SIZE_MEDIAN_CNY[seg] * np.exp(SIZE_SIGMA[seg] * rng.standard_normal(n))
    gam = rng.gamma(MIX_CONCENTRATION * MIX_MEAN[seg])
    mix = gam / gam.sum(axis=1, keepdims=True)

    window_start = int(month_start[0])
    pre = rng.random(n) < 0.7
    pre_days = rng.integers(30, 8 * 365, size=n)
    in_month = rng.integers(1, T, size=n)  # staggered onboarding inside the window (not the first month)
    in_frac = rng.random(n)
    span = month_stop[in_month] - month_start[in_month]
    in_day = month_start[in_month] + np.floor(in_frac * span).astype(np.int64)
    onboard_day = np.where(pre, window_start - pre_days, in_day)
    onboard_t = np.where(pre, -1, in_month)

    # ---- latent health, rebate rates, actions --------------------------------------------------
    h = np.empty((n, T + 3))
    h[:, 0] = HEALTH_SD0 * rng.standard_normal(n)
    shocks = HEALTH_SD * rng.standard_normal((n, T + 2))
    for k in range(1, T + 3):
        h[:, k] = HEALTH_PHI * h[:, k - 1] + shocks[:, k - 1]
    health = h[:, 3:]
    trend = -(h[:, 3:] - h[:, :-3])

    base_q = np.where(q_labels.asi8 < RATE_SWITCH.ordinal, BASE_RATE_PP[0], BASE_RATE_PP[1])
    pilot = rng.random((n, len(q_labels))) < PILOT_SHARE
    bump = np.where(pilot, rng.integers(1, 3, size=(n, len(q_labels))), 0)
    rate_q = base_q[None, :] + bump
    rate_t = rate_q[:, q_of_t]

    action_types = list(ACTION_EFFECTS)
    logsize = np.log(size)
    z = (logsize - logsize.mean()) / (logsize.std() + 1e-9)
    treated = rng.random(n) < _sigmoid(0.45 + 0.6 * z)
    a_type = rng.integers(0, len(action_types), size=n)
    w_month = np.where(np.isin(periods.month, (10, 11, 12)), 2.5, 1.0)
    cw = np.concatenate([[0.0], np.cumsum(w_month)])
    lo = np.maximum(onboard_t + 1, 1)
    treated &= lo <= T - 1
    lo_c = np.minimum(lo, T - 1)
    u = rng.random(n)
    target = cw[lo_c] + u * (cw[T] - cw[lo_c])
    a_month = np.clip(np.searchsorted(cw, target, side="left") - 1, lo_c, T - 1)
    effect = np.array([ACTION_EFFECTS[a] for a in action_types])[a_type]
    action_on = treated[:, None] & (np.arange(T)[None, :] >= a_month[:, None])

    eligible = np.arange(T)[None, :] >= onboard_t[:, None]
    expected = (size[:, None] * season[None, :] * np.exp(health) * np.exp(BETA_REBATE * rate_t)
                * np.exp(effect[:, None] * action_on))

    # ---- conflicts (generated for onboarded months; kept only where alive) ----------------------
    conf_rate = 0.025 * (size / np.median(size)) ** 0.3
    conf_n = rng.poisson(np.broadcast_to(conf_rate[:, None], (n, T))) * eligible
    conf_pm = np.repeat(np.arange(n * T), conf_n.ravel())
    c_p, c_t = conf_pm // T, conf_pm % T
    c_lo = np.where(c_t == onboard_t[c_p], onboard_day[c_p], month_start[c_t])
    c_day = c_lo + np.floor(rng.random(len(c_p)) * (month_stop[c_t] - c_lo)).astype(np.int64)
    c_dur = rng.integers(5, 121, size=len(c_p))
    c_never = rng.random(len(c_p)) < 0.10
    c_res = c_day + c_dur
    c_open_end = c_never | (c_res > end_day)
    c_res_t = np.where(c_open_end, T, np.searchsorted(month_start, c_res, side="right") - 1)
    diff = np.zeros(n * (T + 2))
    np.add.at(diff, c_p * (T + 2) + c_t + 1, 1.0)
    np.add.at(diff, c_p * (T + 2) + np.minimum(c_res_t, T) + 1, -1.0)
    open_conf = np.cumsum(diff.reshape(n, T + 2), axis=1)[:, :T]

    # ---- order skeleton (every onboarded month; masked by alive after the churn loop) -----------
    freq = np.where(np.isnan(ORDER_DAYS_PER_MONTH[seg]), 1.0, ORDER_DAYS_PER_MONTH[seg])
    dealer = seg == SEGMENTS.index("retail_dealer")
    wholesaler = seg == SEGMENTS.index("regional_wholesaler")
    lam = np.broadcast_to(np.where(wholesaler, 0.3, freq)[:, None], (n, T))
    n_days = rng.poisson(lam) + wholesaler[:, None]
    n_days = n_days * (eligible & ~dealer[:, None])
    pm = np.repeat(np.arange(n * T), n_days.ravel())
    o_p, o_t = pm // T, pm % T
    o_lo = np.where(o_t == onboard_t[o_p], onboard_day[o_p], month_start[o_t])
    o_day = o_lo + np.floor(rng.random(len(o_p)) * (month_stop[o_t] - o_lo)).astype(np.int64)

    cycle = rng.uniform(*DEALER_CYCLE_DAYS, size=n)
    phase = rng.random(n) * cycle
    d_idx = np.flatnonzero(dealer)
    total_days = end_day - window_start + 1
    k_n = np.ceil((total_days - phase[d_idx]) / cycle[d_idx]).astype(np.int64) + 1
    d_p = np.repeat(d_idx, k_n)
    d_k = _within_group_index(k_n)
    jitter = rng.integers(-3, 4, size=len(d_p))
    d_day = window_start + np.floor(phase[d_p] + d_k * cycle[d_p]).astype(np.int64) + jitter
    keep = (d_day >= window_start) & (d_day <= end_day) & (d_day >= onboard_day[d_p])
    d_p, d_day = d_p[keep], d_day[keep]
    d_t = np.searchsorted(month_start, d_day, side="right") - 1
    freq = np.where(dealer, 30.44 / cycle, freq)

    o_p = np.concatenate([o_p, d_p])
    o_t = np.concatenate([o_t, d_t])
    o_day = np.concatenate([o_day, d_day])
    n_orders_all = len(o_p)
    o_ret = rng.random(n_orders_all) < RETURN_SHARE_OF_ORDERS
    # Poisson-rhythm partners split the month's demand over that month's orders; dealers' orders each
    # cover one cycle of demand (so their months are lumpier).
    per_order = np.where(dealer[o_p], freq[o_p], n_days.ravel()[o_p * T + o_t])
    gross = expected[o_p, o_t] / per_order * rng.lognormal(-0.08, 0.4, size=n_orders_all)
    ret_frac = rng.uniform(0.1, 0.6, size=n_orders_all)
    sale_scale = 100.0 / (1.0 - RETURN_SHARE_OF_ORDERS)  # sales orders carry the month's expected sales
    o_cents = np.where(o_ret, -np.round(gross * ret_frac * 100.0), np.round(gross * sale_scale)).astype(np.int64)
    o_cents = np.where(o_cents == 0, np.where(o_ret, -1, 1), o_cents)
    sales_cents = np.bincount(o_p * T + o_t, weights=o_cents, minlength=n * T).reshape(n, T)

    # ---- churn loop (months), rebate ledger and shortfall ----------------------------------------
    a0, b_sat, b_short, b_conf, b_trend = (HAZARD[k] for k in ("a0", "b_sat", "b_short", "b_conf", "b_trend"))
    sat_offset = SAT_SD_PARTNER * rng.standard_normal(n)
    underpaid = rng.random(n) < UNDERPAID_SHARE
    alive = np.zeros((n, T), dtype=bool)
    hazard = np.zeros((n, T))
    satisfaction = np.zeros((n, T))
    shortfall = np.zeros((n, T))
    churn_t = np.full(n, -1, dtype=np.int64)
    short_cum = np.zeros(n)
    alive_prev = onboard_t < 0
    ledger: list[dict[str, np.ndarray]] = []
    for t in range(T):
        short_term = np.log1p(short_cum / 1000.0)
        sat = 70.0 + 15.0 * health[:, t] + sat_offset - 3.0 * open_conf[:, t] - 4.0 * short_term
        logit = (a0 + b_sat * (70.0 - sat) / 10.0 + b_short * short_term + b_conf * open_conf[:, t]
                 + b_trend * trend[:, t])
        haz = _sigmoid(logit)
        churned = alive_prev & (rng.random(n) < haz)
        churn_t[churned] = t
        alive_t = (alive_prev & ~churned) | (onboard_t == t)
        alive[:, t], hazard[:, t], satisfaction[:, t], shortfall[:, t] = alive_t, haz, sat, short_cum
        alive_prev = alive_t
        q = quarters[t]
        if q.end_time.normalize() == periods[t].end_time.normalize() and t >= 2 and quarters[t - 2] == q:
            if q.end_time.normalize() > end_ts:
                continue
            months_q = slice(t - 2, t + 1)
            in_q = alive[:, months_q].any(axis=1)
            net_q = (sales_cents[:, months_q] * alive[:, months_q]).sum(axis=1)
            rate = rate_q[:, q_of_t[t]]
            due = np.where(net_q > 0, np.round(rate / 100.0 * net_q), 0.0)
            frac = np.where(underpaid & (rng.random(n) < UNDERPAID_QUARTER_P), rng.uniform(0.2, 1.0, n), 0.0)
            unpaid = frac >= 0.95
            paid_intended = np.where(unpaid, 0.0, np.round(due * (1.0 - frac)))
            paid_day = _day(q.end_time) + rng.integers(30, 61, size=n)
            pending = paid_day > end_day
            paid = np.where(pending, 0.0, paid_intended)
            no_date = pending | unpaid | (paid <= 0)
            short_cum = short_cum + np.where(in_q, (due - paid_intended) / 100.0, 0.0)
            idx = np.flatnonzero(in_q)
            ledger.append({
                "p": idx, "q": np.full(len(idx), q_of_t[t]), "due": due[idx], "paid": paid[idx],
                "paid_day": paid_day[idx], "no_date": no_date[idx],
                "start": np.full(len(idx), _day(q.start_time)), "end": np.full(len(idx), _day(q.end_time)),
            })

    applied = treated & alive[np.arange(n), a_month]
    action_on &= applied[:, None]

    # ---- orders -> lines -------------------------------------------------------------------------
    keep = alive[o_p, o_t]
    pid = _ids("P", np.arange(1, n + 1), 6)
    orders = _order_lines(rng, o_p[keep], o_day[keep] - window_start, o_ret[keep], o_cents[keep],
                          seg=seg, channel=channel, mix=mix, pid=pid, window_start=window_start)
    del o_p, o_t, o_day, o_ret, o_cents, keep, gross, ret_frac, per_order

    # ---- incentives ledger -------------------------------------------------------------------------
    if ledger:
        led = {k: np.concatenate([part[k] for part in ledger]) for k in ledger[0]}
    else:
        led = {k: np.zeros(0, dtype=np.int64) for k in ("p", "q", "due", "paid", "paid_day", "no_date", "start", "end")}
        led["no_date"] = led["no_date"].astype(bool)
    lo_order = np.lexsort((led["q"], led["p"]))
    led = {k: v[lo_order] for k, v in led.items()}
    incentives = _frame("incentives", {
        "incentive_id": _ids("I", np.arange(1, len(led["p"]) + 1), 7),
        "partner_id": pc.take(pid, pa.array(led["p"].astype(np.int64))),
        "program": pa.array(["volume_rebate"] * len(led["p"]), type=pa.string()),
        "period_start": _to_datetime(led["start"]),
        "period_end": _to_datetime(led["end"]),
        "amount_due": led["due"] / 100.0,
        "amount_paid": led["paid"] / 100.0,
        "paid_date": _to_datetime(led["paid_day"], led["no_date"].astype(bool)),
    })

    # ---- surveys (quarterly, ~85% of alive partners) --------------------------------------------
    nq = len(q_labels)
    q_first_t = np.array([np.flatnonzero(q_of_t == j)[0] for j in range(nq)])
    q_len = np.bincount(q_of_t, minlength=nq)
    s_t = q_first_t[None, :] + np.floor(rng.random((n, nq)) * q_len[None, :]).astype(np.int64)
    s_take = rng.random((n, nq)) < 0.85
    s_p, s_j = np.nonzero(s_take & alive[np.arange(n)[:, None], s_t])
    s_t = s_t[s_p, s_j]
    s_lo = np.where(s_t == onboard_t[s_p], onboard_day[s_p], month_start[s_t])
    s_day = s_lo + np.floor(rng.random(len(s_p)) * (month_stop[s_t] - s_lo)).astype(np.int64)
    s_sat = np.clip(np.round(satisfaction[s_p, s_t] + 5.0 * rng.standard_normal(len(s_p))), 0, 100)
    s_nps = np.clip(np.round((s_sat - 30.0) / 7.0 + rng.standard_normal(len(s_p))), 0, 10)
    band = np.where(s_sat < 60, 0, np.where(s_sat < 78, 1, 2))
    comments = COMMENTS_LOW + COMMENTS_MID + COMMENTS_HIGH
    c_pick = band * 4 + rng.integers(0, 4, size=len(s_p))
    c_pick = np.where(np.isin(c_pick, (7, 11)), -1, c_pick)  # empty comments -> null
    s_order = np.lexsort((s_p, s_day))
    surveys = _frame("surveys", {
        "survey_id": _ids("S", np.arange(1, len(s_p) + 1), 7),
        "partner_id": pc.take(pid, pa.array(s_p[s_order])),
        "survey_date": _to_datetime(s_day[s_order]),
        "satisfaction": s_sat[s_order].astype(float),
        "nps": s_nps[s_order].astype(float),
        "comment": _pick(comments, c_pick[s_order]),
    })

    # ---- actions (and the trainings they imply) -------------------------------------------------
    a_p = np.flatnonzero(applied)
    a_t = a_month[a_p]
    a_lo = np.where(a_t == onboard_t[a_p], onboard_day[a_p], month_start[a_t])
    a_day = a_lo + np.floor(rng.random(len(a_p)) * (month_stop[a_t] - a_lo)).astype(np.int64)
    a_ord = np.lexsort((a_p, a_day))
    a_p, a_t, a_day = a_p[a_ord], a_t[a_ord], a_day[a_ord]
    a_ty = a_type[a_p]
    actions = _frame("actions", {
        "action_id": _ids("A", np.arange(1, len(a_p) + 1), 6),
        "partner_id": pc.take(pid, pa.array(a_p)),
        "action_date": _to_datetime(a_day),
        "action_type": _pick(action_types, a_ty),
        "note": _pick([ACTION_NOTES[a] for a in action_types], a_ty),
    })

    # random trainings: ~12% of alive partner-quarters, plus one per training action
    r_t = q_first_t[None, :] + np.floor(rng.random((n, nq)) * q_len[None, :]).astype(np.int64)
    r_take = rng.random((n, nq)) < 0.12
    r_p, r_j = np.nonzero(r_take & alive[np.arange(n)[:, None], r_t])
    r_t = r_t[r_p, r_j]
    r_lo = np.where(r_t == onboard_t[r_p], onboard_day[r_p], month_start[r_t])
    r_day = r_lo + np.floor(rng.random(len(r_p)) * (month_stop[r_t] - r_lo)).astype(np.int64)
    r_course = rng.integers(0, len(COURSES), size=len(r_p))
    tr_mask = a_ty == action_types.index("training")
    t_p = np.concatenate([r_p, a_p[tr_mask]])
    t_day = np.concatenate([r_day, a_day[tr_mask]])
    t_course = np.concatenate([r_course, np.zeros(tr_mask.sum(), dtype=np.int64)])
    t_pass = rng.random(len(t_p)) < 0.8
    t_score = np.where(t_pass, rng.uniform(60, 100, len(t_p)), rng.uniform(20, 60, len(t_p))).round()
    t_ord = np.lexsort((t_p, t_day))
    trainings = _frame("trainings", {
        "training_id": _ids("T", np.arange(1, len(t_p) + 1), 7),
        "partner_id": pc.take(pid, pa.array(t_p[t_ord])),
        "training_date": _to_datetime(t_day[t_ord]),
        "course": _pick(COURSES, t_course[t_ord]),
        "passed": t_pass[t_ord],
        "score": t_score[t_ord],
    })

    # ---- conflicts (only those reported while alive) ---------------------------------------------
    ck = alive[c_p, c_t]
    c_p, c_day, c_res, c_open_end = c_p[ck], c_day[ck], c_res[ck], c_open_end[ck]
    c_type = rng.choice(len(CONFLICT_TYPES), size=len(c_p), p=[0.35, 0.30, 0.20, 0.15])
    c_sev = rng.choice([1, 2, 3], size=len(c_p), p=[0.5, 0.35, 0.15])
    c_has_cp = (rng.random(len(c_p)) < 0.6) & (c_type != CONFLICT_TYPES.index("other")) & (n > 1)
    c_cp = (c_p + rng.integers(1, max(n, 2), size=len(c_p))) % max(n, 1)
    c_ord = np.lexsort((c_p, c_day))
    cp_idx = np.where(c_has_cp, c_cp, -1)[c_ord]
    conflicts = _frame("conflicts", {
        "conflict_id": _ids("C", np.arange(1, len(c_p) + 1), 6),
        "reported_date": _to_datetime(c_day[c_ord]),
        "partner_id": pc.take(pid, pa.array(c_p[c_ord])),
        "counterparty_id": pc.take(pid, pa.array(cp_idx, mask=cp_idx < 0)),
        "conflict_type": _pick(CONFLICT_TYPES, c_type[c_ord]),
        "severity": c_sev[c_ord].astype(np.int32),
        "resolved_date": _to_datetime(c_res[c_ord], c_open_end[c_ord]),
    })

    # ---- coverage (monthly outlets for ~80% of partners) ----------------------------------------
    has_cov = rng.random(n) < 0.8
    base_outlets = 3.0 * (size / 40_000.0) ** 0.6
    cov_p, cov_t = np.nonzero(alive & has_cov[:, None])
    outlets = np.maximum(1.0, np.round(base_outlets[cov_p] * np.exp(0.5 * health[cov_p, cov_t])
                                       * rng.lognormal(0.0, 0.1, size=len(cov_p))))
    coverage = _frame("coverage", {
        "partner_id": pc.take(pid, pa.array(cov_p)),
        "month": _to_datetime(month_start[cov_t]),
        "active_outlets": outlets,
    })

    # ---- partners table --------------------------------------------------------------------------
    ch_names = list(CHANNEL_TYPES)
    c1 = rng.integers(0, len(NAME_CHARS), size=n)
    c2 = rng.integers(0, len(NAME_CHARS), size=n)
    suf = rng.integers(0, 2, size=n)
    city_names = np.array([c for _, _, c in city_flat], dtype=object)
    prov_names = np.array([p for _, p, _ in city_flat], dtype=object)
    chars = np.array(NAME_CHARS, dtype=object)
    suffix_tab = np.array([[NAME_SUFFIX[c][0], NAME_SUFFIX[c][1]] for c in ch_names], dtype=object)
    names = city_names[city_idx] + chars[c1] + chars[c2] + suffix_tab[channel, suf]
    for k, special in SPECIAL_NAMES.items():
        if k < n:
            names[k] = special
    sur = np.array(SURNAMES, dtype=object)[rng.integers(0, len(SURNAMES), size=n)]
    giv = np.array(GIVEN, dtype=object)
    g1 = giv[rng.integers(0, len(GIVEN), size=n)]
    g2 = np.where(rng.random(n) < 0.6, giv[rng.integers(0, len(GIVEN), size=n)], "")
    contact_name = sur + g1 + g2
    prefix = PHONE_PREFIXES[rng.integers(0, len(PHONE_PREFIXES), size=n)]
    mid = rng.integers(0, 10_000, size=n)
    last = rng.integers(0, 10_000, size=n)
    phone = pc.binary_join_element_wise(
        pc.cast(pa.array(prefix), pa.string()),
        pc.utf8_lpad(pc.cast(pa.array(mid), pa.string()), width=4, padding="0"),
        pc.utf8_lpad(pc.cast(pa.array(last), pa.string()), width=4, padding="0"),
        "-",
    )
    churned_any = churn_t >= 0
    exit_day = month_start[np.maximum(churn_t, 0)] + rng.integers(30, 181, size=n)
    has_exit = churned_any & (rng.random(n) < 0.5) & (exit_day <= end_day)
    partners_df = _frame("partners", {
        "partner_id": pid,
        "name": pa.array(names.tolist(), type=pa.string()),
        "region": _pick(REGIONS, region),
        "province": pa.array(prov_names[city_idx].tolist(), type=pa.string()),
        "city": pa.array(city_names[city_idx].tolist(), type=pa.string()),
        "channel_type": _pick(ch_names, channel),
        "onboard_date": _to_datetime(onboard_day),
        "exit_date": _to_datetime(exit_day, ~has_exit),
        "contact_name": pa.array(contact_name.tolist(), type=pa.string()),
        "contact_phone": phone,
    })

    # ---- truth ------------------------------------------------------------------------------------
    pm_p = np.repeat(np.arange(n), T)
    pm_t = np.tile(np.arange(T), n)
    truth_pm = pa.table({
        "partner_id": pc.take(pid, pa.array(pm_p)),
        "month": _to_datetime(month_start[pm_t]),
        "alive": alive.ravel(),
        "health": health.ravel(),
        "hazard": hazard.ravel(),
        "rate_pp": rate_t.ravel().astype(float),
        "expected_sales_cny": (expected * alive).ravel(),
        "satisfaction": satisfaction.ravel(),
        "shortfall_cny": shortfall.ravel(),
        "open_conflicts": open_conf.ravel().astype(np.int64),
        "action_on": action_on.ravel(),
        "segment": _pick(SEGMENTS, seg[pm_p]),
    }).to_pandas()
    treated_type = np.where(applied, a_type, -1)
    truth_partners = pa.table({
        "partner_id": pid,
        "segment": _pick(SEGMENTS, seg),
        "size": size,
        "churn_month": _to_datetime(month_start[np.maximum(churn_t, 0)], ~churned_any),
        "treated_action": _pick(action_types, treated_type),
        "treated_month": _to_datetime(month_start[a_month], ~applied),
        "underpaid": underpaid,
    }).to_pandas()
    params: dict[str, object] = {
        "beta_rebate": BETA_REBATE,
        **{f"hazard_{k}": v for k, v in HAZARD.items()},
        "seed": seed,
        "partners": n,
        "months": T,
        "end": end_ts.date().isoformat(),
        "base_rate_pp_before_2025": BASE_RATE_PP[0],
        "base_rate_pp_from_2025": BASE_RATE_PP[1],
        "pilot_share": PILOT_SHARE,
        "health_phi": HEALTH_PHI,
        "health_sd": HEALTH_SD,
        "spring_festival_factor": SPRING_FESTIVAL_FACTOR,
    }
    truth = {
        "partners": truth_partners,
        "partner_month": truth_pm,
        "params": pd.DataFrame({"key": list(params), "value": [str(v) for v in params.values()]}),
        "action_effects": pd.DataFrame({"action_type": list(ACTION_EFFECTS),
                                        "effect_log": [float(v) for v in ACTION_EFFECTS.values()]}),
    }
    tables = {
        "partners": partners_df,
        "orders": orders,
        "incentives": incentives,
        "surveys": surveys,
        "trainings": trainings,
        "conflicts": conflicts,
        "actions": actions,
        "coverage": coverage,
    }
    return SynthNetwork(tables={k: tables[k] for k in TABLE_ORDER}, truth=truth, params=params)


def _order_lines(rng: np.random.Generator, o_p: np.ndarray, o_off: np.ndarray, o_ret: np.ndarray,
                 o_cents: np.ndarray, *, seg: np.ndarray, channel: np.ndarray, mix: np.ndarray, pid: pa.Array,
                 window_start: int) -> pd.DataFrame:
    """The orders table: split each order (partner index, day offset in the window, return flag, cents) into lines.

    Orders are numbered by date; each gets 1-4 lines (returns 1) with product lines drawn from the
    partner's mix; line cents add up exactly to the order's cents. Money in CNY rounded to 0.01.
    """
    order = np.argsort(o_off.astype(np.int16 if o_off.size == 0 or o_off.max() < 32_000 else np.int32),
                       kind="stable")
    o_p, o_off, o_ret, o_cents = o_p[order], o_off[order], o_ret[order], o_cents[order]
    del order
    n_orders = len(o_p)
    extra = rng.binomial(EXTRA_LINES[seg[o_p], 0].astype(np.int64), EXTRA_LINES[seg[o_p], 1])
    n_lines = np.where(o_ret, 1, 1 + extra).astype(np.int64)
    del extra
    line_order = np.repeat(np.arange(n_orders, dtype=np.int64), n_lines)
    first = np.cumsum(n_lines) - n_lines
    line_no = (np.arange(len(line_order), dtype=np.int64) - first[line_order]).astype(np.int8)
    l_p = o_p[line_order]
    product = _sample_rows(rng, mix, l_p)
    w = rng.lognormal(0.0, 0.6, size=len(line_order))
    w /= np.bincount(line_order, weights=w)[line_order]
    abs_cents = np.abs(o_cents)
    l_abs = np.floor(abs_cents[line_order] * w).astype(np.int64)
    del w
    l_abs[first] += abs_cents - np.bincount(line_order, weights=l_abs, minlength=n_orders).astype(np.int64)
    l_ret = o_ret[line_order]
    disc = np.clip(DISCOUNT_BY_CHANNEL[channel[l_p]] + rng.uniform(-0.04, 0.04, size=len(l_p)), 0.05, 0.25)
    list_amount = np.round(l_abs / (1.0 - disc)) / 100.0
    list_amount[l_ret] = np.nan
    del disc
    price = UNIT_PRICE_CNY[product] * rng.uniform(0.85, 1.15, size=len(l_p))
    qty = np.maximum(1.0, np.round(l_abs / 100.0 / price))
    qty[l_ret] *= -1.0
    del price
    net = l_abs / 100.0
    net[l_ret] *= -1.0
    del l_abs
    order_num = _ids("O", np.arange(1, n_orders + 1), 9)
    order_id = pc.binary_join_element_wise(pc.take(order_num, pa.array(line_order)),
                                           _pick([str(k) for k in range(1, 6)], line_no), "-")
    del order_num, line_no
    day = _to_datetime(o_off[line_order] + window_start)
    del line_order
    return _frame("orders", {
        "order_id": order_id,
        "partner_id": pc.take(pid, pa.array(l_p)),
        "order_date": day,
        "product_line": _pick(PRODUCT_LINES, product),
        "quantity": qty,
        "net_amount": net,
        "list_amount": list_amount,
        "is_return": l_ret,
    })


# ---------------------------------------------------------------------------------------------
# Oracle and demo store
# ---------------------------------------------------------------------------------------------


def true_churn_probability(truth_partner_month: pd.DataFrame, *, as_of: date | str | pd.Timestamp,
                           horizon_days: int = 90) -> pd.DataFrame:
    """Oracle churn probability per partner alive in the month of `as_of`: 1 - prod(1 - hazard).

    Uses the true monthly hazards of the months starting in (as_of, as_of + horizon_days]
    (hazard[t] = probability of having stopped ordering for good from month t on). Months beyond
    the generated window are ignored. Returns partner_id, p_churn (0..1), one row per partner.
    """
    tpm = truth_partner_month
    as_of_ts = pd.Timestamp(as_of).normalize()
    current = as_of_ts.to_period("M").to_timestamp()
    month = pd.to_datetime(tpm["month"])
    alive_now = tpm.loc[(month == current) & tpm["alive"].astype(bool), "partner_id"]
    future = tpm.loc[(month > as_of_ts) & (month <= as_of_ts + pd.Timedelta(days=horizon_days)),
                     ["partner_id", "hazard"]]
    log_surv = np.log1p(-future["hazard"].clip(upper=1 - 1e-12)).groupby(future["partner_id"]).sum()
    out = pd.DataFrame({"partner_id": alive_now.to_numpy()})
    out["p_churn"] = 1.0 - np.exp(out["partner_id"].map(log_surv).fillna(0.0).to_numpy(dtype=float))
    return out.reset_index(drop=True)


def build_demo_store(db: str | Path, *, partners: int = 2000, months: int = 36, seed: int = 42) -> str:
    """Generate the network, ingest it through the validated path into a fresh store at `db`, write truth.

    Replaces any existing file at `db`. Returns a one-line summary (rows per table, seconds).
    """
    from workbench.ingest import ingest_frame
    from workbench.store import connect, raw_connection

    t0 = time.perf_counter()
    end = date(2026, 9, 30)
    net = generate(partners=partners, months=months, seed=seed, end=end)
    path = Path(db)
    for stale in (path, path.with_name(path.name + ".wal")):
        if stale.exists():
            stale.unlink()
    con = connect(path)
    quarantined = 0
    source = f"synth:partners={partners},months={months},seed={seed}"
    for name in TABLE_ORDER:
        result = ingest_frame(con, name, net.tables[name], source=f"{source}:{name}", run_date=end)
        quarantined += int(getattr(result, "rows_quarantined", 0) or 0)
    raw = raw_connection(con)
    raw.execute("CREATE SCHEMA IF NOT EXISTS truth")
    for name, frame in net.truth.items():
        view = f"_synth_truth_{name}"
        raw.register(view, frame)
        raw.execute(f"CREATE OR REPLACE TABLE truth.{name} AS SELECT * FROM {view}")
        raw.unregister(view)
    raw.execute("CHECKPOINT")
    con.disconnect()
    seconds = time.perf_counter() - t0
    counts = ", ".join(f"{k} {len(v):,}" for k, v in net.tables.items())
    extra = f"; {quarantined:,} rows quarantined" if quarantined else ""
    return f"Demo store {path}: {counts} (seed {seed}){extra} in {seconds:.1f} s."



# ---------------------------------------------------------------------------------------------
# Dirty mode: the exports as real ERPs write them
# ---------------------------------------------------------------------------------------------

DIRTY_HEADERS: dict[str, dict[str, str]] = {
    "partners": {"partner_id": "经销商编号", "name": "经销商名称", "region": "区域", "province": "省份",
                 "city": "城市", "channel_type": "渠道类型", "onboard_date": "合作日期", "exit_date": "终止日期",
                 "contact_name": "联系人", "contact_phone": "联系电话"},
    "orders": {"order_id": "订单行号", "partner_id": "经销商编号", "order_date": "下单日期",
               "product_line": "产品线", "quantity": "数量", "net_amount": "金额", "list_amount": "牌价金额",
               "is_return": "是否退货"},
    "incentives": {"incentive_id": "返利编号", "partner_id": "经销商编号", "program": "返利政策",
                   "period_start": "开始日期", "period_end": "结束日期", "amount_due": "应返金额",
                   "amount_paid": "实付金额", "paid_date": "付款日期"},
}
DIRTY_FILES = {"partners": "经销商.csv", "orders": "订单明细.csv", "incentives": "返利台账.xlsx"}
CHANNEL_ZH = {"distributor": "经销商", "wholesaler": "批发商", "dealer": "代理商", "retailer": "零售商",
              "ecommerce": "电商", "key_account": "大客户", "other": "其他"}
_FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


@dataclass(frozen=True)
class DirtyExports:
    """Files written by write_dirty_exports and what ingesting them must give.

    files: table -> path (ingest partners first: the others reference its partner ids);
    defects: one row per planted bad line: table, file, row_number (data rows, 1 = first under the header),
    column, reason (ingest.reason_text), defect; rows_read: table -> data rows in the file.
    Every other line is a good row that must land equal to `clean[table]`.
    """

    files: dict[str, Path]
    defects: pd.DataFrame
    rows_read: dict[str, int]
    clean: dict[str, pd.DataFrame]


def _fmt_dates(rng: np.random.Generator, s: pd.Series) -> pd.Series:
    """Dates as text in the mixed formats ERPs export (ISO, slashes, 年月日, YYYYMMDD); empty for NaT."""
    style = rng.integers(0, 4, size=len(s))
    out = pd.Series("", index=s.index, dtype=object)
    ok = s.notna().to_numpy()
    for k, fmt in enumerate(("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d")):
        m = ok & (style == k)
        out[m] = s[m].dt.strftime(fmt).to_numpy()
    return out


def _noise_ids(rng: np.random.Generator, s: pd.Series, share: float = 0.1) -> pd.Series:
    """Ids with stray whitespace or full-width digits on a share of rows (both normalize back on ingest)."""
    out = s.astype(object).copy()
    pick = rng.random(len(s))
    ws = pick < share / 2
    fw = (pick >= share / 2) & (pick < share)
    out[ws] = [f" {v}\u3000" for v in out[ws]]
    out[fw] = [v.translate(_FULL_WIDTH) for v in out[fw]]
    return out


def _fmt_money(rng: np.random.Generator, s: pd.Series) -> pd.Series:
    """Amounts as text: plain, with thousands separators, with a ¥ sign, or in full-width digits."""
    style = rng.integers(0, 8, size=len(s))
    out = pd.Series("", index=s.index, dtype=object)
    ok = s.notna().to_numpy()
    vals = s.to_numpy(dtype=float)
    for i in np.flatnonzero(ok):
        v = vals[i]
        st = style[i]
        if st == 5:
            out.iat[i] = f"{v:,.2f}"
        elif st == 6:
            out.iat[i] = f"¥{v:.2f}"
        elif st == 7:
            out.iat[i] = f"{v:.2f}".translate(_FULL_WIDTH)
        else:
            out.iat[i] = f"{v:.2f}"
    return out


def _place(rng: np.random.Generator, good: pd.DataFrame, bad: pd.DataFrame, after: np.ndarray,
           ) -> tuple[pd.DataFrame, np.ndarray]:
    """Insert `bad` rows among `good` rows at random places (each after good row `after[k]`, or anywhere if -1).

    Returns the combined frame and the 1-based row numbers of the bad rows.
    """
    n = len(good)
    lo = np.where(after >= 0, after + 0.5, -0.5)
    key_bad = lo + rng.random(len(bad)) * (n - 0.5 - lo)
    key = np.concatenate([np.arange(n, dtype=float), key_bad])
    order = np.argsort(key, kind="stable")
    combined = pd.concat([good, bad], ignore_index=True).iloc[order].reset_index(drop=True)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return combined, rank[n:] + 1


def write_dirty_exports(net: SynthNetwork, out_dir: str | Path, *, seed: int = 0, defects: int = 3) -> DirtyExports:
    """Write partners / orders (gb18030 CSV, Chinese headers) and the rebate ledger (XLSX under a title row).

    Good rows carry harmless mess (stray and ideographic spaces, full-width digits, thousands separators,
    ¥ signs, mixed date formats, Chinese channel names, 是/否) that ingestion must normalize; `defects` bad
    lines of each kind are added: duplicated lines, unknown partner ids, unparseable dates, unmarked negative
    amounts, empty required fields. Returns the files and the expected quarantine (DirtyExports).
    """
    from workbench.ingest import reason_text

    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    k = int(defects)
    records: list[dict[str, object]] = []
    files: dict[str, Path] = {}
    rows_read: dict[str, int] = {}

    def planted(table: str, rows: np.ndarray, column: str, kind: str, defect: str) -> None:
        col = column if kind != "duplicate" else TABLES[table].primary_key[-1]
        for r in rows:
            records.append({"table": table, "file": DIRTY_FILES[table], "row_number": int(r), "column": col,
                            "reason": reason_text(kind, column, table), "defect": defect})

    # ---- partners -----------------------------------------------------------------------------------
    p = net.tables["partners"]
    txt = pd.DataFrame({
        "partner_id": _noise_ids(rng, p["partner_id"]),
        "name": p["name"].astype(object),
        "region": p["region"].astype(object),
        "province": p["province"].astype(object),
        "city": p["city"].astype(object),
        "channel_type": p["channel_type"].map(CHANNEL_ZH).astype(object),
        "onboard_date": _fmt_dates(rng, p["onboard_date"]),
        "exit_date": _fmt_dates(rng, p["exit_date"]),
        "contact_name": p["contact_name"].astype(object),
        "contact_phone": p["contact_phone"].astype(object),
    })
    trail = rng.random(len(txt)) < 0.1
    txt.loc[trail, "name"] = txt.loc[trail, "name"] + "  "
    dup_src = rng.choice(len(txt), size=min(k, len(txt)), replace=False)
    dup = txt.iloc[dup_src].copy()
    base = txt.iloc[rng.choice(len(txt), size=2 * k)].copy().reset_index(drop=True)
    base["partner_id"] = [f"P9{j:06d}" for j in range(2 * k)]
    bad_date = base.iloc[:k].copy()
    bad_date["onboard_date"] = [("2023-13-45", "去年三月", "N/A")[j % 3] for j in range(k)]
    no_name = base.iloc[k:].copy()
    no_name["name"] = ""
    bad = pd.concat([dup, bad_date, no_name], ignore_index=True)
    after = np.concatenate([dup_src, np.full(2 * k, -1)])
    full, rows = _place(rng, txt, bad, after)
    planted("partners", rows[:len(dup)], "partner_id", "duplicate", "duplicated line")
    planted("partners", rows[len(dup):len(dup) + k], "onboard_date", "not_date", "unparseable date")
    planted("partners", rows[len(dup) + k:], "name", "missing", "empty required field")
    path = out / DIRTY_FILES["partners"]
    full.rename(columns=DIRTY_HEADERS["partners"]).to_csv(path, index=False, encoding="gb18030")
    files["partners"], rows_read["partners"] = path, len(full)

    # ---- orders ---------------------------------------------------------------------------------------
    o = net.tables["orders"]
    ret = o["is_return"].to_numpy()
    yes_no = np.where(ret, np.array(["是", "true", "1", "退货"], dtype=object)[rng.integers(0, 4, len(o))],
                      np.array(["否", "false", "0", "否"], dtype=object)[rng.integers(0, 4, len(o))])
    qty = o["quantity"].to_numpy()
    txt = pd.DataFrame({
        "order_id": _noise_ids(rng, o["order_id"], 0.05),
        "partner_id": _noise_ids(rng, o["partner_id"]),
        "order_date": _fmt_dates(rng, o["order_date"]),
        "product_line": o["product_line"].astype(object),
        "quantity": pd.Series([f"{q:.0f}" for q in qty], dtype=object),
        "net_amount": _fmt_money(rng, o["net_amount"]),
        "list_amount": _fmt_money(rng, o["list_amount"]),
        "is_return": pd.Series(yes_no, dtype=object),
    })
    sales_rows = np.flatnonzero(~ret & (o["net_amount"].to_numpy() > 0))
    dup_src = rng.choice(len(txt), size=min(k, len(txt)), replace=False)
    dup = txt.iloc[dup_src].copy()
    base_idx = rng.choice(sales_rows, size=3 * k)
    base = txt.iloc[base_idx].copy().reset_index(drop=True)
    base["order_id"] = [f"OX{j:08d}-1" for j in range(3 * k)]
    unknown = base.iloc[:k].copy()
    unknown["partner_id"] = [f"P8{j:06d}" for j in range(k)]
    bad_date = base.iloc[k:2 * k].copy()
    bad_date["order_date"] = [("2025-02-30", "三月五日", "N/A")[j % 3] for j in range(k)]
    negative = base.iloc[2 * k:].copy()
    negative["net_amount"] = [f"-{v:.2f}" for v in o["net_amount"].to_numpy()[base_idx[2 * k:]]]
    negative["is_return"] = "否"
    bad = pd.concat([dup, unknown, bad_date, negative], ignore_index=True)
    after = np.concatenate([dup_src, np.full(3 * k, -1)])
    full, rows = _place(rng, txt, bad, after)
    planted("orders", rows[:len(dup)], "order_id", "duplicate", "duplicated line")
    planted("orders", rows[len(dup):len(dup) + k], "partner_id", "fk", "unknown partner id")
    planted("orders", rows[len(dup) + k:len(dup) + 2 * k], "order_date", "not_date", "unparseable date")
    planted("orders", rows[len(dup) + 2 * k:], "net_amount", "negative", "unmarked negative amount")
    path = out / DIRTY_FILES["orders"]
    full.rename(columns=DIRTY_HEADERS["orders"]).to_csv(path, index=False, encoding="gb18030")
    files["orders"], rows_read["orders"] = path, len(full)

    # ---- incentives: XLSX with a title row above the header ----------------------------------------
    import openpyxl

    inc = net.tables["incentives"]
    cells = pd.DataFrame({
        "incentive_id": inc["incentive_id"].astype(object),
        "partner_id": _noise_ids(rng, inc["partner_id"]),
        "program": inc["program"].astype(object),
        "period_start": [d.to_pydatetime() for d in inc["period_start"]],
        "period_end": [d.to_pydatetime() for d in inc["period_end"]],
        "amount_due": inc["amount_due"].astype(float),
        "amount_paid": inc["amount_paid"].astype(float),
        "paid_date": [None if pd.isna(d) else d.to_pydatetime() for d in inc["paid_date"]],
    }).astype(object)
    dup_src = rng.choice(len(cells), size=min(k, len(cells)), replace=False)
    dup = cells.iloc[dup_src].copy()
    unknown = cells.iloc[rng.choice(len(cells), size=k)].copy().reset_index(drop=True)
    unknown["incentive_id"] = [f"IX{j:07d}" for j in range(k)]
    unknown["partner_id"] = [f"P8{j:06d}" for j in range(k)]
    bad = pd.concat([dup, unknown], ignore_index=True)
    full, rows = _place(rng, cells, bad, np.concatenate([dup_src, np.full(k, -1)]))
    planted("incentives", rows[:len(dup)], "incentive_id", "duplicate", "duplicated line")
    planted("incentives", rows[len(dup):], "partner_id", "fk", "unknown partner id")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "返利台账"
    ws.append(["经销商返利台账（系统导出）"])
    ws.append([f"导出日期：{net.params.get('end', '')}"])
    ws.append([])
    ws.append([DIRTY_HEADERS["incentives"][c] for c in TABLES["incentives"].column_names])
    for row in full.itertuples(index=False):
        ws.append([None if (isinstance(v, float) and np.isnan(v)) else v for v in row])
    path = out / DIRTY_FILES["incentives"]
    wb.save(path)
    files["incentives"], rows_read["incentives"] = path, len(full)

    defects_df = pd.DataFrame(records, columns=["table", "file", "row_number", "column", "reason", "defect"])
    clean = {t: net.tables[t] for t in files}
    return DirtyExports(files=files, defects=defects_df.sort_values(["table", "row_number"]).reset_index(drop=True),
                        rows_read=rows_read, clean=clean)
