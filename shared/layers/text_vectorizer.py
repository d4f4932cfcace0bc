"""In-graph twin of ``shared.preprocessing.text.WordTokenizer``."""

from __future__ import annotations

import keras
import tensorflow as tf

from shared.layers.vectorizing import make_lookup, split_and_look_up
from shared.preprocessing.text import SPACE_RUN_PATTERN, SPLIT_OFF_PATTERN


@keras.saving.register_keras_serializable(package="rnnapps")
class TextVectorizer(keras.layers.Layer):
    """Raw strings -> fixed-length int32 token ids, inside the graph.

    Follows the rules of ``shared.preprocessing.text`` exactly, so a SavedModel
    that takes strings sees the same ids as the host code that feeds LiteRT.
    TensorFlow-only (string ops), so it lives in SavedModels, never in ``.tflite``.

    Args:
        vocabulary: tokens in id order, starting at id 2 (0 pad, 1 unknown).
        max_length: ids per text; longer texts are cut, shorter ones padded.

    Call arguments:
        texts: string tensor of shape [batch].

    Example:
        >>> layer = TextVectorizer(["good", "film"], max_length=4)
        >>> layer(tf.constant(["A good film!"])).numpy().tolist()
        [[1, 2, 3, 1]]
    """

    def __init__(self, vocabulary: list[str], max_length: int, **kwargs):
        super().__init__(**kwargs)
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        self.vocabulary = list(vocabulary)
        self.max_length = int(max_length)
        self.lookup = make_lookup(self.vocabulary)

    def build(self, input_shape=None):
        self.built = True  # the lookup table is fixed at construction; nothing to build

    def call(self, texts):
        texts = tf.strings.lower(texts)  # without an encoding this lower-cases ASCII only
        return split_and_look_up(  # [batch, max_length]
            texts, self.lookup, self.max_length, SPLIT_OFF_PATTERN, SPACE_RUN_PATTERN
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.max_length)

    def get_config(self):
        config = super().get_config()
        config.update({"vocabulary": self.vocabulary, "max_length": self.max_length})
        return config
