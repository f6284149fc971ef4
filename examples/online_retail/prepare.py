"""Glue for the "bring your own data" example: the UCI Online Retail invoice export → two ingestible CSVs.

The export has one line per invoice line (InvoiceNo, StockCode, Description, Quantity, InvoiceDate,
UnitPrice, CustomerID, Country). The workbench wants partners and order lines, so this script adds only
what the export lacks, and leaves every check to `workbench ingest`:

* partners.csv: one row per CustomerID: Country (its most frequent one) as region, first invoice date as
  onboard date, a placeholder name, channel type "other" (the export does not say);
* orders.csv: every input line, in file order, plus LineId (InvoiceNo-position on the invoice),
  LineAmount (Quantity x UnitPrice) and IsCancellation (InvoiceNo starts with "C").

A line that repeats an earlier line of the same invoice exactly gets the LineId of the line it repeats,
so ingest quarantines it as a duplicate line instead of counting the sale twice. Lines without a
CustomerID are written unchanged; ingest quarantines them with their reason.

    python examples/online_retail/prepare.py tests/data/online_retail/online_retail.csv.gz out/
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

SOURCE_COLUMNS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
                  "CustomerID", "Country"]


def order_lines(raw: pd.DataFrame) -> pd.DataFrame:
    """The export's lines plus LineId, LineAmount (currency units) and IsCancellation, in file order."""
    out = raw.copy()
    position = out.groupby("InvoiceNo", sort=False).cumcount() + 1
    first_position = position.groupby([out[c] for c in SOURCE_COLUMNS], sort=False).transform("first")
    out["LineId"] = out["InvoiceNo"] + "-" + first_position.astype(str)
    amount = pd.to_numeric(out["Quantity"], errors="coerce") * pd.to_numeric(out["UnitPrice"], errors="coerce")
    out["LineAmount"] = amount.round(2)
    out["IsCancellation"] = out["InvoiceNo"].str.startswith("C")
    return out


def partners(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per CustomerID: most frequent Country, first invoice date; lines without a customer skipped."""
    known = raw[raw["CustomerID"] != ""]
    country = (known.groupby(["CustomerID", "Country"], sort=False).size().rename("n").reset_index()
               .sort_values(["CustomerID", "n"], ascending=[True, False], kind="stable")
               .drop_duplicates("CustomerID"))
    first = known.groupby("CustomerID")["InvoiceDate"].min().str.slice(0, 10).rename("FirstInvoiceDate")
    out = country.drop(columns="n").merge(first, on="CustomerID")
    out["CustomerName"] = "Customer " + out["CustomerID"]
    out["ChannelType"] = "other"
    return out[["CustomerID", "CustomerName", "Country", "ChannelType", "FirstInvoiceDate"]]


def prepare(source: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Read the export (all text, nothing dropped) and write partners.csv and orders.csv into out_dir."""
    raw = pd.read_csv(source, dtype=str, keep_default_na=False)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"partners": out / "partners.csv", "orders": out / "orders.csv"}
    partners(raw).to_csv(paths["partners"], index=False)
    order_lines(raw).to_csv(paths["orders"], index=False)
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python examples/online_retail/prepare.py ONLINE_RETAIL.csv[.gz] OUT_DIR")
    for table, path in prepare(sys.argv[1], sys.argv[2]).items():
        print(f"{table}: {path}")
