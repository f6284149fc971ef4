"""Benchmark: what the retrospective's rebate audit and relationship sections (contact cadence, channel mix,
review list) cost, against the whole ``build_retrospective`` of the same quarter and scope.

Run: .venv/bin/python bench/retro_sections.py --db STORE.duckdb [--quarter 2026Q3] [--repeat 3]
Prints wall and CPU seconds per part and run, and each part's CPU share of the whole (ratio, with its spread).
"""

from __future__ import annotations

import argparse
import time

import pandas as pd


def _timed(call) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--quarter", default="2026Q3")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from workbench import features, retro, store
    from workbench.retro.findings import _relations
    from workbench.vocab import Quarter, Scope

    con = store.connect(args.db, read_only=True)
    q = Quarter.parse(args.quarter)
    quarters = [q.period - i for i in range(7, -1, -1)]
    t = features.scoped_tables(con, None, as_of=q.end)
    cfg = retro.load_settings()
    parts = {
        "rebate_audit (8 quarters)": lambda: retro.rebate_audit(con, t, quarters),
        "relations (contacts, mix, review)": lambda: _relations(con, quarter=str(q), scope=Scope(), as_of=q.end,
                                                                cfg=cfg, notes={}),
        "build_retrospective (whole)": lambda: retro.build_retrospective(con, quarter=str(q)),
    }
    rows = []
    for run in range(args.repeat):
        for name, call in parts.items():
            wall, cpu = _timed(call)
            rows.append({"run": run, "part": name, "wall_s": wall, "cpu_s": cpu})
    df = pd.DataFrame(rows)
    print(df.pivot(index="run", columns="part", values="cpu_s").round(2).to_string())
    whole = df[df["part"].str.startswith("build")].set_index("run")["cpu_s"]
    for name in list(parts)[:2]:
        share = df[df["part"] == name].set_index("run")["cpu_s"] / whole
        print(f"{name}: CPU share of the whole {share.median():.3f} (runs {share.min():.3f}–{share.max():.3f})")


if __name__ == "__main__":
    main()
