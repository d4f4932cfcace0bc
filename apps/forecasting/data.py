"""The panel split by time, training windows, and the anomaly sets.

Every series is split at its own end (the rolling-origin protocol of M4-style backtests):
the last ``test_windows`` horizons are the test windows, the ``validation_windows`` horizons
before them validation, and training windows only ever see and predict observations before
validation starts. Every choice (the epoch kept, the anomaly threshold, the baselines'
thresholds) is made on validation windows; the test windows are read once per run.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from apps.forecasting.config import ForecastingConfig
from apps.forecasting.runtime import (
    FREQUENCY_NAMES,
    MAX_HORIZON,
    make_window,
    window_stats,
)
from apps.forecasting.series import Series, calendar_phase, future_timestamps
from shared.data.splits import Splits
from shared.errors import UserError

MIN_CONTEXT = 16
TARGET_CLIP = 30.0  # normalised training and validation targets are clipped to +-30 scales


@dataclasses.dataclass(frozen=True)
class Cut:
    """Where one series is split: training uses ``[:validation_start]``."""

    validation_start: int
    test_start: int
    horizon: int
    validation_windows: int
    test_windows: int


def cut(series: Series, config: ForecastingConfig) -> Cut:
    """The series' test and validation windows: `test_windows` and `validation_windows`
    horizons at its end, fewer where the series is short (training keeps at least two
    periods, 16 steps and a horizon); a UserError if not even one of each fits."""
    h = series.horizon
    minimum = max(MIN_CONTEXT, 2 * series.period) + h
    available = (len(series.values) - minimum) // h
    if available < 2:
        raise UserError(
            f"{series.name}: {len(series.values)} observations are too few for a validation "
            f"and a test window of {h} steps after {minimum} for training"
        )
    tests = min(config.test_windows, available - 1)
    validations = min(config.validation_windows, available - tests)
    test_start = len(series.values) - tests * h
    return Cut(test_start - validations * h, test_start, h, validations, tests)


def extended_phase(series: Series) -> np.ndarray:
    """Calendar phases of the series' steps and of ``MAX_HORIZON`` steps after its end."""
    after = future_timestamps(series.timestamps[-1], series.frequency, MAX_HORIZON)
    return np.concatenate(
        [
            calendar_phase(series.timestamps, series.frequency),
            calendar_phase(after, series.frequency),
        ]
    ).astype(np.float32)


def window_row(
    series: Series,
    phase: np.ndarray,
    origin: int,
    context: int,
    length: int | None = None,
    stats_end: int | None = None,
    target_end: int | None = None,
) -> dict:
    """One window at `origin`: the `length` observations before it (default: up to
    `context`), location and scale of the window (or of the `context` observations before
    `stats_end`, as a stream fixes them), and the normalised targets up to `target_end`."""
    values = series.values
    start = origin - min(context, origin) if length is None else origin - length
    history, count, phases = make_window(
        values[start:origin], phase[start:origin], phase[origin:], context
    )
    if stats_end is None:
        loc, scale = window_stats(history[None], np.array([count]))
    else:
        before = values[max(0, stats_end - context) : stats_end].astype(np.float32)
        padded = np.zeros((1, context), np.float32)
        padded[0, context - len(before) :] = before
        loc, scale = window_stats(padded, np.array([len(before)]))
    end = min(origin + series.horizon, len(values) if target_end is None else target_end)
    target = np.zeros(MAX_HORIZON, np.float32)
    weight = np.zeros(MAX_HORIZON, np.float32)
    # Clipped: a flat window (sunspots at a solar minimum are all zeros) has a tiny scale, and
    # one such target in millions of its own scale would outweigh every other window's loss.
    target[: end - origin] = np.clip(
        (values[origin:end] - loc[0]) / scale[0], -TARGET_CLIP, TARGET_CLIP
    )
    weight[: end - origin] = 1.0
    return {
        "history": history,
        "length": count,
        "phase": phases,
        "frequency": FREQUENCY_NAMES.index(series.frequency),
        "loc": loc[0],
        "scale": scale[0],
        "target": target,
        "weight": weight,
        "series": series.name,
        "origin": origin,
    }


def seasonal_naive_weight(series: Series, origin: int, scale: float, cap: float) -> float:
    """How much one window's loss counts when training weighs errors as MASE does: its
    scale (the unit of the normalised targets) over the in-sample seasonal-naive error of
    the series before `origin` (MASE's denominator; a lag of one while the history is no
    longer than a period), clipped to ``[1 / cap, cap]``. A smooth series (hourly
    temperatures: an error of a fifth of the window's spread is several times the
    seasonal-naive error) then weighs as much as M4's measures say it does."""
    before = np.asarray(series.values[:origin], np.float64)
    lag = series.period if len(before) > series.period + 1 else 1
    if len(before) <= lag:
        return 1.0
    denominator = float(np.mean(np.abs(before[lag:] - before[:-lag])))
    if denominator <= 0.0:
        return cap
    return float(np.clip(scale / denominator, 1.0 / cap, cap))


def weigh_as_mase(rows: list[dict], panel: list[Series], cap: float) -> float:
    """Multiply each row's step weights by its ``seasonal_naive_weight``; returns the mean
    factor (training divides every split by the training rows' mean, so the loss keeps its
    magnitude and the gradient clipping its meaning)."""
    by_name = {series.name: series for series in panel}
    factors = [
        seasonal_naive_weight(by_name[row["series"]], row["origin"], float(row["scale"]), cap)
        for row in rows
    ]
    for row, factor in zip(rows, factors, strict=True):
        row["weight"] = row["weight"] * np.float32(factor)
    return float(np.mean(factors)) if factors else 1.0


def with_trend(series: Series, origin: int, context: int, size: float, rng) -> Series:
    """`series` with a straight line added through `origin` (0 there), rising by a random
    ``±size`` standard deviations of the `context` values before `origin` over `context`
    steps: history and targets alike, so the window teaches that a trend goes on."""
    local = float(np.std(series.values[max(0, origin - context) : origin])) or 1.0
    slope = rng.uniform(-size, size) * local / context
    line = slope * (np.arange(len(series.values), dtype=np.float64) - origin)
    return dataclasses.replace(series, values=np.asarray(series.values, np.float64) + line)


def training_windows(
    panel: list[Series], cuts: dict[str, Cut], config: ForecastingConfig, seed: int
) -> list[dict]:
    """`windows_per_series` windows of each series, wholly before its validation start:
    random origins, some with a shorter history, some normalised as a stream would be."""
    rng = np.random.default_rng(seed)
    rows = []
    for series in panel:
        end = cuts[series.name].validation_start
        phase = extended_phase(series)
        low = max(MIN_CONTEXT, min(2 * series.period, config.context_length))
        origins = rng.integers(low, end, size=config.windows_per_series)
        for origin in origins:
            origin = int(origin)
            length = None
            if rng.random() < config.short_history_rate:
                length = int(rng.integers(low, min(origin, config.context_length) + 1))
            stats_end = None
            available = min(origin, config.context_length)
            if rng.random() < config.shifted_stats_rate and origin > config.context_length // 2:
                # A stream's session: restarted `k` steps ago with the stats of before then.
                k = int(rng.integers(config.context_length // 2, available + 1))
                length, stats_end = k, origin - k
            source = series
            # Drawn only when asked for, so that without trends the windows stay as they were.
            if config.trend_rate > 0 and rng.random() < config.trend_rate:
                source = with_trend(series, origin, config.context_length, config.trend_size, rng)
            rows.append(
                window_row(source, phase, origin, config.context_length, length, stats_end, end)
            )
    return rows


def origin_windows(
    panel: list[Series], cuts: dict[str, Cut], config: ForecastingConfig, part: str
) -> list[dict]:
    """The rolling-origin windows of `part` (``validation`` or ``test``), one horizon apart."""
    rows = []
    for series in panel:
        c = cuts[series.name]
        phase = extended_phase(series)
        first, count = (
            (c.validation_start, c.validation_windows)
            if part == "validation"
            else (c.test_start, c.test_windows)
        )
        for index in range(count):
            rows.append(window_row(series, phase, first + index * c.horizon, config.context_length))
    return rows


def columns(rows: list[dict]) -> dict:
    """Rows -> the Splits' columns (numpy arrays; series names as a list)."""
    out = {}
    for key in rows[0]:
        values = [row[key] for row in rows]
        out[key] = values if key == "series" else np.asarray(values)
    return out


def split_panel(panel: list[Series], config: ForecastingConfig, source: str) -> Splits:
    """Training windows, validation and test origins, and the cuts, of `panel`."""
    cuts = {series.name: cut(series, config) for series in panel}
    train = training_windows(panel, cuts, config, config.split_seed)
    validation = origin_windows(panel, cuts, config, "validation")
    if config.loss_weighting == "mase":
        mean = weigh_as_mase(train, panel, config.loss_weight_cap)
        weigh_as_mase(validation, panel, config.loss_weight_cap)
        for row in train + validation:
            row["weight"] = row["weight"] / np.float32(mean)
    splits = Splits(
        train=columns(train),
        validation=columns(validation),
        test=columns(origin_windows(panel, cuts, config, "test")),
        source=source,
    )
    splits.info["panel"] = panel
    splits.info["cuts"] = cuts
    return splits
