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
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from apps.music import runtime
from apps.music.config import MusicConfig
from apps.music.model import recurrent_layer_names
from shared.layers import state_count

SCORE_WINDOW = runtime.SCORE_WINDOW  # events per call of the scoring model


@dataclasses.dataclass
class ModelParts:
    """The trained layers the inference graphs reuse."""

    embedding: keras.layers.Layer
    cells: list[keras.layers.Layer]
    logits: keras.layers.Layer
    states_per_cell: int
    units: int

    @property
    def state_count(self) -> int:
        return self.states_per_cell * len(self.cells)

    def zero_states(self, batch_size: int = 1) -> np.ndarray:
        return np.zeros((batch_size, self.state_count, self.units), np.float32)


def model_parts(model: keras.Model, config: MusicConfig) -> ModelParts:
    return ModelParts(
        embedding=model.get_layer("embedding"),
        cells=[model.get_layer(name).cell for name in recurrent_layer_names(config)],
        logits=model.get_layer("logits"),
        states_per_cell=state_count(config.cell),
        units=config.units,
    )


def _split_states(parts: ModelParts, states) -> list[list]:
    """[batch, state_count, units] -> per cell, its list of [batch, units] states."""
    per_cell = parts.states_per_cell
    return [
        [states[:, index * per_cell + offset] for offset in range(per_cell)]
        for index in range(len(parts.cells))
    ]


def step(parts: ModelParts, token_ids, states):
    """One step: ids [batch] and states -> logits [batch, 692] and new states."""
    x = parts.embedding(token_ids)  # [batch, embedding]
    new_states = []
    for cell, cell_states in zip(parts.cells, _split_states(parts, states), strict=True):
        x, cell_new = cell(x, cell_states, training=False)  # [batch, units]
        new_states += list(cell_new) if isinstance(cell_new, list | tuple) else [cell_new]
    return parts.logits(x), keras.ops.stack(new_states, axis=1)


def step_model(parts: ModelParts) -> keras.Model:
    """The batch-1 step model for LiteRT (builtin ops only: no loop at all)."""
    token_id = keras.Input(batch_shape=(1,), dtype="int32", name="token_id")
    states = keras.Input(batch_shape=(1, parts.state_count, parts.units), name="states")
    logits, new_states = step(parts, token_id, states)
    return keras.Model(
        [token_id, states], {"logits": logits, "new_states": new_states}, name="step"
    )


def _sequence(parts: ModelParts, token_ids, states, prefix: str):
    x = parts.embedding(token_ids)  # [batch, time, embedding]
    new_states = []
    for index, (cell, cell_states) in enumerate(
        zip(parts.cells, _split_states(parts, states), strict=True)
    ):
        rnn = keras.layers.RNN(
            cell, return_sequences=True, return_state=True, name=f"{prefix}_{index + 1}"
        )
        x, *cell_new = rnn(x, initial_state=cell_states)  # x: [batch, time, units]
        new_states += cell_new
    return {"logits": parts.logits(x), "new_states": keras.ops.stack(new_states, axis=1)}


def sequence_model(parts: ModelParts) -> keras.Model:
    """Teacher forcing: ids [batch, time] and initial states -> logits [batch, time, 692]."""
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    states = keras.Input(shape=(parts.state_count, parts.units), name="states")
    outputs = _sequence(parts, token_ids, states, "sequence")
    return keras.Model([token_ids, states], outputs, name="sequence")


def window_model(parts: ModelParts, window: int = SCORE_WINDOW) -> keras.Model:
    """The batch-1 scoring model for LiteRT: ``window`` ids and the states in, logits
    [1, window, 692] and the states after the window out (a WHILE loop of builtin ops)."""
    token_ids = keras.Input(batch_shape=(1, window), dtype="int32", name="token_ids")
    states = keras.Input(batch_shape=(1, parts.state_count, parts.units), name="states")
    outputs = _sequence(parts, token_ids, states, "window")
    return keras.Model([token_ids, states], outputs, name="score")
