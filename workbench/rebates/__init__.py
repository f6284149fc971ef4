"""Rebate audit and partner statements: what each partner is owed, recomputed from the program files.

``audit_store(con, quarter=…)`` recomputes every ledger row with the exact payout engine
(``workbench.incentives.compute_payouts``) and classifies it (``STATUSES``), never netting one row
against another; ``totals`` sums over- and underpayments apart by program, region or manager;
``partner_statement`` gathers one partner's figures for a quarter (tier reached, rate, payout, paid,
outstanding, what the next tier needs). Words and pages live in ``workbench.present.rebates``.
"""

from __future__ import annotations

from workbench.rebates.audit import (
    STATUSES,
    audit_ledger,
    audit_store,
    audit_to_date,
    classify,
    load_programs,
    period_sales,
    recompute,
    shortfall_kpis,
    totals,
)

__all__ = [
    "STATUSES",
    "audit_ledger",
    "audit_store",
    "audit_to_date",
    "classify",
    "load_programs",
    "period_sales",
    "recompute",
    "shortfall_kpis",
    "totals",
]
