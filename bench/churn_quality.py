"""Churn quality tables for docs/churn.md: the out-of-time backtest (ROC AUC per cut-off and model),
the value backtest (Spearman, top-20% capture, total predicted / actual) and, on a synthetic store,
the check against the generator's truth among the partners alive in truth at each cut-off.

Usage: .venv/bin/python bench/churn_quality.py [STORE.duckdb] [--horizon-days 90] [--truth]
(no STORE: a realistic synthetic store of 2,000 partners is built in a temp folder and judged with --truth)
Build the real stores with `python -m tests.realstores cdnow|online_retail PATH`, the easy synthetic
one with synth.build_demo_store and the realistic one with --build-realistic PARTNERS; --truth needs
the store's `truth` schema.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd

warnings.filterwarnings("ignore")


def oracle_frame(con, cutoffs, horizon_days: int) -> pd.DataFrame:
    """cutoff, partner_id, p_true, died for the partners alive in truth at each cutoff (synth truth schema)."""
    from workbench import churn

    tpm = con.table("partner_month", database="truth").to_pandas()
    return churn.truth_oracle(tpm, cutoffs, horizon_days=horizon_days)


def build_realistic(db: Path, *, partners: int, months: int, seed: int) -> None:
    """A store of synth.generate(mode="realistic") ingested through the validated path, truth schema included."""
    from datetime import date

    from workbench import synth
    from workbench.ingest import ingest_frame
    from workbench.store import connect, raw_connection

    net = synth.generate(partners=partners, months=months, seed=seed, mode="realistic")
    if db.exists():
        db.unlink()
    con = connect(db)
    for name in synth.TABLE_ORDER:
        ingest_frame(con, name, net.tables[name], source=f"synth-realistic:{seed}:{name}", run_date=date(2026, 9, 30))
    raw = raw_connection(con)
    raw.execute("CREATE SCHEMA IF NOT EXISTS truth")
    for name, frame in net.truth.items():
        raw.register("_t", frame)
        raw.execute(f"CREATE OR REPLACE TABLE truth.{name} AS SELECT * FROM _t")
        raw.unregister("_t")
    raw.execute("CHECKPOINT")
    con.disconnect()


def main() -> None:
    from workbench import churn, store

    ap = argparse.ArgumentParser()
    ap.add_argument("db", type=Path, nargs="?", default=None,
                    help="the store (default: a realistic synthetic store of 2,000 partners built in a temp folder)")
    ap.add_argument("--horizon-days", type=int, default=90)
    ap.add_argument("--region", default=None)
    ap.add_argument("--truth", action="store_true", help="also judge against the synthetic truth")
    ap.add_argument("--build-realistic", type=int, default=0, metavar="PARTNERS",
                    help="first write a realistic synthetic store of this many partners (36 months) at STORE")
    ap.add_argument("--seed", type=int, default=7, help="seed of the realistic store written by --build-realistic")
    args = ap.parse_args()
    if args.db is None:  # `make bench` runs every script without arguments
        import tempfile

        args.db = Path(tempfile.mkdtemp()) / "churn_realistic.duckdb"
        args.build_realistic, args.truth = args.build_realistic or 2000, True
    if args.build_realistic:
        build_realistic(args.db, partners=args.build_realistic, months=36, seed=args.seed)
    con = store.connect(args.db, read_only=True)
    h = args.horizon_days
    t0 = time.perf_counter()
    design = churn.backtest_design(con, horizon_days=h, region=args.region)
    frames = churn.cutoff_frames(con, design.cutoffs, horizon_days=h, region=args.region,
                                 active_days=design.active_days)
    bt = churn.run_backtest(frames, horizon_days=h)
    print(f"{args.db.name}: {design.cadence} cut-offs, {design.active_days}-day activity window, "
          f"history {design.history_days} days, horizon {h} days ({time.perf_counter() - t0:.0f} s)")
    print("\nROC AUC per scored cut-off (out of time)")
    auc = bt.metrics.pivot_table(index="cutoff", columns="model", values="roc_auc", dropna=False)
    auc.index = pd.to_datetime(auc.index).strftime("%Y-%m-%d")
    print(auc.round(3).to_string())
    print("\nMean over cut-offs")
    print(bt.summary[["model", "kind", "roc_auc", "pr_auc", "brier", "top10_capture", "churn_rate"]]
          .round(3).to_string(index=False))
    best_bg = auc[["bgnbd", "bgnbd_horizon"]].max(axis=1)
    print(f"\nwinner {bt.winner}; margin over the better BG/NBD baseline per cut-off: "
          f"{(auc[bt.winner] - best_bg).round(3).tolist()}")
    print("\nTuned hyper-parameters (chosen on the training cut-offs only)")
    print(bt.tuning.assign(scored_cutoff=lambda d: pd.to_datetime(d["scored_cutoff"]).dt.strftime("%Y-%m-%d"))
          .to_string(index=False))
    vals = churn.value_predictions(frames, bt)
    vm = churn.value_metrics(vals)
    print("\nValue backtest: non-return sales in the horizon (mean over cut-offs)")
    print(vm.groupby("method")[["spearman", "top20_capture", "total_ratio"]].mean().round(3).to_string())
    if args.truth:
        oracle = oracle_frame(con, sorted(frames), h)
        tt = churn.truth_table(bt.predictions, oracle)
        print("\nAgainst the truth, among partners alive in truth at the cut-off (pooled)")
        print(tt.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
