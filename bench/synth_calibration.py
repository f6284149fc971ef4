"""Calibration of synth's realistic mode against the real UCI Online Retail export (docs/synth.md).

Run: .venv/bin/python bench/synth_calibration.py [--partners 4000] [--seed 11]
Computes `synth.calibration_stats` over the last 365 days of (1) the real export
(tests/data/online_retail/online_retail.csv.gz: customers as partners, StockCode as product line,
cancellations as returns, lines without a customer and exact duplicate lines dropped, as ingest does),
(2) the realistic world with SKU-level product lines, (3) the easy world; prints a Markdown table, and
the seconds each world took to generate.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from workbench import synth

REAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "online_retail" / "online_retail.csv.gz"
ROWS = [
    ("partners", "partners with a purchase", "{:,.0f}"),
    ("orders_median", "order days per partner, median", "{:.0f}"),
    ("orders_p90", "order days per partner, 90th percentile", "{:.0f}"),
    ("gap_days_median", "days between order days, median", "{:.0f}"),
    ("gap_days_p90", "days between order days, 90th percentile", "{:.0f}"),
    ("basket_median", "basket value (net sales per order day), median", "{:,.0f}"),
    ("basket_ratio", "basket value, 90th percentile / median", "{:.1f}"),
    ("one_time_share", "share of one-time buyers", "{:.0%}"),
    ("returns_value_share", "returns share of sold value", "{:.1%}"),
    ("returns_line_share", "returns share of order lines", "{:.1%}"),
    ("skus_median", "SKUs per partner, median", "{:.0f}"),
    ("skus_p90", "SKUs per partner, 90th percentile", "{:.0f}"),
    ("lines_per_order_median", "lines per order day, median", "{:.0f}"),
]


def real_orders(path: Path = REAL) -> pd.DataFrame:
    """The export's lines as the orders contract: partner_id, order_date, product_line, net_amount, is_return."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False).drop_duplicates()
    raw = raw[raw["CustomerID"] != ""]
    return pd.DataFrame({
        "partner_id": raw["CustomerID"],
        "order_date": pd.to_datetime(raw["InvoiceDate"]).dt.normalize(),
        "product_line": raw["StockCode"],
        "net_amount": pd.to_numeric(raw["Quantity"]) * pd.to_numeric(raw["UnitPrice"]),
        "is_return": raw["InvoiceNo"].str.startswith("C"),
    })


def last_year(orders: pd.DataFrame) -> pd.DataFrame:
    """Order lines of the last 365 days of the table."""
    end = pd.to_datetime(orders["order_date"]).max()
    return orders[pd.to_datetime(orders["order_date"]) > end - pd.Timedelta(days=365)]


def main() -> None:
    """Compute and print the calibration table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--partners", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    cols: dict[str, dict[str, float]] = {}
    if REAL.exists():
        cols["real Online Retail (GBP)"] = synth.calibration_stats(last_year(real_orders()))
    else:
        print(f"{REAL} is missing: the real column is left out.")
    for mode in ("realistic", "easy"):
        t = time.perf_counter()
        net = synth.generate(partners=args.partners, months=36, seed=args.seed, mode=mode, skus=mode == "realistic")
        print(f"{mode}: {args.partners:,} partners, {len(net.tables['orders']):,} order lines in "
              f"{time.perf_counter() - t:.1f} s")
        cols[f"synth {mode} (CNY)"] = synth.calibration_stats(last_year(net.tables["orders"]))
    for c in cols.values():
        c["basket_ratio"] = c["basket_p90"] / c["basket_median"]
    names = list(cols)
    print("\n| figure (last 365 days) | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for key, text, fmt in ROWS:
        print(f"| {text} | " + " | ".join(fmt.format(cols[n][key]) for n in names) + " |")


if __name__ == "__main__":
    main()
