"""Numbers are read exactly or quarantined, never rescaled; dates are read by the mapping's format or
quarantined when ambiguous, never guessed (issue 13, point 4)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from workbench import store
from workbench.errors import ConfigError
from workbench.ingest import ingest_file, load_mapping, reason_text

RUN = date(2026, 11, 27)
PARTNERS = [["partner_id", "name", "region", "channel_type", "onboard_date"],
            ["P1", "One", "East", "dealer", "2021-03-01"]]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    pd.DataFrame(rows[1:], columns=rows[0]).to_csv(path, index=False)
    return path


@pytest.fixture
def con(tmp_path: Path):
    c = store.connect(tmp_path / "n.duckdb")
    ingest_file(c, "partners", write_csv(tmp_path / "p.csv", PARTNERS), run_date=RUN)
    yield c
    c.disconnect()


def amounts(con, tmp_path: Path, values: list[str], mapping: dict | None = None) -> dict[str, object]:
    """Ingest one order per amount; {amount text: stored Decimal or the quarantine reason}."""
    rows = [["order_id", "partner_id", "order_date", "net_amount", "is_return"]]
    rows += [[f"O{i}", "P1", "2026-01-05", v, "true" if "-" in v or "(" in v or "－" in v else "false"]
             for i, v in enumerate(values)]
    ingest_file(con, "orders", write_csv(tmp_path / "o.csv", rows), run_date=RUN, mapping=mapping)
    raw = store.raw_connection(con)
    got = dict(raw.execute("SELECT order_id, net_amount FROM orders").fetchall())
    bad = dict(raw.execute("SELECT value, reason FROM quarantine WHERE table_name = 'orders' "
                           "AND load_id = (SELECT max(load_id) FROM loads)").fetchall())
    return {v: got.get(f"O{i}", bad.get(v.strip(), "?")) for i, v in enumerate(values)}


def test_default_format_reads_or_quarantines_never_rescales(con, tmp_path: Path) -> None:
    nan = reason_text("not_number", "net_amount")
    got = amounts(con, tmp_path, ["1234.50", "1,234.50", "1,234,567", "１２３４.５", "－12", "¥1,200", "$ 3.5",
                                  "(1,234.00)", "€7", "£8.25", "1,5", "1.234,56", "12,34", "1,2345", "abc"])
    assert got == {
        "1234.50": Decimal("1234.50"), "1,234.50": Decimal("1234.50"), "1,234,567": Decimal("1234567.00"),
        "１２３４.５": Decimal("1234.50"), "－12": Decimal("-12.00"), "¥1,200": Decimal("1200.00"),
        "$ 3.5": Decimal("3.50"), "(1,234.00)": Decimal("-1234.00"), "€7": Decimal("7.00"),
        "£8.25": Decimal("8.25"),
        "1,5": nan, "1.234,56": nan, "12,34": nan, "1,2345": nan, "abc": nan,
    }


def test_european_number_format(con, tmp_path: Path) -> None:
    mapping = {"number_format": {"decimal": ",", "thousands": "."}}
    nan = reason_text("not_number", "net_amount")
    got = amounts(con, tmp_path, ["1.234,56", "1234,5", "12", "1.234.567", "(1.000,00)", "1,234.50", "1.5"],
                  mapping)
    assert got == {"1.234,56": Decimal("1234.56"), "1234,5": Decimal("1234.50"), "12": Decimal("12.00"),
                   "1.234.567": Decimal("1234567.00"), "(1.000,00)": Decimal("-1000.00"),
                   "1,234.50": nan, "1.5": nan}


def test_bad_number_format_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="decimal"):
        load_mapping({"number_format": {"decimal": ";"}})
    with pytest.raises(ConfigError, match="thousands"):
        load_mapping({"number_format": {"decimal": ",", "thousands": ","}})


def dates(con, tmp_path: Path, values: list[str], mapping: dict | None = None) -> dict[str, object]:
    rows = [["order_id", "partner_id", "order_date", "net_amount"]]
    rows += [[f"D{i}", "P1", v, "1"] for i, v in enumerate(values)]
    ingest_file(con, "orders", write_csv(tmp_path / "d.csv", rows), run_date=RUN, mapping=mapping)
    raw = store.raw_connection(con)
    got = dict(raw.execute("SELECT order_id, order_date FROM orders").fetchall())
    bad = dict(raw.execute("SELECT value, reason FROM quarantine WHERE load_id = (SELECT max(load_id) FROM loads)"
                           ).fetchall())
    return {v: got.get(f"D{i}", bad.get(v, "?")) for i, v in enumerate(values)}


def test_ambiguous_day_month_is_quarantined_not_guessed(con, tmp_path: Path) -> None:
    amb = reason_text("ambiguous_date", "order_date")
    nad = reason_text("not_date", "order_date")
    got = dates(con, tmp_path, ["2026-03-04", "2026/03/04", "03/04/2026", "13/04/2026", "1/2/26", "20260304"])
    assert got == {"2026-03-04": date(2026, 3, 4), "2026/03/04": date(2026, 3, 4), "03/04/2026": amb,
                   "13/04/2026": nad, "1/2/26": nad, "20260304": date(2026, 3, 4)}


def test_date_format_reads_day_first(con, tmp_path: Path) -> None:
    got = dates(con, tmp_path, ["03/04/2026", "13/04/2026", "2026-03-05"], {"date_format": "%d/%m/%Y"})
    assert got == {"03/04/2026": date(2026, 4, 3), "13/04/2026": date(2026, 4, 13), "2026-03-05": date(2026, 3, 5)}


def test_two_date_formats_that_disagree_quarantine_the_value(con, tmp_path: Path) -> None:
    got = dates(con, tmp_path, ["03/04/2026", "13/04/2026"], {"date_formats": ["%d/%m/%Y", "%m/%d/%Y"]})
    assert got == {"03/04/2026": reason_text("ambiguous_date", "order_date"), "13/04/2026": date(2026, 4, 13)}


def test_mapping_currency_and_product_line_map(con, tmp_path: Path) -> None:
    from workbench.vocab import store_currency

    (tmp_path / "lines.csv").write_text("sku,category\n85123A,Home\n22423,Kitchen\n", encoding="utf-8")
    (tmp_path / "m.yaml").write_text("currency: gbp\nproduct_line_map: lines.csv\n", encoding="utf-8")
    rows = [["order_id", "partner_id", "order_date", "product_line", "net_amount"],
            ["A", "P1", "2026-01-05", "85123A", "1"], ["B", "P1", "2026-01-05", "22423", "1"],
            ["C", "P1", "2026-01-05", "99999", "1"]]
    assert store_currency(con) == "CNY"
    ingest_file(con, "orders", write_csv(tmp_path / "o.csv", rows), run_date=RUN, mapping=tmp_path / "m.yaml")
    assert store_currency(con) == "GBP"
    got = store.raw_connection(con).execute("SELECT order_id, product_line FROM orders ORDER BY 1").fetchall()
    assert got == [("A", "Home"), ("B", "Kitchen"), ("C", "99999")]
    with pytest.raises(ConfigError, match="ISO 4217"):
        load_mapping({"currency": "pounds"})


def test_online_retail_example_declares_gbp() -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "online_retail" / "mapping.yaml"
    assert load_mapping(example).currency == "GBP"
