"""Ingest never loses data: partial exports keep what they lack, every ingest is a load with its own
quarantine and log, identical content is a no-op, rollback restores before-images, partner attributes keep
their history (issue 13, points 1-3)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from workbench import features, store
from workbench.errors import IngestError, WorkbenchError
from workbench.ingest import ingest_file, list_loads, rollback_load

RUN = date(2026, 11, 27)
FULL = [["partner_id", "name", "region", "channel_type", "onboard_date", "exit_date", "contact_phone", "manager_id"],
        ["P1", "One", "East", "dealer", "2021-03-01", "2026-06-30", "138-0000-0001", "M1"],
        ["P2", "Two", "South", "retailer", "2022-01-01", "", "", "M2"]]
PARTIAL = [["partner_id", "name", "region", "channel_type", "onboard_date"],
           ["P1", "One Ltd", "East", "dealer", "2021-03-01"],
           ["P3", "Three", "North", "other", "2023-05-01"]]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    pd.DataFrame(rows[1:], columns=rows[0]).to_csv(path, index=False)
    return path


def q(con, sql: str, params: list | None = None) -> list[tuple]:
    return store.raw_connection(con).execute(sql, params or []).fetchall()


def contents(con) -> dict[str, list]:
    """Every canonical table's contract columns and the partner history, sorted."""
    out = {t: sorted(map(repr, q(con, f"SELECT {', '.join(store.TABLES[t].column_names)} FROM {t}")))
           for t in store.TABLE_ORDER}
    out["partner_history"] = sorted(map(repr, q(con, "SELECT partner_id, region, channel_type, manager_id, "
                                                     "valid_from, valid_to FROM partner_history")))
    return out


@pytest.fixture
def con(tmp_path: Path):
    c = store.connect(tmp_path / "l.duckdb")
    yield c
    c.disconnect()


def test_partial_export_keeps_the_columns_it_lacks(con, tmp_path: Path) -> None:
    ingest_file(con, "partners", write_csv(tmp_path / "full.csv", FULL), run_date=RUN)
    r = ingest_file(con, "partners", write_csv(tmp_path / "partial.csv", PARTIAL), run_date=RUN)
    assert (r.rows_inserted, r.rows_updated) == (1, 1)
    assert q(con, "SELECT partner_id, name, exit_date, contact_phone, manager_id FROM partners ORDER BY 1") == [
        ("P1", "One Ltd", date(2026, 6, 30), "138-0000-0001", "M1"),
        ("P2", "Two", None, None, "M2"),
        ("P3", "Three", None, None, None)]


def test_orders_without_is_return_keep_the_flag(con, tmp_path: Path) -> None:
    ingest_file(con, "partners", write_csv(tmp_path / "p.csv", FULL), run_date=RUN)
    o1 = [["order_id", "partner_id", "order_date", "net_amount", "is_return"], ["O1", "P1", "2026-01-05", "-5", "yes"]]
    o2 = [["order_id", "partner_id", "order_date", "net_amount"], ["O1", "P1", "2026-01-06", "-5"]]
    ingest_file(con, "orders", write_csv(tmp_path / "o1.csv", o1), run_date=RUN)
    r = ingest_file(con, "orders", write_csv(tmp_path / "o2.csv", o2), run_date=RUN)
    assert r.rows_accepted == 1  # the stored flag is not checked here, but kept
    assert q(con, "SELECT order_date, is_return FROM orders") == [(date(2026, 1, 6), True)]


def test_replace_mode_nulls_what_the_file_lacks(con, tmp_path: Path) -> None:
    ingest_file(con, "partners", write_csv(tmp_path / "full.csv", FULL), run_date=RUN)
    r = ingest_file(con, "partners", write_csv(tmp_path / "partial.csv", PARTIAL), run_date=RUN, replace=True)
    assert r.mode == "replace" and "replace mode" in r.summary()
    assert q(con, "SELECT partner_id, exit_date, contact_phone, manager_id FROM partners ORDER BY 1") == [
        ("P1", None, None, None), ("P2", None, None, "M2"), ("P3", None, None, None)]


def test_loads_keep_quarantine_and_log_per_load(con, tmp_path: Path) -> None:
    ingest_file(con, "partners", write_csv(tmp_path / "p.csv", FULL), run_date=RUN)
    path = tmp_path / "orders.csv"  # next month's export saved under the same name
    write_csv(path, [["order_id", "partner_id", "order_date", "net_amount"], ["O1", "P1", "2026-01-05", "x"]])
    first = ingest_file(con, "orders", path, run_date=RUN)
    write_csv(path, [["order_id", "partner_id", "order_date", "net_amount"], ["O2", "P1", "2026-02-05", "y"],
                     ["O3", "P1", "2026-02-06", "3"]])
    second = ingest_file(con, "orders", path, run_date=RUN)
    assert second.load_id == first.load_id + 1 and not second.skipped
    assert q(con, "SELECT load_id, value FROM quarantine WHERE table_name = 'orders' ORDER BY 1") == [
        (first.load_id, "x"), (second.load_id, "y")]
    loads = list_loads(con)
    assert list(loads.columns[:8]) == ["load_id", "table", "file", "content_sha256", "mode", "rows_read",
                                       "rows_accepted", "rows_quarantined"]
    assert {"loaded_at", "rolled_back"} <= set(loads.columns)
    got = loads[loads["table"] == "orders"][["file", "rows_read", "rows_accepted", "rows_quarantined"]]
    assert got.values.tolist() == [[str(path), 1, 0, 1], [str(path), 2, 1, 1]]
    assert q(con, "SELECT count(*) FROM ingest_log WHERE table_name = 'orders'") == [(2,)]


def test_identical_content_is_a_no_op_that_says_so(con, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", FULL)
    first = ingest_file(con, "partners", path, run_date=RUN)
    before = contents(con)
    again = ingest_file(con, "partners", path, run_date=RUN)
    assert again.skipped and again.load_id == first.load_id
    assert "identical content" in again.summary() and "nothing changed" in again.summary()
    assert contents(con) == before and len(list_loads(con)) == 1
    changed = ingest_file(con, "partners", path, run_date=RUN, replace=True)  # another mode is another load
    assert not changed.skipped


def test_rollback_restores_before_images_and_removes_inserts(con, tmp_path: Path) -> None:
    ingest_file(con, "partners", write_csv(tmp_path / "full.csv", FULL), run_date=RUN)
    before = contents(con)
    r = ingest_file(con, "partners", write_csv(tmp_path / "partial.csv", PARTIAL), run_date=RUN, replace=True)
    assert contents(con) != before
    done = rollback_load(con, r.load_id)
    assert (done.rows_removed, done.rows_restored) == (1, 1)
    assert contents(con) == before
    assert list_loads(con).set_index("load_id").loc[r.load_id, "rolled_back"]
    with pytest.raises(IngestError, match="already rolled back"):
        rollback_load(con, r.load_id)
    with pytest.raises(IngestError, match="no load 99"):
        rollback_load(con, 99)


def test_rollback_refuses_when_a_later_load_touched_the_rows(con, tmp_path: Path) -> None:
    a = ingest_file(con, "partners", write_csv(tmp_path / "full.csv", FULL), run_date=RUN)
    b = ingest_file(con, "partners", write_csv(tmp_path / "partial.csv", PARTIAL), run_date=RUN)
    with pytest.raises(IngestError, match=rf"later load {b.load_id} .*roll back load {b.load_id} first"):
        rollback_load(con, a.load_id)
    o = [["order_id", "partner_id", "order_date", "net_amount"], ["O1", "P3", "2026-01-05", "5"]]
    c = ingest_file(con, "orders", write_csv(tmp_path / "o.csv", o), run_date=RUN)
    with pytest.raises(IngestError, match=rf"orders rows loaded by load {c.load_id}"):
        rollback_load(con, b.load_id)  # P3, which load b added, has orders now
    rollback_load(con, c.load_id)
    rollback_load(con, b.load_id)
    rollback_load(con, a.load_id)
    assert all(not rows for rows in contents(con).values())


def test_partner_moved_mid_year_counts_in_each_quarter_by_its_region_then(con, tmp_path: Path) -> None:
    ingest_file(con, "partners", write_csv(tmp_path / "p.csv", FULL), run_date=RUN, effective=date(2026, 1, 1))
    moved = [FULL[0][:5], ["P1", "One", "South", "dealer", "2021-03-01"]]
    r = ingest_file(con, "partners", write_csv(tmp_path / "moved.csv", moved), run_date=RUN,
                    effective=date(2026, 7, 1))
    assert q(con, "SELECT region, valid_from, valid_to FROM partner_history WHERE partner_id = 'P1' "
                  "ORDER BY valid_from NULLS FIRST") == [("East", None, date(2026, 7, 1)), ("South", date(2026, 7, 1), None)]

    def members(region: str, when: date) -> list[str]:
        t = features.scoped_tables(con, region, as_of=when)["partners"]
        return sorted(t.to_pandas()["partner_id"])

    assert members("East", date(2026, 6, 30)) == ["P1"]  # Q2: still East
    assert members("South", date(2026, 6, 30)) == ["P2"]
    with pytest.raises(WorkbenchError, match="no partners"):  # Q3: P1 is South, East is empty
        members("East", date(2026, 9, 30))
    assert members("South", date(2026, 9, 30)) == ["P1", "P2"]
    assert "manager_name" not in features.scoped_tables(con, "South")["partners"].columns
    rollback_load(con, r.load_id)  # history goes back with the load
    assert q(con, "SELECT region, valid_from, valid_to FROM partner_history WHERE partner_id = 'P1'") == [
        ("East", None, None)]


def test_loads_table_is_translated_and_escaped(con, tmp_path: Path) -> None:
    from workbench.present.ingest import loads_table

    ingest_file(con, "partners", write_csv(tmp_path / "<b>p<b>.csv", FULL), run_date=RUN)
    html = loads_table(list_loads(con), "zh")
    assert "导入批次" in html and "<b>p<b>" not in html and "&lt;b&gt;p&lt;b&gt;" in html
    assert "Load" in loads_table(list_loads(con), "en")


def test_pages_count_each_files_latest_quarantine_once(con, tmp_path: Path) -> None:
    """Quarantine is kept per load; quarantine_current (what health pages count) holds each file's latest
    load that is not rolled back, so a re-sent export does not count its bad rows twice."""
    from workbench.health import quarantine_by_reason

    ingest_file(con, "partners", write_csv(tmp_path / "p.csv", FULL), run_date=RUN)
    path = tmp_path / "orders.csv"
    write_csv(path, [["order_id", "partner_id", "order_date", "net_amount"], ["O1", "P1", "2026-01-05", "x"]])
    ingest_file(con, "orders", path, run_date=RUN)
    write_csv(path, [["order_id", "partner_id", "order_date", "net_amount"], ["O1", "P1", "2026-01-05", "y"],
                     ["O2", "P1", "2026-01-06", "z"]])
    second = ingest_file(con, "orders", path, run_date=RUN)
    assert q(con, "SELECT count(*) FROM quarantine") == [(3,)]
    assert q(con, "SELECT value FROM quarantine_current ORDER BY 1") == [("y",), ("z",)]
    assert quarantine_by_reason(con)["rows"].sum() == 2
    rollback_load(con, second.load_id)
    assert q(con, "SELECT value FROM quarantine_current") == [("x",)]


def test_optional_platform_column_maps_trims_and_survives_a_partial_export(con, tmp_path: Path) -> None:
    """partners.platform is optional: a Chinese header (平台) maps to it, values are trimmed, an export without
    the column keeps the stored platforms, and a file that has it updates them."""
    with_platform = [["经销商编号", "经销商名称", "区域", "渠道类型", "合作日期", "平台"],
                     ["P1", "One", "East", "ecommerce", "2021-03-01", " Tmall "],
                     ["P2", "Two", "South", "retailer", "2022-01-01", ""]]
    r = ingest_file(con, "partners", write_csv(tmp_path / "p.csv", with_platform), run_date=RUN)
    assert r.rows_accepted == 2 and r.rows_quarantined == 0
    assert q(con, "SELECT partner_id, platform FROM partners ORDER BY 1") == [("P1", "Tmall"), ("P2", None)]
    ingest_file(con, "partners", write_csv(tmp_path / "partial.csv", PARTIAL), run_date=RUN)  # no platform column
    assert q(con, "SELECT partner_id, platform FROM partners ORDER BY 1") == [
        ("P1", "Tmall"), ("P2", None), ("P3", None)]
    moved = [["partner_id", "name", "region", "channel_type", "onboard_date", "platform"],
             ["P1", "One", "East", "ecommerce", "2021-03-01", "JD"]]
    ingest_file(con, "partners", write_csv(tmp_path / "moved.csv", moved), run_date=RUN)
    assert q(con, "SELECT platform FROM partners WHERE partner_id = 'P1'") == [("JD",)]


def test_a_store_made_before_the_platform_column_gains_it_on_open(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "old.duckdb"
    c = store.connect(path)
    store.raw_connection(c).execute("ALTER TABLE partners DROP COLUMN platform")
    c.disconnect()
    with duckdb.connect(str(path)) as raw:
        assert "platform" not in {r[0] for r in raw.execute("DESCRIBE partners").fetchall()}
    c = store.connect(path)  # opening for writing brings the schema up to the contract
    assert "platform" in c.table("partners").columns
    c.disconnect()
