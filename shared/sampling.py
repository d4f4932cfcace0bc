"""Next-token sampling in the graph: the TensorFlow twin of ``shared.runtime.sampling``.

``tf_sample_next`` (TensorFlow ops, stateless random) serves a SavedModel ``generate``
signature inside a ``tf.while_loop``; the host loop that drives a LiteRT step model samples
with ``shared.runtime.sampling`` (NumPy only). Both apply the same filters (see that module),
so they agree on which tokens may be drawn; their random streams differ.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def tf_filter_mask(
    logits: tf.Tensor, temperature: tf.Tensor, top_k: tf.Tensor, top_p: tf.Tensor
) -> tf.Tensor:
    """Graph twin of ``shared.runtime.sampling.filter_mask``: logits [batch, vocab] -> bool
    [batch, vocab].

    ``temperature``, ``top_k`` and ``top_p`` are scalars (Python numbers or tensors).
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    temperature = tf.convert_to_tensor(temperature, tf.float32)
    top_k = tf.cast(top_k, tf.int32)
    top_p = tf.convert_to_tensor(top_p, tf.float32)
    vocab_size = tf.shape(logits)[-1]
    scaled = logits / temperature  # [batch, vocab]
    descending = tf.sort(scaled, axis=-1, direction="DESCENDING")
    keep_count = tf.where(top_k > 0, tf.minimum(top_k, vocab_size), vocab_size)
    # Top-p over the top_k survivors; positions past keep_count get zero probability.
    positions = tf.range(vocab_size)[tf.newaxis, :]
    kept = tf.where(positions < keep_count, descending, -np.inf)
    probabilities = tf.nn.softmax(kept, axis=-1)
    mass_before = tf.cumsum(probabilities, axis=-1, exclusive=True)
    nucleus_count = tf.reduce_sum(tf.cast(mass_before < top_p, tf.int32), axis=-1)  # [batch]
    keep_count = tf.where(top_p < 1.0, tf.minimum(keep_count, nucleus_count), keep_count)
    keep_count = tf.maximum(keep_count, 1)
    threshold = tf.gather(descending, keep_count - 1, axis=-1, batch_dims=1)  # [batch]
    return scaled >= threshold[:, tf.newaxis]


def tf_sample_next(
    logits: tf.Tensor,
    temperature: tf.Tensor,
    top_k: tf.Tensor,
    top_p: tf.Tensor,
    seed: tf.Tensor,
) -> tf.Tensor:
    """Draws one token per row of ``logits`` [batch, vocab] in the graph; returns int32 [batch].

    Args:
        logits: float [batch, vocab].
        temperature: scalar; a value <= 0 means greedy (argmax), because a serving signature
            cannot raise a ValueError on its inputs the way ``resolve_strategy`` does.
        top_k: int scalar, 0 keeps all tokens, 1 is greedy.
        top_p: float scalar in (0, 1], 1 keeps all tokens. Not checked (an assert op would
            block loop optimisation); outside the range it acts as top-1 (<= 0) or keeps all.
        seed: int [2] for the stateless random ops. In a loop, give each step its own seed,
            e.g. ``tf.random.experimental.stateless_fold_in(seed, step)``.
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    temperature = tf.convert_to_tensor(temperature, tf.float32)
    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
    # Keep the division finite on the greedy path; its draw is discarded below.
    safe_temperature = tf.where(temperature > 0.0, temperature, 1.0)
    mask = tf_filter_mask(logits, safe_temperature, top_k, top_p)
    masked = tf.where(mask, logits / safe_temperature, -np.inf)
    seed = tf.cast(seed, tf.int64)
    drawn = tf.random.stateless_categorical(masked, 1, seed=seed, dtype=tf.int32)[:, 0]
    return tf.where(temperature > 0.0, drawn, greedy)
