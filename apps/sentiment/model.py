"""The training model: token ids -> embedding -> (bi)directional RNN -> two heads."""

from __future__ import annotations

import keras
import numpy as np

from apps.sentiment.config import SentimentConfig
from shared.errors import UserError
from shared.layers import recurrent_layer


@keras.saving.register_keras_serializable(package="rnnapps")
class BagOfBigrams(keras.layers.Layer):
    """Token ids -> the mean embedding of their words and hashed word pairs (fastText).

    The linear bag-of-n-grams that TF-IDF with logistic regression shows is strong on
    this corpus, beside the RNN: each word and each adjacent pair of words (hashed into
    `buckets` rows) has a learned vector, averaged over the real tokens. The pair's id is
    ``(first * vocabulary_size + second) mod buckets``, integer ops that LiteRT has, so the
    ``.tflite`` computes it from the same token ids.

    Args:
        vocabulary_size: number of token ids (0 is padding and is left out of the mean).
        buckets: rows of the pair table.
        dim: size of each vector.
    """

    def __init__(self, vocabulary_size: int, buckets: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        if vocabulary_size * vocabulary_size >= 2**31:
            raise ValueError(f"vocabulary_size {vocabulary_size}: pair ids overflow int32")
        self.vocabulary_size = int(vocabulary_size)
        self.buckets = int(buckets)
        self.dim = int(dim)
        self.words = keras.layers.Embedding(vocabulary_size, dim, name="words")
        self.pairs = keras.layers.Embedding(buckets, dim, name="pairs")

    def build(self, input_shape):
        self.words.build(input_shape)
        self.pairs.build(input_shape)

    def call(self, token_ids):
        ops = keras.ops
        first, second = token_ids[:, :-1], token_ids[:, 1:]  # [batch, time - 1] each
        pair_ids = ops.mod(first * self.vocabulary_size + second, self.buckets)
        word_mask = ops.cast(ops.greater(token_ids, 0), "float32")[..., None]
        pair_mask = ops.cast(ops.greater(ops.minimum(first, second), 0), "float32")[..., None]
        total = ops.sum(self.words(token_ids) * word_mask, axis=1) + ops.sum(
            self.pairs(pair_ids) * pair_mask, axis=1
        )  # [batch, dim]
        count = ops.sum(word_mask, axis=1) + ops.sum(pair_mask, axis=1)  # [batch, 1]
        return total / ops.maximum(count, 1.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"vocabulary_size": self.vocabulary_size, "buckets": self.buckets, "dim": self.dim}
        )
        return config


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
    features = _encode(token_ids, prior, config, vocabulary_size)
    if config.bigram_buckets:
        try:
            bag_of_bigrams = BagOfBigrams(
                vocabulary_size, config.bigram_buckets, config.bigram_dim, name="bag_of_bigrams"
            )
        except ValueError as error:  # too many token ids for int32 word-pair ids
            raise UserError(
                f"--set max_tokens={config.max_tokens}: {error} (46,340 ids at most); lower "
                "max_tokens or set bigram_buckets=0"
            ) from error
        bag = bag_of_bigrams(token_ids)
        bag = keras.layers.Dropout(config.dropout_rate, name="bag_dropout")(bag)
        features = keras.layers.Concatenate(name="wide_and_deep")([features, bag])
    outputs = {
        "label": keras.layers.Dense(3, activation="softmax", name="label")(features),
        "rating": keras.layers.Dense(1, activation="tanh", name="rating")(features),
    }
    model = keras.Model(token_ids, outputs, name="sentiment")
    model.compile(
        optimizer=keras.optimizers.AdamW(
            config.learning_rate, weight_decay=config.weight_decay, clipnorm=1.0
        ),
        loss={"label": "sparse_categorical_crossentropy", "rating": "mean_squared_error"},
        loss_weights={"label": 1.0, "rating": config.rating_loss_weight},
        metrics={"label": ["accuracy"]},
    )
    return model


def _encode(token_ids, prior, config: SentimentConfig, vocabulary_size: int):
    """Token ids (and their lexicon valence) -> the sentence's feature vector."""
    x = keras.layers.Embedding(
        vocabulary_size, config.embedding_dim, mask_zero=True, name="embedding"
    )(token_ids)  # [batch, time, embedding]
    # Dropout on the learned embedding only: the lexicon prior is never hidden.
    x = keras.layers.Dropout(config.dropout_rate, name="embedding_dropout")(x)
    if prior is not None:
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
    shifters = prior is not None and config.valence_shifters
    rnn = recurrent_layer(
        config.cell,
        config.units,
        return_sequences=shifters,
        return_state=shifters,
        name=f"{config.cell}_encoder",
    )
    if config.bidirectional:
        rnn = keras.layers.Bidirectional(rnn, name="encoder")
    if shifters:
        sequence, *states = rnn(x)  # [batch, time, units * directions], final states
        # The state after the last real token (forward) and after the first (backward).
        finals = [states[0], states[len(states) // 2]] if config.bidirectional else states[:1]
        x = finals[0] if len(finals) == 1 else keras.layers.Concatenate(name="final_state")(finals)
        # VADER's rules (negation flips, boosters, "but") scale each word's valence by its
        # context; here the encoder learns that gain for every token, starting at 1.
        gain = keras.layers.Dense(
            1, kernel_initializer="zeros", bias_initializer="ones", name="valence_gain"
        )(sequence)  # [batch, time, 1]
        shifted = keras.layers.Multiply(name="shifted_valence")([gain, prior])
        # VADER sums the shifted valences and squashes the sum (x / sqrt(x^2 + 15)); a long
        # editorial's mean hides what its sum shows. tanh(sum) is the same shape.
        shifted_sum = keras.layers.Dense(
            1,
            use_bias=False,
            kernel_initializer="ones",
            trainable=False,
            activation="tanh",
            name="shifted_sum",
        )(keras.layers.Flatten(name="shifted_tokens")(shifted))  # [batch, 1]
        valence_summary = keras.layers.Concatenate(name="shifted_summary")(
            [
                valence_summary,
                shifted_sum,
                keras.layers.GlobalAveragePooling1D(name="shifted_mean")(shifted),
                keras.layers.GlobalMaxPooling1D(name="shifted_max")(shifted),
                -keras.layers.GlobalMaxPooling1D(name="shifted_min")(-shifted),
            ]
        )  # [batch, 7]
    else:
        x = rnn(x)  # [batch, units * directions]: the state after the last real token
    x = keras.layers.Dropout(config.dropout_rate, name="encoder_dropout")(x)
    if prior is not None:
        x = keras.layers.Concatenate(name="sentence_features")([x, valence_summary])
    return x
