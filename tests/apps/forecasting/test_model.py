"""The forecasting graphs: window statistics, monotone quantiles, and a stream equal to the window."""

import numpy as np
import pytest

from apps.forecasting import data as forecasting_data
from apps.forecasting import runtime
from apps.forecasting.config import ForecastingConfig
from apps.forecasting.export import state_size, step_model, window_model
from apps.forecasting.model import (
    ANCHOR_SPAN,
    WindowStats,
    build_core,
    has_anchor,
    members_pinball_loss,
    pinball_loss,
)
from apps.forecasting.series import Series, regular_timestamps


def synthetic(name, frequency, n, period, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 50 + 5 * np.sin(2 * np.pi * t / period) + 0.02 * t + rng.normal(0, 0.5, n)
    stamps = regular_timestamps(np.datetime64("2001-01-01T00:00:00"), frequency, n)
    return Series(name, values, frequency, stamps, "synthetic", "-", name)


@pytest.fixture(
    scope="module",
    params=[
        {},
        {"seasonal_anchor": True},
        {"seasonal_input": True},
        {"members": 2},
        {"members": 2, "cell": "lstm"},
    ],
    ids=["plain", "seasonal_anchor", "seasonal_input", "two_members", "two_lstm_members"],
)
def core(request):
    config = ForecastingConfig(**{**ForecastingConfig.PRESETS["quick"], **request.param})
    return build_core(config), config


@pytest.fixture(scope="module")
def splits(core):
    _, config = core
    panel = [synthetic("m", "monthly", 300, 12), synthetic("h", "hourly", 900, 24, seed=1)]
    return forecasting_data.split_panel(panel, config, "synthetic")


def test_window_stats_in_the_graph_equal_the_host_and_ignore_the_padding():
    rng = np.random.default_rng(3)
    history = rng.normal(100, 10, (4, 32)).astype(np.float32)
    length = np.array([32, 10, 3, 1], np.int32)
    loc, scale = WindowStats()(history, length)
    host_loc, host_scale = runtime.window_stats(history, length)
    np.testing.assert_allclose(np.asarray(loc), host_loc, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(scale), host_scale, rtol=1e-4)
    # Independently: the mean and std of the real (last `length`) values only.
    assert host_loc[1] == pytest.approx(history[1, -10:].mean(), rel=1e-5)
    assert host_scale[1] == pytest.approx(
        history[1, -10:].std() + 1e-3 * np.abs(history[1, -10:]).mean(), rel=1e-4
    )


def test_quantiles_are_ordered(core, splits):
    model, _ = core
    test = splits.test
    out = np.asarray(
        window_model(model, None)(
            [test["history"], test["length"], test["phase"], test["frequency"]]
        )["quantiles"]
    )
    assert out.shape == (len(test["history"]), runtime.MAX_HORIZON, len(runtime.QUANTILES))
    assert (np.diff(out, axis=-1) > 0).all()


def stream(model, history, length, phase, frequency, loc, scale):
    step = step_model(model, 1)
    context = history.shape[0]
    state = np.zeros((1, state_size(model)), np.float32)
    previous = np.zeros((1, runtime.MAX_HORIZON, len(runtime.QUANTILES)), np.float32)
    recent = np.zeros((1, ANCHOR_SPAN), np.float32)
    count = np.zeros((1,), np.float32)
    scores = []
    for i in range(context - length, context):
        out = step(
            [
                np.array([history[i]], np.float32),
                np.array([phase[i]], np.float32),
                phase[None, context:].astype(np.float32),
                np.array([frequency], np.int32),
                loc,
                scale,
                state,
                previous,
                *([recent, count] if has_anchor(model) else []),
            ]
        )
        scores.append((float(np.asarray(out["anomaly_score"])[0]), previous[0, 0].copy()))
        state = np.asarray(out["next_state"])
        previous = np.asarray(out["next_previous_forecast"])
        if has_anchor(model):
            recent = np.asarray(out["next_recent"])
            count = np.asarray(out["next_count"])
    return previous, scores


@pytest.mark.parametrize("row", [0, 4])
def test_stepping_through_a_window_ends_on_the_window_models_forecast(core, splits, row):
    model, _ = core
    test = splits.test
    history, length = test["history"][row], int(test["length"][row])
    phase, frequency = test["phase"][row], int(test["frequency"][row])
    full = np.asarray(
        window_model(model, 1)(
            [
                history[None],
                test["length"][row : row + 1],
                phase[None],
                test["frequency"][row : row + 1],
            ]
        )["quantiles"]
    )
    loc, scale = runtime.window_stats(history[None], np.array([length]))
    streamed, scores = stream(model, history, length, phase, frequency, loc, scale)
    np.testing.assert_allclose(streamed, full, atol=1e-4 * np.abs(full).max())
    # The anomaly score of each step is the host's formula on the forecast before it.
    values = history[len(history) - length :]
    expected = runtime.anomaly_score(values[1:], np.stack([b for _, b in scores[1:]]))
    np.testing.assert_allclose([s for s, _ in scores[1:]], expected, rtol=1e-4, atol=1e-4)
    # A stream that read another last observation does not end on the same forecast.
    altered = history.copy()
    altered[-1] += 5 * float(scale[0])
    other, _ = stream(model, altered, length, phase, frequency, loc, scale)
    assert np.abs(other - full).max() > 1e-3


def test_training_windows_never_read_or_predict_past_the_validation_start(core, splits):
    _, config = core
    train = splits.train
    for name, origin, weight in zip(train["series"], train["origin"], train["weight"], strict=True):
        cut = splits.info["cuts"][name]
        assert origin + int((weight > 0).sum()) <= cut.validation_start
    # And the test origins are the last windows of each series, one horizon apart.
    for name in ("m", "h"):
        origins = [
            o
            for s, o in zip(splits.test["series"], splits.test["origin"], strict=True)
            if s == name
        ]
        series = next(s for s in splits.info["panel"] if s.name == name)
        assert origins[-1] + series.horizon == len(series.values)
        assert np.diff(origins).tolist() == [series.horizon] * (config.test_windows - 1)


def test_a_windows_mase_weight_is_its_scale_over_the_in_sample_seasonal_naive_error():
    series = synthetic("m", "monthly", 120, 12, seed=4)
    before = series.values[:100]
    denominator = np.mean(np.abs(before[12:] - before[:-12]))
    weight = forecasting_data.seasonal_naive_weight(series, 100, 3.0, cap=1000.0)
    assert weight == pytest.approx(3.0 / denominator, rel=1e-9)
    # Clipped to [1/cap, cap]; a history no longer than a period compares with the last value.
    assert forecasting_data.seasonal_naive_weight(series, 100, 1e6, cap=5.0) == 5.0
    assert forecasting_data.seasonal_naive_weight(series, 100, 1e-6, cap=5.0) == 0.2
    short = np.mean(np.abs(np.diff(series.values[:10])))
    assert forecasting_data.seasonal_naive_weight(series, 10, 1.0, 1000.0) == pytest.approx(
        1.0 / short
    )


def test_mase_weighting_puts_a_smooth_series_above_a_noisy_one_at_mean_one():
    """With ``loss_weighting=mase`` the training rows' weights average 1 over windows, and a
    series whose steps barely move against its spread (a clean cycle) weighs more than a
    random walk; with ``none`` every real step weighs 1."""
    t = np.arange(600)
    stamps = regular_timestamps(np.datetime64("2001-01-01T00:00:00"), "hourly", 600)
    clean = Series("clean", 50 + 5 * np.sin(2 * np.pi * t / 24), "hourly", stamps, "s", "-", "c")
    walk = Series(
        "walk",
        50 + np.cumsum(np.random.default_rng(2).normal(0, 1, 600)),
        "hourly",
        stamps,
        "s",
        "-",
        "w",
    )
    base = {**ForecastingConfig.PRESETS["quick"], "windows_per_series": 40}
    plain = forecasting_data.split_panel(
        [clean, walk], ForecastingConfig(**base), "synthetic"
    ).train
    assert set(np.unique(plain["weight"])) == {0.0, 1.0}
    train = forecasting_data.split_panel(
        [clean, walk], ForecastingConfig(**{**base, "loss_weighting": "mase"}), "synthetic"
    ).train
    factor = train["weight"].max(axis=1)
    np.testing.assert_allclose(train["weight"], factor[:, None] * plain["weight"], rtol=1e-6)
    assert factor.mean() == pytest.approx(1.0, rel=1e-5)
    names = np.array(train["series"])
    assert factor[names == "clean"].min() > factor[names == "walk"].max()


def test_trend_windows_carry_their_line_from_the_history_into_the_targets():
    """``trend_rate=1`` on a constant series: each training window's history rises or falls along
    a line, its targets go on along the same line, and the lines differ in sign; with
    ``trend_rate=0`` the windows are the plain ones."""
    n = 400
    stamps = regular_timestamps(np.datetime64("2001-01-01T00:00:00"), "daily", n)
    flat = Series("f", np.full(n, 50.0), "daily", stamps, "s", "-", "f")  # std 0: slopes of u / 128
    base = {
        **ForecastingConfig.PRESETS["quick"],
        "windows_per_series": 30,
        "short_history_rate": 0.0,
        "shifted_stats_rate": 0.0,
    }
    plain = forecasting_data.split_panel([flat], ForecastingConfig(**base), "s").train
    trended = forecasting_data.split_panel(
        [flat], ForecastingConfig(**{**base, "trend_rate": 1.0, "trend_size": 8.0}), "s"
    ).train
    np.testing.assert_array_equal(plain["origin"], trended["origin"])
    slopes = []  # per step, in the series' own units
    for row in range(len(trended["origin"])):
        length, scale, loc = trended["length"][row], trended["scale"][row], trended["loc"][row]
        history = trended["history"][row][-length:]
        steps = int((trended["weight"][row] > 0).sum())
        target = trended["target"][row][:steps] * scale + loc
        before = np.polyfit(np.arange(length), history, 1)[0]
        after = np.polyfit(np.arange(length, length + steps), target, 1)[0]
        slopes.append(before)
        assert after == pytest.approx(before, rel=1e-3, abs=1e-6)
    assert min(slopes) < -0.01 and max(slopes) > 0.01
    # Without trends the windows are flat.
    plain_slopes = [
        np.polyfit(np.arange(length), history[-length:], 1)[0]
        for history, length in zip(plain["history"], plain["length"], strict=True)
    ]
    assert np.abs(plain_slopes).max() < 1e-9


def test_the_seasonal_anchor_is_seasonal_naive_when_the_network_adds_nothing():
    """With the head's output zeroed, the median is the anchor alone: the value one period
    before each step (monthly: 12), or the last value when the window holds less than a
    period (and for yearly series, whose period is 1)."""
    config = ForecastingConfig(**{**ForecastingConfig.PRESETS["quick"], "seasonal_anchor": True})
    model = build_core(config)
    head_out = model.get_layer("head_out")
    head_out.set_weights([np.zeros_like(w) for w in head_out.get_weights()])
    context = config.context_length
    rng = np.random.default_rng(5)
    history = rng.normal(100, 10, (3, context)).astype(np.float32)
    length = np.array([context, 8, context], np.int32)
    history[1, : context - 8] = 0.0  # left padding
    monthly, yearly = (runtime.FREQUENCY_NAMES.index(f) for f in ("monthly", "yearly"))
    frequency = np.array([monthly, monthly, yearly], np.int32)
    phase = np.zeros((3, context + runtime.MAX_HORIZON), np.float32)
    median = np.asarray(
        window_model(model, None)([history, length, phase, frequency])["quantiles"]
    )[..., runtime.MEDIAN]
    steps = np.arange(runtime.MAX_HORIZON)
    np.testing.assert_allclose(median[0], history[0, context - 12 + steps % 12], rtol=1e-5)
    np.testing.assert_allclose(median[1], np.full(runtime.MAX_HORIZON, history[1, -1]), rtol=1e-5)
    np.testing.assert_allclose(median[2], np.full(runtime.MAX_HORIZON, history[2, -1]), rtol=1e-5)
    # Without the anchor the same zeroed head forecasts the window's mean instead.
    plain = build_core(
        ForecastingConfig(**{**ForecastingConfig.PRESETS["quick"], "seasonal_anchor": False})
    )
    plain.get_layer("head_out").set_weights([np.zeros_like(w) for w in head_out.get_weights()])
    flat = np.asarray(window_model(plain, None)([history, length, phase, frequency])["quantiles"])
    loc, _ = runtime.window_stats(history, length)
    np.testing.assert_allclose(
        flat[..., runtime.MEDIAN], np.repeat(loc[:, None], runtime.MAX_HORIZON, 1), rtol=1e-5
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("loss_weighting", "mape"),
        ("loss_weight_cap", 0.5),
        ("weight_averaging", 1.0),
        ("trend_rate", 1.5),
        ("trend_size", -1.0),
        ("members", 0),
    ],
)
def test_a_bad_training_setting_is_refused_naming_the_field(field, value):
    from shared.errors import UserError

    config = ForecastingConfig(**{**ForecastingConfig.PRESETS["quick"], field: value})
    with pytest.raises(UserError, match=f"--set {field}="):
        config.validate()


def test_weight_averaging_builds_an_averaging_optimizer():
    config = ForecastingConfig(**{**ForecastingConfig.PRESETS["quick"], "weight_averaging": 0.99})
    optimizer = build_core(config).optimizer
    assert optimizer.use_ema and optimizer.ema_momentum == pytest.approx(0.99)
    assert not build_core(ForecastingConfig(**ForecastingConfig.PRESETS["quick"])).optimizer.use_ema


def test_the_members_loss_is_each_members_own_loss_averaged():
    rng = np.random.default_rng(0)
    horizon, levels = runtime.MAX_HORIZON, len(runtime.QUANTILES)
    targets = rng.normal(size=(4, horizon)).astype(np.float32)
    quantiles = np.sort(rng.normal(size=(4, 3, horizon, levels)), axis=-1).astype(np.float32)
    got = np.asarray(members_pinball_loss(targets, quantiles))
    own = [np.asarray(pinball_loss(targets, quantiles[:, m])) for m in range(3)]
    assert got.shape == (4, horizon)
    np.testing.assert_allclose(got, np.mean(own, axis=0), rtol=1e-6)
    # A member's loss does not depend on another member's quantiles: a change to member 2
    # moves the total by a third of member 2's own change.
    moved = quantiles.copy()
    moved[:, 2] += 1.0
    changed = np.asarray(members_pinball_loss(targets, moved)) - got
    own_change = np.asarray(pinball_loss(targets, moved[:, 2])) - own[2]
    np.testing.assert_allclose(changed, own_change / 3, rtol=1e-5, atol=1e-6)


def test_two_members_start_apart_and_the_forecast_is_their_mean():
    config = ForecastingConfig(**{**ForecastingConfig.PRESETS["quick"], "members": 2})
    core = build_core(config)
    panel = [synthetic("m", "monthly", 300, 12)]
    test = forecasting_data.split_panel(panel, config, "synthetic").test
    args = [test["history"], test["length"], test["phase"], test["frequency"]]
    loc, scale = runtime.window_stats(test["history"], test["length"])
    members = np.asarray(
        core(
            {
                **dict(zip(("history", "length", "phase", "frequency"), args, strict=True)),
                "loc": loc,
                "scale": scale,
            }
        )
    )
    assert members.shape[1] == 2
    assert np.abs(members[:, 0] - members[:, 1]).max() > 1e-3  # their own initial weights
    forecast = np.asarray(window_model(core, None)(args)["quantiles"])
    expected = loc[:, None, None] + scale[:, None, None] * members.mean(axis=1)
    np.testing.assert_allclose(forecast, expected, rtol=1e-5, atol=1e-4 * np.abs(expected).max())
