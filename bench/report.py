"""Benchmark: the full report pack on the demo data (2,000 partners, 36 months), kernel start-up included.

Target (issue 8): the full pack renders in under 90 s on the 2-core machine. Prints the wall time of
the whole pack, the time per notebook, and the size of a typical report page. On another store
(issue 12: the Online Retail store, company pack within 10 minutes):

    .venv/bin/python bench/report.py [--region all|East|...] [--lang en|zh] [--jobs 2] [--db PATH]
    .venv/bin/python -m tests.realstores online_retail /tmp/retail.duckdb
    .venv/bin/python bench/report.py --db /tmp/retail.duckdb --quarter 2011Q3 --company-only --target 600
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
TARGET_S = 90.0


def _demo_db(path: Path) -> Path:
    """The 2,000-partner demo store, built once with workbench.synth.build_demo_store."""
    if not path.exists():
        from workbench.synth import build_demo_store

        t0 = time.perf_counter()
        print(build_demo_store(path, partners=2000, months=36, seed=42))
        print(f"(demo store built in {time.perf_counter() - t0:.1f} s; not part of the pack time)")
    return path


def _cpu() -> float:
    """CPU seconds (user + system) of this process and its finished children (the kernels)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=OUT / "report_demo.duckdb")
    ap.add_argument("--region", default="all")
    ap.add_argument("--lang", default="en")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=OUT / "reports")
    ap.add_argument("--fresh-kernels", action="store_true", help="a fresh kernel for every notebook run (slower)")
    ap.add_argument("--quarter", default=None, help="quarter to review (default: the latest complete one)")
    ap.add_argument("--company-only", action="store_true", help="with --region all: the company pack only")
    ap.add_argument("--target", type=float, default=TARGET_S, help="target wall time in seconds")
    args = ap.parse_args(argv)

    OUT.mkdir(parents=True, exist_ok=True)
    db = _demo_db(args.db)
    from workbench.reports import render_pack

    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} before the run")
    cpu0 = _cpu()
    t0 = time.perf_counter()
    res = render_pack(db, quarter=args.quarter, region=args.region, lang=args.lang, out=args.out, jobs=args.jobs,
                      reuse_kernels=not args.fresh_kernels, each_region=not args.company_only)
    wall = time.perf_counter() - t0
    cpu = _cpu() - cpu0
    print(res.summary())

    by_nb: dict[str, list[float]] = {}
    for r in res.runs:
        by_nb.setdefault(r.notebook, []).append(r.seconds)
    print(f"\n{'notebook':<32}{'runs':>5}{'mean s':>9}{'max s':>9}   (wall per run, kernel start included;"
          f" {args.jobs} at a time)")
    for nb, secs in sorted(by_nb.items()):
        print(f"{nb:<32}{len(secs):>5}{statistics.mean(secs):>9.1f}{max(secs):>9.1f}")
    company = [r for r in res.runs if r.pack == "all"]
    if company:
        print("company pack: " + ", ".join(f"{r.notebook} {r.seconds:.1f} s" for r in company))

    pages = [r.html for r in res.runs if r.html.exists()]
    sizes = sorted(p.stat().st_size for p in pages)
    if sizes:
        med = statistics.median(sizes)
        print(f"\nreport pages: {len(sizes)}; typical (median) page {med / 1e6:.2f} MB, "
              f"smallest {sizes[0] / 1e6:.2f} MB, largest {sizes[-1] / 1e6:.2f} MB "
              f"(each carries the ~0.9 MB vega bundle once)")
    total = sum(p.stat().st_size for p in args.out.rglob("*.html"))
    print(f"whole output folder: {total / 1e6:.1f} MB")
    cores = os.cpu_count() or 1
    print(f"CPU used: {cpu:.1f} s (this process + every kernel); on an otherwise idle {cores}-core machine "
          f"the pack needs at least {cpu / cores:.1f} s of wall time")
    print(f"load average after the run: {os.getloadavg()[0]:.1f} (other work on the machine inflates the wall time)")
    verdict = "OK" if wall < args.target else "OVER"
    print(f"\nFULL PACK ({len(res.params.packs)} packs x {len(by_nb)} notebooks = {len(res.runs)} runs): "
          f"{wall:.1f} s  [target < {args.target:.0f} s: {verdict}]")
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
