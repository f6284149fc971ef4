"""The pack index's rebate headline (#17): from the rebate audit, one ledger row at a time, over- and
underpayments apart; checked against a hand-computed ledger where the old netted figure would hide them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from workbench import store
from workbench.reports.index import HEADLINE_KEYS, _headline_rows, headline_from_store
from workbench.vocab import Scope

AS_OF = date(2026, 9, 30)
Q1, Q2, Q3 = ("2026-01-01", "2026-03-31"), ("2026-04-01", "2026-06-30"), ("2026-07-01", "2026-09-30")
FLAT = "name: flat\nvolume_rebate:\n  mode: retroactive\n  tiers:\n    - {threshold: 0, rate_pct: 3.0}\npayment_delay_days: 45\n"

# partner, region, program, period, net sales in the period, ledger due, paid, paid date. The program
# 'flat' pays 3 % of the period's net sales 45 days after its end; 'legacy' has no file (judged on its
# ledger due). Hand-computed status and (paid − due) on the right.
LEDGER = [
    ("PA", "East", "flat", Q2, 100_000, 3_000, 3_500, "2026-08-01"),  # overpaid +500
    ("PB", "East", "flat", Q2, 50_000, 1_500, 1_000, "2026-08-01"),  # underpaid −500
    ("PC", "East", "flat", Q1, 10_000, 300, 1_000, "2026-05-01"),  # overpaid +700 ...
    ("PC", "East", "flat", Q2, 100_000, 3_000, 2_300, "2026-08-01"),  # ... underpaid −700: nets to 0 for PC
    ("PD", "East", "flat", Q2, 200_000, 5_000, 5_000, "2026-08-01"),  # due is 6,000: misstated, −1,000
    ("PE", "East", "flat", Q2, 10_000, 300, None, None),  # unpaid overdue −300
    ("PF", "East", "flat", Q2, 20_000, 600, 600, "2026-10-15"),  # paid after as_of: unpaid overdue −600
    ("PG", "East", "flat", Q3, 30_000, 900, None, None),  # not yet due (2026-11-14): no discrepancy
    ("PH", "East", "flat", Q2, 40_000, 1_200, 1_200, "2026-08-01"),  # ok
    ("PX", "East", "legacy", Q2, 80_000, 400, None, None),  # no program file: unpaid overdue −400
    ("PW", "West", "flat", Q2, 10_000, 300, None, None),  # another region: unpaid overdue −300
]
EXPECTED = {  # (rows with a discrepancy, misstated rows, underpaid, overpaid)
    "all": (9, 1, 500 + 700 + 1_000 + 300 + 600 + 400 + 300, 500 + 700),
    "East": (8, 1, 500 + 700 + 1_000 + 300 + 600 + 400, 500 + 700),
    "West": (1, 0, 300, 0),
}
NETTED_EAST = (4, 1_700)  # the old headline: partners with Σ(due − paid) ≥ 0.01 (PB, PE, PF, PX) and the sum


@pytest.fixture(scope="module")
def ledger_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small store holding the LEDGER rows, one order per ledger row's period, and the program folder."""
    folder = tmp_path_factory.mktemp("ledger")
    programs = folder / "programs"
    programs.mkdir()
    (programs / "flat.yaml").write_text(FLAT, encoding="utf-8")
    db = folder / "ledger.duckdb"
    con = store.connect(db)
    raw = store.raw_connection(con)
    partners = sorted({(r[0], r[1]) for r in LEDGER})
    for pid, region in partners:
        raw.execute("INSERT INTO partners (partner_id, name, region, channel_type, onboard_date) "
                    "VALUES (?, ?, ?, 'dealer', DATE '2020-01-01')", [pid, f"Partner {pid}", region])
    for i, (pid, _, program, (start, end), sales, due, paid, paid_date) in enumerate(LEDGER):
        raw.execute("INSERT INTO orders (order_id, partner_id, order_date, net_amount, is_return) "
                    "VALUES (?, ?, CAST(? AS DATE) + 10, ?, FALSE)", [f"O{i}", pid, start, sales])
        raw.execute("INSERT INTO incentives (incentive_id, partner_id, program, period_start, period_end, amount_due, "
                    "amount_paid, paid_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [f"I{i}", pid, program, start, end, due, paid, paid_date])
    store.create_schema(raw)  # the partners' history rows
    con.disconnect()
    return db, programs


@pytest.mark.parametrize("scope", list(EXPECTED))
def test_rebate_headline_counts_rows_and_keeps_over_and_underpayments_apart(ledger_store, scope):
    db, programs = ledger_store
    got = headline_from_store(db, Scope.parse(scope), AS_OF, programs_dir=programs)
    rows, misstated, under, over = EXPECTED[scope]
    assert got["rebate_discrepancies"] == rows
    assert got["rebate_misstated"] == misstated
    assert got["rebate_underpaid"] == pytest.approx(under, abs=0.005)
    assert got["rebate_overpaid"] == pytest.approx(over, abs=0.005)
    if scope == "East":  # the old netted reading would have said 4 partners, 1,700: PA's and PC's overpayments,
        assert (rows, under) != NETTED_EAST  # PC's and PD's underpayments were invisible
        assert got["rebate_overpaid"] > 0 and got["rebate_underpaid"] - got["rebate_overpaid"] != NETTED_EAST[1]


def test_rebate_headline_as_of_an_earlier_day(ledger_store):
    """On 2026-05-01 only PC's Q1 row had ended (payment date 2026-05-15): its 1,000 paid that day is already
    700 too much; the Q2 rows are not counted, and without that payment nothing would be a discrepancy."""
    db, programs = ledger_store
    got = headline_from_store(db, Scope(), date(2026, 5, 1), programs_dir=programs)
    assert (got["rebate_discrepancies"], got["rebate_underpaid"], got["rebate_overpaid"]) == (1, 0.0, 700.0)
    got = headline_from_store(db, Scope(), date(2026, 4, 30), programs_dir=programs)  # paid the day after
    assert (got["rebate_discrepancies"], got["rebate_underpaid"], got["rebate_overpaid"]) == (0, 0.0, 0.0)


def test_a_broken_program_folder_shows_a_dash_not_a_wrong_figure(ledger_store, tmp_path):
    db, _ = ledger_store
    bad = tmp_path / "programs"
    bad.mkdir()
    (bad / "x.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    got = headline_from_store(db, Scope(), AS_OF, programs_dir=bad)
    assert got["rebate_discrepancies"] is None and got["rebate_underpaid"] is None
    assert got["active_partners"] == 1  # the other figures still come (PG ordered on 2026-07-11)


def test_headline_rows_word_every_rebate_figure_in_both_languages(ledger_store):
    db, programs = ledger_store
    figures = headline_from_store(db, Scope.parse("East"), AS_OF, programs_dir=programs)
    en = _headline_rows(figures, "CNY", "en")
    zh = _headline_rows(figures, "CNY", "zh")
    assert {k for k, _ in HEADLINE_KEYS} >= {"rebate_discrepancies", "rebate_misstated", "rebate_underpaid",
                                             "rebate_overpaid"}
    for text in ("Rebate ledger rows with a discrepancy", "Rebates underpaid", "Rebates overpaid", "¥3,500",
                 "¥1,200"):
        assert text in en, text
    for text in ("返利台账差异行数", "返利少付金额", "返利多付金额", "其中台账应付金额有误"):
        assert text in zh, text


def ledger_only_rebate_headline(ledger: pd.DataFrame, as_of: date, delay_days: int = 45) -> dict[str, float]:
    """The rebate headline recomputed with pandas for a ledger none of whose programs has a file (each row
    judged on its ledger due, payment due `delay_days` after the period): the slow pack tests' reading."""
    a = pd.Timestamp(as_of)
    led = ledger[pd.to_datetime(ledger["period_end"]) <= a].copy()
    paid_by_then = led["paid_date"].isna() | (pd.to_datetime(led["paid_date"]) <= a)
    paid = led["amount_paid"].astype(float).fillna(0).where(paid_by_then, 0.0)
    diff = (paid - led["amount_due"].astype(float)).round(2)
    not_yet = (diff < -0.01) & (paid <= 0) & (pd.to_datetime(led["period_end"]) + pd.Timedelta(days=delay_days) >= a)
    short, over = (diff < -0.01) & ~not_yet, diff > 0.01
    return {"rebate_discrepancies": int((short | over).sum()), "rebate_misstated": 0,
            "rebate_underpaid": float((-diff[~not_yet]).clip(lower=0).sum()),
            "rebate_overpaid": float(diff.clip(lower=0).sum())}


def test_the_pandas_reading_agrees_on_the_hand_ledger_without_program_files(ledger_store, tmp_path):
    """The slow tests' pandas reading against the audit, on the hand ledger with no program file at all."""
    db, _ = ledger_store
    empty = tmp_path / "none"
    empty.mkdir()
    con = duckdb.connect(str(db), read_only=True)
    ledger = con.execute("SELECT * FROM incentives").df()
    con.close()
    got = headline_from_store(db, Scope(), AS_OF, programs_dir=empty)
    want = ledger_only_rebate_headline(ledger, AS_OF)
    assert want == {"rebate_discrepancies": 8, "rebate_misstated": 0,  # PD's 5,000 is now taken as its due
                    "rebate_underpaid": 500 + 700 + 300 + 600 + 400 + 300, "rebate_overpaid": 1_200}
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=0.005), key


def test_every_curated_page_has_a_chinese_title():
    """The index links every page by its title in the pack's language (07 read 'Relationships' in Chinese packs)."""
    import re

    from workbench.reports import curated_notebooks
    from workbench.reports.html import notebook_title

    for nb in curated_notebooks():
        assert re.search(r"[\u4e00-\u9fff]", notebook_title(nb.stem, "zh")), nb.stem
    assert notebook_title("07_relationships", "zh") == "渠道关系管理"


def test_the_headline_opens_the_store_once(ledger_store, monkeypatch):
    """Sales, active partners and the rebate audit of one headline are read from one opened store (the rebate
    part opened it a second time before)."""
    from workbench.reports import index

    db, programs = ledger_store
    calls: list[str] = []
    real = index.opened

    def counting(target):
        calls.append(str(target))
        return real(target)

    monkeypatch.setattr(index, "opened", counting)
    got = index.headline_from_store(db, Scope.parse("East"), AS_OF, programs_dir=programs)
    assert calls == [str(db)]
    assert (got["rebate_discrepancies"], got["rebate_misstated"]) == EXPECTED["East"][:2]
    calls.clear()
    assert index.rebate_headline(db, Scope.parse("East"), AS_OF, programs_dir=programs)["rebate_overpaid"] == 1_200
    assert calls == [str(db)]
