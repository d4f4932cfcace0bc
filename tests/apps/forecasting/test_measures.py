"""The forecast and anomaly measures, against hand-computed cases, utilsforecast and sklearn."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, precision_recall_fscore_support
from utilsforecast import losses

from apps.forecasting import measures

RNG = np.random.default_rng(7)
HISTORY = 50 + np.cumsum(RNG.normal(size=40)) + 5 * np.sin(np.arange(40) * np.pi / 2)
ACTUAL = 50 + RNG.normal(size=8)
FORECAST = 50 + RNG.normal(size=8)


def _frames(**columns):
    """One series in utilsforecast's long format: the test part and the training part."""
    test = pd.DataFrame({"unique_id": "s", "ds": np.arange(40, 48), "y": ACTUAL, **columns})
    train = pd.DataFrame({"unique_id": "s", "ds": np.arange(40), "y": HISTORY})
    return test, train


def test_mase_by_hand():
    # errors 1 and 3 -> mean 2; seasonal (m = 2) differences of [1, 2, 4, 3] are 3 and 1 -> 2
    assert measures.mase([3.0, 6.0], [2.0, 3.0], [1.0, 2.0, 4.0, 3.0], period=2) == 1.0


def test_mase_matches_utilsforecast():
    test, train = _frames(model=FORECAST)
    expected = losses.mase(test, ["model"], seasonality=4, train_df=train)["model"].iloc[0]
    assert measures.mase(ACTUAL, FORECAST, HISTORY, period=4) == pytest.approx(expected)


def test_mase_falls_back_to_lag_one_then_nan():
    periodic = np.tile([1.0, 3.0], 10)  # seasonal (m = 2) differences all 0, lag-1 all 2
    assert measures.mase([2.0], [1.0], periodic, period=2) == pytest.approx(0.5)
    assert np.isnan(measures.mase([2.0], [1.0], np.full(10, 4.0), period=2))


def test_smape_by_hand_and_against_utilsforecast():
    # 200/2 * (50/150 + 0/20)
    assert measures.smape([100.0, 10.0], [50.0, 10.0]) == pytest.approx(100.0 / 3.0)
    test, _ = _frames(model=FORECAST)
    expected = 200.0 * losses.smape(test, ["model"])["model"].iloc[0]  # theirs is in [0, 1]
    assert measures.smape(ACTUAL, FORECAST) == pytest.approx(expected)


def test_msis_by_hand():
    # alpha 0.05: step 1 inside (width 2); step 2 above by 1: 4 + 40 * 1 = 44; mean 23; scale 1
    value = measures.msis([1.0, 5.0], [0.0, 0.0], [2.0, 4.0], [0.0, 1.0, 2.0], period=1)
    assert value == pytest.approx(23.0)


def test_msis_matches_utilsforecast_winkler_over_the_mase_scale():
    lower, upper = FORECAST - 1.0, FORECAST + 0.5
    test, _ = _frames(**{"m-lo-95": lower, "m-hi-95": upper})
    winkler = losses.winkler_score(test, ["m"], level=95)["m"].iloc[0]
    scale = np.mean(np.abs(HISTORY[4:] - HISTORY[:-4]))
    value = measures.msis(ACTUAL, lower, upper, HISTORY, period=4, alpha=0.05)
    assert value == pytest.approx(winkler / scale)


def test_coverage_by_hand_and_against_utilsforecast():
    assert measures.coverage([1.0, 2.0, 3.0], [1.0, 2.5, 0.0], [1.0, 3.0, 2.0]) == 1.0 / 3.0
    lower, upper = FORECAST - 0.7, FORECAST + 0.7
    test, _ = _frames(**{"m-lo-80": lower, "m-hi-80": upper})
    expected = losses.coverage(test, ["m"], level=80)["m"].iloc[0]
    assert 0 < expected < 1  # a case with points on both sides
    assert measures.coverage(ACTUAL, lower, upper) == pytest.approx(expected)


def test_pinball_by_hand_and_against_utilsforecast():
    # y = 10: q 0.1 at 8 -> 0.1 * 2; q 0.9 at 12 -> 0.1 * 2; mean 0.2
    assert measures.pinball([10.0], [[8.0, 12.0]], [0.1, 0.9]) == pytest.approx(0.2)
    quantiles = np.array([0.1, 0.5, 0.9])
    predictions = FORECAST[:, None] + np.array([-1.0, 0.0, 1.0])  # [h, q]
    columns = {f"m-q{i}": predictions[:, i] for i in range(3)}
    test, _ = _frames(**columns)
    expected = losses.mqloss(test, {"m": list(columns)}, quantiles=quantiles)["m"].iloc[0]
    assert measures.pinball(ACTUAL, predictions, quantiles) == pytest.approx(expected)


def test_owa_by_hand():
    # sMAPE ratio 12/16 = 0.75, MASE ratio 0.9/1.2 = 0.75
    assert measures.owa(12.0, 0.9, 16.0, 1.2) == pytest.approx(0.75)
    assert measures.owa(16.0, 1.2, 16.0, 1.2) == pytest.approx(1.0)


# --- anomalies ----------------------------------------------------------------------------


def _seasonal_series(length=600, period=12, seed=0):
    rng = np.random.default_rng(seed)
    steps = np.arange(length)
    return 20 + 0.01 * steps + 5 * np.sin(2 * np.pi * steps / period) + rng.normal(0, 0.3, length)


def test_inject_anomalies_is_seeded():
    series = _seasonal_series()
    first = measures.inject_anomalies(series, 12, np.random.default_rng(3), 200, 6)
    again = measures.inject_anomalies(series, 12, np.random.default_rng(3), 200, 6)
    other = measures.inject_anomalies(series, 12, np.random.default_rng(4), 200, 6)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert first[2] == again[2]
    assert first[2] != other[2]


@pytest.mark.parametrize("seed", range(5))
def test_inject_anomalies_kinds_labels_and_sizes(seed):
    series = _seasonal_series(seed=seed)
    changed, labels, events = measures.inject_anomalies(
        series, 12, np.random.default_rng(seed), 200, 6
    )
    assert sorted(kind for kind, _, _ in events) == sorted(
        ["spike", "level_shift", "seasonal_shape"] * 2
    )
    expected = np.zeros(len(series), dtype=int)
    for _, begin, end in events:
        assert begin >= 200 and end <= len(series)
        assert not expected[max(begin - 1, 0) : end + 1].any()  # no overlap, not touching
        expected[begin:end] = 1
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(changed[expected == 0], series[expected == 0])
    steps = np.diff(series)
    scale = 1.4826 * np.median(np.abs(steps - np.median(steps)))
    for kind, begin, end in events:
        delta = changed[begin:end] - series[begin:end]
        if kind == "spike":
            assert end - begin == 1 and 5 * scale <= abs(delta[0]) <= 8 * scale
        elif kind == "level_shift":
            assert 5 <= end - begin <= 10
            np.testing.assert_allclose(delta, delta[0])  # one constant shift
            assert 3 * scale <= abs(delta[0]) <= 5 * scale
        else:
            assert end - begin == 12
            segment = changed[begin:end]
            trend = np.polyval(np.polyfit(np.arange(12), series[begin:end], 1), np.arange(12))
            reversed_ = trend + (series[begin:end] - trend)[::-1]
            flat = np.full(12, series[begin:end].mean())
            assert np.allclose(segment, reversed_) or np.allclose(segment, flat)
            assert np.mean(np.abs(delta)) > scale


def test_inject_anomalies_period_one_uses_a_variance_burst():
    series = 5 + np.random.default_rng(1).normal(size=300)
    _, labels, events = measures.inject_anomalies(series, 1, np.random.default_rng(1), 100, 3)
    kinds = {kind: end - begin for kind, begin, end in events}
    assert set(kinds) == {"spike", "level_shift", "variance_burst"}
    assert 5 <= kinds["level_shift"] <= 10 and 5 <= kinds["variance_burst"] <= 10
    assert labels.sum() == sum(kinds.values())


def test_inject_anomalies_refuses_what_does_not_fit():
    with pytest.raises(ValueError, match="do not fit"):
        measures.inject_anomalies(_seasonal_series(100), 12, np.random.default_rng(0), 90, 3)


def test_anomaly_scores_f1_matches_sklearn():
    labels = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    flags = np.array([0, 1, 0, 1, 1, 0, 1, 1])
    precision, recall, f1, _ = precision_recall_fscore_support(labels, flags, average="binary")
    scores = measures.anomaly_scores_f1(labels, flags)
    assert scores == pytest.approx({"precision": precision, "recall": recall, "f1": f1})
    assert scores["precision"] == pytest.approx(3 / 5) and scores["recall"] == pytest.approx(3 / 4)
    assert measures.anomaly_scores_f1([0, 1], [0, 0]) == {"precision": 0, "recall": 0, "f1": 0}


def test_pr_auc_by_hand_and_sklearn():
    labels, scores = [0, 1, 1, 0], [0.1, 0.9, 0.4, 0.5]
    # ranked: 0.9 (hit: P 1, R 1/2), 0.5 (miss), 0.4 (hit: P 2/3, R 1) -> 1/2 * 1 + 1/2 * 2/3
    assert measures.pr_auc(labels, scores) == pytest.approx(5 / 6)
    random_labels = RNG.integers(0, 2, 50)
    random_scores = RNG.normal(size=50)
    assert measures.pr_auc(random_labels, random_scores) == pytest.approx(
        average_precision_score(random_labels, random_scores)
    )


def test_best_threshold_maximises_f1():
    labels = [0, 0, 1, 1, 0, 1]
    scores = [0.1, 0.2, 0.8, 0.9, 0.7, 0.3]
    # >= 0.8: P 1, R 2/3 (F1 0.8); >= 0.7: P 2/3, R 2/3; >= 0.3: P 3/4, R 1 (F1 6/7)
    assert measures.best_threshold(labels, scores) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="no anomalous"):
        measures.best_threshold([0, 0], [0.1, 0.2])


def test_detection_delay_by_hand():
    events = [("spike", 2, 3), ("level_shift", 5, 10), ("seasonal_shape", 12, 15)]
    flags = np.zeros(16, dtype=int)
    flags[[2, 4, 8, 9, 15]] = 1  # 4 and 15 are outside every event
    assert measures.detection_delay(events, flags) == [0, 3, None]


def test_rolling_zscore_by_hand_and_causal():
    values = np.array([1.0, 3.0, 1.0, 3.0, 6.0])
    # previous 4 points: mean 2, population std 1 -> |6 - 2| / 1
    assert measures.rolling_zscore(values, window=4)[-1] == pytest.approx(4.0)
    series = 10 + RNG.normal(size=200)
    before = measures.rolling_zscore(series, window=30)
    changed = series.copy()
    changed[120:] += 100.0
    after = measures.rolling_zscore(changed, window=30)
    np.testing.assert_array_equal(before[:120], after[:120])


def _flags_only(scores, index):
    """Flags at the best-F1 threshold for a lone anomaly at `index`."""
    labels = (np.arange(len(scores)) == index).astype(int)
    return scores >= measures.best_threshold(labels, scores)


def test_rolling_zscore_flags_a_planted_spike():
    spiked = 20 + np.random.default_rng(2).normal(0, 0.3, 300)
    spiked[150] += 4.0  # about 13 noise standard deviations
    scores = measures.rolling_zscore(spiked, window=30)
    assert int(np.argmax(scores)) == 150 and scores[150] > 8.0
    flags = _flags_only(scores, 150)
    assert flags.sum() == 1 and flags[150]


def _spiked(n: int, period: int) -> np.ndarray:
    """A seasonal (or, for period 1, flat) noisy series with a spike of 4 at step 150."""
    if period > 1:
        spiked = _seasonal_series(n, period=period, seed=2)
    else:
        spiked = 20 + np.random.default_rng(2).normal(0, 0.3, n)
    spiked[150] += 4.0
    return spiked


@pytest.mark.parametrize("period", [1, 12])
def test_seasonal_residual_flags_a_planted_spike(period):
    spiked = _spiked(300, period)
    scores = measures.seasonal_residual(spiked, period)
    assert int(np.argmax(scores)) == 150 and scores[150] > 5.0
    flags = _flags_only(scores, 150)
    assert flags.sum() == 1 and flags[150]


@pytest.mark.parametrize("period", [1, 12])
def test_causal_seasonal_residual_flags_a_planted_spike_without_reading_ahead(period):
    spiked = _spiked(200, period)
    scores = measures.causal_seasonal_residual(spiked, period, start=100)
    assert not scores[:100].any()
    assert int(np.argmax(scores)) == 150 and scores[150] > 5.0
    # Causal: what comes after a point does not change its score.
    changed = spiked.copy()
    changed[151:] += 100.0
    again = measures.causal_seasonal_residual(changed, period, start=100)
    np.testing.assert_array_equal(again[:151], scores[:151])
    # ... while the two-sided decomposition's score of the same point moves.
    assert (
        measures.seasonal_residual(changed, period)[150]
        != measures.seasonal_residual(spiked, period)[150]
    )
