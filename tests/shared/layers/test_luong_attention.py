import keras
import numpy as np

from shared.layers.luong_attention import LuongAttention
from shared.testing import check_layer


def test_layer_harness(tmp_path):
    data = np.random.default_rng(0).normal(size=(2, 5, 6)).astype("float32")
    check_layer(
        lambda: LuongAttention(name="attention"), data, tmp_path, expected_output_shape=(2, 5, 6)
    )


def test_scores_follow_the_general_formula():
    rng = np.random.default_rng(1)
    for scale in (True, False):
        layer = LuongAttention(scale=scale)
        query = rng.normal(size=(1, 2, 3)).astype("float32")
        values = rng.normal(size=(1, 4, 5)).astype("float32")
        context, weights = layer(query, values, return_weights=True)
        w = np.asarray(layer.query_projection.kernel)  # [3, 5]
        scores = (query[0] @ w) @ values[0].T / (np.sqrt(5.0) if scale else 1.0)
        expected = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
        np.testing.assert_allclose(weights[0], expected, atol=1e-5)
        np.testing.assert_allclose(context[0], expected @ values[0], atol=1e-5)


def test_masked_values_get_no_weight():
    rng = np.random.default_rng(2)
    layer = LuongAttention()
    query = rng.normal(size=(2, 3, 5)).astype("float32")
    values = rng.normal(size=(2, 6, 4)).astype("float32")
    mask = np.array([[1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=bool)
    _, weights = layer(query, values, values_mask=mask, return_weights=True)
    weights = np.asarray(weights)
    assert np.all(weights[0, :, 2:] == 0) and np.all(weights[1] > 0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)


def test_config_round_trip_and_reload(tmp_path):
    query = keras.Input((None, 5))
    values = keras.Input((None, 4))
    context = LuongAttention(scale=False, name="attention")(query, values)
    model = keras.Model([query, values], context)
    assert model.get_layer("attention").get_config()["scale"] is False
    data = [np.ones((1, 2, 5)), np.arange(12.0).reshape(1, 3, 4)]
    model.save(tmp_path / "model.keras")
    again = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(again(data), model(data), atol=1e-6)
