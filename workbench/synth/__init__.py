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
    "MODES",
    "REALISTIC",
    "calibration_stats",
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
    out = (np.asarray(days, dtype=np.int64) * 86_400_000_000_000).view("datetime64[ns]")
    if null is not None:
        out[null] = np.datetime64("NaT")
    return out


_TENS = (np.arange(100) // 10 + 48).astype(np.uint8)
_ONES = (np.arange(100) % 10 + 48).astype(np.uint8)


def _ids(prefix: str, numbers: np.ndarray, width: int, line: np.ndarray | None = None) -> pa.Array:
    """Vectorized string ids: prefix + zero-padded number (+ "-" + one-digit `line`), built as raw bytes."""
    x = np.asarray(numbers, dtype=np.int64)
    if x.size:
        width = max(width, len(str(int(x.max()))))
        if x.min() >= 0 and x.max() < 2**32:
            x = x.astype(np.uint32)
    n = len(x)
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    w = len(head) + width + (0 if line is None else 2)
    rows = np.empty((w, n), dtype=np.uint8)  # one row per character, transposed at the end
    rows[: len(head)] = head[:, None]
    pos = len(head) + width
    while pos - 2 >= len(head):  # two digits at a time, from the right
        x, pair = np.divmod(x, 100)
        rows[pos - 2] = _TENS[pair]
        rows[pos - 1] = _ONES[pair]
        pos -= 2
    if pos > len(head):
        rows[pos - 1] = (x % 10 + 48).astype(np.uint8)
    if line is not None:
        rows[w - 2] = ord("-")
        rows[w - 1] = (np.asarray(line) % 10 + 48).astype(np.uint8)
    data = np.ascontiguousarray(rows.T)
    big = (n + 1) * w >= 2**31
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int64 if big else np.int32)
    return pa.Array.from_buffers(pa.large_string() if big else pa.string(), n,
                                 [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _frame(table: str, columns: dict[str, object]) -> pd.DataFrame:
    """A canonical table as a DataFrame in store.TABLES column order (via Arrow: fast strings)."""
    names = TABLES[table].column_names
    arrays = {}
    n_rows = len(next(iter(columns.values())))
    for name in names:
        col = columns[name] if name in columns else pa.nulls(n_rows, pa.string())  # optional, not simulated
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
# The generator: one rng threaded through phases that share a _World of arrays
# ---------------------------------------------------------------------------------------------


@dataclass
class _World:
    """Arrays shared by the generator's phases (partner i in rows, month t in columns; days since epoch)."""

    n: int
    T: int
    end_day: int
    periods: pd.PeriodIndex
    month_start: np.ndarray  # first day of month t
    month_stop: np.ndarray  # first day after month t (or after `end` in the last month)
    quarters: pd.PeriodIndex  # quarter of month t
    q_labels: pd.PeriodIndex  # quarters in the window
    q_of_t: np.ndarray  # index into q_labels of month t
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def window_start(self) -> int:
        return int(self.month_start[0])

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["arrays"][name]
        except KeyError:
            raise AttributeError(name) from None


def _calendar(n: int, months: int, end: date) -> _World:
    """The window of `months` calendar months ending with the month of `end`."""
    end_ts = pd.Timestamp(end)
    end_day = _day(end_ts)
    periods = pd.period_range(end=end_ts.to_period("M"), periods=months, freq="M")
    month_start = np.array([_day(p.start_time) for p in periods], dtype=np.int64)
    month_stop = np.array([_day(p.end_time.normalize()) for p in periods], dtype=np.int64) + 1
    quarters = periods.asfreq("Q")
    q_labels = pd.PeriodIndex(sorted(set(quarters)), freq="Q")
    return _World(n=n, T=months, end_day=end_day, periods=periods, month_start=month_start,
                  month_stop=np.minimum(month_stop, end_day + 1), quarters=quarters, q_labels=q_labels,
                  q_of_t=np.searchsorted(q_labels.asi8, quarters.asi8))


def _day_in_month(rng: np.random.Generator, w: _World, p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """A uniform random day of month t for partner p, never before the partner's onboarding."""
    lo = np.where(t == w.onboard_t[p], w.onboard_day[p], w.month_start[t])
    return lo + np.floor(rng.random(len(p)) * (w.month_stop[t] - lo)).astype(np.int64)


def _draw_partners(rng: np.random.Generator, w: _World) -> None:
    """Segment, region and city, channel, size (CNY/month), product mix and onboarding of every partner."""
    n, T = w.n, w.T
    seg = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_WEIGHTS)
    region = rng.choice(len(REGIONS), size=n, p=REGION_WEIGHTS)
    city_count = np.array([len(REGION_CITIES[r]) for r in REGIONS])
    city_offset = np.cumsum(city_count) - city_count
    city_idx = city_offset[region] + np.floor(rng.random(n) * city_count[region]).astype(np.int64)
    channel = _sample_rows(rng, CHANNEL_P, seg)
    size = SIZE_MEDIAN_CNY[seg] * np.exp(SIZE_SIGMA[seg] * rng.standard_normal(n))
    gam = rng.gamma(MIX_CONCENTRATION * MIX_MEAN[seg])
    pre = rng.random(n) < 0.7
    pre_days = rng.integers(30, 8 * 365, size=n)
    in_month = rng.integers(1, T, size=n)  # staggered onboarding inside the window (not the first month)
    in_day = w.month_start[in_month] + np.floor(
        rng.random(n) * (w.month_stop[in_month] - w.month_start[in_month])).astype(np.int64)
    w.arrays.update(
        seg=seg, region=region, city_idx=city_idx, channel=channel, size=size,
        mix=gam / gam.sum(axis=1, keepdims=True),
        onboard_day=np.where(pre, w.window_start - pre_days, in_day),
        onboard_t=np.where(pre, -1, in_month),
    )


def _draw_latent(rng: np.random.Generator, w: _World) -> None:
    """Health paths, offered rebate rates, planned actions and the expected monthly sales (CNY)."""
    n, T = w.n, w.T
    h = np.empty((n, T + 3))  # three burn-in months for the 3-month trend
    h[:, 0] = HEALTH_SD0 * rng.standard_normal(n)
    shocks = HEALTH_SD * rng.standard_normal((n, T + 2))
    for k in range(1, T + 3):
        h[:, k] = HEALTH_PHI * h[:, k - 1] + shocks[:, k - 1]
    nq = len(w.q_labels)
    base_q = np.where(w.q_labels.asi8 < RATE_SWITCH.ordinal, BASE_RATE_PP[0], BASE_RATE_PP[1])
    pilot = rng.random((n, nq)) < PILOT_SHARE
    rate_q = base_q[None, :] + np.where(pilot, rng.integers(1, 3, size=(n, nq)), 0)

    logsize = np.log(w.size)
    z = (logsize - logsize.mean()) / (logsize.std() + 1e-9)
    treated = rng.random(n) < _sigmoid(0.45 + 0.6 * z)  # larger partners are treated more often
    a_type = rng.integers(0, len(ACTION_EFFECTS), size=n)
    cw = np.concatenate([[0.0], np.cumsum(np.where(np.isin(w.periods.month, (10, 11, 12)), 2.5, 1.0))])
    lo = np.maximum(w.onboard_t + 1, 1)
    treated &= lo <= T - 1
    lo_c = np.minimum(lo, T - 1)
    target = cw[lo_c] + rng.random(n) * (cw[T] - cw[lo_c])  # Q4 months weigh 2.5x
    a_month = np.clip(np.searchsorted(cw, target, side="left") - 1, lo_c, T - 1)
    effect = np.array(list(ACTION_EFFECTS.values()))[a_type]
    action_on = treated[:, None] & (np.arange(T)[None, :] >= a_month[:, None])
    health = h[:, 3:]
    rate_t = rate_q[:, w.q_of_t]
    season = season_multipliers(w.periods)
    expected = (w.size[:, None] * season[None, :] * np.exp(health) * np.exp(BETA_REBATE * rate_t)
                * np.exp(effect[:, None] * action_on))
    w.arrays.update(health=health, trend=-(h[:, 3:] - h[:, :-3]), rate_q=rate_q, rate_t=rate_t,
                    treated=treated, a_type=a_type, a_month=a_month, action_on=action_on, expected=expected,
                    eligible=np.arange(T)[None, :] >= w.onboard_t[:, None])


def _draw_conflicts(rng: np.random.Generator, w: _World) -> None:
    """Conflict events in onboarded months (Poisson, more for larger partners) and open counts per month start."""
    n, T = w.n, w.T
    rate = 0.025 * (w.size / np.median(w.size)) ** 0.3
    count = rng.poisson(np.broadcast_to(rate[:, None], (n, T))) * w.eligible
    pm = np.repeat(np.arange(n * T), count.ravel())
    c_p, c_t = pm // T, pm % T
    c_day = _day_in_month(rng, w, c_p, c_t)
    c_res = c_day + rng.integers(5, 121, size=len(c_p))
    c_open_end = (rng.random(len(c_p)) < 0.10) | (c_res > w.end_day)
    c_res_t = np.where(c_open_end, T, np.searchsorted(w.month_start, c_res, side="right") - 1)
    diff = np.zeros(n * (T + 2))  # open at the start of months reported_t+1 … resolved_t
    np.add.at(diff, c_p * (T + 2) + c_t + 1, 1.0)
    np.add.at(diff, c_p * (T + 2) + np.minimum(c_res_t, T) + 1, -1.0)
    w.arrays.update(c_p=c_p, c_t=c_t, c_day=c_day, c_res=c_res, c_open_end=c_open_end,
                    open_conf=np.cumsum(diff.reshape(n, T + 2), axis=1)[:, :T])


def _draw_orders(rng: np.random.Generator, w: _World) -> None:
    """Orders (partner, month, day, return flag, cents) for every onboarded month, and monthly net cents.

    Poisson-rhythm partners split the month's demand over that month's orders; retail dealers order on a
    regular 21-42 day cycle, each order covering one cycle of demand. Masked by `alive` after the churn loop.
    """
    n, T, seg = w.n, w.T, w.seg
    freq = np.where(np.isnan(ORDER_DAYS_PER_MONTH[seg]), 1.0, ORDER_DAYS_PER_MONTH[seg])
    dealer = seg == SEGMENTS.index("retail_dealer")
    wholesaler = seg == SEGMENTS.index("regional_wholesaler")
    lam = np.broadcast_to(np.where(wholesaler, 0.3, freq)[:, None], (n, T))
    n_days = (rng.poisson(lam) + wholesaler[:, None]) * (w.eligible & ~dealer[:, None])
    pm = np.repeat(np.arange(n * T), n_days.ravel())
    o_p, o_t = pm // T, pm % T
    o_day = _day_in_month(rng, w, o_p, o_t)

    cycle = rng.uniform(*DEALER_CYCLE_DAYS, size=n)
    phase = rng.random(n) * cycle
    d_idx = np.flatnonzero(dealer)
    k_n = np.ceil((w.end_day - w.window_start + 1 - phase[d_idx]) / cycle[d_idx]).astype(np.int64) + 1
    d_p = np.repeat(d_idx, k_n)
    jitter = rng.integers(-3, 4, size=len(d_p))
    d_day = (w.window_start + np.floor(phase[d_p] + _within_group_index(k_n) * cycle[d_p]).astype(np.int64)
             + jitter)
    keep = (d_day >= w.window_start) & (d_day <= w.end_day) & (d_day >= w.onboard_day[d_p])
    d_p, d_day = d_p[keep], d_day[keep]
    d_t = np.searchsorted(w.month_start, d_day, side="right") - 1

    o_p, o_t, o_day = np.concatenate([o_p, d_p]), np.concatenate([o_t, d_t]), np.concatenate([o_day, d_day])
    m = len(o_p)
    o_ret = rng.random(m) < RETURN_SHARE_OF_ORDERS
    per_order = np.where(dealer[o_p], 30.44 / cycle[o_p], n_days.ravel()[o_p * T + o_t])
    gross = w.expected[o_p, o_t] / per_order * rng.lognormal(-0.08, 0.4, size=m)
    ret_frac = rng.uniform(0.1, 0.6, size=m)
    sale_scale = 100.0 / (1.0 - RETURN_SHARE_OF_ORDERS)  # sales orders carry the month's expected sales
    o_cents = np.where(o_ret, -np.round(gross * ret_frac * 100.0), np.round(gross * sale_scale)).astype(np.int64)
    o_cents = np.where(o_cents == 0, np.where(o_ret, -1, 1), o_cents)
    w.arrays.update(o_p=o_p, o_t=o_t, o_day=o_day, o_ret=o_ret, o_cents=o_cents,
                    sales_cents=np.bincount(o_p * T + o_t, weights=o_cents, minlength=n * T).reshape(n, T))


def _simulate_churn(rng: np.random.Generator, w: _World) -> None:
    """Month by month: satisfaction, hazard, churn; at each complete quarter's end the rebate ledger and shortfall."""
    n, T = w.n, w.T
    a0, b_sat, b_short, b_conf, b_trend = (HAZARD[k] for k in ("a0", "b_sat", "b_short", "b_conf", "b_trend"))
    sat_offset = SAT_SD_PARTNER * rng.standard_normal(n)
    underpaid = rng.random(n) < UNDERPAID_SHARE
    alive = np.zeros((n, T), dtype=bool)
    hazard, satisfaction, shortfall = np.zeros((n, T)), np.zeros((n, T)), np.zeros((n, T))
    churn_t = np.full(n, -1, dtype=np.int64)
    short_cum = np.zeros(n)
    alive_prev = w.onboard_t < 0
    ledger: list[dict[str, np.ndarray]] = []
    for t in range(T):
        short_term = np.log1p(short_cum / 1000.0)
        sat = 70.0 + 15.0 * w.health[:, t] + sat_offset - 3.0 * w.open_conf[:, t] - 4.0 * short_term
        logit = (a0 + b_sat * (70.0 - sat) / 10.0 + b_short * short_term + b_conf * w.open_conf[:, t]
                 + b_trend * w.trend[:, t])
        haz = _sigmoid(logit)
        churned = alive_prev & (rng.random(n) < haz)
        churn_t[churned] = t
        alive_t = (alive_prev & ~churned) | (w.onboard_t == t)
        alive[:, t], hazard[:, t], satisfaction[:, t], shortfall[:, t] = alive_t, haz, sat, short_cum
        alive_prev = alive_t
        q = w.quarters[t]
        q_end = q.end_time.normalize()
        if q_end != w.periods[t].end_time.normalize() or t < 2 or w.quarters[t - 2] != q or _day(q_end) > w.end_day:
            continue
        months_q = slice(t - 2, t + 1)
        in_q = alive[:, months_q].any(axis=1)
        net_q = (w.sales_cents[:, months_q] * alive[:, months_q]).sum(axis=1)
        due = np.where(net_q > 0, np.round(w.rate_q[:, w.q_of_t[t]] / 100.0 * net_q), 0.0)
        frac = np.where(underpaid & (rng.random(n) < UNDERPAID_QUARTER_P), rng.uniform(0.2, 1.0, n), 0.0)
        unpaid = frac >= 0.95
        paid_intended = np.where(unpaid, 0.0, np.round(due * (1.0 - frac)))
        paid_day = _day(q_end) + rng.integers(30, 61, size=n)
        pending = paid_day > w.end_day  # not paid yet at the end of the window
        paid = np.where(pending, 0.0, paid_intended)
        short_cum = short_cum + np.where(in_q, (due - paid_intended) / 100.0, 0.0)
        idx = np.flatnonzero(in_q)
        ledger.append({
            "p": idx, "q": np.full(len(idx), w.q_of_t[t]), "due": due[idx], "paid": paid[idx],
            "paid_day": paid_day[idx], "no_date": (pending | unpaid | (paid <= 0))[idx],
            "start": np.full(len(idx), _day(q.start_time)), "end": np.full(len(idx), _day(q_end)),
        })
    applied = w.treated & alive[np.arange(n), w.a_month]
    w.arrays.update(alive=alive, hazard=hazard, satisfaction=satisfaction, shortfall=shortfall, churn_t=churn_t,
                    underpaid=underpaid, applied=applied, action_on=w.action_on & applied[:, None])
    keys = ("p", "q", "due", "paid", "paid_day", "no_date", "start", "end")
    if ledger:
        led = {k: np.concatenate([part[k] for part in ledger]) for k in keys}
    else:
        led = {k: np.zeros(0, dtype=bool if k == "no_date" else np.int64) for k in keys}
    w.arrays.update({f"led_{k}": v for k, v in led.items()})


def generate(*, partners: int = 2000, months: int = 36, seed: int = 42, end: date = date(2026, 9, 30),
             mode: str = "easy", skus: bool = False) -> SynthNetwork:
    """Generate a synthetic channel network of `partners` partners over `months` months ending at `end`.

    Returns a SynthNetwork whose `.tables` are the canonical tables (column order of store.TABLES; dates as
    datetime64, money in CNY rounded to 0.01) and whose `.truth` holds `partners`, `partner_month`,
    `params` and `action_effects` (see the module docstring). Deterministic for a seed.

    mode: "easy" (segments almost separable, regular ordering: unit tests that need clean truth) or
    "realistic" (overlapping segments, heavy-tailed sizes, irregular seasonal ordering, large baskets
    over thousands of SKUs, missing survey / contact data, real return shares; calibrated against the
    UCI Online Retail export, see docs/synth.md and `realistic_params`). skus (realistic only): the
    orders' product_line holds the SKU code instead of its line (truth.skus maps SKU → line).
    """
    if partners < 1 or months < 4:
        raise ValueError("generate needs at least 1 partner and 4 months")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    realistic = mode == "realistic"
    rng = np.random.default_rng(seed)
    w = _calendar(int(partners), int(months), end)
    (_draw_partners_realistic if realistic else _draw_partners)(rng, w)
    _draw_latent(rng, w)
    _draw_conflicts(rng, w)
    (_draw_orders_realistic if realistic else _draw_orders)(rng, w)
    _simulate_churn(rng, w)
    pid = _ids("P", np.arange(1, w.n + 1), 6)
    keep = w.alive[w.o_p, w.o_t]
    orders = _order_lines(rng, w.o_p[keep], w.o_day[keep] - w.window_start, w.o_ret[keep], w.o_cents[keep],
                          seg=w.seg, channel=w.channel, mix=w.mix, pid=pid, window_start=w.window_start,
                          n_lines=w.o_lines[keep] if realistic else None)
    if realistic:
        orders, sku_table = _realistic_skus(seed, orders, as_sku=skus)
    for k in ("o_p", "o_t", "o_day", "o_ret", "o_cents"):
        del w.arrays[k]
    tables = {"orders": orders, "incentives": _incentives_table(w, pid), "surveys": _surveys_table(rng, w, pid)}
    tables["actions"], tables["trainings"] = _actions_and_trainings(rng, w, pid)
    tables["conflicts"] = _conflicts_table(rng, w, pid)
    tables["coverage"] = _coverage_table(rng, w, pid)
    tables["partners"] = _partners_table(rng, w, pid)
    params: dict[str, object] = {
        "beta_rebate": BETA_REBATE,
        **{f"hazard_{k}": v for k, v in HAZARD.items()},
        "seed": seed,
        "partners": w.n,
        "months": w.T,
        "end": pd.Timestamp(end).date().isoformat(),
        "base_rate_pp_before_2025": BASE_RATE_PP[0],
        "base_rate_pp_from_2025": BASE_RATE_PP[1],
        "pilot_share": PILOT_SHARE,
        "health_phi": HEALTH_PHI,
        "health_sd": HEALTH_SD,
        "spring_festival_factor": SPRING_FESTIVAL_FACTOR,
    }
    truth = _truth_tables(w, pid, params)
    if realistic:
        tables = _realistic_missing(seed, tables)
        params.update({"mode": "realistic", **{f"realistic_{k}": v for k, v in REALISTIC.items()
                                               if np.isscalar(v)}})
        truth["params"] = pd.DataFrame({"key": list(params), "value": [str(v) for v in params.values()]})
        truth["skus"] = sku_table
    return SynthNetwork(tables={k: tables[k] for k in TABLE_ORDER}, truth=truth, params=params)


def _incentives_table(w: _World, pid: pa.Array) -> pd.DataFrame:
    """The rebate ledger: one row per partner and complete quarter with activity, ordered by partner, quarter."""
    order = np.lexsort((w.led_q, w.led_p))
    p = w.led_p[order].astype(np.int64)
    return _frame("incentives", {
        "incentive_id": _ids("I", np.arange(1, len(p) + 1), 7),
        "partner_id": pc.take(pid, pa.array(p)),
        "program": pa.array(["volume_rebate"] * len(p), type=pa.string()),
        "period_start": _to_datetime(w.led_start[order]),
        "period_end": _to_datetime(w.led_end[order]),
        "amount_due": w.led_due[order] / 100.0,
        "amount_paid": w.led_paid[order] / 100.0,
        "paid_date": _to_datetime(w.led_paid_day[order], w.led_no_date[order].astype(bool)),
    })


def _quarter_month_draw(rng: np.random.Generator, w: _World, share: float) -> tuple[np.ndarray, np.ndarray]:
    """For a random `share` of partner-quarters: (partner, month) of one random month the partner is alive in."""
    nq = len(w.q_labels)
    q_first_t = np.array([np.flatnonzero(w.q_of_t == j)[0] for j in range(nq)])
    q_len = np.bincount(w.q_of_t, minlength=nq)
    t = q_first_t[None, :] + np.floor(rng.random((w.n, nq)) * q_len[None, :]).astype(np.int64)
    take = rng.random((w.n, nq)) < share
    p, j = np.nonzero(take & w.alive[np.arange(w.n)[:, None], t])
    return p, t[p, j]


def _surveys_table(rng: np.random.Generator, w: _World, pid: pa.Array) -> pd.DataFrame:
    """Quarterly surveys of ~85% of active partners: satisfaction = latent + noise, NPS, a short comment."""
    s_p, s_t = _quarter_month_draw(rng, w, 0.85)
    s_day = _day_in_month(rng, w, s_p, s_t)
    s_sat = np.clip(np.round(w.satisfaction[s_p, s_t] + 5.0 * rng.standard_normal(len(s_p))), 0, 100)
    s_nps = np.clip(np.round((s_sat - 30.0) / 7.0 + rng.standard_normal(len(s_p))), 0, 10)
    band = np.where(s_sat < 60, 0, np.where(s_sat < 78, 1, 2))
    pick = band * 4 + rng.integers(0, 4, size=len(s_p))
    pick = np.where(np.isin(pick, (7, 11)), -1, pick)  # empty comments -> null
    order = np.lexsort((s_p, s_day))
    return _frame("surveys", {
        "survey_id": _ids("S", np.arange(1, len(s_p) + 1), 7),
        "partner_id": pc.take(pid, pa.array(s_p[order])),
        "survey_date": _to_datetime(s_day[order]),
        "satisfaction": s_sat[order].astype(float),
        "nps": s_nps[order].astype(float),
        "comment": _pick(COMMENTS_LOW + COMMENTS_MID + COMMENTS_HIGH, pick[order]),
    })


def _actions_and_trainings(rng: np.random.Generator, w: _World, pid: pa.Array) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The actions table (one per treated partner) and trainings (random ones plus one per training action)."""
    action_types = list(ACTION_EFFECTS)
    a_p = np.flatnonzero(w.applied)
    a_day = _day_in_month(rng, w, a_p, w.a_month[a_p])
    order = np.lexsort((a_p, a_day))
    a_p, a_day = a_p[order], a_day[order]
    a_ty = w.a_type[a_p]
    actions = _frame("actions", {
        "action_id": _ids("A", np.arange(1, len(a_p) + 1), 6),
        "partner_id": pc.take(pid, pa.array(a_p)),
        "action_date": _to_datetime(a_day),
        "action_type": _pick(action_types, a_ty),
        "note": _pick([ACTION_NOTES[a] for a in action_types], a_ty),
    })
    r_p, r_t = _quarter_month_draw(rng, w, 0.12)
    r_day = _day_in_month(rng, w, r_p, r_t)
    r_course = rng.integers(0, len(COURSES), size=len(r_p))
    is_training = a_ty == action_types.index("training")
    t_p = np.concatenate([r_p, a_p[is_training]])
    t_day = np.concatenate([r_day, a_day[is_training]])
    t_course = np.concatenate([r_course, np.zeros(is_training.sum(), dtype=np.int64)])
    t_pass = rng.random(len(t_p)) < 0.8
    t_score = np.where(t_pass, rng.uniform(60, 100, len(t_p)), rng.uniform(20, 60, len(t_p))).round()
    order = np.lexsort((t_p, t_day))
    trainings = _frame("trainings", {
        "training_id": _ids("T", np.arange(1, len(t_p) + 1), 7),
        "partner_id": pc.take(pid, pa.array(t_p[order])),
        "training_date": _to_datetime(t_day[order]),
        "course": _pick(COURSES, t_course[order]),
        "passed": t_pass[order],
        "score": t_score[order],
    })
    return actions, trainings


def _conflicts_table(rng: np.random.Generator, w: _World, pid: pa.Array) -> pd.DataFrame:
    """Conflicts reported while the partner was active: type, severity, counterparty, resolution date."""
    n = w.n
    keep = w.alive[w.c_p, w.c_t]
    c_p, c_day, c_res, c_open_end = w.c_p[keep], w.c_day[keep], w.c_res[keep], w.c_open_end[keep]
    c_type = rng.choice(len(CONFLICT_TYPES), size=len(c_p), p=[0.35, 0.30, 0.20, 0.15])
    c_sev = rng.choice([1, 2, 3], size=len(c_p), p=[0.5, 0.35, 0.15])
    has_cp = (rng.random(len(c_p)) < 0.6) & (c_type != CONFLICT_TYPES.index("other")) & (n > 1)
    cp = (c_p + rng.integers(1, max(n, 2), size=len(c_p))) % max(n, 1)
    order = np.lexsort((c_p, c_day))
    cp_idx = np.where(has_cp, cp, -1)[order]
    return _frame("conflicts", {
        "conflict_id": _ids("C", np.arange(1, len(c_p) + 1), 6),
        "reported_date": _to_datetime(c_day[order]),
        "partner_id": pc.take(pid, pa.array(c_p[order])),
        "counterparty_id": pc.take(pid, pa.array(cp_idx, mask=cp_idx < 0)),
        "conflict_type": _pick(CONFLICT_TYPES, c_type[order]),
        "severity": c_sev[order].astype(np.int32),
        "resolved_date": _to_datetime(c_res[order], c_open_end[order]),
    })


def _coverage_table(rng: np.random.Generator, w: _World, pid: pa.Array) -> pd.DataFrame:
    """Monthly active outlets (size-related, moves with health) for ~80% of partners, active months only."""
    has_cov = rng.random(w.n) < 0.8
    base = 3.0 * (w.size / 40_000.0) ** 0.6
    p, t = np.nonzero(w.alive & has_cov[:, None])
    outlets = np.maximum(1.0, np.round(base[p] * np.exp(0.5 * w.health[p, t]) * rng.lognormal(0.0, 0.1, size=len(p))))
    return _frame("coverage", {
        "partner_id": pc.take(pid, pa.array(p)),
        "month": _to_datetime(w.month_start[t]),
        "active_outlets": outlets,
    })


def _partners_table(rng: np.random.Generator, w: _World, pid: pa.Array) -> pd.DataFrame:
    """The partners table: Chinese names, region/province/city, channel, dates, fake contact data."""
    n = w.n
    city_flat = [(prov, city) for r in REGIONS for prov, city in REGION_CITIES[r]]
    city_names = np.array([c for _, c in city_flat], dtype=object)
    prov_names = np.array([p for p, _ in city_flat], dtype=object)
    c1 = rng.integers(0, len(NAME_CHARS), size=n)
    c2 = rng.integers(0, len(NAME_CHARS), size=n)
    suf = rng.integers(0, 2, size=n)
    chars = np.array(NAME_CHARS, dtype=object)
    suffix_tab = np.array([[NAME_SUFFIX[c][0], NAME_SUFFIX[c][1]] for c in CHANNEL_TYPES], dtype=object)
    names = city_names[w.city_idx] + chars[c1] + chars[c2] + suffix_tab[w.channel, suf]
    for k, special in SPECIAL_NAMES.items():
        if k < n:
            names[k] = special
    giv = np.array(GIVEN, dtype=object)
    contact_name = np.array(SURNAMES, dtype=object)[rng.integers(0, len(SURNAMES), size=n)]
    contact_name = contact_name + giv[rng.integers(0, len(GIVEN), size=n)]
    contact_name = contact_name + np.where(rng.random(n) < 0.6, giv[rng.integers(0, len(GIVEN), size=n)], "")
    prefix = PHONE_PREFIXES[rng.integers(0, len(PHONE_PREFIXES), size=n)]
    mid = rng.integers(0, 10_000, size=n)
    last = rng.integers(0, 10_000, size=n)
    phone = pc.binary_join_element_wise(
        pc.cast(pa.array(prefix), pa.string()),
        pc.utf8_lpad(pc.cast(pa.array(mid), pa.string()), width=4, padding="0"),
        pc.utf8_lpad(pc.cast(pa.array(last), pa.string()), width=4, padding="0"),
        "-",
    )
    churned = w.churn_t >= 0
    exit_day = w.month_start[np.maximum(w.churn_t, 0)] + rng.integers(30, 181, size=n)
    has_exit = churned & (rng.random(n) < 0.5) & (exit_day <= w.end_day)
    return _frame("partners", {
        "partner_id": pid,
        "name": pa.array(names.tolist(), type=pa.string()),
        "region": _pick(REGIONS, w.region),
        "province": pa.array(prov_names[w.city_idx].tolist(), type=pa.string()),
        "city": pa.array(city_names[w.city_idx].tolist(), type=pa.string()),
        "channel_type": _pick(list(CHANNEL_TYPES), w.channel),
        "onboard_date": _to_datetime(w.onboard_day),
        "exit_date": _to_datetime(exit_day, ~has_exit),
        "contact_name": pa.array(contact_name.tolist(), type=pa.string()),
        "contact_phone": phone,
        **_managers(w),
    })


MANAGER_SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱")


def _managers(w: _World) -> dict[str, pa.Array]:
    """Channel managers: two per region (three in the largest), partners spread over them by index.

    Deterministic (no draw from the generator), so adding managers leaves every other table unchanged.
    manager_id is 'M' + region number + letter (e.g. 'M1A'); manager_name is personal data (never shown).
    """
    counts = np.bincount(w.region, minlength=len(REGIONS))
    per_region = np.where(counts == counts.max(), 3, 2)
    k = (np.arange(w.n) * 7919) % per_region[w.region]
    ids = np.array([f"M{r + 1}{chr(65 + j)}" for r, j in zip(w.region, k, strict=True)], dtype=object)
    names = np.array([f"{MANAGER_SURNAMES[(3 * r + j) % len(MANAGER_SURNAMES)]}经理"
                      for r, j in zip(w.region, k, strict=True)], dtype=object)
    return {"manager_id": pa.array(ids.tolist(), type=pa.string()),
            "manager_name": pa.array(names.tolist(), type=pa.string())}


def _truth_tables(w: _World, pid: pa.Array, params: dict[str, object]) -> dict[str, pd.DataFrame]:
    """truth.partners, truth.partner_month, truth.params and truth.action_effects (see the module docstring)."""
    n, T = w.n, w.T
    pm_p = np.repeat(np.arange(n), T)
    pm_t = np.tile(np.arange(T), n)
    partner_month = pa.table({
        "partner_id": pc.take(pid, pa.array(pm_p)),
        "month": _to_datetime(w.month_start[pm_t]),
        "alive": w.alive.ravel(),
        "health": w.health.ravel(),
        "hazard": w.hazard.ravel(),
        "rate_pp": w.rate_t.ravel().astype(float),
        "expected_sales_cny": (w.expected * w.alive).ravel(),
        "satisfaction": w.satisfaction.ravel(),
        "shortfall_cny": w.shortfall.ravel(),
        "open_conflicts": w.open_conf.ravel().astype(np.int64),
        "action_on": w.action_on.ravel(),
        "segment": _pick(SEGMENTS, w.seg[pm_p]),
    }).to_pandas()
    churned = w.churn_t >= 0
    partners = pa.table({
        "partner_id": pid,
        "segment": _pick(SEGMENTS, w.seg),
        "size": w.size,
        "churn_month": _to_datetime(w.month_start[np.maximum(w.churn_t, 0)], ~churned),
        "treated_action": _pick(list(ACTION_EFFECTS), np.where(w.applied, w.a_type, -1)),
        "treated_month": _to_datetime(w.month_start[w.a_month], ~w.applied),
        "underpaid": w.underpaid,
    }).to_pandas()
    return {
        "partners": partners,
        "partner_month": partner_month,
        "params": pd.DataFrame({"key": list(params), "value": [str(v) for v in params.values()]}),
        "action_effects": pd.DataFrame({"action_type": list(ACTION_EFFECTS),
                                        "effect_log": [float(v) for v in ACTION_EFFECTS.values()]}),
    }


def _order_lines(rng: np.random.Generator, o_p: np.ndarray, o_off: np.ndarray, o_ret: np.ndarray,
                 o_cents: np.ndarray, *, seg: np.ndarray, channel: np.ndarray, mix: np.ndarray, pid: pa.Array,
                 window_start: int, n_lines: np.ndarray | None = None) -> pd.DataFrame:
    """The orders table: split each order (partner index, day offset in the window, return flag, cents) into lines.

    Orders are numbered by date; each gets 1-4 lines (returns 1) with product lines drawn from the
    partner's mix; line cents add up exactly to the order's cents. Money in CNY rounded to 0.01.
    """
    order = np.argsort(o_off.astype(np.int16 if o_off.size == 0 or o_off.max() < 32_000 else np.int32),
                       kind="stable")
    o_p, o_off, o_ret, o_cents = o_p[order], o_off[order], o_ret[order], o_cents[order]
    if n_lines is not None:  # given per order (realistic mode), in the orders' input order
        n_lines = np.asarray(n_lines, dtype=np.int64)[order]
    del order
    n_orders = len(o_p)
    if n_lines is None:
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
    order_id = _ids("O", line_order + 1, 9, line=line_no + 1)
    del line_no
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


def build_demo_store(db: str | Path, *, partners: int = 2000, months: int = 36, seed: int = 42,
                     mode: str = "realistic") -> str:
    """Generate the network, ingest it through the validated path into a fresh store at `db`, write truth.

    Replaces any existing file at `db`. mode: "realistic" (the demo's default: as hard as real exports) or
    "easy" (clean planted truth for unit tests; see `generate`). Returns a one-line
    summary (rows per table, seconds).
    """
    from workbench.ingest import ingest_frame
    from workbench.store import connect, raw_connection

    t0 = time.perf_counter()
    end = date(2026, 9, 30)
    net = generate(partners=partners, months=months, seed=seed, end=end, mode=mode)
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
# Realistic mode: a world as hard as real data (generate(mode="realistic")); calibrated in docs/synth.md
# ---------------------------------------------------------------------------------------------

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
    seg = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_WEIGHTS)
    region = rng.choice(len(REGIONS), size=n, p=REGION_WEIGHTS)
    city_count = np.array([len(REGION_CITIES[x]) for x in REGIONS])
    city_offset = np.cumsum(city_count) - city_count
    city_idx = city_offset[region] + np.floor(rng.random(n) * city_count[region]).astype(np.int64)
    channel = _sample_rows(rng, CHANNEL_P, seg)
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
