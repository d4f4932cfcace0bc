"""The training model: a bidirectional encoder, an attentive recurrent decoder, teacher forcing.

    source ids -> embedding -> bidirectional RNN (config.cell) -> encoder outputs  ---------+
                                     \\-> final states -> bridge -> decoder initial state    |
    <start> + target ids -> embedding -> RNN decoder -> decoder outputs (queries)           |
                                          attention(query, encoder outputs, source mask) <--+
                                          [context; query] -> tanh combine -> logits

The attention sits after the decoder's recurrence (Luong et al.'s placement, also the
TensorFlow NMT tutorial's): the recurrence then runs over the whole target at once in training,
and one decoder step is exactly "one cell step, then attention over the encoder outputs", which
is what the on-device decoder-step model computes. Additive (Bahdanau) or multiplicative (Luong)
scores are a config choice.
"""

from __future__ import annotations

import keras
from keras import ops

from apps.translation.config import TranslationConfig
from shared.layers import recurrent_layer, state_names
from shared.layers.bahdanau_attention import BahdanauAttention
from shared.layers.luong_attention import LuongAttention


def attention_layer(config: TranslationConfig) -> keras.layers.Layer:
    if config.attention == "bahdanau":
        return BahdanauAttention(config.attention_units, name="attention")
    return LuongAttention(name="attention")


def build_model(
    config: TranslationConfig, source_vocabulary_size: int, target_vocabulary_size: int
) -> keras.Model:
    """The compiled teacher-forced model.

    Inputs ``source_ids`` [batch, source_time] (0-padded) and ``decoder_input_ids``
    [batch, target_time] (the start token, then the target shifted right); output ``logits``
    [batch, target_time, target_vocabulary].
    """
    source_ids = keras.Input(shape=(None,), dtype="int32", name="source_ids")
    decoder_input_ids = keras.Input(shape=(None,), dtype="int32", name="decoder_input_ids")

    source_mask = ops.not_equal(source_ids, 0)  # [batch, source_time]
    x = keras.layers.Embedding(
        source_vocabulary_size, config.embedding_dim, mask_zero=True, name="source_embedding"
    )(source_ids)  # [batch, source_time, embedding]
    x = keras.layers.Dropout(config.dropout_rate, name="source_dropout")(x)
    encoder = keras.layers.Bidirectional(
        recurrent_layer(
            config.cell, config.encoder_units, return_sequences=True, return_state=True
        ),
        name="encoder",
    )
    encoded = encoder(x)
    encoder_outputs = encoded[0]  # [batch, source_time, 2 * encoder_units]
    forward_states = encoded[1 : 1 + len(state_names(config.cell))]
    backward_states = encoded[1 + len(state_names(config.cell)) :]
    initial_state = [
        keras.layers.Dense(config.decoder_units, activation="tanh", name=f"bridge_{name}")(
            keras.layers.Concatenate(name=f"final_{name}")([forward, backward])
        )
        for name, forward, backward in zip(
            state_names(config.cell), forward_states, backward_states, strict=True
        )
    ]  # each [batch, decoder_units]

    y = keras.layers.Embedding(
        target_vocabulary_size, config.embedding_dim, name="target_embedding"
    )(decoder_input_ids)  # [batch, target_time, embedding]
    y = keras.layers.Dropout(config.dropout_rate, name="target_dropout")(y)
    decoder_outputs = recurrent_layer(
        config.cell, config.decoder_units, return_sequences=True, name="decoder"
    )(y, initial_state=initial_state)  # [batch, target_time, decoder_units]
    # The weights are unused here, but every call of a layer in Keras functional graphs must
    # return the same structure, and the decoder-step model needs them.
    context, _ = attention_layer(config)(
        decoder_outputs, encoder_outputs, values_mask=source_mask, return_weights=True
    )  # [batch, target_time, 2 * encoder_units]
    combined = keras.layers.Concatenate(name="context_and_query")([context, decoder_outputs])
    combined = keras.layers.Dense(config.decoder_units, activation="tanh", name="combine")(combined)
    combined = keras.layers.Dropout(config.dropout_rate, name="combine_dropout")(combined)
    logits = keras.layers.Dense(target_vocabulary_size, name="logits")(combined)

    model = keras.Model(
        {"source_ids": source_ids, "decoder_input_ids": decoder_input_ids},
        logits,
        name="translation",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")],
    )
    return model
