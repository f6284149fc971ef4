"""Real and degenerate stores, built by name through the public ingest path, for tests and manual checks.

Real companies' stores are thin: one or two tables, short histories, thousands of SKUs, tiny regions,
no rebate ledger, another currency. Each builder below writes one such store at `path` by ingesting
frames (or, for the real exports, the example glue's CSVs) exactly as a user would, so every notebook
and command can be tried on it:

    python -m tests.realstores online_retail /tmp/retail.duckdb
    python -m tests.realstores --list

Names (see `STORES`): the two real exports (``online_retail`` — UCI Online Retail, GBP, 10 months
of lines; ``cdnow`` — the CDNOW sample, USD, one region) and the degenerate variants of a small
synthetic network (``orders_only``, ``three_months``, ``one_partner_region``, ``many_lines_3000``,
``one_line``, ``no_product_line``, ``one_day``, ``returns_only_region``, ``markup``). Every random step
takes the builder's fixed seed, so a store is the same on every machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
ONLINE_RETAIL_CSV = DATA / "online_retail" / "online_retail.csv.gz"
CDNOW_TXT = DATA / "cdnow" / "CDNOW_sample.txt"
EXAMPLE = REPO / "examples" / "online_retail"

# The synthetic base every degenerate store starts from: small, two years, ends 2026-09-30 (quarter 2026Q3).
BASE_PARTNERS = 60
BASE_MONTHS = 24
BASE_SEED = 11
END = date(2026, 9, 30)
QUARTER = "2026Q3"

# The quarter to review on each store (the real exports end elsewhere).
QUARTERS: dict[str, str] = {"online_retail": "2011Q3", "cdnow": "1997Q3"}

# Region names a builder introduces, so a test can ask for exactly that scope.
ONE_PARTNER_REGION = "Island"
RETURNS_ONLY_REGION = "Returns only"
MARKUP_REGION = "<img src=x onerror=alert('region')>"

# Markup planted by the `markup` store. Every planted string carries the token "wbx-<column>", so a scan can
# tell where data ended up: HTML that would run (an <img onerror>, <script>, <svg onload>, <iframe>), Markdown
# link and image syntax (a javascript: link, a network image), and a template expression "{{7*7}}" (shown as
# 49 if anything evaluated it).
TOKEN = "wbx-"


def _marker(column: str, tag: str) -> str:
    """The markup planted in `column`: `tag` (an HTML element that would run), then Markdown and template syntax."""
    return (f"{tag} [link](javascript:alert('{TOKEN}{column}')) ![img](https://example.invalid/{TOKEN}{column}.png)"
            f" {{{{7*7}}}}{TOKEN}{column}")


_TAGS = ("<script>alert('{t}')</script>", "<img src=x onerror=alert('{t}')>", "<svg onload=alert('{t}')>",
         "<iframe src=javascript:alert('{t}')></iframe>", "<a href=javascript:alert('{t}')>a</a>")


def _planted(columns: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    return {(t, c): _marker(c, _TAGS[i % len(_TAGS)].format(t=f"{TOKEN}{c}")) for i, (t, c) in enumerate(columns)}


# Free-text columns, planted in every other row through ingest.
MARKUP: dict[tuple[str, str], str] = _planted([
    ("partners", "name"), ("partners", "province"), ("partners", "city"), ("partners", "manager_id"),
    ("partners", "manager_name"), ("orders", "product_line"), ("incentives", "program"), ("surveys", "comment"),
    ("trainings", "course"), ("actions", "note"), ("partners", "platform"),
]) | {
    # personal columns: never on a page, planted or not
    ("partners", "contact_name"): "<b>contact-name-never-shown</b>",
    ("partners", "contact_phone"): "<b>contact-phone-never-shown</b>",
}
# Columns ingest holds to a fixed list (channel, conflict and action types): a store written by another tool
# may hold anything, so they are planted with SQL after ingest, in every third row.
MARKUP_ENUM: dict[tuple[str, str], str] = _planted([
    ("partners", "channel_type"), ("partner_history", "channel_type"), ("conflicts", "conflict_type"),
    ("actions", "action_type"),
])
# Identifier columns: every other id gets this prefix (partner ids consistently in every table).
MARKUP_IDS: dict[tuple[str, str], str] = {
    (t, c): f"<img src=x onerror=alert('{TOKEN}{c}')>{{{{7*7}}}}{TOKEN}{c}-"
    for t, c in [("partners", "partner_id"), ("orders", "order_id"), ("incentives", "incentive_id"),
                 ("surveys", "survey_id"), ("trainings", "training_id"), ("conflicts", "conflict_id"),
                 ("actions", "action_id")]
}
PERSONAL_MARKERS = ("contact-name-never-shown", "contact-phone-never-shown", f"{TOKEN}manager_name")


def _base() -> dict[str, pd.DataFrame]:
    """The small synthetic network's canonical tables (fresh copies)."""
    from workbench.synth import generate

    net = generate(partners=BASE_PARTNERS, months=BASE_MONTHS, seed=BASE_SEED, end=END)
    return {name: frame.copy() for name, frame in net.tables.items()}


def _ingest(path: Path, tables: dict[str, pd.DataFrame], *, source: str, currency: str | None = None) -> Path:
    """Ingest `tables` (parents first) into a fresh store at `path`; every row must land."""
    from workbench.ingest import ingest_frame
    from workbench.store import TABLE_ORDER, connect

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)
    con = connect(path)
    try:
        for name in TABLE_ORDER:
            if name not in tables:
                continue
            result = ingest_frame(con, name, tables[name], source=f"realstores:{source}:{name}", run_date=END)
            if result.rows_quarantined:
                raise AssertionError(f"realstores {source}: {result.rows_quarantined} {name} rows quarantined")
        if currency is not None:
            _set_currency(con, currency)
    finally:
        con.disconnect()
    return path


def _set_currency(con, code: str) -> None:
    """Record the store currency where the workbench reads it (workbench.vocab)."""
    from workbench.vocab import set_store_currency

    set_store_currency(con, code)


def _keep_partners(tables: dict[str, pd.DataFrame], keep: pd.Series) -> dict[str, pd.DataFrame]:
    """The tables restricted to partners in `keep` (a set of partner ids), children included."""
    ids = set(keep)
    out = {}
    for name, frame in tables.items():
        out[name] = frame[frame["partner_id"].isin(ids)].reset_index(drop=True)
    return out


# ---------------------------------------------------------------------------------------------
# Degenerate synthetic stores
# ---------------------------------------------------------------------------------------------

def orders_only(path: Path) -> Path:
    """Partners and orders, no other table (no ledger, surveys, trainings, conflicts, actions, coverage)."""
    t = _base()
    return _ingest(path, {"partners": t["partners"], "orders": t["orders"]}, source="orders_only")


def three_months(path: Path) -> Path:
    """Every dated table cut to the last three months (2026-07-01 .. 2026-09-30)."""
    t = _base()
    start = pd.Timestamp("2026-07-01")
    dated = {"orders": "order_date", "incentives": "period_start", "surveys": "survey_date",
             "trainings": "training_date", "conflicts": "reported_date", "actions": "action_date",
             "coverage": "month"}
    for name, column in dated.items():
        t[name] = t[name][t[name][column] >= start].reset_index(drop=True)
    active = set(t["orders"]["partner_id"])
    t = _keep_partners(t, pd.Series(sorted(active)))
    t["conflicts"] = t["conflicts"][t["conflicts"]["counterparty_id"].isna()
                                    | t["conflicts"]["counterparty_id"].isin(active)].reset_index(drop=True)
    t["partners"]["onboard_date"] = t["partners"]["onboard_date"].clip(upper=start)
    return _ingest(path, t, source="three_months")


def one_partner_region(path: Path) -> Path:
    """The base network plus a region `Island` holding one partner with eight months of orders."""
    t = _base()
    orders = t["orders"]
    recent = orders[(orders["order_date"] >= "2026-07-01") & ~orders["is_return"]]
    pid = recent.groupby("partner_id").size().sort_values().index[len(recent["partner_id"].unique()) // 2]
    p = t["partners"]
    p.loc[p["partner_id"] == pid, "region"] = ONE_PARTNER_REGION
    p.loc[p["partner_id"] == pid, "onboard_date"] = pd.Timestamp("2026-02-01")
    p.loc[p["partner_id"] == pid, "exit_date"] = pd.NaT
    cut = pd.Timestamp("2026-02-01")
    for name, column in {"orders": "order_date", "incentives": "period_start", "surveys": "survey_date",
                         "trainings": "training_date", "actions": "action_date", "coverage": "month"}.items():
        frame = t[name]
        t[name] = frame[(frame["partner_id"] != pid) | (frame[column] >= cut)].reset_index(drop=True)
    c = t["conflicts"]
    t["conflicts"] = c[(c["partner_id"] != pid) & (c["counterparty_id"] != pid)].reset_index(drop=True)
    return _ingest(path, t, source="one_partner_region")


def _sku_codes(n: int) -> list[str]:
    """`n` SKU-like product codes (e.g. 'SKU-00042')."""
    return [f"SKU-{i:05d}" for i in range(1, n + 1)]


def many_lines_3000(path: Path) -> Path:
    """Orders spread over exactly 3,000 product lines with a Zipf-like popularity (seed 3)."""
    t = _base()
    rng = np.random.default_rng(3)
    codes = np.array(_sku_codes(3000))
    weights = 1.0 / np.arange(1, len(codes) + 1) ** 0.9
    picks = rng.choice(len(codes), size=len(t["orders"]), p=weights / weights.sum())
    picks[rng.permutation(len(picks))[: len(codes)]] = np.arange(len(codes))  # every code sold at least once
    t["orders"]["product_line"] = pd.array(codes[picks], dtype="string")
    return _ingest(path, t, source="many_lines_3000")


def one_line(path: Path) -> Path:
    """Every order in one product line."""
    t = _base()
    t["orders"]["product_line"] = "all_products"
    return _ingest(path, t, source="one_line")


def no_product_line(path: Path) -> Path:
    """Orders exported without a product_line column."""
    t = _base()
    t["orders"] = t["orders"].drop(columns=["product_line"])
    return _ingest(path, t, source="no_product_line")


def one_day(path: Path) -> Path:
    """Every order placed on one day (2026-09-15); partners onboarded by then."""
    t = _base()
    day = pd.Timestamp("2026-09-15")
    t["orders"]["order_date"] = day
    t["partners"]["onboard_date"] = t["partners"]["onboard_date"].clip(upper=day)
    exits = t["partners"]["exit_date"]
    t["partners"]["exit_date"] = exits.where(exits.isna() | (exits > day), pd.NaT)
    return _ingest(path, t, source="one_day")


def returns_only_region(path: Path) -> Path:
    """The base network plus a region whose two partners have only returns (negative amounts)."""
    t = _base()
    p = t["partners"]
    pids = p["partner_id"].iloc[:2].tolist()
    p.loc[p["partner_id"].isin(pids), "region"] = RETURNS_ONLY_REGION
    o = t["orders"]
    mine = o["partner_id"].isin(pids)
    o.loc[mine, "is_return"] = True
    o.loc[mine, "net_amount"] = -o.loc[mine, "net_amount"].abs()
    o.loc[mine, "list_amount"] = np.nan
    return _ingest(path, t, source="returns_only_region")


def markup(path: Path) -> Path:
    """The base network with markup in every text column of every table (MARKUP, MARKUP_ENUM, MARKUP_IDS)
    and in one region's name (MARKUP_REGION)."""
    t = _base()
    for (table, column), text in MARKUP.items():
        frame = t[table]
        if len(frame):
            frame[column] = frame[column].astype("string")
            frame.loc[frame.index[::2], column] = text
    p = t["partners"]
    p.loc[p["region"] == p["region"].iloc[0], "region"] = MARKUP_REGION
    prefix = MARKUP_IDS[("partners", "partner_id")]
    ids = {pid: f"{prefix}{pid}" for pid in p["partner_id"].iloc[::2]}
    for frame in t.values():
        for column in ("partner_id", "counterparty_id"):
            if column in frame.columns:
                frame[column] = frame[column].map(lambda v: ids.get(v, v))
    for (table, column), prefix in MARKUP_IDS.items():
        if column != "partner_id":
            frame = t[table]
            frame.loc[frame.index[::2], column] = prefix + frame.loc[frame.index[::2], column].astype(str)
    _ingest(path, t, source="markup")
    import duckdb

    con = duckdb.connect(str(path))
    try:
        for (table, column), text in MARKUP_ENUM.items():
            con.execute(f"UPDATE {table} SET {column} = $text WHERE rowid % 3 = 0", {"text": text})
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return path


# ---------------------------------------------------------------------------------------------
# Real exports
# ---------------------------------------------------------------------------------------------

def _example_glue():
    """The Online Retail example's prepare.py, imported as a module."""
    spec = importlib.util.spec_from_file_location("online_retail_prepare", EXAMPLE / "prepare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def online_retail(path: Path, *, work_dir: Path | None = None) -> Path:
    """The UCI Online Retail export ingested exactly as README's worked example does (GBP, 2010-12..2011-12)."""
    from workbench.ingest import ingest_file
    from workbench.store import connect

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)
    out = Path(work_dir) if work_dir else path.with_name(path.stem + "_csv")
    files = _example_glue().prepare(ONLINE_RETAIL_CSV, out)
    con = connect(path)
    try:
        for table in ("partners", "orders"):
            ingest_file(con, table, files[table], mapping=EXAMPLE / "mapping.yaml")
    finally:
        con.disconnect()
    return path


def cdnow_tables() -> dict[str, pd.DataFrame]:
    """The CDNOW sample (2,357 customers, 1997-01..1998-06) as partners and order lines, one region."""
    raw = pd.read_csv(CDNOW_TXT, sep=r"\s+", header=None, names=["customer", "_id", "date", "cds", "dollars"],
                      dtype={"customer": str, "_id": str, "date": str})
    raw["order_date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    raw["partner_id"] = "C" + raw["customer"].str.zfill(5)
    raw["line"] = raw.groupby("partner_id").cumcount() + 1
    orders = pd.DataFrame({
        "order_id": raw["partner_id"] + "-" + raw["line"].astype(str),
        "partner_id": raw["partner_id"],
        "order_date": raw["order_date"],
        "product_line": "cds",
        "quantity": raw["cds"].astype(float),
        "net_amount": raw["dollars"].astype(float),
        "is_return": False,
    })
    first = orders.groupby("partner_id", as_index=False)["order_date"].min()
    partners = pd.DataFrame({
        "partner_id": first["partner_id"],
        "name": "Customer " + first["partner_id"],
        "region": "US",
        "channel_type": "other",
        "onboard_date": first["order_date"],
    })
    return {"partners": partners, "orders": orders}


def cdnow(path: Path) -> Path:
    """The CDNOW sample as a store: one region, orders only, USD."""
    return _ingest(path, cdnow_tables(), source="cdnow", currency="USD")


STORES: dict[str, Callable[[Path], Path]] = {
    "online_retail": online_retail,
    "cdnow": cdnow,
    "orders_only": orders_only,
    "three_months": three_months,
    "one_partner_region": one_partner_region,
    "many_lines_3000": many_lines_3000,
    "one_line": one_line,
    "no_product_line": no_product_line,
    "one_day": one_day,
    "returns_only_region": returns_only_region,
    "markup": markup,
}

# The degenerate matrix every notebook must render on (issue #12's acceptance list).
DEGENERATE = ("orders_only", "three_months", "one_partner_region", "many_lines_3000", "one_line",
              "no_product_line", "one_day", "returns_only_region")


def quarter_of(name: str) -> str:
    """The quarter to review on store `name`."""
    return QUARTERS.get(name, QUARTER)


def build(name: str, path: str | Path) -> Path:
    """Build store `name` (a key of STORES) at `path`, replacing any file there; returns the path."""
    if name not in STORES:
        raise KeyError(f"unknown store {name!r}; known: {', '.join(STORES)}")
    return STORES[name](Path(path))


def main(argv: list[str] | None = None) -> int:
    """Command line: build one store by name."""
    parser = argparse.ArgumentParser(prog="python -m tests.realstores", description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", choices=sorted(STORES))
    parser.add_argument("path", nargs="?")
    parser.add_argument("--list", action="store_true", help="list the store names and their quarters")
    args = parser.parse_args(argv)
    if args.list or not args.name:
        for name, fn in STORES.items():
            print(f"{name:22s} {quarter_of(name)}  {fn.__doc__.splitlines()[0]}")
        return 0
    if not args.path:
        parser.error("give the store's path, e.g. /tmp/store.duckdb")
    print(build(args.name, args.path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
