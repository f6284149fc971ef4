"""Canonical tables of the data contract and the truth tables, built from a finished _World (dates as datetime64, money in CNY rounded to 0.01)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.store import CHANNEL_TYPES
from workbench.synth.params import (
    ACTION_EFFECTS,
    ACTION_NOTES,
    BASE_RATE_PP,
    COMMENTS_HIGH,
    COMMENTS_LOW,
    COMMENTS_MID,
    CONFLICT_TYPES,
    COURSES,
    CURRENT_PROGRAM,
    DISCOUNT_BY_CHANNEL,
    EXTRA_LINES,
    GIVEN,
    NAME_CHARS,
    NAME_SUFFIX,
    OTHER_PROGRAM,
    PHONE_PREFIXES,
    PRODUCT_LINES,
    RATE_SWITCH,
    REGION_CITIES,
    REGIONS,
    SEGMENTS,
    SPECIAL_NAMES,
    SURNAMES,
    UNIT_PRICE_CNY,
)
from workbench.synth.world import (
    _day_in_month,
    _frame,
    _ids,
    _pick,
    _sample_rows,
    _to_datetime,
    _World,
)


def _incentives_table(w: _World, pid: pa.Array) -> pd.DataFrame:
    """The rebate ledger: one row per partner and complete quarter with activity, ordered by partner, quarter;
    rows at the current flat rate name :data:`CURRENT_PROGRAM`, the others :data:`OTHER_PROGRAM`."""
    order = np.lexsort((w.led_q, w.led_p))
    p = w.led_p[order].astype(np.int64)
    q = w.led_q[order].astype(np.int64)
    current = (w.rate_q[p, q] == BASE_RATE_PP[1]) & (w.q_labels.asi8[q] >= RATE_SWITCH.ordinal)
    return _frame("incentives", {
        "incentive_id": _ids("I", np.arange(1, len(p) + 1), 7),
        "partner_id": pc.take(pid, pa.array(p)),
        "program": pa.array(np.where(current, CURRENT_PROGRAM, OTHER_PROGRAM).tolist(), type=pa.string()),
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
        "platform": _platforms(w),
    })


PLATFORMS = ("Tmall", "JD", "Pinduoduo")


def _platforms(w: _World) -> pa.Array:
    """The e-commerce platform of each ecommerce partner (6 in 10 Tmall, 3 JD, 1 Pinduoduo, by index), null
    for the other channel types. Deterministic (no draw), so every other table stays unchanged."""
    k = (np.arange(w.n) * 7919) % 10
    names = np.array(PLATFORMS, dtype=object)[np.where(k < 6, 0, np.where(k < 9, 1, 2))]
    online = w.channel == list(CHANNEL_TYPES).index("ecommerce")
    return pa.array([str(v) if o else None for v, o in zip(names, online, strict=True)], type=pa.string())


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
