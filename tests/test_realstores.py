"""The real and degenerate store builders hold exactly the defects they promise (tests/realstores.py)."""

from __future__ import annotations

import duckdb
import pytest

from tests import realstores


def _one(path, sql: str):
    with duckdb.connect(str(path), read_only=True) as c:
        return c.sql(sql).fetchone()


def test_orders_only_holds_no_other_table(realstore):
    path = realstore("orders_only")
    for table in ("incentives", "surveys", "trainings", "conflicts", "actions", "coverage"):
        assert _one(path, f"SELECT count(*) FROM {table}") == (0,), table
    assert _one(path, "SELECT count(*) > 1000 FROM orders") == (True,)


def test_three_months_starts_in_july(realstore):
    first, last = _one(realstore("three_months"), "SELECT min(order_date), max(order_date) FROM orders")
    assert (first.isoformat(), last.isoformat()) == ("2026-07-01", "2026-09-30")


def test_one_partner_region_has_one_partner_with_eight_months(realstore):
    path = realstore("one_partner_region")
    region = realstores.ONE_PARTNER_REGION
    assert _one(path, f"SELECT count(*) FROM partners WHERE region = '{region}'") == (1,)
    first, = _one(path, f"SELECT min(order_date) FROM orders JOIN partners USING (partner_id) WHERE region = '{region}'")
    assert first.isoformat() >= "2026-02-01"


@pytest.mark.parametrize(("name", "lo", "hi"), [("many_lines_3000", 3000, 3000), ("one_line", 1, 1)])
def test_product_line_cardinality(realstore, name, lo, hi):
    n, = _one(realstore(name), "SELECT count(DISTINCT product_line) FROM orders")
    assert lo <= n <= hi


def test_no_product_line_and_one_day(realstore):
    assert _one(realstore("no_product_line"), "SELECT count(product_line) FROM orders") == (0,)
    assert _one(realstore("one_day"), "SELECT count(DISTINCT order_date) FROM orders") == (1,)


def test_returns_only_region_has_only_returns(realstore):
    region = realstores.RETURNS_ONLY_REGION
    n, returns, max_amount = _one(realstore("returns_only_region"),
                                  "SELECT count(*), count(*) FILTER (WHERE is_return), max(net_amount) FROM orders "
                                  f"JOIN partners USING (partner_id) WHERE region = '{region}'")
    assert n > 0 and returns == n and max_amount <= 0


def test_markup_is_planted_in_every_text_column(realstore):
    import duckdb

    path = realstore("markup")
    for (table, column), text in {**realstores.MARKUP, **realstores.MARKUP_ENUM}.items():
        escaped = text.replace("'", "''")
        assert _one(path, f"SELECT count(*) > 0 FROM {table} WHERE {column} = '{escaped}'") == (True,), (table, column)
    for (table, column), prefix in realstores.MARKUP_IDS.items():
        escaped = prefix.replace("'", "''")
        assert _one(path, f"SELECT count(*) > 0 FROM {table} WHERE starts_with({column}, '{escaped}')") == (True,), column
    assert _one(path, "SELECT count(*) > 0 FROM partners WHERE region = $$" + realstores.MARKUP_REGION + "$$") == (True,)
    # every text column of every table holds a marker (ids, types, names, comments, ...)
    con = duckdb.connect(str(path), read_only=True)
    try:
        cols = con.execute("SELECT table_name, column_name FROM information_schema.columns WHERE data_type = 'VARCHAR' "
                           "AND table_name IN ('partners', 'partner_history', 'orders', 'incentives', 'surveys', "
                           "'trainings', 'conflicts', 'actions', 'coverage')").fetchall()
        for table, column in cols:
            if column in ("region", "_load_id") or column.endswith("load_id"):
                continue
            n = con.execute(f"SELECT count(*) FROM {table} WHERE contains({column}, '<')").fetchone()[0]
            assert n > 0, f"{table}.{column} holds no planted markup"
    finally:
        con.close()
