"""The Keras / SavedModel predictor (LiteRT's is ``runtime.py``); the Keras engine also
streams, frame by frame, through the step model (``export.build_step_model``).
"""

from __future__ import annotations

import pathlib

import keras
import numpy as np
import tensorflow as tf

from apps.video.export import build_step_model, step_state_shapes
from apps.video.runtime import Clips, read_classes
from shared.app import Predictor
from shared.engines import load_keras_model, load_saved_model
from shared.runtime.streaming import StreamingSession


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
