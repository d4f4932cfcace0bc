"""Interval calibration: the scale is chosen on the coverage the backtest reports."""

import numpy as np

from apps.forecasting.app import SCALE_GRID, interval_scale, series_mean_coverage
from apps.forecasting.measures import coverage


def test_series_mean_coverage_averages_each_series_share():
    actual = np.array([0.0, 0.0, 0.0, 0.0, 5.0, 5.0])
    median = np.zeros(6)
    width = np.ones(6)
    groups = ["a", "a", "a", "a", "b", "b"]  # a: 4 of 4 inside; b: 0 of 2
    assert series_mean_coverage(actual, median, width, width, groups, 1.0) == 0.5
    # Pooled over values it would be 4 / 6; each series is scored as measures.coverage does.
    by_series = [
        coverage(actual[:4], -width[:4], width[:4]),
        coverage(actual[4:], -width[4:], width[4:]),
    ]
    assert series_mean_coverage(actual, median, width, width, groups, 1.0) == np.mean(by_series)
    # Wide enough, both series are covered.
    assert series_mean_coverage(actual, median, width, width, groups, 5.0) == 1.0


def test_scale_brings_the_series_mean_not_the_pooled_coverage_to_nominal():
    rng = np.random.default_rng(0)
    # A long series forecast well (unit errors) and four short ones forecast loosely (errors
    # three times the interval's normal spread): pooled, the long one dominates.
    long = rng.normal(size=4000)
    short = [3.0 * rng.normal(size=100) for _ in range(4)]
    actual = np.concatenate([long, *short])
    groups = ["long"] * 4000 + [f"s{i}" for i in range(4) for _ in range(100)]
    median = np.zeros_like(actual)
    half = np.full_like(actual, 1.2816)  # a normal's 80% half-width
    scale = interval_scale(actual, median, half, half, groups, 0.8)
    assert scale in SCALE_GRID
    chosen = series_mean_coverage(actual, median, half, half, groups, scale)
    assert abs(chosen - 0.8) < 0.03
    # The pooled choice (every value alike) would leave the series mean well under 80%.
    pooled = interval_scale(actual, median, half, half, ["all"] * len(actual), 0.8)
    assert pooled < scale
    assert series_mean_coverage(actual, median, half, half, groups, pooled) < 0.7


def test_calibrating_again_chooses_the_same_scale_from_the_trained_widths():
    import keras

    from apps.forecasting import data as forecasting_data
    from apps.forecasting.app import ForecastingApp
    from apps.forecasting.config import ForecastingConfig
    from apps.forecasting.model import build_core
    from apps.forecasting.predictor import ForecastingPredictor
    from tests.apps.forecasting.test_model import synthetic

    keras.utils.set_random_seed(0)
    config = ForecastingConfig(**ForecastingConfig.PRESETS["quick"])
    panel = [synthetic("m", "monthly", 300, 12), synthetic("h", "hourly", 900, 24, seed=1)]
    splits = forecasting_data.split_panel(panel, config, "synthetic")
    core = build_core(config)
    app = ForecastingApp()
    scale = core.get_layer("quantiles").interval_scale
    first = app._calibrate_intervals(core, ForecastingPredictor.from_model(core), splits)
    chosen = [first["interval_scale"]["80"], first["interval_scale"]["95"]]
    np.testing.assert_allclose(np.asarray(scale), chosen, rtol=1e-6)
    assert first["validation_coverage_after"]["80"] != first["validation_coverage_before"]["80"]
    # A model that already holds a scale (a second calibration, or merged runs) starts again
    # from the trained widths, not from the widths its scale made.
    again = app._calibrate_intervals(core, ForecastingPredictor.from_model(core), splits)
    assert again == first
