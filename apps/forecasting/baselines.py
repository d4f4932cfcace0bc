"""The statistical baselines of the backtest, from Nixtla's statsforecast (training side).

Naive, seasonal naive, AutoETS and AutoARIMA come straight from statsforecast, with their 80%
and 95% intervals. "comb" is the M4 competition's Comb benchmark, the reference the M4 winner
(ES-RNN) was measured against: the mean of simple, Holt and damped Holt exponential smoothing
fitted to the seasonally adjusted series, then reseasonalised, exactly as the M4 statistical
benchmarks do it (github.com/Mcompetitions/M4-methods, "Benchmarks and Evaluation.R"):

- seasonality test: the lag-m autocorrelation against 1.645 / sqrt(n) *
  sqrt(1 + 2 sum_{k<m} acf_k^2) (90%, one-sided), only when n >= 3m and m > 1;
- classical multiplicative decomposition (R's `decompose`, here statsmodels'
  `seasonal_decompose`: a 2xm centred moving average, seasonal indices averaged per position
  and normalised to mean 1), the last period's indices repeated over the horizon.

Two departures, both said here: a series with any value <= 0 is adjusted additively (a
multiplicative index is meaningless there; M4 had only positive data), and the lag-m
autocorrelation is always computed (R's `acf` stops at 10 log10(n) lags, which would make a
weekly period of 52 never seasonal under 158,000 points; M4 itself gave weekly data period 1).
SES, Holt and damped Holt are statsforecast's SimpleExponentialSmoothingOptimized and AutoETS
"AAN" undamped and damped; M4 used R forecast's ses/holt (ETS fits minimising the MSE).
"""

from __future__ import annotations

import time

import numpy as np

from shared.errors import UserError

METHODS = ("naive", "seasonal_naive", "auto_ets", "auto_arima", "comb")
LEVELS = (80, 95)
TIMING = "_seconds"  # the result's key for seconds per method
SEASONALITY_CRITICAL_VALUE = 1.645  # M4: a one-sided 90% test


def seasonality_test(history: np.ndarray, period: int) -> bool:
    """M4's test: is the lag-`period` autocorrelation significant (90%)?

    Args:
        history: the series, oldest first.
        period: the seasonal period m.

    Returns:
        False for m <= 1, fewer than 3m points or a constant series; else
        |acf_m| > 1.645 / sqrt(n) * sqrt(1 + 2 * sum_{k=1}^{m-1} acf_k^2).

    Example:
        >>> seasonality_test(np.tile([1.0, 3.0, 2.0, 5.0], 10), 4)
        True
    """
    values = np.asarray(history, dtype=np.float64)
    if period <= 1 or len(values) < 3 * period:
        return False
    centred = values - values.mean()
    total = float(np.sum(centred**2))
    if total == 0:
        return False
    acf = np.array([np.sum(centred[k:] * centred[:-k]) / total for k in range(1, period + 1)])
    limit = SEASONALITY_CRITICAL_VALUE / np.sqrt(len(values))
    limit *= np.sqrt(1.0 + 2.0 * np.sum(acf[:-1] ** 2))
    return bool(abs(acf[-1]) > limit)


def seasonal_adjustment(
    history: np.ndarray, period: int, horizon: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """The M4 benchmarks' seasonal adjustment of one series.

    Args:
        history: the series, oldest first.
        period: the seasonal period m.
        horizon: how many future seasonal indices to return.

    Returns:
        (the adjusted history, the indices for the `horizon` future steps, the model:
        "none", "multiplicative" (adjusted = y / index, forecast * index) or "additive"
        (adjusted = y - index, forecast + index; used when any value is <= 0)).

    Example:
        >>> adjusted, future, model = seasonal_adjustment(np.tile([1.0, 3.0], 20), 2, 3)
        >>> model, adjusted[:2].round(6).tolist(), future.round(6).tolist()
        ('multiplicative', [2.0, 2.0], [0.5, 1.5, 0.5])
    """
    values = np.asarray(history, dtype=np.float64)
    if not seasonality_test(values, period):
        return values, np.ones(horizon), "none"
    from statsmodels.tsa.seasonal import seasonal_decompose

    model = "multiplicative" if np.all(values > 0) else "additive"
    seasonal = np.asarray(seasonal_decompose(values, model=model, period=period).seasonal)
    # The index of step t is seasonal[t % m]; the future continues from len(values).
    future = seasonal[(len(values) - period) + np.arange(horizon) % period]
    if model == "multiplicative":
        return values / seasonal, future, model
    return values - seasonal, future, model


def _long_frame(histories: dict[str, np.ndarray]):
    import pandas as pd

    frames = [
        pd.DataFrame({"unique_id": name, "ds": np.arange(len(values)), "y": values})
        for name, values in histories.items()
    ]
    return pd.concat(frames, ignore_index=True)


def _run(models, frame, horizon: int, levels) -> dict[str, dict[str, np.ndarray]]:
    """One StatsForecast call over every series: unique id -> column -> [horizon] values."""
    from statsforecast import StatsForecast

    kwargs = {"level": list(levels)} if levels else {}
    forecast = StatsForecast(models=models, freq=1, n_jobs=1).forecast(
        df=frame, h=horizon, **kwargs
    )
    return {
        str(name): {
            column: group[column].to_numpy(np.float64)
            for column in group.columns
            if column not in ("unique_id", "ds")
        }
        for name, group in forecast.sort_values(["unique_id", "ds"]).groupby("unique_id")
    }


def _with_intervals(columns: dict[str, np.ndarray], alias: str) -> dict[str, np.ndarray]:
    result = {"mean": columns[alias]}
    for level in LEVELS:
        result[f"lo{level}"] = columns[f"{alias}-lo-{level}"]
        result[f"hi{level}"] = columns[f"{alias}-hi-{level}"]
    return result


def _comb(histories: dict[str, np.ndarray], horizon: int, period: int) -> dict:
    from statsforecast.models import AutoETS, SimpleExponentialSmoothingOptimized

    adjusted, future, model = {}, {}, {}
    for name, values in histories.items():
        adjusted[name], future[name], model[name] = seasonal_adjustment(values, period, horizon)
    smoothers = [
        SimpleExponentialSmoothingOptimized(alias="ses"),
        AutoETS(model="AAN", damped=False, alias="holt"),
        AutoETS(model="AAN", damped=True, alias="damped"),
    ]
    fitted = _run(smoothers, _long_frame(adjusted), horizon, levels=())
    result = {}
    for name in histories:
        mean = (fitted[name]["ses"] + fitted[name]["holt"] + fitted[name]["damped"]) / 3.0
        if model[name] == "multiplicative":
            mean = mean * future[name]
        elif model[name] == "additive":
            mean = mean + future[name]
        result[name] = {"mean": mean}
    return result


def _check(histories: dict[str, np.ndarray], period: int, max_history: int) -> dict:
    checked = {}
    for name, values in histories.items():
        values = np.asarray(values, dtype=np.float64)[-max_history:]
        if values.ndim != 1 or not np.all(np.isfinite(values)):
            raise UserError(f"history {name!r}: the baselines need finite values in one column")
        if len(values) <= max(period, 2):
            raise UserError(
                f"history {name!r}: {len(values)} points; the baselines need more than "
                f"{max(period, 2)} (one seasonal period of {period})"
            )
        checked[str(name)] = values
    return checked


# Above this period, AutoARIMA's seasonal search takes minutes a series (200 s for 600 weekly
# points): it is fitted without a seasonal part on the seasonally adjusted history (as Comb
# is) and the forecast reseasonalised; its intervals are reseasonalised the same way.
ARIMA_MAX_SEASONAL_PERIOD = 24


def _arima_adjusted(histories: dict[str, np.ndarray], horizon: int, period: int) -> dict:
    from statsforecast.models import AutoARIMA

    adjusted, future, model = {}, {}, {}
    for name, values in histories.items():
        adjusted[name], future[name], model[name] = seasonal_adjustment(values, period, horizon)
    fitted = _run([AutoARIMA(alias="auto_arima")], _long_frame(adjusted), horizon, LEVELS)
    result = {}
    for name in histories:
        columns = _with_intervals(fitted[name], "auto_arima")
        for key, values in columns.items():
            if model[name] == "multiplicative":
                columns[key] = values * future[name]
            elif model[name] == "additive":
                columns[key] = values + future[name]
        result[name] = columns
    return result


def forecast_baselines(
    histories: dict[str, np.ndarray],
    horizon: int,
    period: int,
    max_history: int = 1000,
    methods: tuple[str, ...] = METHODS,
) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """Forecast every history with every baseline, one StatsForecast call per method.

    Only the last `max_history` points of each history are used: M4's hourly series are
    about 700-1000 points, and AutoARIMA's time grows with the length. AutoARIMA dominates
    the time with a long period: one synthetic series on one busy core took 25 s (1000 hourly
    points, m = 24) and 200 s (600 weekly points, m = 52); the others take under a second.

    Args:
        histories: series id -> values up to the forecast origin, oldest first.
        horizon: steps to forecast.
        period: the seasonal period (season_length; 1 = non-seasonal).
        max_history: the most recent points kept per history.
        methods: the baselines to run (default: all of ``METHODS``). With a period above
            ``ARIMA_MAX_SEASONAL_PERIOD``, auto_arima runs on the seasonally adjusted history.

    Returns:
        method ("naive", "seasonal_naive", "auto_ets", "auto_arima", "comb") -> series id ->
        {"mean": [horizon], "lo80", "hi80", "lo95", "hi95"} (comb has "mean" only); plus
        `TIMING` ("_seconds") -> method -> wall seconds (numba compiles on a process's first
        call, which the first method's seconds include).

    Raises:
        UserError: a history with non-finite values or not longer than one period.

    Example:
        >>> out = forecast_baselines({"a": np.arange(1.0, 41.0)}, horizon=3, period=4)
        >>> out["naive"]["a"]["mean"].tolist()
        [40.0, 40.0, 40.0]
    """
    from statsforecast.models import AutoARIMA, AutoETS, Naive, SeasonalNaive

    checked = _check(histories, period, max_history)
    frame = _long_frame(checked)
    library = {
        "naive": Naive(alias="naive"),
        "seasonal_naive": SeasonalNaive(season_length=period, alias="seasonal_naive"),
        "auto_ets": AutoETS(season_length=period, alias="auto_ets"),
        "auto_arima": AutoARIMA(season_length=period, alias="auto_arima"),
    }
    result: dict = {TIMING: {}}
    for method, model in library.items():
        if method not in methods:
            continue
        began = time.perf_counter()
        if method == "auto_arima" and period > ARIMA_MAX_SEASONAL_PERIOD:
            result[method] = _arima_adjusted(checked, horizon, period)
        else:
            columns = _run([model], frame, horizon, LEVELS)
            result[method] = {name: _with_intervals(columns[name], method) for name in checked}
        result[TIMING][method] = time.perf_counter() - began
    if "comb" in methods:
        began = time.perf_counter()
        result["comb"] = _comb(checked, horizon, period)
        result[TIMING]["comb"] = time.perf_counter() - began
    return result
