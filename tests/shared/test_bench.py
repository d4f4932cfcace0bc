"""The benchmark harness on a tiny trained model: a well-formed results.json and README block."""

import json

import keras
import pytest

from apps import cli, registry
from shared import bench
from shared.export import convert_to_tflite

pytestmark = pytest.mark.slow

OLD_BLOCK = "| stale | table |"
README = f"""# rnn-apps

## Results

{bench.START}
{OLD_BLOCK}
{bench.END}

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
    assert bench.main(apps, out, readme, quick=True, models=models_dir) == 0
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
    assert readme.count(bench.START) == 1 and readme.count(bench.END) == 1
    block = readme.split(bench.START)[1].split(bench.END)[0]
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

    counted = bench.count_flops(path)

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
    limits = bench.machine_limits(measurements)
    assert limits["1"]["matmul_gflops"] == 80.0
    assert (limits["2"]["matmul_gflops"], limits["2"]["matmul_size"]) == (120.0, 512)
    assert limits["2"]["matvec_gflops"] == 30.0


def test_ratios_compare_each_shared_scalar_metric():
    ours = {"accuracy": 0.9, "count": 10, "by_domain": {}, "bleu": 0.3}
    baselines = {"classic": {"accuracy": 0.6, "count": 10, "by_domain": {}}}
    ratios = bench.baseline_ratios(ours, baselines)
    assert ratios["classic"]["ratio"] == {"accuracy": pytest.approx(1.5)}
    # A baseline scored per split is compared on its test split.
    per_split = {"references": {"test": {"bleu": 0.6}, "compositional": {"bleu": 0.9}}}
    ratios = bench.baseline_ratios(ours, per_split)
    assert ratios["references"]["ratio"] == {"bleu": pytest.approx(0.5)}


def test_the_engine_memory_probe_measures_a_fresh_process(models_dir):
    app = registry.get_app("sentiment")
    memory = bench.engine_memory(app, models_dir / "sentiment", "fp32", ["a fine film"])
    assert 0 < memory["inference_bytes"] < memory["peak_rss_bytes"]
