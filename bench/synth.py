"""Benchmark of workbench.synth.generate: seconds, order lines and peak memory at 100,000 partners.

Target (issue 2): 100,000 partners / ~10 million order lines generated in under 60 s.
Run: .venv/bin/python bench/synth.py [--partners 100000] [--months 36] [--seed 1]
Each size runs in a fresh subprocess so that peak RSS is that run's own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

TARGET_SECONDS = 60.0
TARGET_LINES = 10_000_000

_CHILD = """
import json, resource, sys, time
t0 = time.perf_counter(); c0 = time.process_time()
from workbench.synth import generate
net = generate(partners={partners}, months={months}, seed={seed})
wall = time.perf_counter() - t0; cpu = time.process_time() - c0
print(json.dumps({{"seconds": wall, "cpu_seconds": cpu, "lines": len(net.tables["orders"]),
                  "rows": {{k: len(v) for k, v in net.tables.items()}},
                  "truth_rows": len(net.truth["partner_month"]),
                  "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}}))
"""


def run(partners: int, months: int, seed: int) -> dict:
    """Generate one network in a child process; its timings, row counts and peak RSS (GB)."""
    code = _CHILD.format(partners=partners, months=months, seed=seed)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONHASHSEED": "0"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(label: str, partners: int, months: int, r: dict) -> None:
    """Print one run's figures against the target."""
    ok = "OK" if r["seconds"] < TARGET_SECONDS else "SLOWER THAN TARGET"
    print(f"{label}: {partners:,} partners x {months} months -> {r['lines']:,} order lines "
          f"in {r['seconds']:.1f} s wall ({r['cpu_seconds']:.1f} s CPU), "
          f"{r['lines'] / r['seconds'] / 1e6:.2f} M lines/s, peak RSS {r['peak_rss_gb']:.2f} GB "
          f"[target < {TARGET_SECONDS:.0f} s: {ok}]")
    others = ", ".join(f"{k} {v:,}" for k, v in r["rows"].items() if k != "orders")
    print(f"  other tables: {others}; truth.partner_month {r['truth_rows']:,} rows")


def main(argv: list[str] | None = None) -> int:
    """Time generate() at the issue's size; if it yields fewer than 10M lines, also at a size that does."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--partners", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    r = run(args.partners, args.months, args.seed)
    report("issue size", args.partners, args.months, r)
    if r["lines"] < 0.95 * TARGET_LINES:
        partners = int(args.partners * TARGET_LINES / max(r["lines"], 1) * 1.02)
        r2 = run(partners, args.months, args.seed)
        report("sized to 10M lines", partners, args.months, r2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
