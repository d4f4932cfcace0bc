"""Additive attention (Bahdanau et al., 2015)."""

from __future__ import annotations

import keras
from keras import ops

from shared.layers.scored_attention import ScoredAttention


@keras.saving.register_keras_serializable(package="rnnapps")
class BahdanauAttention(ScoredAttention):
    """Additive attention: ``score(q, k) = v . tanh(W_q q + W_k k + b)``.

    Each query attends over the values; the weights are a softmax over the value positions that
    the mask lets through, and the context is the weighted sum of the values. A recurrent
    decoder calls it once per output step (query = its state) or on the whole sequence of its
    states at once: the two agree, which is what lets a decoder-step model reproduce a
    teacher-forced one. Masking, softmax and context come from ``ScoredAttention``.

    Args:
        units: size of the hidden layer inside the score.

    Call arguments:
        query, values, values_mask, return_weights: as in ``ScoredAttention``: the query
            [batch, query_time, query_dim] attends over the values [batch, value_time,
            value_dim] that the mask lets through.

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

    def attention_scores(self, query, values):
        projected_query = self.query_projection(query)  # [batch, query_time, units]
        keys = self.key_projection(values)  # [batch, value_time, units]
        hidden = ops.tanh(
            ops.expand_dims(projected_query, 2) + ops.expand_dims(keys, 1)
        )  # [batch, query_time, value_time, units]
        return ops.squeeze(self.score(hidden), -1)  # [batch, query_time, value_time]

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config
