"""In-graph twin of ``shared.preprocessing.text_units.UnitTokenizer.decode``."""

from __future__ import annotations

import keras
import tensorflow as tf

from shared.preprocessing.text_units import UnitTokenizer


@keras.saving.register_keras_serializable(package="rnnapps")
class UnitDetokenizer(keras.layers.Layer):
    """Unit ids -> text, inside the graph: what a SavedModel that returns strings ends with.

    Every id writes a fixed piece (a space and the unit, or the unit alone when it carries the
    ``##`` attachment mark; nothing for pad and reserved ids; ``<unk>`` for unknown), so the
    text is one gather and one join, exactly as the host's ``UnitTokenizer.decode`` does it.

    Args:
        vocabulary: units in id order, starting after pad (0), unknown (1) and `reserved`.
        mark_attached: whether units carry the ``##`` mark (the side a model writes).
        reserved: special tokens with ids 2, 3, ... (they write nothing).

    Call arguments:
        ids: int tensor of shape [batch, length].

    Example:
        >>> layer = UnitDetokenizer(["de", "1", "##2"], mark_attached=True)
        >>> layer(tf.constant([[3, 4, 2, 0]])).numpy().tolist()
        [b'12 de']
    """

    def __init__(
        self,
        vocabulary: list[str],
        mark_attached: bool = True,
        reserved: list[str] | tuple[str, ...] = (),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary = list(vocabulary)
        self.mark_attached = bool(mark_attached)
        self.reserved = list(reserved)
        pieces = UnitTokenizer(
            self.vocabulary, 1, mark_attached=self.mark_attached, reserved=self.reserved
        ).pieces()
        self.pieces = tf.constant(pieces, dtype=tf.string)

    def build(self, input_shape=None):
        self.built = True  # a constant table; nothing to build

    def call(self, ids):
        pieces = tf.gather(self.pieces, tf.cast(ids, tf.int32))  # [batch, length]
        text = tf.strings.reduce_join(pieces, axis=-1)
        return tf.strings.regex_replace(text, "^ ", "")  # [batch]

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def compute_output_spec(self, ids):
        return keras.KerasTensor((ids.shape[0],), dtype="string")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": self.vocabulary,
                "mark_attached": self.mark_attached,
                "reserved": self.reserved,
            }
        )
        return config
