"""The SavedModel module: ``serving_default`` classifies uint8 clips; ``step`` streams frames."""

from __future__ import annotations

import keras
import tensorflow as tf

from apps.video.export import build_step_model, state_size


class VideoServing(tf.Module):
    """The SavedModel: ``serving_default`` classifies uint8 clips; ``step`` streams frames."""

    def __init__(self, model: keras.Model, classes: list[str]):
        super().__init__()
        self.model = model
        self.step_model = build_step_model(model, batch_size=None)
        self.classes = tf.constant(classes)
        num_frames, height, width, _ = model.input["frames"].shape[1:]
        self.serve = tf.function(
            self._serve,
            input_signature=[
                tf.TensorSpec([None, num_frames, height, width, 3], tf.uint8, name="frames"),
                tf.TensorSpec([None], tf.int32, name="length"),
            ],
        )
        self.step = tf.function(
            self._step,
            input_signature=[
                tf.TensorSpec([None, height, width, 3], tf.uint8, name="frame"),
                tf.TensorSpec([None, height, width, 3], tf.float32, name="previous_frame"),
                tf.TensorSpec([None, state_size(model)], tf.float32, name="state"),
            ],
        )

    def _answer(self, probabilities):
        best = tf.argmax(probabilities, axis=-1)
        return {
            "probabilities": probabilities,
            "label": tf.gather(self.classes, best),
            "score": tf.reduce_max(probabilities, axis=-1),
        }

    def _serve(self, frames, length):
        return self._answer(self.model({"frames": frames, "length": length}, training=False))

    def _step(self, frame, previous_frame, state):
        out = self.step_model([frame, previous_frame, state], training=False)
        answer = self._answer(out["probabilities"])
        return {
            **answer,
            "next_state": out["next_state"],
            "next_previous_frame": out["next_previous_frame"],
        }
