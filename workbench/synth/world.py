"""The generator's state and phases: one rng threaded through partner, latent-driver, conflict, order and churn draws that share a _World of arrays (partner i in rows, month t in columns)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.store import TABLES
from workbench.synth.params import (
    ACTION_EFFECTS,
    BASE_RATE_PP,
    BETA_REBATE,
    CHANNEL_P,
    DEALER_CYCLE_DAYS,
    HAZARD,
    HEALTH_PHI,
    HEALTH_SD,
    HEALTH_SD0,
    LUNAR_NEW_YEAR,
    MIX_CONCENTRATION,
    MIX_MEAN,
    ORDER_DAYS_PER_MONTH,
    PILOT_SHARE,
    RATE_SWITCH,
    REGION_CITIES,
    REGION_WEIGHTS,
    REGIONS,
    RETURN_SHARE_OF_ORDERS,
    SAT_SD_PARTNER,
    SEASON_PEAKS,
    SEGMENT_WEIGHTS,
    SEGMENTS,
    SIZE_MEDIAN_CNY,
    SIZE_SIGMA,
    SPRING_FESTIVAL_FACTOR,
    UNDERPAID_QUARTER_P,
    UNDERPAID_SHARE,
)


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


def _draw_segment_region_channel(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Segment, region, city (index into the regions' cities in REGIONS order) and channel of `n` partners."""
    seg = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_WEIGHTS)
    region = rng.choice(len(REGIONS), size=n, p=REGION_WEIGHTS)
    city_count = np.array([len(REGION_CITIES[r]) for r in REGIONS])
    city_offset = np.cumsum(city_count) - city_count
    city_idx = city_offset[region] + np.floor(rng.random(n) * city_count[region]).astype(np.int64)
    return seg, region, city_idx, _sample_rows(rng, CHANNEL_P, seg)


def _draw_partners(rng: np.random.Generator, w: _World) -> None:
    """Segment, region and city, channel, size (CNY/month), product mix and onboarding of every partner."""
    n, T = w.n, w.T
    seg, region, city_idx, channel = _draw_segment_region_channel(rng, n)
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
        if "hazard_extra" in w.arrays:  # planted contact lapses (synth.contacts, opt-in)
            logit = logit + w.arrays["hazard_extra"][:, t]
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
