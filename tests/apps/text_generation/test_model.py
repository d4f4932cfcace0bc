"""The inference graphs compute what the training model computes, step by step and on device."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from apps.text_generation.config import TextGenerationConfig
from apps.text_generation.export import model_parts, sequence_model, step_model
from apps.text_generation.model import (
    WEIGHT_DROP_CELLS,
    BitsPerCharacter,
    build_model,
    recurrent_layer_names,
)
from apps.text_generation.runtime import draw_next
from shared import export
from shared.config import resolve_config
from shared.errors import UserError
from shared.layers import state_count
from shared.runtime.litert import LiteRTModel
from shared.runtime.sampling import token_probabilities

VOCABULARY_SIZE = 23


def small_model(cell: str, *settings: str) -> tuple[keras.Model, TextGenerationConfig]:
    config = resolve_config(
        TextGenerationConfig,
        "quick",
        [f"cell={cell}", "num_layers=2", "units=12", "batch_size=2", "window_length=9", *settings],
    )
    keras.utils.set_random_seed(3)
    model = build_model(config, VOCABULARY_SIZE)
    # Larger weights than the initialisers give, so the states move and mistakes show.
    for weight in model.weights:
        if weight.trainable:
            weight.assign(np.random.default_rng(1).normal(0, 0.5, weight.shape))
    return model, config


def reset_states(model: keras.Model) -> None:
    for layer in model.layers:
        if hasattr(layer, "reset_state"):
            layer.reset_state()


def run_from_zero_states(model: keras.Model, ids: np.ndarray, training: bool) -> np.ndarray:
    reset_states(model)
    return np.asarray(model(ids, training=training))


def token_ids(batch: int, length: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, VOCABULARY_SIZE, (batch, length), np.int32)


@pytest.mark.parametrize("cell", ["gru", "lstm", "elman", "jordan", "indrnn"])
def test_stepping_token_by_token_equals_the_full_sequence(cell):
    model, config = small_model(cell)
    parts = model_parts(model, config)
    ids = token_ids(1, 30)[0]
    full = sequence_model(parts)([ids[None, :], parts.zero_states()])
    stepper = step_model(parts)
    states, rows = parts.zero_states(), []
    for token in ids:
        out = stepper([np.array([token], np.int32), states])
        rows.append(np.asarray(out["logits"])[0])
        states = np.asarray(out["new_states"])
    np.testing.assert_allclose(np.stack(rows), np.asarray(full["logits"])[0], atol=1e-5)
    np.testing.assert_allclose(states, np.asarray(full["new_states"]), atol=1e-5)
    assert states.shape == (1, 2 * state_count(cell), 12)


@pytest.mark.parametrize(
    "cell, settings",
    [
        ("gru", ()),
        ("lstm", ()),
        ("gru", ("unroll=true",)),
        ("lstm", ("recurrent_dropout=0.3", "embedding_dropout=0.2")),
        ("gru", ("weight_drop=0.4",)),
        ("lstm", ("weight_drop=0.4",)),
    ],
)
def test_sequence_model_equals_the_stateful_training_model_across_windows(cell, settings):
    """Truncated BPTT carries the state: two windows of the training model = one long call
    (unrolled or looped; dropout only in training)."""
    model, config = small_model(cell, *settings)
    parts = model_parts(model, config)
    ids = token_ids(2, 18, seed=4)
    reset_states(model)
    windows = [np.asarray(model(ids[:, :9])), np.asarray(model(ids[:, 9:]))]
    full = sequence_model(parts)([ids, parts.zero_states(2)])["logits"]
    np.testing.assert_allclose(np.concatenate(windows, axis=1), np.asarray(full), atol=1e-5)


@pytest.mark.parametrize("cell", ["gru", "indrnn"])
def test_litert_step_model_is_builtin_only_and_matches_keras(cell):
    model, config = small_model(cell)
    parts = model_parts(model, config)
    content = export.convert_to_tflite(step_model(parts), "fp32")
    ops = export.audit_builtin_ops(content, "step")
    assert "FULLY_CONNECTED" in ops and "WHILE" not in ops
    runner = LiteRTModel(content)
    ids = token_ids(1, 25, seed=2)[0]
    full = np.asarray(sequence_model(parts)([ids[None, :], parts.zero_states()])["logits"])[0]
    states, rows = parts.zero_states(), []
    for token in ids:
        out = runner(token_id=np.array([token]), states=states)
        rows.append(out["logits"][0])
        states = out["new_states"]
    np.testing.assert_allclose(np.stack(rows), full, atol=1e-5)


def test_a_cell_keras_lacks_trains_a_step():
    model, _ = small_model("indrnn")
    before = [np.array(w) for w in model.trainable_weights]
    loss = model.train_on_batch(token_ids(2, 9), token_ids(2, 9, seed=1))
    assert np.isfinite(np.atleast_1d(loss)[0])
    after = [np.array(w) for w in model.trainable_weights]
    assert all(not np.allclose(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.parametrize("settings", [(), ("weight_drop=0.3",)])
def test_training_model_saves_and_reloads_safely(tmp_path, settings):
    model, _ = small_model("lstm", *settings)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    ids = token_ids(2, 9)
    for m in (model, loaded):
        reset_states(m)
    np.testing.assert_allclose(np.asarray(loaded(ids)), np.asarray(model(ids)), atol=1e-6)


def test_recurrent_states_are_a_copy_per_replica_outside_the_weights():
    """Each replica of a tf.distribute strategy must read and write the states of its own lanes
    (tests/shared/test_training_distributed.py trains on two); checkpoints must not hold them."""
    model, config = small_model("lstm")
    states = [s for name in recurrent_layer_names(config) for s in model.get_layer(name).states]
    assert len(states) == 2 * 2  # two LSTM layers, h and c each
    for state in states:
        assert state.value.synchronization == tf.VariableSynchronization.ON_READ
        assert state.value.aggregation == tf.VariableAggregation.ONLY_FIRST_REPLICA
        assert tuple(state.shape) == (config.batch_size, config.units)
    assert not any("rnn_state" in weight.path for weight in model.weights)


def test_host_draw_follows_the_shared_filtered_distribution():
    logits = np.log(np.array([0.05, 0.5, 0.15, 0.3, 1e-9]))
    logits[4] = -np.inf  # the unknown id is masked this way: never drawn
    rng = np.random.default_rng(5)
    draws = np.array([draw_next(logits, 0.8, 0, 0.9, rng) for _ in range(20_000)])
    expected = token_probabilities(logits, 0.8, 0, 0.9)
    assert expected[0] == 0.0 and expected[4] == 0.0  # cut by top-p, and masked
    observed = np.bincount(draws, minlength=5) / len(draws)
    np.testing.assert_allclose(observed, expected, atol=0.01)
    assert draw_next(logits, 0.0, 0, 1.0, rng) == 1  # temperature 0 is greedy
    assert draw_next(logits, 5.0, 1, 1.0, rng) == 1  # top_k 1 is greedy at any temperature
    first = [draw_next(logits, 1.0, 0, 1.0, np.random.default_rng(9)) for _ in range(3)]
    assert len(set(first)) == 1  # same seed, same draw


def test_the_host_draws_of_a_seed_are_pinned():
    """The ids a seed draws, as the LiteRT loop drew them before the runtime left TensorFlow
    (issue 25; NumPy's PCG64 stream is the same on every machine): a change to the sampler
    or to how it spends the random stream changes every seeded text, and fails here."""
    logits = np.log(np.array([0.05, 0.5, 0.15, 0.3, 1e-9]))
    logits[4] = -np.inf
    pinned = {
        (1.0, 0, 1.0): [1, 2, 1, 1, 1, 3, 3, 1, 2, 1, 3, 3],
        (0.8, 0, 0.9): [1, 2, 1, 1, 1, 3, 3, 1, 2, 1, 3, 3],
        (1.5, 2, 1.0): [1, 3, 1, 1, 1, 3, 3, 1, 3, 1, 3, 3],
    }
    for (temperature, top_k, top_p), ids in pinned.items():
        rng = np.random.default_rng(2026)
        assert [draw_next(logits, temperature, top_k, top_p, rng) for _ in ids] == ids


def test_bits_per_character_counts_characters_not_ids(tmp_path):
    logits = np.log(np.full((2, 3, 4), 0.25, np.float32))  # 2 bits per id, whatever the target
    targets = np.zeros((2, 3), np.int32)
    for characters_per_token in (1.0, 2.5):
        metric = BitsPerCharacter(characters_per_token)
        metric.update_state(targets, logits)
        assert float(metric.result()) == pytest.approx(2.0 / characters_per_token)
        restored = BitsPerCharacter.from_config(metric.get_config())
        assert restored.characters_per_token == characters_per_token
        assert restored.name == "bits_per_character"


def test_dropout_of_the_input_and_the_recurrent_state_acts_in_training_only():
    ids = token_ids(2, 9)

    def run(model, training):
        return run_from_zero_states(model, ids, training)

    dropped, _ = small_model("gru", "recurrent_dropout=0.5", "embedding_dropout=0.5")
    plain, _ = small_model("gru")  # the same weights (small_model draws them from one seed)
    assert not np.allclose(run(dropped, True), run(dropped, True))  # a new mask per call
    np.testing.assert_allclose(run(dropped, False), run(plain, False), atol=1e-6)
    with pytest.raises(UserError, match="recurrent_dropout"):
        small_model("indrnn", "recurrent_dropout=0.2")


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_weight_drop_cells_step_as_keras_cells_with_the_kernel_they_are_given(cell):
    keras_cell = {"gru": keras.layers.GRUCell, "lstm": keras.layers.LSTMCell}[cell](6)
    dropping = WEIGHT_DROP_CELLS[cell](6)
    rng = np.random.default_rng(2)
    inputs = rng.normal(size=(3, 5)).astype("float32")
    states = [rng.normal(size=(3, 6)).astype("float32") for _ in range(state_count(cell))]
    keras_cell.build((3, 5))
    dropping.build((3, 5))
    weights = [rng.normal(0, 0.5, w.shape).astype("float32") for w in keras_cell.weights]
    keras_cell.set_weights(weights)
    dropping.set_weights(weights)

    def step(layer, **kernel):
        if kernel:
            with layer.recurrent_kernel_replaced(kernel["kernel"]):
                h, new_states = layer(inputs, states, training=True)
        else:
            h, new_states = layer(inputs, states, training=True)
        return [np.asarray(h)] + [np.asarray(state) for state in new_states]

    expected = step(keras_cell)
    for got in (step(dropping), step(dropping, kernel=dropping.recurrent_kernel)):
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5)
    # A replaced kernel is what the step multiplies the state by: zeros = no recurrence.
    zero_kernel = np.zeros(keras_cell.recurrent_kernel.shape, "float32")
    keras_cell.recurrent_kernel.assign(zero_kernel)
    for a, b in zip(step(dropping, kernel=zero_kernel), step(keras_cell), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert not np.allclose(step(dropping)[0], step(keras_cell)[0])  # its own kernel is back


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_weight_drop_acts_in_training_only(cell):
    ids = token_ids(2, 9)

    def run(model, training):
        return run_from_zero_states(model, ids, training)

    dropped, config = small_model(cell, "weight_drop=0.5")
    plain, _ = small_model(cell)  # the same weights (small_model draws them from one seed)
    first, second = run(dropped, True), run(dropped, True)
    assert not np.allclose(first, second)  # a new mask per window
    np.testing.assert_allclose(run(dropped, False), run(plain, False), atol=1e-6)
    assert not np.allclose(first, run(plain, False), atol=1e-3)
    layer = dropped.get_layer(recurrent_layer_names(config)[0])
    assert layer.cell._replaced_recurrent_kernel is None  # restored after the window
    with pytest.raises(UserError, match="weight_drop"):
        small_model("indrnn", "weight_drop=0.2")
    with pytest.raises(UserError, match="weight_drop"):
        small_model("gru", "weight_drop=0.2", "recurrent_dropout=0.2")
