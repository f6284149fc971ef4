"""Property: any sequence of exports (random column subsets, repeated and overlapping keys, bad rows,
reloads, replace mode, rollbacks) leaves the store equal, cell for cell, to a plain-Python model of the
upsert rules (issue 13, point 1)."""

from __future__ import annotations

import copy
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import store
from workbench.errors import IngestError
from workbench.ingest import ingest_file, rollback_load

RUN = date(2026, 11, 27)
KEYS = {"partners": ["P1", "P2", "P3", "P4"], "orders": ["O1", "O2", "O3", "O4", "O5"]}
REQUIRED = {"partners": ["partner_id", "name", "region", "channel_type", "onboard_date"],
            "orders": ["order_id", "partner_id", "order_date", "net_amount"]}
OPTIONAL = {"partners": ["exit_date", "contact_phone", "manager_id"],
            "orders": ["product_line", "quantity", "is_return"]}
GOOD = {  # column -> text values a row may hold ("" is empty: NULL, or missing when required)
    "name": ["A", "B", "Cé"], "region": ["East", "South"], "channel_type": ["dealer", "retailer"],
    "onboard_date": ["2021-03-01", "2022-07-15"], "exit_date": ["", "2026-06-30", "2025-01-31"],
    "contact_phone": ["", "138", "139"], "manager_id": ["", "M1", "M2"],
    "partner_id": ["P1", "P2", "P3"], "order_date": ["2026-01-05", "2026-02-10"], "net_amount": ["5", "1,200.50"],
    "product_line": ["", "X", "Y"], "quantity": ["", "1", "2.5"], "is_return": ["", "yes", "no"],
}
BAD = {"partners": [("onboard_date", "2021-02-30"), ("channel_type", "bogus"), ("name", "")],
       "orders": [("net_amount", "1,5"), ("partner_id", "P9"), ("order_date", "03/04/2026")]}


def typed(col: str, text: str):
    """The stored value of a good text value (what the contract's types make of it)."""
    if text == "":
        return None
    if col.endswith("_date"):
        return date.fromisoformat(text)
    if col == "net_amount":
        return Decimal(text.replace(",", "")).quantize(Decimal("0.01"))
    if col == "quantity":
        return float(text)
    if col == "is_return":
        return text == "yes"
    return text


@st.composite
def export(draw, table: str):
    """(table, header, rows, replace, bad_rows): a CSV's content with its planted bad rows marked."""
    cols = REQUIRED[table] + [c for c in OPTIONAL[table] if draw(st.booleans())]
    key = cols[0]
    rows, bad = [], []
    for _ in range(draw(st.integers(1, 6))):
        row = {c: draw(st.sampled_from(GOOD[c])) for c in cols if c != key}
        row[key] = draw(st.sampled_from(KEYS[table]))
        is_bad = draw(st.integers(0, 5)) == 0
        if is_bad:
            col, value = draw(st.sampled_from(BAD[table]))
            row[col] = value
        rows.append([row[c] for c in cols])
        bad.append(is_bad)
    return table, cols, rows, draw(st.integers(0, 4)) == 0, bad


def step():
    return st.one_of(
        export("partners"), export("orders"),
        st.just("reload"), st.just("rollback"),
    )


class Model:
    """The store as plain dicts: table -> key -> {column: value}."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, dict]] = {"partners": {}, "orders": {}}

    def apply(self, table: str, cols: list[str], rows: list[list[str]], replace: bool, bad: list[bool]) -> int:
        """Apply one export by the documented rules; return rows accepted."""
        seen: set[str] = set()
        accepted = 0
        new: dict[str, dict] = {}
        for values, is_bad in zip(rows, bad, strict=True):
            row = dict(zip(cols, values, strict=True))
            if is_bad or (table == "orders" and row["partner_id"] not in self.tables["partners"]):
                continue
            key = row[cols[0]]
            if key in seen:
                continue  # a repeat of a key among good rows: the first one is kept
            seen.add(key)
            accepted += 1
            new[key] = row
        all_cols = store.TABLES[table].column_names
        for key, row in new.items():
            old = self.tables[table].get(key)
            if old is None or replace:
                self.tables[table][key] = {c: typed(c, row[c]) if c in row else None for c in all_cols}
            else:
                old.update({c: typed(c, row[c]) for c in row})
        return accepted


def stored(con, table: str) -> dict[str, dict]:
    cols = store.TABLES[table].column_names
    key = store.TABLES[table].primary_key[0]
    frame = store.raw_connection(con).execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
    return {r[cols.index(key)]: dict(zip(cols, r, strict=True)) for r in frame}


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step(), min_size=1, max_size=8))
def test_any_sequence_of_exports_matches_the_model(steps) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        con = store.connect(Path(tmp) / "p.duckdb")
        model = Model()
        done: list[tuple] = []  # exports applied so far, to reload
        undo: list[tuple[int, Model]] = []  # (load id, model before it), newest last
        try:
            for i, s in enumerate(steps):
                if s == "reload":
                    if not done:
                        continue
                    s = done[-1 - i % len(done)]
                if s == "rollback":
                    if not undo:
                        continue
                    load_id, before = undo[-1]
                    try:
                        rollback_load(con, load_id)
                    except IngestError as exc:  # orders refer to partners the load added
                        assert "refer to partners it added" in str(exc)
                        continue
                    undo.pop()
                    model = before
                else:
                    table, cols, rows, replace, bad = s
                    path = Path(tmp) / f"{table}_{i}.csv"
                    pd.DataFrame(rows, columns=cols).to_csv(path, index=False)
                    before = copy.deepcopy(model)
                    want = model.apply(table, cols, rows, replace, bad)
                    r = ingest_file(con, table, path, run_date=RUN, replace=replace)
                    assert r.rows_read == len(rows) == r.rows_accepted + r.rows_quarantined
                    assert r.rows_accepted == want, (i, s)
                    if not r.skipped:
                        undo.append((r.load_id, before))
                    done.append(s)
                for table in ("partners", "orders"):
                    assert stored(con, table) == model.tables[table], (i, table)
        finally:
            con.disconnect()
