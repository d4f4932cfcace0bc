"""Additive attention (Bahdanau et al., 2015)."""

from __future__ import annotations

import keras
from keras import ops

# Added to the scores of masked positions: exp() of it is exactly 0 in float32, and it stays
# finite, so a fully masked row gives uniform weights instead of NaN.
MASKED_SCORE = -1e9


@keras.saving.register_keras_serializable(package="rnnapps")
class BahdanauAttention(keras.layers.Layer):
    """Additive attention: ``score(q, k) = v . tanh(W_q q + W_k k + b)``.

    Each query attends over the values; the weights are a softmax over the value positions that
    the mask lets through, and the context is the weighted sum of the values. A recurrent
    decoder calls it once per output step (query = its state) or on the whole sequence of its
    states at once: the two agree, which is what lets a decoder-step model reproduce a
    teacher-forced one.

    Args:
        units: size of the hidden layer inside the score.

    Call arguments:
        query: [batch, query_time, query_dim].
        values: [batch, value_time, value_dim]; defaults to `query` (self-attention).
        values_mask: optional [batch, value_time], true (or 1) where a value is real.
        return_weights: also return the attention weights [batch, query_time, value_time].

    Returns the context [batch, query_time, value_dim] (and the weights).

    Example:
        >>> attention = BahdanauAttention(16, name="attention")
        >>> context, weights = attention(
        ...     np.ones((2, 3, 8)), np.ones((2, 5, 10)), return_weights=True
        ... )
        >>> context.shape, weights.shape
        ((2, 3, 10), (2, 3, 5))
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        if units < 1:
            raise ValueError(f"units must be >= 1, got {units}")
        self.units = int(units)
        self.query_projection = keras.layers.Dense(
            self.units, use_bias=False, name="query_projection"
        )
        self.key_projection = keras.layers.Dense(self.units, name="key_projection")
        self.score = keras.layers.Dense(1, use_bias=False, name="score")

    def build(self, query_shape, values_shape=None):
        values_shape = query_shape if values_shape is None else values_shape
        self.query_projection.build(query_shape)
        self.key_projection.build(values_shape)
        self.score.build((*values_shape[:-1], self.units))
        self.built = True

    def call(self, query, values=None, values_mask=None, return_weights=False):
        values = query if values is None else values
        projected_query = self.query_projection(query)  # [batch, query_time, units]
        keys = self.key_projection(values)  # [batch, value_time, units]
        hidden = ops.tanh(
            ops.expand_dims(projected_query, 2) + ops.expand_dims(keys, 1)
        )  # [batch, query_time, value_time, units]
        scores = ops.squeeze(self.score(hidden), -1)  # [batch, query_time, value_time]
        if values_mask is not None:
            keep = ops.expand_dims(ops.cast(values_mask, scores.dtype), 1)  # [batch, 1, value_time]
            scores = scores + (1.0 - keep) * MASKED_SCORE
        weights = ops.softmax(scores, axis=-1)
        context = ops.matmul(weights, values)  # [batch, query_time, value_dim]
        return (context, weights) if return_weights else context

    def compute_output_spec(self, query, values=None, values_mask=None, return_weights=False):
        values = query if values is None else values
        context = keras.KerasTensor((*query.shape[:-1], values.shape[-1]), dtype=self.compute_dtype)
        if not return_weights:
            return context
        weights = keras.KerasTensor((*query.shape[:-1], values.shape[1]), dtype=self.compute_dtype)
        return context, weights

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config
