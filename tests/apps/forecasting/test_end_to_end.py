"""Quick preset: train -> export -> convert -> forecast CSV files from the .tflite, through the CLI."""

import json

import numpy as np
import pytest

from apps import cli
from apps.forecasting import runtime
from apps.forecasting.app import ForecastingApp
from apps.forecasting.panel import embedded_panel
from apps.forecasting.series import write_csv

# Every test here caches its data in a temporary folder (tests/conftest.py).
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("data_cache")]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "forecasting"
    assert cli.main(["train", "forecasting", "--preset", "quick", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def metrics(model_dir):
    return json.loads((model_dir / "metrics.json").read_text())


def test_a_finished_run_leaves_every_artifact(model_dir):
    for name in (
        "model.keras",
        "saved_model/saved_model.pb",
        *(f"{m}_{v}.tflite" for m in ("model", "step") for v in ("fp32", "fp16", "int8")),
        runtime.SETTINGS_FILE,
        "config.json",
        "metrics.json",
        "training_curves.png",
    ):
        assert (model_dir / name).exists(), name
    # The app's figures: OWA per series beside the baselines', and its forecast of a sample.
    for name in ("scores_by_series.png", "forecast_example.png"):
        assert (model_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_the_model_learned_more_than_an_untrained_one_and_its_intervals_mean_something(metrics):
    ours = metrics["metrics"]
    # Learning floor (seed 1234, quick preset, 6 series x 3 test windows). The same run with
    # learning_rate=1e-9 (untrained): OWA 2.33, 80% coverage 0.26. Trained: OWA 1.69,
    # coverage 0.73 (seasonal naive is 1.0 by definition; the quick model does not beat it).
    assert ours["owa"] < 2.0, ours
    assert 0.5 <= ours["coverage80"] <= 0.99, ours
    assert ours["coverage95"] >= ours["coverage80"]
    # The same windows and measures for every engine; int8 within 5% of fp32's MASE.
    fp32, int8 = metrics["litert"]["fp32"], metrics["litert"]["int8"]
    assert fp32["mase"] == pytest.approx(ours["mase"], rel=1e-3)
    assert int8["mase"] == pytest.approx(fp32["mase"], rel=0.05)
    # Baselines of the same run on the same windows, OWA against the same seasonal naive.
    assert metrics["baselines"]["seasonal_naive"]["owa"] == pytest.approx(1.0, abs=1e-3)
    assert set(metrics["baselines"]) >= {"naive", "anomaly_rolling_zscore"}
    # Anomalies: a threshold chosen on validation, scored on the test regions.
    anomalies = ours["anomalies"]
    assert anomalies["events"] >= 6 and 0.0 <= anomalies["f1"] <= 1.0
    assert anomalies["threshold"] == pytest.approx(
        metrics["training"]["after_training"]["anomaly_threshold"], rel=1e-3
    )
    assert not ours["overlap"]["leaks"]
    # The validation windows' backtest, recorded for choices: other windows, same measures.
    validation = metrics["training"]["after_training"]["validation_forecasts"]
    assert 0 < validation["owa"] < 2.0 and validation["mase"] != ours["mase"], validation
    # The shifted set: series of another source, never trained on, scored the same way.
    unseen = ours["held_out"]["unseen_series"]
    assert set(unseen["by_series"]) == {
        "macro_realgdp",
        "macro_cpi",
        "macro_unemp",
        "macro_realcons",
    }
    assert np.isfinite(unseen["owa"]) and unseen["owa"] > 0
    assert metrics["litert"]["fp32"]["held_out"]["unseen_series"]["owa"] == pytest.approx(
        unseen["owa"], rel=1e-3
    )


def test_predict_answers_a_csv_from_the_tflite_like_keras(model_dir, tmp_path, capsys):
    series = next(s for s in embedded_panel() if s.name == "airpassengers")
    path = tmp_path / "air.csv"
    write_csv(path, [series])
    capsys.readouterr()
    assert cli.main(["predict", "forecasting", str(path), "--model", str(model_dir), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out.strip().splitlines()[0])
    entry = answer["series"][0]
    assert entry["frequency"] == "monthly" and entry["horizon"] == 18
    assert entry["forecast"][0]["time"] == "1961-01-01"
    medians = np.array([row["median"] for row in entry["forecast"]])
    assert all(
        row["lo95"] <= row["lo80"] <= row["median"] <= row["hi80"] <= row["hi95"]
        for row in entry["forecast"]
    )
    # The Keras engine gives the same forecast (the parity check, through predict).
    assert (
        cli.main(
            [
                "predict",
                "forecasting",
                str(path),
                "--model",
                str(model_dir),
                "--json",
                "--engine",
                "keras",
            ]
        )
        == 0
    )
    keras_entry = json.loads(capsys.readouterr().out.strip().splitlines()[0])["series"][0]
    keras_medians = np.array([row["median"] for row in keras_entry["forecast"]])
    np.testing.assert_allclose(medians, keras_medians, rtol=1e-3)
    # A planted spike in the history gets the highest anomaly score of all its observations,
    # and the answer lists exactly the observations at or above the model's threshold (the
    # quick model's threshold, chosen on a barely trained model's validation, can be above it).
    values = series.values.copy()
    values[-30] += 25 * np.std(np.diff(values))
    spiked_series = type(series)(**{**series.__dict__, "values": values})
    spiked = tmp_path / "spiked.csv"
    write_csv(spiked, [spiked_series])
    predictor = ForecastingApp().load_predictor(model_dir, "litert")
    scores = runtime.stream_scores(predictor.forecast, [spiked_series], predictor.context, [1])[0]
    assert int(np.argmax(np.abs(scores))) == len(values) - 30 - 1  # scores start at index 1
    flagged = predictor.predict([str(spiked)])[0]["series"][0]["anomalies"]
    assert len(flagged) == int(np.sum(np.abs(scores) >= predictor.threshold))
    times = [
        str(stamp)[:10] for stamp in series.timestamps[1:][np.abs(scores) >= predictor.threshold]
    ]
    assert [a["time"] for a in flagged] == times


def test_a_bad_file_is_one_line_with_status_2_and_the_good_one_is_still_answered(
    model_dir, tmp_path, capsys
):
    good = tmp_path / "good.csv"
    write_csv(good, [next(s for s in embedded_panel() if s.name == "nile")])
    bad = tmp_path / "bad.csv"
    bad.write_text("ds,y\n2020-01-01,1\n2020-02-01,abc\n2020-03-01,3\n")
    capsys.readouterr()
    status = cli.main(["predict", "forecasting", str(bad), str(good), "--model", str(model_dir)])
    out, err = capsys.readouterr()
    assert status == 2
    errors = [line for line in err.splitlines() if line.startswith("rnnapps: error")]
    assert len(errors) == 1 and "bad.csv" in errors[0] and "abc" in errors[0]
    assert "nile" in out


def _stream_case(model_dir, cut: int = 120):
    from apps.forecasting.app import truncated

    series = next(s for s in embedded_panel() if s.name == "airpassengers")
    host = runtime.ForecastingRuntime(model_dir)
    return series, truncated(series, cut), host


def test_a_stream_starts_on_the_window_forecast_and_scores_on_the_thresholds_scale(
    model_dir, monkeypatch
):
    series, history, host = _stream_case(model_dir)
    monkeypatch.setattr(runtime, "IMPUTE_SCORE", float("inf"))  # nothing replaced, at first
    stream, twin = host.stream(history), host.stream(history)
    assert not any(step["replaced"] for step in stream.warm_up)
    # Its first forecast is the window model's from the same history (loc/scale alike).
    window = host.forecast(**runtime.series_windows(history, host.context))[0]
    np.testing.assert_allclose(stream.forecast, window, rtol=1e-4, atol=1e-3)
    # Calibration first (score 0), then raw scores standardised by a ScoreTracker.
    assert all(step["score"] == 0.0 for step in stream.warm_up[: runtime.WARM_UP + 1])
    tracker = runtime.ScoreTracker()
    expected = [tracker.update(step["raw"])[0] for step in stream.warm_up[1:]]
    got = [step["score"] for step in stream.warm_up[1:]]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # A planted spike far outside the forecast is flagged, scored past the threshold, and
    # fed to the model as the forecast's median: the next forecast is the one made from it.
    monkeypatch.setattr(runtime, "IMPUTE_SCORE", 3.0)
    median = float(stream.forecast[0, runtime.MEDIAN])
    width = float(stream.forecast[0, 3] - stream.forecast[0, 1])
    spike = stream.update(series.timestamps[120], median + 400 * width)
    assert spike["replaced"] and spike["flagged"] and spike["score"] >= host.threshold
    twin.update(series.timestamps[120], median)
    np.testing.assert_allclose(spike["forecast"], twin.forecast, rtol=1e-6)


def test_a_lasting_change_is_read_again_as_it_was(model_dir, monkeypatch):
    series, history, host = _stream_case(model_dir, cut=100)
    count = runtime.IMPUTE_RUN + 1
    stamps = series.timestamps[100 : 100 + count]
    shifted = series.values[100 : 100 + count] + 50 * np.std(series.values[:100])
    stream, plain = host.stream(history), host.stream(history)
    outs = [stream.update(t, v) for t, v in zip(stamps, shifted, strict=True)]
    # The shift is replaced for IMPUTE_RUN observations, then accepted: the stream goes back
    # and reads the real values, so it forecasts as a stream that never replaced anything.
    assert [out["replaced"] for out in outs] == [True] * runtime.IMPUTE_RUN + [False]
    monkeypatch.setattr(runtime, "IMPUTE_SCORE", float("inf"))  # the twin replaces nothing
    plains = [plain.update(t, v)["forecast"] for t, v in zip(stamps, shifted, strict=True)]
    assert not np.allclose(outs[-2]["forecast"], plains[-2], rtol=1e-2)  # while replaced
    np.testing.assert_allclose(outs[-1]["forecast"], plains[-1], rtol=1e-5, atol=1e-4)
