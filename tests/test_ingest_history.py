"""A past quarter uses the region a partner had then (issue 13, point 3): a partner moved from East to South
on 1 July by a second partners load counts in East in Q1 and in South in Q3, in the scoped tables every
page reads, the quarter KPIs, point-in-time features, segment and incentive populations, the rebate audit
and the report's parameters and index figures."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from workbench import features, store
from workbench.ingest import ingest_file
from workbench.vocab import Quarter, Scope

RUN = date(2026, 11, 27)
Q1, Q3 = Quarter.parse("2026Q1"), Quarter.parse("2026Q3")
HEAD = ["partner_id", "name", "region", "channel_type", "onboard_date"]
PARTNERS = [HEAD, ["P1", "Mover", "East", "dealer", "2024-01-01"],
            ["P2", "Stay South", "South", "dealer", "2024-01-01"],
            ["P3", "Stay East", "East", "dealer", "2024-01-01"]]
# Sales per partner and month: P1 sells 100 a month, P2 10, P3 1 (so every sum names its partners).
AMOUNT = {"P1": 100, "P2": 10, "P3": 1}


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    pd.DataFrame(rows[1:], columns=rows[0]).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def moved(tmp_path_factory) -> Path:
    """A store whose partner P1 moved from East to South on 2026-07-01 (two partner loads)."""
    folder = tmp_path_factory.mktemp("moved")
    db = folder / "moved.duckdb"
    con = store.connect(db)
    ingest_file(con, "partners", write_csv(folder / "p1.csv", PARTNERS), run_date=RUN, effective=date(2024, 1, 1))
    orders = [["order_id", "partner_id", "order_date", "net_amount", "is_return"]]
    for month in pd.period_range("2025-07", "2026-10", freq="M"):
        for pid, amount in AMOUNT.items():
            orders.append([f"{pid}-{month}", pid, str(month.start_time.date() + pd.Timedelta(days=9)), str(amount),
                           "false"])
    ingest_file(con, "orders", write_csv(folder / "o.csv", orders), run_date=RUN)
    move = [HEAD, ["P1", "Mover", "South", "dealer", "2024-01-01"]]
    ingest_file(con, "partners", write_csv(folder / "p2.csv", move), run_date=RUN, effective=date(2026, 7, 1))
    con.disconnect()
    return db


@pytest.fixture
def con(moved: Path):
    c = store.connect(moved, read_only=True)
    yield c
    c.disconnect()


def members(con, region: str, when: date) -> list[str]:
    """Partner ids of the region's scoped tables at `when` (what every page reads through)."""
    t = features.scoped_tables(con, region, as_of=when)
    assert set(t["orders"].partner_id.to_pandas()) <= set(t["partners"].partner_id.to_pandas())
    return sorted(t["partners"].partner_id.to_pandas())


def test_scoped_tables_follow_the_region_of_each_quarter(con) -> None:
    assert members(con, "East", Q1.end) == ["P1", "P3"] and members(con, "South", Q1.end) == ["P2"]
    assert members(con, "East", Q3.end) == ["P3"] and members(con, "South", Q3.end) == ["P1", "P2"]
    assert sorted(features.scoped_tables(con, "South")["partners"].partner_id.to_pandas()) == ["P1", "P2"]  # today


def test_quarter_kpis_and_features_count_the_partner_where_it_was(con) -> None:
    def sales(quarter: Quarter, region: str) -> float:
        return float(features.quarter_kpis(con, quarter=str(quarter), region=region)["net_sales_cny"].iloc[0])

    # Baseline an analyst would write: the partner's sales in the region the history says it was in.
    assert (sales(Q1, "East"), sales(Q1, "South")) == (3 * 101, 3 * 10)
    assert (sales(Q3, "East"), sales(Q3, "South")) == (3 * 1, 3 * 110)
    by_region = features.quarter_kpis(con, quarter=str(Q1), by="region").set_index("region")["net_sales_cny"]
    assert by_region.to_dict() == {"East": 303.0, "South": 30.0}
    for when, east, south in ((Q1.end, {"P1", "P3"}, {"P2"}), (Q3.end, {"P3"}, {"P1", "P2"})):
        assert set(features.partner_snapshot(con, as_of=when, region="East").to_pandas()["partner_id"]) == east
        assert set(features.churn_labels(con, as_of=when, region="South").to_pandas()["partner_id"]) == south


def test_segment_and_incentive_populations_and_health_use_the_region_then(con) -> None:
    from workbench import health
    from workbench.incentives.data import partner_attributes
    from workbench.segment._common import _population

    assert sorted(_population(con, Q1.end, "East").to_pandas()["partner_id"]) == ["P1", "P3"]
    assert sorted(_population(con, Q3.end, "East").to_pandas()["partner_id"]) == ["P3"]
    assert sorted(partner_attributes(con, as_of=Q1.end, region="South")["partner_id"]) == ["P2"]
    assert sorted(partner_attributes(con, as_of=Q3.end, region="South")["partner_id"]) == ["P1", "P2"]
    rows = health.rows_by_period(con, end=Q1.end, months=1, region="East")
    assert int(rows.loc[rows["table"] == "orders", "rows"].sum()) == 2  # P1 and P3 in March


def test_report_parameters_and_index_figures_follow_the_quarter(moved: Path) -> None:
    from workbench.reports.index import _snapshot, headline_from_store
    from workbench.reports.params import validate_params

    east, south = Scope.parse("East"), Scope.parse("South")
    for quarter in (Q1, Q3):
        params = validate_params(moved, quarter=str(quarter), region="all", lang="en")
        assert params.as_of == quarter.end and params.regions == ("East", "South")
    # Monthly sales of the as_of month: 101 in East in March, 1 in September.
    assert headline_from_store(moved, east, Q1.end)["monthly_sales"] == 101.0
    assert headline_from_store(moved, east, Q3.end)["monthly_sales"] == 1.0
    assert headline_from_store(moved, south, Q3.end)["active_partners"] == 2
    assert _snapshot(moved, east, Q1.end)["row_counts"]["partners"] == 2
    assert _snapshot(moved, east, Q3.end)["row_counts"]["partners"] == 1
