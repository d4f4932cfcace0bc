"""How observations are scored for anomalies: standardised, and flagged ones replaced."""

import numpy as np

from apps.forecasting import runtime
from apps.forecasting.series import Series, regular_timestamps


def naive_forecast(history, length, phase, frequency):
    """A stand-in model: every step's median is the window's last value, 80% interval +-1."""
    median = np.asarray(history, np.float32)[:, -1]
    offsets = np.array([-2.0, -1.0, 0.0, 1.0, 2.0], np.float32)
    q = median[:, None] + offsets[None, :]
    return np.repeat(q[:, None, :], runtime.MAX_HORIZON, axis=1)


def series(values):
    stamps = regular_timestamps(np.datetime64("2001-01-01"), "daily", len(values))
    return Series("s", np.asarray(values, float), "daily", stamps, "test", "-", "s")


def noisy(n=300, seed=0, sd=0.2):
    return 10.0 + np.random.default_rng(seed).normal(0, sd, n)


def test_every_point_of_a_level_shift_stands_out_not_only_its_first():
    values = noisy()
    values[200:208] += 5.0
    scores = runtime.stream_scores(naive_forecast, [series(values)], 64, [150])[0]
    shift = np.abs(scores[50:58])
    normal = np.abs(np.concatenate([scores[:50], scores[60:]]))
    assert shift.min() > normal.max()
    # Without replacing flagged points, the naive forecast follows the shift after one step.
    raw = runtime.anomaly_score(values[151:], naive_forecast(values[None, 150:-1].T, 0, 0, 0)[:, 0])
    assert np.abs(raw[50:57]).max() < np.abs(raw[49]) / 3


def mean_forecast(history, length, phase, frequency):
    """A stand-in model that reads its window: the median is the mean of the last 10 values."""
    median = np.asarray(history, np.float32)[:, -10:].mean(axis=1)
    offsets = np.array([-2.0, -1.0, 0.0, 1.0, 2.0], np.float32)
    q = median[:, None] + offsets[None, :]
    return np.repeat(q[:, None, :], runtime.MAX_HORIZON, axis=1)


def test_a_new_level_is_accepted_after_impute_run_flags():
    values = noisy(400)
    values[200:] += 5.0  # a lasting change
    scores = runtime.stream_scores(mean_forecast, [series(values)], 64, [150])[0]
    flagged = np.abs(scores) >= runtime.IMPUTE_SCORE
    assert flagged[50 : 50 + runtime.IMPUTE_RUN].all()
    # Accepted: the replaced points go back into the history, so the flags stop at once
    # (before, one point in 25 was accepted and the replacing went on).
    assert flagged[50 + runtime.IMPUTE_RUN + 1 :].mean() < 0.02


def test_scores_are_standardised_by_the_series_own_recent_scores():
    # Noise 5 times the stand-in model's interval: raw scores are large everywhere, the
    # standardised ones are not; scaling the series leaves them as they were.
    loose = noisy(300, seed=1, sd=3.0)
    scores = runtime.stream_scores(naive_forecast, [series(loose)], 64, [100])[0]
    raw = np.abs(
        runtime.anomaly_score(loose[100:], naive_forecast(loose[None, 99:-1].T, 0, 0, 0)[:, 0])
    )
    assert np.median(raw) > 2.0 and np.median(np.abs(scores)) < 1.0


def test_a_sharply_forecast_series_small_deviations_are_not_blown_up():
    """Noise a twentieth of the stand-in model's interval: raw scores are tiny, and a
    deviation of half the interval's half-width stays under 1 after standardising (the
    spread is at least ``SPREAD_FLOOR``), while a jump of 5 widths still stands out."""
    sharp = noisy(300, seed=4, sd=0.01)
    sharp[200] += 0.5
    sharp[250] += 5 * 2 / runtime.SPREAD_80 * 2
    scores = np.abs(runtime.stream_scores(naive_forecast, [series(sharp)], 64, [100])[0])
    assert scores[100] < 1.0 and scores[150] > 5.0
    assert np.delete(scores, [100, 101, 150, 151]).max() < 0.2


def test_series_scored_together_score_as_if_alone():
    a, b = noisy(300, seed=2), noisy(250, seed=3)
    b[220] += 4.0
    together = runtime.stream_scores(naive_forecast, [series(a), series(b)], 64, [100, 180])
    alone = [
        runtime.stream_scores(naive_forecast, [series(a)], 64, [100])[0],
        runtime.stream_scores(naive_forecast, [series(b)], 64, [180])[0],
    ]
    for joint, single in zip(together, alone, strict=True):
        np.testing.assert_allclose(joint, single)
    assert len(together[1]) == 70 and np.argmax(np.abs(together[1])) == 40
