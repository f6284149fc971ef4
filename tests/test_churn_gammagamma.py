"""workbench.churn.gammagamma: the Gamma-Gamma spend model reproduces the published CDNOW fit."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import churn
from workbench.churn.gammagamma import GammaGammaFitter, cdnow_spend_summary, discounted_value, monthly_rate


def _cdnow(real_data: Path) -> pd.DataFrame:
    tx = pd.read_csv(real_data / "cdnow" / "CDNOW_sample.txt", sep=r"\s+", header=None,
                     names=["master_id", "customer_id", "date", "cds", "dollars"], dtype={"date": str})
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return tx


def test_gamma_gamma_reproduces_the_published_cdnow_fit(real_data: Path) -> None:
    """Fader, Hardie & Lee (2005, 'RFM and CLV'): p 6.25, q 3.74, gamma 15.44 on the 946 repeat buyers
    of the CDNOW sample (calibration to 1997-09-30, same-day purchases summed); conditional expected
    spend per transaction of the first customers 24.65, 18.91, 35.17, 35.17, 35.17, 71.46, ..."""
    s = cdnow_spend_summary(_cdnow(real_data), calibration_end=date(1997, 9, 30))
    assert len(s) == 2357 and (s["frequency"] > 0).sum() == 946
    assert s.loc[1, "monetary_value"] == pytest.approx((29.73 + 14.96) / 2)  # the first buy is left out
    gg = GammaGammaFitter().fit(s["frequency"], s["monetary_value"])
    assert gg.n_customers_ == 946 and gg.converged_
    assert gg.params_["p"] == pytest.approx(6.25, abs=0.01)
    assert gg.params_["q"] == pytest.approx(3.74, abs=0.01)
    assert gg.params_["v"] == pytest.approx(15.44, abs=0.02)
    spend = gg.conditional_expected_average_profit(s["frequency"], s["monetary_value"])
    np.testing.assert_allclose(spend[:10], [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17],
                               atol=0.01)
    # no repeat: the population mean p v / (q - 1); a heavy repeat buyer: close to its own mean
    assert spend[2] == pytest.approx(gg.population_mean_spend)
    assert list(gg.summary_.index) == ["p", "q", "v"] and (gg.summary_["se(coef)"] > 0).all()
    assert "946 repeat customers" in repr(gg)


def test_value_from_bgnbd_times_gamma_gamma(real_data: Path) -> None:
    """12-month discounted value = monthly expected orders × expected spend, discounted; at a zero
    rate it equals expected orders over 52.18 weeks × spend."""
    tx = _cdnow(real_data)
    summ = churn.cdnow_summary(tx, calibration_end=date(1997, 9, 30))
    s = cdnow_spend_summary(tx, calibration_end=date(1997, 9, 30))
    bg = churn.BetaGeoFitter().fit(summ["frequency"], summ["recency"], summ["T"])
    gg = GammaGammaFitter().fit(s["frequency"], s["monetary_value"])
    spend = gg.conditional_expected_average_profit(s["frequency"], s["monetary_value"])
    args = (summ["frequency"], summ["recency"], summ["T"])
    flat = discounted_value(bg, spend, *args, months=12, annual_rate=0.0)
    n12 = bg.conditional_expected_number_of_purchases_up_to_time(365.25 / 7, *args)
    np.testing.assert_allclose(flat, n12 * spend, rtol=1e-9)
    disc = discounted_value(bg, spend, *args, months=12, annual_rate=0.10)
    assert np.all(disc < flat) and np.all(disc > flat / 1.10)
    assert monthly_rate(0.10) == pytest.approx(1.10 ** (1 / 12) - 1)
    # P(no purchase in t) agrees with the expected count: no purchase at all is impossible when E[N] is large
    p0 = bg.conditional_probability_no_purchase(39.0, *args)
    assert np.all((p0 > 0) & (p0 <= 1))
    assert np.corrcoef(p0, n12)[0, 1] < -0.5


def test_gamma_gamma_needs_repeat_buyers() -> None:
    from workbench.errors import NotEnoughData

    with pytest.raises(NotEnoughData, match="repeat order"):
        GammaGammaFitter().fit([0, 0, 1], [0.0, 0.0, 10.0])
