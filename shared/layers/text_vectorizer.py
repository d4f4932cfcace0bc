"""In-graph twin of ``shared.preprocessing.text.WordTokenizer``."""

from __future__ import annotations

import keras
import tensorflow as tf

from shared.layers.vectorizing import look_up, look_up_ragged, make_lookup, split, windows
from shared.preprocessing.text import (
    CAPS_PATTERN,
    CAPS_TOKEN,
    CASED_SPLIT_OFF_PATTERN,
    SPACE_RUN_PATTERN,
    SPLIT_OFF_PATTERN,
)


@keras.saving.register_keras_serializable(package="rnnapps")
class TextVectorizer(keras.layers.Layer):
    """Raw strings -> fixed-length int32 token ids, inside the graph.

    Follows the rules of ``shared.preprocessing.text`` exactly, so a SavedModel
    that takes strings sees the same ids as the host code that feeds LiteRT.
    TensorFlow-only (string ops), so it lives in SavedModels, never in ``.tflite``.

    Args:
        vocabulary: tokens in id order, starting at id 2 (0 pad, 1 unknown).
        max_length: ids per text; longer texts are cut, shorter ones padded.
        mark_caps: follow each word in capitals with ``CAPS_TOKEN`` (as the host does).

    Call arguments:
        texts: string tensor of shape [batch].

    Example:
        >>> layer = TextVectorizer(["good", "film"], max_length=4)
        >>> layer(tf.constant(["A good film!"])).numpy().tolist()
        [[1, 2, 3, 1]]
    """

    def __init__(self, vocabulary: list[str], max_length: int, mark_caps: bool = False, **kwargs):
        super().__init__(**kwargs)
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        self.vocabulary = list(vocabulary)
        self.max_length = int(max_length)
        self.mark_caps = bool(mark_caps)
        self.lookup = make_lookup(self.vocabulary)

    def build(self, input_shape=None):
        self.built = True  # the lookup table is fixed at construction; nothing to build

    def call(self, texts):
        return look_up(self._tokens(texts), self.lookup, self.max_length)  # [batch, max_length]

    def windows(self, texts) -> tuple[tf.Tensor, tf.Tensor]:
        """Every token of each text, in windows of `max_length` ids: ids [windows, max_length]
        and the index of the text each window is from [windows], as the host's
        ``WordTokenizer.encode_windows``."""
        return windows(look_up_ragged(self._tokens(texts), self.lookup), self.max_length)

    def _tokens(self, texts) -> tf.RaggedTensor:
        """String tensor [batch] -> its tokens [batch, (tokens)], by the host's rules."""
        if not self.mark_caps:
            texts = tf.strings.lower(texts)  # without an encoding this lower-cases ASCII only
            return split(texts, SPLIT_OFF_PATTERN, SPACE_RUN_PATTERN)
        tokens = split(texts, CASED_SPLIT_OFF_PATTERN, SPACE_RUN_PATTERN)  # [batch, (tokens)]
        words = tokens.flat_values
        marks = tf.where(tf.strings.regex_full_match(words, CAPS_PATTERN), CAPS_TOKEN, "")
        # Each word then its mark ("" when none), interleaved, and the empty marks dropped.
        pairs = tf.reshape(tf.stack([tf.strings.lower(words), marks], axis=1), [-1])
        tokens = tf.RaggedTensor.from_row_lengths(pairs, tokens.row_lengths() * 2)
        return tf.ragged.boolean_mask(tokens, tf.not_equal(tokens, ""))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.max_length)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": self.vocabulary,
                "max_length": self.max_length,
                "mark_caps": self.mark_caps,
            }
        )
        return config
