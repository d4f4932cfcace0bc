"""The statsforecast baselines and the M4 Comb benchmark, against hand-computed forecasts."""

import json

import numpy as np
import pytest
from statsmodels.tsa.stattools import acf

from apps.forecasting import baselines
from shared.errors import UserError

HORIZON, PERIOD = 8, 4
INDICES = np.array([0.8, 1.2, 0.9, 1.1])  # multiplicative, mean 1
OFFSETS = np.array([-1.0, 2.0, 0.0, -1.0])  # additive, mean 0
WALK = 100 + np.cumsum(np.random.default_rng(0).normal(size=80)) + 5 * INDICES[np.arange(80) % 4]
HISTORIES = {
    "trend": 1000.0 + 2.0 * np.arange(60),
    "seasonal": 50.0 * INDICES[np.arange(48) % 4],
    "negative": -3.0 + OFFSETS[np.arange(48) % 4],
    "walk": WALK,
}


@pytest.fixture(scope="module")
def result():
    return baselines.forecast_baselines(HISTORIES, HORIZON, PERIOD)


def test_every_method_and_its_seconds(result):
    assert set(result) == {*baselines.METHODS, baselines.TIMING}
    assert set(result[baselines.TIMING]) == set(baselines.METHODS)
    assert all(seconds >= 0 for seconds in result[baselines.TIMING].values())
    for method in baselines.METHODS:
        assert set(result[method]) == set(HISTORIES)


def test_naive_repeats_the_last_value(result):
    for name, history in HISTORIES.items():
        np.testing.assert_allclose(result["naive"][name]["mean"], np.full(HORIZON, history[-1]))


def test_seasonal_naive_repeats_the_last_period(result):
    for name, history in HISTORIES.items():
        expected = np.tile(history[-PERIOD:], HORIZON // PERIOD)
        np.testing.assert_allclose(result["seasonal_naive"][name]["mean"], expected)


def test_comb_follows_a_linear_trend(result):
    trend = 1000.0 + 2.0 * np.arange(60, 60 + HORIZON)
    comb = result["comb"]["trend"]["mean"]
    np.testing.assert_allclose(comb, trend, rtol=0.01)
    # SES alone would stay at the last value, 1118: the mean with Holt climbs.
    assert np.all(np.diff(comb) > 0.5) and comb[-1] > 1118 + 5


def test_comb_reseasonalises_a_pure_seasonal_series(result):
    # Adjusted, the series is the constant 50 (multiplicative) or -3 (additive, values <= 0):
    # every smoother forecasts that constant, and the indices of steps 48, 49, ... put back.
    future = np.arange(48, 48 + HORIZON) % 4
    np.testing.assert_allclose(result["comb"]["seasonal"]["mean"], 50.0 * INDICES[future])
    np.testing.assert_allclose(result["comb"]["negative"]["mean"], -3.0 + OFFSETS[future])
    assert set(result["comb"]["walk"]) == {"mean"}  # no intervals for comb


@pytest.mark.parametrize("method", ["naive", "seasonal_naive", "auto_ets", "auto_arima"])
def test_intervals_are_finite_and_nested(result, method):
    for name in HISTORIES:
        forecast = result[method][name]
        assert set(forecast) == {"mean", "lo80", "hi80", "lo95", "hi95"}
        stacked = np.stack([forecast[k] for k in ("lo95", "lo80", "mean", "hi80", "hi95")])
        assert stacked.shape == (5, HORIZON) and np.isfinite(stacked).all()
        assert np.all(np.diff(stacked, axis=0) >= -1e-9), (method, name)
    # A noisy series has intervals of some width, the 95% one wider.
    walk = result[method]["walk"]
    assert np.all(walk["hi95"] - walk["lo95"] > walk["hi80"] - walk["lo80"])


def test_auto_models_are_near_the_seasonal_truth(result):
    future = np.arange(48, 48 + HORIZON) % 4
    for method in ("auto_ets", "auto_arima"):
        np.testing.assert_allclose(
            result[method]["seasonal"]["mean"], 50.0 * INDICES[future], rtol=1e-3
        )


def test_only_the_last_max_history_points_are_used():
    # 30 huge values then 40 of a small period-4 pattern: with max_history 40 the huge values
    # are gone, so the comb (seasonal adjustment included) sees a pure seasonal series.
    small = 50.0 * INDICES[np.arange(40) % 4]
    history = np.concatenate([np.full(30, 1e6), small])
    result = baselines.forecast_baselines({"a": history}, HORIZON, PERIOD, max_history=40)
    np.testing.assert_allclose(result["comb"]["a"]["mean"], 50.0 * INDICES[np.arange(8) % 4])


def test_seasonality_test_matches_m4_formula_with_statsmodels_acf():
    rng = np.random.default_rng(5)
    cases = [
        rng.normal(size=60),
        10 + np.sin(np.arange(60) * np.pi / 6) + rng.normal(0, 0.3, 60),
        np.cumsum(rng.normal(size=100)),
    ]
    decisions = []
    for series in cases:
        coefficients = acf(series, nlags=12, fft=False)[1:]
        limit = 1.645 / np.sqrt(len(series)) * np.sqrt(1 + 2 * np.sum(coefficients[:11] ** 2))
        decisions.append(bool(abs(coefficients[11]) > limit))
        assert baselines.seasonality_test(series, 12) == decisions[-1]
    assert decisions[1] and not decisions[0]  # the cases exercise both answers
    assert not baselines.seasonality_test(np.tile([1.0, 5.0, 2.0], 2), 3)  # under 3 periods
    assert not baselines.seasonality_test(np.full(40, 3.0), 4)  # constant


def test_seasonal_adjustment_recovers_known_indices():
    steps = np.arange(40)
    series = (200.0 + steps) * INDICES[steps % 4]
    adjusted, future, model = baselines.seasonal_adjustment(series, 4, 6)
    assert model == "multiplicative"
    # The 2x4 moving average follows the linear level closely: the indices come back.
    np.testing.assert_allclose(future, INDICES[np.arange(40, 46) % 4], rtol=1e-2)
    np.testing.assert_allclose(adjusted, 200.0 + steps, rtol=1e-2)
    flat, ones, none = baselines.seasonal_adjustment(np.arange(40.0), 1, 3)
    assert none == "none" and np.all(ones == 1) and np.all(flat == np.arange(40.0))


def test_short_or_broken_history_is_a_user_error():
    with pytest.raises(UserError, match="'short'.*3 points"):
        baselines.forecast_baselines({"short": np.arange(3.0)}, HORIZON, PERIOD)
    with pytest.raises(UserError, match="'gap'.*finite"):
        baselines.forecast_baselines({"gap": np.r_[np.arange(20.0), np.nan]}, HORIZON, PERIOD)


def test_the_baselines_are_computed_once_per_data_and_split(tmp_path, monkeypatch):
    import dataclasses

    from apps.forecasting import data as forecasting_data
    from apps.forecasting.app import ForecastingApp, baselines_digest
    from apps.forecasting.config import ForecastingConfig
    from apps.forecasting.series import Series, regular_timestamps

    monkeypatch.setenv("RNNAPPS_DATA", str(tmp_path))
    t = np.arange(120)
    values = 50 + 5 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 0.5, 120)
    stamps = regular_timestamps(np.datetime64("2001-01-01T00:00:00"), "monthly", 120)
    series = Series("m", values, "monthly", stamps, "synthetic", "-", "m")
    config = ForecastingConfig(**{**ForecastingConfig.PRESETS["quick"]})
    app = ForecastingApp()

    def splits_of(panel, config):
        splits = forecasting_data.split_panel(panel, config, "synthetic")
        splits.info["anomalies"] = app._anomaly_sets(splits, config)
        return splits

    splits = splits_of([series], config)
    calls = []
    compute = ForecastingApp._compute_baselines
    monkeypatch.setattr(
        ForecastingApp,
        "_compute_baselines",
        lambda self, s, c: calls.append(1) or compute(self, s, c),
    )
    first = app.baselines(splits, config)
    # Another seed (the model's) reads the same windows: no second computation.
    again = app.baselines(splits_of([series], dataclasses.replace(config, seed=99)), config)
    assert calls == [1] and again == json.loads(json.dumps(first))
    # Another value, another split seed or other baselines: another digest.
    changed = dataclasses.replace(series, values=values + np.eye(1, 120, 5)[0])
    digests = {
        baselines_digest(splits, config),
        baselines_digest(splits_of([changed], config), config),
        baselines_digest(splits, dataclasses.replace(config, baselines="naive")),
        baselines_digest(
            splits_of([series], dataclasses.replace(config, split_seed=7)),
            dataclasses.replace(config, split_seed=7),
        ),
    }
    assert len(digests) == 4


def test_thresholds_are_chosen_on_every_validation_injection_and_the_test_set_stays():
    """``anomaly_validation_sets`` more seeded injections into the same validation regions:
    each its own labels inside the validation region, all of them listed by
    ``validation_parts``, and the first validation set and the test set unchanged."""
    import dataclasses

    from apps.forecasting import data as forecasting_data
    from apps.forecasting.app import ForecastingApp, validation_parts
    from apps.forecasting.config import ForecastingConfig
    from apps.forecasting.series import Series, regular_timestamps

    t = np.arange(240)
    values = 50 + 5 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(1).normal(0, 0.5, 240)
    stamps = regular_timestamps(np.datetime64("2001-01-01T00:00:00"), "monthly", 240)
    series = Series("m", values, "monthly", stamps, "synthetic", "-", "m")
    one = ForecastingConfig(**{**ForecastingConfig.PRESETS["quick"], "anomaly_validation_sets": 1})
    three = dataclasses.replace(one, anomaly_validation_sets=3)
    splits = forecasting_data.split_panel([series], one, "synthetic")
    app = ForecastingApp()
    single, many = app._anomaly_sets(splits, one), app._anomaly_sets(splits, three)
    splits.info["anomalies"] = many
    assert validation_parts(splits) == ["validation", "validation_2", "validation_3"]
    cut = splits.info["cuts"]["m"]
    labels = []
    for part in validation_parts(splits):
        entry = many[part]["m"]
        label = np.asarray(entry["labels"])
        assert entry["start"] == cut.validation_start and len(label) == cut.test_start
        assert label[: cut.validation_start].sum() == 0 and label.sum() > 0
        labels.append(label)
    assert len({tuple(label) for label in labels}) == 3  # three different injections
    for part in ("validation", "test"):
        np.testing.assert_array_equal(many[part]["m"]["values"], single[part]["m"]["values"])
