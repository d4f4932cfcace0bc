"""The training model: token ids -> embedding -> (bi)directional RNN -> two heads."""

from __future__ import annotations

import keras
import numpy as np

from apps.sentiment.config import SentimentConfig
from shared.layers import recurrent_layer


def build_model(
    config: SentimentConfig, vocabulary_size: int, valence: np.ndarray | None = None
) -> keras.Model:
    """Many-to-one classifier with a class head and a rating head.

    Args:
        config: the hyper-parameters.
        vocabulary_size: number of token ids (padding and unknown included).
        valence: optional [vocabulary_size] prior valence of each token, scaled
            to [-1, 1] (0 where unknown); fed beside the learned embedding and
            never trained.

    Outputs ``label`` (softmax over negative/neutral/positive) and ``rating``
    (tanh, the human rating divided by 4, so in [-1, 1]).
    """
    token_ids = keras.Input(shape=(config.max_length,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(
        vocabulary_size, config.embedding_dim, mask_zero=True, name="embedding"
    )(token_ids)  # [batch, time, embedding]
    # Dropout on the learned embedding only: the lexicon prior is never hidden.
    x = keras.layers.Dropout(config.dropout_rate, name="embedding_dropout")(x)
    if valence is not None:
        prior = keras.layers.Embedding(
            vocabulary_size,
            1,
            mask_zero=True,
            trainable=False,
            embeddings_initializer=keras.initializers.Constant(
                np.asarray(valence, dtype="float32").reshape(vocabulary_size, 1)
            ),
            name="lexicon_valence",
        )(token_ids)  # [batch, time, 1]
        x = keras.layers.Concatenate(name="token_features")([x, prior])
        # A bag-of-valence summary beside the RNN, like the sums a lexicon method uses:
        # the recurrent part then has to learn only what order changes (negation, "but").
        valence_summary = keras.layers.Concatenate(name="valence_summary")(
            [
                keras.layers.GlobalAveragePooling1D(name="valence_mean")(prior),
                keras.layers.GlobalMaxPooling1D(name="valence_max")(prior),
                -keras.layers.GlobalMaxPooling1D(name="valence_min")(-prior),
            ]
        )  # [batch, 3]
    rnn = recurrent_layer(config.cell, config.units, name=f"{config.cell}_encoder")
    if config.bidirectional:
        rnn = keras.layers.Bidirectional(rnn, name="encoder")
    x = rnn(x)  # [batch, units * directions]: the state after the last real token
    x = keras.layers.Dropout(config.dropout_rate, name="encoder_dropout")(x)
    if valence is not None:
        x = keras.layers.Concatenate(name="sentence_features")([x, valence_summary])
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
