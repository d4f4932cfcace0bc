"""In-graph twin of ``shared.preprocessing.text_units.UnitTokenizer.encode``."""

from __future__ import annotations

import keras
import tensorflow as tf

from shared.layers.vectorizing import make_lookup, split_and_look_up
from shared.preprocessing.text_units import SPACE_RUN_PATTERN, SPLIT_OFF_PATTERN


@keras.saving.register_keras_serializable(package="rnnapps")
class UnitVectorizer(keras.layers.Layer):
    """Raw strings -> fixed-length int32 unit ids, inside the graph.

    Follows the rules of ``shared.preprocessing.text_units`` exactly (without attachment
    marks: the side a model reads), so a SavedModel that takes strings sees the same ids as
    the host code that feeds LiteRT. TensorFlow-only (string ops), so it lives in SavedModels,
    never in ``.tflite``.

    Args:
        vocabulary: units in id order, starting after pad (0), unknown (1) and `reserved`.
        max_length: ids per text; longer texts are cut, shorter ones padded with 0.
        lowercase: lower-case ASCII letters first.
        reserved: special tokens with ids 2, 3, ... (never produced from text).

    Call arguments:
        texts: string tensor of shape [batch].

    Example:
        >>> layer = UnitVectorizer(["de", "1", "2"], max_length=6, lowercase=True)
        >>> layer(tf.constant(["12 DE mayo"])).numpy().tolist()
        [[3, 4, 2, 1, 0, 0]]
    """

    def __init__(
        self,
        vocabulary: list[str],
        max_length: int,
        lowercase: bool = False,
        reserved: list[str] | tuple[str, ...] = (),
        **kwargs,
    ):
        super().__init__(**kwargs)
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        self.vocabulary = list(vocabulary)
        self.max_length = int(max_length)
        self.lowercase = bool(lowercase)
        self.reserved = list(reserved)
        # Reserved tokens sit in the table so the vocabulary starts at the host's id; they
        # contain punctuation, so no text ever splits into one.
        self.lookup = make_lookup(self.reserved + self.vocabulary)

    def build(self, input_shape=None):
        self.built = True  # the lookup table is fixed at construction; nothing to build

    def call(self, texts):
        if self.lowercase:
            texts = tf.strings.lower(texts)  # without an encoding this lower-cases ASCII only
        return split_and_look_up(  # [batch, max_length]
            texts, self.lookup, self.max_length, SPLIT_OFF_PATTERN, SPACE_RUN_PATTERN
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.max_length)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": self.vocabulary,
                "max_length": self.max_length,
                "lowercase": self.lowercase,
                "reserved": self.reserved,
            }
        )
        return config
