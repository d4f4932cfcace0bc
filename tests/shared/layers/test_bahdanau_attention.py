import keras
import numpy as np
import pytest

from shared.layers.bahdanau_attention import BahdanauAttention
from shared.testing import check_layer


def test_layer_harness(tmp_path):
    data = np.random.default_rng(0).normal(size=(2, 5, 6)).astype("float32")
    check_layer(
        lambda: BahdanauAttention(4, name="attention"),
        data,
        tmp_path,
        expected_output_shape=(2, 5, 6),
    )


def test_pinned_numbers_with_constant_weights():
    # With W_q = W_k = 0 every score is v . tanh(0) = 0 -> uniform weights over real positions.
    layer = BahdanauAttention(3)
    query = np.ones((1, 2, 4), dtype="float32")
    values = np.arange(12, dtype="float32").reshape(1, 4, 3)
    layer(query, values)
    for weight in layer.weights:
        weight.assign(np.zeros(weight.shape))
    mask = np.array([[1, 1, 0, 1]])
    context, weights = layer(query, values, values_mask=mask, return_weights=True)
    np.testing.assert_allclose(weights, [[[1 / 3, 1 / 3, 0, 1 / 3]] * 2], atol=1e-6)
    np.testing.assert_allclose(context[0, 0], values[0, [0, 1, 3]].mean(axis=0), atol=1e-5)


def test_scores_follow_the_formula():
    rng = np.random.default_rng(1)
    layer = BahdanauAttention(3)
    query = rng.normal(size=(1, 1, 2)).astype("float32")
    values = rng.normal(size=(1, 3, 2)).astype("float32")
    _, weights = layer(query, values, return_weights=True)
    w_q = np.asarray(layer.query_projection.kernel)
    w_k, b_k = np.asarray(layer.key_projection.kernel), np.asarray(layer.key_projection.bias)
    v = np.asarray(layer.score.kernel)[:, 0]
    scores = np.tanh(query[0, 0] @ w_q + values[0] @ w_k + b_k) @ v
    expected = np.exp(scores) / np.exp(scores).sum()
    np.testing.assert_allclose(weights[0, 0], expected, atol=1e-5)


def test_masked_values_get_no_weight_and_do_not_change_the_context():
    rng = np.random.default_rng(2)
    layer = BahdanauAttention(8)
    query = rng.normal(size=(2, 3, 5)).astype("float32")
    values = rng.normal(size=(2, 6, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]])
    context, weights = layer(query, values, values_mask=mask, return_weights=True)
    weights = np.asarray(weights)
    assert np.all(weights[0, :, 3:] == 0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    changed = values.copy()
    changed[0, 3:] = 100.0  # padding content must not leak in
    context_again = layer(query, changed, values_mask=mask)
    np.testing.assert_allclose(context_again[0], context[0], atol=1e-5)


def test_functional_use_with_two_inputs_saves_and_reloads(tmp_path):
    query = keras.Input((None, 5))
    values = keras.Input((None, 4))
    mask = keras.Input((None,))
    context, weights = BahdanauAttention(6, name="attention")(
        query, values, values_mask=mask, return_weights=True
    )
    model = keras.Model([query, values, mask], [context, weights])
    data = [np.ones((1, 2, 5)), np.ones((1, 3, 4)), np.array([[1.0, 1.0, 0.0]])]
    expected = model(data)
    model.save(tmp_path / "model.keras")
    again = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    for a, b in zip(again(data), expected, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_bad_units_are_rejected():
    with pytest.raises(ValueError, match="units"):
        BahdanauAttention(0)
