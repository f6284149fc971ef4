"""Quarter, Scope and money (workbench.vocab): parsing, arithmetic, formatting and the store's currency."""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import ibis
import pandas as pd
import pytest

from workbench.errors import NotEnoughData, WorkbenchError
from workbench.vocab import (
    Quarter,
    Scope,
    format_money,
    money_label,
    set_store_currency,
    store_currency,
    symbol,
)

# -- Quarter ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["2026Q3", "2026-Q3", "2026q3", " 2026 q3 ", "2026_Q3"])
def test_quarter_parses_the_usual_spellings(text: str) -> None:
    q = Quarter.parse(text)
    assert (q.year, q.number, q.quarter) == (2026, 3, 3)
    assert str(q) == "2026Q3"


def test_quarter_from_period_and_itself() -> None:
    assert Quarter.parse(pd.Period("2026Q1", "Q")) == Quarter(2026, 1)
    assert Quarter.parse(pd.Period("2026-05", "M")) == Quarter(2026, 2)
    q = Quarter(2025, 4)
    assert Quarter.parse(q) is q
    assert q.period == pd.Period("2025Q4", "Q")


@pytest.mark.parametrize("bad", ["2026Q5", "2026Q0", "26Q3", "Q3 2026", "2026-07", "", "2026Q3x", None, 20263])
def test_quarter_bad_text_is_one_sentence(bad: object) -> None:
    with pytest.raises(WorkbenchError) as info:
        Quarter.parse(bad)  # type: ignore[arg-type]
    msg = str(info.value)
    assert "2026Q3" in msg and msg.endswith(".") and "\n" not in msg


def test_quarter_bounds_inclusive() -> None:
    assert Quarter(2026, 1).start == dt.date(2026, 1, 1)
    assert Quarter(2026, 1).end == dt.date(2026, 3, 31)
    assert Quarter(2024, 1).end == dt.date(2024, 3, 31)
    assert Quarter(2026, 2).end == dt.date(2026, 6, 30)
    assert Quarter(2026, 3).end == dt.date(2026, 9, 30)
    assert Quarter(2026, 4).start == dt.date(2026, 10, 1)
    assert Quarter(2026, 4).end == dt.date(2026, 12, 31)


def test_quarter_next_prev_cross_years() -> None:
    q = Quarter(2026, 1)
    assert q.prev() == Quarter(2025, 4)
    assert q.prev(4) == Quarter(2025, 1)
    assert q.next(3) == Quarter(2026, 4)
    assert q.next(4) == Quarter(2027, 1)
    assert q.next(-1) == q.prev()
    assert Quarter(2025, 4) < Quarter(2026, 1) < Quarter(2026, 2)
    assert q.next(5).ordinal - q.ordinal == 5


def test_quarter_containing_and_latest_complete() -> None:
    assert Quarter.containing(dt.date(2026, 9, 30)) == Quarter(2026, 3)
    assert Quarter.containing(pd.Timestamp("2026-10-01 13:00")) == Quarter(2026, 4)
    assert Quarter.containing("2026-02-28") == Quarter(2026, 1)
    # the quarter that ends on as_of is complete; one day earlier it is not
    assert Quarter.latest_complete(dt.date(2026, 9, 30)) == Quarter(2026, 3)
    assert Quarter.latest_complete(dt.date(2026, 9, 29)) == Quarter(2026, 2)
    assert Quarter.latest_complete(dt.date(2026, 1, 1)) == Quarter(2025, 4)
    # data that stops in the last week covers the quarter when grace_days allows it
    assert Quarter.latest_complete(dt.date(2026, 9, 24), grace_days=6) == Quarter(2026, 3)
    assert Quarter.latest_complete(dt.date(2026, 9, 23), grace_days=6) == Quarter(2026, 2)


def test_quarter_is_frozen_and_hashable() -> None:
    q = Quarter(2026, 3)
    with pytest.raises(AttributeError):
        q.year = 2027  # type: ignore[misc]
    assert {q, Quarter.parse("2026-Q3")} == {q}


# -- Scope -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("whole", [None, "", "all", "ALL", " All ", "  "])
def test_scope_whole_company(whole: str | None) -> None:
    s = Scope.parse(whole)
    assert s.is_all and s.kind == "all" and s.region is None and s.manager is None
    assert s.slug == "all" and str(s) == "all"
    assert Scope.parse(whole, whole) == Scope()


def test_scope_region_and_manager() -> None:
    r = Scope.parse(" East ")
    assert (r.kind, r.value, r.region, r.manager, r.is_all) == ("region", "East", "East", None, False)
    assert r.slug == "East"
    m = Scope.parse(manager="M007")
    assert (m.kind, m.manager, m.region) == ("manager", "M007", None)
    assert m.slug == "manager_M007"
    assert Scope.parse("all", manager="M007") == m
    assert Scope.parse(r) is r


def test_scope_slug_is_a_safe_folder_name() -> None:
    assert Scope.parse("South / West").slug == "South_West"
    assert Scope.parse("华东 区").slug == "华东_区"
    assert Scope.parse("..").slug == "region"
    for s in ["a/b", "c:d", 'e"f', "g\\h"]:
        assert not set(Scope.parse(s).slug) & set('/\\:"*?<>| ')


def test_scope_region_and_manager_together_is_an_error() -> None:
    with pytest.raises(WorkbenchError, match="not both"):
        Scope.parse("East", "M007")


# -- money -----------------------------------------------------------------------------------------


def test_symbols() -> None:
    assert [symbol(c) for c in ("GBP", "usd", "EUR", "CNY", "JPY")] == ["£", "$", "€", "¥", "¥"]
    assert symbol("XYZ") == "XYZ "


def test_format_money() -> None:
    assert format_money(1234.4, "GBP") == "£1,234"
    assert format_money(1234.5, "USD", decimals=2) == "$1,234.50"
    assert format_money(-98765, "EUR") == "-€98,765"
    assert format_money(-0.2, "EUR") == "€0"
    assert format_money(0, "CNY", lang="zh") == "¥0"
    assert format_money(12, "CHF") == "CHF 12"
    for missing in (None, float("nan"), math.inf, pd.NA, "n/a"):
        assert format_money(missing, "GBP") == "–"


def test_money_label() -> None:
    assert money_label("Net sales", "GBP") == "Net sales (GBP)"
    assert money_label("净销售额", "cny") == "净销售额 (CNY)"


def test_store_currency_absent_table_then_set(tmp_path) -> None:
    raw = duckdb.connect(str(tmp_path / "s.duckdb"))
    assert store_currency(raw) == "CNY"
    raw.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    assert store_currency(raw) == "CNY"  # table but no key
    set_store_currency(raw, "gbp")
    assert store_currency(raw) == "GBP"
    set_store_currency(raw, "USD")  # replaces, never a second row
    assert raw.execute("SELECT count(*) FROM meta WHERE key = 'currency'").fetchone()[0] == 1
    raw.close()
    con = ibis.duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True)
    assert store_currency(con) == "USD"


def test_store_currency_through_the_store(tmp_path) -> None:
    from workbench import store

    con = store.connect(tmp_path / "w.duckdb")
    assert store_currency(con) == "CNY"
    set_store_currency(con, "EUR")
    assert store_currency(con) == "EUR"


def test_set_store_currency_rejects_non_codes(tmp_path) -> None:
    raw = duckdb.connect()
    with pytest.raises(WorkbenchError, match="ISO 4217"):
        set_store_currency(raw, "pounds")


def test_not_enough_data_is_a_workbench_error() -> None:
    assert issubclass(NotEnoughData, WorkbenchError)
    with pytest.raises(WorkbenchError):
        raise NotEnoughData("Only one quarter of orders; the trend needs two.")
