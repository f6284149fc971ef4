"""workbench.churn.bgnbd: BG/NBD reproduces the published CDNOW fit (Fader, Hardie & Lee 2005)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import churn

# Fader, Hardie & Lee (2005), table in section 4; full-precision MLE in tests/data/cdnow/README.md
PAPER = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PAPER_LL = -9582.4


def _check_cdnow(fit: churn.BetaGeoFitter) -> None:
    for k, v in PAPER.items():
        assert fit.params_[k] == pytest.approx(v, abs=1.5e-3), k
    assert fit.log_likelihood_ == pytest.approx(PAPER_LL, abs=0.1)


def test_bgnbd_reproduces_cdnow_from_summary(real_data: Path) -> None:
    s = pd.read_csv(real_data / "cdnow" / "cdnow_customers_summary.csv")
    assert len(s) == 2357
    fit = churn.BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    _check_cdnow(fit)
    assert list(fit.summary_.index) == ["r", "alpha", "a", "b"]
    assert (fit.summary_["se(coef)"] > 0).all()
    assert "2,357 customers" in repr(fit)


def test_bgnbd_reproduces_cdnow_from_transactions(real_data: Path) -> None:
    tx = pd.read_csv(
        real_data / "cdnow" / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "dollars"],
        dtype={"date": str},
    )
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    summ = churn.cdnow_summary(tx, calibration_end=date(1997, 9, 30))
    assert len(summ) == 2357
    ref = pd.read_csv(real_data / "cdnow" / "cdnow_customers_summary.csv")
    assert summ["frequency"].sum() == ref["frequency"].sum() == 2457  # repeat purchase days
    np.testing.assert_allclose(summ["T"].to_numpy(), ref["T"].to_numpy(), atol=0.006)
    np.testing.assert_allclose(summ["recency"].to_numpy(), ref["recency"].to_numpy(), atol=0.006)
    fit = churn.BetaGeoFitter().fit(summ["frequency"], summ["recency"], summ["T"])
    _check_cdnow(fit)
    # P(alive): one-time buyers are alive; a frequent buyer long silent is probably not
    p = fit.conditional_probability_alive([0, 10, 10], [0.0, 38.0, 5.0], [38.0, 38.0, 38.0])
    assert p[0] == 1.0 and p[1] > 0.9 and p[2] < 0.05
