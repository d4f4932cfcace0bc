"""The sentiment model's optional valence shifters: what they compute, and that they convert."""

import keras
import numpy as np

from apps.sentiment.config import SentimentConfig
from apps.sentiment.inference import litert_model
from apps.sentiment.model import build_model
from shared.config import resolve_config
from shared.export import audit_builtin_ops, convert_to_tflite
from shared.litert import LiteRTModel


def shifter_model(vocabulary_size=12):
    config = resolve_config(SentimentConfig, "quick", ["valence_shifters=true"])
    valence = np.linspace(-1.0, 1.0, vocabulary_size).astype("float32")
    valence[:2] = 0.0  # padding and unknown carry no valence
    return config, valence, build_model(config, vocabulary_size, valence)


def test_an_untrained_gain_is_one_so_the_sum_is_the_lexicon_sum():
    config, valence, model = shifter_model()
    ids = np.zeros((2, config.max_length), "int32")
    ids[0, :3] = [2, 11, 11]
    ids[1, :2] = [3, 4]
    probe = keras.Model(model.input, model.get_layer("shifted_sum").output)
    expected = np.tanh(valence[ids].sum(axis=1, keepdims=True))
    np.testing.assert_allclose(np.asarray(probe(ids)), expected, atol=1e-6)


def test_shifters_convert_with_builtin_ops_and_match_keras():
    config, _, model = shifter_model()
    content = convert_to_tflite(litert_model(model), "fp32")
    assert audit_builtin_ops(content, "sentiment shifters")  # raises on Flex or custom ops
    ids = np.random.default_rng(0).integers(0, 12, size=(1, config.max_length)).astype("int32")
    ids[0, 20:] = 0
    keras_out = model(ids, training=False)
    litert_out = LiteRTModel(content)(token_ids=ids)
    np.testing.assert_allclose(litert_out["label"], np.asarray(keras_out["label"]), atol=1e-5)
    np.testing.assert_allclose(litert_out["rating"], np.asarray(keras_out["rating"]), atol=1e-5)
