"""Tests for workbench.rebates: every status on hand-computed ledgers, totals never netted, the CLI."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from workbench import incentives as inc
from workbench import rebates as rb

TIERS = [{"threshold": 100_000, "rate_pct": 2.0}, {"threshold": 200_000, "rate_pct": 3.0},
         {"threshold": 500_000, "rate_pct": 5.0}]
PROGRAMS = {p.name: p for p in (
    inc.program_from_dict({"name": "retro", "volume_rebate": {"tiers": TIERS, "mode": "retroactive"}}),
    inc.program_from_dict({"name": "marginal", "volume_rebate": {"tiers": TIERS, "mode": "marginal"}}),
    inc.program_from_dict({"name": "growth", "growth_bonus": {"min_growth_pct": 10, "rate_pct": 5}}),
    inc.program_from_dict({"name": "capped", "volume_rebate": {"tiers": TIERS},
                           "caps": {"per_partner": 20_000, "total": 14_000}}),
)}
Q2, Q3 = ("2026-04-01", "2026-06-30"), ("2026-07-01", "2026-09-30")
AS_OF = date(2026, 9, 30)  # Q2 rows were due on 2026-08-14 (45 days), Q3 rows on 2026-11-14

# id, program, period, net sales, last-year sales, ledger due, paid (NaN: nothing paid), expected
# recomputed due (hand-computed), expected status
CASES = [
    # retroactive: 250k reaches 3 % on everything = 7,500
    ("R1", "retro", Q2, 250_000, 0, 7_500.00, 7_500.00, 7_500.00, "ok"),
    # 199,999 stays in the 2 % tier = 3,999.98; 3,000 paid
    ("R2", "retro", Q2, 199_999, 0, 3_999.98, 3_000.00, 3_999.98, "underpaid"),
    # 600k reaches 5 % = 30,000; the ledger applied 3 % (18,000): misstated takes precedence over underpaid
    ("R3", "retro", Q2, 600_000, 0, 18_000.00, 18_000.00, 30_000.00, "due_misstated"),
    # exactly 100k = 2 % = 2,000, nothing paid 47 days after the payment date
    ("R4", "retro", Q2, 100_000, 0, 2_000.00, np.nan, 2_000.00, "unpaid_overdue"),
    # marginal: 2 % × 100k + 3 % × 50k = 3,500; 4,000 paid
    ("M1", "marginal", Q2, 250_000, 0, 3_500.00, 4_000.00, 3_500.00, "overpaid"),
    # 2,000 + 9,000 + 5,000 = 16,000; the ledger's 16,000.01 is within a cent, so not misstated
    ("M2", "marginal", Q2, 600_000, 0, 16_000.01, 16_000.00, 16_000.00, "ok"),
    # below the first threshold: nothing due, nothing paid
    ("M3", "marginal", Q2, 50_000, 0, 0.00, 0.00, 0.00, "ok"),
    # growth bonus: +10 % over 300k → 5 % of the 30k increment = 1,500
    ("G1", "growth", Q2, 330_000, 300_000, 1_500.00, 1_500.00, 1_500.00, "ok"),
    # +6.7 % earns nothing; the ledger says 1,000 (and 1,000 was paid)
    ("G2", "growth", Q2, 320_000, 300_000, 1_000.00, 1_000.00, 0.00, "due_misstated"),
    # Q3: 440k vs 400k (+10 %) → 2,000, not yet due and not paid
    ("G3", "growth", Q3, 440_000, 400_000, 2_000.00, np.nan, 2_000.00, "pending"),
    # caps: uncapped 30,000 / 6,000 / 2,000 → per partner 20,000 / 6,000 / 2,000 = 28,000 → total cap
    # 14,000 halves each: 10,000 / 3,000 / 1,000. C2's ledger ignored the total cap.
    ("C1", "capped", Q2, 600_000, 0, 10_000.00, 10_000.00, 10_000.00, "ok"),
    ("C2", "capped", Q2, 200_000, 0, 6_000.00, 6_000.00, 3_000.00, "due_misstated"),
    ("C3", "capped", Q2, 100_000, 0, 1_000.00, 1_000.00, 1_000.00, "ok"),
    # no program file named 'legacy': listed, not recomputed; judged against the ledger's own due
    ("X1", "legacy", Q2, 80_000, 0, 500.00, 400.00, np.nan, "underpaid"),
]


def ledger_and_sales() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = pd.DataFrame([{"incentive_id": c[0], "partner_id": f"P{c[0]}", "program": c[1],
                          "period_start": pd.Timestamp(c[2][0]), "period_end": pd.Timestamp(c[2][1]),
                          "amount_due": c[5], "amount_paid": c[6]} for c in CASES])
    sales = pd.DataFrame({"net_sales_cny": [float(c[3]) for c in CASES],
                          "last_year_sales_cny": [float(c[4]) for c in CASES]})
    return rows, sales


def test_every_status_on_hand_computed_programs():
    ledger, sales = ledger_and_sales()
    audit = rb.audit_ledger(ledger, PROGRAMS, sales=sales, as_of=AS_OF).set_index("incentive_id")
    for case in CASES:
        row = audit.loc[case[0]]
        expected = case[7]
        if np.isnan(expected):
            assert np.isnan(row["recomputed_due_cny"]) and not row["program_found"], case[0]
        else:
            assert row["recomputed_due_cny"] == pytest.approx(expected, abs=0.005), case[0]
        assert row["status"] == case[8], (case[0], row["status"])
    assert set(audit["status"]) == set(rb.STATUSES)  # every status occurs
    # difference is paid − the true due, per row
    assert audit.loc["R3", "difference_cny"] == -12_000.00
    assert audit.loc["C2", "difference_cny"] == 3_000.00
    assert audit.loc["R4", "difference_cny"] == -2_000.00
    assert audit.loc["R4", "payment_due_date"] == pd.Timestamp("2026-08-14")


def test_totals_keep_over_and_underpayments_apart():
    # Overpaid: M1 500 + G2 1,000 + C2 3,000 = 4,500. Underpaid (already due): R2 999.98 + R3 12,000 +
    # R4 2,000 + X1 100 = 15,099.98. Pending (G3, not yet due): 2,000. Netting would show 10,599.98 short.
    ledger, sales = ledger_and_sales()
    audit = rb.audit_ledger(ledger, PROGRAMS, sales=sales, as_of=AS_OF).assign(company="all")
    total = rb.totals(audit, "company").iloc[0]
    assert total["overpaid_cny"] == pytest.approx(4_500.00)
    assert total["underpaid_cny"] == pytest.approx(15_099.98)
    assert total["pending_cny"] == pytest.approx(2_000.00)
    assert total["misstated_cny"] == pytest.approx(12_000 + 1_000 + 3_000)
    assert total["rows"] == len(CASES) and total["n_due_misstated"] == 3 and total["n_ok"] == 6
    by = rb.totals(audit, "program").set_index("program")
    assert by.loc["retro", "underpaid_cny"] == pytest.approx(14_999.98) and by.loc["retro", "overpaid_cny"] == 0
    assert by.loc["capped", "overpaid_cny"] == pytest.approx(3_000) and by.loc["capped", "underpaid_cny"] == 0
    assert by["overpaid_cny"].sum() == pytest.approx(total["overpaid_cny"])


def test_a_total_cap_is_prorated_over_every_region_before_filtering(tmp_path):
    # The capped program's three partners are in two regions; auditing one region must still apply
    # the company-wide proration (C1 owed 10,000, not 20,000).
    ledger, sales = ledger_and_sales()
    audit = rb.audit_ledger(ledger, PROGRAMS, sales=sales, as_of=AS_OF)
    audit["region"] = np.where(audit["incentive_id"] == "C1", "East", "West")
    east = audit[audit["region"] == "East"]
    assert east["recomputed_due_cny"].tolist() == [10_000.00]


def test_shortfall_kpis_for_the_retrospective_are_not_netted():
    ledger, sales = ledger_and_sales()
    k = rb.shortfall_kpis(rb.audit_ledger(ledger, PROGRAMS, sales=sales, as_of=AS_OF))
    assert k["rebate_underpaid_cny"] == pytest.approx(15_099.98) and k["rebate_overpaid_cny"] == pytest.approx(4_500)
    assert k["rebate_rows_not_ok"] == len(CASES) - 6
    assert rb.shortfall_kpis(pd.DataFrame())["rebate_rows_not_ok"] == 0


def test_the_demo_audit_recomputes_the_current_program_and_catches_a_misstated_due(demo_db, tmp_path):
    """The demo ledger's rows at the current flat rate name config/incentives/synthetic_current.yaml's program, so
    the audit recomputes them (before, every row named a program without a file and nothing was recomputed);
    synth plants their dues exactly as that file computes them, and one due changed in a copy is caught."""
    import shutil

    import duckdb

    from workbench import store
    from workbench.paths import config_file
    from workbench.synth.params import BASE_RATE_PP, CURRENT_PROGRAM, OTHER_PROGRAM

    current = inc.load_program(config_file("incentives") / "synthetic_current.yaml")
    assert current.name == CURRENT_PROGRAM and list(current.rates_pct) == [BASE_RATE_PP[1]]
    audit = rb.audit_store(store.connect(demo_db, read_only=True), quarter="2026Q2")
    found = audit[audit["program_found"]]
    assert set(audit["program"]) == {CURRENT_PROGRAM, OTHER_PROGRAM}
    assert len(found) >= 50 and (found["program"] == CURRENT_PROGRAM).all()
    assert np.allclose(found["recomputed_due_cny"], found["ledger_due_cny"], atol=0.005)  # planted exactly
    assert np.allclose(found["recomputed_due_cny"], 0.03 * found["net_sales_cny"], atol=0.006)
    assert not (audit["status"] == "due_misstated").any()
    copy = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, copy)
    victim = found.iloc[0]
    con = duckdb.connect(str(copy))
    con.execute("UPDATE incentives SET amount_due = amount_due + 100 WHERE incentive_id = ?", [victim["incentive_id"]])
    con.close()
    audit = rb.audit_store(store.connect(copy, read_only=True), quarter="2026Q2")
    assert list(audit.loc[audit["status"] == "due_misstated", "incentive_id"]) == [victim["incentive_id"]]
