"""Short histories and tiny scopes (workbench.churn.backtest.backtest_design, scoring without a backtest)
on the real and degenerate stores of tests/realstores.py."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from workbench import churn, store
from workbench.errors import NotEnoughData
from workbench.present import churn as present_churn


def test_least_history_is_stated() -> None:
    assert churn.min_history_days(90) == 270 and churn.min_history_days(30) == 150
    cuts = churn.monthly_cutoffs(first=date(2011, 1, 15), last=date(2011, 4, 30))
    assert cuts == [date(2011, 1, 31), date(2011, 2, 28), date(2011, 3, 31), date(2011, 4, 30)]


def test_three_months_gives_baselines_only_with_one_sentence_why(realstore) -> None:
    con = store.connect(realstore("three_months"), read_only=True)
    with pytest.raises(NotEnoughData, match=r"needs at least 270") as exc:
        churn.backtest_design(con, as_of=date(2026, 9, 30), horizon_days=90)
    assert str(exc.value).count(".") == 1  # one sentence
    assert "订单历史共" in str(present_churn.notice(exc.value, "zh"))
    scorer = churn.fit_scorer(con, as_of=date(2026, 9, 30), horizon_days=90)
    assert not scorer.validated and scorer.model == churn.UNVALIDATED
    risk = churn.risk_list(con, as_of=date(2026, 9, 30), scorer=scorer, detail=True)
    assert len(risk) > 10 and risk["risk"].between(0, 1).all()
    assert risk["expected_sales"].notna().all() and (risk["clv_12m"] >= risk["expected_sales"]).mean() > 0.9
    assert "could not be tested out of time" in present_churn.scorer_sentence(scorer)


def test_one_partner_region_with_under_a_year_of_orders(realstore) -> None:
    """Issue 12: 'Island' holds one partner with seven months of orders (KeyError 'bgnbd' before)."""
    from tests.realstores import ONE_PARTNER_REGION

    con = store.connect(realstore("one_partner_region"), read_only=True)
    scorer = churn.fit_scorer(con, as_of=date(2026, 9, 30), region=ONE_PARTNER_REGION)
    risk = present_churn.risk_table(
        churn.risk_list(con, as_of=date(2026, 9, 30), region=ONE_PARTNER_REGION, scorer=scorer, detail=True), "en")
    assert len(risk) == 1 and 0 <= risk["risk"].iloc[0] <= 1 and np.isfinite(risk["expected_sales"].iloc[0])
    km = churn.survival_view(con, as_of=date(2026, 9, 30), region=ONE_PARTNER_REGION)
    assert km.empty  # one partner is below the five a curve needs: the chart says "no data"


@pytest.mark.slow
def test_online_retail_ten_months_gives_a_backtested_model(realstore) -> None:
    """Issue 12/15: the UK of the real Online Retail export at 2011Q3 (ten months of orders to the
    scoring date) gets monthly cut-offs, a 90-day window and an out-of-time winner."""
    con = store.connect(realstore("online_retail"), read_only=True)
    design = churn.backtest_design(con, as_of=date(2011, 9, 30), horizon_days=90, region="United Kingdom")
    assert design.cadence == "monthly" and design.active_days == churn.SHORT_ACTIVE_DAYS and design.short
    frames = churn.cutoff_frames(con, design.cutoffs, horizon_days=90, region="United Kingdom",
                                 active_days=design.active_days)
    bt = churn.run_backtest(frames, horizon_days=90)
    assert len(bt.plan) >= 2 and bt.ranked
    s = bt.summary.set_index("model")
    assert s.loc[bt.winner, "roc_auc"] > 0.7 and s.loc[bt.winner, "roc_auc"] >= s["roc_auc"].max()
    assert "month-end cut-offs" in present_churn.design_sentence(design)
