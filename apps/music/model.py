"""The training model: event ids -> embedding -> stacked GRU/LSTM -> next-event logits."""

from __future__ import annotations

import math

import keras

from apps.music import events
from apps.music.config import MusicConfig
from apps.music.runtime import RELATIVE_SIZE
from shared.layers import make_cell

VOCABULARY_SIZE = len(events.VOCABULARY)


@keras.saving.register_keras_serializable(package="rnnapps")
def bits_per_event(y_true, y_pred):
    """Cross-entropy in bits (log base 2) of integer targets under logits, per position."""
    nats = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
    return nats / math.log(2.0)


@keras.saving.register_keras_serializable(package="rnnapps")
class BitsPerEvent(keras.metrics.MeanMetricWrapper):
    """The mean ``bits_per_event`` over the positions of a run (padding weighs 0).

    Example:
        >>> import numpy as np
        >>> metric = BitsPerEvent()
        >>> metric.update_state(np.array([[1, 0]]), np.zeros((1, 2, 2)), np.array([[1.0, 0.0]]))
        >>> round(float(metric.result()), 3)  # one position of two equal choices: one bit
        1.0
    """

    def __init__(self, name="bits_per_event", dtype=None):
        super().__init__(bits_per_event, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def vocabulary_size(config: MusicConfig) -> int:
    """The model's ids: the 692 events, or with ``key_relative`` 703 (pitches 43..102)."""
    return RELATIVE_SIZE if config.key_relative else VOCABULARY_SIZE


def recurrent_layer_names(config: MusicConfig) -> list[str]:
    return [f"{config.cell}_{index + 1}" for index in range(config.num_layers)]


def build_model(config: MusicConfig, steps_per_epoch: int = 0) -> keras.Model:
    """Many-to-many language model over whole tunes: ``token_ids`` [batch, time] (a tune from
    its start token, padded with id 0 at the end; key-relative ids with ``key_relative``) ->
    ``logits`` [batch, time, vocabulary], the next event at every position. Every tune starts from a zero state, as it is scored and
    generated; padding sits after the tune, so it changes no output the loss weighs.

    The inference graphs (one step with explicit states, a fixed window for scoring) are built
    from these layers in ``export.py``. ``steps_per_epoch`` sets the cosine decay's length.
    """
    size = vocabulary_size(config)
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(size, config.embedding_dim, name="embedding")(token_ids)
    for name in recurrent_layer_names(config):
        # RNN(cell) rather than GRU/LSTM: the cells get unique names the step model calls.
        cell = make_cell(config.cell, config.units, name=f"{name}_cell")
        x = keras.layers.RNN(cell, return_sequences=True, name=name)(x)  # [batch, time, units]
        x = keras.layers.Dropout(config.dropout_rate, name=f"{name}_dropout")(x)
    logits = keras.layers.Dense(size, name="logits")(x)  # [batch, time, 692 or 703]
    model = keras.Model(token_ids, logits, name="music")
    learning_rate = config.learning_rate
    if config.cosine_decay and steps_per_epoch:
        learning_rate = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=config.epochs * steps_per_epoch, alpha=0.02
        )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=config.clip_norm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[BitsPerEvent()],
    )
    return model
