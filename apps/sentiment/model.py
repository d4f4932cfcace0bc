"""The training model: token ids -> embedding -> (bi)directional RNN -> two heads."""

from __future__ import annotations

import keras

from apps.sentiment.config import SentimentConfig
from shared.layers import recurrent_layer


def build_model(config: SentimentConfig, vocabulary_size: int) -> keras.Model:
    """Many-to-one classifier with a class head and a rating head.

    Outputs ``label`` (softmax over negative/neutral/positive) and ``rating``
    (tanh, the human rating divided by 4, so in [-1, 1]).
    """
    token_ids = keras.Input(shape=(config.max_length,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(
        vocabulary_size, config.embedding_dim, mask_zero=True, name="embedding"
    )(token_ids)  # [batch, time, embedding]
    x = keras.layers.Dropout(config.dropout_rate, name="embedding_dropout")(x)
    rnn = recurrent_layer(config.cell, config.units, name=f"{config.cell}_encoder")
    if config.bidirectional:
        rnn = keras.layers.Bidirectional(rnn, name="encoder")
    x = rnn(x)  # [batch, units * directions]: the state after the last real token
    x = keras.layers.Dropout(config.dropout_rate, name="encoder_dropout")(x)
    label = keras.layers.Dense(3, activation="softmax", name="label")(x)
    rating = keras.layers.Dense(1, activation="tanh", name="rating")(x)
    model = keras.Model(token_ids, {"label": label, "rating": rating}, name="sentiment")
    model.compile(
        optimizer=keras.optimizers.AdamW(
            config.learning_rate, weight_decay=config.weight_decay, clipnorm=1.0
        ),
        loss={"label": "sparse_categorical_crossentropy", "rating": "mean_squared_error"},
        loss_weights={"label": 1.0, "rating": config.rating_loss_weight},
        metrics={"label": ["accuracy"]},
    )
    return model
