"""The training model: token ids -> embedding -> (bi)directional RNN -> two heads."""

from __future__ import annotations

import keras
import numpy as np

from apps.sentiment.config import SentimentConfig
from shared.errors import UserError
from shared.layers import recurrent_layer
from shared.preprocessing.text import OOV_ID


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


@keras.saving.register_keras_serializable(package="rnnapps")
class TokenDropout(keras.layers.Layer):
    """In training, replace a `rate` share of the known token ids by the unknown id.

    Ids 0 (padding) and 1 (unknown) stay as they are. A fresh draw every call, from the
    layer's own seed; at inference the ids pass unchanged.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, token_ids, training=False):
        if not training or self.rate == 0:
            return token_ids
        draw = keras.random.uniform(keras.ops.shape(token_ids), seed=self.seed_generator)
        hidden = keras.ops.logical_and(draw < self.rate, token_ids > OOV_ID)
        return keras.ops.where(hidden, OOV_ID, token_ids)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="rnnapps")
class PriorShift(keras.layers.Layer):
    """Class probabilities -> the same, each class scaled by a fixed factor and renormalised.

    Scaling class ``c`` by ``factors[c]`` adds ``log factors[c]`` to its logit: the shift of
    a decision threshold, or of a class prior. The factors are 1 (no change) while the model
    trains; ``SentimentApp.after_training`` then sets them on validation data (config
    ``calibrate_neutral``). They are weights, so ``model.keras``, the SavedModel and every
    ``.tflite`` carry the same decision rule (a multiply, a sum and a divide: builtin ops).

    Args:
        classes: number of classes.
    """

    def __init__(self, classes: int, **kwargs):
        super().__init__(**kwargs)
        self.classes = int(classes)

    def build(self, input_shape):
        self.factors = self.add_weight(
            shape=(self.classes,), initializer="ones", trainable=False, name="factors"
        )

    def call(self, probabilities):
        shifted = probabilities * self.factors
        return shifted / keras.ops.sum(shifted, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "classes": self.classes}


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

    Outputs ``label`` (softmax over negative/neutral/positive, through a ``PriorShift``)
    and ``rating`` (tanh, the human rating divided by 4, so in [-1, 1]).
    """
    token_ids = keras.Input(shape=(config.max_length,), dtype="int32", name="token_ids")
    lexicon = None
    if valence is not None:
        lexicon = keras.layers.Embedding(
            vocabulary_size,
            1,
            mask_zero=True,
            trainable=False,
            embeddings_initializer=keras.initializers.Constant(
                np.asarray(valence, dtype="float32").reshape(vocabulary_size, 1)
            ),
            name="lexicon_valence",
        )  # token ids -> [batch, time, 1]
    members = config.ensemble_size
    heads = []  # [(probabilities, rating)] per member
    for k in range(members):
        prefix, member_ids = "", token_ids
        if members > 1:
            # Each member hides its own words in training (one model has the dataset do it):
            # members that saw the same data the same way would make the same mistakes.
            prefix = f"member{k}_"
            member_ids = TokenDropout(
                config.token_dropout_rate, seed=config.seed + k, name=f"{prefix}token_dropout"
            )(token_ids)
        prior = lexicon(member_ids) if lexicon is not None else None
        heads.append(_member(member_ids, prior, config, vocabulary_size, prefix))
    if members == 1:
        (probabilities, rating), losses = heads[0], {"label": "label", "rating": "rating"}
    else:
        probabilities = keras.layers.Average(name="class_probabilities")([p for p, _ in heads])
        rating = keras.layers.Average(name="rating")([r for _, r in heads])
        losses = {f"member{k}_{head}": head for k in range(members) for head in ("label", "rating")}
    outputs = {"label": PriorShift(3, name="label")(probabilities), "rating": rating}
    if members > 1:
        # Each member learns from its own loss (an ensemble, not one wide model); their
        # outputs are the model's too, so Keras can score them, and LiteRT leaves them out.
        for k, (member_probabilities, member_rating) in enumerate(heads):
            outputs[f"member{k}_label"] = member_probabilities
            outputs[f"member{k}_rating"] = member_rating
    model = keras.Model(token_ids, outputs, name="sentiment")
    model.compile(
        optimizer=keras.optimizers.AdamW(
            config.learning_rate, weight_decay=config.weight_decay, clipnorm=1.0
        ),
        loss={
            name: "sparse_categorical_crossentropy" if head == "label" else "mean_squared_error"
            for name, head in losses.items()
        },
        loss_weights={
            name: 1.0 if head == "label" else config.rating_loss_weight
            for name, head in losses.items()
        },
        metrics={"label": ["accuracy"]} if members == 1 else None,
    )
    return model


def target_names(config: SentimentConfig) -> list[str]:
    """The outputs that training's targets are for: ``label`` and ``rating``, per member."""
    if config.ensemble_size == 1:
        return ["label", "rating"]
    return [
        f"member{k}_{head}" for k in range(config.ensemble_size) for head in ("label", "rating")
    ]


def _member(token_ids, prior, config: SentimentConfig, vocabulary_size: int, prefix: str):
    """One member's class probabilities and rating; its layers' names start with `prefix`."""
    features = _encode(token_ids, prior, config, vocabulary_size, prefix)
    if config.bigram_buckets:
        try:
            bag_of_bigrams = BagOfBigrams(
                vocabulary_size,
                config.bigram_buckets,
                config.bigram_dim,
                name=f"{prefix}bag_of_bigrams",
            )
        except ValueError as error:  # too many token ids for int32 word-pair ids
            raise UserError(
                f"--set max_tokens={config.max_tokens}: {error} (46,340 ids at most); lower "
                "max_tokens or set bigram_buckets=0"
            ) from error
        bag = bag_of_bigrams(token_ids)
        bag = keras.layers.Dropout(config.dropout_rate, name=f"{prefix}bag_dropout")(bag)
        features = keras.layers.Concatenate(name=f"{prefix}wide_and_deep")([features, bag])
    probabilities = keras.layers.Dense(
        3, activation="softmax", name=f"{prefix}class_probabilities"
    )(features)
    rating = keras.layers.Dense(1, activation="tanh", name=f"{prefix}rating")(features)
    return probabilities, rating


def _encode(token_ids, prior, config: SentimentConfig, vocabulary_size: int, prefix: str = ""):
    """Token ids (and their lexicon valence) -> the sentence's feature vector."""
    x = keras.layers.Embedding(
        vocabulary_size, config.embedding_dim, mask_zero=True, name=f"{prefix}embedding"
    )(token_ids)  # [batch, time, embedding]
    # Dropout on the learned embedding only: the lexicon prior is never hidden.
    x = keras.layers.Dropout(config.dropout_rate, name=f"{prefix}embedding_dropout")(x)
    if prior is not None:
        x = keras.layers.Concatenate(name=f"{prefix}token_features")([x, prior])
        # A bag-of-valence summary beside the RNN, like the sums a lexicon method uses:
        # the recurrent part then has to learn only what order changes (negation, "but").
        summaries = [
            keras.layers.GlobalAveragePooling1D(name=f"{prefix}valence_mean")(prior),
            keras.layers.GlobalMaxPooling1D(name=f"{prefix}valence_max")(prior),
            -keras.layers.GlobalMaxPooling1D(name=f"{prefix}valence_min")(-prior),
        ]
        if config.valence_sum:  # VADER's score before its rules: the sum, squashed alike
            summaries.append(
                keras.layers.Dense(
                    1,
                    use_bias=False,
                    kernel_initializer="ones",
                    trainable=False,
                    activation="tanh",
                    name=f"{prefix}valence_sum",
                )(keras.layers.Flatten(name=f"{prefix}valence_tokens")(prior))
            )
        valence_summary = keras.layers.Concatenate(name=f"{prefix}valence_summary")(
            summaries
        )  # [batch, 3 or 4]
    shifters = prior is not None and config.valence_shifters
    rnn = recurrent_layer(
        config.cell,
        config.units,
        return_sequences=shifters,
        return_state=shifters,
        name=f"{prefix}{config.cell}_encoder",
    )
    if config.bidirectional:
        rnn = keras.layers.Bidirectional(rnn, name=f"{prefix}encoder")
    if shifters:
        sequence, *states = rnn(x)  # [batch, time, units * directions], final states
        # The state after the last real token (forward) and after the first (backward).
        finals = [states[0], states[len(states) // 2]] if config.bidirectional else states[:1]
        x = (
            finals[0]
            if len(finals) == 1
            else keras.layers.Concatenate(name=f"{prefix}final_state")(finals)
        )
        # VADER's rules (negation flips, boosters, "but") scale each word's valence by its
        # context; here the encoder learns that gain for every token, starting at 1.
        gain = keras.layers.Dense(
            1, kernel_initializer="zeros", bias_initializer="ones", name=f"{prefix}valence_gain"
        )(sequence)  # [batch, time, 1]
        shifted = keras.layers.Multiply(name=f"{prefix}shifted_valence")([gain, prior])
        # VADER sums the shifted valences and squashes the sum (x / sqrt(x^2 + 15)); a long
        # editorial's mean hides what its sum shows. tanh(sum) is the same shape.
        shifted_sum = keras.layers.Dense(
            1,
            use_bias=False,
            kernel_initializer="ones",
            trainable=False,
            activation="tanh",
            name=f"{prefix}shifted_sum",
        )(keras.layers.Flatten(name=f"{prefix}shifted_tokens")(shifted))  # [batch, 1]
        valence_summary = keras.layers.Concatenate(name=f"{prefix}shifted_summary")(
            [
                valence_summary,
                shifted_sum,
                keras.layers.GlobalAveragePooling1D(name=f"{prefix}shifted_mean")(shifted),
                keras.layers.GlobalMaxPooling1D(name=f"{prefix}shifted_max")(shifted),
                -keras.layers.GlobalMaxPooling1D(name=f"{prefix}shifted_min")(-shifted),
            ]
        )  # [batch, 7]
    else:
        x = rnn(x)  # [batch, units * directions]: the state after the last real token
    x = keras.layers.Dropout(config.dropout_rate, name=f"{prefix}encoder_dropout")(x)
    if prior is not None:
        x = keras.layers.Concatenate(name=f"{prefix}sentence_features")([x, valence_summary])
    return x
