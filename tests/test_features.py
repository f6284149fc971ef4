"""Feature layer: hand-computed KPI fixtures, point-in-time guarantees, demo-store reconciliation (Spark parity: test_spark.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from workbench import features as F
from workbench import store
from workbench.errors import WorkbenchError

D = dt.date
AS_OF = D(2026, 6, 30)

# --------------------------------------------------------------------------------------------
# tiny stores written out row by row
# --------------------------------------------------------------------------------------------

COLS = {
    "partners": ("partner_id", "name", "region", "channel_type", "onboard_date", "exit_date",
                 "contact_name", "contact_phone"),
    "orders": ("order_id", "partner_id", "order_date", "product_line", "net_amount", "list_amount", "is_return"),
    "incentives": ("incentive_id", "partner_id", "program", "period_start", "period_end", "amount_due",
                   "amount_paid", "paid_date"),
    "surveys": ("survey_id", "partner_id", "survey_date", "satisfaction"),
    "trainings": ("training_id", "partner_id", "training_date", "course", "passed"),
    "conflicts": ("conflict_id", "reported_date", "partner_id", "counterparty_id", "conflict_type", "severity",
                  "resolved_date"),
    "actions": ("action_id", "partner_id", "action_date", "action_type"),
    "coverage": ("partner_id", "month", "active_outlets"),
}


def make_store(path: Path, **rows: list[tuple]):
    """A store at `path` holding exactly the given rows (tuples in COLS order)."""
    con = store.connect(path)
    raw = store.raw_connection(con)
    for table in store.TABLE_ORDER:
        for r in rows.get(table, []):
            cols = COLS[table]
            raw.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", list(r))
    return con


ONBOARD = D(2024, 1, 1)


def partner(pid: str, region: str = "East", onboard: D = ONBOARD, exit_: D | None = None,
            channel: str = "dealer") -> tuple:
    return (pid, f"name {pid}", region, channel, onboard, exit_, "Zhang San", "13800000000")


_n = iter(range(10**6))


def order(pid: str, day: D, amount: float, *, ret: bool = False, line: str = "A", list_amount: float | None = None):
    return (f"o{next(_n)}", pid, day, line, amount, list_amount, ret)


# The running example: as_of 2026-06-30.
#   P1 orders 2026-06-01 (100, list 120, line A), 06-20 (50, list 50, line B), a return 06-25 (-20),
#      and 07-15 (70) after as_of. Surveys 70 then 80; trainings one passed, one failed; one open
#      conflict against P3; a rebate row due 100 paid 60; coverage 12 outlets; one visit.
#   P2 one order 2026-03-01 (200, list 250).
#   P3 (West) exited 2026-05-01; P4 onboarded 2026-08-01 (after as_of).
def running_example(path: Path):
    return make_store(
        path,
        partners=[partner("P1"), partner("P2", channel="retailer"),
                  partner("P3", "West", exit_=D(2026, 5, 1)), partner("P4", "West", onboard=D(2026, 8, 1))],
        orders=[
            order("P1", D(2026, 6, 1), 100, list_amount=120),
            order("P1", D(2026, 6, 20), 50, line="B", list_amount=50),
            order("P1", D(2026, 6, 25), -20, ret=True),
            order("P1", D(2026, 7, 15), 70, list_amount=70),
            order("P2", D(2026, 3, 1), 200, list_amount=250),
            order("P3", D(2026, 4, 1), 10, list_amount=10),
        ],
        incentives=[("i1", "P1", "q1", D(2026, 1, 1), D(2026, 3, 31), 100, 60, D(2026, 4, 20))],
        surveys=[("s1", "P1", D(2026, 1, 5), 70), ("s2", "P1", D(2026, 5, 5), 80)],
        trainings=[("t1", "P1", D(2026, 2, 5), "c", True), ("t2", "P1", D(2026, 3, 5), "c", False)],
        conflicts=[("c1", D(2026, 2, 5), "P1", "P3", "price", 2, None)],
        actions=[("a1", "P1", D(2026, 6, 5), "visit")],
        coverage=[("P1", D(2026, 6, 1), 12)],
    )


@pytest.fixture
def example(tmp_path):
    return running_example(tmp_path / "ex.duckdb")


def snap_by_id(con, as_of=AS_OF, **kw) -> pd.DataFrame:
    return F.partner_snapshot(con, as_of=as_of, **kw).to_pandas().set_index("partner_id")


# --------------------------------------------------------------------------------------------
# partner_snapshot
# --------------------------------------------------------------------------------------------


def test_snapshot_columns_and_population(example):
    s = F.partner_snapshot(example, as_of=AS_OF).to_pandas()
    assert tuple(s.columns) == F.SNAPSHOT_COLUMNS
    # P3 exited before as_of, P4 onboarded after it: both out
    assert list(s.partner_id) == ["P1", "P2"]
    assert "contact_name" not in s.columns and "contact_phone" not in s.columns
    # before P3's exit it is in; on its exit date it is out
    assert "P3" in set(snap_by_id(example, D(2026, 4, 30)).index)
    assert "P3" not in set(snap_by_id(example, D(2026, 5, 1)).index)
    assert "P4" in set(snap_by_id(example, D(2026, 8, 1)).index)


def test_snapshot_hand_computed_values(example):
    p1 = snap_by_id(example).loc["P1"]
    assert p1.tenure_days == 911  # 2024-01-01 .. 2026-06-30
    # the return on 06-25 is not activity: last order is 06-20
    assert pd.Timestamp(p1.last_order_date) == pd.Timestamp("2026-06-20")
    assert p1.recency_days == 10
    assert p1.orders_90d == 2 and p1.order_lines_365d == 2 and p1.active_months_90d == 1
    assert p1.net_sales_90d_cny == pytest.approx(130.0)  # 100 + 50 - 20; the July order is after as_of
    assert p1.gross_sales_365d_cny == pytest.approx(150.0)
    assert p1.returns_365d_cny == pytest.approx(20.0)
    assert p1.return_rate_365d == pytest.approx(20 / 150)
    assert p1.discount_depth_365d == pytest.approx(1 - 150 / 170)
    assert p1.avg_order_value_365d_cny == pytest.approx(75.0)  # 150 over 2 order days
    assert p1.order_cycle_median_days == pytest.approx(19.0)  # one gap: 06-01 -> 06-20
    assert p1.overdue_ratio == pytest.approx(10 / 19)
    assert p1.product_lines_365d == 2
    # last 6 complete months Jan..Jun = 0,0,0,0,0,130: slope = (5 - 2.5) * 130 / 17.5
    assert p1.sales_slope_6m_cny_per_month == pytest.approx(2.5 * 130 / 17.5)
    assert np.isnan(p1.sales_trend_90d_ratio)  # nothing in the previous 90 days
    assert p1.satisfaction_last == 80 and p1.satisfaction_change == 10 and p1.days_since_survey == 56
    assert p1.trainings_365d == 2 and p1.training_pass_rate_365d == pytest.approx(0.5)
    assert p1.conflicts_open == 1 and p1.conflicts_365d == 1
    assert (p1.rebate_due_cny, p1.rebate_paid_cny, p1.rebate_shortfall_cny) == (100, 60, 40)
    assert p1.active_outlets == 12 and p1.actions_90d == 1
    p2 = snap_by_id(example).loc["P2"]
    assert p2.recency_days == 121 and p2.orders_90d == 0 and p2.orders_180d == 1
    assert p2.net_sales_prev_90d_cny == 200 and p2.sales_trend_90d_ratio == 0.0
    # March is month index 2 of Jan..Jun: slope = (2 - 2.5) * 200 / 17.5
    assert p2.sales_slope_6m_cny_per_month == pytest.approx(-0.5 * 200 / 17.5)
    assert np.isnan(p2.order_cycle_median_days) and np.isnan(p2.satisfaction_last)
    assert p2.rebate_shortfall_cny == 0 and p2.trainings_365d == 0


def test_snapshot_window_edges(tmp_path):
    # 90-day window is (as_of - 90, as_of] = 2026-04-02 .. 2026-06-30: 04-02 is in, 04-01 is out
    con = make_store(
        tmp_path / "w.duckdb",
        partners=[partner("A")],
        orders=[order("A", D(2026, 4, 2), 5), order("A", D(2026, 4, 1), 7), order("A", AS_OF, 11)],
    )
    a = snap_by_id(con).loc["A"]
    assert a.net_sales_90d_cny == 16 and a.orders_90d == 2 and a.net_sales_prev_90d_cny == 7
    assert a.recency_days == 0
    assert a.order_cycle_median_days == pytest.approx(45.0)  # gaps 1 and 89 days


def test_returns_are_not_activity(tmp_path):
    con = make_store(
        tmp_path / "r.duckdb",
        partners=[partner("A"), partner("B")],
        # a negative line without the flag is a return too
        orders=[order("A", D(2025, 1, 10), 300), order("A", D(2026, 6, 1), -50, ret=True),
                order("A", D(2026, 6, 10), -30), order("B", D(2026, 6, 3), -40, ret=True)],
    )
    b = snap_by_id(con).loc["B"]  # nothing but a return: no activity, negative net sales
    assert pd.isna(b.last_order_date) and b.orders_365d == 0 and b.net_sales_90d_cny == -40
    a = snap_by_id(con).loc["A"]
    assert pd.Timestamp(a.last_order_date) == pd.Timestamp("2025-01-10")
    assert a.orders_90d == 0 and a.active_months_365d == 0 and not a.active_180d
    assert a.net_sales_90d_cny == -80 and a.returns_365d_cny == 80
    assert F.churn_labels(con, as_of=AS_OF).to_pandas().empty


def test_point_in_time_snapshot_ignores_future_rows(example):
    before = F.partner_snapshot(example, as_of=AS_OF).to_pandas()
    raw = store.raw_connection(example)
    after = "DATE '2026-06-30'"
    # change, add and delete rows dated after as_of in every table
    raw.execute(f"UPDATE orders SET net_amount = net_amount * 7, is_return = NOT is_return WHERE order_date > {after}")
    raw.execute("DELETE FROM orders WHERE order_id IN (SELECT order_id FROM orders WHERE order_date > DATE '2026-06-30' LIMIT 1)")
    raw.execute("INSERT INTO orders (order_id, partner_id, order_date, product_line, quantity, net_amount, "
                "list_amount, is_return) VALUES ('f1','P1',DATE '2026-07-01','Z',1,999,5,false),"
                "('f2','P2',DATE '2026-09-01','Y',1,-50,NULL,true),('f3','P4',DATE '2026-08-02','Y',1,10,10,false)")
    raw.execute("INSERT INTO surveys (survey_id, partner_id, survey_date, satisfaction) VALUES ('fs','P1',DATE '2026-07-01',5)")
    raw.execute("INSERT INTO trainings (training_id, partner_id, training_date, passed) VALUES ('ft','P1',DATE '2026-07-02',true)")
    raw.execute("UPDATE conflicts SET resolved_date = DATE '2026-07-03'")  # resolved after as_of: still open then
    raw.execute("INSERT INTO conflicts (conflict_id, reported_date, partner_id, counterparty_id, conflict_type, "
                "severity, resolved_date) VALUES ('fc',DATE '2026-07-04','P2',NULL,'price',1,NULL)")
    raw.execute("INSERT INTO incentives (incentive_id, partner_id, program, period_start, period_end, amount_due, "
                "amount_paid, paid_date) VALUES ('fi','P1','q3',DATE '2026-07-01',DATE '2026-09-30',500,0,NULL),"
                "('fj','P2','q1',DATE '2026-01-01',DATE '2026-03-31',80,80,DATE '2026-07-20')")
    raw.execute("INSERT INTO actions (action_id, partner_id, action_date, action_type) VALUES ('fa','P2',DATE '2026-07-01','visit')")
    raw.execute("INSERT INTO coverage (partner_id, month, active_outlets) VALUES ('P1', DATE '2026-07-01', 99)")
    now = F.partner_snapshot(example, as_of=AS_OF).to_pandas()
    # the one row dated before as_of with a payment after it: due counts, payment does not yet
    p2 = now.set_index("partner_id").loc["P2"]
    assert (p2.rebate_due_cny, p2.rebate_paid_cny) == (80, 0)
    raw.execute("DELETE FROM incentives WHERE incentive_id = 'fj'")
    now = F.partner_snapshot(example, as_of=AS_OF).to_pandas()
    pd.testing.assert_frame_equal(before, now)


# --------------------------------------------------------------------------------------------
# churn labels
# --------------------------------------------------------------------------------------------


def test_churn_labels_at_the_horizon_edges(tmp_path):
    h = 90  # (as_of, as_of + 90] = 2026-07-01 .. 2026-09-28
    con = make_store(
        tmp_path / "c.duckdb",
        partners=[partner(p) for p in ("EDGE_IN", "EDGE_OUT", "ONLY_ASOF", "RET_ONLY", "OLD", "JUST_ACTIVE")]
        + [partner("EXITED", exit_=AS_OF), partner("EXIT_LATER", exit_=D(2026, 7, 15)),
           partner("NEW", onboard=D(2026, 7, 1))],
        orders=[
            order("EDGE_IN", D(2026, 6, 1), 1), order("EDGE_IN", D(2026, 9, 28), 1),
            order("EDGE_OUT", D(2026, 6, 1), 1), order("EDGE_OUT", D(2026, 9, 29), 1),
            order("ONLY_ASOF", AS_OF, 1),
            order("RET_ONLY", D(2026, 5, 1), 1), order("RET_ONLY", D(2026, 7, 5), -1, ret=True),
            order("OLD", D(2026, 1, 1), 1), order("OLD", D(2026, 7, 1), 1),  # as_of - 180: not active
            order("JUST_ACTIVE", D(2026, 1, 2), 1),  # as_of - 179: active, and nothing after
            order("EXITED", D(2026, 6, 1), 1),
            order("EXIT_LATER", D(2026, 6, 1), 1),
            order("NEW", D(2026, 7, 2), 1),
        ],
    )
    lab = F.churn_labels(con, as_of=AS_OF, horizon_days=h).to_pandas()
    assert tuple(lab.columns) == F.CHURN_LABEL_COLUMNS
    got = dict(zip(lab.partner_id, lab.churned, strict=True))
    assert got == {
        "EDGE_IN": False, "EDGE_OUT": True, "ONLY_ASOF": True, "RET_ONLY": True,
        "JUST_ACTIVE": True, "EXIT_LATER": True,
    }
    nxt = lab.set_index("partner_id").next_order_date
    assert pd.Timestamp(nxt["EDGE_IN"]) == pd.Timestamp("2026-09-28") and pd.isna(nxt["EDGE_OUT"])
    # a longer horizon reaches EDGE_OUT's order
    lab2 = F.churn_labels(con, as_of=AS_OF, horizon_days=91).to_pandas().set_index("partner_id")
    assert not lab2.churned["EDGE_OUT"]
    with pytest.raises(WorkbenchError):
        F.churn_labels(con, as_of=AS_OF, horizon_days=0)


def test_churn_labels_use_only_rows_after_as_of_for_the_label(example):
    lab = F.churn_labels(example, as_of=AS_OF).to_pandas().set_index("partner_id")
    assert not lab.churned["P1"] and lab.churned["P2"]
    store.raw_connection(example).execute("DELETE FROM orders WHERE order_date > DATE '2026-06-30'")
    lab = F.churn_labels(example, as_of=AS_OF).to_pandas().set_index("partner_id")
    assert lab.churned["P1"]


# --------------------------------------------------------------------------------------------
# KPI functions against hand-computed values
# --------------------------------------------------------------------------------------------

Q3 = (D(2026, 7, 1), D(2026, 9, 30))


@pytest.fixture
def kpi_store(tmp_path):
    # Q3 2026 activity:   X orders on 2 days; Y 2 lines on one day; Z 1 order + a return on another day;
    #                     W nothing in Q3 (active in Q2 only); V active Q2 and Q3.
    # Q2 2026 (previous): X, W, V active; Y only a return.
    return make_store(
        tmp_path / "k.duckdb",
        partners=[partner("X"), partner("Y"), partner("Z", "West"), partner("W", "West"), partner("V"),
                  partner("N", onboard=D(2026, 8, 1))],
        orders=[
            order("X", D(2026, 7, 3), 30), order("X", D(2026, 8, 3), 10),
            order("Y", D(2026, 7, 9), 15), order("Y", D(2026, 7, 9), 5),
            order("Z", D(2026, 9, 1), 25), order("Z", D(2026, 9, 2), -5, ret=True),
            order("V", D(2026, 9, 30), 20),
            order("X", D(2026, 5, 1), 1), order("W", D(2026, 6, 30), 1), order("V", D(2026, 4, 1), 1),
            order("Y", D(2026, 6, 1), -3, ret=True),
        ],
        incentives=[
            ("r1", "X", "q", D(2026, 4, 1), D(2026, 6, 30), 100, 60, D(2026, 7, 20)),   # short 40
            ("r2", "Y", "q", D(2026, 4, 1), D(2026, 6, 30), 50, 50, D(2026, 10, 5)),    # paid after Q3: short 50
            ("r3", "Z", "q", D(2026, 7, 1), D(2026, 9, 30), 70, 0, None),               # not past period_end
            ("r4", "V", "q", D(2026, 1, 1), D(2026, 3, 31), 30, 30, D(2026, 4, 2)),     # settled
        ],
        surveys=[("s1", "X", D(2026, 7, 1), 60), ("s2", "Y", D(2026, 8, 1), 90), ("s3", "X", D(2026, 6, 1), 10)],
        trainings=[("t1", "X", D(2026, 7, 1), "c", True), ("t2", "Z", D(2026, 7, 2), "c", False),
                   ("t3", "Z", D(2026, 7, 3), "c", True)],
        conflicts=[("c1", D(2026, 7, 1), "X", None, "price", 1, None),
                   ("c2", D(2026, 5, 1), "Z", None, "territory", 2, D(2026, 8, 1))],
        actions=[("a1", "X", D(2026, 7, 1), "visit")],
    )


def test_repeat_rate_hand_computed(kpi_store):
    t = F.scoped_tables(kpi_store)
    r = F.repeat_rate(t["orders"], start=Q3[0], end=Q3[1]).to_pandas().iloc[0]
    # active in Q3: X (2 days), Y (1 day, 2 lines), Z (1 order day; the return is not a day), V (1 day)
    assert (r.active_partners, r.repeat_partners) == (4, 1)
    assert r.repeat_rate == pytest.approx(1 / 4)


def test_retention_hand_computed(kpi_store):
    t = F.scoped_tables(kpi_store)
    r = F.retention(t["orders"], start=Q3[0], end=Q3[1], prev_start=D(2026, 4, 1),
                    prev_end=D(2026, 6, 30)).to_pandas().iloc[0]
    # Q2 active: X, W, V (Y had only a return); again in Q3: X, V
    assert (r.prev_active_partners, r.retained_partners) == (3, 2)
    assert r.retention_rate == pytest.approx(2 / 3)


def test_concentration_hand_computed(tmp_path):
    sales = {"A": 40, "B": 20, "C": 10, "D": 10, "E": 10, "F": 10}
    con = make_store(
        tmp_path / "h.duckdb",
        partners=[partner(p) for p in [*sales, "G"]],
        orders=[order(p, D(2026, 8, 1), v) for p, v in sales.items()] + [order("G", D(2026, 8, 1), -5, ret=True)],
    )
    c = F.concentration(F.scoped_tables(con)["orders"], start=Q3[0], end=Q3[1]).to_pandas().iloc[0]
    assert c.top1_share == pytest.approx(0.40)
    assert c.top5_share == pytest.approx(0.90)
    assert c.hhi == pytest.approx(0.16 + 0.04 + 4 * 0.01)  # 0.24
    assert c.partners_with_sales == 6  # G (negative net sales) is not a share holder


def test_rebate_shortfall_hand_computed(kpi_store):
    t = F.scoped_tables(kpi_store)
    r = F.rebate_shortfall(t["incentives"], as_of=Q3[1]).to_pandas().iloc[0]
    # r1 100-60, r2 50-0 (paid after as_of), r4 30-30; r3 not past its period_end
    assert (r.rebate_due_cny, r.rebate_paid_cny, r.rebate_shortfall_cny) == (180, 90, 90)
    later = F.rebate_shortfall(t["incentives"], as_of=D(2026, 10, 31)).to_pandas().iloc[0]
    assert later.rebate_shortfall_cny == 40 + 70


def test_quarter_kpis_hand_computed(kpi_store):
    k = F.quarter_kpis(kpi_store, quarter="2026Q3")
    assert list(k.columns) == list(F.KPI_COLUMNS)
    r = k.iloc[0]
    assert r.quarter == "2026Q3"
    assert r.net_sales_cny == 30 + 10 + 15 + 5 + 25 - 5 + 20
    assert r.monthly_sales_cny == pytest.approx(100 / 3)
    assert (r.active_partners, r.repeat_rate) == (4, 0.25)
    assert r.retention_rate == pytest.approx(2 / 3)
    assert (r.new_partners, r.exited_partners, r.partners_on_books) == (1, 0, 6)
    # churn over Q3: population = active in the 180 days to 2026-06-30 = X, W, V; W has no Q3 order
    assert (r.churn_population, r.churned_partners) == (3, 1)
    assert r.satisfaction_mean == pytest.approx(75.0) and r.survey_responses == 2
    assert r.top1_share == pytest.approx(40 / 100)
    assert r.hhi == pytest.approx((40**2 + 20**2 + 20**2 + 20**2) / 100**2)
    assert r.rebate_shortfall_cny == 90
    assert (r.conflicts_opened, r.conflicts_resolved) == (1, 1)
    assert (r.trainings, r.trainings_passed) == (3, 2) and r.training_pass_rate == pytest.approx(2 / 3)
    assert r.actions == 1


def test_quarter_kpis_by_region_and_tier(kpi_store):
    by = F.quarter_kpis(kpi_store, quarter="2026Q3", by="region").set_index("region")
    assert list(by.index) == ["East", "West"]
    assert by.net_sales_cny.sum() == 100
    west = by.loc["West"]  # Z (20 net) and W
    assert (west.active_partners, west.net_sales_cny, west.hhi) == (1, 20, 1.0)
    assert (west.prev_active_partners, west.retained_partners) == (1, 0)
    tiers = pd.DataFrame({"partner_id": ["X", "Y", "Z"], "tier": ["core", "growth", "growth"]})
    bt = F.quarter_kpis(kpi_store, quarter="2026Q3", by="tier", tiers=tiers).set_index("tier")
    assert set(bt.index) == {"core", "growth", "unassigned"}
    assert bt.loc["growth"].net_sales_cny == 40 and bt.loc["growth"].active_partners == 2
    assert bt.loc["unassigned"].net_sales_cny == 20  # V
    only_west = F.quarter_kpis(kpi_store, quarter="2026Q3", region="West").iloc[0]
    assert only_west.net_sales_cny == 20
    with pytest.raises(WorkbenchError):
        F.quarter_kpis(kpi_store, quarter="2026Q3", by="tier")
    with pytest.raises(WorkbenchError):
        F.quarter_kpis(kpi_store, quarter="Q3 of 2026")


def test_quarters_kpis_equal_one_quarter_at_a_time(demo_db):
    """The multi-quarter query (facts range-joined to a periods table) gives each quarter's KPIs exactly
    as the one-quarter query does: no leakage between overlapping windows, per-quarter tiers applied."""
    con = store.connect(demo_db, read_only=True)
    quarters = [pd.Period("2026Q3", "Q") - i for i in range(4, -1, -1)]
    ids = F.scoped_tables(con)["partners"].select("partner_id").to_pandas().partner_id.sort_values().tolist()
    # a different tiering each quarter (a third of the partners untiered), so a join that ignored the quarter fails
    tiers = pd.concat([pd.DataFrame({"quarter": str(q), "partner_id": ids[::3] if k % 2 else ids[1::2],
                                     "tier": "core" if k % 2 else "growth"}) for k, q in enumerate(quarters)])
    for by, region in ((None, None), ("region", None), ("tier", None), ("channel_type", "East")):
        multi = F.quarters_kpis(con, quarters=[str(q) for q in reversed(quarters)], by=by, region=region, tiers=tiers)
        one = pd.concat([F.quarter_kpis(con, quarter=q, by=by, region=region,
                                        tiers=tiers[tiers.quarter == str(q)].drop(columns="quarter"))
                         for q in quarters], ignore_index=True)
        pd.testing.assert_frame_equal(multi, one, check_exact=False, rtol=1e-9)
    # churn against the separate churn_labels implementation; sales against a plain SQL sum
    raw = store.raw_connection(con)
    overall = F.quarters_kpis(con, quarters=quarters).set_index("quarter")
    for q in quarters:
        (s, e), (_, pe) = F.quarter_bounds(q), F.quarter_bounds(q - 1)
        lab = F.churn_labels(con, as_of=pe, horizon_days=(e - pe).days).to_pandas()
        r = overall.loc[str(q)]
        assert (r.churn_population, r.churned_partners) == (len(lab), int(lab.churned.sum())), q
        want = raw.execute(f"SELECT sum(net_amount)::DOUBLE FROM orders WHERE order_date BETWEEN DATE '{s}'"
                           f" AND DATE '{e}'").fetchone()[0]
        assert r.net_sales_cny == pytest.approx(want, rel=1e-9), q
    conc = F.quarters_concentration(F.scoped_tables(con)["orders"], quarters=quarters).to_pandas()
    pd.testing.assert_frame_equal(conc.drop(columns="quarter").reset_index(drop=True),
                                  overall[list(conc.columns[1:])].reset_index(drop=True), check_exact=False, rtol=1e-9)


# --------------------------------------------------------------------------------------------
# panel and scoping
# --------------------------------------------------------------------------------------------


def test_partner_month_panel(example):
    p = F.partner_month_panel(example, start="2026-04-01", end="2026-07-31").to_pandas()
    assert tuple(p.columns) == F.PANEL_COLUMNS
    # P3 has rows up to its exit month (May), P4 none before its onboarding (Aug)
    rows = p.groupby("partner_id").month.apply(lambda m: [x.month for x in m]).to_dict()
    assert rows == {"P1": [4, 5, 6, 7], "P2": [4, 5, 6, 7], "P3": [4, 5]}
    june = p[(p.partner_id == "P1") & (p.month == pd.Timestamp("2026-06-01"))].iloc[0]
    assert (june.net_sales_cny, june.gross_sales_cny, june.returns_cny) == (130, 150, 20)
    assert (june.order_days, june.order_lines, june.is_active, june.actions_visit) == (2, 2, True, 1)
    assert p[(p.partner_id == "P2") & (p.month == pd.Timestamp("2026-05-01"))].iloc[0].net_sales_cny == 0
    apr = p[(p.partner_id == "P1") & (p.month == pd.Timestamp("2026-04-01"))].iloc[0]
    assert apr.incentive_paid_cny == 60 and apr.incentive_due_cny == 0


def test_scoped_tables(example):
    west = F.scoped_tables(example, "West")
    assert set(west["partners"].to_pandas().partner_id) == {"P3", "P4"}
    assert "contact_phone" not in west["partners"].columns
    assert set(west["orders"].to_pandas().partner_id) == {"P3"}
    assert west["conflicts"].to_pandas().empty
    east = F.scoped_tables(example, "East")
    assert east["conflicts"].to_pandas().counterparty_id.isna().all()  # P3 is West: blanked
    assert F.scoped_tables(example, "all")["conflicts"].to_pandas().counterparty_id.tolist() == ["P3"]
    s = F.partner_snapshot(example, as_of=D(2026, 4, 30), region="West").to_pandas()
    assert s.partner_id.tolist() == ["P3"]
    with pytest.raises(WorkbenchError, match="Nowhere"):
        F.scoped_tables(example, "Nowhere")


# --------------------------------------------------------------------------------------------
# the synthetic demo store
# --------------------------------------------------------------------------------------------


def test_demo_store_reconciles_and_matches_planted_truth(demo_db):
    con = store.connect(demo_db, read_only=True)
    raw = store.raw_connection(con)
    s = F.partner_snapshot(con, as_of=AS_OF).to_pandas()
    assert s.partner_id.is_unique and tuple(s.columns) == F.SNAPSHOT_COLUMNS
    n_pop = raw.execute(
        "SELECT count(*) FROM partners WHERE onboard_date <= DATE '2026-06-30'"
        " AND (exit_date IS NULL OR exit_date > DATE '2026-06-30')").fetchone()[0]
    assert len(s) == n_pop
    total365 = raw.execute(
        "SELECT sum(o.net_amount)::DOUBLE FROM orders o JOIN partners p USING (partner_id)"
        " WHERE order_date > DATE '2025-06-30' AND order_date <= DATE '2026-06-30' AND p.onboard_date <= DATE '2026-06-30'"
        " AND (p.exit_date IS NULL OR p.exit_date > DATE '2026-06-30')").fetchone()[0]
    assert s.net_sales_365d_cny.sum() == pytest.approx(total365, rel=1e-9)

    truth = raw.execute("SELECT partner_id, churn_month, underpaid FROM truth.partners").df()
    m = s.merge(truth, on="partner_id")
    # planted under-payment shows up as a rebate shortfall, and only there
    assert (m[m.underpaid].rebate_shortfall_cny > 0).mean() > 0.8
    assert (m[~m.underpaid].rebate_shortfall_cny == 0).mean() > 0.95

    lab = F.churn_labels(con, as_of=AS_OF).to_pandas().merge(truth, on="partner_id")
    horizon_end = pd.Timestamp(AS_OF) + pd.Timedelta(days=90)
    # every labelled churner truly stopped by the horizon's end; every true stopper before as_of is labelled
    assert (lab[lab.churned].churn_month <= horizon_end).all()
    stopped = lab.churn_month <= pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
    assert lab[stopped].churned.all() and stopped.sum() > 5

    k = F.quarter_kpis(con, quarter="2026Q3")
    kr = F.quarter_kpis(con, quarter="2026Q3", by="region")
    q_sales = raw.execute("SELECT sum(net_amount)::DOUBLE FROM orders WHERE order_date BETWEEN"
                          " DATE '2026-07-01' AND DATE '2026-09-30'").fetchone()[0]
    assert k.net_sales_cny.iloc[0] == pytest.approx(q_sales, rel=1e-9)
    for c in ("net_sales_cny", "active_partners", "churned_partners", "rebate_shortfall_cny", "conflicts_opened"):
        assert kr[c].sum() == pytest.approx(k[c].iloc[0], rel=1e-9), c
    assert 0 < k.churn_rate.iloc[0] < 0.5 and 0 < k.hhi.iloc[0] < 1 and 0.5 < k.retention_rate.iloc[0] <= 1

    panel = F.partner_month_panel(con, start="2026-01-01", end="2026-06-30").to_pandas()
    h1 = raw.execute("SELECT sum(net_amount)::DOUBLE FROM orders WHERE order_date BETWEEN"
                     " DATE '2026-01-01' AND DATE '2026-06-30'").fetchone()[0]
    assert panel.net_sales_cny.sum() == pytest.approx(h1, rel=1e-9)
    assert not panel.duplicated(["partner_id", "month"]).any()


def test_backend_with_only_partners_and_orders():
    """A warehouse with just the two required tables still yields every column (others empty or 0)."""
    import ibis

    con = ibis.duckdb.connect()
    con.create_table("partners", pd.DataFrame({
        "partner_id": ["A", "B"], "name": ["a", "b"], "region": ["East", "West"],
        "channel_type": ["dealer", "retailer"],
        "onboard_date": pd.to_datetime(["2024-01-01", "2024-01-01"]).date,
        "exit_date": pd.Series([None, None], dtype="datetime64[s]").dt.date,
    }), schema=ibis.schema({"partner_id": "string", "name": "string", "region": "string", "channel_type": "string",
                            "onboard_date": "date", "exit_date": "date"}))
    con.create_table("orders", pd.DataFrame({
        "order_id": ["1", "2"], "partner_id": ["A", "B"],
        "order_date": pd.to_datetime(["2026-06-01", "2026-07-01"]).date, "product_line": ["x", None],
        "net_amount": [10.0, 20.0], "list_amount": [None, None], "is_return": [None, None],
    }), schema=ibis.schema({"order_id": "string", "partner_id": "string", "order_date": "date",
                            "product_line": "string", "net_amount": "float64", "list_amount": "float64",
                            "is_return": "boolean"}))
    s = F.partner_snapshot(con, as_of=AS_OF).to_pandas().set_index("partner_id")
    assert tuple(s.reset_index().columns) == F.SNAPSHOT_COLUMNS
    assert s.loc["A", "net_sales_90d_cny"] == 10 and s.loc["B", "orders_365d"] == 0
    assert s.loc["A", "rebate_shortfall_cny"] == 0 and np.isnan(s.loc["A", "satisfaction_last"])
    k = F.quarter_kpis(con, quarter="2026Q3", by="region").set_index("region")
    assert k.loc["West", "net_sales_cny"] == 20 and k.loc["East", "trainings"] == 0
    p = F.partner_month_panel(con, start="2026-06-01", end="2026-07-31").to_pandas()
    assert p.net_sales_cny.sum() == 30 and (p.incentive_due_cny == 0).all()
    assert F.churn_labels(con, as_of=AS_OF).to_pandas().churned.tolist() == [True]


def test_scoped_tables_by_scope_region_and_manager() -> None:
    """A Scope selects a region's or a manager's partners; 'all' in any case keeps everyone."""
    from workbench.vocab import Scope

    con = ibis.duckdb.connect()
    con.create_table("partners", pd.DataFrame({
        "partner_id": ["P1", "P2", "P3"], "name": ["a", "b", "c"], "region": ["East", "East", "West"],
        "manager_id": ["M1", "M2", "M1"], "contact_name": ["x", "y", "z"],
    }))
    con.create_table("orders", pd.DataFrame({"partner_id": ["P1", "P2", "P3", "P3"], "net_amount": [1.0, 2.0, 3.0, 4.0]}))
    ids = lambda t: sorted(t["partners"].partner_id.to_pandas())  # noqa: E731
    assert ids(F.scoped_tables(con, " ALL ")) == ["P1", "P2", "P3"]
    assert ids(F.scoped_tables(con, Scope.parse("East"))) == ["P1", "P2"]
    by_manager = F.scoped_tables(con, Scope.parse(manager="M1"))
    assert ids(by_manager) == ["P1", "P3"]
    assert sorted(by_manager["orders"].net_amount.to_pandas()) == [1.0, 3.0, 4.0]
    assert "contact_name" not in by_manager["partners"].columns
    with pytest.raises(WorkbenchError, match="no partners"):
        F.scoped_tables(con, "North")


def test_snapshot_sets_equal_stacked_single_snapshots(demo_db: Path) -> None:
    """partner_snapshot_sets at several dates (one query) equals partner_snapshot at each date, stacked."""
    con = store.connect(demo_db, read_only=True)
    dates = [D(2025, 3, 31), D(2025, 12, 31), D(2026, 6, 30)]  # windows that overlap and ones that don't
    t = F.scoped_tables(con, "East")
    multi = F.partner_snapshot_sets(t, as_of=dates).to_pandas()
    single = pd.concat([F.partner_snapshot(con, as_of=d, region="East").to_pandas() for d in dates],
                       ignore_index=True)
    assert list(multi.columns) == list(F.SNAPSHOT_COLUMNS)
    assert multi["as_of"].nunique() == 3 and len(multi) == len(single)
    pd.testing.assert_frame_equal(multi, single, check_dtype=False)
    # a partner whose last order is older than the earliest window still has its last order date
    old = single[single.orders_365d.eq(0) & single.last_order_date.notna()]
    assert (old.recency_days > 365).all()


def test_scoped_tables_follow_the_store_contents_when_reused(demo_db, tmp_path):
    """Scoping the same region twice on one connection gives the same rows, and a row written in between
    is seen by the next call (the kept expressions are tied to the store's file version)."""
    import shutil

    db = tmp_path / "copy.duckdb"
    shutil.copyfile(demo_db, db)
    con = store.connect(db)

    def east_partners() -> int:
        return int(F.scoped_tables(con, "East")["partners"].count().to_pandas())

    before = east_partners()
    assert east_partners() == before == int(con.table("partners").filter(ibis._.region == "East").count().to_pandas())
    con.con.execute("INSERT INTO partners (partner_id, name, region, channel_type, onboard_date) "
                    "VALUES ('PNEW', 'New partner', 'East', 'dealer', DATE '2026-01-05')")
    con.con.execute("CHECKPOINT")
    assert east_partners() == before + 1
    assert int(F.scoped_tables(con, "North")["partners"].filter(ibis._.partner_id == "PNEW").count().to_pandas()) == 0
    assert "conflicts" in F.scoped_tables(con, "East")
    con.con.execute("DROP TABLE conflicts")  # an optional table gone: the next scoping leaves it out
    con.con.execute("CHECKPOINT")
    assert "conflicts" not in F.scoped_tables(con, "East")
    con.disconnect()
