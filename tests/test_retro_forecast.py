"""Tests of workbench.retro.forecast: intervals, the backtest against the seasonal-naive forecast, STL."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench import retro


def _seasonal_series(seed: int = 3, months: int = 36) -> pd.Series:
    rng = np.random.default_rng(seed)
    idx = pd.period_range("2023-10", periods=months, freq="M")
    season = np.array([1.0, 0.7, 1.0, 1.0, 1.0, 1.3, 1.0, 1.0, 1.0, 1.0, 1.5, 1.1])[idx.month - 1]
    level = 1e6 * np.exp(0.01 * np.arange(months) + np.cumsum(rng.normal(0, 0.02, months)))
    return pd.Series(level * season * np.exp(rng.normal(0, 0.03, months)), index=idx)


def test_forecast_has_intervals_and_backtest_reports_both_errors() -> None:
    s = _seasonal_series()
    fc = retro.forecast_sales(s, horizon=3)
    assert list(fc.columns) == ["month", "forecast", "lower", "upper"] and len(fc) == 3
    assert (fc["lower"] < fc["forecast"]).all() and (fc["forecast"] < fc["upper"]).all()
    assert fc["month"].iloc[0] == pd.Timestamp("2026-10-01")
    bt = retro.backtest_forecast(s, horizon=3, origins=4)
    assert list(bt["method"]) == ["model", "seasonal_naive"]
    assert np.isfinite(bt["mape"]).all() and np.isfinite(bt["rmse"]).all()
    assert (bt["n_forecasts"] == 12).all()
    # trend + noise: the seasonal ARIMA beats last year's value
    m = bt.set_index("method")["mape"]
    assert m["model"] < m["seasonal_naive"]
    stl = retro.stl_decompose(s)
    np.testing.assert_allclose(stl["trend"] + stl["seasonal"] + stl["resid"], stl["observed"], rtol=1e-9)
