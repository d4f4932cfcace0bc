"""Tests for shared/runtime/sampling.py (host, numpy) and shared/sampling.py (graph, TensorFlow)."""

import numpy as np
import pytest
import tensorflow as tf

from shared.runtime.sampling import filter_mask, resolve_strategy, sample_next, token_probabilities
from shared.sampling import tf_filter_mask, tf_sample_next

# Hand-made distribution, deliberately not sorted: by probability the order is 1, 3, 2, 0.
PROBABILITIES = np.array([0.05, 0.5, 0.15, 0.3])
LOGITS = np.log(PROBABILITIES)
SEED = tf.constant([11, 42], tf.int32)


def _graph_draws(logits: np.ndarray, count: int, **kwargs) -> np.ndarray:
    batch = np.tile(np.asarray(logits, np.float32), (count, 1))
    parameters = {"temperature": 1.0, "top_k": 0, "top_p": 1.0} | kwargs
    return tf_sample_next(batch, seed=SEED, **parameters).numpy()


def test_greedy_is_argmax_on_host_and_in_graph():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(20, 17)).astype(np.float32)
    host = [sample_next(row, strategy="greedy", temperature=0.0) for row in logits]
    np.testing.assert_array_equal(host, np.argmax(logits, axis=-1))
    graph = tf_sample_next(logits, temperature=0.0, top_k=0, top_p=1.0, seed=SEED)
    np.testing.assert_array_equal(graph.numpy(), np.argmax(logits, axis=-1))


def test_top_k_one_is_argmax_on_host_and_in_graph():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(20, 17)).astype(np.float32)
    host = [sample_next(row, strategy="top_k", top_k=1, rng=rng) for row in logits]
    np.testing.assert_array_equal(host, np.argmax(logits, axis=-1))
    graph = tf_sample_next(logits, temperature=1.5, top_k=1, top_p=1.0, seed=SEED)
    np.testing.assert_array_equal(graph.numpy(), np.argmax(logits, axis=-1))


@pytest.mark.parametrize(
    ("top_p", "allowed"), [(0.4, {1}), (0.75, {1, 3}), (0.85, {1, 2, 3}), (1.0, {0, 1, 2, 3})]
)
def test_top_p_keeps_smallest_set_reaching_p(top_p, allowed):
    rng = np.random.default_rng(2)
    host = [sample_next(LOGITS, strategy="top_p", top_p=top_p, rng=rng) for _ in range(3000)]
    assert set(host) == allowed
    assert set(_graph_draws(LOGITS, 3000, top_p=top_p).tolist()) == allowed
    # Within the nucleus the draws follow the renormalised probabilities.
    expected = PROBABILITIES[1] / PROBABILITIES[sorted(allowed)].sum()
    assert np.mean(np.array(host) == 1) == pytest.approx(expected, abs=0.04)


def test_top_k_samples_only_the_k_most_likely():
    rng = np.random.default_rng(3)
    host = [sample_next(LOGITS, strategy="top_k", top_k=2, rng=rng) for _ in range(2000)]
    assert set(host) == {1, 3}
    assert set(_graph_draws(LOGITS, 2000, top_k=2).tolist()) == {1, 3}


def test_top_p_with_top_k_precut():
    # top_p=0.85 alone keeps {1, 2, 3}; a top_k of 2 cuts first.
    mask = filter_mask(LOGITS, temperature=1.0, top_k=2, top_p=0.85)
    np.testing.assert_array_equal(mask, [False, True, False, True])


def test_minus_infinity_logits_are_never_drawn():
    logits = np.array([0.0, -np.inf, 1.0, -np.inf])
    rng = np.random.default_rng(4)
    host = {sample_next(logits, strategy="top_k", top_k=3, rng=rng) for _ in range(500)}
    assert host == {0, 2}
    assert set(_graph_draws(logits, 500, top_k=3).tolist()) == {0, 2}


def test_same_seed_gives_same_sequence_on_host():
    def sequence(seed):
        rng = np.random.default_rng(seed)
        return [sample_next(LOGITS, temperature=1.3, rng=rng) for _ in range(50)]

    assert sequence(5) == sequence(5)
    assert sequence(5) != sequence(6)


def test_same_seed_gives_same_sequence_in_a_graph_loop():
    logits = tf.constant(LOGITS[np.newaxis], tf.float32)

    @tf.function
    def generate(seed, temperature, top_k, top_p):
        def body(step, tokens):
            step_seed = tf.random.experimental.stateless_fold_in(seed, step)
            token = tf_sample_next(logits, temperature, top_k, top_p, step_seed)
            return step + 1, tokens.write(step, token[0])

        _, tokens = tf.while_loop(
            lambda step, _: step < 40, body, (tf.constant(0), tf.TensorArray(tf.int32, 40))
        )
        return tokens.stack()

    arguments = (tf.constant(1.0), tf.constant(0), tf.constant(1.0))
    first = generate(tf.constant([1, 2]), *arguments).numpy()
    again = generate(tf.constant([1, 2]), *arguments).numpy()
    other = generate(tf.constant([1, 3]), *arguments).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert len(set(first.tolist())) > 1  # each step drew with its own seed


def _softmax(values: np.ndarray) -> np.ndarray:
    exponentials = np.exp(values - values.max())
    return exponentials / exponentials.sum()


def test_lower_temperature_sharpens_the_distribution():
    logits = np.array([2.0, 1.0, 0.0])
    rng = np.random.default_rng(7)
    host_top, graph_top = [], []
    for temperature in (0.5, 1.0, 2.0):
        expected = _softmax(logits / temperature)[0]
        host = [sample_next(logits, "temperature", temperature, rng=rng) for _ in range(8000)]
        graph = _graph_draws(logits, 8000, temperature=temperature)
        host_top.append(np.mean(np.array(host) == 0))
        graph_top.append(np.mean(graph == 0))
        # Standard error is about 0.0055 here, so 0.025 is more than four of them.
        assert host_top[-1] == pytest.approx(expected, abs=0.025)
        assert graph_top[-1] == pytest.approx(expected, abs=0.025)
    assert host_top[0] > host_top[1] > host_top[2]
    assert graph_top[0] > graph_top[1] > graph_top[2]


def test_host_and_graph_agree_on_allowed_tokens():
    rng = np.random.default_rng(8)
    logits = (rng.normal(size=(64, 30)) * rng.uniform(0.5, 4.0, size=(64, 1))).astype(np.float32)
    for temperature, top_k, top_p in [(1.0, 0, 0.9), (0.7, 5, 1.0), (1.3, 8, 0.6), (1.0, 0, 0.3)]:
        graph = tf_filter_mask(logits, temperature, top_k, top_p).numpy()
        host = np.stack([filter_mask(row, temperature, top_k, top_p) for row in logits])
        np.testing.assert_array_equal(host, graph)
        assert 0 < host.sum() < host.size  # the cuts did something


def test_token_probabilities_are_renormalised_over_the_kept_tokens():
    probabilities = token_probabilities(LOGITS, temperature=1.0, top_k=0, top_p=0.75)
    np.testing.assert_allclose(probabilities, [0.0, 0.5 / 0.8, 0.0, 0.3 / 0.8], atol=1e-12)


def test_logits_of_shape_one_by_vocab_are_accepted():
    assert sample_next(LOGITS[np.newaxis], strategy="greedy") == 1
    with pytest.raises(ValueError, match="logits"):
        sample_next(np.zeros((2, 4)), strategy="greedy")
    with pytest.raises(ValueError, match="logits"):
        sample_next(np.array([0.0, np.nan]), strategy="greedy")


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"strategy": "beam"}, "strategy"),
        ({"strategy": "top_p", "temperature": 0.0}, "temperature"),
        ({"strategy": "temperature", "temperature": -1.0}, "temperature"),
        ({"strategy": "top_k", "top_k": -1}, "top_k"),
        ({"strategy": "top_k", "top_k": 2.5}, "top_k"),
        ({"strategy": "top_p", "top_p": 0.0}, "top_p"),
        ({"strategy": "top_p", "top_p": 1.5}, "top_p"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(arguments, name):
    with pytest.raises(ValueError, match=name):
        sample_next(LOGITS, **arguments)


def test_resolve_strategy_maps_names_to_filter_numbers():
    assert resolve_strategy("greedy", temperature=0.0) == (1.0, 1, 1.0)
    assert resolve_strategy("temperature", 0.8, top_k=5, top_p=0.5) == (0.8, 0, 1.0)
    assert resolve_strategy("top_k", 0.8, top_k=5, top_p=0.5) == (0.8, 5, 1.0)
    assert resolve_strategy("top_p", 0.8, top_k=5, top_p=0.5) == (0.8, 5, 0.5)
