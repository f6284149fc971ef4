"""Benchmark: ingest a generated 10-million-line orders CSV; rows/s and peak memory vs DuckDB's bare read_csv.

Targets (issue 2): >= 1,000,000 rows/s, within 2x of the bare read, peak memory < 2 GB.
Each measurement runs in a fresh subprocess so peak RSS is its own. Usage:
    .venv/bin/python bench/ingest.py [--rows 10000000] [--partners 100000] [--dir bench/out] [--repeat 3]
        [--no-repeated-keys]
On a shared machine run each measurement several times (--repeat): the best of them is the steadiest figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

TARGET_ROWS_PER_S = 1_000_000
TARGET_RATIO = 2.0
TARGET_PEAK_GB = 2.0


def generate(folder: Path, *, rows: int, partners: int, seed: int = 1, repeated_keys: bool = True) -> tuple[Path, Path]:
    """Write partners.csv and orders.csv with DuckDB (the orders file only if absent); return their paths.

    Orders line i has order_id O<i>, except that every 1000 lines one repeats line i-1 exactly (a
    duplicate line) and one reuses order_id O<i-1> with other values (a key conflict); four more have
    an unknown partner, an impossible date, a negative amount not marked as a return, and a return.
    With repeated_keys=False the two repeats are ordinary lines (a file without repeated keys).
    """
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    p_csv = folder / "partners.csv"
    o_csv = folder / (f"orders_v2_{rows}.csv" if repeated_keys else f"orders_norepeat_{rows}.csv")
    repeats = (31, 37) if repeated_keys else ()
    con = duckdb.connect()
    con.execute(f"SELECT setseed({(seed % 1000) / 1000})")
    con.execute(f"""COPY (
        SELECT 'P' || lpad(CAST(i AS VARCHAR), 6, '0') AS partner_id, '经销商' || i AS name,
               ['East','South','North','Central','Southwest','Northeast','Northwest'][1 + i % 7] AS region,
               ['distributor','wholesaler','dealer','retailer','ecommerce'][1 + i % 5] AS channel_type,
               DATE '2018-01-01' + CAST(i % 1500 AS INTEGER) AS onboard_date
        FROM range(1, {partners} + 1) t(i)) TO '{p_csv}' (HEADER)""")
    if not o_csv.exists():
        con.execute(f"""COPY (
            SELECT 'O' || k AS order_id,
                   CASE WHEN i % 1000 = 7 THEN 'X999999'
                        ELSE 'P' || lpad(CAST(1 + hash(i) % {partners} AS VARCHAR), 6, '0') END AS partner_id,
                   CASE WHEN i % 1000 = 13 THEN '2024-02-30'
                        ELSE CAST(DATE '2023-10-01' + CAST(hash(i * 7) % 1096 AS INTEGER) AS VARCHAR) END AS order_date,
                   ['A','B','C','D'][1 + i % 4] AS product_line,
                   1 + hash(i * 3) % 50 AS quantity,
                   CASE WHEN i % 1000 = 17 THEN -12.5 ELSE round(10 + (hash(i * 5) % 100000) / 100.0, 2) END
                       AS net_amount,
                   CASE WHEN i % 1000 = 29 THEN 'true' ELSE 'false' END AS is_return
            FROM (SELECT CASE WHEN n % 1000 = {repeats[0] if repeats else -1} THEN n - 1 ELSE n END AS i,
                         CASE WHEN n % 1000 IN {repeats or (-1, -1)} THEN n - 1 ELSE n END AS k
                  FROM range(1, {rows} + 1) t(n))) TO '{o_csv}' (HEADER)""")
    return p_csv, o_csv


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _child(mode: str, folder: str, orders: str, partners: str) -> None:
    """Run one measurement in this (fresh) process and print JSON: rows, wall and CPU seconds, peak RSS."""
    import duckdb

    db = Path(folder) / f"bench_{mode}.duckdb"
    for f in (db, Path(str(db) + ".wal")):
        f.unlink(missing_ok=True)
    if mode == "bare":
        con = duckdb.connect(str(db))
        t0, c0 = time.perf_counter(), _cpu()
        con.execute(f"CREATE TABLE orders AS SELECT * FROM read_csv('{orders}')")
        elapsed, cpu = time.perf_counter() - t0, _cpu() - c0
        n = con.execute("SELECT count(*) FROM orders").fetchone()[0]
        out = {"rows": n, "seconds": elapsed, "cpu": cpu}
    else:
        from datetime import date

        from workbench import store
        from workbench.ingest import ingest_file

        if mode == "ingest-indexed":
            # The canonical tables as they were declared before ingest enforced keys itself: with DuckDB
            # PRIMARY KEY / FOREIGN KEY constraints (ART indexes), to show what those indexes cost.
            c = duckdb.connect(str(db))
            for name in store.TABLE_ORDER:
                t = store.TABLES[name]
                keys = [f"PRIMARY KEY ({', '.join(t.primary_key)})"] + [
                    f"FOREIGN KEY ({col}) REFERENCES {parent}({store.TABLES[parent].primary_key[0]})"
                    for col, parent in t.foreign_keys]
                c.execute(store.table_ddl(t)[:-2] + ",\n  " + ",\n  ".join(keys) + "\n)")
            c.close()
        con = store.connect(db)
        ingest_file(con, "partners", partners, run_date=date(2026, 11, 27))
        t0, c0 = time.perf_counter(), _cpu()
        r = ingest_file(con, "orders", orders, run_date=date(2026, 11, 27))
        elapsed, cpu = time.perf_counter() - t0, _cpu() - c0
        # The generator numbers lines: order_id O<i> is data row i, so every quarantine row number can be checked.
        wrong = store.raw_connection(con).execute(
            "SELECT count(*) FROM quarantine WHERE row_number <> "
            "CAST(substr(json_extract_string(row_data, '$.order_id'), 2) AS BIGINT) + "
            "CASE WHEN \"column\" = 'order_id' THEN 1 ELSE 0 END").fetchone()[0]
        out = {"rows": r.rows_read, "seconds": elapsed, "cpu": cpu, "accepted": r.rows_accepted,
               "quarantined": r.rows_quarantined, "reasons": r.reasons, "wrong_row_numbers": wrong}
    out["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    for f in (db, Path(str(db) + ".wal")):
        f.unlink(missing_ok=True)
    print(json.dumps(out))


def _best(runs: list[dict]) -> dict:
    """The run with the least CPU time, with every run's wall and CPU seconds attached."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    best = dict(min(ok, key=lambda r: r["cpu"]))
    best["all_seconds"] = [round(r["seconds"], 2) for r in ok]
    best["all_cpu"] = [round(r["cpu"], 2) for r in ok]
    best["seconds"] = min(r["seconds"] for r in ok)
    best["peak_gb"] = max(r["peak_gb"] for r in ok)
    return best


def _measure(mode: str, folder: Path, orders: Path, partners: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--dir", str(folder), "--orders", str(orders),
           "--partners-file", str(partners)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        lines = done.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit code {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Generate (once), measure the bare read and the ingest, print figures against the targets."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--partners", type=int, default=100_000)
    ap.add_argument("--dir", type=Path, default=Path(__file__).parent / "out")
    ap.add_argument("--repeat", type=int, default=1, help="measure each variant this many times, interleaved; "
                    "report the least wall and CPU time (and the highest peak memory)")
    ap.add_argument("--no-repeated-keys", action="store_true", help="generate and use a file without repeated keys")
    ap.add_argument("--child", default=None)
    ap.add_argument("--orders", default=None)
    ap.add_argument("--partners-file", default=None)
    ap.add_argument("--modes", default="ingest", help="ingest variants to measure: ingest, ingest-indexed")
    a = ap.parse_args()
    if a.child:
        _child(a.child, str(a.dir), a.orders, a.partners_file)
        return
    t0 = time.perf_counter()
    partners, orders = generate(a.dir, rows=a.rows, partners=a.partners, repeated_keys=not a.no_repeated_keys)
    size_mb = orders.stat().st_size / 1e6
    print(f"orders CSV: {a.rows:,} lines, {size_mb:,.0f} MB ({time.perf_counter() - t0:.1f} s to generate)")
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f} before the run "
          "(CPU seconds are reported too: wall time on a shared machine is noisy)")
    modes = [m for m in ("ingest", "ingest-indexed") if m in a.modes.split(",")]
    runs: dict[str, list[dict]] = {m: [] for m in ["bare", *modes]}
    for _ in range(max(1, a.repeat)):
        for mode in runs:
            runs[mode].append(_measure(mode, a.dir, orders, partners))
    bare = _best(runs["bare"])
    print(_line("bare read_csv", bare))
    results = {}
    for mode in modes:
        ing = _best(runs[mode])
        if "error" in ing:
            print(f"{mode:<18}: FAILED: {ing['error']}")
            continue
        results[mode] = ing
        print(_line(mode, ing) + f"  ({ing['accepted']:,} accepted, {ing['quarantined']:,} quarantined, "
              f"{ing['wrong_row_numbers']:,} wrong row numbers)")
    for reason, n in sorted(next(iter(results.values()), {"reasons": {}})["reasons"].items()):
        print(f"    {n:>8,}  {reason}")
    for mode, ing in results.items():
        rate = ing["rows"] / ing["seconds"]
        ratio = ing["seconds"] / bare["seconds"]
        cpu_ratio = ing["cpu"] / bare["cpu"]
        print(f"{mode}:")
        print(f"  [{_ok(rate >= TARGET_ROWS_PER_S)}] {rate:,.0f} rows/s (target >= {TARGET_ROWS_PER_S:,})")
        print(f"  [{_ok(ratio <= TARGET_RATIO)}] {ratio:.2f}x the bare read's wall time, {cpu_ratio:.2f}x its CPU time "
              f"(target <= {TARGET_RATIO}x)")
        print(f"  [{_ok(ing['peak_gb'] < TARGET_PEAK_GB)}] peak memory {ing['peak_gb']:.2f} GB (target < {TARGET_PEAK_GB} GB)")
        pairs = [(i, b) for i, b in zip(runs[mode], runs["bare"], strict=True) if "error" not in i and "error" not in b]
        if len(pairs) > 1:  # each repeat measured the bare read and the ingest back to back
            cpu_r = sorted(i["cpu"] / b["cpu"] for i, b in pairs)
            wall_r = sorted(i["seconds"] / b["seconds"] for i, b in pairs)
            print(f"  spread over {len(pairs)} runs (each ingest against the bare read of its own repeat): CPU ratio "
                  f"{', '.join(f'{r:.2f}' for r in cpu_r)}x; wall ratio {', '.join(f'{r:.2f}' for r in wall_r)}x")


def _line(label: str, m: dict) -> str:
    runs = f"  (runs: wall {m['all_seconds']}, CPU {m['all_cpu']})" if len(m.get("all_cpu", [])) > 1 else ""
    return (f"{label:<18}: {m['seconds']:7.2f} s wall {m['cpu']:7.2f} s CPU  {m['rows'] / m['seconds']:>11,.0f} rows/s  "
            f"peak {m['peak_gb']:.2f} GB{runs}")


def _ok(b: bool) -> str:
    return "OK  " if b else "MISS"


if __name__ == "__main__":
    main()
