"""Greedy CTC decoding from builtin ops, so a ``.tflite`` returns ids ready to join."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="rnnapps")
class CTCGreedyDecoder(keras.layers.Layer):
    """Best path of CTC scores: argmax per frame, merge repeats, drop blanks, pack to the left.

    Written with argmax, comparisons, cumulative sum and one-hot matrix products only
    (LiteRT builtins: ARG_MAX, NOT_EQUAL, CUMSUM, ONE_HOT, BATCH_MATMUL ...), so the
    decoding runs inside an exported graph; ``tf.nn.ctc_greedy_decoder`` has no builtin.

    Args:
        blank_index: the class id of the CTC blank.

    Call arguments:
        scores: float tensor [batch, time, classes] (logits or probabilities).

    Returns a dict: ``ids`` int32 [batch, time], the decoded class ids packed at the
    start and followed by `blank_index` padding; ``length`` int32 [batch], how many are real.

    Example:
        >>> scores = np.eye(3, dtype="float32")[[[1, 1, 0, 2, 0, 2]]]  # [1, 6, 3]
        >>> decoded = CTCGreedyDecoder(name="ctc_decoder")(scores)
        >>> decoded["ids"].tolist(), decoded["length"].tolist()
        ([[1, 2, 2, 0, 0, 0]], [3])
    """

    def __init__(self, blank_index: int = 0, **kwargs):
        super().__init__(**kwargs)
        if blank_index < 0:
            raise ValueError(f"blank_index must be >= 0, got {blank_index}")
        self.blank_index = int(blank_index)

    def call(self, scores):
        num_frames = scores.shape[1]
        # tf.argmax, not keras.ops.argmax: Keras's version adds a -0.0 check (BitwiseAnd)
        # that has no LiteRT builtin.
        best = tf.argmax(scores, axis=-1, output_type=tf.int32)  # [batch, time]
        previous = ops.pad(best[:, :-1], ((0, 0), (1, 0)), constant_values=-1)
        keep = ops.logical_and(ops.not_equal(best, previous), ops.not_equal(best, self.blank_index))
        keep_float = ops.cast(keep, "float32")
        # Where each kept id goes: its rank among the kept ids; dropped ids go nowhere.
        position = ops.cast(ops.cumsum(keep_float, axis=1) - 1.0, "int32")
        placement = ops.one_hot(position, num_frames) * keep_float[:, :, None]  # [b, t, slot]
        values = ops.cast(best - self.blank_index, "float32")[:, None, :]  # [batch, 1, time]
        packed = ops.matmul(values, placement)[:, 0, :]  # [batch, slot]
        ids = ops.cast(ops.round(packed), "int32") + self.blank_index
        return {"ids": ids, "length": ops.cast(ops.sum(keep_float, axis=1), "int32")}

    def compute_output_spec(self, scores):
        batch, num_frames = scores.shape[0], scores.shape[1]
        return {
            "ids": keras.KerasTensor((batch, num_frames), dtype="int32"),
            "length": keras.KerasTensor((batch,), dtype="int32"),
        }

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(blank_index=self.blank_index)
        return config
