"""Quick preset: train -> export -> convert -> generate from the .tflite, through the CLI."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from apps import cli
from apps.text_generation.app import TextGenerationApp
from shared.errors import UserError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_dir(train_quick):
    return train_quick()


@pytest.fixture(scope="module")
def predictors(model_dir):
    app = TextGenerationApp()
    return {engine: app.load_predictor(model_dir, engine) for engine in ("litert", "savedmodel")}


def test_a_finished_run_leaves_every_artifact(model_dir):
    for name in (
        "model.keras",
        "saved_model/saved_model.pb",
        "model_fp32.tflite",
        "model_fp16.tflite",
        "model_int8.tflite",
        "vocabulary.json",
        "config.json",
        "metrics.json",
        "model_card.md",
    ):
        assert (model_dir / name).exists(), name


def test_metrics_json_holds_bits_per_character_beside_the_ngram(model_dir):
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert (metrics["app"], metrics["data"], metrics["preset"]) == (
        "text_generation",
        "vader",
        "quick",
    )
    keras_bpc = metrics["metrics"]["bits_per_character"]
    # Learning floor (seed 1234, quick preset: 5 passes over 40k characters): the model
    # measured 3.57 bits per character on the test text; the unigram model (character
    # frequencies, what a model that learnt no context gets) 4.61, uniform guessing over the
    # 82 ids 6.36. A model that stopped learning cannot pass 4.0.
    unigram = metrics["baselines"]["unigram"]["bits_per_character"]
    assert keras_bpc < 4.0 < unigram < np.log2(metrics["metrics"]["tokens"])
    ngram = metrics["baselines"]["kneser_ney"]
    assert (ngram["tuned_on"], set(ngram["chosen"])) == ("validation", {"order", "discount"})
    grid = ngram["validation"]["grid"]
    assert ngram["validation"]["bits_per_character"] == min(
        bits for row in grid.values() for bits in row.values()
    )
    assert 0.5 < ngram["bits_per_character"] < unigram
    assert metrics["savedmodel"]["bits_per_character"] == pytest.approx(keras_bpc, abs=1e-5)
    # The LiteRT step model, stepped character by character, scores what Keras scores.
    assert metrics["litert"]["fp32"]["bits_per_character"] == pytest.approx(keras_bpc, abs=1e-4)
    # The shifted set: another kind of text, scored by every engine and by the n-gram.
    shifted = metrics["metrics"]["held_out"]["sklearn_docs"]
    assert shifted["characters"] >= 2000 and shifted["description"].startswith("scikit-learn")
    assert 0.5 < shifted["bits_per_character"] < 8.0
    assert 0.5 < ngram["held_out"]["sklearn_docs"]["bits_per_character"] < 8.0
    assert metrics["litert"]["fp32"]["held_out"]["sklearn_docs"][
        "bits_per_character"
    ] == pytest.approx(shifted["bits_per_character"], abs=1e-4)
    # Split hygiene, recorded once (keras): no document in two splits.
    assert metrics["metrics"]["overlap"]["train/test"]["rows"] == 0
    assert "overlap" not in metrics["litert"]["fp32"]
    for variant in ("fp32", "fp16", "int8"):
        scores = metrics["litert"][variant]
        assert scores["characters"] == metrics["metrics"]["characters"] > 1000
        assert scores["characters_per_second"] > 0 and scores["latency_characters"] == 200
        assert scores["size_bytes"] == (model_dir / f"model_{variant}.tflite").stat().st_size
    samples = metrics["metrics"]["samples"]
    assert set(samples) == {"temperature_0.5", "temperature_1"}
    assert all("prompt" in s and "text" in s for s in samples["temperature_1"])
    for ops in metrics["ops"].values():
        assert "WHILE" not in ops and not any("Flex" in op or "CUSTOM" in op for op in ops)


def test_litert_greedy_generation_equals_savedmodel_greedy_generation(predictors):
    for prompt in ("The movie was", "", "naïve café ☕ \ufffd"):
        texts = {
            engine: predictor.generate(prompt, 60, temperature=0.0, seed=0)
            for engine, predictor in predictors.items()
        }
        assert texts["litert"] == texts["savedmodel"], prompt


def test_keras_engine_generates_like_the_savedmodel(model_dir, predictors):
    keras_predictor = TextGenerationApp().load_predictor(model_dir, "keras")
    for temperature in (0.0, 1.0):
        assert keras_predictor.generate("It was", 40, temperature, seed=3) == predictors[
            "savedmodel"
        ].generate("It was", 40, temperature, seed=3)


def test_seeds_make_sampling_reproducible(predictors):
    litert = predictors["litert"]
    first = litert.generate("The", 80, temperature=1.0, top_p=1.0, seed=1, stop_at_end=False)
    assert first == litert.generate("The", 80, 1.0, top_p=1.0, seed=1, stop_at_end=False)
    assert len(first) == 80
    others = {
        litert.generate("The", 80, 1.0, top_p=1.0, seed=s, stop_at_end=False) for s in range(2, 6)
    }
    assert len(others | {first}) > 1


def test_savedmodel_generate_signature_runs_the_loop_in_the_graph(model_dir):
    loaded = tf.saved_model.load(str(model_dir / "saved_model"))
    assert {"serving_default", "generate", "logits", "encode"} <= set(loaded.signatures)
    arguments = dict(
        prompt=tf.constant("The movie was"),
        length=tf.constant(25),
        temperature=tf.constant(0.7),
        seed=tf.constant(4),
        top_k=tf.constant(10),
        top_p=tf.constant(0.9),
    )
    text = loaded.signatures["generate"](**arguments)["text"].numpy().decode("utf-8")
    assert 0 <= len(text) <= 25 and "\ufffd" not in text
    assert loaded.signatures["serving_default"](**arguments)["text"].numpy().decode() == text
    ids = loaded.signatures["encode"](text=tf.constant("Ab\u2603"))["token_ids"].numpy()
    assert ids[0] == 0 and ids[-1] == 1 and len(ids) == 4  # <s> A b <unknown>


def test_predict_json_generates_from_the_tflite(model_dir, capsys):
    code = cli.main(
        ["predict", "text_generation", "The movie was", "--model", str(model_dir), "--json"]
    )
    assert code == 0
    answer = json.loads(capsys.readouterr().out.strip())
    assert set(answer) == {"input", "text"} and answer["input"] == "The movie was"
    assert isinstance(answer["text"], str) and len(answer["text"]) <= 200


def test_bad_prompts_fail_alone_and_odd_ones_are_answered(model_dir, capsys):
    inputs = ["", "x" * 10_001, "bad \udcff bytes and ✈ unknown", "ok"]
    code = cli.main(["predict", "text_generation", *inputs, "--model", str(model_dir), "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    # Undecodable bytes (a lone surrogate here) are shown and read as U+FFFD.
    assert [json.loads(line)["input"] for line in out.splitlines()] == [
        "",
        "bad \ufffd bytes and ✈ unknown",
        "ok",
    ]
    errors = err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("rnnapps: error: ")
    assert "10,001 characters" in errors[0]


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(length=0), "--length 0"),
        (dict(length=10**9), "--length 1000000000"),
        (dict(temperature=-1.0), "--temperature -1.0"),
        (dict(temperature=float("nan")), "--temperature nan"),
        (dict(temperature=1e6), "--temperature 1000000.0"),
        (dict(top_p=0.0), "--top-p 0.0"),
        (dict(top_k=-2), "--top-k -2"),
        (dict(seed=-1), "--seed -1"),
    ],
)
def test_absurd_options_are_user_errors(predictors, options, message):
    with pytest.raises(UserError, match=message.replace(".", r"\.")):
        TextGenerationApp().predict(predictors["litert"], ["The movie was"], **options)


def test_user_errors_exit_2_without_traceback():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-m", "apps.cli", "train", "text_generation", "--set", "cell=transformer"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cell=transformer" in result.stderr.strip().splitlines()[-1]


def test_hostile_inputs_get_an_answer_or_a_one_line_error(model_dir):
    """Fuzz the on-device predict path: random Unicode, control characters, huge texts."""
    from apps.text_generation.app import TextGenerationApp
    from tests.apps.fuzzing import fuzz_predict

    app = TextGenerationApp()
    predictor = app.load_predictor(model_dir, "litert", "fp32")
    tried = fuzz_predict(app, predictor, "text", max_examples=60, length=10)
    print(f"text_generation: {tried} hostile inputs tried")
    assert tried >= 60 // 2  # hypothesis may stop early once it has seen every case


def test_the_runtime_answers_without_tensorflow(model_dir):
    """The LiteRT runtime, and `rnnapps predict` on it, load and answer in a process where
    TensorFlow and Keras cannot be imported.

    Greedy text is compared with the full stack's Keras engine, which writes the same text.
    A seeded sample cannot be: the graph engines draw from TensorFlow's stateless stream, the
    host loop from NumPy's. It is compared with the full stack's LiteRT answer in this process
    (TensorFlow loaded), the same draws the LiteRT loop made before it left TensorFlow: the
    stream itself is pinned by test_model's ``test_the_host_draws_of_a_seed_are_pinned``.
    """
    from shared.runtime.isolation import run_without_tensorflow

    prompts = [*TextGenerationApp.sample_inputs, "bad \udcff bytes ✈", "x" * 10_001]
    greedy = dict(length=60, temperature=0.0)
    sampled = dict(length=80, temperature=1.0, top_k=20, top_p=0.9, seed=7)
    code = f"""
import json
from apps import cli
from apps.text_generation.runtime import TextGenerationRuntime
from shared.errors import UserError
runtime = TextGenerationRuntime({str(model_dir)!r}, "fp32")
for options in ({greedy!r}, {sampled!r}):
    answers = runtime.predict({prompts!r}, **options)
    print(json.dumps([a if isinstance(a, dict) else "error: " + str(a) for a in answers]))
try:
    runtime.predict(["The"], temperature=-1.0)
except UserError as error:
    print(json.dumps(str(error)))
status = cli.main(["predict", "text_generation", *{prompts[:3]!r}, "--model",
                   {str(model_dir)!r}, "--json", "--seed", "7", "--top-k", "20", "--top-p",
                   "0.9", "--temperature", "1.0", "--length", "80"])
print(json.dumps({{"status": status}}))
"""
    lines = run_without_tensorflow(code).splitlines()
    got_greedy, got_sampled, option_error = (json.loads(line) for line in lines[:3])
    from_cli, status = [json.loads(line) for line in lines[3:-1]], json.loads(lines[-1])
    app = TextGenerationApp()

    def shown(answers: list) -> list:
        return [a if isinstance(a, dict) else f"error: {a}" for a in answers]

    keras = app.load_predictor(model_dir, "keras")
    assert got_greedy == shown(app.predict(keras, prompts, **greedy))
    litert = app.load_predictor(model_dir, "litert")
    assert got_sampled == shown(app.predict(litert, prompts, **sampled))
    assert any(answer["text"] for answer in got_sampled[:4])  # not four empty texts alike
    assert got_sampled[-1].startswith("error: ") and "10,001 characters" in got_sampled[-1]
    with pytest.raises(UserError) as error:
        app.predict(keras, ["The"], temperature=-1.0)
    assert option_error == str(error.value)
    assert from_cli == got_sampled[:3] and status == {"status": 0}
