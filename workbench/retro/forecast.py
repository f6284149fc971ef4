"""Seasonality and outlook: monthly sales, STL decomposition, seasonal ARIMA forecast and its backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.errors import NotEnoughData, WorkbenchError
from workbench.retro._common import _single_threaded

__all__ = ["MIN_BACKTEST_MONTHS", "MIN_FORECAST_MONTHS", "backtest_forecast", "forecast_sales", "monthly_sales", "stl_decompose"]



# Month of the Lunar New Year (Spring Festival) day, 2015–2035: the month of the sales dip.
_LNY_DATES = (
    "2015-02-19", "2016-02-08", "2017-01-28", "2018-02-16", "2019-02-05", "2020-01-25", "2021-02-12",
    "2022-02-01", "2023-01-22", "2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06", "2028-01-26",
    "2029-02-13", "2030-02-03", "2031-01-23", "2032-02-11", "2033-01-31", "2034-02-19", "2035-02-08",
)
_LNY_MONTHS = {pd.Period(d, "M") for d in _LNY_DATES}


def _lny_dummy(index: pd.PeriodIndex) -> np.ndarray:
    return np.array([[1.0 if p in _LNY_MONTHS else 0.0] for p in index])


def monthly_sales(panel: pd.DataFrame, *, sales_col: str = "net_sales_cny") -> pd.Series:
    """Total net sales per calendar month (CNY), indexed by monthly Period, from the first month with
    sales; gaps filled with 0."""
    p = panel.assign(_m=pd.to_datetime(panel["month"]).dt.to_period("M"))
    s = p.groupby("_m")[sales_col].sum().astype("float64")
    s = s[s.index >= s[s > 0].index.min()] if (s > 0).any() else s.iloc[:0]  # from the first month with sales
    if s.empty:
        return s
    full = pd.period_range(s.index.min(), s.index.max(), freq="M")
    s = s.reindex(full, fill_value=0.0)
    s.index.name = "month"
    return s


def stl_decompose(series: pd.Series, *, period: int = 12) -> pd.DataFrame:
    """STL decomposition (robust, statsmodels) of a monthly series: month, observed, trend, seasonal,
    resid (CNY). Needs at least two full periods."""
    from statsmodels.tsa.seasonal import STL

    if len(series) < 2 * period:
        raise WorkbenchError(f"Seasonal decomposition needs at least {2 * period} months of sales, "
                             f"the store has {len(series)}.")
    res = STL(series.to_numpy(dtype="float64"), period=period, robust=True).fit()
    return pd.DataFrame({
        "month": series.index.to_timestamp(), "observed": res.observed, "trend": res.trend,
        "seasonal": res.seasonal, "resid": res.resid,
    })


def _sarimax_forecast(y: pd.Series, horizon: int, alpha: float) -> pd.DataFrame:
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    fidx = pd.period_range(y.index[-1] + 1, periods=horizon, freq="M")
    ly = np.log(np.maximum(y.to_numpy(dtype="float64"), 1.0))
    seasonal = len(y) >= 27
    kwargs = {"order": (0, 1, 1), "seasonal_order": (0, 1, 1, 12) if seasonal else (0, 0, 0, 0)}
    exog, fexog = _lny_dummy(y.index), _lny_dummy(fidx)
    if exog.sum() == 0 or exog.sum() == len(exog):
        exog = fexog = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # start-parameter notices on short series
        fit = SARIMAX(ly, exog=exog, **kwargs).fit(disp=False)
        fc = fit.get_forecast(horizon, exog=fexog)
        mean = np.asarray(fc.predicted_mean)
        ci = np.asarray(fc.conf_int(alpha=alpha))
    return pd.DataFrame({
        "month": fidx.to_timestamp(), "forecast": np.exp(mean), "lower": np.exp(ci[:, 0]),
        "upper": np.exp(ci[:, 1]),
    })


MIN_FORECAST_MONTHS = 6  # fewer months of sales give no forecast
MIN_BACKTEST_MONTHS = 12  # months of training data before the first backtest origin


@_single_threaded
def forecast_sales(series: pd.Series, *, horizon: int = 3, alpha: float = 0.05) -> pd.DataFrame:
    """Forecast the next `horizon` months of total sales with a (1 − alpha) prediction interval.

    Model: seasonal ARIMA (0,1,1)(0,1,1)12 on log sales (the "airline" model, statsmodels SARIMAX)
    with a Spring Festival month regressor; without two years of history, a non-seasonal (0,1,1).
    Returns month, forecast, lower, upper (CNY).
    """
    if len(series) < MIN_FORECAST_MONTHS:
        raise NotEnoughData(f"A forecast needs at least {MIN_FORECAST_MONTHS} months of sales and the store has "
                            f"{len(series)}, so the outlook shows the history only.")
    return _sarimax_forecast(series, horizon, alpha)


def _seasonal_naive(train: pd.Series, horizon: int) -> np.ndarray:
    v = train.to_numpy(dtype="float64")
    if len(v) >= 12:
        return np.array([v[len(v) - 12 + (h % 12)] for h in range(horizon)])
    return np.repeat(v[-1], horizon)


@_single_threaded
def backtest_forecast(series: pd.Series, *, horizon: int = 3, origins: int = 4,
                      alpha: float = 0.05) -> pd.DataFrame:
    """Rolling-origin backtest of :func:`forecast_sales` against the seasonal-naive forecast.

    The last `origins` non-overlapping `horizon`-month blocks are forecast from the data before them.
    Returns one row per method ('model', 'seasonal_naive') with mape (fraction), rmse (CNY),
    n_forecasts and, for the model, the share of actuals inside the prediction interval.
    ``.attrs['detail']`` holds every forecast (origin, month, method, forecast, actual).
    """
    n = len(series)
    detail = []
    for k in range(origins, 0, -1):
        cut = n - k * horizon
        if cut < MIN_BACKTEST_MONTHS:
            continue
        train, test = series.iloc[:cut], series.iloc[cut:cut + horizon]
        fc = forecast_sales(train, horizon=len(test), alpha=alpha)
        sn = _seasonal_naive(train, len(test))
        for j, (month, actual) in enumerate(test.items()):
            origin = str(train.index[-1])
            detail.append({"origin": origin, "month": month.to_timestamp(), "method": "model",
                           "forecast": fc["forecast"].iloc[j], "actual": actual,
                           "inside": fc["lower"].iloc[j] <= actual <= fc["upper"].iloc[j]})
            detail.append({"origin": origin, "month": month.to_timestamp(), "method": "seasonal_naive",
                           "forecast": sn[j], "actual": actual, "inside": np.nan})
    d = pd.DataFrame(detail, columns=["origin", "month", "method", "forecast", "actual", "inside"])
    rows = []
    for method in ("model", "seasonal_naive"):
        g = d[d["method"] == method]
        err = g["forecast"] - g["actual"]
        ok = g["actual"] > 0
        rows.append({
            "method": method,
            "mape": float((err[ok].abs() / g.loc[ok, "actual"]).mean()) if ok.any() else float("nan"),
            "rmse": float(np.sqrt((err ** 2).mean())) if len(g) else float("nan"),
            "n_forecasts": int(len(g)),
            "interval_coverage": float(g["inside"].astype(float).mean()) if method == "model" and len(g)
            else float("nan"),
        })
    out = pd.DataFrame(rows)
    out.attrs["detail"] = d
    return out
