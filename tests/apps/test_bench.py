"""The benchmark harness on a tiny trained model: a well-formed results.json and README block."""

import copy
import dataclasses
import json

import keras
import numpy as np
import pytest

from apps import cli, registry
from apps.bench import common as bench_common
from apps.bench import flops as bench_flops
from apps.bench import machine as bench_machine
from apps.bench import measure as bench_measure
from apps.bench import models as bench_models
from apps.bench import results as bench_results
from apps.speech import data as speech_data
from apps.speech import model as speech_model
from apps.text_generation import model as text_model
from apps.video import model as video_model
from shared.app import QualityTarget
from shared.config import resolve_config
from shared.export import convert_to_tflite

pytestmark = pytest.mark.slow

OLD_BLOCK = "| stale | table |"
README = f"""# rnn-apps

## Results

{bench_common.START}
{OLD_BLOCK}
{bench_common.END}

## After the results
"""


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    assert (
        cli.main(["train", "sentiment", "--preset", "quick", "--out", str(root / "sentiment")]) == 0
    )
    return root


@pytest.fixture(scope="module")
def untrained_app():
    others = [name for name in registry.names() if name != "sentiment"]
    return others[0] if others else None


@pytest.fixture(scope="module")
def bench_run(models_dir, untrained_app, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    readme = folder / "README.md"
    readme.write_text(README)
    out = folder / "bench" / "results.json"
    apps = ["sentiment", *([untrained_app] if untrained_app else [])]
    assert bench_results.main(apps, out, readme, quick=True, models=models_dir) == 0
    return json.loads(out.read_text()), readme.read_text()


def test_results_describe_the_machine_and_its_limit(bench_run):
    results, _ = bench_run
    assert results["machine"]["cores"] >= 1
    assert results["machine"]["memory_bytes"] > 0
    assert results["machine"]["cpu_model"]
    assert {"tensorflow", "keras", "ai_edge_litert"} <= set(results["versions"])
    for threads in ("1", "2"):
        limit = results["machine_limit"][threads]
        assert limit["matmul_gflops"] > 0 and limit["matvec_gflops"] > 0
        assert {m["when"] for m in limit["measurements"]} == {"before", "after"}
    # Up to two threads can always do what one thread does.
    assert (
        results["machine_limit"]["2"]["matmul_gflops"]
        >= results["machine_limit"]["1"]["matmul_gflops"]
    )


def test_every_engine_is_evaluated_and_compared_with_the_baselines(bench_run, models_dir):
    results, _ = bench_run
    app = results["apps"]["sentiment"]
    assert app["status"] == "benchmarked"
    assert set(app["quality"]) == {"keras", "savedmodel", "fp32", "fp16", "int8"}
    for scores in app["quality"].values():
        assert 0.0 <= scores["f1_weighted"] <= 1.0
    # The same model re-evaluated now gives what the training run recorded.
    recorded = json.loads((models_dir / "sentiment" / "metrics.json").read_text())
    assert app["quality"]["keras"]["f1_weighted"] == pytest.approx(
        recorded["metrics"]["f1_weighted"]
    )
    assert set(app["baselines"]) == {"vader", "tfidf_logistic_regression"}
    vader = app["baselines"]["vader"]
    assert vader["ratio"]["f1_weighted"] == pytest.approx(
        app["quality"]["fp32"]["f1_weighted"] / vader["metrics"]["f1_weighted"]
    )
    for variant in ("fp32", "fp16", "int8"):
        answer = app["engines"][variant]["answer_latency"]
        assert 0 < answer["latency_ms_p50"] <= answer["latency_ms_p90"]
    assert app["engines"]["int8"]["size_bytes"] < app["engines"]["fp32"]["size_bytes"]
    assert app["training"]["examples_per_second"] > 0
    config = json.loads((models_dir / "sentiment" / "config.json").read_text())
    assert app["training"]["train_examples"] == config["train_limit"]  # the quick preset's


def test_every_tflite_is_timed_counted_and_placed_against_the_machine(bench_run, models_dir):
    results, _ = bench_run
    models = results["apps"]["sentiment"]["models"]
    assert set(models) == {"model_fp32.tflite", "model_fp16.tflite", "model_int8.tflite"}
    max_length = json.loads((models_dir / "sentiment" / "config.json").read_text())["max_length"]
    for figures in models.values():
        assert figures["inputs"] == "app.latency_inputs"
        assert not figures["per_step"]
        assert figures["flops"] > figures["flops_matmul"] > 0
        # A bidirectional GRU: two loops, one per direction, each over every token.
        assert [loop["trip_count"] for loop in figures["loops"]] == [max_length, max_length]
        assert {loop["source"] for loop in figures["loops"]} == {"loop condition"}
        assert figures["memory"]["inference_bytes"] > 0
        for threads in ("1", "2"):
            timing = figures["latency"][threads]
            assert 0 < timing["latency_ms_p50"] <= timing["latency_ms_p90"]
            assert 0 < figures["fraction_of_matmul_peak"][threads] <= 1
    # Quantised variants do the same arithmetic.
    assert models["model_int8.tflite"]["flops"] == models["model_fp32.tflite"]["flops"]


def test_untrained_apps_get_one_clear_line(bench_run, untrained_app):
    if untrained_app is None:
        pytest.skip("only sentiment is registered")
    results, readme = bench_run
    entry = results["apps"][untrained_app]
    assert entry["status"] == "not trained"
    assert f"rnnapps train {untrained_app}" in entry["message"]
    assert entry["message"] in readme


def test_the_readme_block_is_regenerated_between_the_markers(bench_run):
    _, readme = bench_run
    assert OLD_BLOCK not in readme
    assert readme.count(bench_common.START) == 1 and readme.count(bench_common.END) == 1
    block = readme.split(bench_common.START)[1].split(bench_common.END)[0]
    assert "| sentiment | f1_weighted |" in block
    assert "`model_int8.tflite`" in block
    assert "vader" in block
    assert readme.startswith("# rnn-apps") and readme.endswith("## After the results\n")


def test_flops_of_a_recurrent_model_are_counted_through_its_loop(tmp_path):
    steps, features, units, classes = 5, 3, 4, 2
    inputs = keras.Input(batch_shape=(1, steps, features), name="frames")
    hidden = keras.layers.GRU(units, name="gru")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(classes, name="head")(hidden))
    path = tmp_path / "model_fp32.tflite"
    path.write_bytes(convert_to_tflite(model, "fp32"))

    counted = bench_flops.count_flops(path)

    # Per step the GRU multiplies the input by [features, 3 units] and the state by
    # [units, 3 units]; the head multiplies the last state by [units, classes]. 2 FLOPs a MAC.
    expected = steps * 2 * (features + units) * 3 * units + 2 * units * classes
    assert counted["flops_matmul"] == expected
    assert counted["loops"] == [
        {"body": counted["loops"][0]["body"], "trip_count": steps, "source": "loop condition"}
    ]
    assert counted["uncounted_ops"] == []


def test_the_limit_at_two_threads_is_never_below_one_thread():
    measurements = [
        {"when": "before", "threads": 1, "size": 256, "matmul_gflops": 80.0, "matvec_gflops": 20.0},
        {"when": "before", "threads": 2, "size": 256, "matmul_gflops": 5.0, "matvec_gflops": 9.0},
        {"when": "after", "threads": 2, "size": 512, "matmul_gflops": 120.0, "matvec_gflops": 30.0},
    ]
    limits = bench_machine.machine_limits(measurements)
    assert limits["1"]["matmul_gflops"] == 80.0
    assert (limits["2"]["matmul_gflops"], limits["2"]["matmul_size"]) == (120.0, 512)
    assert limits["2"]["matvec_gflops"] == 30.0


def test_ratios_compare_each_shared_scalar_metric():
    ours = {"accuracy": 0.9, "count": 10, "by_domain": {}, "bleu": 0.3}
    baselines = {"classic": {"accuracy": 0.6, "count": 10, "by_domain": {}}}
    ratios = bench_measure.baseline_ratios(ours, baselines)
    assert ratios["classic"]["ratio"] == {"accuracy": pytest.approx(1.5)}
    # A baseline scored per split is compared on its test split.
    per_split = {"references": {"test": {"bleu": 0.6}, "compositional": {"bleu": 0.9}}}
    ratios = bench_measure.baseline_ratios(ours, per_split)
    assert ratios["references"]["ratio"] == {"bleu": pytest.approx(0.5)}


def test_the_strongest_baseline_is_the_best_by_the_metrics_direction():
    ours = {"accuracy": 0.9, "bits_per_character": 2.0}
    baselines = bench_measure.baseline_ratios(
        ours,
        {
            "weak": {"accuracy": 0.5, "bits_per_character": 3.0},
            "strong": {"test": {"accuracy": 0.8, "bits_per_character": 2.5}},
            "other_metric": {"bleu": 9.0},
        },
    )
    assert bench_measure.strongest_baseline(baselines, "accuracy", False) == "strong"
    assert bench_measure.strongest_baseline(baselines, "bits_per_character", True) == "strong"
    assert bench_measure.strongest_baseline(baselines, "f1", False) is None


def test_a_control_joins_the_baselines_with_the_figure_measured_now():
    video = registry.get_app("video")
    quality = {"fp32": {"accuracy": 0.99, "shuffled_frames_accuracy": 0.25}}
    recorded = {"baselines": {"chance": {"accuracy": 0.125}}}
    baselines = bench_measure.with_controls(video, quality, recorded)
    assert baselines["shuffled_frame_control"] == {"accuracy": 0.25}
    assert baselines["chance"] == {"accuracy": 0.125}
    assert recorded["baselines"] == {"chance": {"accuracy": 0.125}}  # not changed in place
    ratios = bench_measure.baseline_ratios(quality["fp32"], baselines)
    assert ratios["shuffled_frame_control"]["ratio"] == {"accuracy": pytest.approx(3.96)}
    # An app without controls keeps the recorded baselines; a control not measured is left out.
    assert (
        bench_measure.with_controls(registry.get_app("sentiment"), quality, recorded)
        == recorded["baselines"]
    )
    assert "shuffled_frame_control" not in bench_measure.with_controls(
        video, {"fp32": {"accuracy": 0.99}}, recorded
    )


def test_the_engine_memory_probe_measures_a_fresh_process(models_dir):
    app = registry.get_app("sentiment")
    memory = bench_models.engine_memory(app, models_dir / "sentiment", "fp32", ["a fine film"])
    assert 0 < memory["inference_bytes"] < memory["peak_rss_bytes"]


def test_cold_predict_times_whole_fresh_commands_and_reports_a_failure(models_dir, tmp_path):
    app = registry.get_app("sentiment")
    cold = bench_measure.cold_predict(app, models_dir / "sentiment", runs=2)
    assert len(cold["runs"]) == 2 and 0 < cold["seconds_p50"] < 60
    assert "no trained model" in bench_measure.cold_predict(app, tmp_path, runs=1)["error"]


# ---------------------------------------------------------------------------
# Time to the quality target, from a run's per-epoch history


def _history(column: str, values: list[float], val_losses: list[float] | None = None) -> list:
    """Rows as ``metrics.json`` holds them: epoch 0-based, 10 s more per epoch."""
    val_losses = val_losses or [1.0 / (epoch + 1) for epoch in range(len(values))]
    return [
        {"epoch": epoch, "seconds": 10.0 * (epoch + 1), "val_loss": loss, column: value}
        for epoch, (value, loss) in enumerate(zip(values, val_losses, strict=True))
    ]


ACCURACY_TARGET = QualityTarget("val_accuracy", 0.98, "max", "issue 7")


def test_time_to_target_is_the_first_epoch_that_meets_the_goal():
    # Met (at exactly the goal) at epoch index 2, bettered later: the first one counts.
    history = _history("val_accuracy", [0.5, 0.9, 0.98, 0.99, 0.97])
    reached = bench_measure.time_to_target(history, ACCURACY_TARGET)
    assert reached["status"] == "reached"
    assert (reached["seconds"], reached["epochs"]) == (30.0, 3)
    assert (reached["best"], reached["best_epochs"]) == (0.99, 4)
    assert (reached["metric"], reached["goal"], reached["mode"]) == ("val_accuracy", 0.98, "max")


def test_time_to_target_not_reached_keeps_the_best_value():
    history = _history("val_accuracy", [0.5, 0.95, 0.93, float("nan")])
    missed = bench_measure.time_to_target(history, ACCURACY_TARGET)
    assert missed["status"] == "not reached"
    assert missed["seconds"] is None
    assert (missed["best"], missed["best_epochs"]) == (0.95, 2)


def test_a_min_target_is_met_at_or_below_the_goal():
    bits = [2.5, 2.1, 1.9, 1.95]
    history = _history("val_bits_per_character", bits)
    lower = QualityTarget("val_bits_per_character", 2.0, "min", "fewer bits")
    assert bench_measure.time_to_target(history, lower)["epochs"] == 3
    assert bench_measure.time_to_target(history, lower)["best"] == 1.9
    # The same numbers read as "at least 2.0" are met at once: the mode decides.
    higher = dataclasses.replace(lower, mode="max")
    assert bench_measure.time_to_target(history, higher)["epochs"] == 1
    assert bench_measure.time_to_target(history, higher)["best"] == 2.5


def test_no_history_no_target_or_no_column_give_no_time():
    history = _history("val_accuracy", [0.99])
    assert bench_measure.time_to_target(history, None) == {"status": "no target", "seconds": None}
    for empty in (None, []):
        assert bench_measure.time_to_target(empty, ACCURACY_TARGET)["status"] == "no history"
        assert bench_measure.time_to_best(empty) is None
    other = dataclasses.replace(ACCURACY_TARGET, metric="val_f1")
    assert bench_measure.time_to_target(history, other)["status"] == "metric not logged"


def test_an_alias_column_is_read_when_the_metric_is_not_logged():
    # Speech without its transcriber logs keyword accuracy without the output's prefix.
    history = _history("val_categorical_accuracy", [0.9, 0.975])
    target = registry.get_app("speech").run_quality_target({})
    reached = bench_measure.time_to_target(history, target)
    assert (reached["status"], reached["metric"], reached["epochs"]) == (
        "reached",
        "val_categorical_accuracy",
        2,
    )


def test_the_text_generation_goal_is_a_tenth_below_the_runs_tuned_kneser_ney_baseline():
    app = registry.get_app("text_generation")
    metrics = {"baselines": {"kneser_ney": {"bits_per_character": 2.2}}}
    target = app.run_quality_target(metrics)
    assert (target.metric, target.mode) == ("val_bits_per_character", "min")
    assert target.goal == pytest.approx(1.98)
    history = _history("val_bits_per_character", [2.4, 2.0, 1.97])
    assert bench_measure.time_to_target(history, target)["seconds"] == 30.0
    # A run that did not score the n-gram has no goal to reach.
    assert app.run_quality_target({"baselines": {}}) is None
    assert (
        bench_measure.time_to_target(history, app.run_quality_target({}))["status"] == "no target"
    )


def test_bleu_and_f1_targets_read_what_the_apps_log_each_epoch():
    translation = registry.get_app("translation").run_quality_target({})
    captioning = registry.get_app("captioning").run_quality_target({})
    assert (translation.metric, translation.goal) == ("val_bleu", 95.0)
    assert (captioning.metric, captioning.goal) == ("val_bleu4", 0.90)
    history = _history("val_bleu", [60.0, 94.9, 95.2])
    assert bench_measure.time_to_target(history, translation)["epochs"] == 3
    # Sentiment's goal is VADER's weighted F1 on the validation snippets the run scored.
    sentiment = registry.get_app("sentiment")
    vader = {"f1_weighted": 0.63, "validation": {"f1_weighted": 0.61, "count": 500}}
    target = sentiment.run_quality_target({"baselines": {"vader": vader}})
    assert (target.metric, target.goal, target.mode) == ("val_f1_weighted", 0.61, "max")
    history = _history("val_f1_weighted", [0.55, 0.6, 0.62])
    assert bench_measure.time_to_target(history, target)["seconds"] == 30.0
    # A run recorded before VADER was scored there has no goal; its test figure is no stand-in.
    older = {"baselines": {"vader": {"f1_weighted": 0.63}}}
    assert sentiment.run_quality_target(older) is None
    # The validation figure is no test-split score to compare with.
    ratios = bench_measure.baseline_ratios({"f1_weighted": 0.7}, {"vader": vader})
    assert ratios["vader"]["ratio"] == {"f1_weighted": pytest.approx(0.7 / 0.63)}


def test_time_to_best_is_the_first_epoch_of_the_lowest_validation_loss():
    history = _history("val_accuracy", [0.5, 0.6, 0.7, 0.8], val_losses=[1.0, 0.4, 0.4, 0.6])
    assert bench_measure.time_to_best(history) == {"seconds": 20.0, "epochs": 2, "val_loss": 0.4}


def test_the_training_table_shows_the_target_and_both_times(bench_run, models_dir):
    results, readme = bench_run
    # The quick run's own history: its weighted F1 per epoch against VADER's on the same
    # validation snippets (`baselines`), and its validation loss.
    recorded = json.loads((models_dir / "sentiment" / "metrics.json").read_text())
    history = recorded["training"]["history"]
    best = min(history, key=lambda row: row["val_loss"])
    training = results["apps"]["sentiment"]["training"]
    vader = recorded["baselines"]["vader"]["validation"]["f1_weighted"]
    reached = training["time_to_target"]
    assert (reached["metric"], reached["goal"]) == ("val_f1_weighted", vader)
    assert reached["best"] == max(row["val_f1_weighted"] for row in history)
    assert reached["status"] == ("reached" if reached["best"] >= vader else "not reached")
    assert training["time_to_best"]["epochs"] == best["epoch"] + 1
    header = readme.split("| app | preset |")[1].split("\n")[0]
    assert header.endswith("| validation target | time to target | time to best |")
    assert f"| val_f1_weighted ≥ {vader:.3f} |" in readme
    assert f" {best['seconds']:.0f} s (epoch {best['epoch'] + 1}) |" in readme
    assert "Time to target" in readme

    reached = copy.deepcopy(results)
    reached_training = reached["apps"]["sentiment"]["training"]
    reached_training["time_to_target"] = bench_measure.time_to_target(
        _history("val_accuracy", [0.9, 0.985]), ACCURACY_TARGET
    )
    assert "| val_accuracy ≥ 0.980 | 20 s (epoch 2) |" in bench_results.results_markdown(reached)
    reached_training["time_to_target"] = bench_measure.time_to_target(
        _history("val_accuracy", [0.9, 0.95123]), ACCURACY_TARGET
    )
    assert "| val_accuracy ≥ 0.980 | not reached (best 0.951) |" in bench_results.results_markdown(
        reached
    )


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("speech", []),
        ("speech", ["transcription=false"]),
        ("video", []),
        ("text_generation", []),
    ],
)
def test_each_target_names_a_column_its_models_history_logs(name, overrides):
    """One fit step on zeros of the app's quick model: the target's column is among the logs."""
    app = registry.get_app(name)
    config = resolve_config(app.config_class, "quick", overrides)
    batch = 2
    if name == "speech":
        model = speech_model.build_model(config)
        inputs = {
            tensor.name.split(":")[0]: np.zeros((batch, *tensor.shape[1:]), np.float32)
            for tensor in model.inputs
        }
        targets = {"keyword": np.eye(len(speech_data.LABELS), dtype=np.float32)[:batch]}
        if config.transcription:
            targets["transcript"] = np.ones((batch, 64), np.int32)  # character ids, 0-padded
    elif name == "video":
        model = video_model.build_model(config, num_classes=3, num_frames=4, frame_shape=(16, 16))
        inputs = {
            "frames": np.zeros((batch, 4, 16, 16, 3), np.uint8),
            "length": np.full(batch, 4, np.int32),
        }
        targets = np.zeros(batch, np.int64)
    else:
        model = text_model.build_model(config, vocabulary_size=8)
        batch, length = model.inputs[0].shape  # stateful: a fixed batch
        inputs = targets = np.zeros((batch, length), np.int32)
    logs = model.fit(
        inputs, targets, batch_size=batch, validation_data=(inputs, targets), verbose=0
    ).history
    target = app.run_quality_target({"baselines": {"kneser_ney": {"bits_per_character": 2.0}}})
    assert target.column([logs]) is not None, sorted(logs)


def test_make_bench_trains_the_missing_and_demo_only_apps_with_the_default_preset(
    tmp_path, monkeypatch
):
    import shared.workflow

    for name, preset in (("sentiment", "default"), ("video", "demo")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps({"preset": preset}))
    trained = []

    def fake_train(app, config, source, out):
        trained.append((app.name, config.epochs, out))

    monkeypatch.setattr(shared.workflow, "train", fake_train)
    cli.train_missing(["sentiment", "video", "translation"], tmp_path)
    expected = [
        (
            name,
            resolve_config(registry.get_app(name).config_class, "default").epochs,
            tmp_path / name,
        )
        for name in ("video", "translation")
    ]
    assert trained == expected
