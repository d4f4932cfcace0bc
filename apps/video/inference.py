"""Export graphs, the SavedModel and the Keras/SavedModel predictor.

On device there are two ``.tflite`` models built from the same trained weights:

- ``model_<variant>.tflite``: a whole padded clip (``frames`` uint8 ``[1, 16, 64, 64, 3]``,
  ``length`` int32 ``[1]``) -> ``probabilities``;
- ``step_<variant>.tflite``: one frame, the frame before it and the recurrent state ->
  ``probabilities``, ``next_state`` and ``next_previous_frame``. A camera feed calls it
  once per frame (``shared.runtime.streaming.StreamingSession``, see ``stream_clip``)
  and has an up-to-date answer after every frame.

The LiteRT engine, which runs both without TensorFlow, is ``runtime.VideoRuntime``.
"""

from __future__ import annotations

import pathlib

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from apps.video.model import FrameFeatures, GlobalMotion
from apps.video.runtime import CLASSES_FILE, Clips, read_classes, stream_clip
from shared.app import Predictor
from shared.engines import load_keras_model, load_saved_model
from shared.runtime.streaming import StreamingSession

__all__ = ["CLASSES_FILE", "stream_clip"]  # re-exported for the export and tests


def state_size(model: keras.Model) -> int:
    """Length of the step model's ``state`` vector: h (GRU, SimpleRNN), or h and c (LSTM)."""
    cell = model.get_layer("recurrent").cell
    return int(sum(np.atleast_1d(cell.state_size)))


def step_state_shapes(model: keras.Model) -> dict[str, tuple[int, ...]]:
    """The step model's state inputs and their batch-1 shapes (all start at zeros)."""
    frame_shape = tuple(model.input["frames"].shape[2:])  # (h, w, 3)
    return {"previous_frame": (1, *frame_shape), "state": (1, state_size(model))}


def build_step_model(model: keras.Model, batch_size: int | None = 1) -> keras.Model:
    """One frame of the trained clip model, with everything it remembers as input and output.

    Inputs: ``frame`` (uint8 ``[batch, h, w, 3]``), ``previous_frame`` (float32, the
    previous frame on the 0-255 scale; zeros before the first frame) and ``state``
    (float32 ``[batch, state_size]``, zeros at the start). Outputs: ``probabilities``,
    ``next_state`` and ``next_previous_frame`` (the ``shared.runtime.streaming`` convention, so
    ``StreamingSession`` carries them). The layers and weights are the trained model's
    own, so stepping through a clip gives the full model's answer after every frame.
    """
    frame_shape = tuple(model.input["frames"].shape[2:])  # (h, w, 3)
    features_layer = model.get_layer("frame_features")
    encoder = model.get_layer("per_frame").layer
    rnn = model.get_layer("recurrent")
    head = model.get_layer("probabilities")
    units = rnn.cell.units
    size = state_size(model)

    frame = keras.Input(batch_shape=(batch_size, *frame_shape), dtype="uint8", name="frame")
    previous = keras.Input(
        batch_shape=(batch_size, *frame_shape), dtype="float32", name="previous_frame"
    )
    state = keras.Input(batch_shape=(batch_size, size), dtype="float32", name="state")
    features = FrameFeatures.from_config(features_layer.get_config())(frame, previous)
    embedding = encoder(features)  # [batch, frame_embedding_dim]
    if "global_motion" in {layer.name for layer in model.layers}:
        motion_layer = model.get_layer("global_motion")
        motion = GlobalMotion.from_config(motion_layer.get_config())(frame, previous)
        embedding = ops.concatenate([embedding, motion], axis=-1)  # as "frame_and_motion"
    # One packed state vector whatever the cell, so host code never depends on it.
    states = [state] if size == units else [state[:, :units], state[:, units:]]
    output, new_states = rnn.cell(embedding, states, training=False)
    new_state = (
        new_states[0] if len(new_states) == 1 else ops.concatenate(list(new_states), axis=-1)
    )
    outputs = {
        "probabilities": head(output),
        "next_state": new_state,
        "next_previous_frame": ops.cast(frame, "float32"),
    }
    # A list of inputs (not a dict): the converter calls the model with a list.
    return keras.Model([frame, previous, state], outputs, name="video_step")


def clip_model(model: keras.Model, batch_size: int | None = 1) -> keras.Model:
    """The trained model behind static-batch inputs, its output named ``probabilities``."""
    num_frames, height, width, _ = model.input["frames"].shape[1:]
    frames = keras.Input(
        batch_shape=(batch_size, num_frames, height, width, 3), dtype="uint8", name="frames"
    )
    length = keras.Input(batch_shape=(batch_size,), dtype="int32", name="length")
    probabilities = model({"frames": frames, "length": length})
    return keras.Model([frames, length], {"probabilities": probabilities}, name="video_clip")


def litert_models(model: keras.Model) -> dict[str, keras.Model]:
    """The batch-1 graphs that convert with builtin ops: the full clip and one step."""
    return {"model": clip_model(model, batch_size=1), "step": build_step_model(model, 1)}


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


def keras_step_callable(step_model: keras.Model):
    """The Keras step model behind the keyword interface of a LiteRT runner."""

    def call(frame, previous_frame, state):
        outputs = step_model([frame, previous_frame, state], training=False)
        return {name: np.asarray(value) for name, value in outputs.items()}

    return call


class VideoPredictor(Clips, Predictor):
    """Clips (uint8 frames and lengths) -> class probabilities, through Keras or the
    SavedModel (the LiteRT engine is ``runtime.VideoRuntime``).

    The Keras engine also streams, frame by frame, through the step model built from
    the trained weights (``stream``).
    """

    def __init__(self, model_dir: pathlib.Path, engine: str):
        self.model_dir = pathlib.Path(model_dir)
        self.engine = engine
        self.classes = read_classes(self.model_dir)
        self._session: StreamingSession | None = None
        if engine == "keras":
            self.model = load_keras_model(self.model_dir)
            self.num_frames, *self.frame_shape = self.model.input["frames"].shape[1:4]
        elif engine == "savedmodel":
            self.loaded = load_saved_model(self.model_dir)
            self.serve = self.loaded.signatures["serving_default"]
            spec = self.serve.structured_input_signature[1]["frames"]
            self.num_frames, *self.frame_shape = spec.shape[1:4]
        else:
            raise ValueError(f"engine must be keras or savedmodel, got {engine!r}")
        self.frame_shape = tuple(int(d) for d in self.frame_shape)

    def probabilities(
        self, frames: np.ndarray, lengths: np.ndarray, batch_size: int = 32
    ) -> np.ndarray:
        """Class probabilities ``[n, classes]`` of padded clips ``[n, time, h, w, 3]``."""
        frames = np.asarray(frames, np.uint8)
        lengths = np.asarray(lengths, np.int32)
        if len(frames) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        results = []
        for start in range(0, len(frames), batch_size):
            clips = frames[start : start + batch_size]
            clip_lengths = lengths[start : start + batch_size]
            if self.engine == "keras":
                out = self.model({"frames": clips, "length": clip_lengths}, training=False)
                results.append(np.asarray(out))
            else:
                out = self.serve(frames=tf.constant(clips), length=tf.constant(clip_lengths))
                results.append(out["probabilities"].numpy())
        return np.concatenate(results).astype(np.float32)

    def session(self) -> StreamingSession:
        """A frame-by-frame session over the Keras step model (``VideoRuntime.session`` is
        LiteRT's); the SavedModel engine does not stream."""
        if self.engine != "keras":
            raise ValueError("streaming runs on the keras or litert engine")
        if self._session is None:
            step = keras_step_callable(build_step_model(self.model, batch_size=1))
            self._session = StreamingSession(step, step_state_shapes(self.model), "frame")
        return self._session
