"""Multiplicative attention (Luong et al., 2015, the "general" score)."""

from __future__ import annotations

import keras
from keras import ops

from shared.layers.scored_attention import ScoredAttention


@keras.saving.register_keras_serializable(package="rnnapps")
class LuongAttention(ScoredAttention):
    """Multiplicative attention: ``score(q, k) = (W q) . k``, optionally scaled by 1/sqrt(dim).

    The query is projected into the value space (cheaper per decoding step than projecting every
    value); the weights are a softmax over the value positions the mask lets through, and the
    context is the weighted sum of the values (masking, softmax and context come from
    ``ScoredAttention``).

    Args:
        scale: divide scores by sqrt(value_dim) (as Transformers do) to keep the softmax soft
            early in training; False gives Luong's original score.

    Call arguments:
        query, values, values_mask, return_weights: as in ``ScoredAttention``: the query
            [batch, query_time, query_dim] attends over the values [batch, value_time,
            value_dim] that the mask lets through.

    Returns the context [batch, query_time, value_dim] (and the weights).

    Example:
        >>> attention = LuongAttention(name="attention")
        >>> context, weights = attention(
        ...     np.ones((2, 3, 8)), np.ones((2, 5, 10)), return_weights=True
        ... )
        >>> context.shape, weights.shape
        ((2, 3, 10), (2, 3, 5))
    """

    def __init__(self, scale: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.scale = bool(scale)
        self.query_projection = None

    def build(self, query_shape, values_shape=None):
        values_shape = query_shape if values_shape is None else values_shape
        # The value size is only known here, so the projection is made in build.
        self.query_projection = keras.layers.Dense(
            values_shape[-1], use_bias=False, name="query_projection"
        )
        self.query_projection.build(query_shape)
        self.built = True

    def attention_scores(self, query, values):
        projected_query = self.query_projection(query)  # [batch, query_time, value_dim]
        scores = ops.matmul(
            projected_query, ops.transpose(values, (0, 2, 1))
        )  # [batch, query_time, value_time]
        if self.scale:
            scores = scores / float(values.shape[-1]) ** 0.5
        return scores

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale})
        return config
