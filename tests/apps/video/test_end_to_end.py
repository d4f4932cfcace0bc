"""Quick preset: train -> export -> convert -> predict clips from the .tflite, through the CLI."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from apps import cli
from apps.video import data, generator
from apps.video.app import VideoApp
from apps.video.predictor import VideoPredictor
from apps.video.runtime import VideoRuntime

# Anything these tests cache goes to a temporary folder (tests/conftest.py), restored afterwards.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("data_cache")]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "video"
    assert cli.main(["train", "video", "--preset", "quick", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {
        name: data.write_sample_clip(folder / f"{name}.mp4", name, seed=4) for name in data.CLASSES
    }


def test_a_finished_run_leaves_every_artifact(model_dir):
    for name in (
        "model.keras",
        "saved_model/saved_model.pb",
        *(
            f"{model}_{variant}.tflite"
            for model in ("model", "step")
            for variant in ("fp32", "fp16", "int8")
        ),
        "classes.json",
        "confusion_matrix.png",
        "config.json",
        "metrics.json",
        "model_card.md",
    ):
        assert (model_dir / name).exists(), name
    assert (model_dir / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_metrics_json_reports_the_control_streaming_and_both_latencies(model_dir):
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert (metrics["app"], metrics["data"], metrics["preset"]) == ("video", "default", "quick")
    keras_scores = metrics["metrics"]
    assert 0.0 <= keras_scores["shuffled_frames_accuracy"] <= 1.0
    assert keras_scores["chance_accuracy"] == pytest.approx(1 / 8)
    matrix = np.array(keras_scores["confusion_matrix"])
    assert matrix.shape == (8, 8) and matrix.sum() == keras_scores["count"]
    assert np.trace(matrix) / matrix.sum() == pytest.approx(keras_scores["accuracy"])
    recalls = keras_scores["recall_per_class"]
    assert list(recalls) == list(data.CLASSES)
    np.testing.assert_allclose(list(recalls.values()), np.diag(matrix) / matrix.sum(axis=1))
    # The held-out sets, per engine, with their descriptions; the split hygiene report.
    for scores in (keras_scores, *metrics["litert"].values()):
        assert set(scores["held_out"]) == set(data.HELD_OUT_SETS)
        for name, entry in scores["held_out"].items():
            assert entry["description"] == data.HELD_OUT_SETS[name] and entry["count"] == 16
            assert 0.0 <= entry["accuracy"] <= 1.0 and len(entry["recall_per_class"]) == 8
    assert set(keras_scores["overlap"]) == {"clips", "sprites"}
    assert all(
        pair["rows"] == 0 for report in keras_scores["overlap"].values() for pair in report.values()
    )
    headline = VideoApp().headline(metrics)
    assert set(headline["held_out"]) == set(data.HELD_OUT_SETS)
    report = VideoApp().report(metrics)
    assert "| test, Keras | " in report and "| faster_motion, Keras | " in report
    assert "Split hygiene: 0 clips" in report
    logistic = metrics["baselines"]["frame_difference_logistic"]
    assert logistic["tuned_on"] == "validation" and logistic["chosen"]["C"] in (
        0.01,
        0.1,
        1,
        10,
        100,
    )
    best = max(logistic["validation_accuracy"].values())
    assert logistic["validation_accuracy"][str(float(logistic["chosen"]["C"]))] == best
    for variant in ("fp32", "fp16", "int8"):
        scores = metrics["litert"][variant]
        assert scores["latency_ms_p50"] > 0 and scores["step_latency_ms_p50"] > 0
        assert scores["size_bytes"] == sum(
            (model_dir / f"{model}_{variant}.tflite").stat().st_size for model in ("model", "step")
        )
        # The step model streamed over every test clip ends where the clip model does.
        assert scores["streaming_accuracy"] == scores["accuracy"]
        assert scores["streaming_max_abs_diff"] < 1e-3
    assert metrics["litert"]["fp32"]["accuracy"] == pytest.approx(keras_scores["accuracy"])
    assert metrics["litert"]["fp32"]["streaming_max_abs_diff"] < 1e-4
    for file_name, ops in metrics["ops"].items():
        assert not any("Flex" in op or "CUSTOM" in op for op in ops)
        assert ("WHILE" in ops) == file_name.startswith("model_")


def test_the_quick_model_learns_the_motions(model_dir):
    """A learning floor: a model stuck at chance, or one that reads frames but not their
    order, cannot pass. Measured with the quick preset (seed 1234, split seed 1234, one
    thread): test accuracy 0.719 on 64 clips, the shuffled-frame control 0.125, chance 0.125;
    the floor of 0.4 sits well between (an untrained model is at chance)."""
    metrics = json.loads((model_dir / "metrics.json").read_text())
    keras_scores = metrics["metrics"]
    assert keras_scores["count"] == 64
    assert keras_scores["accuracy"] >= 0.4
    assert keras_scores["accuracy"] >= keras_scores["shuffled_frames_accuracy"] + 0.2
    assert metrics["litert"]["fp32"]["accuracy"] >= 0.4


def test_savedmodel_takes_uint8_frames_and_streams(model_dir):
    loaded = tf.saved_model.load(str(model_dir / "saved_model"))
    frames, length = data.load_video(data.write_sample_clip(model_dir.parent / "c.gif", "grow"))
    out = loaded.signatures["serving_default"](
        frames=tf.constant(frames[None]), length=tf.constant([length], tf.int32)
    )
    classes = json.loads((model_dir / "classes.json").read_text())
    assert out["label"].numpy()[0].decode() in classes
    state = tf.zeros(loaded.signatures["step"].structured_input_signature[1]["state"].shape[1:])[
        None
    ]
    previous = tf.zeros((1, 64, 64, 3))
    for frame in frames:
        step = loaded.signatures["step"](
            frame=tf.constant(frame[None]), previous_frame=previous, state=state
        )
        state, previous = step["next_state"], step["next_previous_frame"]
    np.testing.assert_allclose(step["probabilities"], out["probabilities"], atol=1e-5)


def test_predict_json_answers_from_the_tflite(model_dir, clips, capsys):
    path = str(clips["move_left"])
    assert cli.main(["predict", "video", path, "--model", str(model_dir), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out.strip())
    assert set(answer) >= {"input", "label", "score"}
    assert answer["input"] == path and answer["label"] in data.CLASSES
    assert 1 / 8 - 1e-3 <= answer["score"] <= 1.0 and answer["frames"] == 16


def test_engines_agree_on_answers(model_dir, clips, capsys):
    paths = [str(clips[name]) for name in ("grow", "move_up", "rotate_clockwise")]
    answers = {}
    for engine in ("litert", "savedmodel", "keras"):
        args = ["predict", "video", *paths, "--model", str(model_dir), "--json", "--engine", engine]
        assert cli.main(args) == 0
        answers[engine] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    for engine in ("savedmodel", "keras"):
        for a, b in zip(answers["litert"], answers[engine], strict=True):
            assert a["label"] == b["label"]
            assert a["score"] == pytest.approx(b["score"], abs=1e-3)


def test_short_odd_clip_is_padded_and_streaming_matches(model_dir, tmp_path):
    # 5 frames of 37x23 at 3 fps: resized, padded to 16 and masked.
    clip = generator.make_clip("move_down", 9)[:5, ::2, ::3]
    path = tmp_path / "short.gif"
    from PIL import Image

    pictures = [Image.fromarray(frame) for frame in clip]
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=333, loop=0)
    predictor = VideoRuntime(model_dir)
    [answer] = VideoApp().predict(predictor, [str(path)])
    assert answer["frames"] == 5
    frames, length = data.load_video(path)
    streamed = predictor.stream(frames, length)
    assert streamed.shape == (5, 8)
    np.testing.assert_allclose(streamed[-1].max(), answer["score"], atol=1e-4)


def test_label_over_time_figure_draws_the_streamed_answer(model_dir, clips):
    import io

    from PIL import Image

    predictor = VideoRuntime(model_dir)
    app = VideoApp()
    [answer] = app.predict(predictor, [str(clips["move_up"])])
    png = app.figure(predictor, str(clips["move_up"]), [answer])
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (700, 260)
    # The figure is drawn from the stream; its last step is the answer the page shows.
    frames, length = data.load_video(clips["move_up"])
    streamed = predictor.stream(frames, length)
    assert predictor.classes[int(streamed[-1].argmax())] == answer["label"]
    assert app.figure(VideoPredictor(model_dir, "savedmodel"), str(clips["move_up"]), []) is None


def test_bad_inputs_fail_alone_with_one_line_each(model_dir, clips, capsys, tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text("not a video at all\n" * 10)
    inputs = [
        str(tmp_path / "missing.mp4"),
        str(clips["shrink"]),
        str(tmp_path / "empty.mp4"),
        str(tmp_path / "notes.mp4"),
        str(tmp_path),
    ]
    code = cli.main(["predict", "video", *inputs, "--model", str(model_dir), "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert [json.loads(line)["input"] for line in out.splitlines()] == [str(clips["shrink"])]
    errors = err.strip().splitlines()
    assert len(errors) == 4 and all(line.startswith("rnnapps: error: ") for line in errors)
    assert "missing.mp4: no such file" in errors[0] and "empty.mp4: empty file" in errors[1]
    assert "notes.mp4: not a readable video" in errors[2] and "is a folder" in errors[3]


def test_demo_sample_inputs_are_written_clips(model_dir, capsys):
    app = VideoApp()
    paths = app.sample_inputs
    assert all(path.endswith(".mp4") for path in paths)
    answers = app.predict(VideoRuntime(model_dir), list(paths))
    assert all(isinstance(answer, dict) and answer["frames"] == 16 for answer in answers)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["cell=transformer"], "cell=transformer"),
        (["filters=0,4"], "filters=0,4"),
        (["dropout_rate=1.5"], "dropout_rate=1.5"),
    ],
)
def test_bad_settings_are_user_errors(overrides, message):
    from shared.config import resolve_config
    from shared.errors import UserError

    with pytest.raises(UserError, match=message):
        resolve_config(VideoApp.config_class, "quick", overrides)


def test_user_errors_exit_2_without_traceback(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", RNNAPPS_DATA=str(tmp_path))
    args = ["train", "video", "--preset", "quick", "--data", "tfds:kinetics400"]
    result = subprocess.run(
        [sys.executable, "-m", "apps.cli", *args, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("rnnapps: error:")]
    assert len(lines) == 1 and "ucf101 only" in lines[0]


def test_tfds_ucf101_trains_with_101_classes_and_no_motion_augmentation():
    import tensorflow_datasets as tfds

    from shared.config import resolve_config
    from shared.data.sources import parse_source

    app = VideoApp()
    config = resolve_config(app.config_class, "quick", ["filters=4", "batch_size=4"])
    with tfds.testing.mock_data(num_examples=6):
        splits = app.load_data(config, parse_source("tfds:ucf101"))
    assert len(app.classes(splits)) == 101 and splits.source == "tfds:ucf101"
    model = app.build_model(config, splits)
    train, validation = app.make_datasets(config, splits)
    (inputs, labels) = next(iter(train))
    assert inputs["frames"].dtype == tf.uint8 and inputs["frames"].shape[1:] == (16, 64, 64, 3)
    history = model.fit(train, validation_data=validation, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.output.shape[-1] == 101


def test_hostile_inputs_get_an_answer_or_a_one_line_error(model_dir, tmp_path):
    """Fuzz the on-device predict path: random bytes, cut and corrupt files, lying headers, folders."""
    from apps.video.app import VideoApp
    from tests.apps.fuzzing import check_cli_rejects, fuzz_predict

    app = VideoApp()
    predictor = app.load_predictor(model_dir, "litert", "fp32")
    tried = fuzz_predict(app, predictor, "files", max_examples=80)
    print(f"video: {tried} hostile inputs tried")
    assert tried >= 80 // 2  # hypothesis may stop early once it has seen every case

    bad = tmp_path / "noise.mp4"
    bad.write_bytes(bytes(range(256)) * 4)
    check_cli_rejects("video", model_dir, str(bad))


def test_the_runtime_answers_without_tensorflow(model_dir, tmp_path):
    """The LiteRT runtime, and `rnnapps predict` on it, load and answer in a process where
    TensorFlow and Keras cannot be imported, and the answers are the full stack's (Keras)
    within rounding; the label over time streams there too."""
    from shared.runtime.isolation import run_without_tensorflow

    (tmp_path / "notes.mp4").write_text("not a video at all\n")
    paths = [*VideoApp().sample_inputs, str(tmp_path / "notes.mp4")]
    code = f"""
import json
from apps import cli
from apps.video.runtime import VideoRuntime, load_video
runtime = VideoRuntime({str(model_dir)!r}, "fp32")
answers = runtime.predict({paths!r})
print(json.dumps([a if isinstance(a, dict) else "error: " + str(a) for a in answers]))
print(json.dumps(runtime.stream(*load_video({paths[0]!r})).tolist()))
status = cli.main(["predict", "video", *{paths!r}, "--model", {str(model_dir)!r}, "--json"])
print(json.dumps({{"status": status}}))
"""
    lines = run_without_tensorflow(code).splitlines()
    answers, streamed = json.loads(lines[0]), np.array(json.loads(lines[1]))
    from_cli, status = lines[2:-1], json.loads(lines[-1])
    app = VideoApp()
    expected = app.predict(app.load_predictor(model_dir, "keras"), paths)
    assert len(answers) == len(expected)
    for got, want in zip(answers, expected, strict=True):
        if isinstance(want, Exception):
            assert got == f"error: {want}"
            continue
        assert (got["input"], got["label"], got["frames"]) == (
            want["input"],
            want["label"],
            want["frames"],
        )
        assert got["score"] == pytest.approx(want["score"], abs=2e-3)
    keras_stream = app.load_predictor(model_dir, "keras").stream(*data.load_video(paths[0]))
    np.testing.assert_allclose(streamed, keras_stream, atol=2e-3)
    # The command line answers the valid files in order (the text file fails: status 2).
    assert [json.loads(line) for line in from_cli] == [a for a in answers if isinstance(a, dict)]
    assert status == {"status": 2}
