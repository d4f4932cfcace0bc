"""The field's measures for forecasts and anomaly detection, and two baseline detectors.

Forecast accuracy follows the M4 competition (Makridakis et al., 2020; the M4 benchmarks code,
github.com/Mcompetitions/M4-methods, "Benchmarks and Evaluation.R"): sMAPE in percent, MASE
scaled by the in-sample seasonal naive error, OWA against a reference method, and the mean
scaled interval score (MSIS) of a 95% interval. Anomaly detection is scored point by point
(precision, recall, F1, PR-AUC) against seeded injected anomalies, plus a detection delay.

Everything here needs NumPy only, so the on-device side can score itself; `pr_auc` and
`best_threshold` use scikit-learn, and the two baseline detectors pandas / statsmodels, each
imported inside the function that needs it (training side).
"""

from __future__ import annotations

import numpy as np

# 1.4826 * MAD estimates a normal distribution's standard deviation.
MAD_TO_STD = 1.4826
SPIKE, LEVEL_SHIFT, SEASONAL_SHAPE, VARIANCE_BURST = (
    "spike",
    "level_shift",
    "seasonal_shape",
    "variance_burst",
)
# A centred median this wide ignores a one-point spike or a short burst and follows the level.
ROLLING_MEDIAN_WINDOW = 7


def _floats(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _same_length(**arrays) -> list[np.ndarray]:
    converted = [_floats(value, name) for name, value in arrays.items()]
    lengths = {len(array) for array in converted}
    if len(lengths) != 1:
        shapes = ", ".join(f"{name} {len(a)}" for name, a in zip(arrays, converted, strict=True))
        raise ValueError(f"lengths differ: {shapes}")
    return converted


def in_sample_scale(history, period: int) -> float:
    """M4's MASE denominator: the mean absolute seasonal difference over the history.

    Falls back to the lag-1 difference when the seasonal one is 0 (or the history is not longer
    than one period), and returns nan when that is 0 too (a constant history).

    Args:
        history: the observations before the forecast origin, oldest first.
        period: the seasonal period m (1 = non-seasonal: the naive forecast's error).

    Returns:
        The scale, or nan.

    Example:
        >>> in_sample_scale([1.0, 2.0, 4.0, 7.0], period=1)
        2.0
    """
    history = _floats(history, "history")
    for lag in (max(int(period), 1), 1):
        if len(history) > lag:
            scale = float(np.mean(np.abs(history[lag:] - history[:-lag])))
            if scale > 0:
                return scale
    return float("nan")


def mase(actual, forecast, history, period: int) -> float:
    """Mean absolute scaled error (M4): mean |y - f| over the in-sample seasonal naive error.

    Args:
        actual: the h observations after the origin.
        forecast: the h point forecasts.
        history: the observations up to the origin (the scale is computed on them).
        period: the seasonal period m (1 for non-seasonal series).

    Returns:
        MASE; nan for a constant history (see `in_sample_scale`).

    Example:
        >>> mase([3.0, 5.0], [4.0, 4.0], [1.0, 2.0, 3.0], period=1)
        1.0
    """
    actual, forecast = _same_length(actual=actual, forecast=forecast)
    return float(np.mean(np.abs(actual - forecast))) / in_sample_scale(history, period)


def smape(actual, forecast) -> float:
    """Symmetric MAPE of M4, in percent: 200/h * sum |y - f| / (|y| + |f|).

    A step where y and f are both 0 counts as a perfect 0 (M4 had no zeros).

    Example:
        >>> round(smape([100.0], [50.0]), 4)
        66.6667
    """
    actual, forecast = _same_length(actual=actual, forecast=forecast)
    denominator = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(
        np.abs(actual - forecast),
        denominator,
        out=np.zeros_like(denominator),
        where=denominator > 0,
    )
    return float(200.0 * np.mean(ratio))


def msis(actual, lower, upper, history, period: int, alpha: float = 0.05) -> float:
    """Mean scaled interval score (M4) of a (1 - alpha) interval.

    Per step: (U - L) + 2/alpha (L - y) if y < L, + 2/alpha (y - U) if y > U; the mean over the
    horizon is divided by the MASE scale of the history.

    Args:
        actual: the h observations.
        lower, upper: the interval's bounds, h each.
        history: the observations up to the origin.
        period: the seasonal period m.
        alpha: 0.05 for the 95% interval M4 asked for.

    Returns:
        MSIS; nan for a constant history.

    Example:
        >>> msis([1.0, 5.0], [0.0, 0.0], [2.0, 4.0], [0.0, 1.0, 2.0], period=1, alpha=0.5)
        5.0
    """
    actual, lower, upper = _same_length(actual=actual, lower=lower, upper=upper)
    below = np.clip(lower - actual, 0.0, None)
    above = np.clip(actual - upper, 0.0, None)
    score = (upper - lower) + (2.0 / alpha) * (below + above)
    return float(np.mean(score)) / in_sample_scale(history, period)


def coverage(actual, lower, upper) -> float:
    """Share of observations inside [lower, upper] (both ends included).

    Example:
        >>> coverage([1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 3.5, 0.0], [1.0, 3.0, 4.0, 3.0])
        0.5
    """
    actual, lower, upper = _same_length(actual=actual, lower=lower, upper=upper)
    return float(np.mean((actual >= lower) & (actual <= upper)))


def pinball(actual, quantile_forecasts, quantiles) -> float:
    """Mean pinball (quantile) loss over the horizon and the quantiles.

    Args:
        actual: the h observations.
        quantile_forecasts: [h, q] forecasts, column j for `quantiles[j]`.
        quantiles: the q levels in (0, 1).

    Returns:
        mean over steps and levels of max(tau (y - f), (tau - 1) (y - f)).

    Example:
        >>> round(pinball([10.0], [[8.0, 12.0]], [0.1, 0.9]), 6)
        0.2
    """
    actual = _floats(actual, "actual")
    forecasts = np.asarray(quantile_forecasts, dtype=np.float64)
    levels = np.asarray(quantiles, dtype=np.float64)
    if forecasts.shape != (len(actual), len(levels)):
        raise ValueError(
            f"quantile_forecasts must be [h, q] = [{len(actual)}, {len(levels)}], "
            f"got {forecasts.shape}"
        )
    error = actual[:, None] - forecasts  # [h, q]
    return float(np.mean(np.maximum(levels * error, (levels - 1.0) * error)))


def owa(
    smape_method: float, mase_method: float, smape_reference: float, mase_reference: float
) -> float:
    """M4's overall weighted average: the mean of the two ratios to a reference method.

    M4 used Naive2 as the reference; this app uses seasonal naive. Below 1 beats the reference.

    Example:
        >>> owa(10.0, 1.0, 20.0, 1.0)
        0.75
    """
    return 0.5 * (smape_method / smape_reference + mase_method / mase_reference)


# --- anomalies ----------------------------------------------------------------------------


def robust_step_scale(values) -> float:
    """1.4826 * MAD of the first differences: the typical step, blind to the anomalies' own.

    Falls back to the standard deviation of the differences, then to 1, when that is 0.
    """
    steps = np.diff(_floats(values, "values"))
    scale = MAD_TO_STD * float(np.median(np.abs(steps - np.median(steps)))) if len(steps) else 0
    if scale > 0:
        return scale
    fallback = float(np.std(steps)) if len(steps) else 0.0
    return fallback if fallback > 0 else 1.0


def _event_length(kind: str, period: int, rng: np.random.Generator) -> int:
    if kind == SPIKE:
        return 1
    if kind == SEASONAL_SHAPE:
        return period
    if kind == LEVEL_SHIFT:
        # 5-10 steps whatever the period: a level shift as long as the test region would
        # make flagging everything the best threshold (half the points anomalous).
        return int(rng.integers(5, 11))
    return int(rng.integers(5, 11))  # variance burst


def _apply(kind, segment, scale, rng) -> np.ndarray:
    sign = rng.choice([-1.0, 1.0])
    if kind == SPIKE:
        return segment + sign * rng.uniform(5.0, 8.0) * scale
    if kind == LEVEL_SHIFT:
        return segment + sign * rng.uniform(3.0, 5.0) * scale
    if kind == VARIANCE_BURST:
        return segment + rng.normal(0.0, rng.uniform(3.0, 5.0) * scale, len(segment))
    # Seasonal shape: the period's deviations from its own linear trend reversed in time, or
    # flattened to its mean. If the drawn change hardly moves the segment (a pattern symmetric
    # about the middle reverses onto itself), the other one is used.
    steps = np.arange(len(segment), dtype=np.float64)
    trend = np.polyval(np.polyfit(steps, segment, 1), steps)
    reversed_ = trend + (segment - trend)[::-1]
    flattened = np.full_like(segment, segment.mean())
    first, second = (reversed_, flattened) if rng.random() < 0.5 else (flattened, reversed_)
    if np.mean(np.abs(first - segment)) < scale:
        return second
    return first


def inject_anomalies(
    values, period: int, rng: np.random.Generator, start: int, count: int, first_kind: int = 0
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, int, int]]]:
    """Plant `count` seeded anomalies of three kinds at or after `start`, none overlapping.

    Kinds (sizes in robust standard deviations of the first differences, `robust_step_scale`,
    each up or down at random):
    - "spike": one point moved by 5-8;
    - "level_shift": a segment of 5-10 steps moved by 3-5;
    - "seasonal_shape": one period whose seasonal pattern is reversed in time or flattened to
      its mean; for a period-1 series a "variance_burst" instead: 5-10 steps with added
      normal noise of 3-5.
    The kinds take turns (so any `count` >= 3 has all three), in a random order.

    Args:
        values: the clean series.
        period: its seasonal period.
        rng: a seeded generator: the same seed gives the same anomalies.
        start: the first index an anomaly may touch (e.g. where the test windows begin).
        count: how many events.
        first_kind: where the turn of kinds starts (0 spike, 1 level shift, 2 the third):
            one event per series, with the kind rotating over the series, gives a panel
            every kind at a realistic share of anomalous points.

    Returns:
        (the series with the anomalies, labels: 1 on every anomalous point, else 0 (int8),
        events: (kind, start, end) sorted by start, end exclusive).

    Raises:
        ValueError: when `count` events do not fit after `start`.

    Example:
        >>> series = np.sin(np.arange(200) * 2 * np.pi / 12)
        >>> noisy, labels, events = inject_anomalies(series, 12, np.random.default_rng(0), 100, 3)
        >>> sorted(kind for kind, _, _ in events)
        ['level_shift', 'seasonal_shape', 'spike']
    """
    clean = _floats(values, "values")
    period = max(int(period), 1)
    third = SEASONAL_SHAPE if period > 1 else VARIANCE_BURST
    kinds = [(SPIKE, LEVEL_SHIFT, third)[(i + first_kind) % 3] for i in range(count)]
    kinds = [kinds[i] for i in rng.permutation(count)]
    lengths = [_event_length(kind, period, rng) for kind in kinds]
    taken = np.zeros(len(clean) + 1, dtype=bool)  # one spare so "end" may equal len
    events = []
    # Longest first: they are the hardest to fit.
    for index in sorted(range(count), key=lambda i: -lengths[i]):
        length = lengths[index]
        free = [
            s
            for s in range(start, len(clean) - length + 1)
            # a gap of one step on each side keeps two events from touching
            if not taken[max(s - 1, 0) : s + length + 1].any()
        ]
        if not free:
            raise ValueError(
                f"inject_anomalies: {count} events (lengths {lengths}) do not fit in "
                f"values[{start}:{len(clean)}]"
            )
        begin = int(rng.choice(free))
        taken[begin : begin + length] = True
        events.append((kinds[index], begin, begin + length))
    events.sort(key=lambda event: event[1])
    scale = robust_step_scale(clean)
    changed = clean.copy()
    labels = np.zeros(len(clean), dtype=np.int8)
    for kind, begin, end in events:
        changed[begin:end] = _apply(kind, clean[begin:end], scale, rng)
        labels[begin:end] = 1
    return changed, labels, events


def anomaly_scores_f1(labels, flags) -> dict[str, float]:
    """Point-wise precision, recall and F1 of the flags against the labels.

    Precision is 0 when nothing is flagged, recall 0 when nothing is labelled.

    Example:
        >>> anomaly_scores_f1([0, 1, 1, 0], [0, 1, 0, 1])
        {'precision': 0.5, 'recall': 0.5, 'f1': 0.5}
    """
    truth = np.asarray(labels).astype(bool)
    flagged = np.asarray(flags).astype(bool)
    hits = float(np.sum(truth & flagged))
    precision = hits / flagged.sum() if flagged.any() else 0.0
    recall = hits / truth.sum() if truth.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


def pr_auc(labels, scores) -> float:
    """Area under the precision-recall curve: scikit-learn's average precision."""
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(np.asarray(labels).astype(int), _floats(scores, "scores")))


def best_threshold(labels, scores) -> float:
    """The score threshold with the best F1 (flag = score >= threshold): choose it on validation.

    Raises:
        ValueError: when no point is labelled anomalous.
    """
    from sklearn.metrics import precision_recall_curve

    truth = np.asarray(labels).astype(int)
    if not truth.any():
        raise ValueError("best_threshold: the labels have no anomalous point")
    precision, recall, thresholds = precision_recall_curve(truth, _floats(scores, "scores"))
    precision, recall = precision[:-1], recall[:-1]  # the last pair has no threshold
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    return float(thresholds[int(np.argmax(f1))])


def detection_delay(events, flags) -> list[int | None]:
    """Steps from each event's start to its first flag inside the event; None if missed.

    Example:
        >>> detection_delay([("spike", 1, 2), ("level_shift", 4, 8)], [0, 0, 0, 0, 0, 0, 1, 1])
        [None, 2]
    """
    flagged = np.asarray(flags).astype(bool)
    delays: list[int | None] = []
    for _, begin, end in events:
        inside = np.flatnonzero(flagged[begin:end])
        delays.append(int(inside[0]) if len(inside) else None)
    return delays


def _robust_z(residual: np.ndarray) -> np.ndarray:
    centre = np.median(residual)
    scale = MAD_TO_STD * float(np.median(np.abs(residual - centre)))
    if scale <= 0:
        scale = float(np.std(residual)) or 1.0
    return np.abs(residual - centre) / scale


def rolling_zscore(values, window: int) -> np.ndarray:
    """Causal z-score: |y_t - mean| / std of the `window` points before t (the baseline).

    The first points use what precedes them (at least 2 points; before that the score is 0).
    A zero standard deviation is floored so a change after a flat stretch scores high, finitely.

    Example:
        >>> float(rolling_zscore([0.0, 1.0, 0.0, 1.0, 9.0], window=4)[-1])
        17.0
    """
    import pandas as pd

    series = pd.Series(_floats(values, "values"))
    before = series.rolling(window, min_periods=2)
    mean = before.mean().shift(1).to_numpy()
    std = before.std(ddof=0).shift(1).to_numpy()
    floor = 1e-9 * max(float(np.max(np.abs(series))), 1.0)
    scores = np.abs(series.to_numpy() - mean) / np.maximum(std, floor)
    return np.nan_to_num(scores, nan=0.0)


def causal_seasonal_residual(values, period: int, start: int = 0) -> np.ndarray:
    """The decomposition baseline made causal, as a detector on a stream must be: each
    observation from `start` on is scored by a robust STL of the `causal_window` points
    ending at it (nothing after it), as the robust z of its residual against the window's
    earlier residuals. Points before `start` score 0.

    For period 1 (or a window under two periods) the residual is from a trailing rolling
    median of ``ROLLING_MEDIAN_WINDOW`` points instead.
    """
    series = _floats(values, "values")
    window = causal_window(period)
    scores = np.zeros(len(series))
    for end in range(max(start, 3), len(series)):
        piece = series[max(0, end + 1 - window) : end + 1]
        if period > 1 and len(piece) >= 2 * period + 1:
            from statsmodels.tsa.seasonal import STL

            residual = np.asarray(STL(piece, period=int(period), robust=True).fit().resid)
        else:
            import pandas as pd

            median = pd.Series(piece).rolling(ROLLING_MEDIAN_WINDOW, min_periods=1).median()
            residual = piece - median.to_numpy()
        past = residual[:-1]
        centre = np.median(past)
        scale = MAD_TO_STD * float(np.median(np.abs(past - centre)))
        if scale <= 0:
            scale = float(np.std(past)) or 1.0
        scores[end] = abs(residual[-1] - centre) / scale
    return scores


def causal_window(period: int) -> int:
    """Points the causal decomposition reads: five periods, at least 30."""
    return max(30, 5 * int(period))


def seasonal_residual(values, period: int) -> np.ndarray:
    """Robust z-score of the STL residual (the decomposition baseline).

    Score = |r_t - median(r)| / (1.4826 MAD(r)), r from statsmodels' robust STL with the
    series' period; for period 1 (or a history under two periods) r is the residual from a
    centred rolling median of `ROLLING_MEDIAN_WINDOW` points. Not causal: it sees the whole
    series, like a decomposition must.
    """
    series = _floats(values, "values")
    if period > 1 and len(series) >= 2 * period + 1:
        from statsmodels.tsa.seasonal import STL

        residual = STL(series, period=int(period), robust=True).fit().resid
    else:
        import pandas as pd

        median = pd.Series(series).rolling(ROLLING_MEDIAN_WINDOW, center=True, min_periods=1)
        residual = series - median.median().to_numpy()
    return _robust_z(np.asarray(residual, dtype=np.float64))
