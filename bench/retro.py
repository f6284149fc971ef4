"""Benchmark: the action-effect event study (stacked DiD with partner and month fixed effects) on the
synthetic network at a few sizes, and the forecast backtest. Prints time, peak memory and the
estimates against the planted truth.

Run: .venv/bin/python bench/retro.py [--partners 2000 10000]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd

from workbench import retro, synth


def _panel(orders: pd.DataFrame) -> pd.DataFrame:
    month = pd.to_datetime(orders["order_date"]).dt.to_period("M").dt.to_timestamp()
    p = orders.assign(month=month, net_sales_cny=orders["net_amount"].astype(float))
    return p.groupby(["partner_id", "month"], as_index=False)["net_sales_cny"].sum()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--partners", type=int, nargs="+", default=[2000, 10000])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--db", default=None, help="also time kpi_table and build_retrospective on this store")
    ap.add_argument("--quarter", default="2026Q3")
    args = ap.parse_args()
    if args.db:
        from workbench import store

        con = store.connect(args.db, read_only=True)
        for name, call in (("kpi_table", lambda: retro.kpi_table(con, quarter=args.quarter)),
                           ("build_retrospective", lambda: retro.build_retrospective(con, quarter=args.quarter))):
            t0, c0 = time.perf_counter(), time.process_time()
            call()
            print(f"{name} on {args.db} ({args.quarter}): {time.perf_counter() - t0:.1f} s wall, "
                  f"{time.process_time() - c0:.1f} s CPU")
    from workbench.synth.actions import monthly_panel

    for n in args.partners:
        net = synth.generate(partners=n, months=36, seed=args.seed)
        panel = monthly_panel(net.tables)  # the store's rows: onboarding to exit, zero months kept
        t0, c0 = time.perf_counter(), time.process_time()
        eff, es = retro.action_effects(panel, net.tables["actions"])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        naive = retro.naive_before_after(panel, net.tables["actions"])
        truth = net.truth["action_effects"].set_index("action_type")["effect_log"]
        e = eff.merge(naive, on="action_type")
        e["truth"] = e["action_type"].map(truth)
        e["covered"] = (e["ci_low"] <= e["truth"]) & (e["truth"] <= e["ci_high"])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\n{n:,} partners x 36 months: {len(panel):,} partner-months, "
              f"{int(e['n_obs'].sum()):,} stacked rows over {len(e)} action types")
        print(f"  action_effects: {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS {peak:,.0f} MB (process)")
        cols = ["action_type", "truth", "effect_log", "ci_low", "ci_high", "covered", "naive_log", "pretrend_p",
                "n_treated"]
        print(e[cols].round(3).to_string(index=False))
        print(f"  mean |DiD - truth| {np.mean(np.abs(e['effect_log'] - e['truth'])):.3f}, "
              f"mean |naive - truth| {np.mean(np.abs(e['naive_log'] - e['truth'])):.3f}")
        sales = retro.monthly_sales(panel)
        t0 = time.perf_counter()
        bt = retro.backtest_forecast(sales, horizon=3, origins=4)
        print(f"  forecast backtest ({time.perf_counter() - t0:.2f} s): "
              + ", ".join(f"{r.method} MAPE {100 * r.mape:.1f}% RMSE {r.rmse:,.0f}" for r in bt.itertuples()))


if __name__ == "__main__":
    main()
