"""The sentiment model's optional parts (valence shifters, bag of bigrams): what they compute,
and that they convert."""

import keras
import numpy as np

from apps.sentiment.config import SentimentConfig
from apps.sentiment.inference import litert_model
from apps.sentiment.model import BagOfBigrams, build_model
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


def test_the_bag_is_the_mean_of_the_real_words_and_their_hashed_pairs():
    vocabulary_size, buckets = 30, 7
    layer = BagOfBigrams(vocabulary_size, buckets, dim=4)
    ids = np.array([[5, 29, 2, 0, 0], [3, 1, 0, 0, 0]], "int32")  # 0 pads; 1 is unknown
    bag = np.asarray(layer(ids))
    words, pairs = (np.asarray(table.embeddings) for table in (layer.words, layer.pairs))
    for row, text in zip(bag, ids, strict=True):
        real = text[text > 0]
        vectors = [words[i] for i in real] + [
            pairs[(a * vocabulary_size + b) % buckets]
            for a, b in zip(real[:-1], real[1:], strict=True)
        ]
        np.testing.assert_allclose(row, np.mean(vectors, axis=0), atol=1e-6)


def test_word_order_reaches_the_bag_through_its_pairs():
    layer = BagOfBigrams(30, 1000, dim=4)
    forward = np.asarray(layer(np.array([[5, 9, 0]], "int32")))
    backward = np.asarray(layer(np.array([[9, 5, 0]], "int32")))
    assert np.abs(forward - backward).max() > 1e-4


def test_the_bag_of_bigrams_converts_with_builtin_ops_and_matches_keras():
    config = resolve_config(SentimentConfig, "quick", ["bigram_buckets=101"])
    model = build_model(config, 40)
    content = convert_to_tflite(litert_model(model), "fp32")
    assert audit_builtin_ops(content, "sentiment bag of bigrams")
    ids = np.random.default_rng(1).integers(1, 40, size=(1, config.max_length)).astype("int32")
    ids[0, 30:] = 0
    keras_out = model(ids, training=False)
    litert_out = LiteRTModel(content)(token_ids=ids)
    np.testing.assert_allclose(litert_out["label"], np.asarray(keras_out["label"]), atol=1e-5)
