"""Ingestion guarantees, row by row: clean, dirty, gb18030, XLSX, Parquet, Chinese headers and the real export."""

from __future__ import annotations

import importlib.util
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from workbench import cli, store
from workbench.errors import IngestError
from workbench.ingest import (
    IngestResult,
    detect_encoding,
    ingest_file,
    ingest_frame,
    normalize_header,
    reason_text,
)

RUN = date(2026, 11, 27)
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "online_retail"

PARTNERS_EN = [
    ["partner_id", "name", "region", "channel_type", "onboard_date"],
    ["P001", "华东商贸", "East", "distributor", "2021-03-01"],
    ["P002", "Acme \"Wholesale\", Ltd", "South", "wholesaler", "2022-07-15"],
    ["P003", "北方零售", "North", "retailer", "2020-01-31"],
]
ORDERS_ZH = [
    ["订单号", "经销商编号", "下单日期", "产品线", "数量", "金额", "是否退货"],
    ["O1", "P001", "2026-01-05", "饮料", "10", "1200.50", "否"],
    ["O2", "P002", "2026/02/10", "零食", "3", "99", "否"],
    ["O3", "P003", "20260301", "饮料", "-2", "-40", "是"],
]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    """Write rows (first = header) as CSV with proper quoting in `encoding`."""
    pd.DataFrame(rows[1:], columns=rows[0]).to_csv(path, index=False, encoding=encoding)
    return path


def q(con, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of a query on the store."""
    return store.raw_connection(con).execute(sql, params or []).fetchall()


def quarantine(con, table: str | None = None) -> pd.DataFrame:
    """The quarantine table (optionally one table's rows), ordered by file and row number."""
    sql = "SELECT * FROM quarantine" + (" WHERE table_name = ?" if table else "") + " ORDER BY file, row_number"
    return store.raw_connection(con).execute(sql, [table] if table else []).df()


def snapshot(con) -> dict[str, list[tuple]]:
    """Every canonical and bookkeeping table's full content, sorted, for before/after comparisons."""
    return {t: sorted(map(repr, q(con, f"SELECT * FROM {t}")))
            for t in (*store.TABLE_ORDER, "quarantine", "ingest_log")}


@pytest.fixture
def con(tmp_path: Path):
    """A fresh store."""
    c = store.connect(tmp_path / "t.duckdb")
    yield c
    c.disconnect()


@pytest.fixture
def with_partners(con, tmp_path: Path):
    """A store holding the three PARTNERS_EN partners."""
    r = ingest_file(con, "partners", write_csv(tmp_path / "partners.csv", PARTNERS_EN), run_date=RUN)
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (3, 3, 0)
    return con


# ---- clean inputs in every encoding and format ---------------------------------------------------------


def test_clean_partners_land_exactly(with_partners) -> None:
    rows = q(with_partners, "SELECT partner_id, name, region, channel_type, onboard_date, exit_date FROM partners "
                            "ORDER BY partner_id")
    assert rows == [
        ("P001", "华东商贸", "East", "distributor", date(2021, 3, 1), None),
        ("P002", 'Acme "Wholesale", Ltd', "South", "wholesaler", date(2022, 7, 15), None),
        ("P003", "北方零售", "North", "retailer", date(2020, 1, 31), None),
    ]
    log = q(with_partners, "SELECT table_name, rows_read, rows_accepted, rows_quarantined, length(sha256) FROM ingest_log")
    assert log == [("partners", 3, 3, 0, 64)]


EXPECTED_ORDERS = [
    ("O1", "P001", date(2026, 1, 5), "饮料", 10.0, Decimal("1200.50"), False),
    ("O2", "P002", date(2026, 2, 10), "零食", 3.0, Decimal("99.00"), False),
    ("O3", "P003", date(2026, 3, 1), "饮料", -2.0, Decimal("-40.00"), True),
]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_chinese_header_csv_in_each_encoding(with_partners, tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "orders.csv", ORDERS_ZH, encoding)
    assert detect_encoding(path) == encoding
    r = ingest_file(with_partners, "orders", path, run_date=RUN)
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (3, 3, 0)
    rows = q(with_partners, "SELECT order_id, partner_id, order_date, product_line, quantity, net_amount, is_return "
                            "FROM orders ORDER BY order_id")
    assert rows == EXPECTED_ORDERS


def test_gb18030_characters_outside_gbk_survive(con, tmp_path: Path) -> None:
    rows = [PARTNERS_EN[0], ["P009", "𠀀记商行", "East", "dealer", "2020-05-05"]]
    path = write_csv(tmp_path / "p.csv", rows, "gb18030")
    ingest_file(con, "partners", path, run_date=RUN)
    assert q(con, "SELECT name FROM partners") == [("𠀀记商行",)]


def test_utf8_head_with_gb18030_bytes_further_on_is_read_as_gb18030(con, tmp_path: Path) -> None:
    lines = ["partner_id,name,region,channel_type,onboard_date"]
    lines += [f"P{i},name{i},East,other,2020-01-01" for i in range(40_000)]  # > 1 MB of ASCII first
    lines.append("P上海,上海商行,华东,经销商,2020-01-01")
    path = tmp_path / "late.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("gb18030"))
    assert detect_encoding(path) == "utf-8"  # the sample cannot tell ...
    r = ingest_file(con, "partners", path, run_date=RUN)  # ... the full read falls back to GB18030
    assert (r.rows_read, r.rows_accepted) == (40_001, 40_001)
    assert q(con, "SELECT name, channel_type FROM partners WHERE partner_id = 'P上海'") == [("上海商行", "distributor")]


def test_header_only_file_and_connection_settings_restored(con, tmp_path: Path) -> None:
    raw = store.raw_connection(con)
    before = raw.execute("SELECT current_setting('memory_limit'), current_setting('disabled_optimizers')").fetchone()
    path = write_csv(tmp_path / "p.csv", [PARTNERS_EN[0]])
    r = ingest_file(con, "partners", path, run_date=RUN)
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (0, 0, 0)
    assert raw.execute("SELECT current_setting('memory_limit'), current_setting('disabled_optimizers')").fetchone() \
        == before


def test_xlsx_with_title_rows_above_the_header(with_partners, tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["订单明细（系统导出）"])
    ws.append(["导出日期：2026-11-27"])
    ws.append([])
    for row in ORDERS_ZH:
        ws.append(row)
    ws.cell(row=5, column=3).value = pd.Timestamp("2026-01-05").to_pydatetime()  # a real Excel date cell
    ws.cell(row=5, column=6).value = 1200.5  # a real number cell
    ws.append(["O4", "P404", "2026-01-06", "饮料", 1, 5, "否"])  # unknown partner: sheet row 8 = data row 4
    path = tmp_path / "orders.xlsx"
    wb.save(path)
    r = ingest_file(with_partners, "orders", path, run_date=RUN)
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (4, 3, 1)
    assert q(with_partners, "SELECT order_id, partner_id, order_date, product_line, quantity, net_amount, is_return "
                            "FROM orders ORDER BY order_id") == EXPECTED_ORDERS
    qt = quarantine(with_partners)
    assert qt[["row_number", "column", "value", "reason"]].values.tolist() == [
        [4, "partner_id", "P404", reason_text("fk", "partner_id", "orders")]]


def test_parquet_with_typed_columns(with_partners, tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "order_id": ["O1", "O2", "O3"], "partner_id": ["P001", "P002", "P003"],
        "order_date": pd.to_datetime(["2026-01-05", "2026-02-10", "2026-03-01"]),
        "product_line": ["饮料", "零食", "饮料"], "quantity": [10, 3, -2],
        "net_amount": [1200.5, 99.0, -40.0], "is_return": [False, False, True],
    })
    path = tmp_path / "orders.parquet"
    frame.to_parquet(path)
    r = ingest_file(with_partners, "orders", path, run_date=RUN)
    assert (r.rows_accepted, r.rows_quarantined) == (3, 0)
    assert q(with_partners, "SELECT order_id, partner_id, order_date, product_line, quantity, net_amount, is_return "
                            "FROM orders ORDER BY order_id") == EXPECTED_ORDERS


def test_ingest_frame_checks_typed_frames_like_files(with_partners) -> None:
    frame = pd.DataFrame({
        "order_id": ["F1", "F2", "F3"], "partner_id": ["P001", "P001", "P002"],
        "order_date": pd.to_datetime(["2026-01-05", None, "2027-01-01"]),
        "net_amount": [10.0, 20.0, 30.0],
    })
    r = ingest_frame(with_partners, "orders", frame, source="frame:test", run_date=RUN)
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (3, 1, 2)
    qt = quarantine(with_partners)
    assert qt[["file", "row_number", "column", "reason"]].values.tolist() == [
        ["frame:test", 2, "order_date", reason_text("missing", "order_date")],
        ["frame:test", 3, "order_date", reason_text("future", "order_date")],
    ]


# ---- dirty inputs: every defect lands in quarantine with its reason ---------------------------------------


DIRTY = [  # (cells, expected (column, value, reason kind) or None for a good row)
    (["O1", "P001", "2026-01-05", "饮料", "10", "1200.50", "否"], None),
    (["\u3000O2 ", " P002", "2026年2月10日", "零食", "３", "¥1,099.00", "false"], None),  # normalised mess
    (["Ｏ３", "Ｐ００３", "2026.03.01", "饮料", "-2", "-40", "退货"], None),
    (["O4", "P404", "2026-01-05", "饮料", "1", "5", "否"], ("partner_id", "P404", "fk")),
    (["O5", "P001", "2025-02-30", "饮料", "1", "5", "否"], ("order_date", "2025-02-30", "not_date")),
    (["O6", "P001", "2026-01-05", "饮料", "1", "-5", "否"], ("net_amount", "-5", "negative")),
    (["O1", "P001", "2026-01-05", "饮料", "10", "1200.50", "否"], ("order_id", "O1", "duplicate")),
    (["O1", "P002", "2026-01-07", "饮料", "10", "1200.50", "否"], ("order_id", "O1", "pk_conflict")),
    (["O7", "", "2026-01-05", "饮料", "1", "5", "否"], ("partner_id", None, "missing")),
    (["O8", "P001", "2026-12-01", "饮料", "1", "5", "否"], ("order_date", "2026-12-01", "future")),
    (["O9", "P001", "2026-01-05", "饮料", "1", "abc", "否"], ("net_amount", "abc", "not_number")),
    (["O10", "P001", "2026-01-05", "饮料", "1", "5", "maybe"], ("is_return", "maybe", "not_bool")),
    (["O11", "P404", "N/A", "饮料", "1", "-5", "否"], ("order_date", "N/A", "not_date")),  # first problem wins
]


@pytest.mark.parametrize("bitmap_bits", [None, 1], ids=["bitmap", "every-hash-collides"])
def test_dirty_orders_row_by_row(with_partners, tmp_path: Path, monkeypatch, bitmap_bits: int | None) -> None:
    if bitmap_bits is not None:  # a 1-bit bitmap: every unknown partner passes it and is caught by the join
        monkeypatch.setattr("workbench.ingest.validate._BITS", bitmap_bits)
    path = write_csv(tmp_path / "订单.csv", [ORDERS_ZH[0], *[cells for cells, _ in DIRTY]], "gb18030")
    r = ingest_file(with_partners, "orders", path, run_date=RUN)
    bad = [(i, e) for i, (_, e) in enumerate(DIRTY, start=1) if e is not None]
    assert r.rows_read == len(DIRTY) == r.rows_accepted + r.rows_quarantined
    assert r.rows_quarantined == len(bad)
    qt = quarantine(with_partners, "orders")
    got = [(int(x.row_number), x.column, None if pd.isna(x.value) else x.value, x.reason) for x in qt.itertuples()]
    want = [(i, col, val, reason_text(kind, col, "orders")) for i, (col, val, kind) in bad]
    assert got == want
    assert (qt["file"] == str(path)).all()
    assert qt["row_data"].iloc[0].startswith('{"订单号":"O4"')
    rows = q(with_partners, "SELECT order_id, partner_id, order_date, quantity, net_amount, is_return "
                            "FROM orders ORDER BY order_id")
    assert rows == [
        ("O1", "P001", date(2026, 1, 5), 10.0, Decimal("1200.50"), False),
        ("O2", "P002", date(2026, 2, 10), 3.0, Decimal("1099.00"), False),
        ("O3", "P003", date(2026, 3, 1), -2.0, Decimal("-40.00"), True),
    ]
    summary = r.summary()
    assert f"{len(DIRTY)} rows read, 3 accepted, {len(bad)} quarantined" in summary
    assert reason_text("fk", "partner_id") in summary


def test_partners_enums_values_and_chinese_channel_names(con, tmp_path: Path) -> None:
    rows = [
        ["经销商编号", "经销商名称", "区域", "渠道类型", "合作日期", "联系电话"],
        ["P1", "  甲商行 ", "华东", "经销商", "2020-01-01", "１３８００００００００"],
        ["P2", "乙", "华南", "Wholesaler", "2020-01-01", ""],
        ["P3", "丙", "华北", "超市", "2020-01-01", ""],
        ["P4", "", "华北", "dealer", "2020-01-01", ""],
    ]
    r = ingest_file(con, "partners", write_csv(tmp_path / "p.csv", rows, "gb18030"), run_date=RUN)
    assert (r.rows_accepted, r.rows_quarantined) == (2, 2)
    assert q(con, "SELECT partner_id, name, channel_type, contact_phone FROM partners ORDER BY 1") == [
        ("P1", "甲商行", "distributor", "13800000000"), ("P2", "乙", "wholesaler", None)]
    assert quarantine(con)[["row_number", "column", "reason"]].values.tolist() == [
        [3, "channel_type", reason_text("not_enum", "channel_type", "partners")],
        [4, "name", reason_text("missing", "name", "partners")],
    ]


def test_ranges_and_whole_numbers(with_partners, tmp_path: Path) -> None:
    surveys = [["survey_id", "partner_id", "survey_date", "satisfaction", "nps"],
               ["S1", "P001", "2026-01-01", "88", "9"], ["S2", "P001", "2026-01-01", "120", ""],
               ["S3", "P001", "2026-01-01", "50", "11"]]
    r = ingest_file(with_partners, "surveys", write_csv(tmp_path / "s.csv", surveys), run_date=RUN)
    assert (r.rows_accepted, r.rows_quarantined) == (1, 2)
    conflicts = [["conflict_id", "reported_date", "partner_id", "conflict_type", "severity"],
                 ["C1", "2026-01-01", "P001", "窜货", "2"], ["C2", "2026-01-01", "P001", "price", "2.5"]]
    ingest_file(with_partners, "conflicts", write_csv(tmp_path / "c.csv", conflicts), run_date=RUN)
    assert q(with_partners, "SELECT conflict_id, conflict_type, severity FROM conflicts") == [("C1", "territory", 2)]
    assert quarantine(with_partners)[["table_name", "column", "reason"]].values.tolist() == [
        ["conflicts", "severity", reason_text("not_whole", "severity")],
        ["surveys", "satisfaction", reason_text("range", "satisfaction", "surveys")],
        ["surveys", "nps", reason_text("range", "nps", "surveys")],
    ]
    assert reason_text("range", "satisfaction", "surveys") == "satisfaction is outside 0–100"


def test_synthetic_dirty_exports_every_defect_and_good_row(tmp_path: Path) -> None:
    from workbench import synth

    net = synth.generate(partners=40, months=4, seed=3)
    ex = synth.write_dirty_exports(net, tmp_path / "exports", seed=2, defects=2)
    con = store.connect(tmp_path / "d.duckdb")
    for table in ("partners", "orders", "incentives"):
        r = ingest_file(con, table, ex.files[table], run_date=date(2026, 9, 30))
        assert r.rows_read == ex.rows_read[table] == r.rows_accepted + r.rows_quarantined
    qt = quarantine(con)
    qt["file"] = qt["file"].map(lambda f: Path(f).name)
    got = sorted(zip(qt.table_name, qt.file, qt.row_number.astype(int), qt.reason, strict=True))
    want = sorted(zip(ex.defects.table, ex.defects.file, ex.defects.row_number.astype(int), ex.defects.reason,
                      strict=True))
    assert got == want
    for table in ("partners", "orders", "incentives"):
        assert q(con, f"SELECT count(*) FROM {table}")[0][0] == len(ex.clean[table])


# ---- mapping and file-level errors -----------------------------------------------------------------------


def test_header_normalisation() -> None:
    assert normalize_header(" Partner ID ") == "partner_id"
    assert normalize_header("ＰＡＲＴＮＥＲ＿ＩＤ") == "partner_id"
    assert normalize_header("\ufeff经销商编号\u3000") == "经销商编号"


def test_custom_mapping_file(con, tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text("tables:\n  partners:\n    Kunde: partner_id\n    Firma: name\n    Land: region\n"
                       "    Art: channel_type\n    Seit: onboard_date\ndate_formats: ['%d.%m.%Y']\n", encoding="utf-8")
    rows = [["Kunde", "Firma", "Land", "Art", "Seit"], ["K1", "Müller GmbH", "DE", "dealer", "31.01.2024"]]
    r = ingest_file(con, "partners", write_csv(tmp_path / "k.csv", rows), mapping=mapping, run_date=RUN)
    assert r.rows_accepted == 1
    assert q(con, "SELECT partner_id, onboard_date FROM partners") == [("K1", date(2024, 1, 31))]


def test_missing_required_column_names_file_and_column_and_writes_nothing(with_partners, tmp_path: Path) -> None:
    before = snapshot(with_partners)
    rows = [["订单号", "经销商编号", "金额"], ["O1", "P001", "5"]]
    path = write_csv(tmp_path / "no_date.csv", rows)
    with pytest.raises(IngestError) as err:
        ingest_file(with_partners, "orders", path, run_date=RUN)
    assert "no_date.csv" in str(err.value) and "order_date" in str(err.value)
    assert snapshot(with_partners) == before


@pytest.mark.parametrize("name, content, words", [
    ("garbage.csv", b"\x81\x30\xff\xfe\x00\x01" * 50, ["garbage.csv"]),
    ("orders.docx", b"x", ["orders.docx", ".docx"]),
    ("broken.xlsx", b"not a zip", ["broken.xlsx", "Excel"]),
    ("broken.parquet", b"not parquet", ["broken.parquet", "Parquet"]),
])
def test_unreadable_files_raise_naming_the_file(with_partners, tmp_path: Path, name: str, content: bytes,
                                                words: list[str]) -> None:
    before = snapshot(with_partners)
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IngestError) as err:
        ingest_file(with_partners, "orders", path, run_date=RUN)
    for w in words:
        assert w in str(err.value)
    assert snapshot(with_partners) == before


def test_empty_file_is_a_file_error(con, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(IngestError, match="empty.csv is empty"):
        ingest_file(con, "partners", path)


def test_unknown_table_and_missing_file(con, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="unknown table 'sales'"):
        ingest_file(con, "sales", tmp_path / "x.csv")
    with pytest.raises(IngestError, match="x.csv does not exist"):
        ingest_file(con, "orders", tmp_path / "x.csv")


def test_two_headers_for_one_column_is_a_file_error(con, tmp_path: Path) -> None:
    rows = [["经销商编号", "partner_id", "name", "region", "channel_type", "onboard_date"],
            ["P1", "P1", "a", "b", "other", "2020-01-01"]]
    with pytest.raises(IngestError, match="'经销商编号' and 'partner_id' both map to column 'partner_id'"):
        ingest_file(con, "partners", write_csv(tmp_path / "p.csv", rows))


# ---- transactions, idempotence, upsert -------------------------------------------------------------------


def test_failure_halfway_rolls_back_everything(with_partners, tmp_path: Path, monkeypatch) -> None:
    import workbench.ingest.loads as ingest_mod

    before = snapshot(with_partners)
    path = write_csv(tmp_path / "o.csv", [ORDERS_ZH[0], *[cells for cells, _ in DIRTY]])
    real_upsert = ingest_mod._upsert

    def upsert_then_fail(raw, spec, **kw):
        real_upsert(raw, spec, **kw)  # rows are in the table now ...
        raise duckdb.IOException("disk full")  # ... and then the disk fills up

    monkeypatch.setattr(ingest_mod, "_upsert", upsert_then_fail)
    settings = "SELECT current_setting('memory_limit'), current_setting('disabled_optimizers')"
    before_settings = store.raw_connection(with_partners).execute(settings).fetchone()
    with pytest.raises(duckdb.IOException):
        ingest_file(with_partners, "orders", path, run_date=RUN)
    assert snapshot(with_partners) == before
    assert store.raw_connection(with_partners).execute(settings).fetchone() == before_settings
    monkeypatch.undo()
    r = ingest_file(with_partners, "orders", path, run_date=RUN)  # the connection is usable afterwards
    assert r.rows_accepted == 3


def test_failed_second_read_of_repeated_rows_rolls_back_everything(with_partners, tmp_path: Path,
                                                                  monkeypatch) -> None:
    """The raw rows of repeated keys are read on a second connection beside the upsert: its failure still
    leaves the store as it was, and the error reaches the caller."""
    import workbench.ingest.validate as ingest_mod

    before = snapshot(with_partners)
    path = write_csv(tmp_path / "o.csv", [ORDERS_ZH[0], *[cells for cells, _ in DIRTY]])
    fetch_sql = ingest_mod._RawFetch.__init__

    def broken_fetch(self, raw, source, row_data, rows):
        fetch_sql(self, raw, source.replace(str(path), str(tmp_path / "gone.csv")), row_data, rows)

    monkeypatch.setattr(ingest_mod._RawFetch, "__init__", broken_fetch)
    with pytest.raises(duckdb.IOException):
        ingest_file(with_partners, "orders", path, run_date=RUN)
    assert snapshot(with_partners) == before
    monkeypatch.undo()
    r = ingest_file(with_partners, "orders", path, run_date=RUN)
    assert (r.rows_accepted, r.reasons[reason_text("duplicate")]) == (3, 1)


def test_reingesting_the_same_file_changes_nothing(with_partners, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", [ORDERS_ZH[0], *[cells for cells, _ in DIRTY]], "gb18030")
    first = ingest_file(with_partners, "orders", path, run_date=RUN)
    after_first = snapshot(with_partners)
    second = ingest_file(with_partners, "orders", path, run_date=RUN)
    assert snapshot(with_partners) == after_first
    assert (second.rows_read, second.rows_accepted, second.rows_quarantined) == (
        first.rows_read, first.rows_accepted, first.rows_quarantined)
    copy = tmp_path / "copy_of_o.csv"  # the same content under another name: no duplicate quarantine rows
    copy.write_bytes(path.read_bytes())
    ingest_file(with_partners, "orders", copy, run_date=RUN)
    assert len(quarantine(with_partners)) == first.rows_quarantined
    assert q(with_partners, "SELECT count(*) FROM ingest_log WHERE table_name = 'orders'") == [(1,)]


def test_upsert_updates_changed_rows_and_keeps_children(with_partners, tmp_path: Path) -> None:
    ingest_file(with_partners, "orders", write_csv(tmp_path / "o.csv", ORDERS_ZH), run_date=RUN)
    changed = [PARTNERS_EN[0], ["P001", "华东商贸（新）", "East", "key_account", "2021-03-01"],
               ["P004", "新伙伴", "Central", "ecommerce", "2024-01-01"]]
    r = ingest_file(with_partners, "partners", write_csv(tmp_path / "p2.csv", changed), run_date=RUN)
    assert r.rows_accepted == 2
    assert q(with_partners, "SELECT partner_id, name, channel_type FROM partners ORDER BY 1") == [
        ("P001", "华东商贸（新）", "key_account"), ("P002", 'Acme "Wholesale", Ltd', "wholesaler"),
        ("P003", "北方零售", "retailer"), ("P004", "新伙伴", "ecommerce")]
    assert q(with_partners, "SELECT count(*) FROM orders") == [(3,)]


def test_late_partner_releases_quarantined_orders_on_reingest(with_partners, tmp_path: Path) -> None:
    rows = [ORDERS_ZH[0], ["O1", "P001", "2026-01-05", "饮料", "1", "5", "否"],
            ["O2", "P777", "2026-01-05", "饮料", "1", "5", "否"]]
    path = write_csv(tmp_path / "o.csv", rows)
    assert ingest_file(with_partners, "orders", path, run_date=RUN).rows_quarantined == 1
    late = [PARTNERS_EN[0], ["P777", "迟到商行", "West", "other", "2026-01-01"]]
    ingest_file(with_partners, "partners", write_csv(tmp_path / "late.csv", late), run_date=RUN)
    r = ingest_file(with_partners, "orders", path, run_date=RUN)
    assert (r.rows_accepted, r.rows_quarantined) == (2, 0)
    kept = quarantine(with_partners, "orders")  # the first load's quarantine is its record: kept, per load
    assert list(kept["load_id"]) == [2] and list(kept["row_number"]) == [2]
    assert q(with_partners, "SELECT count(*) FROM quarantine WHERE load_id = ?", [r.load_id]) == [(0,)]


def test_store_keys_hold_after_any_sequence_of_ingests(with_partners, tmp_path: Path) -> None:
    """Keys are enforced by ingest, not DuckDB constraints: no repeated key or orphan ever lands."""
    assert q(with_partners, "SELECT count(*) FROM duckdb_constraints() WHERE table_name IN "
                            f"{tuple(store.TABLE_ORDER)} AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY', "
                            "'UNIQUE')") == [(0,)]
    hdr = ORDERS_ZH[0]
    files = [
        [hdr, ["O1", "P001", "2026-01-05", "饮料", "1", "5", "否"], ["O1", "P002", "2026-01-06", "饮料", "1", "6", "否"],
         ["O2", "P009", "2026-01-05", "饮料", "1", "5", "否"]],
        [hdr, ["O1", "P003", "2026-01-07", "饮料", "2", "7", "否"], ["O3", "P001", "2026-01-05", "饮料", "1", "5", "否"],
         ["O3", "P001", "2026-01-05", "饮料", "1", "5", "否"], ["O1", "P001", "2026-01-07", "饮料", "2", "7", "否"]],
        [hdr, ["O2", "P001", "2026-01-05", "饮料", "1", "5", "否"], ["O4", "P002", "2026-01-05", "饮料", "1", "5", "否"]],
    ]
    paths = [write_csv(tmp_path / f"o{i}.csv", rows) for i, rows in enumerate(files)]
    partners2 = write_csv(tmp_path / "p2.csv", [PARTNERS_EN[0], ["P001", "改名", "East", "dealer", "2021-03-01"],
                                                 ["P001", "再改名", "East", "dealer", "2021-03-01"]])
    frame = pd.DataFrame({"order_id": ["O4", "O5", "O5"], "partner_id": ["P003", "P001", "P002"],
                          "order_date": ["2026-01-05"] * 3, "net_amount": ["1", "2", "3"]})
    steps = [*paths, paths[0], partners2, "frame", paths[2], paths[1], "frame"]
    for step in steps:
        if step == "frame":
            r = ingest_frame(with_partners, "orders", frame, source="frame", run_date=RUN)
        else:
            r = ingest_file(with_partners, "partners" if step == partners2 else "orders", step, run_date=RUN)
        assert r.rows_read == r.rows_accepted + r.rows_quarantined
        for t in store.TABLE_ORDER:
            spec = store.TABLES[t]
            pk = ", ".join(spec.primary_key)
            assert q(with_partners, f"SELECT count(*) FROM (SELECT {pk} FROM {t} GROUP BY ALL HAVING count(*) > 1)") \
                == [(0,)], (step, t)
            for col, parent in spec.foreign_keys:
                assert q(with_partners, f"SELECT count(*) FROM {t} WHERE {col} NOT IN (SELECT partner_id FROM {parent})") \
                    == [(0,)], (step, t)
    assert q(with_partners, "SELECT order_id, partner_id, net_amount FROM orders ORDER BY 1") == [
        ("O1", "P003", Decimal("7.00")), ("O2", "P001", Decimal("5.00")), ("O3", "P001", Decimal("5.00")),
        ("O4", "P003", Decimal("1.00")), ("O5", "P001", Decimal("2.00"))]
    assert q(with_partners, "SELECT name FROM partners WHERE partner_id = 'P001'") == [("改名",)]


@pytest.mark.slow
def test_row_numbers_of_a_file_read_in_parallel(with_partners, tmp_path: Path) -> None:
    """A file big enough for DuckDB to read on several threads: row numbers still count lines in order."""
    n = 1_200_000
    path = tmp_path / "big.csv"
    duckdb.connect().execute(f"""COPY (
        SELECT 'B' || CASE WHEN i % 100000 = 5 THEN i - 1 ELSE i END AS order_id,
               CASE WHEN i % 100000 = 3 THEN 'P404' ELSE 'P00' || (1 + i % 3) END AS partner_id,
               CASE WHEN i % 100000 = 9 THEN 'soon' ELSE '2026-01-05' END AS order_date,
               i AS quantity, '1.00' AS net_amount
        FROM range(1, {n} + 1) t(i)) TO '{path}' (HEADER)""")
    r = ingest_file(with_partners, "orders", path, run_date=RUN)
    assert (r.rows_read, r.rows_quarantined) == (n, 36)
    qt = quarantine(with_partners, "orders")
    want = sorted([(i + 3, "partner_id") for i in range(0, n, 100000)] + [(i + 5, "order_id") for i in range(0, n, 100000)]
                  + [(i + 9, "order_date") for i in range(0, n, 100000)])
    assert [(int(x.row_number), x.column) for x in qt.itertuples()] == want
    assert all(f'"quantity":"{row}"' in data for row, data in zip(qt["row_number"], qt["row_data"], strict=True))


# ---- command line ----------------------------------------------------------------------------------------


def test_cli_strict_exit_codes(tmp_path: Path, capsys) -> None:
    db = str(tmp_path / "cli.duckdb")
    partners = write_csv(tmp_path / "partners.csv", PARTNERS_EN)
    assert cli.main(["ingest", "partners", str(partners), "--strict", "--db", db]) == 0
    dirty = write_csv(tmp_path / "orders.csv", [ORDERS_ZH[0], *[cells for cells, _ in DIRTY]], "gb18030")
    assert cli.main(["ingest", "orders", str(dirty), "--db", db]) == 0
    assert cli.main(["ingest", "orders", str(dirty), "--strict", "--db", db]) == 1
    out = capsys.readouterr().out
    assert "quarantined" in out and reason_text("fk", "partner_id") in out
    bad = write_csv(tmp_path / "bad.csv", [["订单号"], ["O1"]])
    assert cli.main(["ingest", "orders", str(bad), "--db", db]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "bad.csv" in err and "partner_id" in err


def test_result_summary_lists_reasons() -> None:
    r = IngestResult("orders", "o.csv", "x", 10, 7, 3, {"a reason": 2, "another": 1})
    assert r.summary().splitlines() == [
        "o.csv → orders: 10 rows read, 7 accepted, 3 quarantined.",
        "           2  a reason",
        "           1  another",
    ]


# ---- the real export: bring your own data ----------------------------------------------------------------


def _prepare_module():
    spec = importlib.util.spec_from_file_location("online_retail_prepare", EXAMPLE / "prepare.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_online_retail_glue_on_a_slice(real_data: Path, tmp_path: Path) -> None:
    raw = pd.read_csv(real_data / "online_retail" / "online_retail.csv.gz", dtype=str, keep_default_na=False,
                      nrows=3000)
    raw = pd.concat([raw, raw.iloc[[5, 6]]], ignore_index=True)  # two exact duplicate lines at the end
    src = tmp_path / "slice.csv"
    raw.to_csv(src, index=False)
    paths = _prepare_module().prepare(src, tmp_path / "out")
    con = store.connect(tmp_path / "or.duckdb")
    mapping = EXAMPLE / "mapping.yaml"
    p = ingest_file(con, "partners", paths["partners"], mapping=mapping, run_date=RUN)
    o = ingest_file(con, "orders", paths["orders"], mapping=mapping, run_date=RUN)
    assert p.rows_quarantined == 0 and p.rows_accepted == raw.loc[raw.CustomerID != "", "CustomerID"].nunique()
    assert o.rows_read == len(raw) == o.rows_accepted + o.rows_quarantined
    qt = quarantine(con, "orders")
    dup = qt[qt.reason == reason_text("duplicate")]
    assert {3001, 3002} <= set(dup.row_number)
    no_customer = int((raw.CustomerID == "").sum())
    assert (qt.reason == reason_text("missing", "partner_id")).sum() == no_customer
    first = raw.iloc[0]
    assert q(con, "SELECT order_id, partner_id, order_date, net_amount, is_return FROM orders "
                  "WHERE order_id = ?", [f"{first.InvoiceNo}-1"]) == [
        (f"{first.InvoiceNo}-1", first.CustomerID, date(2010, 12, 1),
         Decimal(str(round(float(first.Quantity) * float(first.UnitPrice), 2))).quantize(Decimal("0.01")), False)]


@pytest.mark.slow
def test_online_retail_every_line_lands_or_is_quarantined(real_data: Path, tmp_path: Path) -> None:
    paths = _prepare_module().prepare(real_data / "online_retail" / "online_retail.csv.gz", tmp_path / "out")
    db = str(tmp_path / "retail.duckdb")
    mapping = str(EXAMPLE / "mapping.yaml")
    assert cli.main(["ingest", "partners", str(paths["partners"]), "--map", mapping, "--db", db]) == 0
    assert cli.main(["ingest", "orders", str(paths["orders"]), "--map", mapping, "--db", db]) == 0
    con = store.connect(db)
    accepted = q(con, "SELECT count(*), count(*) FILTER (WHERE is_return) FROM orders")[0]
    reasons = dict(q(con, "SELECT reason, count(*) FROM quarantine GROUP BY reason"))
    assert accepted[0] + sum(reasons.values()) == 541_909
    assert q(con, "SELECT rows_read, rows_accepted, rows_quarantined FROM ingest_log WHERE table_name = 'orders'") == [
        (541_909, accepted[0], sum(reasons.values()))]
    assert reasons[reason_text("missing", "partner_id")] == 135_080  # lines without CustomerID (README)
    assert 5_000 < reasons[reason_text("duplicate")] <= 5_268  # exact duplicates that do have a customer
    assert accepted[1] > 8_000  # cancellation lines with a customer are accepted as returns
    assert q(con, "SELECT count(*), count(DISTINCT region) FROM partners") == [(4_372, 37)]
