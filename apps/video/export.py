"""Export graphs, built from the trained layers.

On device there are two ``.tflite`` models built from the same trained weights:

- ``model_<variant>.tflite``: a whole padded clip (``frames`` uint8 ``[1, 16, 64, 64, 3]``,
  ``length`` int32 ``[1]``) -> ``probabilities``;
- ``step_<variant>.tflite``: one frame, the frame before it and the recurrent state ->
  ``probabilities``, ``next_state`` and ``next_previous_frame``. A camera feed calls it
  once per frame (``shared.runtime.streaming.StreamingSession``, see ``runtime.stream_clip``)
  and has an up-to-date answer after every frame.

The LiteRT engine, which runs both without TensorFlow, is ``runtime.VideoRuntime``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from apps.video.model import FrameFeatures, GlobalMotion


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
