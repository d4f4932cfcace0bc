"""Export graphs, built from the trained layers (weights shared, not copied).

- ``step_model``: one id (a character or a subword piece) and the recurrent states in, next-id
  logits and the new states out. This is the LiteRT model (``model_<variant>.tflite``): the host
  loop in ``runtime.TextGenerationRuntime`` drives it one id at a time, without TensorFlow.
- ``sequence_model``: a whole sequence of ids and the initial states in, logits at every
  position and the final states out (teacher forcing), for scoring and for priming a prompt.
  The SavedModel (``serving.py``) serves it and loops ``step`` in the graph.

Every recurrent state travels as one tensor ``states`` [batch, state_count, units]: layer by
layer, ``h`` then ``c`` for an LSTM, the one state of every other cell (``h`` for a GRU, the
fed-back output for a Jordan cell). The graphs share the training model's embedding, cells and
output layer, so they compute the same function with the same weights.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from apps.text_generation.config import TextGenerationConfig
from apps.text_generation.model import recurrent_layer_names
from shared.layers import state_count


@dataclasses.dataclass
class ModelParts:
    """The trained layers the inference graphs reuse (weights shared, not copied)."""

    embedding: keras.layers.Layer
    cells: list[keras.layers.Layer]
    logits: keras.layers.Layer
    states_per_cell: int
    units: int
    vocabulary_size: int

    @property
    def state_count(self) -> int:
        return self.states_per_cell * len(self.cells)

    def zero_states(self, batch_size: int = 1) -> np.ndarray:
        return np.zeros((batch_size, self.state_count, self.units), np.float32)


def model_parts(model: keras.Model, config: TextGenerationConfig) -> ModelParts:
    logits = model.get_layer("logits")
    return ModelParts(
        embedding=model.get_layer("embedding"),
        cells=[model.get_layer(name).cell for name in recurrent_layer_names(config)],
        logits=logits,
        states_per_cell=state_count(config.cell),
        units=config.units,
        vocabulary_size=int(logits.units),
    )


def _split_states(parts: ModelParts, states) -> list[list]:
    """[batch, state_count, units] -> per cell, its list of [batch, units] states."""
    per_cell = parts.states_per_cell
    return [
        [states[:, index * per_cell + offset] for offset in range(per_cell)]
        for index in range(len(parts.cells))
    ]


def step(parts: ModelParts, token_ids, states):
    """One step: ids [batch] and states -> logits [batch, vocabulary] and new states."""
    x = parts.embedding(token_ids)  # [batch, embedding]
    new_states = []
    for cell, cell_states in zip(parts.cells, _split_states(parts, states), strict=True):
        x, cell_new = cell(x, cell_states, training=False)  # [batch, units]
        new_states += list(cell_new) if isinstance(cell_new, list | tuple) else [cell_new]
    return parts.logits(x), keras.ops.stack(new_states, axis=1)


def step_model(parts: ModelParts) -> keras.Model:
    """The batch-1 step model for LiteRT: builtin ops only (FULLY_CONNECTED, LOGISTIC, ...)."""
    token_id = keras.Input(batch_shape=(1,), dtype="int32", name="token_id")
    states = keras.Input(batch_shape=(1, parts.state_count, parts.units), name="states")
    logits, new_states = step(parts, token_id, states)
    return keras.Model(
        [token_id, states], {"logits": logits, "new_states": new_states}, name="step"
    )


def sequence_model(parts: ModelParts) -> keras.Model:
    """Teacher forcing: ids [batch, time] and initial states -> logits [batch, time, vocab]."""
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    states = keras.Input(shape=(parts.state_count, parts.units), name="states")
    x = parts.embedding(token_ids)  # [batch, time, embedding]
    new_states = []
    for index, (cell, cell_states) in enumerate(
        zip(parts.cells, _split_states(parts, states), strict=True)
    ):
        rnn = keras.layers.RNN(
            cell, return_sequences=True, return_state=True, name=f"sequence_{index + 1}"
        )
        x, *cell_new = rnn(x, initial_state=cell_states)  # x: [batch, time, units]
        new_states += cell_new
    logits = parts.logits(x)  # [batch, time, vocabulary]
    return keras.Model(
        [token_ids, states],
        {"logits": logits, "new_states": keras.ops.stack(new_states, axis=1)},
        name="sequence",
    )
