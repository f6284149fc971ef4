"""Numbers are read exactly or quarantined, never rescaled; dates are read by the mapping's format or
quarantined when ambiguous, never guessed (issue 13, point 4)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from workbench import store
from workbench.errors import ConfigError, IngestError
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


# ---- every physical record is accounted for (issue 13, point 5) ------------------------------------------


def test_record_counter_is_independent_of_chunking() -> None:
    from workbench.ingest.read import RecordCounter

    text = (b'a,b\r\n1,"x\ny"\r\n\r\n2,3\n\n\n"q""q",4\n  \n5,6')
    whole = RecordCounter()
    whole.feed(text)
    assert whole.finish() == 6  # header, 1, 2, "q""q", the blank-looking "  " line, 5
    for size in (1, 2, 3, 7):
        c = RecordCounter()
        for i in range(0, len(text), size):
            c.feed(text[i:i + size])
        assert c.finish() == 6, size


def test_lines_with_too_many_or_too_few_fields_are_quarantined_with_their_line(con, tmp_path: Path) -> None:
    text = ("order_id,partner_id,order_date,net_amount\n"
            "O1,P1,2026-01-05,5\n"
            "O2,P1,2026-01-05,6,surplus\n"
            "\n"
            "O3,P1,2026-01-05\n"
            '"O4",P1,2026-01-05,"1,234.50"\n'
            '"O\n5",P1,2026-01-05,7\n'
            "O6,P1,2026-01-05,8\n")
    path = tmp_path / "fields.csv"
    path.write_text(text, encoding="utf-8")
    r = ingest_file(con, "orders", path, run_date=RUN)
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (6, 4, 2)
    raw = store.raw_connection(con)
    got = raw.execute("SELECT row_number, value, reason FROM quarantine WHERE table_name = 'orders' "
                      "ORDER BY row_number").fetchall()
    assert got == [(2, "line 3 has 5 fields, the header has 4", reason_text("fields")),
                   (3, "line 5 has 3 fields, the header has 4", reason_text("fields"))]
    assert raw.execute("SELECT order_id, net_amount FROM orders ORDER BY 1").fetchall() == [
        ("O\n5", Decimal("7.00")), ("O1", Decimal("5.00")), ("O4", Decimal("1234.50")), ("O6", Decimal("8.00"))]


def test_a_count_that_still_differs_loads_nothing(con, tmp_path: Path, monkeypatch) -> None:
    import workbench.ingest.read as read_mod

    path = write_csv(tmp_path / "o.csv", [["order_id", "partner_id", "order_date", "net_amount"],
                                          ["O1", "P1", "2026-01-05", "5"]])
    real_finish = read_mod.RecordCounter.finish
    monkeypatch.setattr(read_mod.RecordCounter, "finish", lambda self: real_finish(self) + 1)  # a record lost
    with pytest.raises(IngestError, match="independent count finds 2 records but the reader returned 1"):
        ingest_file(con, "orders", path, run_date=RUN)
    assert store.raw_connection(con).execute("SELECT count(*) FROM orders").fetchone() == (0,)


def test_physical_lines_and_the_simple_flag_whatever_the_chunking(tmp_path: Path) -> None:
    from workbench.ingest.read import RecordCounter, physical_lines

    text = b"h1,h2\r\nO1,a b\r\n,x\r\nO3,\xe5\x8d\x8e\r\nlast,no newline"
    path = tmp_path / "l.csv"
    path.write_bytes(text)
    want = {k + 1: line.rstrip(b"\r") for k, line in enumerate(text.split(b"\n"))}
    for size in (1, 2, 5, 64):
        assert physical_lines(path, [5, 1, 3, 3], chunk_bytes=size) == {k: want[k] for k in (1, 3, 5)}, size
    assert physical_lines(path, [9]) == {}
    for body, simple in ((text, True), (b"a,b\n1,2\n\n3,4\n", False), (b'a,b\n"1",2\n', False),
                         (b"a,b\n1\r,2\n", False)):
        c = RecordCounter()
        for i in range(0, len(body), 3):
            c.feed(body[i:i + 3])
        assert c.simple is simple, body


def test_raw_rows_cut_from_the_bytes_equal_a_second_parse(tmp_path: Path, monkeypatch) -> None:
    """Repeated keys and unknown partners of a simple CSV get their raw text from the file's bytes; the
    quarantine is the same as when DuckDB reads the file a second time (the slower way)."""
    import workbench.ingest.validate as validate_mod

    text = ("order_id;partner_id;order_date;net_amount;product_line\r\n"
            "O1;P1;2026-01-05;5; A b \r\n"
            "O2;P1;2026-01-05;6;\r\n"
            "O1;P1;2026-01-05;5; A b \r\n"  # a duplicate line
            "O2;P1;2026-01-06;6;\r\n"  # a key conflict
            "O3;P9;2026-01-05;7;x\r\n")  # an unknown partner
    path = tmp_path / "o.csv"
    path.write_text(text, encoding="utf-8")
    cut = {"n": 0}
    real_read = validate_mod._ByteFetch._read

    def counting_read(self):
        cut["n"] += 1
        return real_read(self)

    def table(mode: str) -> list[tuple]:
        c = store.connect(tmp_path / f"{mode}.duckdb")
        ingest_file(c, "partners", write_csv(tmp_path / "p.csv", PARTNERS), run_date=RUN)
        r = ingest_file(c, "orders", path, run_date=RUN)
        assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (5, 2, 3)
        rows = store.raw_connection(c).execute(
            "SELECT row_number, \"column\", value, reason, row_data FROM quarantine WHERE table_name = 'orders' "
            "ORDER BY row_number").fetchall()
        c.disconnect()
        return rows

    monkeypatch.setattr(validate_mod._ByteFetch, "_read", counting_read)
    from_bytes = table("bytes")
    assert cut["n"] == 1
    monkeypatch.setattr(validate_mod._ByteFetch, "_read", lambda self: None)  # falls back to DuckDB
    assert table("parsed") == from_bytes
    assert [(r[0], r[3]) for r in from_bytes] == [
        (3, reason_text("duplicate")), (4, reason_text("pk_conflict", "order_id")), (5, reason_text("fk", "partner_id"))]
    assert from_bytes[0][4] == ('{"order_id":"O1","partner_id":"P1","order_date":"2026-01-05","net_amount":"5",'
                                '"product_line":" A b "}')
