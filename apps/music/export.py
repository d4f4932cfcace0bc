"""Export graphs, built from the trained layers (weights shared, not copied).

- ``step_model``: one event id and the recurrent states in, next-event logits and the new
  states out: ``model_<variant>.tflite``, which ``runtime.MusicRuntime`` drives one event at a
  time to generate (sampling, beam search, bar-keeping masks on the host).
- ``window_model``: ``SCORE_WINDOW`` ids and the states in, the logits at every position and
  the final states out: ``score_<variant>.tflite``, which scores a tune window by window
  (teacher forcing) in one interpreter call each; a fixed length, as LiteRT's builtin RNN ops
  need.
- ``sequence_model``: any number of ids (any batch) and the states: the SavedModel's
  ``logits`` signature and the Keras engine's scoring.

Every recurrent state travels as one tensor ``states`` [batch, state_count, units]: layer by
layer, ``h`` then ``c`` for an LSTM, the one state of every other cell.

The graphs are ``shared.token_model``'s, which both language-model apps export.
"""

from __future__ import annotations

import keras

from apps.music import runtime
from apps.music.config import MusicConfig
from apps.music.model import recurrent_layer_names
from shared import token_model
from shared.token_model import (  # noqa: F401 (the app's export graphs, named here)
    ModelParts,
    sequence_model,
    sequence_outputs,
    step,
    step_model,
)

SCORE_WINDOW = runtime.SCORE_WINDOW  # events per call of the scoring model


def model_parts(model: keras.Model, config: MusicConfig) -> ModelParts:
    return token_model.model_parts(model, recurrent_layer_names(config), config.cell, config.units)


def window_model(parts: ModelParts, window: int = SCORE_WINDOW) -> keras.Model:
    """The batch-1 scoring model for LiteRT: ``window`` ids and the states in, logits
    [1, window, 692] and the states after the window out (a WHILE loop of builtin ops)."""
    token_ids = keras.Input(batch_shape=(1, window), dtype="int32", name="token_ids")
    states = keras.Input(batch_shape=(1, parts.state_count, parts.units), name="states")
    outputs = sequence_outputs(parts, token_ids, states, "window")
    return keras.Model([token_ids, states], outputs, name="score")
