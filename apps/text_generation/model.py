"""The training model: character ids -> embedding -> stacked stateful RNN -> next-id logits."""

from __future__ import annotations

import math

import keras

from apps.text_generation.config import TextGenerationConfig
from shared.layers import make_cell


@keras.saving.register_keras_serializable(package="rnnapps")
def bits_per_character(y_true, y_pred):
    """Cross-entropy in bits (log base 2) of integer targets under logits, per position."""
    nats = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
    return nats / math.log(2.0)


def recurrent_layer_names(config: TextGenerationConfig) -> list[str]:
    return [f"{config.cell}_{index + 1}" for index in range(config.num_layers)]


def build_model(
    config: TextGenerationConfig, vocabulary_size: int, steps_per_epoch: int = 0
) -> keras.Model:
    """Many-to-many language model for truncated BPTT over stream lanes.

    The recurrent layers are stateful with a fixed batch (``config.batch_size`` lanes of
    ``config.window_length`` ids): the final state of a window is the initial state of the
    next window of the same lane (see ``TextGenerationApp.make_datasets``). The states are never
    reset: where a lane jumps (a new epoch, the validation pass) the next begin token ``<s>``
    washes out the stale context within a few characters. Inference graphs (one step, or a whole
    sequence with explicit states) are built from these layers in ``inference.py``.

    Output ``logits`` [batch, window, vocabulary]: the next id at each position.
    ``steps_per_epoch`` (windows per pass) sets the cosine decay's length when it is on.
    """
    token_ids = keras.Input(
        batch_shape=(config.batch_size, config.window_length), dtype="int32", name="token_ids"
    )
    x = keras.layers.Embedding(vocabulary_size, config.embedding_dim, name="embedding")(token_ids)
    for name in recurrent_layer_names(config):
        # RNN(cell) rather than GRU/LSTM: the cells then get unique names ("gru_1_cell"), which
        # the step model, calling every cell directly, needs.
        cell = make_cell(config.cell, config.units, name=f"{name}_cell")
        rnn = keras.layers.RNN(cell, return_sequences=True, stateful=True, name=name)
        x = rnn(x)  # [batch, window, units]
        x = keras.layers.Dropout(config.dropout_rate, name=f"{name}_dropout")(x)
    logits = keras.layers.Dense(vocabulary_size, name="logits")(x)  # [batch, window, vocabulary]
    model = keras.Model(token_ids, logits, name="text_generation")
    learning_rate = config.learning_rate
    if config.cosine_decay and steps_per_epoch:
        learning_rate = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=config.epochs * steps_per_epoch, alpha=0.02
        )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=config.clip_norm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[bits_per_character],
    )
    return model
