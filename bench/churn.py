"""Benchmark churn: features + fitting + 6-cutoff backtest for 20,000 partners (target < 60 s) and
scoring 100,000 partners (target < 10 s). Prints wall and CPU seconds.

Usage: .venv/bin/python bench/churn.py [--db STORE] [--partners 20000]
Without --db a synthetic store is generated first (not timed). Scoring 100,000 partners uses the
20,000-partner cutoff frame replicated five times under new ids (model, sales at risk, reasons and
actions); the feature query for 100,000 partners is timed separately when the store holds that many.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pandas as pd

warnings.filterwarnings("ignore")


@contextmanager
def timed(label: str, target: float | None, results: list):
    w0, c0 = time.perf_counter(), time.process_time()
    yield
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    results.append((label, wall, cpu, target))
    flag = "" if target is None else ("  OK" if wall < target else f"  over target {target:.0f} s")
    print(f"{label:<58} {wall:7.1f} s wall {cpu:7.1f} s cpu{flag}", flush=True)


def main() -> None:
    from workbench import churn, store, synth
    from workbench.present import churn as words

    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--partners", type=int, default=20000)
    args = ap.parse_args()
    db = args.db
    if db is None:
        db = Path(tempfile.mkdtemp()) / "bench_churn.duckdb"
        t = time.perf_counter()
        print(synth.build_demo_store(db, partners=args.partners, months=36, seed=11))
        print(f"(store generated in {time.perf_counter() - t:.0f} s, not part of the benchmark)")
    con = store.connect(db, read_only=True)
    n = con.table("partners").count().to_pandas()
    print(f"store {db}: {n:,} partners, {con.table('orders').count().to_pandas():,} order lines")
    results: list = []
    with timed("features + fitting + 6-cutoff backtest + final fit", 60, results):
        with timed("  cutoff frames (10 quarterly cutoffs)", None, results):
            cuts = churn.default_cutoffs(con, horizon_days=90)
            frames = churn.cutoff_frames(con, cuts, horizon_days=90)
        with timed("  backtest (6 scored cutoffs, 3 tuned models + 4 baselines)", None, results):
            bt = churn.run_backtest(frames, horizon_days=90, n_scored=6)
        with timed("  refit winner on the latest cutoffs", None, results):
            scorer = churn.fit_scorer(con, as_of=date(2026, 9, 30), frames=frames, bt=bt)
    rows = sum(len(f) for f in frames.values())
    print(f"cutoffs {len(frames)}, partner-cutoff rows {rows:,}; {words.backtest_sentence(bt)}")
    print(bt.summary[["model", "roc_auc", "pr_auc", "brier", "top10_capture"]].round(3).to_string(index=False))

    with timed("feature frame at 2026-09-30 (all partners)", None, results):
        now = churn.cutoff_frame(con, as_of=date(2026, 9, 30), labels=False)
    big = pd.concat(
        [now.assign(partner_id=now["partner_id"] + f"-{k}") for k in range(max(1, -(-100_000 // len(now))))],
        ignore_index=True,
    ).head(100_000)
    with timed(f"scoring {len(big):,} partners (risk, value, sales at risk, reasons, actions)", 10, results):
        scored = words.with_words(pd.concat([big, churn.score_frame(big, scorer)[
            ["risk", "sales_at_risk", "expected_sales", "clv_12m", "reason_codes", "fallback"]]], axis=1), "en")
    print(f"scored rows {len(scored):,}; flagged at risk >= 0.5: {(scored['risk'] >= 0.5).sum():,}")


if __name__ == "__main__":
    main()
