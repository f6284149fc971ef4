"""Benchmark: partner_snapshot (Ibis on DuckDB) vs hand-written DuckDB SQL vs a pandas groupby.

Usage: .venv/bin/python bench/features.py [--rows 10000000] [--partners 20000] [--repeat 5] [--pandas-repeat 1]
       [--db PATH] [--methods ibis,sql,pandas]

Generates a store with --rows order lines (numpy, written straight into DuckDB) plus proportionate
partners, surveys, trainings, conflicts, rebate ledger, actions and coverage; then, in one run,
computes the same partner snapshot three ways, each in a fresh subprocess whose peak memory is its
own (VmHWM read by the worker after exec; the store is generated in another subprocess, so the parent
stays small too):

  ibis      workbench.features.partner_snapshot(con, as_of=...).to_pandas()
  sql       one hand-written DuckDB query computing the same columns -> .df()  (the practical limit)
  pandas    read the tables into pandas, then groupby                           (what an analyst writes)

Wall time is measured inside the worker from "connect" to "DataFrame in hand" (interpreter start
and imports excluded, reading the data included), and so is CPU time over all threads. Runs of the
methods are interleaved; the Ibis/SQL ratio is the median over rounds of (ibis run / adjacent sql
run), which stays meaningful on a busy machine; best-of and CPU-time ratios are printed too. The three results are checked to agree column by column.
Targets (issue 3): ibis within 1.3x of hand SQL, at least 5x faster than pandas, peak memory < 3 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

AS_OF = dt.date(2026, 6, 30)
START = dt.date(2023, 10, 1)
END = dt.date(2026, 9, 30)
SEED = 20261127
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# ---------------------------------------------------------------------------------------------
# data generation
# ---------------------------------------------------------------------------------------------


def _days(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def generate(db: Path, *, rows: int, partners: int, seed: int = SEED) -> None:
    """Write a synthetic store with `rows` order lines into `db` (numpy, vectorised)."""
    import pyarrow as pa

    from workbench import store

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    if db.exists():
        db.unlink()
    con = store.connect(db)
    raw = store.raw_connection(con)
    n = partners
    pid = np.array([f"P{i:06d}" for i in range(n)])
    onboard = rng.integers(_days(dt.date(2015, 1, 1)), _days(dt.date(2026, 9, 1)), n)
    exited = rng.random(n) < 0.06
    exit_day = np.where(exited, onboard + rng.integers(60, 4000, n), -1)
    exit_day = np.where(exit_day > _days(END), -1, exit_day)
    regions = np.array(["East", "North", "South", "West", "Central", "Southwest", "Northeast"])
    channels = np.array(["distributor", "wholesaler", "dealer", "retailer", "ecommerce", "key_account", "other"])
    def as_date(d: np.ndarray) -> np.ndarray:
        return np.asarray(d, dtype="datetime64[D]")

    partners_tab = pa.table({
        "partner_id": pid,
        "name": np.char.add("Partner ", pid),
        "region": regions[rng.integers(0, len(regions), n)],
        "channel_type": channels[rng.integers(0, len(channels), n)],
        "onboard_date": pa.array(as_date(onboard), pa.date32()),
        "exit_date": pa.array(as_date(np.where(exit_day < 0, 0, exit_day)), pa.date32(), mask=exit_day < 0),
    })
    raw.register("p_src", partners_tab)
    raw.execute("INSERT INTO partners (partner_id, name, region, channel_type, onboard_date, exit_date)"
                " SELECT * FROM p_src")
    raw.unregister("p_src")

    # order headers (partner, day), 1-6 lines each; partners buy inside their own active span
    lo = np.maximum(onboard, _days(START))
    hi = np.where(exit_day < 0, _days(END), np.minimum(exit_day - 1, _days(END)))
    alive = hi >= lo
    weight = rng.lognormal(0.0, 1.0, n) * alive
    # some partners stop buying before the end (churners)
    stop = rng.random(n) < 0.15
    hi = np.where(stop & alive, lo + ((hi - lo) * rng.random(n)).astype(np.int64), hi)
    lines_per_order = 1 + np.minimum(rng.poisson(2.0, rows // 2), 5)
    cum = np.cumsum(lines_per_order)
    n_orders = int(np.searchsorted(cum, rows) + 1)
    lines_per_order = lines_per_order[:n_orders]
    lines_per_order[-1] -= int(cum[n_orders - 1] - rows)
    op = rng.choice(n, size=n_orders, p=weight / weight.sum())
    oday = lo[op] + (rng.random(n_orders) * (hi[op] - lo[op] + 1)).astype(np.int64)
    lp = np.repeat(op, lines_per_order)
    lday = np.repeat(oday, lines_per_order)
    assert len(lp) == rows
    product = rng.integers(0, 6, rows).astype(np.int8)
    amount = np.round(rng.lognormal(7.0, 1.0, rows), 2)
    discount = rng.uniform(0.0, 0.25, rows)
    list_amount = np.round(amount / (1 - discount), 2)
    is_return = rng.random(rows) < 0.02
    amount = np.where(is_return, -amount, amount)
    lines = np.array(["phones", "accessories", "home_appliances", "smart_home", "online_bundle", "parts"])
    orders_tab = pa.table({
        "i": np.arange(rows, dtype=np.int64),
        "p": lp.astype(np.int32),
        "order_date": pa.array(lday.astype("datetime64[D]"), pa.date32()),
        "pl": product,
        "net_amount": amount,
        "list_amount": pa.array(list_amount, mask=rng.random(rows) < 0.03),
        "is_return": is_return,
    })
    raw.register("o_src", orders_tab)
    raw.register("pid_map", pa.table({"p": np.arange(n, dtype=np.int32), "partner_id": pid}))
    raw.register("pl_map", pa.table({"pl": np.arange(6, dtype=np.int8), "product_line": lines}))
    # the bench table keeps the contract's columns and types but skips the primary-key index
    raw.execute("DROP TABLE orders")
    raw.execute("""
        CREATE TABLE orders AS
        SELECT 'O' || lpad(CAST(o.i AS VARCHAR), 9, '0') AS order_id, m.partner_id, o.order_date,
               l.product_line, CAST(1 AS DOUBLE) AS quantity, CAST(o.net_amount AS DECIMAL(18,2)) AS net_amount,
               CAST(o.list_amount AS DECIMAL(18,2)) AS list_amount, o.is_return
        FROM o_src o JOIN pid_map m USING (p) JOIN pl_map l USING (pl)
        ORDER BY o.order_date""")
    for v in ("o_src", "pid_map", "pl_map"):
        raw.unregister(v)

    # the other tables, proportionate
    def ids(prefix: str, k: int) -> np.ndarray:
        return np.char.add(prefix, np.arange(k).astype(str))

    def rand_days(k: int, a: dt.date, b: dt.date) -> np.ndarray:
        return rng.integers(_days(a), _days(b) + 1, k)

    k = n * 6
    sp = rng.integers(0, n, k)
    raw.register("s_src", pa.table({
        "survey_id": ids("S", k), "partner_id": pid[sp],
        "survey_date": pa.array(rand_days(k, START, END).astype("datetime64[D]"), pa.date32()),
        "satisfaction": np.round(rng.normal(70, 10, k).clip(0, 100)),
    }))
    raw.execute("INSERT INTO surveys (survey_id, partner_id, survey_date, satisfaction) SELECT * FROM s_src")
    k = n * 2
    tp = rng.integers(0, n, k)
    raw.register("t_src", pa.table({
        "training_id": ids("T", k), "partner_id": pid[tp],
        "training_date": pa.array(rand_days(k, START, END).astype("datetime64[D]"), pa.date32()),
        "passed": rng.random(k) < 0.8,
    }))
    raw.execute("INSERT INTO trainings (training_id, partner_id, training_date, passed) SELECT * FROM t_src")
    k = n // 2
    cp = rng.integers(0, n, k)
    rep = rand_days(k, START, END)
    res = rep + rng.integers(1, 200, k)
    raw.register("c_src", pa.table({
        "conflict_id": ids("C", k),
        "reported_date": pa.array(rep.astype("datetime64[D]"), pa.date32()),
        "partner_id": pid[cp], "conflict_type": np.array(["price", "territory"])[rng.integers(0, 2, k)],
        "severity": rng.integers(1, 4, k).astype(np.int32),
        "resolved_date": pa.array(res.astype("datetime64[D]"), pa.date32(), mask=rng.random(k) < 0.3),
    }))
    raw.execute("INSERT INTO conflicts (conflict_id, reported_date, partner_id, conflict_type, severity, resolved_date)"
                " SELECT * FROM c_src")
    qs = pd.period_range(START, END, freq="Q")
    ip = np.repeat(np.arange(n), len(qs))
    qi = np.tile(np.arange(len(qs)), n)
    k = len(ip)
    pe = np.array([_days(q.end_time.date()) for q in qs])[qi]
    ps = np.array([_days(q.start_time.date()) for q in qs])[qi]
    due = np.round(rng.lognormal(8, 1, k), 2)
    paid = np.where(rng.random(k) < 0.1, np.round(due * rng.uniform(0.5, 1, k), 2), due)
    raw.register("i_src", pa.table({
        "incentive_id": ids("I", k), "partner_id": pid[ip], "program": np.full(k, "volume_rebate"),
        "period_start": pa.array(ps.astype("datetime64[D]"), pa.date32()),
        "period_end": pa.array(pe.astype("datetime64[D]"), pa.date32()),
        "amount_due": due, "amount_paid": paid,
        "paid_date": pa.array((pe + rng.integers(10, 80, k)).astype("datetime64[D]"), pa.date32()),
    }))
    raw.execute("INSERT INTO incentives BY NAME SELECT * FROM i_src")
    k = n
    ap = rng.integers(0, n, k)
    raw.register("a_src", pa.table({
        "action_id": ids("A", k), "partner_id": pid[ap],
        "action_date": pa.array(rand_days(k, START, END).astype("datetime64[D]"), pa.date32()),
        "action_type": np.array(["visit", "training", "incentive"])[rng.integers(0, 3, k)],
    }))
    raw.execute("INSERT INTO actions (action_id, partner_id, action_date, action_type) SELECT * FROM a_src")
    months = pd.date_range(START, END, freq="MS")
    cvp = np.repeat(np.arange(n), len(months))
    raw.register("v_src", pa.table({
        "partner_id": pid[cvp],
        "month": pa.array(np.tile(months.values.astype("datetime64[D]"), n), pa.date32()),
        "active_outlets": rng.poisson(6, len(cvp)).astype(float),
    }))
    raw.execute("INSERT INTO coverage BY NAME SELECT * FROM v_src")
    raw.execute("CHECKPOINT")
    counts = store.row_counts(con)
    con.disconnect()
    print(f"generated {db} in {time.perf_counter() - t0:.1f} s: "
          + ", ".join(f"{k} {v:,}" for k, v in counts.items() if v))


# ---------------------------------------------------------------------------------------------
# (a) hand-written DuckDB SQL
# ---------------------------------------------------------------------------------------------


def hand_sql(as_of: dt.date) -> str:
    """One DuckDB query computing partner_snapshot's columns (same definitions, written by hand)."""
    a = f"DATE '{as_of}'"
    b90, b180, b365 = (f"DATE '{as_of - dt.timedelta(days=k)}'" for k in (90, 180, 365))
    last_month = as_of.replace(day=1) if (as_of + dt.timedelta(days=1)).day == 1 else \
        (as_of.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    first = (pd.Period(last_month, "M") - 5).start_time.date()
    end6 = (pd.Period(last_month, "M")).end_time.date()
    base = first.year * 12 + first.month
    return f"""
WITH p AS (
  SELECT partner_id, name, region, province, city, channel_type, onboard_date FROM partners
  WHERE onboard_date <= {a} AND (exit_date IS NULL OR exit_date > {a})),
o AS NOT MATERIALIZED (  -- inline the line filter into each consumer, never spool 10M rows
  SELECT partner_id, order_date, product_line, net_amount::DOUBLE AS amt, list_amount::DOUBLE AS lst,
         coalesce(is_return, false) OR net_amount < 0 AS ret
  FROM orders WHERE order_date <= {a}),
hist AS (  -- full history, two cheap maxima per partner
  SELECT partner_id, max(order_date) AS last_order_date,
         max(order_date) FILTER (order_date <= {b365}) AS prev_order_date
  FROM o WHERE NOT ret GROUP BY partner_id),
daily AS (  -- the last 365 days: partner-day sums
  SELECT partner_id, order_date, sum(amt) AS net, sum(amt) FILTER (NOT ret) AS gross,
         sum(-amt) FILTER (ret) AS rets, sum(lst) FILTER (NOT ret AND lst > 0) AS lst,
         sum(amt) FILTER (NOT ret AND lst > 0) AS net_listed, count(*) FILTER (NOT ret) AS n_lines
  FROM o WHERE order_date > {b365} GROUP BY ALL),
d AS (  -- gap to the previous order day (return-only days are their own partition)
  SELECT daily.*, CASE WHEN n_lines > 0 THEN order_date - coalesce(
           lag(order_date) OVER (PARTITION BY partner_id, n_lines > 0 ORDER BY order_date), hist.prev_order_date) END AS gap
  FROM daily LEFT JOIN hist USING (partner_id)),
da AS (
  SELECT partner_id,
    count(*) FILTER (n_lines > 0 AND order_date > {b90}) AS orders_90d,
    count(*) FILTER (n_lines > 0 AND order_date > {b180}) AS orders_180d,
    count(*) FILTER (n_lines > 0) AS orders_365d,
    count(DISTINCT date_trunc('month', order_date)) FILTER (n_lines > 0 AND order_date > {b90}) AS active_months_90d,
    count(DISTINCT date_trunc('month', order_date)) FILTER (n_lines > 0 AND order_date > {b180}) AS active_months_180d,
    count(DISTINCT date_trunc('month', order_date)) FILTER (n_lines > 0) AS active_months_365d,
    median(gap::DOUBLE) AS cycle,
    sum(n_lines) AS order_lines_365d,
    sum(net) FILTER (order_date > {b90}) AS net_sales_90d_cny,
    sum(net) FILTER (order_date > {b180}) AS net_sales_180d_cny,
    sum(net) AS net_sales_365d_cny,
    sum(net) FILTER (order_date > {b180} AND order_date <= {b90}) AS net_sales_prev_90d_cny,
    sum(gross) AS gross_365,
    sum(rets) AS returns_365,
    sum(lst) AS list_365,
    sum(net_listed) AS net_listed_365,
    sum(net * ((year(order_date) * 12 + month(order_date) - {base}) - 2.5) / 17.5)
      FILTER (order_date BETWEEN DATE '{first}' AND DATE '{end6}') AS slope
  FROM d GROUP BY partner_id),
pl AS (
  SELECT partner_id, count(product_line) AS product_lines_365d
  FROM (SELECT DISTINCT partner_id, product_line FROM orders  -- straight from the table: no shared CTE
        WHERE order_date > {b365} AND order_date <= {a} AND NOT (coalesce(is_return, false) OR net_amount < 0))
  GROUP BY partner_id),
sv AS (
  SELECT partner_id, max(satisfaction) FILTER (rn = 1) AS sat_last, max(satisfaction) FILTER (rn = 2) AS sat_prev,
         max(survey_date) AS last_survey
  FROM (SELECT partner_id, survey_date, satisfaction::DOUBLE AS satisfaction,
               row_number() OVER (PARTITION BY partner_id ORDER BY survey_date DESC, survey_id DESC) AS rn
        FROM surveys WHERE survey_date <= {a})
  GROUP BY partner_id),
tr AS (
  SELECT partner_id, count(*) AS n, count(*) FILTER (coalesce(passed, false)) AS passed FROM trainings
  WHERE training_date > {b365} AND training_date <= {a} GROUP BY partner_id),
cf AS (
  SELECT partner_id, count(*) FILTER (resolved_date IS NULL OR resolved_date > {a}) AS open_,
         count(*) FILTER (reported_date > {b365}) AS n365
  FROM conflicts WHERE reported_date <= {a} GROUP BY partner_id),
rb AS (
  SELECT partner_id, sum(amount_due::DOUBLE) AS due,
         sum(CASE WHEN paid_date IS NULL OR paid_date <= {a} THEN coalesce(amount_paid::DOUBLE, 0) ELSE 0 END) AS paid
  FROM incentives WHERE period_end < {a} GROUP BY partner_id),
cv AS (
  SELECT partner_id, arg_max(active_outlets::DOUBLE, month) AS active_outlets
  FROM coverage WHERE month <= {a} GROUP BY partner_id),
ac AS (
  SELECT partner_id, count(*) FILTER (action_date > {b90}) AS n90, count(*) AS n365
  FROM actions WHERE action_date > {b365} AND action_date <= {a} GROUP BY partner_id)
SELECT p.partner_id, p.name, p.region, p.province, p.city, p.channel_type, p.onboard_date,
  {a} AS as_of,
  {a} - p.onboard_date AS tenure_days,
  hist.last_order_date,
  {a} - hist.last_order_date AS recency_days,
  coalesce({a} - hist.last_order_date < 180, false) AS active_180d,
  coalesce(da.orders_90d, 0) AS orders_90d, coalesce(da.orders_180d, 0) AS orders_180d,
  coalesce(da.orders_365d, 0) AS orders_365d, coalesce(da.order_lines_365d, 0) AS order_lines_365d,
  coalesce(da.active_months_90d, 0) AS active_months_90d, coalesce(da.active_months_180d, 0) AS active_months_180d,
  coalesce(da.active_months_365d, 0) AS active_months_365d,
  coalesce(da.net_sales_90d_cny, 0) AS net_sales_90d_cny, coalesce(da.net_sales_180d_cny, 0) AS net_sales_180d_cny,
  coalesce(da.net_sales_365d_cny, 0) AS net_sales_365d_cny,
  coalesce(da.net_sales_prev_90d_cny, 0) AS net_sales_prev_90d_cny,
  CASE WHEN da.net_sales_prev_90d_cny > 0 THEN coalesce(da.net_sales_90d_cny, 0) / da.net_sales_prev_90d_cny END
    AS sales_trend_90d_ratio,
  coalesce(da.slope, 0) AS sales_slope_6m_cny_per_month,
  CASE WHEN da.orders_365d > 0 THEN coalesce(da.gross_365, 0) / da.orders_365d END AS avg_order_value_365d_cny,
  da.cycle AS order_cycle_median_days,
  CASE WHEN da.cycle > 0 THEN ({a} - hist.last_order_date) / da.cycle END AS overdue_ratio,
  coalesce(pl.product_lines_365d, 0) AS product_lines_365d,
  coalesce(da.gross_365, 0) AS gross_sales_365d_cny, coalesce(da.returns_365, 0) AS returns_365d_cny,
  CASE WHEN da.gross_365 > 0 THEN coalesce(da.returns_365, 0) / da.gross_365 END AS return_rate_365d,
  CASE WHEN da.list_365 > 0 THEN 1 - da.net_listed_365 / da.list_365 END AS discount_depth_365d,
  sv.sat_last AS satisfaction_last, sv.sat_last - sv.sat_prev AS satisfaction_change,
  {a} - sv.last_survey AS days_since_survey,
  coalesce(tr.n, 0) AS trainings_365d, CASE WHEN tr.n > 0 THEN tr.passed / tr.n END AS training_pass_rate_365d,
  coalesce(cf.open_, 0) AS conflicts_open, coalesce(cf.n365, 0) AS conflicts_365d,
  coalesce(rb.due, 0) AS rebate_due_cny, coalesce(rb.paid, 0) AS rebate_paid_cny,
  coalesce(rb.due, 0) - coalesce(rb.paid, 0) AS rebate_shortfall_cny,
  cv.active_outlets,
  coalesce(ac.n90, 0) AS actions_90d, coalesce(ac.n365, 0) AS actions_365d
FROM p
LEFT JOIN hist USING (partner_id) LEFT JOIN da USING (partner_id) LEFT JOIN pl USING (partner_id) LEFT JOIN sv USING (partner_id)
LEFT JOIN tr USING (partner_id) LEFT JOIN cf USING (partner_id) LEFT JOIN rb USING (partner_id)
LEFT JOIN cv USING (partner_id) LEFT JOIN ac USING (partner_id)
ORDER BY p.partner_id
"""


# ---------------------------------------------------------------------------------------------
# (b) pandas, the way an analyst would write it
# ---------------------------------------------------------------------------------------------


def pandas_snapshot(raw, as_of: dt.date) -> pd.DataFrame:
    """Read the tables into pandas, then compute the snapshot columns with groupby."""
    read = lambda t: raw.execute(f"SELECT * FROM {t}").df()  # noqa: E731
    partners, orders = read("partners"), read("orders")
    surveys, trainings, conflicts = read("surveys"), read("trainings"), read("conflicts")
    incentives, coverage, actions = read("incentives"), read("coverage"), read("actions")
    A = pd.Timestamp(as_of)
    b90, b180, b365 = (A - pd.Timedelta(days=k) for k in (90, 180, 365))

    p = partners[(partners.onboard_date <= A) & (partners.exit_date.isna() | (partners.exit_date > A))]
    p = p[["partner_id", "name", "region", "province", "city", "channel_type", "onboard_date"]].copy()

    o = orders[orders.order_date <= A].copy()
    o["amt"] = o.net_amount.astype(float)
    o["lst"] = o.list_amount.astype(float)
    o["ret"] = o.is_return.fillna(False).astype(bool) | (o.amt < 0)
    nr = o[~o.ret]
    r365 = o[o.order_date > b365]
    nr365 = nr[nr.order_date > b365]
    g = o.groupby("partner_id")
    feats = pd.DataFrame({
        "net_sales_90d_cny": o[o.order_date > b90].groupby("partner_id").amt.sum(),
        "net_sales_180d_cny": o[o.order_date > b180].groupby("partner_id").amt.sum(),
        "net_sales_365d_cny": r365.groupby("partner_id").amt.sum(),
        "net_sales_prev_90d_cny": o[(o.order_date > b180) & (o.order_date <= b90)].groupby("partner_id").amt.sum(),
        "order_lines_365d": nr365.groupby("partner_id").size(),
        "gross_sales_365d_cny": nr365.groupby("partner_id").amt.sum(),
        "returns_365d_cny": -r365[r365.ret].groupby("partner_id").amt.sum(),
        "product_lines_365d": nr365.groupby("partner_id").product_line.nunique(),
    }, index=g.size().index)
    listed = nr365[nr365.lst > 0]
    lg = listed.groupby("partner_id")
    feats["discount_depth_365d"] = 1 - lg.amt.sum() / lg.lst.sum()
    last_month = pd.Period(as_of, "M") if (as_of + dt.timedelta(days=1)).day == 1 else pd.Period(as_of, "M") - 1
    first = last_month - 5
    six = o[(o.order_date >= first.start_time) & (o.order_date <= last_month.end_time)].copy()
    six["x"] = six.order_date.dt.year * 12 + six.order_date.dt.month - (first.year * 12 + first.month)
    six["w"] = six.amt * (six.x - 2.5) / 17.5
    feats["sales_slope_6m_cny_per_month"] = six.groupby("partner_id").w.sum()

    days = nr[["partner_id", "order_date"]].drop_duplicates().sort_values(["partner_id", "order_date"])
    days["gap"] = days.groupby("partner_id").order_date.diff().dt.days
    days["month"] = days.order_date.dt.to_period("M")
    dg = days.groupby("partner_id")
    dfe = pd.DataFrame({"last_order_date": dg.order_date.max()})
    for k, b in ((90, b90), (180, b180), (365, b365)):
        w = days[days.order_date > b].groupby("partner_id")
        dfe[f"orders_{k}d"] = w.size()
        dfe[f"active_months_{k}d"] = w.month.nunique()
    dfe["order_cycle_median_days"] = days[days.order_date > b365].groupby("partner_id").gap.median()

    s = surveys[surveys.survey_date <= A].sort_values(["partner_id", "survey_date", "survey_id"],
                                                       ascending=[True, False, False])
    sg = s.groupby("partner_id")
    sv = pd.DataFrame({"satisfaction_last": sg.satisfaction.nth(0).set_axis(sg.head(1).partner_id.values),
                       "_last_survey": sg.survey_date.max()})
    prev = sg.nth(1)
    sv["_prev"] = prev.set_index("partner_id").satisfaction
    t = trainings[(trainings.training_date > b365) & (trainings.training_date <= A)]
    tg = t.groupby("partner_id")
    tr = pd.DataFrame({"trainings_365d": tg.size(), "_passed": tg.passed.apply(lambda x: x.fillna(False).sum())})
    c = conflicts[conflicts.reported_date <= A]
    cf = pd.DataFrame({
        "conflicts_open": (c.resolved_date.isna() | (c.resolved_date > A)).groupby(c.partner_id).sum(),
        "conflicts_365d": (c.reported_date > b365).groupby(c.partner_id).sum(),
    })
    i = incentives[incentives.period_end < A].copy()
    i["due"] = i.amount_due.astype(float)
    i["paid"] = np.where(i.paid_date.isna() | (i.paid_date <= A), i.amount_paid.astype(float).fillna(0), 0.0)
    rb = i.groupby("partner_id")[["due", "paid"]].sum()
    cv = coverage[coverage.month <= A].sort_values("month").groupby("partner_id").active_outlets.last()
    ac = actions[(actions.action_date > b365) & (actions.action_date <= A)]
    acf = pd.DataFrame({"actions_90d": (ac.action_date > b90).groupby(ac.partner_id).sum(),
                        "actions_365d": ac.groupby("partner_id").size()})

    out = p.set_index("partner_id").join([feats, dfe, sv, tr, cf, rb, acf]).join(cv.rename("active_outlets"))
    out["as_of"] = A
    out["tenure_days"] = (A - out.onboard_date).dt.days
    out["recency_days"] = (A - out.last_order_date).dt.days
    out["active_180d"] = out.recency_days < 180
    zero = ["orders_90d", "orders_180d", "orders_365d", "order_lines_365d", "active_months_90d",
            "active_months_180d", "active_months_365d", "net_sales_90d_cny", "net_sales_180d_cny",
            "net_sales_365d_cny", "net_sales_prev_90d_cny", "sales_slope_6m_cny_per_month", "product_lines_365d",
            "gross_sales_365d_cny", "returns_365d_cny", "trainings_365d", "conflicts_open", "conflicts_365d",
            "due", "paid", "actions_90d", "actions_365d"]
    out[zero] = out[zero].fillna(0)
    pos = lambda x: x.where(x > 0)  # noqa: E731
    out["sales_trend_90d_ratio"] = out.net_sales_90d_cny / pos(out.net_sales_prev_90d_cny)
    out["avg_order_value_365d_cny"] = out.gross_sales_365d_cny / pos(out.orders_365d)
    out["overdue_ratio"] = out.recency_days / pos(out.order_cycle_median_days)
    out["return_rate_365d"] = out.returns_365d_cny / pos(out.gross_sales_365d_cny)
    out["satisfaction_change"] = out.satisfaction_last - out._prev
    out["days_since_survey"] = (A - out._last_survey).dt.days
    out["training_pass_rate_365d"] = out._passed / pos(out.trainings_365d)
    out = out.rename(columns={"due": "rebate_due_cny", "paid": "rebate_paid_cny"})
    out["rebate_shortfall_cny"] = out.rebate_due_cny - out.rebate_paid_cny
    from workbench.features import SNAPSHOT_COLUMNS

    return out.reset_index()[list(SNAPSHOT_COLUMNS)].sort_values("partner_id").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# workers and driver
# ---------------------------------------------------------------------------------------------


def worker(method: str, db: Path, out: Path | None) -> None:
    """Compute the snapshot one way and print {"seconds": ..., "rows": ...} as JSON."""
    import duckdb
    import ibis

    from workbench import features, store

    ibis.duckdb  # noqa: B018  (load the backend module now: imports are excluded for every method)
    t0, c0 = time.perf_counter(), time.process_time()
    if method == "ibis":
        con = store.connect(db, read_only=True)
        df = features.partner_snapshot(con, as_of=AS_OF).to_pandas()
    elif method == "sql":
        raw = duckdb.connect(str(db), read_only=True)
        df = raw.execute(hand_sql(AS_OF)).df()
    elif method == "pandas":
        raw = duckdb.connect(str(db), read_only=True)
        df = pandas_snapshot(raw, AS_OF)
    else:
        raise SystemExit(f"unknown method {method}")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    if out is not None:
        df.to_parquet(out)
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rows": len(df), "peak_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's own peak resident memory in MB: VmHWM of /proc/self/status (Linux).

    Not ``ru_maxrss``: after fork+exec a child's ru_maxrss starts at the parent's high-water mark, so
    a worker started from a parent that once held a big store reports the parent's peak. VmHWM
    belongs to the address space exec created, so it is the worker's own. Falls back to ru_maxrss
    where /proc is absent.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_worker(method: str, db: Path, out: Path | None) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds over all threads, peak RSS in MB, rows) of one worker subprocess."""
    cmd = [sys.executable, __file__, "--worker", method, "--db", str(db)]
    if out is not None:
        cmd += ["--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{method} worker failed:\n{proc.stderr[-3000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return res["seconds"], res["cpu"], res["peak_mb"], res["rows"]


def compare(frames: dict[str, pd.DataFrame]) -> list[str]:
    """Columns on which the methods disagree (numeric tolerance 1e-6 relative)."""
    ref = frames["sql"].sort_values("partner_id").reset_index(drop=True)
    bad = []
    for name, df in frames.items():
        df = df.sort_values("partner_id").reset_index(drop=True)
        if len(df) != len(ref):
            bad.append(f"{name}: {len(df)} rows vs {len(ref)}")
            continue
        for c in ref.columns:
            x, y = ref[c], df[c]
            if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y) and not (
                pd.api.types.is_bool_dtype(x)
            ):
                ok = np.allclose(x.astype(float), y.astype(float), rtol=1e-6, atol=1e-6, equal_nan=True)
            else:
                xs = pd.to_datetime(x) if "date" in c or c == "as_of" else x
                ys = pd.to_datetime(y) if "date" in c or c == "as_of" else y
                ok = bool(((xs == ys) | (pd.isna(xs) & pd.isna(ys))).all())
            if not ok:
                bad.append(f"{name}.{c}")
    return bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--partners", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5, help="runs of ibis and sql (best is reported)")
    ap.add_argument("--pandas-repeat", type=int, default=1, help="runs of pandas (slow)")
    ap.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "workbench_bench_features.duckdb")
    ap.add_argument("--methods", default="ibis,sql,pandas")
    ap.add_argument("--worker")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        generate(args.db, rows=args.rows, partners=args.partners)
        return
    if args.worker:
        worker(args.worker, args.db, args.out)
        return

    import duckdb

    have = 0
    if args.db.exists():
        try:
            with duckdb.connect(str(args.db), read_only=True) as c:
                have = c.execute("SELECT count(*) FROM orders").fetchone()[0]
        except duckdb.Error:
            have = 0
    if have != args.rows:
        # in a subprocess, so this parent stays small (its workers' memory figures are their own anyway)
        subprocess.run([sys.executable, __file__, "--generate", "--rows", str(args.rows),
                        "--partners", str(args.partners), "--db", str(args.db)], check=True)
    else:
        print(f"reusing {args.db} ({have:,} order lines)")

    methods = args.methods.split(",")
    times: dict[str, list[float]] = {m: [] for m in methods}
    cpus: dict[str, list[float]] = {m: [] for m in methods}
    mems: dict[str, list[float]] = {m: [] for m in methods}
    frames: dict[str, pd.DataFrame] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat):
            for m in methods:
                if m == "pandas" and r >= args.pandas_repeat:
                    continue
                out = Path(tmp) / f"{m}.parquet" if r == 0 else None
                s, cpu, mb, rows = run_worker(m, args.db, out)
                times[m].append(s)
                cpus[m].append(cpu)
                mems[m].append(mb)
                print(f"  run {r + 1} {m:<7} {s:7.2f} s  cpu {cpu:7.2f} s  peak {mb:7.0f} MB  rows {rows:,}",
                      flush=True)
                if out is not None:
                    frames[m] = pd.read_parquet(out)
        bad = compare(frames) if "sql" in frames else []

    best = {m: min(v) for m, v in times.items()}
    cpu_best = {m: min(v) for m, v in cpus.items()}
    peak = {m: max(v) for m, v in mems.items()}
    print(f"\npartner_snapshot on {args.rows:,} order lines, {args.partners:,} partners, as_of {AS_OF}"
          f" (best of each method's runs; peak = the worker's own VmHWM)")
    for m in methods:
        print(f"  {m:<7} {best[m]:7.2f} s   cpu {cpu_best[m]:7.2f} s   peak {peak[m]:7.0f} MB   wall runs: "
              + ", ".join(f"{x:.2f}" for x in times[m]))
    if {"ibis", "sql"} <= set(best):
        # runs of the two are adjacent in time, so their ratio is robust to a busy machine
        pairs = [a / b for a, b in zip(times["ibis"], times["sql"], strict=True)]
        paired = float(np.median(pairs))
        ratio = best["ibis"] / best["sql"]
        print(f"  ibis / hand SQL   = {paired:5.2f}x   target <= 1.30x : {'OK' if paired <= 1.3 else 'MISSED'}"
              f"   (median of paired runs, spread {min(pairs):.2f}-{max(pairs):.2f}x; best-of {ratio:.2f}x;"
              f" CPU time {cpu_best['ibis'] / cpu_best['sql']:.2f}x)")
    if {"ibis", "pandas"} <= set(best):
        speed = best["pandas"] / best["ibis"]
        print(f"  pandas / ibis     = {speed:5.2f}x   target >= 5x    : {'OK' if speed >= 5 else 'MISSED'}"
              f"   (CPU time: {cpu_best['pandas'] / cpu_best['ibis']:.2f}x)")
    if "ibis" in peak:
        print(f"  ibis peak memory  = {peak['ibis'] / 1024:5.2f} GB  target < 3 GB   : "
              f"{'OK' if peak['ibis'] < 3072 else 'MISSED'}")
    print("  results agree     : " + ("yes, every column" if not bad else "NO: " + ", ".join(bad)))


if __name__ == "__main__":
    main()
