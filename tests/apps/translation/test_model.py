"""The decoder-step model reproduces the teacher-forced model; LiteRT reproduces Keras."""

import keras
import numpy as np
import pytest

from apps.translation.config import TranslationConfig
from apps.translation.export import build_inference_models, litert_models
from apps.translation.model import build_model, state_names
from shared.export import audit_builtin_ops, convert_to_tflite
from shared.runtime.litert import LiteRTModel

SOURCE = np.array([[5, 6, 7, 0, 0, 0, 0, 0], [4, 3, 2, 9, 8, 7, 6, 5]], dtype=np.int32)
DECODER_INPUT = np.array([[2, 5, 6, 7, 0, 0], [2, 9, 8, 7, 6, 5]], dtype=np.int32)


def tiny(cell: str, attention: str) -> tuple[TranslationConfig, keras.Model]:
    config = TranslationConfig(
        cell=cell,
        attention=attention,
        embedding_dim=8,
        encoder_units=8,
        decoder_units=12,
        attention_units=6,
        max_source_length=8,
        max_target_length=5,
    )
    keras.utils.set_random_seed(0)
    model = build_model(config, source_vocabulary_size=12, target_vocabulary_size=11)
    # Random (not near-zero) weights, so a wrong wiring shows in the numbers.
    rng = np.random.default_rng(0)
    for weight in model.weights:
        weight.assign(rng.normal(scale=0.5, size=weight.shape))
    return config, model


def step_through(step_model, encoder_model, config, source, decoder_input, runner=None):
    """Teacher-forced logits from the encoder and one decoder step at a time."""
    names = state_names(config.cell)
    mask = (source != 0).astype(np.float32)
    if runner is None:
        encoded = {k: np.asarray(v) for k, v in encoder_model(source).items()}
    else:
        encoded = runner["encoder"](source_ids=source)
    states = [encoded[name] for name in names]
    logits, attention = [], []
    for position in range(decoder_input.shape[1]):
        if runner is None:
            out = step_model(
                [decoder_input[:, position], *states, encoded["encoder_outputs"], mask]
            )
            out = {k: np.asarray(v) for k, v in out.items()}
        else:
            out = runner["decoder_step"](
                previous_token=decoder_input[:, position],
                encoder_outputs=encoded["encoder_outputs"],
                source_mask=mask,
                **dict(zip(names, states, strict=True)),
            )
        states = [out[f"new_{name}"] for name in names]
        logits.append(out["logits"])
        attention.append(out["attention"])
    return np.stack(logits, axis=1), np.stack(attention, axis=1)


@pytest.mark.parametrize(
    ("cell", "attention"),
    [("gru", "bahdanau"), ("gru", "luong"), ("lstm", "bahdanau"), ("lstm", "luong")]
    + [("jordan", "bahdanau"), ("indrnn", "luong"), ("elman", "bahdanau")],
)
def test_step_by_step_reproduces_the_teacher_forced_logits(cell, attention):
    config, model = tiny(cell, attention)
    full = np.asarray(model({"source_ids": SOURCE, "decoder_input_ids": DECODER_INPUT}))
    assert np.abs(full).max() > 1.0  # the numbers are not trivially small
    encoder, step = build_inference_models(model, config)
    logits, weights = step_through(step, encoder, config, SOURCE, DECODER_INPUT)
    np.testing.assert_allclose(logits, full, atol=1e-5)
    # Attention: a distribution over the real source units only.
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert np.all(weights[0, :, 3:] < 1e-6)


def test_padding_does_not_change_the_output():
    config, model = tiny("gru", "bahdanau")
    full = np.asarray(model({"source_ids": SOURCE, "decoder_input_ids": DECODER_INPUT}))
    short = np.asarray(
        model({"source_ids": SOURCE[:1, :3], "decoder_input_ids": DECODER_INPUT[:1]})
    )
    np.testing.assert_allclose(short, full[:1], atol=1e-5)


@pytest.mark.parametrize(("cell", "attention"), [("gru", "bahdanau"), ("lstm", "luong")])
def test_litert_encoder_and_step_match_keras_with_builtin_ops(cell, attention):
    config, model = tiny(cell, attention)
    runner = {}
    for name, device_model in litert_models(model, config).items():
        content = convert_to_tflite(device_model, "fp32")
        ops = audit_builtin_ops(content, name)
        if name == "encoder":
            assert "WHILE" in ops  # the bidirectional recurrence is a builtin loop
        runner[name] = LiteRTModel(content)
    full = np.asarray(model({"source_ids": SOURCE, "decoder_input_ids": DECODER_INPUT}))
    for row in range(len(SOURCE)):
        logits, _ = step_through(
            None, None, config, SOURCE[row : row + 1], DECODER_INPUT[row : row + 1], runner
        )
        np.testing.assert_allclose(logits[0], full[row], atol=1e-4)


@pytest.mark.parametrize("cell", ["indrnn", "jordan"])
def test_a_cell_keras_lacks_trains_a_step(cell):
    _, model = tiny(cell, "bahdanau")
    decoder = model.get_layer("decoder")
    before = [np.array(w) for w in decoder.trainable_weights]
    targets = np.roll(DECODER_INPUT, -1, axis=1)
    loss = model.train_on_batch({"source_ids": SOURCE, "decoder_input_ids": DECODER_INPUT}, targets)
    assert np.isfinite(np.atleast_1d(loss)[0])
    after = [np.array(w) for w in decoder.trainable_weights]
    assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True))
