"""The causal CRNN streams exactly: hop by hop (Keras and LiteRT) equals the 1-s model."""

import keras
import numpy as np
import pytest

from apps.speech import data
from apps.speech.config import SpeechConfig
from apps.speech.export import keyword_step_model, litert_models, state_shapes
from apps.speech.model import build_keyword_model, build_model, build_transcription_model
from apps.speech.runtime import state_shapes_of
from shared.config import resolve_config
from shared.export import audit_builtin_ops, convert_to_tflite
from shared.runtime.litert import LiteRTModel
from shared.runtime.streaming import StreamingSession, WindowedStream, window_starts


def randomized(model: keras.Model) -> keras.Model:
    """Non-trivial batch-norm statistics, so a step that skipped one would show."""
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights(
                [w + rng.uniform(0.2, 1.0, w.shape).astype("float32") for w in layer.get_weights()]
            )
    return model


@pytest.fixture(scope="module")
def config():
    return resolve_config(SpeechConfig, "quick", ["units=12", "conv_filters=4,6"])


@pytest.fixture(scope="module")
def spotter(config):
    return randomized(build_keyword_model(config))


@pytest.fixture(scope="module")
def clips():
    rng = np.random.default_rng(1)
    time = np.arange(data.CLIP_SAMPLES) / data.SAMPLE_RATE
    tone = 0.3 * np.sin(2 * np.pi * 440 * time) * (time > 0.4) * (time < 0.7)
    return np.stack([tone, 0.05 * rng.standard_normal(data.CLIP_SAMPLES)]).astype(np.float32)


@pytest.mark.parametrize("cell", ["gru", "lstm", "indrnn"])
def test_keras_step_model_hop_by_hop_equals_the_full_model(cell, clips):
    config = resolve_config(
        SpeechConfig, "quick", ["units=12", "conv_filters=4,6", f"cell={cell}", "rnn_layers=2"]
    )
    spotter = randomized(build_keyword_model(config))
    step = keyword_step_model(spotter, config)
    for clip in clips:
        session = StreamingSession(
            lambda **inputs: {k: np.asarray(v) for k, v in step(inputs).items()},
            state_shapes(step),
            "audio",
        )
        for chunk in clip.reshape(-1, 1, config.hop_length):
            out = session(chunk)
        np.testing.assert_allclose(out["scores"], np.asarray(spotter(clip[None])), atol=1e-5)


def test_litert_step_model_equals_the_full_model_and_windows(config, spotter, clips):
    models = litert_models(spotter, config)
    full = LiteRTModel(convert_to_tflite(models["model"], "fp32"))
    step_content = convert_to_tflite(models["step"], "fp32")
    ops = audit_builtin_ops(step_content, "step")
    assert "WHILE" not in ops and "RFFT2D" in ops  # one plain step, front end included
    step = LiteRTModel(step_content)
    expected = np.asarray(spotter(clips))
    for clip, reference in zip(clips, expected, strict=True):
        np.testing.assert_allclose(full(waveform=clip[None])["scores"][0], reference, atol=1e-5)
        session = StreamingSession(step, state_shapes_of(step), "audio")
        for chunk in clip.reshape(-1, 1, config.hop_length):
            out = session(chunk)
        np.testing.assert_allclose(out["scores"][0], reference, atol=1e-5)
    # Staggered sessions over a 2.4-s stream score exactly the 1-s windows the full model sees.
    stream = np.concatenate([clips[1], clips[0], clips[1][:6400]])
    windowed = WindowedStream(
        step, state_shapes_of(step), "audio", window_steps=50, stride_steps=10
    )
    ended = [item for hop in stream.reshape(-1, 1, 320) for item in windowed(hop)]
    starts = window_starts(len(stream) // 320, 50, 10)
    assert [end for end, _ in ended] == (starts + 50).tolist()
    windows = np.stack([stream[s * 320 : s * 320 + 16000] for s in starts])
    np.testing.assert_allclose(
        np.concatenate([scores for _, scores in ended]), np.asarray(spotter(windows)), atol=1e-5
    )


def test_non_streaming_architectures_have_no_step_model(clips):
    for architecture in ("bidirectional", "attention"):
        config = resolve_config(
            SpeechConfig, "quick", ["units=8", "conv_filters=4,4", f"architecture={architecture}"]
        )
        spotter = build_keyword_model(config)
        assert np.asarray(spotter(clips)).shape == (2, 12)
        assert set(litert_models(spotter, config)) == {"model"}
        with pytest.raises(ValueError, match="only the causal crnn"):
            keyword_step_model(spotter, config)


def test_transcriber_decodes_inside_the_tflite(config):
    transcriber = randomized(build_transcription_model(config))
    model = build_model(config)
    assert {layer.name for layer in model.layers} >= {"keyword_spotter", "transcriber"}
    models = litert_models(model, config)
    assert set(models) == {"model", "step", "transcribe"}
    from apps.speech.model import transcription_decoder
    from shared.export import fixed_shape_model

    decoder = transcription_decoder(fixed_shape_model(transcriber, 1))
    runner = LiteRTModel(convert_to_tflite(decoder, "fp32"))
    phrase = np.random.default_rng(2).standard_normal((1, 48000)).astype(np.float32) * 0.1
    out = runner(waveform=phrase)
    expected = decoder(phrase)
    np.testing.assert_array_equal(out["ids"], np.asarray(expected["ids"]))
    assert out["length"][0] == np.count_nonzero(out["ids"])
