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
    (tanh, the human rating divided by 4, so in [-1, 1]). With
    ``config.ensemble > 1`` the model holds that many independent members, each
    trained on its own outputs (``label_0``, ``rating_0``...), and ``label`` and
    ``rating`` are their averages: one graph, one call, less variance.
    """
    token_ids = keras.Input(shape=(config.max_length,), dtype="int32", name="token_ids")
    prior = None
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
    members = [
        _member(
            token_ids, prior, config, vocabulary_size, f"_{index}" if config.ensemble > 1 else ""
        )
        for index in range(config.ensemble)
    ]
    if config.ensemble == 1:
        outputs = {"label": members[0][0], "rating": members[0][1]}
        losses = {"label": "sparse_categorical_crossentropy", "rating": "mean_squared_error"}
        weights = {"label": 1.0, "rating": config.rating_loss_weight}
    else:
        outputs = {
            "label": keras.layers.Average(name="label")([label for label, _ in members]),
            "rating": keras.layers.Average(name="rating")([rating for _, rating in members]),
        }
        losses, weights = {}, {}
        for index, (label, rating) in enumerate(members):
            outputs[f"label_{index}"] = label
            outputs[f"rating_{index}"] = rating
            losses[f"label_{index}"] = "sparse_categorical_crossentropy"
            losses[f"rating_{index}"] = "mean_squared_error"
            weights[f"label_{index}"] = 1.0 / config.ensemble
            weights[f"rating_{index}"] = config.rating_loss_weight / config.ensemble
    model = keras.Model(token_ids, outputs, name="sentiment")
    model.compile(
        optimizer=keras.optimizers.AdamW(
            config.learning_rate, weight_decay=config.weight_decay, clipnorm=1.0
        ),
        loss=losses,
        loss_weights=weights,
        metrics={"label": ["accuracy"]},
    )
    return model


def _member(token_ids, prior, config: SentimentConfig, vocabulary_size: int, suffix: str):
    """One embedding -> encoder -> heads stack; returns its (label, rating) tensors."""
    x = keras.layers.Embedding(
        vocabulary_size, config.embedding_dim, mask_zero=True, name=f"embedding{suffix}"
    )(token_ids)  # [batch, time, embedding]
    # Dropout on the learned embedding only: the lexicon prior is never hidden.
    x = keras.layers.Dropout(config.dropout_rate, name=f"embedding_dropout{suffix}")(x)
    if prior is not None:
        x = keras.layers.Concatenate(name=f"token_features{suffix}")([x, prior])
        # A bag-of-valence summary beside the RNN, like the sums a lexicon method uses:
        # the recurrent part then has to learn only what order changes (negation, "but").
        valence_summary = keras.layers.Concatenate(name=f"valence_summary{suffix}")(
            [
                keras.layers.GlobalAveragePooling1D(name=f"valence_mean{suffix}")(prior),
                keras.layers.GlobalMaxPooling1D(name=f"valence_max{suffix}")(prior),
                -keras.layers.GlobalMaxPooling1D(name=f"valence_min{suffix}")(-prior),
            ]
        )  # [batch, 3]
    shifters = prior is not None and config.valence_shifters
    rnn = recurrent_layer(
        config.cell,
        config.units,
        return_sequences=shifters,
        return_state=shifters,
        name=f"{config.cell}_encoder{suffix}",
    )
    if config.bidirectional:
        rnn = keras.layers.Bidirectional(rnn, name=f"encoder{suffix}")
    if shifters:
        sequence, *states = rnn(x)  # [batch, time, units * directions], final states
        # The state after the last real token (forward) and after the first (backward).
        finals = [states[0], states[len(states) // 2]] if config.bidirectional else states[:1]
        x = (
            finals[0]
            if len(finals) == 1
            else keras.layers.Concatenate(name=f"final_state{suffix}")(finals)
        )
        # VADER's rules (negation flips, boosters, "but") scale each word's valence by its
        # context; here the encoder learns that gain for every token, starting at 1.
        gain = keras.layers.Dense(
            1, kernel_initializer="zeros", bias_initializer="ones", name=f"valence_gain{suffix}"
        )(sequence)  # [batch, time, 1]
        shifted = keras.layers.Multiply(name=f"shifted_valence{suffix}")([gain, prior])
        # VADER sums the shifted valences and squashes the sum (x / sqrt(x^2 + 15)); a long
        # editorial's mean hides what its sum shows. tanh(sum) is the same shape.
        shifted_sum = keras.layers.Dense(
            1,
            use_bias=False,
            kernel_initializer="ones",
            trainable=False,
            activation="tanh",
            name=f"shifted_sum{suffix}",
        )(keras.layers.Flatten(name=f"shifted_tokens{suffix}")(shifted))  # [batch, 1]
        valence_summary = keras.layers.Concatenate(name=f"shifted_summary{suffix}")(
            [
                valence_summary,
                shifted_sum,
                keras.layers.GlobalAveragePooling1D(name=f"shifted_mean{suffix}")(shifted),
                keras.layers.GlobalMaxPooling1D(name=f"shifted_max{suffix}")(shifted),
                -keras.layers.GlobalMaxPooling1D(name=f"shifted_min{suffix}")(-shifted),
            ]
        )  # [batch, 7]
    else:
        x = rnn(x)  # [batch, units * directions]: the state after the last real token
    x = keras.layers.Dropout(config.dropout_rate, name=f"encoder_dropout{suffix}")(x)
    if prior is not None:
        x = keras.layers.Concatenate(name=f"sentence_features{suffix}")([x, valence_summary])
    label = keras.layers.Dense(3, activation="softmax", name=f"label{suffix}")(x)
    rating = keras.layers.Dense(1, activation="tanh", name=f"rating{suffix}")(x)
    return label, rating
