"""The sentiment model's optional parts (valence shifters, bag of bigrams): what they compute,
and that they convert."""

import keras
import numpy as np

from apps.sentiment.config import SentimentConfig
from apps.sentiment.export import litert_model
from apps.sentiment.model import (
    BagOfBigrams,
    PriorShift,
    TokenDropout,
    build_model,
    target_names,
)
from shared.config import resolve_config
from shared.export import audit_builtin_ops, convert_to_tflite
from shared.runtime.litert import LiteRTModel


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


def test_a_prior_shift_of_ones_changes_nothing_and_a_factor_moves_the_choice():
    layer = PriorShift(3)
    probabilities = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]], "float32")
    np.testing.assert_allclose(np.asarray(layer(probabilities)), probabilities, atol=1e-7)
    layer.factors.assign(np.array([1.0, 4.0, 1.0], "float32"))
    shifted = np.asarray(layer(probabilities))
    # 0.3 * 4 = 1.2 outweighs 0.5, and each row still sums to one.
    np.testing.assert_allclose(shifted[0], np.array([0.5, 1.2, 0.2]) / 1.9, atol=1e-6)
    np.testing.assert_allclose(shifted.sum(axis=-1), 1.0, atol=1e-6)
    assert shifted.argmax(axis=-1).tolist() == [1, 2]


def test_a_calibrated_shift_survives_save_and_conversion(tmp_path):
    config = resolve_config(SentimentConfig, "quick", [])
    model = build_model(config, 40)
    model.get_layer("label").factors.assign(np.array([1.0, 3.0, 1.0], "float32"))
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    ids = np.random.default_rng(2).integers(1, 40, size=(1, config.max_length)).astype("int32")
    expected = np.asarray(model(ids, training=False)["label"])
    np.testing.assert_allclose(reloaded(ids, training=False)["label"], expected, atol=1e-6)
    unshifted = np.asarray(
        keras.Model(model.input, model.get_layer("class_probabilities").output)(ids)
    )
    assert np.abs(expected - unshifted).max() > 1e-3  # the factors are in the graph
    content = convert_to_tflite(litert_model(reloaded), "fp32")
    assert audit_builtin_ops(content, "sentiment prior shift")
    np.testing.assert_allclose(LiteRTModel(content)(token_ids=ids)["label"], expected, atol=1e-5)


def test_an_ensemble_answers_with_its_members_mean_and_converts_without_them():
    config = resolve_config(
        SentimentConfig, "quick", ["ensemble_size=2", "bigram_buckets=101", "valence_sum=true"]
    )
    valence = np.linspace(-1.0, 1.0, 40).astype("float32")
    valence[:2] = 0.0
    model = build_model(config, 40, valence)  # members share the fixed lexicon table
    ids = np.random.default_rng(3).integers(1, 40, size=(1, config.max_length)).astype("int32")
    ids[0, 25:] = 0
    out = {name: np.asarray(value) for name, value in model(ids, training=False).items()}
    assert np.abs(out["member0_label"] - out["member1_label"]).max() > 1e-4  # own weights
    mean = (out["member0_label"] + out["member1_label"]) / 2
    np.testing.assert_allclose(out["label"], mean, atol=1e-6)
    rating = (out["member0_rating"] + out["member1_rating"]) / 2
    np.testing.assert_allclose(out["rating"], rating, atol=1e-6)
    content = convert_to_tflite(litert_model(model), "fp32")
    assert audit_builtin_ops(content, "sentiment ensemble")
    litert_out = LiteRTModel(content)(token_ids=ids)
    assert set(litert_out) == {"label", "rating"}
    np.testing.assert_allclose(litert_out["label"], out["label"], atol=1e-5)
    np.testing.assert_allclose(litert_out["rating"], out["rating"], atol=1e-5)


def test_every_member_trains_on_its_own_loss():
    config = resolve_config(SentimentConfig, "quick", ["ensemble_size=3", "bigram_buckets=101"])
    model = build_model(config, 40)
    rng = np.random.default_rng(4)
    ids = rng.integers(1, 40, size=(8, config.max_length)).astype("int32")
    targets = {"label": rng.integers(0, 3, size=8), "rating": rng.uniform(-1, 1, (8, 1))}
    names = target_names(config)
    history = model.fit(
        ids, {name: targets[name.rsplit("_", 1)[1]] for name in names}, epochs=1, verbose=0
    )
    assert names == [f"member{k}_{head}" for k in range(3) for head in ("label", "rating")]
    assert all(f"{name}_loss" in history.history for name in names)


def test_token_dropout_hides_known_words_in_training_only():
    layer = TokenDropout(0.3, seed=5)
    ids = np.tile(np.arange(0, 50, dtype="int32"), (40, 1))  # 0 pads, 1 is unknown
    np.testing.assert_array_equal(np.asarray(layer(ids, training=False)), ids)
    dropped = np.asarray(layer(ids, training=True))
    changed = dropped != ids
    assert (dropped[changed] == 1).all()  # hidden words become the unknown id
    assert not changed[:, :2].any()  # padding and unknown stay
    assert 0.25 < changed[:, 2:].mean() < 0.35
    again = np.asarray(layer(ids, training=True))
    assert (again != dropped).any()  # a fresh draw each call


def test_the_valence_sum_is_tanh_of_the_words_lexicon_valences():
    config = resolve_config(SentimentConfig, "quick", ["valence_sum=true"])
    valence = np.linspace(-1.0, 1.0, 12).astype("float32")
    valence[:2] = 0.0
    model = build_model(config, 12, valence)
    ids = np.zeros((2, config.max_length), "int32")
    ids[0, :4] = [11, 11, 10, 3]
    ids[1, :2] = [2, 2]
    probe = keras.Model(model.input, model.get_layer("valence_sum").output)
    expected = np.tanh(valence[ids].sum(axis=1, keepdims=True))
    np.testing.assert_allclose(np.asarray(probe(ids)), expected, atol=1e-6)
