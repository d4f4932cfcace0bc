"""The common part of score-based attention layers: masking, softmax and the context."""

from __future__ import annotations

import keras
from keras import ops

# Added to the scores of masked positions: exp() of it is exactly 0 in float32, and it stays
# finite, so a fully masked row gives uniform weights instead of NaN.
MASKED_SCORE = -1e9


class ScoredAttention(keras.layers.Layer):
    """Base of attention layers that differ only in how a query scores each value.

    A subclass creates its weights and implements ``attention_scores(query, values)``
    -> [batch, query_time, value_time]; this class masks the scores, turns them into weights
    with a softmax over the value positions and returns the weighted sum of the values. It
    holds no weights and no config of its own, so a subclass's saved name, config and
    weights are its own.

    Call arguments:
        query: [batch, query_time, query_dim].
        values: [batch, value_time, value_dim]; defaults to `query` (self-attention).
        values_mask: optional [batch, value_time], true (or 1) where a value is real.
        return_weights: also return the attention weights [batch, query_time, value_time].

    Returns the context [batch, query_time, value_dim] (and the weights).

    Example:
        >>> class DotAttention(ScoredAttention):
        ...     def attention_scores(self, query, values):
        ...         return ops.matmul(query, ops.transpose(values, (0, 2, 1)))
        >>> DotAttention(name="attention")(np.ones((2, 3, 8)), np.ones((2, 5, 8))).shape
        (2, 3, 8)
    """

    def attention_scores(self, query, values):
        """[batch, query_time, value_time] unnormalised scores of every value for every query."""
        raise NotImplementedError(f"{type(self).__name__} must implement attention_scores")

    def call(self, query, values=None, values_mask=None, return_weights=False):
        values = query if values is None else values
        scores = self.attention_scores(query, values)  # [batch, query_time, value_time]
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
