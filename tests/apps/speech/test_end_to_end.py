"""Quick preset: train -> export -> convert -> predict (keyword, stream, transcribe) from LiteRT."""

import json
import pathlib

import numpy as np
import pytest
import soundfile
import tensorflow as tf
import tensorflow_datasets as tfds

from apps import cli
from apps.speech import data
from apps.speech.app import BASELINE_C, SpeechApp
from apps.speech.config import SpeechConfig
from apps.speech.export import keyword_model_of
from shared.config import resolve_config
from shared.data.sources import Source
from shared.errors import UserError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    import os

    previous = os.environ.get("RNNAPPS_DATA")
    os.environ["RNNAPPS_DATA"] = str(tmp_path_factory.mktemp("data"))
    out = tmp_path_factory.mktemp("models") / "speech"
    try:
        assert cli.main(["train", "speech", "--preset", "quick", "--out", str(out)]) == 0
        yield out
    finally:
        if previous is None:
            os.environ.pop("RNNAPPS_DATA", None)
        else:
            os.environ["RNNAPPS_DATA"] = previous


@pytest.fixture(scope="module")
def clips(model_dir):
    """Test-voice keyword clips and a phrase, from the corpus the run used."""
    splits = SpeechApp().load_data(resolve_config(SpeechConfig, "quick"), Source("default"))
    return splits


def write(path, audio, sample_rate=16000):
    soundfile.write(str(path), audio, sample_rate)
    return str(path)


def test_a_finished_run_leaves_every_artifact(model_dir):
    names = ["model.keras", "saved_model/saved_model.pb", "config.json", "metrics.json"]
    names += ["model_card.md", "streaming.json", "training_curves.png"]
    names += ["confusion_matrix.png", "confusion_matrix_pico.png"]  # test voices, Pico's
    names += [
        f"{n}_{v}.tflite" for n in ("model", "step", "transcribe") for v in ("fp32", "fp16", "int8")
    ]
    for name in names:
        assert (model_dir / name).exists(), name


def test_metrics_json_holds_every_engine_streaming_and_transcription(model_dir, clips):
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert (metrics["app"], metrics["preset"]) == ("speech", "quick")
    keras_scores = metrics["metrics"]
    assert 0.0 <= keras_scores["accuracy"] <= 1.0
    assert set(keras_scores["per_class_recall"]) == set(data.LABELS)
    assert (
        keras_scores["streaming"]["events"] > 0
        and keras_scores["streaming"]["stream_seconds"] == 30.0
    )
    transcription = keras_scores["transcription"]
    assert set(transcription) == {"unseen_text", "seen_text"}
    counts = [transcription[name]["count"] for name in ("unseen_text", "seen_text")]
    assert sum(counts) == len(clips.info["transcription"].test["text"])
    unseen = keras_scores["held_out"]["unseen_phrases"]
    assert unseen["count"] == counts[0] > 0 and "never occurs in training" in unseen["description"]
    assert {"cer", "wer"} <= set(unseen)
    for report in keras_scores["overlap"].values():  # no voice, no unseen text, shared
        assert all(entry["rows"] == 0 for entry in report.values())
    assert "train/pico_test" in keras_scores["overlap"]["keyword_voices"]
    # The held-out engine (pico): scored on its test voices under held_out, with its own
    # validation voices, per voice, per keyword, _unknown_ rate and confusion matrix.
    pico = keras_scores["held_out"]["pico_voices"]
    assert pico["count"] == len(clips.extra["pico_voices"]["label"]) > 0
    assert set(pico["per_voice"]) == set(clips.info["held_out_engine"]["test_voices"])
    assert set(pico["per_class_recall"]) == set(data.KEYWORDS)
    assert 0.0 <= pico["unknown_rate"] <= 1.0
    confusion = np.asarray(pico["confusion"])
    assert confusion.shape == (12, 12) and confusion.sum() == pico["count"]
    assert np.trace(confusion) == round(pico["accuracy"] * pico["count"])
    engine = keras_scores["held_out_engine"]
    assert engine["engine"] == "pico" and engine["validation"]["count"] > 0
    assert set(engine["validation"]["per_voice"]) == set(engine["validation_voices"])
    assert not set(engine["validation_voices"]) & set(engine["test_voices"])
    # The quick preset keeps the epoch of lowest validation loss (10 Pico validation clips
    # are too few to choose by); every epoch still logs the held-out engine's accuracy.
    training = metrics["training"]
    assert training["kept_by"] == {"monitor": "val_loss", "mode": "min"}
    logged = [row["val_pico_keyword_accuracy"] for row in training["history"]]
    assert len(logged) == training["epochs_run"] and all(0 <= value <= 1 for value in logged)
    assert set(keras_scores["per_engine"]) <= {"espeak", "festival", "piper"}
    assert metrics["litert"]["int8"]["held_out"]["pico_voices"]["count"] == pico["count"]
    report = SpeechApp().report(metrics)
    assert "Held-out engine **pico**" in report and "said \\ heard" in report
    assert "overlap" not in metrics["litert"]["fp32"]
    # The README reads the unseen phrases in their own metric, named as such.
    figures = SpeechApp().headline(metrics)
    assert figures["held_out"]["unseen_phrases (CER, lower is better)"]["keras"] == unseen["cer"]
    for variant in ("fp32", "fp16", "int8"):
        scores = metrics["litert"][variant]
        assert scores["latency_ms_p50"] > 0 and scores["step_latency_ms_p50"] > 0
        assert scores["transcribe_latency_ms_p50"] > 0
        assert scores["size_bytes"] == sum(
            (model_dir / f"{n}_{variant}.tflite").stat().st_size
            for n in ("model", "step", "transcribe")
        )
        assert "false_accepts_per_hour" in scores["streaming"]
    # fp32 LiteRT computes what Keras computes: same answers, same stream, same transcripts.
    fp32 = metrics["litert"]["fp32"]
    assert fp32["accuracy"] == pytest.approx(keras_scores["accuracy"])
    assert fp32["streaming"] == keras_scores["streaming"]
    assert fp32["held_out"]["unseen_phrases"]["cer"] == pytest.approx(unseen["cer"])
    assert metrics["litert"]["int8"]["model_size_bytes"] < fp32["model_size_bytes"]
    baseline = metrics["baselines"]["log_mel_logistic_regression"]
    assert 0.0 <= baseline["accuracy"] <= 1.0 and baseline["tuned_on"] == "validation"
    assert baseline["chosen"]["C"] in BASELINE_C
    for ops in metrics["ops"].values():
        assert not any("Flex" in op or "CUSTOM" in op for op in ops)
    assert "RFFT2D" in metrics["ops"]["model_fp32.tflite"]  # the front end is in the .tflite


def test_the_quick_model_learns(model_dir, clips):
    """A floor that chance cannot reach: the quick run (fixed seed 1234, split_seed 1234).

    Measured (RNNAPPS_DATA=... rnnapps train speech --preset quick) on the corpus with
    Festival and Piper voices in training and Pico held out: accuracy 0.72 (18 of the 25
    held-out-voice test clips) on Keras, 0.76 on int8; the baseline 0.80. (Before other
    engines joined the corpus: 0.833 of 24.) Chance is 1/12 = 0.083 and the majority class
    3/25 = 0.12 (_silence_), so 0.4 (10 of 25) sits well between: an untrained or stuck
    model fails it.
    """
    metrics = json.loads((model_dir / "metrics.json").read_text())
    labels = np.asarray(clips.test["label"])
    majority = np.bincount(labels).max() / len(labels)
    floor = 0.4
    assert floor > 3 * max(1 / len(data.LABELS), majority)
    for scores in (metrics["metrics"], metrics["litert"]["int8"]):
        assert scores["count"] == len(labels)
        assert scores["accuracy"] >= floor, scores["accuracy"]


def test_predict_json_answers_from_the_tflite(model_dir, clips, tmp_path, capsys):
    path = write(tmp_path / "yes.wav", clips.test["audio"][0])
    assert cli.main(["predict", "speech", path, "--model", str(model_dir), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out.strip())
    assert set(answer) == {"input", "keyword", "score"}
    assert answer["input"] == path and answer["keyword"] in data.LABELS and 0 < answer["score"] <= 1


def test_engines_agree_and_odd_formats_are_converted(model_dir, clips, tmp_path):
    app = SpeechApp()
    clip = clips.test["audio"][1]
    stereo_44k = np.stack([clip, clip], axis=1)
    import soxr

    stereo_44k = soxr.resample(stereo_44k, 16000, 44100)
    paths = [
        write(tmp_path / "clip.wav", clip),
        write(tmp_path / "stereo_44k.flac", stereo_44k, 44100),
        write(tmp_path / "long.wav", np.concatenate([clip, np.zeros(160000, np.float32)])),
    ]
    answers = {}
    for engine in ("litert", "savedmodel", "keras"):
        predictor = app.load_predictor(model_dir, engine)
        answers[engine] = app.predict(predictor, paths)
    for engine in ("savedmodel", "keras"):
        for a, b in zip(answers["litert"], answers[engine], strict=True):
            assert a["keyword"] == b["keyword"] and a["score"] == pytest.approx(
                b["score"], abs=1e-3
            )
    # Stereo 44.1 kHz is averaged and resampled; an 11-s file is heard for its first second.
    plain, stereo, long = answers["litert"]
    assert stereo["score"] == pytest.approx(plain["score"], abs=0.05)
    assert long["keyword"] == plain["keyword"] and long["score"] == pytest.approx(
        plain["score"], abs=1e-4
    )


def test_stream_and_transcribe_through_the_app(model_dir, clips, tmp_path):
    app = SpeechApp()
    predictor = app.load_predictor(model_dir, "litert")
    long = np.concatenate([np.zeros(8000, np.float32), *clips.test["audio"][:4]])
    path = write(tmp_path / "long.wav", long + 0.001)
    answers = app.predict(predictor, [path], stream=True)
    for answer in answers:  # an untrained quick model may detect nothing: then one empty answer
        assert set(answer) == {"input", "keyword", "score", "time"}
        assert answer["time"] is None or 1.0 <= answer["time"] <= len(long) / 16000
    phrases = clips.info["transcription"].test
    path = write(tmp_path / "phrase.wav", phrases["audio"][0])
    [answer] = app.predict(predictor, [path], task="transcribe")
    assert set(answer) == {"input", "text"} and isinstance(answer["text"], str)
    keras_answer = app.predict(app.load_predictor(model_dir, "keras"), [path], task="transcribe")
    assert keras_answer[0]["text"] == answer["text"]
    with pytest.raises(UserError, match="--task"):
        app.predict(predictor, [path], task="translate")


def test_demo_samples_are_one_second_wavs_of_a_held_out_voice(model_dir, capsys):
    paths = SpeechApp().sample_inputs
    assert [pathlib.Path(p).stem for p in paths] == list(data.SAMPLE_WORDS)
    for path in paths:
        audio, rate = soundfile.read(path, dtype="float32")
        assert rate == 16000 and audio.shape == (16000,)
        assert np.abs(audio).max() > 0.05  # speech, not silence
    assert cli.main(["predict", "speech", *paths, "--model", str(model_dir), "--json"]) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [a["input"] for a in answers] == list(paths)
    assert all(a["keyword"] in data.LABELS for a in answers)


def test_bad_inputs_fail_alone_with_one_line_each(model_dir, clips, tmp_path, capsys):
    good = write(tmp_path / "good.wav", clips.test["audio"][2])
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    silent = write(tmp_path / "silent.wav", np.zeros(16000, np.float32))
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\xff\xff\xff\xffWAVEfmt " + bytes(20))
    inputs = [good, str(text), str(empty), silent, str(corrupt), str(tmp_path / "missing.wav")]
    code = cli.main(["predict", "speech", *inputs, "--model", str(model_dir), "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert [json.loads(line)["input"] for line in out.splitlines()] == [good]
    errors = err.strip().splitlines()
    assert len(errors) == 5 and all(line.startswith("rnnapps: error: ") for line in errors)
    assert "not a readable audio file" in errors[0] and "empty file" in errors[1]
    assert "silent" in errors[2] and "not a readable audio file" in errors[3]
    assert "no such file" in errors[4]
    too_long = write(
        tmp_path / "phrase_too_long.wav", 0.2 * np.random.default_rng(0).standard_normal(80000)
    )
    app = SpeechApp()
    [error] = app.predict(app.load_predictor(model_dir, "litert"), [too_long], task="transcribe")
    assert isinstance(error, UserError) and "at most 3 s" in str(error)


def test_tfds_speech_commands_flows_into_training_batches(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNAPPS_DATA", str(tmp_path))
    app = SpeechApp()
    config = resolve_config(SpeechConfig, "quick", ["transcription=false", "batch_size=4"])
    with tfds.testing.mock_data(num_examples=6):
        splits = app.load_data(config, Source("tfds", "speech_commands"))
    assert splits.source == "tfds:speech_commands" and splits.train["audio"].shape[1:] == (16000,)
    train, _ = app.make_datasets(config, splits)
    inputs, targets = next(iter(train))
    assert inputs["keyword_audio"].shape == (4, 16000) and targets["keyword"].shape == (4, 12)
    assert float(np.abs(inputs["keyword_audio"]).max()) <= 1.0
    model = app.build_model(config, splits)
    assert np.isfinite(model.train_on_batch(inputs, targets, return_dict=True)["loss"])


def test_hostile_inputs_get_an_answer_or_a_one_line_error(model_dir):
    """Fuzz the on-device predict path: random bytes, cut and corrupt files, lying headers, folders."""
    from apps.speech.app import SpeechApp
    from tests.apps.fuzzing import fuzz_on_device

    fuzz_on_device(SpeechApp(), model_dir, "files")


def test_hostile_recordings_to_stream_get_answers_or_one_line_errors(model_dir, clips, tmp_path):
    """``--stream``: hostile audio (NaN, 1e30, 1 Hz, hours, 9 channels...) and garbage files."""
    from tests.apps.fuzzing import fuzz_on_device

    good = write(tmp_path / "good_stream.wav", np.concatenate(clips.test["audio"][:2]))
    fuzz_on_device(
        SpeechApp(), model_dir, "audio", 60, good=good, several_answers=True, stream=True
    )


def test_hostile_phrases_to_transcribe_get_answers_or_one_line_errors(model_dir, clips, tmp_path):
    """``--task transcribe``: the same hostile audio, each followed by a real phrase."""
    from tests.apps.fuzzing import fuzz_on_device

    good = write(tmp_path / "good_phrase.wav", clips.info["transcription"].test["audio"][0])
    fuzz_on_device(SpeechApp(), model_dir, "audio", 60, good=good, task="transcribe")


@pytest.mark.parametrize("flags", [["--stream"], ["--task", "transcribe"]])
def test_cli_stream_and_transcribe_fail_bad_files_alone(model_dir, clips, tmp_path, capsys, flags):
    good = write(tmp_path / "good.wav", clips.info["transcription"].test["audio"][0])
    not_a_number = tmp_path / "nan.wav"
    soundfile.write(str(not_a_number), np.full(8000, np.nan), 16000, subtype="FLOAT")
    # 40 kB that would resample into 1.3 GB: refused from its header, before decoding.
    hours = write(tmp_path / "hours_at_1hz.wav", np.random.default_rng(0).uniform(-1, 1, 20000), 1)
    huge = tmp_path / "huge.wav"  # far beyond full scale: heard clipped, never a NaN score
    soundfile.write(str(huge), np.full(16000, 1e30), 16000, subtype="FLOAT")
    inputs = [str(not_a_number), good, hours, str(huge)]
    code = cli.main(["predict", "speech", *inputs, "--model", str(model_dir), "--json", *flags])
    out, err = capsys.readouterr()
    assert code == 2

    def not_json(constant: str):
        raise AssertionError(f"{constant} in the JSON output")

    answers = [json.loads(line, parse_constant=not_json) for line in out.splitlines()]
    assert {answer["input"] for answer in answers} == {good, str(huge)}
    errors = err.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("rnnapps: error: ") for line in errors)
    assert "nan.wav: the audio holds NaN" in errors[0]
    assert "hours_at_1hz.wav: 20000 s long" in errors[1]


def test_the_runtime_answers_without_tensorflow(model_dir, clips, tmp_path):
    """The LiteRT runtime, and `rnnapps predict` on it, load and answer in a process where
    TensorFlow and Keras cannot be imported: keywords, a stream through the step model and
    a transcript, equal to the full stack's (Keras) within rounding."""
    from apps.speech.runtime import load_recording
    from shared.runtime.isolation import run_without_tensorflow

    app = SpeechApp()
    (tmp_path / "notes.wav").write_text("this is not audio")
    keywords = [*app.sample_inputs, str(tmp_path / "notes.wav")]
    recording = np.concatenate([np.zeros(8000, np.float32), *clips.test["audio"][:4]]) + 0.001
    stream = write(tmp_path / "stream.wav", recording)
    phrase = write(tmp_path / "phrase.wav", clips.info["transcription"].test["audio"][0])
    code = f"""
import json
from apps import cli
from apps.speech.runtime import SpeechRuntime, StreamSettings, load_recording
runtime = SpeechRuntime({str(model_dir)!r}, "fp32")
def shown(answers):
    return [a if isinstance(a, dict) else "error: " + str(a) for a in answers]
print(json.dumps(shown(runtime.predict({keywords!r}))))
print(json.dumps(shown(runtime.predict([{stream!r}], stream=True))))
print(json.dumps(shown(runtime.predict([{phrase!r}], task="transcribe"))))
settings = StreamSettings.read({str(model_dir)!r})
times, posteriors = runtime.window_posteriors(
    load_recording({stream!r}), settings.hop_samples, settings.stride_steps
)
print(json.dumps([times.tolist(), posteriors.tolist()]))
status = cli.main(["predict", "speech", {phrase!r}, "--model", {str(model_dir)!r}, "--json",
                   "--task", "transcribe"])
print(json.dumps({{"status": status}}))
"""
    lines = run_without_tensorflow(code).splitlines()
    keyword_answers, stream_answers, transcripts = (json.loads(line) for line in lines[:3])
    times, posteriors = (np.array(values) for values in json.loads(lines[3]))
    from_cli, status = lines[4:-1], json.loads(lines[-1])
    keras_predictor = app.load_predictor(model_dir, "keras")
    expected = app.predict(keras_predictor, keywords)
    assert len(keyword_answers) == len(expected) == len(keywords)
    for got, want in zip(keyword_answers, expected, strict=True):
        if isinstance(want, Exception):
            assert got == f"error: {want}"
            continue
        assert (got["input"], got["keyword"]) == (want["input"], want["keyword"])
        assert got["score"] == pytest.approx(want["score"], abs=2e-3)
    # The step model hop by hop scores the windows Keras scores whole; the detector reads them.
    config = resolve_config(SpeechConfig, "quick")
    keras_times, keras_posteriors = keras_predictor.window_posteriors(
        load_recording(stream), config.hop_length, app._stride_steps(config)
    )
    np.testing.assert_allclose(times, keras_times)
    np.testing.assert_allclose(posteriors, keras_posteriors, atol=2e-3)
    in_process = app.predict(app.load_predictor(model_dir, "litert"), [stream], stream=True)
    assert stream_answers == in_process and all(a["input"] == stream for a in stream_answers)
    assert transcripts == app.predict(keras_predictor, [phrase], task="transcribe")
    assert [json.loads(line) for line in from_cli] == transcripts and status == {"status": 0}


def test_a_keyword_model_without_transcriber_saves_and_serves(clips, tmp_path):
    """``--set transcription=false`` (the demo preset): the SavedModel has the keyword
    signature only, and it answers like the Keras model."""
    app = SpeechApp()
    config = resolve_config(SpeechConfig, "quick", ["transcription=false"])
    model = app.build_model(config, clips)
    bundle = app.build_export(model, config, clips)
    assert set(bundle.signatures) == {"serving_default"}
    assert "transcribe" not in bundle.tflite_models
    tf.saved_model.save(bundle.serving, str(tmp_path / "saved"), signatures=bundle.signatures)
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    assert set(loaded.signatures) == {"serving_default"}
    audio = np.asarray(clips.test["audio"][:2], np.float32)
    served = loaded.signatures["serving_default"](waveform=tf.constant(audio))["scores"]
    expected = keyword_model_of(model)(audio, training=False)
    np.testing.assert_allclose(served.numpy(), np.asarray(expected), atol=1e-5)
